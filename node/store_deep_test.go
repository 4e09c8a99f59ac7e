package node

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/testutil"
	"github.com/weirio/weir/kv"
)

// A pipeline deeper than a peer queue holds: every request is answered —
// applied, or refused at once with an error — and none waits for
// RequestTimeout.
func TestStoreDeepPipeline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, b := peeredPair(t, Options{Name: "a", Logger: testLogger()})
	if _, err := a.AttachMaster("deep", kv.NewMemory(), StoreOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "peering", func() bool { return len(b.Peers()) == 1 && len(a.Peers()) == 1 })
	f, err := b.StoreFrontend("deep")
	if err != nil {
		t.Fatal(err)
	}
	f.opts.RequestTimeout = time.Hour // a lost request would hang the test, not fail late
	const n = 40000
	fs := make([]*Future, n)
	for i := range fs {
		fs[i] = f.Do(frame.OpPut, frame.NewCount(uint64(i)), frame.NewCount(uint64(i)), 0)
	}
	ok, refused := 0, 0
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
			for _, nd := range []*Node{a, b} {
				for _, p := range nd.Peers() {
					t.Logf("%s → peer %v: %+v", nd.opts.Name, p.Name, p.Stats())
				}
				t.Logf("%s: %+v", nd.opts.Name, nd.Stats())
			}
			t.Fatalf("request %d of %d: no answer (%d answered, %d refused)", i, n, ok, refused)
		case errors.As(err, &se) && se.Code == frame.CodeLimit:
			refused++
		default:
			t.Fatalf("request %d: %v", i, err)
		}
	}
	t.Logf("%d applied, %d refused", ok, refused)
	if ok == 0 || refused == 0 || ok+refused != n {
		t.Fatalf("%d applied and %d refused of %d: want both, and every request answered", ok, refused, n)
	}
	if got := b.Stats().StoreLimit; got != uint64(refused) {
		t.Errorf("Stats.StoreLimit = %d, want %d", got, refused)
	}
	// The refusals left the handle usable.
	if err := f.Put(ctx, frame.NewString("after"), frame.NewCount(1), 0); err != nil {
		t.Fatal(err)
	}
}
