package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/weirio/weir/internal/daemon"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestPubSubStatusAgainstDaemon runs a daemon on loopback and drives it
// with the client commands, as the README's quick start does.
func TestPubSubStatusAgainstDaemon(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	readyc := make(chan daemon.Ready, 1)
	done := make(chan error, 1)
	cfg := daemon.Config{Listen: "127.0.0.1:0", Metrics: "127.0.0.1:0", DataDir: dir + "/data", LogDir: dir + "/logs"}
	cfg.Node.Name = "srv"
	go func() { done <- daemon.Run(ctx, cfg, quiet(), func(r daemon.Ready) { readyc <- r }) }()
	var r daemon.Ready
	select {
	case r = <-readyc:
	case err := <-done:
		t.Fatal(err)
	}
	addr := r.Listen.String()

	var out bytes.Buffer
	subDone := make(chan error, 1)
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	go func() { subDone <- Subscribe(sctx, addr, "demo/", 2, &out, quiet()) }()
	// Wait until the subscriber's filter is at the server.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(statusOf(t, r.MetricsAddr.String()), `"demo/"`) {
		if time.Now().After(deadline) {
			t.Fatal("subscriber never appeared in status")
		}
		time.Sleep(5 * time.Millisecond)
	}
	pctx, pcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer pcancel()
	if err := Publish(pctx, addr, "demo/a", []byte(`{"@data-type":"count","data":42}`), quiet()); err != nil {
		t.Fatal(err)
	}
	if err := Publish(pctx, addr, "demo/b", []byte(`{"@data-type":"string","data":"hi"}`), quiet()); err != nil {
		t.Fatal(err)
	}
	if err := <-subDone; err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %q", out.String())
	}
	var l Line
	if err := json.Unmarshal([]byte(lines[0]), &l); err != nil || l.Topic != "demo/a" || l.Data.Count() != 42 {
		t.Fatalf("line %s: %+v %v", lines[0], l, err)
	}
	if err := Publish(pctx, addr, "demo/a", []byte(`{"@data-type":"nope"}`), quiet()); err == nil {
		t.Fatal("bad value accepted")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func statusOf(t *testing.T, addr string) string {
	b, err := Status(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
