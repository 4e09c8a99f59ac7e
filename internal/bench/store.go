package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/kv"
	"github.com/weirio/weir/node"
)

// Defaults of StoreConfig.
const (
	DefaultStoreClones      = 2
	DefaultStoreOps         = 200_000
	DefaultStoreWindow      = 1024
	MaxStoreWindow          = node.DefaultStoreMaxPending // what a store handle keeps unanswered
	MaxStoreWriters         = 16
	DefaultStoreValueSize   = 64
	DefaultStoreRate        = 100_000
	DefaultStoreStaleOps    = 100_000
	DefaultStoreExpireAfter = 3 * time.Second
	DefaultStoreInterval    = 100 * time.Millisecond
	DefaultStoreBefore      = time.Second
	DefaultStoreStall       = 30 * time.Second
	DefaultStoreTimeout     = 10 * time.Minute
)

// Phases of the store scenario, as passed to StoreConfig.OnPhase.
const (
	PhaseLocal     = "local"
	PhasePuts      = "puts"
	PhasePutUnique = "put_unique"
	PhaseGets      = "gets"
	PhaseStaleness = "staleness"
	PhaseExpiry    = "expiry"
)

// storeName is the store the scenario replicates.
const storeName = "bench"

// Value payload markers: the first byte of every value's string payload.
// A staleness value carries its issue time in the next 8 bytes.
const (
	markPlain = 'v'
	markStale = 's'
	minValue  = 9 // a marker and a little-endian int64
)

// StoreConfig configures the store scenario (RunStore). Zero fields take
// the defaults in their comments.
type StoreConfig struct {
	// Clones is the number of clone nodes. Default 2.
	Clones int
	// Writers is the number of writer nodes (in this process, each with
	// its own connection to the master) that share the puts and
	// put_unique phases, each with Window requests in flight. Default 1;
	// at most MaxStoreWriters.
	Writers int
	// Ops is the number of operations of each of the local baseline, puts,
	// put_unique and gets phases. Default 200,000.
	Ops int
	// Window bounds the pipelined requests in flight (at most
	// node.DefaultStoreMaxPending, what a store handle keeps unanswered).
	// Default 1024.
	Window int
	// ValueSize is the length of every value's string payload in bytes, at
	// least 9. Default 64.
	ValueSize int
	// Sync puts the master's Pebble backend in kv.Sync mode (one fsync per
	// write); default kv.NoSync. The local baseline is always NoSync: it is
	// the fixed reference of what Pebble does without the network or
	// durability.
	Sync bool
	// Dir is where the run's directory is made. Default os.TempDir().
	Dir string
	// Keep keeps the run's directory (StoreResult.Dir) instead of removing it.
	Keep bool
	// Rate is the put rate of the staleness phase, per second. Default
	// 100,000.
	Rate float64
	// StaleOps is the number of puts of the staleness phase. Default
	// min(100,000, Ops).
	StaleOps int
	// ExpireKeys keys are put with expiry ExpireAfter for the expiry wave.
	// Defaults Ops and 3 s.
	ExpireKeys  int
	ExpireAfter time.Duration
	// ExpireBatch is the master's node.StoreOptions.ExpireBatch, the most
	// keys it expires in one slice. Default 0: the node's default.
	ExpireBatch int
	// Interval is the sampling interval of the put rate around the expiry
	// wave. Default 100 ms.
	Interval time.Duration
	// Before is how long the put rate is sampled before the expiring keys
	// are put. Default 1 s.
	Before time.Duration
	// Stall bounds every wait that makes no progress: an answer to a
	// request, peering, a clone's sync or catch-up, the expiry wave.
	// Default 30 s.
	Stall time.Duration
	// Timeout bounds the whole run. Default 10 min.
	Timeout time.Duration
	// Seed seeds the key order and the random reads. Default 1.
	Seed uint64
	// Log receives the nodes' logs. Default: warnings to stderr.
	Log *slog.Logger
	// OnPhase, if set, is called on the run's goroutine as each phase
	// starts and ends (cmd/bench profiles one phase with it).
	OnPhase func(phase string, start bool)

	// Exe is the program started for the master and each clone, every
	// one a node in a process of its own (weir-bench itself, which plays
	// a role with `store --role-spec`); "" runs them on goroutines of
	// this process instead, sharing its Go runtime.
	Exe string
	// Stderr receives the children's standard error, each line prefixed
	// with the role's name. Default: os.Stderr.
	Stderr io.Writer
	// ChildCPUProfile and ChildTrace, when set, make every child write a
	// CPU profile or an execution trace of ChildProfilePhase ("": of its
	// whole run) to <file>-<role>, e.g. cpu.pprof-master (with Exe only;
	// without it, this process's profile covers every node).
	ChildCPUProfile, ChildTrace, ChildProfilePhase string
}

// EnsureDefaults fills in zero fields with their defaults.
func (c *StoreConfig) EnsureDefaults() {
	if c.Clones == 0 {
		c.Clones = DefaultStoreClones
	}
	if c.Writers == 0 {
		c.Writers = 1
	}
	if c.Ops == 0 {
		c.Ops = DefaultStoreOps
	}
	if c.Window == 0 {
		c.Window = DefaultStoreWindow
	}
	if c.ValueSize == 0 {
		c.ValueSize = DefaultStoreValueSize
	}
	if c.Rate == 0 {
		c.Rate = DefaultStoreRate
	}
	if c.StaleOps == 0 {
		c.StaleOps = min(DefaultStoreStaleOps, c.Ops)
	}
	if c.ExpireKeys == 0 {
		c.ExpireKeys = c.Ops
	}
	if c.ExpireAfter == 0 {
		c.ExpireAfter = DefaultStoreExpireAfter
	}
	if c.Interval == 0 {
		c.Interval = DefaultStoreInterval
	}
	if c.Before == 0 {
		c.Before = DefaultStoreBefore
	}
	if c.Stall == 0 {
		c.Stall = DefaultStoreStall
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultStoreTimeout
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
}

// Validate reports a setting out of range.
func (c *StoreConfig) Validate() error {
	switch {
	case c.Clones < 1:
		return fmt.Errorf("store: clones %d < 1", c.Clones)
	case c.Writers < 1 || c.Writers > MaxStoreWriters:
		return fmt.Errorf("store: writers %d out of range [1, %d]", c.Writers, MaxStoreWriters)
	case c.Ops < 1 || c.StaleOps < 1 || c.ExpireKeys < 1:
		return errors.New("store: ops, stale-ops and expire-keys must be positive")
	case c.Window < 1 || c.Window > MaxStoreWindow:
		return fmt.Errorf("store: window %d out of range [1, %d] (node.StoreOptions.MaxPending)", c.Window, MaxStoreWindow)
	case c.ValueSize < minValue || c.ValueSize > 1<<20:
		return fmt.Errorf("store: value size %d out of range [%d, 1 MiB]", c.ValueSize, minValue)
	case !(c.Rate > 0) || math.IsInf(c.Rate, 0):
		return fmt.Errorf("store: rate %v must be positive", c.Rate)
	case c.ExpireBatch < 0:
		return fmt.Errorf("store: expire batch %d < 0", c.ExpireBatch)
	case c.ExpireAfter < 0 || c.Interval <= 0 || c.Before < 0 || c.Stall <= 0 || c.Timeout <= 0:
		return errors.New("store: durations must be positive")
	case (c.ChildCPUProfile != "" || c.ChildTrace != "") && c.Exe == "":
		return errors.New("store: child profiles need child processes (Exe)")
	}
	switch c.ChildProfilePhase {
	case "", PhaseLocal, PhasePuts, PhasePutUnique, PhaseGets, PhaseStaleness, PhaseExpiry:
	default:
		return fmt.Errorf("store: unknown phase %q", c.ChildProfilePhase)
	}
	return nil
}

// StoreResult is the store scenario's outcome. Rates are per second; the
// staleness figures are in microseconds.
type StoreResult struct {
	Ops       int    `json:"ops"`
	Clones    int    `json:"clones"`
	Writers   int    `json:"writers"`
	Window    int    `json:"window"`
	KeySize   int    `json:"key_size"`
	ValueSize int    `json:"value_size"`
	Sync      bool   `json:"sync"`
	Dir       string `json:"dir,omitempty"` // kept directory

	LocalPebblePutsPerSec float64 `json:"local_pebble_puts_per_sec"`
	PutsPerSec            float64 `json:"puts_per_sec"`
	PutsVsLocal           float64 `json:"puts_vs_local"`
	PutUniquePerSec       float64 `json:"put_unique_per_sec"`
	GetsPerSec            float64 `json:"gets_per_sec"`

	StaleOps         int     `json:"stale_ops"`
	StalenessRate    float64 `json:"staleness_rate"`
	StalenessSamples int64   `json:"staleness_samples"` // over every clone
	StalenessP50     float64 `json:"staleness_p50_us"`
	StalenessP99     float64 `json:"staleness_p99_us"`
	StalenessMax     float64 `json:"staleness_max_us"`

	ExpiryKeys                  int     `json:"expiry_keys"`
	ExpireAfterSec              float64 `json:"expire_after_sec"`
	ExpiryInsertSeconds         float64 `json:"expiry_insert_seconds"` // putting the keys (the writer paused)
	PutsBeforeWavePerSec        float64 `json:"puts_before_wave_per_sec"`
	ExpiryWavePutsPerSec        float64 `json:"expiry_wave_puts_per_sec"`
	ExpiryWaveMinIntervalPerSec float64 `json:"expiry_wave_min_interval_per_sec"`
	// PutsBeforeWaveMinIntervalPerSec is the worst interval before the
	// wave: a stall there is not the wave's doing.
	PutsBeforeWaveMinIntervalPerSec float64 `json:"puts_before_wave_min_interval_per_sec"`
	ExpiryWaveSeconds               float64 `json:"expiry_wave_seconds"`
	ExpiryWaveIntervals             int     `json:"expiry_wave_intervals"`

	ExpectedKeys     int   `json:"expected_keys"`
	MasterKeys       int   `json:"master_keys"`
	CloneKeys        []int `json:"clone_keys"`
	ClonesConsistent bool  `json:"clones_consistent"`

	// Errors counts failed requests, put_unique answers other than
	// inserted, and gets that found nothing; FirstError is the first.
	Errors     uint64 `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
	// DroppedFrames counts frames the nodes' peer queues dropped
	// (drop_oldest backpressure); clones recover them by nack or resync.
	DroppedFrames uint64 `json:"dropped_frames"`
	// MasterWriteStalls counts the times the master's Pebble held writes
	// back (flushes or compactions behind), MasterWriteStallSec how long.
	MasterWriteStalls   uint64  `json:"master_write_stalls"`
	MasterWriteStallSec float64 `json:"master_write_stall_sec"`
	Seconds             float64 `json:"seconds"`
	// CPUSec is the CPU time (user + system) of this process and the
	// children over the whole run.
	CPUSec float64 `json:"cpu_sec"`
	// PhaseCPUSec is the CPU time of every node during each phase: on a
	// shared machine, CPU per operation is steadier than rates.
	PhaseCPUSec map[string]float64 `json:"phase_cpu_sec"`
	// Processes tells whether the master and the clones ran as processes
	// of their own (StoreConfig.Exe) rather than in this one.
	Processes bool `json:"processes"`
}

// Clean reports whether every request succeeded, the master holds the
// keys it should and every clone holds as many.
func (r *StoreResult) Clean() bool {
	return r.Errors == 0 && r.ClonesConsistent && r.MasterKeys == r.ExpectedKeys
}

// storeRun is one run's state. Its methods run on the caller's goroutine
// unless they say otherwise.
type storeRun struct {
	c      StoreConfig
	res    *StoreResult
	root   string
	clk    clock // the expiry intervals' clock, the children's too
	salt   uint64
	val    frame.Value // the payload of every plain put
	spec   StoreRoleSpec
	wns    []*node.Node  // the writers' nodes
	ws     []*node.Store // their frontends; ws[0] also writes in the staleness and expiry phases
	m      *storeProc    // the master
	procs  []*storeProc  // the master, then the clones
	clones []*storeProc
	cpu    time.Duration // the roles' CPU time after they exited

	errs     atomic.Uint64
	firstErr struct {
		sync.Mutex
		err error
	}
}

// RunStore runs the store scenario: a master node (Pebble backend), a
// writer node with a frontend in this process and c.Clones clone nodes,
// peered with the master over loopback TCP. The master and the clones run
// in child processes of c.Exe, or in this process. See cmd/bench's doc
// for the phases.
func RunStore(ctx context.Context, c StoreConfig) (*StoreResult, error) {
	c.EnsureDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	cpu0, t0 := selfCPU(), time.Now()
	root, err := os.MkdirTemp(c.Dir, "weir-bench-store-")
	if err != nil {
		return nil, fmt.Errorf("store: cannot make the run's directory: %w", err)
	}
	res := &StoreResult{Ops: c.Ops, Clones: c.Clones, Writers: c.Writers, Window: c.Window, ValueSize: c.ValueSize, Sync: c.Sync,
		StaleOps: c.StaleOps, ExpiryKeys: c.ExpireKeys, ExpireAfterSec: c.ExpireAfter.Seconds()}
	if c.Keep {
		res.Dir = root
	} else {
		defer os.RemoveAll(root)
	}
	r := &storeRun{c: c, res: res, root: root, clk: newClock(), salt: rand.New(rand.NewPCG(c.Seed, 0)).Uint64(),
		val: frame.NewString(string(storePayload(c.ValueSize)))}
	r.spec = StoreRoleSpec{Sync: c.Sync, ExpireBatch: c.ExpireBatch, Window: c.Window, ValueSize: c.ValueSize,
		Salt: r.salt, Stall: c.Stall}
	res.KeySize = len(frame.AppendValue(nil, r.key(0)))
	res.Processes = c.Exe != ""
	err = r.run(ctx)
	if cerr := r.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	res.Errors = r.errs.Load()
	if e := r.firstError(); e != nil {
		res.FirstError = e.Error()
	}
	res.Seconds = time.Since(t0).Seconds()
	res.CPUSec = (selfCPU() - cpu0 + r.cpu).Seconds()
	return res, nil
}

func (r *storeRun) run(ctx context.Context) error {
	steps := []struct {
		phase string
		fn    func(context.Context) error
	}{
		{PhaseLocal, r.local},
		{"", r.startNodes},
		{PhasePuts, r.puts},
		{PhasePutUnique, r.putUnique},
		{PhaseGets, r.gets},
		{PhaseStaleness, r.staleness},
		{PhaseExpiry, r.expiry},
		{"", r.consistency},
	}
	r.res.PhaseCPUSec = map[string]float64{}
	for _, s := range steps {
		if s.phase != "" {
			if err := r.onPhase(ctx, s.phase, true); err != nil {
				return err
			}
		}
		cpu, err := r.allCPU(ctx)
		if err != nil {
			return err
		}
		err = s.fn(ctx)
		if s.phase != "" && err == nil {
			var cpu2 time.Duration
			if cpu2, err = r.allCPU(ctx); err == nil {
				r.res.PhaseCPUSec[s.phase] = (cpu2 - cpu).Seconds()
				err = r.onPhase(ctx, s.phase, false)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// onPhase tells OnPhase and, when they profile that phase, the children
// that phase starts or ends.
func (r *storeRun) onPhase(ctx context.Context, phase string, start bool) error {
	if r.c.OnPhase != nil {
		r.c.OnPhase(phase, start)
	}
	if r.c.ChildProfilePhase != phase {
		return nil
	}
	if start {
		return r.startProfiles(ctx)
	}
	return r.stopProfiles(ctx)
}

// startProfiles starts the children's profiles (StoreConfig.ChildCPUProfile
// and ChildTrace) of the roles running.
func (r *storeRun) startProfiles(ctx context.Context) error {
	for _, p := range r.procs {
		for kind, file := range map[string]string{"cpu": r.c.ChildCPUProfile, "trace": r.c.ChildTrace} {
			if file == "" {
				continue
			}
			if _, err := p.call(ctx, storeCmdProfile, kind+" "+file+"-"+p.name); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *storeRun) stopProfiles(ctx context.Context) error {
	if r.c.ChildCPUProfile == "" && r.c.ChildTrace == "" {
		return nil
	}
	for _, p := range r.procs {
		if _, err := p.call(ctx, storeCmdProfile, "stop"); err != nil {
			return err
		}
	}
	return nil
}

// allCPU returns the CPU time of this process and the child processes
// running.
func (r *storeRun) allCPU(ctx context.Context) (time.Duration, error) {
	cpu := selfCPU()
	for _, p := range r.procs {
		st, err := p.stats(ctx)
		if err != nil {
			return 0, err
		}
		cpu += time.Duration(st.CPUSec * 1e9)
	}
	return cpu, nil
}

// key returns the i-th key (storeKey).
func (r *storeRun) key(i int) frame.Value { return storeKey(r.salt, i) }

// mix is splitmix64's finalizer, a bijection on uint64.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// Key ranges of the phases (indexes into key).
func (r *storeRun) uniqueBase() int { return r.c.Ops }
func (r *storeRun) staleBase() int  { return 2 * r.c.Ops }
func (r *storeRun) expireBase() int { return 2*r.c.Ops + r.c.StaleOps }

// expectedKeys is the master's key count after the run: the puts', the
// put_uniques' and the staleness phase's keys (the expiry phase's keys
// have expired and its writer only overwrites).
func (r *storeRun) expectedKeys() int { return 2*r.c.Ops + r.c.StaleOps }

// countErr counts a failed request (any goroutine).
func (r *storeRun) countErr(err error) {
	if err == nil {
		return
	}
	r.errs.Add(1)
	r.firstErr.Lock()
	if r.firstErr.err == nil {
		r.firstErr.err = err
	}
	r.firstErr.Unlock()
}

func (r *storeRun) firstError() error {
	r.firstErr.Lock()
	defer r.firstErr.Unlock()
	return r.firstErr.err
}

// local is the baseline: Ops puts of the same keys and values straight
// into a Pebble backend (NoSync) of its own, on this goroutine.
func (r *storeRun) local(ctx context.Context) error {
	dir := filepath.Join(r.root, "local")
	p, err := kv.OpenPebble(kv.PebbleOptions{Dir: dir, Sync: kv.NoSync})
	if err != nil {
		return fmt.Errorf("store: local baseline: %w", err)
	}
	vb := frame.AppendValue(nil, r.val)
	var kb []byte
	t := time.Now()
	for i := range r.c.Ops {
		if i&4095 == 0 && ctx.Err() != nil {
			_ = p.Close()
			return fmt.Errorf("store: local baseline: %w", ctx.Err())
		}
		kb = frame.AppendValue(kb[:0], r.key(i))
		if err := p.Put(kb, vb, 0); err != nil {
			_ = p.Close()
			return fmt.Errorf("store: local baseline: %w", err)
		}
	}
	r.res.LocalPebblePutsPerSec = float64(r.c.Ops) / time.Since(t).Seconds()
	if err := p.Close(); err != nil {
		return fmt.Errorf("store: local baseline: %w", err)
	}
	if !r.c.Keep {
		return os.RemoveAll(dir)
	}
	return nil
}

// startNodes starts the master (listening on loopback), the writer and
// the clones, peers them with the master and waits until the writer's
// requests are answered and every clone is live.
func (r *storeRun) startNodes(ctx context.Context) error {
	spec := r.spec
	spec.Role, spec.Dir = StoreRoleMaster, filepath.Join(r.root, "master")
	m, addr, err := startStoreRole(ctx, r.c.Exe, spec, r.c.Stderr, r.c.Log)
	if err != nil {
		return err
	}
	r.m, r.procs = m, append(r.procs, m)
	for i := range r.c.Writers {
		name := "writer"
		if i > 0 {
			name = fmt.Sprintf("writer-%d", i)
		}
		wn, err := node.New(node.Options{Name: name, Role: frame.RoleWorker, Logger: r.c.Log})
		if err != nil {
			return fmt.Errorf("store: cannot start node %s: %w", name, err)
		}
		r.wns = append(r.wns, wn)
		if err := wn.Peer(addr); err != nil {
			return fmt.Errorf("store: %s cannot peer with the master: %w", name, err)
		}
	}
	// The clones start side by side; each says READY once live.
	clones := make([]*storeProc, r.c.Clones)
	errs := make([]error, r.c.Clones)
	var wg sync.WaitGroup
	for i := range clones {
		spec := r.spec
		spec.Role, spec.ID, spec.Master = StoreRoleClone, i, addr
		wg.Go(func() { clones[i], _, errs[i] = startStoreRole(ctx, r.c.Exe, spec, r.c.Stderr, r.c.Log) })
	}
	wg.Wait()
	for i, p := range clones {
		if p != nil {
			r.clones, r.procs = append(r.clones, p), append(r.procs, p)
		} else if err == nil {
			err = errs[i]
		}
	}
	if err != nil {
		return err
	}
	if r.c.ChildProfilePhase == "" {
		if err := r.startProfiles(ctx); err != nil {
			return err
		}
	}
	err = waitProgress(ctx, r.c.Stall, "the writers to peer with the master", func() (bool, int64) {
		up := 0
		for _, wn := range r.wns {
			up += min(1, len(wn.Peers()))
		}
		return up == len(r.wns), int64(up)
	})
	if err != nil {
		return err
	}
	for _, wn := range r.wns {
		w, err := wn.StoreFrontend(storeName)
		if err != nil {
			return fmt.Errorf("store: cannot attach the frontend of %s: %w", wn.Name(), err)
		}
		r.ws = append(r.ws, w)
		if err := r.probeWriter(ctx, w); err != nil {
			return err
		}
	}
	return nil
}

// probeWriter sends requests from the writer until one is answered: an
// answer proves the master's request subscription reached the writer and
// the writer's answer subscription reached the master.
func (r *storeRun) probeWriter(ctx context.Context, w *node.Store) error {
	deadline := time.Now().Add(r.c.Stall)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		f := w.Do(frame.OpExists, r.key(-1), frame.None, 0)
		t.Reset(100 * time.Millisecond)
		select {
		case <-f.Done():
			_, err := f.Wait(context.Background())
			if err == nil {
				return nil
			}
			if !errors.Is(err, node.ErrNoMaster) && !errors.Is(err, node.ErrRequestLost) {
				return fmt.Errorf("store: the writer's probe failed: %w", err)
			}
			// The master's subscription has not reached the writer yet,
			// or an earlier probe's answer had nowhere to go: try again.
			select {
			case <-t.C:
			case <-ctx.Done():
				return fmt.Errorf("store: waiting for the master to answer the writer: %w", ctx.Err())
			}
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("store: waiting for the master to answer the writer: %w", ctx.Err())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("store: the master did not answer the writer within %v", r.c.Stall)
		}
	}
}

// consistency compares the master's key count with what the run put and
// every clone's count with the master's (after waiting for the clones to
// catch up).
func (r *storeRun) consistency(ctx context.Context) error {
	r.res.ExpectedKeys = r.expectedKeys()
	n, err := r.m.keys(ctx)
	if err != nil {
		return err
	}
	r.res.MasterKeys = n
	r.res.ClonesConsistent = true
	for i, p := range r.clones {
		// Catching up; the count that follows is the verdict either way.
		_ = r.waitHolds(ctx, i, r.res.MasterKeys, "")
		n, err := p.keys(ctx)
		if err != nil {
			return err
		}
		r.res.CloneKeys = append(r.res.CloneKeys, n)
		if n != r.res.MasterKeys {
			r.res.ClonesConsistent = false
		}
	}
	for _, wn := range r.wns {
		for _, p := range wn.Peers() {
			r.res.DroppedFrames += p.Stats().Dropped
		}
	}
	for _, p := range r.procs {
		st, err := p.stats(ctx)
		if err != nil {
			return err
		}
		r.res.DroppedFrames += st.DroppedFrames
		if p == r.m {
			r.res.MasterWriteStalls, r.res.MasterWriteStallSec = st.WriteStalls, st.WriteStallSec
		}
	}
	return ctx.Err()
}

// close closes the writer's node (pending requests fail) and ends every
// role (which closes its node, and the master's backend), and adds up
// the child processes' CPU time.
func (r *storeRun) close() error {
	var first error
	for _, wn := range r.wns {
		if err := wn.Close(); err != nil {
			r.c.Log.Warn("cannot close node", "node", wn.Name(), "err", err)
		}
	}
	r.wns = nil
	for i := len(r.procs) - 1; i >= 0; i-- {
		cpu, err := r.procs[i].close()
		r.cpu += cpu
		if err != nil && first == nil {
			first = err
		}
	}
	r.procs = nil
	return first
}

// keys asks a role for its store's key count.
func (p *storeProc) keys(ctx context.Context) (int, error) {
	s, err := p.call(ctx, storeCmdKeys, "")
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("store: %s: bad key count %q", p.name, s)
	}
	return n, nil
}

// stats asks a role for its counters.
func (p *storeProc) stats(ctx context.Context) (roleStats, error) {
	var st roleStats
	err := p.callJSON(ctx, storeCmdStats, nil, &st)
	return st, err
}

// watch asks a clone what it has seen.
func (p *storeProc) watch(ctx context.Context) (watchState, error) {
	var w watchState
	err := p.callJSON(ctx, storeCmdWatch, nil, &w)
	return w, err
}
