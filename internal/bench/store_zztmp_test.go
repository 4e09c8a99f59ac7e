package bench

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime/trace"
	"testing"
)

func TestZZTrace(t *testing.T) {
	ph := os.Getenv("TRACE_PHASE")
	if ph == "" {
		t.Skip()
	}
	f, _ := os.Create("/tmp/store.trace")
	defer f.Close()
	c := StoreConfig{Ops: 100000, ExpireKeys: 20000, Dir: "/tmp", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	c.OnPhase = func(p string, start bool) {
		if p != ph {
			return
		}
		if start {
			trace.Start(f)
		} else {
			trace.Stop()
		}
	}
	r, err := RunStore(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", *r)
}
