package cluster

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/testutil"
	"github.com/weirio/weir/node"
)

// liveNode is one running member of the test cluster.
type liveNode struct {
	n *node.Node
	m *Member

	mu        sync.Mutex
	ups, down []string
	got       []string // keys of "work" events received
}

func (ln *liveNode) record(list *[]string) node.EventHandler {
	return func(ev node.Event) {
		ln.mu.Lock()
		*list = append(*list, ev.Args[0].Str())
		ln.mu.Unlock()
	}
}

func (ln *liveNode) has(list *[]string, name string) bool {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	return slices.Contains(*list, name)
}

func startMember(t *testing.T, l *Layout, name string) *liveNode {
	t.Helper()
	self, _ := l.Node(name)
	o := node.Options{Name: name, Role: self.Role, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	o.Net.RetryInitial, o.Net.RetryMax, o.Net.Tick = 50*time.Millisecond, 200*time.Millisecond, 20*time.Millisecond
	n, err := node.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln := &liveNode{n: n}
	n.On(EventNodeUp, ln.record(&ln.ups))
	n.On(EventNodeDown, ln.record(&ln.down))
	n.On("work", ln.record(&ln.got))
	if ln.m, err = Start(n, l, name); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Listen(self.Addr()); err != nil {
		t.Fatal(err)
	}
	return ln
}

func (ln *liveNode) stop() {
	ln.m.Stop()
	_ = ln.n.Close()
}

func neighbours(l *Layout, name string) []string {
	out := append(Peers(l, name), Dialers(l, name)...)
	slices.Sort(out)
	return out
}

// TestExampleClusterEndToEnd runs the example layout on loopback: every
// node sees node_up for each of its peers; PublishHRW from two workers
// sends a key to the same proxy; killing a proxy raises node_down and moves
// exactly its keys; restarting it raises node_up and its keys return.
func TestExampleClusterEndToEnd(t *testing.T) {
	l, err := Load("../examples/local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]*liveNode{}
	for _, n := range l.Nodes {
		nodes[n.Name] = startMember(t, l, n.Name)
	}
	defer func() {
		for _, ln := range nodes {
			ln.stop()
		}
	}()
	for name, ln := range nodes {
		for _, nb := range neighbours(l, name) {
			testutil.WaitFor(t, fmt.Sprintf("%s sees node_up(%s)", name, nb), func() bool { return ln.has(&ln.ups, nb) })
		}
	}
	w1, w2 := nodes["worker-1"], nodes["worker-2"]
	keys := make([]string, 2000)
	owner := map[string]string{}
	for i := range keys {
		keys[i] = fmt.Sprintf("10.0.%d.%d", i/256, i%256)
		a, err := w1.m.PublishHRW(frame.RoleProxy, keys[i], "work", frame.NewString(keys[i]))
		if err != nil {
			t.Fatal(err)
		}
		b, err := w2.m.PublishHRW(frame.RoleProxy, keys[i], "work", frame.NewString(keys[i]))
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Fatalf("key %s: worker-1 picked %s, worker-2 picked %s", keys[i], a, b)
		}
		owner[keys[i]] = a
	}
	// Each proxy received exactly its keys, twice (once per worker).
	for _, p := range []string{"proxy-1", "proxy-2"} {
		want := 0
		for _, o := range owner {
			if o == p {
				want += 2
			}
		}
		if want == 0 || want == 2*len(keys) {
			t.Fatalf("degenerate split: %s owns %d", p, want/2)
		}
		ln := nodes[p]
		testutil.WaitFor(t, p+" receives its keys", func() bool { ln.mu.Lock(); defer ln.mu.Unlock(); return len(ln.got) == want })
		ln.mu.Lock()
		for _, k := range ln.got {
			if owner[k] != p {
				t.Fatalf("%s got key %s owned by %s", p, k, owner[k])
			}
		}
		ln.mu.Unlock()
	}

	// Kill proxy-1: node_down everywhere it was peered; only its keys move.
	nodes["proxy-1"].stop()
	for _, nb := range neighbours(l, "proxy-1") {
		ln := nodes[nb]
		testutil.WaitFor(t, nb+" sees node_down(proxy-1)", func() bool { return ln.has(&ln.down, "proxy-1") })
	}
	for _, k := range keys {
		got, _ := w1.m.Pools().Pool(frame.RoleProxy).PickHRWString(k)
		if owner[k] == "proxy-2" && got != "proxy-2" {
			t.Fatalf("key %s moved away from the surviving proxy", k)
		}
		if got != "proxy-2" {
			t.Fatalf("key %s not moved to the survivor: %s", k, got)
		}
	}
	// Restart it: node_up again, its keys return.
	nodes["proxy-1"] = startMember(t, l, "proxy-1")
	for _, w := range []*liveNode{w1, w2} {
		testutil.WaitFor(t, "proxy-1 back in the pool", func() bool { return slices.Contains(w.m.Pools().Pool(frame.RoleProxy).Live(), "proxy-1") })
	}
	for _, k := range keys {
		if got, _ := w2.m.Pools().Pool(frame.RoleProxy).PickHRWString(k); got != owner[k] {
			t.Fatalf("key %s: %s after restart, %s before", k, got, owner[k])
		}
	}
}

func TestPublishWithNoLiveMember(t *testing.T) {
	l, err := Parse([]byte(`
nodes:
  - {name: m, role: manager, host: 127.0.0.1, port: 1}
  - {name: p, role: proxy, host: 127.0.0.1, port: 2}
  - {name: w, role: worker, host: 127.0.0.1, port: 3}
`))
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(node.Options{Name: "w", Role: frame.RoleWorker, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	m, err := Start(n, l, "w")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	if _, err := m.PublishHRW(frame.RoleProxy, "k", "e"); !errors.Is(err, ErrNoLiveMember) {
		t.Fatalf("HRW: %v", err)
	}
	if _, err := m.PublishRR(frame.RoleProxy, "k", "e"); !errors.Is(err, ErrNoLiveMember) {
		t.Fatalf("RR: %v", err)
	}
	// The worker is alive in its own pool: a worker-pool key is handled here.
	if name, err := m.PublishHRW(frame.RoleWorker, "k", "e"); err != nil || name != "w" {
		t.Fatalf("self pick: %q %v", name, err)
	}
	if _, err := m.PublishHRW(frame.RoleManager, "k", "e"); err == nil {
		t.Fatal("manager pool accepted")
	}
	if _, err := Start(n, l, "nobody"); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("unknown node: %v", err)
	}
}
