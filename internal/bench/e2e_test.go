package bench

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// TestDirectEndToEnd runs the direct scenario with real nodes on
// 127.0.0.1 (roles in-process, over the control protocol) and asserts that
// every message arrived exactly once and in order.
func TestDirectEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real nodes")
	}
	cfg := Config{Scenario: Direct, Size: 64, Msgs: 20_000, Timeout: 60 * time.Second, Idle: 10 * time.Second}
	var last uint64
	progress := func(done, total uint64) {
		if total != 20_000 || done < last || done > total {
			t.Errorf("progress %d of %d after %d", done, total, last)
		}
		last = done
	}
	l := InProcess{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	r, err := Run(context.Background(), cfg, l, progress)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Clean() || r.Sub.Received != 20_000 || r.Pub.Sent != 20_000 || len(r.SubResults) != 1 || len(r.PubResults) != 1 {
		t.Fatalf("not clean: pub %+v sub %+v", r.Pub, r.Sub)
	}
	// At the maximum rate one message in maxRateStampEvery (and the last)
	// carries a send time.
	if r.Sub.MsgsPerSec <= 0 || r.Latency.Count != 20_000/maxRateStampEvery+1 || r.Latency.P50 <= 0 {
		t.Fatalf("no measurements: sub %+v latency %+v", r.Sub, r.Latency)
	}
}
