package daemon

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/weirio/weir/cluster"
	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/testutil"
	"github.com/weirio/weir/node"
)

// Two daemons: one the master of a Pebble store and a memory one, the
// other a clone of the first; a write on the master reaches the clone.
func TestRunStores(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	})
	start := func(cfg Config) Ready {
		ready := make(chan Ready, 1)
		go func() { errs <- Run(ctx, cfg, log, func(r Ready) { ready <- r }) }()
		select {
		case r := <-ready:
			return r
		case err := <-errs:
			t.Fatalf("daemon: %v", err)
		}
		return Ready{}
	}
	dir := t.TempDir()
	m := start(Config{Listen: "127.0.0.1:0", Metrics: "-", DataDir: filepath.Join(dir, "m"), LogDir: filepath.Join(dir, "ml"),
		Stores: []cluster.StoreSpec{{Name: "hosts"}, {Name: "counts", Backend: cluster.BackendMemory}}})
	c := start(Config{Listen: "127.0.0.1:0", Metrics: "-", DataDir: filepath.Join(dir, "c"), LogDir: filepath.Join(dir, "cl"),
		Peers: []string{m.Listen.String()}, Clones: []cluster.StoreSpec{{Name: "hosts"}}})
	if _, err := os.Stat(filepath.Join(dir, "m", "stores", "hosts")); err != nil {
		t.Fatalf("no Pebble directory for the store: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "m", "stores", "counts")); err == nil {
		t.Fatal("a memory store made a directory")
	}
	ms, ok := m.Node.Store("hosts")
	if !ok {
		t.Fatal("master store not attached")
	}
	cs, ok := c.Node.Store("hosts")
	if !ok {
		t.Fatal("clone not attached")
	}
	if err := ms.Put(ctx, frame.NewString("k"), frame.NewCount(1), 0); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the clone has k", func() bool {
		v, ok, err := cs.Get(ctx, frame.NewString("k"))
		return err == nil && ok && v.Count() == 1
	})
	if _, ok := m.Node.Store("counts"); !ok {
		t.Fatal("memory store not attached")
	}
	var _ *node.Store = ms
}
