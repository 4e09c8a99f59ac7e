package netio

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/weirio/weir/frame"
)

// TestOutboxTryPushEnc: a frame encoded straight into the queue is counted
// at its real length, wakes the loop only into an empty queue, and is
// refused (nothing queued) when the queue is closed or lacks room for the
// bound; an encoder that writes past its bound is a bug and panics.
func TestOutboxTryPushEnc(t *testing.T) {
	fs := frames(3, 8)
	enc := func(f []byte) func([]byte) []byte {
		return func(dst []byte) []byte { return append(dst, f...) }
	}
	bound := len(fs[0]) + 32
	o := newOutbox(2, 1<<20, DropNewest, kindSet{})
	if r, ok := o.tryPushEnc(bound, enc(fs[0])); !ok || r != pushWake {
		t.Fatalf("first: %v %v, want wake", r, ok)
	}
	if r, ok := o.tryPushEnc(bound, enc(fs[1])); !ok || r != pushQueued {
		t.Fatalf("second: %v %v, want queued", r, ok)
	}
	if frames, b := o.depth(); frames != 2 || b != len(fs[0])+len(fs[1]) {
		t.Fatalf("depth %d frames %d bytes, want 2 and %d", frames, b, len(fs[0])+len(fs[1]))
	}
	// The frame bound: refused, nothing queued, nothing dropped.
	if _, ok := o.tryPushEnc(bound, enc(fs[2])); ok {
		t.Fatal("third frame queued past maxFrames")
	}
	cs, n := o.take()
	if got, want := joined(cs), append(append([]byte(nil), fs[0]...), fs[1]...); n != 2 || !bytes.Equal(got, want) {
		t.Fatalf("took %d frames %x, want 2 frames %x", n, got, want)
	}
	o.give(cs)
	if o.dropped.Load() != 0 {
		t.Fatalf("dropped %d", o.dropped.Load())
	}

	// The byte bound counts the encoder's bound, not what it will write.
	small := newOutbox(100, 2*len(fs[0]), DropNewest, kindSet{})
	if _, ok := small.tryPushEnc(2*len(fs[0])+1, enc(fs[0])); ok {
		t.Fatal("queued a frame whose bound exceeds the byte limit")
	}
	if _, ok := small.tryPushEnc(len(fs[0]), enc(fs[0])); !ok {
		t.Fatal("refused a frame within the byte limit")
	}

	// A frame larger than the last chunk's room goes into a new chunk.
	big := newOutbox(1000, 1<<30, DropNewest, kindSet{})
	payload := strings.Repeat("x", chunkSize-100)
	for range 3 {
		if _, ok := big.tryPushEnc(len(payload), func(dst []byte) []byte { return append(dst, payload...) }); !ok {
			t.Fatal("refused")
		}
	}
	if cs, n := big.take(); n != 3 || len(cs) != 3 || len(joined(cs)) != 3*len(payload) {
		t.Fatalf("took %d frames in %d chunks, %d bytes", n, len(cs), len(joined(cs)))
	}

	o.close()
	if _, ok := o.tryPushEnc(bound, enc(fs[0])); ok {
		t.Fatal("queued into a closed queue")
	}

	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "past its bound") {
			t.Fatalf("an encoder past its bound: recovered %v, want the BUG panic", r)
		}
	}()
	liar := newOutbox(10, 1<<20, DropNewest, kindSet{})
	liar.tryPushEnc(4, enc(fs[0]))
}

// tryPush queues while there is room and then refuses, under every
// policy, without dropping or evicting anything.
func TestOutboxTryPush(t *testing.T) {
	fs := frames(6, 8)
	for _, p := range []Policy{DropOldest, DropNewest, Disconnect} {
		t.Run(p.String(), func(t *testing.T) {
			o := newOutbox(4, 1<<20, p, kindSet{})
			want := []pushResult{pushWake, pushQueued, pushQueued, pushQueued, pushFull, pushFull}
			for i, f := range fs {
				if r := o.tryPush(f); r != want[i] {
					t.Fatalf("tryPush %d: %v, want %v", i, r, want[i])
				}
			}
			cs, n := o.take()
			if b := joined(cs); n != 4 || firstSeq(t, b) != 0 || o.dropped.Load() != 0 {
				t.Fatalf("n %d first %d dropped %d", n, firstSeq(t, b), o.dropped.Load())
			}
			o.give(cs)
			if r := o.tryPush(fs[4]); r != pushWake {
				t.Fatalf("tryPush after take: %v, want wake", r)
			}
			o.close()
			if r := o.tryPush(fs[5]); r != pushClosed {
				t.Fatalf("tryPush after close: %v", r)
			}
		})
	}
	o := newOutbox(10, 2*len(fs[0]), DropOldest, kindSet{})
	o.tryPush(fs[0])
	o.tryPush(fs[1])
	if r := o.tryPush(fs[2]); r != pushFull || o.dropped.Load() != 0 {
		t.Fatalf("past the byte bound: %v, dropped %d", r, o.dropped.Load())
	}
}

// DropOldest copies the frames it evicts whose kind is selected, and only
// those, for takeEvicted; nothing is kept without a selection.
func TestOutboxEvicted(t *testing.T) {
	data := frames(4, 8)
	cmd := frame.AppendStoreCmd(nil, frame.Header{}, []byte("s/m/r/x"), "s", frame.OpPut, 7,
		frame.NewCount(1), frame.NewCount(2), 0)
	var kinds kindSet
	kinds.add(frame.KindStoreCmd)
	o := newOutbox(2, 1<<20, DropOldest, kinds)
	o.tryPush(cmd)
	o.push(data[0], 1)
	if r := o.push(data[1], 1); r != pushDropped { // evicts cmd
		t.Fatalf("push: %v, want dropped", r)
	}
	if r := o.push(data[2], 1); r != pushDropped { // evicts data[0]
		t.Fatalf("push: %v, want dropped", r)
	}
	if b := o.takeEvicted(); !bytes.Equal(b, cmd) {
		t.Fatalf("evicted %x, want the store command %x alone", b, cmd)
	}
	if b := o.takeEvicted(); len(b) != 0 {
		t.Fatalf("evicted again: %x", b)
	}
	none := newOutbox(1, 1<<20, DropOldest, kindSet{})
	none.tryPush(cmd)
	none.push(data[3], 1)
	if b := none.takeEvicted(); len(b) != 0 {
		t.Fatalf("evicted without a selection: %x", b)
	}
}

// A Send that evicts a frame of Options.EvictKinds reports it to
// Options.OnEvict, after the queue's lock is released (the callback sends
// on the same peer); other evictions and other policies report nothing.
func TestSendReportsEvicted(t *testing.T) {
	cmd := frame.AppendStoreCmd(nil, frame.Header{}, []byte("s/m/r/x"), "s", frame.OpPut, 7,
		frame.NewCount(1), frame.NewCount(2), 0)
	data := frames(4, 8)
	var got [][]byte
	var p *Peer
	o := Options{Logger: quietLogger(), QueueFrames: 2, EvictKinds: []frame.Kind{frame.KindStoreCmd}}
	o.OnEvict = func(from *Peer, fr []byte) {
		if from != p {
			t.Errorf("OnEvict for another peer")
		}
		got = append(got, bytes.Clone(fr))
		_ = from.TrySend(data[3]) // would deadlock under the queue's lock
	}
	o.EnsureDefaults()
	e := &Engine{opts: o, log: o.Logger}
	e.evictKinds.add(frame.KindStoreCmd)
	st := &connState{e: e, c: &fakeWire{}, loop: &loopState{}}
	st.stage.Store(stageUp)
	p = &Peer{st: st, out: newOutbox(o.QueueFrames, o.QueueBytes, o.Policy, e.evictKinds)}
	st.peer.Store(p)
	if err := p.TrySend(cmd); err != nil {
		t.Fatal(err)
	}
	_ = p.Send(data[0])
	if err := p.Send(data[1]); !errors.Is(err, ErrDropped) {
		t.Fatalf("send into a full queue: %v", err)
	}
	if len(got) != 1 || !bytes.Equal(got[0], cmd) {
		t.Fatalf("OnEvict got %d frames %x, want the store command", len(got), got)
	}
	_ = p.Send(data[2]) // evicts a data frame: not reported
	if len(got) != 1 {
		t.Fatalf("OnEvict called for a data frame")
	}
}
