package bench

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestStoreScenario runs the store scenario small, with real nodes on
// 127.0.0.1 and two writers, and checks that every phase measured
// something, nothing failed, every staleness put was seen on the clone,
// the stores agree (the writers together put every key), and no
// goroutine outlives the run.
func TestStoreScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real nodes")
	}
	defer verifyNoLeaks(t)()
	c := StoreConfig{
		Clones: 1, Writers: 2, Ops: 2001, StaleOps: 2000, ExpireKeys: 2000, ExpireAfter: 300 * time.Millisecond, Rate: 20_000,
		Before: 300 * time.Millisecond, Dir: t.TempDir(), Timeout: 2 * time.Minute,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	var phases []string
	c.OnPhase = func(p string, start bool) {
		if start {
			phases = append(phases, p)
		}
	}
	r, err := RunStore(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", *r)
	if r.Errors != 0 || !r.ClonesConsistent || !r.Clean() {
		t.Fatalf("not clean: errors %d (%s), master %d of %d keys, clones %v", r.Errors, r.FirstError, r.MasterKeys, r.ExpectedKeys, r.CloneKeys)
	}
	if r.ExpectedKeys != 2*2001+2000 || r.Writers != 2 || len(r.CloneKeys) != 1 || r.CloneKeys[0] != r.MasterKeys {
		t.Fatalf("keys: expected %d, master %d, clones %v", r.ExpectedKeys, r.MasterKeys, r.CloneKeys)
	}
	for name, v := range map[string]float64{
		"local_pebble_puts_per_sec": r.LocalPebblePutsPerSec, "puts_per_sec": r.PutsPerSec, "puts_vs_local": r.PutsVsLocal,
		"put_unique_per_sec": r.PutUniquePerSec, "gets_per_sec": r.GetsPerSec, "staleness_rate": r.StalenessRate,
		"staleness_p50_us": r.StalenessP50, "staleness_p99_us": r.StalenessP99,
		"puts_before_wave_per_sec": r.PutsBeforeWavePerSec, "expiry_wave_puts_per_sec": r.ExpiryWavePutsPerSec,
		"cpu_sec": r.CPUSec,
	} {
		if !(v > 0) {
			t.Errorf("%s = %v, want > 0", name, v)
		}
	}
	if r.StalenessSamples != 2000 || r.StalenessMax < r.StalenessP99 || r.StalenessP99 < r.StalenessP50 {
		t.Errorf("staleness: %d samples (want 2000), p50 %v p99 %v max %v", r.StalenessSamples, r.StalenessP50, r.StalenessP99, r.StalenessMax)
	}
	if r.ExpiryWaveIntervals < 1 || r.ExpiryWaveSeconds < 0 {
		t.Errorf("expiry wave: %d intervals over %vs", r.ExpiryWaveIntervals, r.ExpiryWaveSeconds)
	}
	want := []string{PhaseLocal, PhasePuts, PhasePutUnique, PhaseGets, PhaseStaleness, PhaseExpiry}
	if len(phases) != len(want) {
		t.Fatalf("phases %v, want %v", phases, want)
	}
	for i := range want {
		if phases[i] != want[i] {
			t.Fatalf("phases %v, want %v", phases, want)
		}
	}
}

// A run whose context is cancelled stops with the context's error and
// leaves no goroutine behind.
func TestStoreScenarioCancelled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real nodes")
	}
	defer verifyNoLeaks(t)()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := StoreConfig{
		Clones: 1, Ops: 2000, Dir: t.TempDir(), Timeout: 2 * time.Minute,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		// Cancel as the expiry phase starts: the writer is then putting
		// from its own goroutine.
		OnPhase: func(p string, start bool) {
			if p == PhaseExpiry && start {
				cancel()
			}
		},
	}
	_, err := RunStore(ctx, c)
	if err == nil || ctx.Err() == nil {
		t.Fatalf("RunStore after cancel: %v", err)
	}
}

func TestStoreConfigValidate(t *testing.T) {
	for _, c := range []StoreConfig{
		{Clones: -1}, {Writers: -1}, {Writers: MaxStoreWriters + 1}, {Window: 1 << 17}, {ValueSize: 8}, {Rate: -5}, {Ops: -1}, {Stall: -time.Second},
	} {
		c.EnsureDefaults()
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: valid", c)
		}
	}
	var c StoreConfig
	c.EnsureDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.StaleOps != DefaultStoreStaleOps || c.ExpireKeys != DefaultStoreOps {
		t.Fatalf("defaults: %+v", c)
	}
}

// A store role answers requests it cannot serve with an error and keeps
// serving; a spec it cannot play fails at start, as does a clone whose
// master cannot be reached, within its stall bound rather than hanging.
func TestStoreRoleBadRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real node")
	}
	defer verifyNoLeaks(t)()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	spec := StoreRoleSpec{Role: StoreRoleMaster, Dir: t.TempDir(), Window: 16, ValueSize: 16, Salt: 1, Stall: 10 * time.Second}
	m, addr, err := startStoreRole(ctx, "", spec, nil, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if addr == "" || addr == "-" {
		t.Errorf("master's READY address %q", addr)
	}
	for _, req := range [][2]string{
		{"BOGUS", ""},
		{storeCmdGets, `{"n":1,"keys":1}`}, // a clone's request
		{storeCmdWatch, ""},
		{storeCmdPuts, "{not json"},
		{storeCmdProfile, "heap x"},
	} {
		if _, err := m.call(ctx, req[0], req[1]); err == nil {
			t.Errorf("%s %s: no error", req[0], req[1])
		}
	}
	var res opsResult
	if err := m.callJSON(ctx, storeCmdPuts, storePuts{N: 10}, &res); err != nil || res.Errors != 0 {
		t.Fatalf("puts after bad requests: %v, %+v", err, res)
	}
	if n, err := m.keys(ctx); err != nil || n != 10 {
		t.Errorf("keys: %d, %v; want 10", n, err)
	}
	if _, err := m.close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if _, err := m.call(ctx, storeCmdKeys, ""); err == nil {
		t.Error("a request after close succeeded")
	}

	for _, bad := range []StoreRoleSpec{
		{Role: "bogus", Dir: "d", Window: 16, ValueSize: 16, Stall: time.Second},
		{Role: StoreRoleMaster, Dir: "d", Window: 0, ValueSize: 16, Stall: time.Second},
		{Role: StoreRoleMaster, Dir: "d", Window: 16, ValueSize: 1, Stall: time.Second},
		{Role: StoreRoleMaster, Dir: "d", Window: 16, ValueSize: 16},
		{Role: StoreRoleMaster, Window: 16, ValueSize: 16, Stall: time.Second},
		{Role: StoreRoleClone, Window: 16, ValueSize: 16, Stall: time.Second},
	} {
		if p, _, err := startStoreRole(ctx, "", bad, nil, quiet); err == nil {
			_, _ = p.close()
			t.Errorf("%+v: started", bad)
		}
	}
	spec = StoreRoleSpec{Role: StoreRoleClone, Master: "127.0.0.1:1", Window: 16, ValueSize: 16, Stall: 300 * time.Millisecond}
	if p, _, err := startStoreRole(ctx, "", spec, nil, quiet); err == nil {
		_, _ = p.close()
		t.Fatal("a clone without a master started")
	}
}

// verifyNoLeaks returns a check, to defer, that no goroutine started
// since the call outlives the test (gnet's worker pool keeps two of its
// own).
func verifyNoLeaks(t *testing.T) func() {
	current := goleak.IgnoreCurrent()
	return func() {
		goleak.VerifyNone(t, current,
			goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
			goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"))
	}
}
