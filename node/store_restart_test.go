package node

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/testutil"
	"github.com/weirio/weir/kv"
)

// A Pebble master (sync mode) that restarts recovers every acknowledged
// write and the remaining expiry times; its clone resyncs to the new
// master.
func TestStoreMasterRestartPebble(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*testutil.Deadline)
	defer cancel()
	dir := t.TempDir()
	open := func() kv.Backend {
		b, err := kv.OpenPebble(kv.PebbleOptions{Dir: dir, Sync: kv.Sync})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	startMaster := func() (*Node, *Store, string) {
		a, err := New(Options{Name: "master", Logger: testLogger()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Close() })
		m, err := a.AttachMaster("hosts", open(), StoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		addr, err := a.Listen("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return a, m, addr.String()
	}
	a, _, addr := startMaster()
	b, err := New(Options{Name: "clone", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if err := b.Peer(addr); err != nil {
		t.Fatal(err)
	}
	c, err := b.AttachClone("hosts", StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	key := func(i int) frame.Value { return frame.NewString(fmt.Sprintf("k%04d", i)) }
	testutil.WaitFor(t, "clone synced", func() bool { return c.CloneStatus().HasData && !c.Stale() })

	// Pipelined writes through the clone; keys with an hour to live, one
	// that expires soon after the restart.
	const n = 500
	written := time.Now()
	var fs []*Future
	for i := range n {
		fs = append(fs, c.Do(frame.OpPut, key(i), frame.NewCount(uint64(i)), time.Hour))
	}
	for _, fu := range fs {
		if _, err := fu.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Put(ctx, frame.NewString("short"), frame.NewBool(true), 2*time.Second); err != nil {
		t.Fatal(err)
	}

	// Restart the master. The expiry times are in the directory as they
	// were written, not reset by the restart.
	_ = a.Close()
	p := open()
	for i := range []int{0, n - 1} {
		kb := frame.AppendValue(nil, key(i))
		_, at, ok, err := p.Get(kb)
		if err != nil || !ok {
			t.Fatalf("key %d after restart: %v %v", i, ok, err)
		}
		if d := time.Unix(0, at).Sub(written); d < time.Hour || d > time.Hour+time.Minute {
			t.Fatalf("key %d expires %v after it was written, want 1h", i, d)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	a2, m2, addr2 := startMaster()
	if err := b.Peer(addr2); err != nil {
		t.Fatal(err)
	}
	_ = b.Unpeer(addr)
	testutil.WaitFor(t, "peered with the restarted master", func() bool { return len(a2.Peers()) == 1 })
	for i := range n {
		v, ok, err := m2.Get(ctx, key(i))
		if err != nil || !ok || v.Count() != uint64(i) {
			t.Fatalf("master after restart: key %d = %v %v %v", i, v, ok, err)
		}
	}
	// The clone follows the new master: a write after the restart arrives.
	if err := c.Put(ctx, frame.NewString("after"), frame.NewCount(1), 0); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "clone resynced to the new master", func() bool {
		_, ok1, err1 := c.Get(ctx, frame.NewString("after"))
		_, ok2, err2 := c.Get(ctx, key(n-1))
		return err1 == nil && err2 == nil && ok1 && ok2 && !c.Stale()
	})
	// The short key expires on the restarted master (about 2 s after it
	// was written), and the clone hears of it.
	testutil.WaitFor(t, "short key expired", func() bool {
		ok, err := m2.Exists(ctx, frame.NewString("short"))
		_, cok, cerr := c.Get(ctx, frame.NewString("short"))
		return err == nil && !ok && cerr == nil && !cok
	})
	if _, ok, err := m2.Get(ctx, key(0)); err != nil || !ok {
		t.Fatalf("a key with an hour to live is gone: %v %v", ok, err)
	}
}

// Limits: the number of stores per node, and oversized values refused
// with the limit code and counted.
func TestStoreLimits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Deadline)
	defer cancel()
	a, err := New(Options{Name: "a", Logger: testLogger(), MaxStores: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	m, err := a.AttachMaster("one", kv.NewMemory(), StoreOptions{Store: kv.Options{MaxValueSize: 64}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AttachMaster("two", kv.NewMemory(), StoreOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.StoreFrontend("three"); !errors.Is(err, ErrTooManyStores) {
		t.Fatalf("third store: %v", err)
	}
	var se *StoreError
	err = m.Put(ctx, frame.NewString("k"), frame.NewString(string(make([]byte, 100))), 0)
	if !errors.As(err, &se) || se.Code != frame.CodeLimit {
		t.Fatalf("oversized value: %v", err)
	}
	if got := a.Stats().StoreLimit; got != 1 {
		t.Fatalf("StoreLimit = %d, want 1", got)
	}
}

// With Events on, a master's changes reach local subscribers of its
// events topic as Broker-style store events.
func TestStoreEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Deadline)
	defer cancel()
	a, err := New(Options{Name: "a", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	sub, err := a.Subscribe(a.StoreEventsTopic("s"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := a.AttachMaster("s", kv.NewMemory(), StoreOptions{Events: true, Tick: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	k := frame.NewString("k")
	for _, step := range []func() error{
		func() error { return m.Put(ctx, k, frame.NewCount(1), 0) },
		func() error { return m.Add(ctx, k, frame.NewCount(2), 0) },
		func() error { return m.Erase(ctx, k) },
		func() error { return m.Put(ctx, k, frame.NewCount(1), time.Millisecond) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{`insert "s" "k" 1`, `update "s" "k" 1 3`, `erase "s" "k"`, `insert "s" "k" 1`, `expire "s" "k"`}
	for _, w := range want {
		select {
		case msg := <-sub.C():
			ev, err := msg.Event()
			if err != nil {
				t.Fatal(err)
			}
			got := string(ev.Name)
			it := ev.Args.Iter()
			for arg, ok := it.Next(); ok; arg, ok = it.Next() {
				if it.Remaining() == 0 && (string(ev.Name) == "insert" || string(ev.Name) == "update") {
					break // the expiry
				}
				got += " " + arg.Value().String()
			}
			if got != w {
				t.Fatalf("event %q, want %q", got, w)
			}
		case <-ctx.Done():
			t.Fatalf("no event %q", w)
		}
	}
}
