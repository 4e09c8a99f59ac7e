package node

import (
	"sync"
	"testing"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/testutil"
)

type eventLog struct {
	mu  sync.Mutex
	evs []Event
}

func (l *eventLog) h(ev Event) { l.mu.Lock(); l.evs = append(l.evs, ev); l.mu.Unlock() }
func (l *eventLog) n() int     { l.mu.Lock(); defer l.mu.Unlock(); return len(l.evs) }
func (l *eventLog) get(i int) Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.evs[i]
}

func TestRaiseAutoPublishAndHandlers(t *testing.T) {
	a := newNode(t, "a", nil)
	b := newNode(t, "b", nil)
	_ = b.Peer(listen(t, a))
	var la, lb eventLog
	a.On("ping", la.h)
	b.On("ping", lb.h)
	// Both subscribe to the topic; a auto-publishes there.
	if _, err := a.SubscribeEvents("app/"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SubscribeEvents("app/"); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "filter", func() bool { return peerWants(a, "b", "app/x") })
	if err := a.AutoPublish("app/x", "ping"); err != nil {
		t.Fatal(err)
	}
	if err := a.Raise("ping", frame.NewCount(7), frame.NewString("s")); err != nil {
		t.Fatal(err)
	}
	// a's handler ran once, directly; b's handler got the published copy.
	if la.n() != 1 || la.get(0).Remote {
		t.Fatalf("local handler ran %d times", la.n())
	}
	testutil.WaitFor(t, "remote handler", func() bool { return lb.n() == 1 })
	ev := lb.get(0)
	if !ev.Remote || ev.Topic != "app/x" || len(ev.Args) != 2 || ev.Args[0].Count() != 7 || ev.Args[1].Str() != "s" {
		t.Fatalf("remote event %+v", ev)
	}
	// PublishEvent runs no local handler; the peer's handler runs.
	_ = a.PublishEvent("app/x", "ping", frame.NewCount(8))
	testutil.WaitFor(t, "second remote", func() bool { return lb.n() == 2 })
	if la.n() != 1 {
		t.Fatalf("PublishEvent ran a local handler (%d)", la.n())
	}
	// Without AutoPublish, Raise stays local.
	a.AutoUnpublish("app/x", "ping")
	_ = a.Raise("ping")
	if la.n() != 2 {
		t.Fatal("Raise did not run the local handler")
	}
	// A panicking handler is contained and counted; others still run.
	cancel := b.On("ping", func(Event) { panic("handler bug") })
	_ = a.PublishEvent("app/x", "ping")
	testutil.WaitFor(t, "third remote", func() bool { return lb.n() == 3 })
	testutil.WaitFor(t, "panic counted", func() bool { return b.Stats().HandlerPanics == 1 })
	cancel()
	_ = a.PublishEvent("app/x", "ping")
	testutil.WaitFor(t, "fourth remote", func() bool { return lb.n() == 4 })
	if b.Stats().HandlerPanics != 1 {
		t.Fatal("cancelled handler still ran")
	}
}

func TestAutoPublishValidates(t *testing.T) {
	n := newNode(t, "n", nil)
	if err := n.AutoPublish("t", string(make([]byte, 300))); err == nil {
		t.Fatal("long name accepted")
	}
	if err := n.AutoPublish(string(make([]byte, 70000)), "e"); err == nil {
		t.Fatal("long topic accepted")
	}
}
