package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/testutil"
	"github.com/weirio/weir/kv"
)

// A master and a clone on two nodes over loopback: the clone syncs, its
// writes go to the master and come back as updates, arithmetic is done
// once, bad requests are refused, and a second master is refused.
func TestStoreMasterClone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, b := peeredPair(t, Options{Name: "a", Logger: testLogger()})
	m, err := a.AttachMaster("hosts", kv.NewMemory(), StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Put(ctx, frame.NewString("before"), frame.NewCount(1), 0); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "peering", func() bool { return len(b.Peers()) == 1 && len(a.Peers()) == 1 })
	if _, err := b.AttachMaster("hosts", kv.NewMemory(), StoreOptions{}); !errors.Is(err, ErrMasterExists) {
		t.Fatalf("second master: %v", err)
	}
	c, err := b.AttachClone("hosts", StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	get := func(s *Store, k string) (frame.Value, bool) {
		v, ok, err := s.Get(ctx, frame.NewString(k))
		if err != nil && !errors.Is(err, ErrNotSynced) {
			t.Fatal(err)
		}
		return v, ok
	}
	testutil.WaitFor(t, "clone synced", func() bool { _, ok := get(c, "before"); return ok && !c.Stale() })
	if err := c.Put(ctx, frame.NewString("k"), frame.NewCount(5), 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Add(ctx, frame.NewString("k"), frame.NewCount(2), 0); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "clone sees k=7", func() bool {
		v, ok := get(c, "k")
		return ok && v.Type() == frame.TypeCount && v.Count() == 7
	})
	if v, ok := get(m, "k"); !ok || v.Count() != 7 {
		t.Fatalf("master k = %v %v", v, ok)
	}
	ins, err := c.PutUnique(ctx, frame.NewString("k"), frame.NewCount(9), 0)
	if err != nil || ins {
		t.Fatalf("put_unique on existing key: %v %v", ins, err)
	}
	var se *StoreError
	if err := c.Add(ctx, frame.NewString("k"), frame.NewString("x"), 0); !errors.As(err, &se) {
		t.Fatalf("add string to count: %v", err)
	}
	if err := m.Put(ctx, frame.NewString("tmp"), frame.NewBool(true), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "tmp expired on the clone", func() bool {
		_, ok := get(c, "tmp")
		ok2, _ := m.Exists(ctx, frame.NewString("tmp"))
		return !ok && !ok2
	})
	// Pipelined puts.
	var fs []*Future
	for i := range 500 {
		fs = append(fs, c.Do(frame.OpPut, frame.NewCount(uint64(i)), frame.NewCount(uint64(i)), 0))
	}
	for _, f := range fs {
		if _, err := f.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, "clone sees the pipelined puts", func() bool {
		v, ok, err := c.Get(ctx, frame.NewCount(499))
		return err == nil && ok && v.Count() == 499
	})
}

// silentMaster subscribes n to the requests of store name, as a master
// would, and drops them: requests to it stay pending.
func silentMaster(t *testing.T, n *Node, name string) {
	t.Helper()
	sub, err := n.subscribe(storeTopic(name, "m/"), func(Message) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sub.store = true // as a master's own subscription (subscribeStore)
}

// A request to a master that never answers is failed after
// RequestTimeout, and forgotten.
func TestStoreRequestTimeout(t *testing.T) {
	a, err := New(Options{Name: "a", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	silentMaster(t, a, "nomaster")
	f, err := a.StoreFrontend("nomaster")
	if err != nil {
		t.Fatal(err)
	}
	f.opts.RequestTimeout = 20 * time.Millisecond
	lost := f.Do(frame.OpPut, frame.NewString("k"), frame.NewCount(1), 0)
	testutil.WaitFor(t, "the lost request fails", func() bool {
		f.Do(frame.OpGet, frame.NewString("k"), frame.None, 0) // runs the check
		select {
		case <-lost.Done():
			return true
		default:
			return false
		}
	})
	if _, err := lost.Wait(context.Background()); !errors.Is(err, ErrRequestTimeout) {
		t.Fatalf("lost request: %v", err)
	}
	if _, ok := f.pending.Load(lost.id); ok {
		t.Fatal("the lost request is still tracked")
	}
}

// The node bounds its handles' unanswered requests together
// (Options.StoreMaxPending) as well as each handle's (MaxPending): a
// second handle gets only what the first left, a refusal says which bound
// it hit, and requests that end (here: a closed handle's) give their room
// back. No master answers, so every request sent stays pending.
func TestStoreNodeMaxPending(t *testing.T) {
	a, err := New(Options{Name: "a", Logger: testLogger(), StoreMaxPending: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	frontend := func(name string) *Store {
		t.Helper()
		silentMaster(t, a, name)
		f, err := a.StoreFrontend(name)
		if err != nil {
			t.Fatal(err)
		}
		f.opts.MaxPending = 8
		return f
	}
	// send sends n puts and returns how many were refused by each bound.
	send := func(f *Store, n int) (handle, node int) {
		t.Helper()
		for i := range n {
			fu := f.Do(frame.OpPut, frame.NewCount(uint64(i)), frame.NewCount(1), 0)
			select {
			case <-fu.Done():
			default:
				continue // sent: pending
			}
			_, err := fu.Wait(context.Background())
			var se *StoreError
			switch {
			case !errors.As(err, &se) || se.Code != frame.CodeLimit:
				t.Fatalf("request %d: %v", i, err)
			case strings.Contains(se.Text, "StoreOptions.MaxPending"):
				handle++
			case strings.Contains(se.Text, "Options.StoreMaxPending"):
				node++
			default:
				t.Fatalf("request %d: refused with %q", i, se.Text)
			}
		}
		return handle, node
	}
	f1, f2 := frontend("one"), frontend("two")
	if h, n := send(f1, 9); h != 1 || n != 0 {
		t.Fatalf("first handle: %d refused by its own bound, %d by the node's; want 1, 0", h, n)
	}
	if h, n := send(f2, 5); h != 0 || n != 3 {
		t.Fatalf("second handle: %d refused by its own bound, %d by the node's; want 0, 3", h, n)
	}
	if got := a.Stats().StoreLimit; got != 4 {
		t.Errorf("Stats.StoreLimit = %d, want 4", got)
	}
	if err := f1.Close(); err != nil {
		t.Fatal(err)
	}
	if h, n := send(f2, 8); h != 2 || n != 0 {
		t.Fatalf("after the first handle closed: %d refused by the second's own bound, %d by the node's; want 2, 0", h, n)
	}
	if got := a.stats.storePending.Load(); got != 8 {
		t.Errorf("node's pending count %d, want 8", got)
	}
}

// A store request of this node that a peer queue's drop_oldest policy
// evicted fails at once with the limit code (and gives back its room);
// one with another node's request topic, which this node only relays, is
// left alone.
func TestStoreEvictedRequest(t *testing.T) {
	a, err := New(Options{Name: "a", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	silentMaster(t, a, "ev")
	f, err := a.StoreFrontend("ev")
	if err != nil {
		t.Fatal(err)
	}
	fu := f.Do(frame.OpPut, frame.NewCount(1), frame.NewCount(2), 0) // no master: stays pending
	other := storeTopic("ev", "m/r/"+idHex(a.origin+1))
	a.onEvict(nil, frame.AppendStoreCmd(nil, frame.Header{}, []byte(other), "ev", frame.OpPut, fu.id,
		frame.NewCount(1), frame.NewCount(2), 0))
	select {
	case <-fu.Done():
		t.Fatal("another node's evicted request failed this one")
	default:
	}
	a.onEvict(nil, frame.AppendStoreCmd(nil, frame.Header{}, []byte(f.reqTopic), "ev", frame.OpPut, fu.id,
		frame.NewCount(1), frame.NewCount(2), 0))
	select {
	case <-fu.Done():
	default:
		t.Fatal("the evicted request is still pending")
	}
	var se *StoreError
	if _, err := fu.Wait(context.Background()); !errors.As(err, &se) || se.Code != frame.CodeLimit {
		t.Fatalf("evicted request: %v, want the limit code", err)
	}
	if n := a.stats.storePending.Load(); n != 0 || a.Stats().StoreLimit != 1 {
		t.Errorf("pending %d (want 0), StoreLimit %d (want 1)", n, a.Stats().StoreLimit)
	}
}

// Requests in flight to a master fail with ErrMasterLost as soon as the
// last peer that reached it goes down, not after RequestTimeout. Here the
// "master" is a plain subscriber that never answers.
func TestStoreMasterLost(t *testing.T) {
	a, b := peeredPairWith(t, Options{Name: "a", Logger: testLogger()}, Options{Name: "b", Logger: testLogger()})
	got := make(chan struct{}, 1024)
	sub, err := a.subscribe(storeTopic("lost", "m/"), func(Message) { got <- struct{}{} }, nil)
	if err != nil {
		t.Fatal(err)
	}
	sub.store = true // as a master's own subscription (subscribeStore)
	f, err := b.StoreFrontend("lost")
	if err != nil {
		t.Fatal(err)
	}
	f.opts.RequestTimeout = time.Hour
	// Requests sent before a's subscription reached b go nowhere: send
	// until one arrives.
	var fu *Future
	testutil.WaitFor(t, "a request reaches the silent master", func() bool {
		fu = f.Do(frame.OpPut, frame.NewCount(1), frame.NewCount(2), 0)
		select {
		case <-got:
			return true
		case <-time.After(20 * time.Millisecond):
			return false
		}
	})
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := fu.Wait(ctx); !errors.Is(err, ErrMasterLost) {
		t.Fatalf("request in flight when the master's node closed: %v, want ErrMasterLost", err)
	}
	if n := b.stats.storePending.Load(); n != 0 {
		t.Errorf("%d requests still pending", n)
	}
}

// answeringFrontend peers node a (options ao, with a memory master of
// store name) and node b (options bo, with a frontend of it), and returns
// once the frontend's requests are answered: the first answer proves the
// path is up both ways (a request sent before b knows the master's
// subscription is refused with ErrNoMaster, and its answer needs the
// master to know b's).
func answeringFrontend(t *testing.T, ctx context.Context, ao, bo Options, name string) (a, b *Node, f *Store) {
	t.Helper()
	a, b = peeredPairWith(t, ao, bo)
	if _, err := a.AttachMaster(name, kv.NewMemory(), StoreOptions{}); err != nil {
		t.Fatal(err)
	}
	f, err := b.StoreFrontend(name)
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "an answer from the master", func() bool {
		wctx, wcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer wcancel()
		_, err := f.Do(frame.OpExists, frame.NewString("probe"), frame.None, 0).Wait(wctx)
		return err == nil
	})
	return a, b, f
}

// A pipeline deeper than a peer queue holds: every request is answered —
// applied, or refused at once with the limit code — and none waits for
// RequestTimeout. By default the handle's MaxPending refuses first; with a
// peer queue smaller than MaxPending, the full queue does.
func TestStoreDeepPipeline(t *testing.T) {
	for _, tc := range []struct {
		name  string
		queue int // the requesting node's peer queue, in frames; 0: default
	}{{"max-pending", 0}, {"queue-full", 512}} {
		t.Run(tc.name, func(t *testing.T) { testDeepPipeline(t, tc.queue) })
	}
}

func testDeepPipeline(t *testing.T, queue int) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bo := Options{Name: "b", Logger: testLogger()}
	bo.Net.QueueFrames = queue
	_, b, f := answeringFrontend(t, ctx, Options{Name: "a", Logger: testLogger()}, bo, "deep")
	f.opts.RequestTimeout = time.Hour // a lost request would hang the test, not fail late
	const n = 40000
	fs := make([]*Future, n)
	for i := range fs {
		fs[i] = f.Do(frame.OpPut, frame.NewCount(uint64(i)), frame.NewCount(uint64(i)), 0)
	}
	ok, refused, full := 0, 0, 0
	for i, fu := range fs {
		wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
		_, err := fu.Wait(wctx)
		late := wctx.Err() != nil
		wcancel()
		var se *StoreError
		switch {
		case err == nil:
			ok++
		case late:
			t.Fatalf("request %d of %d: no answer (%d answered, %d refused)", i, n, ok, refused)
		case errors.As(err, &se) && se.Code == frame.CodeLimit:
			refused++
			if se.Text == "queue to the master full" {
				full++
			}
		default:
			t.Fatalf("request %d: %v", i, err)
		}
	}
	t.Logf("%d applied, %d refused (%d by the full queue)", ok, refused, full)
	if ok == 0 || refused == 0 || ok+refused != n {
		t.Fatalf("%d applied and %d refused of %d: want both, and every request answered", ok, refused, n)
	}
	if queue > 0 && full == 0 {
		t.Errorf("a %d-frame queue never refused a request", queue)
	}
	if got := b.Stats().StoreLimit; got != uint64(refused) {
		t.Errorf("Stats.StoreLimit = %d, want %d", got, refused)
	}
	for _, p := range b.Peers() {
		if d := p.Stats().Dropped; d != 0 {
			t.Errorf("the requesting node dropped %d frames", d)
		}
	}
	// The refusals left the handle usable.
	if err := f.Put(ctx, frame.NewString("after"), frame.NewCount(1), 0); err != nil {
		t.Fatal(err)
	}
}

// An expiry wave over Pebble, in slices of a few keys between requests:
// every expiring key goes, on the master and the clone, and the keys
// written meanwhile (put and put_unique, in the same group commits as the
// expiry slices) all stay.
func TestStoreExpiryWave(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, b := peeredPair(t, Options{Name: "a", Logger: testLogger()})
	p, err := kv.OpenPebble(kv.PebbleOptions{Dir: t.TempDir(), Sync: kv.NoSync})
	if err != nil {
		t.Fatal(err)
	}
	m, err := a.AttachMaster("wave", p, StoreOptions{ExpireBatch: 7, Tick: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "peering", func() bool { return len(b.Peers()) == 1 && len(a.Peers()) == 1 })
	c, err := b.AttachClone("wave", StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "clone synced", func() bool { return c.CloneStatus().HasData && !c.Stale() })
	var fs []*Future
	for i := range 300 {
		fs = append(fs, m.Do(frame.OpPut, frame.NewCount(uint64(i)), frame.NewCount(1), 20*time.Millisecond))
	}
	for i := range 100 {
		op := frame.OpPut
		if i%2 == 0 {
			op = frame.OpPutUnique
		}
		fs = append(fs, c.Do(op, frame.NewString(string(rune('a'+i%26))+string(rune('a'+i/26))), frame.NewCount(2), 0))
	}
	for _, f := range fs {
		if _, err := f.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	count := func(s *Store) int {
		keys, err := s.Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return keys.Len()
	}
	testutil.WaitFor(t, "the wave expired on master and clone", func() bool { return count(m) == 100 && count(c) == 100 })
	mk, _ := m.Keys(ctx)
	ck, _ := c.Keys(ctx)
	if !frame.Equal(mk, ck) {
		t.Fatalf("master keys %v, clone keys %v", mk, ck)
	}
}

// TestExpireSliceSize pins the expiry pacing: while requests keep coming a
// slice takes at most one key per expireShare requests applied; without
// requests for expireIdle, whole slices.
func TestExpireSliceSize(t *testing.T) {
	for _, tc := range []struct {
		size, allowance int
		since           time.Duration
		want            int
		paced           bool
	}{
		{256, 0, expireIdle, 256, false},
		{256, 0, time.Hour, 256, false},
		{256, 0, 0, 0, true},
		{256, 1, expireIdle - 1, 0, true},
		{256, 100, time.Millisecond, 50, true},
		{256, 512, time.Millisecond, 256, false},
		{256, 10_000, 0, 256, false},
	} {
		n, paced := expireSliceSize(tc.size, tc.allowance, tc.since)
		if n != tc.want || paced != tc.paced {
			t.Errorf("expireSliceSize(%d, %d, %v) = %d, %v; want %d, %v", tc.size, tc.allowance, tc.since, n, paced, tc.want, tc.paced)
		}
	}
}

// A request with no route to a master fails at once with ErrNoMaster and
// is not tracked; once a master's subscription is known, requests go out.
func TestStoreNoMaster(t *testing.T) {
	a, err := New(Options{Name: "a", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	f, err := a.StoreFrontend("nowhere")
	if err != nil {
		t.Fatal(err)
	}
	fu := f.Do(frame.OpPut, frame.NewCount(1), frame.NewCount(2), 0)
	select {
	case <-fu.Done():
	default:
		t.Fatal("a request with no route to a master is pending")
	}
	if _, err := fu.Wait(context.Background()); !errors.Is(err, ErrNoMaster) {
		t.Fatalf("request with no route: %v, want ErrNoMaster", err)
	}
	if n := a.stats.storePending.Load(); n != 0 {
		t.Fatalf("%d requests pending, want 0", n)
	}
	silentMaster(t, a, "nowhere")
	fu = f.Do(frame.OpPut, frame.NewCount(1), frame.NewCount(2), 0)
	select {
	case <-fu.Done():
		_, err := fu.Wait(context.Background())
		t.Fatalf("request with a route: %v, want pending", err)
	default:
	}
}

// The master answers a handle's requests in order, so an answer fails
// every earlier request still pending with ErrRequestLost at once (it or
// its answer was dropped on the way) — except a refusal of a full store
// queue, which the master sends ahead of the answers it owes.
func TestStoreRequestLost(t *testing.T) {
	a, err := New(Options{Name: "a", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	silentMaster(t, a, "gap")
	f, err := a.StoreFrontend("gap")
	if err != nil {
		t.Fatal(err)
	}
	f.opts.RequestTimeout = time.Hour // a missed loss would hang, not fail late
	reply := storeTopic("gap", "r/"+idHex(a.origin))
	ack := func(fu *Future) {
		t.Helper()
		if err := a.publish(reply, nil, func(dst []byte, h frame.Header) []byte {
			return frame.AppendStoreAck(dst, []byte(reply), "gap", fu.id, frame.NewBool(true))
		}); err != nil {
			t.Fatal(err)
		}
	}
	nackLimit := func(fu *Future) {
		t.Helper()
		if err := a.publish(reply, nil, func(dst []byte, h frame.Header) []byte {
			return frame.AppendStoreNack(dst, []byte(reply), frame.StoreNack{Store: []byte("gap"), Code: frame.CodeLimit, First: fu.id, Last: fu.id, Text: []byte("store queue full")})
		}); err != nil {
			t.Fatal(err)
		}
	}
	pending := func(fu *Future) bool {
		select {
		case <-fu.Done():
			return false
		default:
			return true
		}
	}
	fs := make([]*Future, 8)
	for i := range fs {
		fs[i] = f.Do(frame.OpPut, frame.NewCount(uint64(i)), frame.NewCount(1), 0)
	}
	ack(fs[0])
	ack(fs[2]) // fs[1] lost
	nackLimit(fs[5])
	if !pending(fs[3]) || !pending(fs[4]) {
		t.Fatal("a queue-full refusal, sent ahead of earlier answers, failed earlier requests")
	}
	ack(fs[4]) // fs[3] lost
	ack(fs[1]) // late: already failed, dropped
	for i, want := range []error{nil, ErrRequestLost, nil, ErrRequestLost, nil} {
		if _, err := fs[i].Wait(context.Background()); !errors.Is(err, want) {
			t.Errorf("request %d: %v, want %v", i, err, want)
		}
	}
	var se *StoreError
	if _, err := fs[5].Wait(context.Background()); !errors.As(err, &se) || se.Code != frame.CodeLimit {
		t.Errorf("request 5: %v, want the limit code", err)
	}
	if !pending(fs[6]) || !pending(fs[7]) {
		t.Fatal("requests after the last answer are not pending")
	}
	if got := a.Stats().StoreLost; got != 2 {
		t.Errorf("Stats.StoreLost = %d, want 2", got)
	}
	// A gap wider than what is pending (ids refused locally in between)
	// takes the scan; it finds fs[6] and fs[7].
	f.opts.MaxPending = 3
	var last *Future
	for range 10 {
		if fu := f.Do(frame.OpPut, frame.NewCount(9), frame.NewCount(1), 0); pending(fu) {
			last = fu
		}
	}
	ack(last)
	for i := 6; i < 8; i++ {
		if _, err := fs[i].Wait(context.Background()); !errors.Is(err, ErrRequestLost) {
			t.Errorf("request %d: %v, want ErrRequestLost", i, err)
		}
	}
	if n := a.stats.storePending.Load(); n != 0 {
		t.Errorf("%d requests pending, want 0", n)
	}
}

// Many goroutines pipelining on one handle: every request reaches the
// master in the order of its id (Do takes the id and queues the request
// under one lock), so none is failed as lost.
func TestStoreConcurrentOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, b, f := answeringFrontend(t, ctx, Options{Name: "a", Logger: testLogger()}, Options{Name: "b", Logger: testLogger()}, "order")
	const goroutines, each, window = 8, 2000, 64
	var g errgroup.Group
	for w := range goroutines {
		g.Go(func() error {
			ring := make([]*Future, 0, window)
			for i := range each {
				if len(ring) == window {
					if _, err := ring[0].Wait(ctx); err != nil {
						return fmt.Errorf("goroutine %d: %w", w, err)
					}
					ring = ring[1:]
				}
				ring = append(ring, f.Do(frame.OpPut, frame.NewCount(uint64(w*each+i)), frame.NewCount(1), 0))
			}
			for _, fu := range ring {
				if _, err := fu.Wait(ctx); err != nil {
					return fmt.Errorf("goroutine %d: %w", w, err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if got := b.Stats().StoreLost; got != 0 {
		t.Errorf("Stats.StoreLost = %d, want 0", got)
	}
}

// Over real sockets: a master whose peer queue to the requesting node is
// far smaller than the pipeline evicts answers (drop_oldest). Their
// requests fail with ErrRequestLost when a later answer arrives — the
// newest answer is never the one evicted — so none waits for
// RequestTimeout, and every other request is answered. Every other
// request fails (an add of a string to a count): its store-nack ends the
// master's run of answers, so the answers take about a frame per two
// requests, as many as the queue must drop.
func TestStoreAnswersEvicted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ao := Options{Name: "a", Logger: testLogger()}
	ao.Net.QueueFrames = 16
	_, b, f := answeringFrontend(t, ctx, ao, Options{Name: "b", Logger: testLogger()}, "evict")
	f.opts.RequestTimeout = time.Hour // a request left waiting hangs the test
	const n = 4000
	fs := make([]*Future, n)
	for i := range fs {
		if i%2 == 0 {
			fs[i] = f.Do(frame.OpPut, frame.NewCount(uint64(i)), frame.NewCount(uint64(i)), 0)
		} else {
			fs[i] = f.Do(frame.OpAdd, frame.NewCount(uint64(i-1)), frame.NewString("x"), 0)
		}
	}
	ok, lost := 0, 0
	for i, fu := range fs {
		_, err := fu.Wait(ctx)
		var se *StoreError
		switch {
		case i%2 == 0 && err == nil, i%2 == 1 && errors.As(err, &se) && se.Code == frame.CodeBadRequest:
			ok++
		case errors.Is(err, ErrRequestLost):
			lost++
		default:
			t.Fatalf("request %d of %d (%d answered, %d lost before it): %v", i, n, ok, lost, err)
		}
	}
	t.Logf("%d answered, %d failed as lost", ok, lost)
	if lost == 0 {
		t.Fatal("no answer was evicted: the test did not exercise the loss")
	}
	if _, err := fs[n-2].Wait(ctx); err != nil {
		t.Errorf("the last put: %v, want its answer", err)
	}
	if got := b.Stats().StoreLost; got != uint64(lost) {
		t.Errorf("Stats.StoreLost = %d, want %d", got, lost)
	}
}

// When the answers of a burst's last requests are all lost, no later
// answer comes to fail them: the tail probe, sent after tailProbeAfter
// (here 10 ms) without answers, is answered in order and fails them with
// ErrRequestLost instead of leaving them to RequestTimeout.
func TestStoreTailProbe(t *testing.T) {
	a, err := New(Options{Name: "a", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	cmds := make(chan frame.StoreCmd, 64)
	sub, err := a.subscribe(storeTopic("tail", "m/"), func(m Message) {
		if c, err := frame.DecodeStoreCmd(m.f.Body(), nil); err == nil {
			c.Store, c.Key, c.Value = nil, frame.View{}, frame.View{} // views of a reused buffer
			cmds <- c
		}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sub.store = true
	f, err := a.StoreFrontend("tail")
	if err != nil {
		t.Fatal(err)
	}
	f.opts.RequestTimeout = time.Hour
	f.tailAfter = 10 * time.Millisecond
	fs := make([]*Future, 3)
	for i := range fs {
		fs[i] = f.Do(frame.OpPut, frame.NewCount(uint64(i)), frame.NewCount(1), 0)
	}
	// The master drops the three requests and answers what comes next:
	// the probe.
	deadline := time.After(30 * time.Second)
	var probe frame.StoreCmd
	for probe.Seq == 0 {
		select {
		case c := <-cmds:
			if c.Seq > fs[len(fs)-1].id {
				probe = c
			}
		case <-deadline:
			t.Fatal("no probe within 30s")
		}
	}
	if probe.Op != frame.OpExists {
		t.Fatalf("probe op %v, want exists", probe.Op)
	}
	reply := storeTopic("tail", "r/"+idHex(a.origin))
	if err := a.publish(reply, nil, func(dst []byte, h frame.Header) []byte {
		return frame.AppendStoreAck(dst, []byte(reply), "tail", probe.Seq, frame.NewBool(false))
	}); err != nil {
		t.Fatal(err)
	}
	for i, fu := range fs {
		if _, err := fu.Wait(context.Background()); !errors.Is(err, ErrRequestLost) {
			t.Errorf("request %d: %v, want ErrRequestLost", i, err)
		}
	}
	if n := a.stats.storePending.Load(); n != 0 {
		t.Errorf("%d requests pending, want 0", n)
	}
}
