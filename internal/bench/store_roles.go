package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime/trace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/kv"
	"github.com/weirio/weir/kv/repl"
	"github.com/weirio/weir/node"
)

// The store scenario's master and clones are nodes of their own: child
// processes of weir-bench (StoreConfig.Exe), or goroutines of this process.
// The parent, which runs the phases and the writer node, drives each over
// its standard input and output, one request line and one reply line at a
// time:
//
//	| to     | request            | reply                                       |
//	|--------|--------------------|---------------------------------------------|
//	| both   | (start)            | READY addr: the master listens on addr;     |
//	|        |                    | a clone ("-") is synced with the master     |
//	| master | PUTS {storePuts}   | OK {opsResult}: puts on the master's handle |
//	| clone  | MEASURE 1 or 0     | OK: record the staleness of marked puts     |
//	| clone  | WATCH              | OK {watchState}: what the clone has seen    |
//	| clone  | HIST               | OK histogram: the staleness recorded        |
//	| clone  | GETS {storeGets}   | OK {opsResult}: gets on the clone's copy    |
//	| both   | KEYS               | OK n: the keys the store holds              |
//	| both   | STATS              | OK {roleStats}                              |
//	| both   | PROFILE cpu FILE   | OK: start a CPU profile into FILE           |
//	| both   | PROFILE trace FILE | OK: start an execution trace into FILE      |
//	| both   | PROFILE stop       | OK: stop both                               |
//	| any    | (a failure)        | ERROR text                                  |
//	| both   | (end of input)     | the node closes and the role exits          |
const (
	storeCmdPuts    = "PUTS"
	storeCmdMeasure = "MEASURE"
	storeCmdWatch   = "WATCH"
	storeCmdHist    = "HIST"
	storeCmdGets    = "GETS"
	storeCmdKeys    = "KEYS"
	storeCmdStats   = "STATS"
	storeCmdProfile = "PROFILE"
	lineOK          = "OK"
)

// Store roles.
const (
	StoreRoleMaster = "master"
	StoreRoleClone  = "clone"
)

// StoreRoleSpec is what a store role needs to start; the parent passes it
// to a child process as JSON (weir-bench store --role-spec).
type StoreRoleSpec struct {
	Role string `json:"role"` // StoreRoleMaster or StoreRoleClone
	ID   int    `json:"id"`   // a clone's index
	// Dir is the master's Pebble directory.
	Dir string `json:"dir,omitempty"`
	// Master is the master's address, for a clone.
	Master      string        `json:"master,omitempty"`
	Sync        bool          `json:"sync,omitempty"`
	ExpireBatch int           `json:"expire_batch,omitempty"`
	Window      int           `json:"window"`
	ValueSize   int           `json:"value_size"`
	Salt        uint64        `json:"salt"` // of the key order (storeKey)
	Stall       time.Duration `json:"stall"`
	// OwnCPU makes STATS report this process's CPU time: set for a child
	// process, not for a role on goroutines of the parent.
	OwnCPU bool `json:"own_cpu,omitempty"`
}

// validate reports a spec a role cannot play (a hand-written --role-spec).
func (s *StoreRoleSpec) validate() error {
	switch {
	case s.Role != StoreRoleMaster && s.Role != StoreRoleClone:
		return fmt.Errorf("store: unknown role %q (want %s or %s)", s.Role, StoreRoleMaster, StoreRoleClone)
	case s.Window < 1 || s.Window > MaxStoreWindow:
		return fmt.Errorf("store: window %d out of range [1, %d]", s.Window, MaxStoreWindow)
	case s.ValueSize < minValue || s.ValueSize > 1<<20:
		return fmt.Errorf("store: value size %d out of range [%d, 1 MiB]", s.ValueSize, minValue)
	case s.Stall <= 0:
		return errors.New("store: stall must be positive")
	case s.Role == StoreRoleMaster && s.Dir == "":
		return errors.New("store: a master needs a directory")
	case s.Role == StoreRoleClone && s.Master == "":
		return errors.New("store: a clone needs the master's address")
	}
	return nil
}

func (s *StoreRoleSpec) name() string {
	if s.Role == StoreRoleClone {
		return fmt.Sprintf("clone-%d", s.ID)
	}
	return s.Role
}

// storePuts asks the master for N puts of keys Base.. on its own handle.
type storePuts struct {
	Base int `json:"base"`
	N    int `json:"n"`
	// Rate paces the puts (per second); 0 issues them as fast as the
	// window allows.
	Rate   float64       `json:"rate,omitempty"`
	Expiry time.Duration `json:"expiry,omitempty"`
	// Stamp marks each value with its issue time (the staleness phase).
	Stamp bool `json:"stamp,omitempty"`
}

// storeGets asks a clone for N gets of random keys among the first Keys.
type storeGets struct {
	N    int    `json:"n"`
	Keys int    `json:"keys"`
	Seed uint64 `json:"seed"`
}

// opsResult is the outcome of a PUTS or GETS.
type opsResult struct {
	// IssueSeconds runs from the first request to the last issued,
	// Seconds to the last answer.
	IssueSeconds float64 `json:"issue_seconds"`
	Seconds      float64 `json:"seconds"`
	Errors       uint64  `json:"errors"`
	FirstError   string  `json:"first_error,omitempty"`
}

// watchState is what a clone has seen, from its store's events. Times
// are wall-clock nanoseconds (clock), comparable across processes.
type watchState struct {
	Live        int64  `json:"live"` // inserts - erases - expiries
	Expired     uint64 `json:"expired"`
	FirstExpire int64  `json:"first_expire"` // 0: none yet
	LastExpire  int64  `json:"last_expire"`
	StaleN      uint64 `json:"stale_n"` // marked puts recorded
}

// roleStats are a role's counters.
type roleStats struct {
	CPUSec        float64 `json:"cpu_sec"` // 0 unless OwnCPU
	DroppedFrames uint64  `json:"dropped_frames"`
	WriteStalls   uint64  `json:"write_stalls"` // the master's Pebble
	WriteStallSec float64 `json:"write_stall_sec"`
}

// storeKey returns the i-th key of a run salted with salt: a count,
// scattered over the key space by a bijection, so keys are distinct and
// arrive in random order.
func storeKey(salt uint64, i int) frame.Value { return frame.NewCount(mix(uint64(i) + salt)) }

// storePayload returns the string payload of every plain put: size bytes,
// the first markPlain.
func storePayload(size int) []byte {
	p := make([]byte, size)
	for i := range p {
		p[i] = 'a' + byte(i%26)
	}
	p[0] = markPlain
	return p
}

// storeRole is one role's state while it serves.
type storeRole struct {
	spec  StoreRoleSpec
	log   *slog.Logger
	n     *node.Node
	s     *node.Store // the master's handle or the clone
	mb    *kv.Pebble  // the master's backend
	watch *cloneWatch // a clone's
	val   frame.Value

	profiling struct{ stopCPU, stopTrace func() } // PROFILE
}

// ServeStoreRole plays a store role: it starts the node, prints READY,
// then answers the parent's requests from in until in ends or ctx is
// done. It is the body of a `weir-bench store --role-spec` child, and of
// a role on goroutines of the parent (--in-process, tests).
func ServeStoreRole(ctx context.Context, spec StoreRoleSpec, in io.Reader, out io.Writer, log *slog.Logger) error {
	w := &lineWriter{w: out}
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if err := spec.validate(); err != nil {
		_ = w.send(lineError, err.Error())
		return err
	}
	r := &storeRole{spec: spec, log: log.With("role", spec.name()), val: frame.NewString(string(storePayload(spec.ValueSize)))}
	defer r.close()
	addr, err := r.start(ctx)
	if err != nil {
		_ = w.send(lineError, err.Error())
		return err
	}
	if err := w.send(lineReady, addr); err != nil {
		return err
	}
	lines := make(chan string, 1)
	go readLines(in, lines)
	for {
		var line string
		var ok bool
		select {
		case line, ok = <-lines:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			return nil
		}
		verb, arg := splitLine(line)
		if verb == "" {
			continue
		}
		reply, err := r.handle(ctx, verb, arg)
		if err != nil {
			err = w.send(lineError, err.Error())
		} else {
			err = w.send(lineOK, reply)
		}
		if err != nil {
			return err
		}
	}
}

func (r *storeRole) start(ctx context.Context) (string, error) {
	role := frame.RoleWorker
	if r.spec.Role == StoreRoleMaster {
		role = frame.RoleManager
	}
	n, err := node.New(node.Options{Name: r.spec.name(), Role: role, Logger: r.log})
	if err != nil {
		return "", fmt.Errorf("store: cannot start node %s: %w", r.spec.name(), err)
	}
	r.n = n
	switch r.spec.Role {
	case StoreRoleMaster:
		return r.startMaster()
	default:
		return "-", r.startClone(ctx)
	}
}

func (r *storeRole) startMaster() (string, error) {
	mode := kv.NoSync
	if r.spec.Sync {
		mode = kv.Sync
	}
	b, err := kv.OpenPebble(kv.PebbleOptions{Dir: r.spec.Dir, Sync: mode})
	if err != nil {
		return "", fmt.Errorf("store: cannot open the master's backend: %w", err)
	}
	r.mb = b
	// Attached before listening, so its subscriptions go out in every
	// handshake.
	if r.s, err = r.n.AttachMaster(storeName, b, node.StoreOptions{ExpireBatch: r.spec.ExpireBatch}); err != nil {
		_ = b.Close()
		return "", fmt.Errorf("store: cannot attach the master: %w", err)
	}
	addr, err := r.n.Listen("127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("store: cannot listen: %w", err)
	}
	return addr.String(), nil
}

// startClone attaches the clone, peers with the master and waits until
// the clone is live with the master's data.
func (r *storeRole) startClone(ctx context.Context) error {
	r.watch = &cloneWatch{clk: newClock(), hist: newHistogram()}
	s, err := r.n.AttachClone(storeName, node.StoreOptions{Store: kv.Options{OnEvent: r.watch.onEvent}})
	if err != nil {
		return fmt.Errorf("store: cannot attach clone %s: %w", r.n.Name(), err)
	}
	r.s = s
	if err := r.n.Peer(r.spec.Master); err != nil {
		return fmt.Errorf("store: %s cannot peer with the master: %w", r.n.Name(), err)
	}
	return waitProgress(ctx, r.spec.Stall, r.n.Name()+" to sync", func() (bool, int64) {
		st := s.CloneStatus()
		return st.HasData && st.State == repl.StateLive, int64(st.State)
	})
}

// close closes the node (and so its store and the master's backend) and
// stops a profile left running.
func (r *storeRole) close() {
	r.stopProfile()
	if r.n != nil {
		if err := r.n.Close(); err != nil {
			r.log.Warn("cannot close node", "err", err)
		}
	}
}

func (r *storeRole) handle(ctx context.Context, verb, arg string) (string, error) {
	master, clone := r.spec.Role == StoreRoleMaster, r.spec.Role == StoreRoleClone
	switch {
	case verb == storeCmdPuts && master:
		var p storePuts
		if err := json.Unmarshal([]byte(arg), &p); err != nil {
			return "", fmt.Errorf("store: bad %s: %w", verb, err)
		}
		return jsonReply(r.puts(ctx, p))
	case verb == storeCmdGets && clone:
		var g storeGets
		if err := json.Unmarshal([]byte(arg), &g); err != nil {
			return "", fmt.Errorf("store: bad %s: %w", verb, err)
		}
		return jsonReply(r.gets(ctx, g))
	case verb == storeCmdMeasure && clone:
		r.watch.measuring.Store(arg == "1")
		return "", nil
	case verb == storeCmdWatch && clone:
		return jsonReply(r.watch.state(), nil)
	case verb == storeCmdHist && clone:
		r.watch.mu.Lock()
		defer r.watch.mu.Unlock()
		return encodeHist(r.watch.hist), nil
	case verb == storeCmdKeys:
		qctx, cancel := context.WithTimeout(ctx, r.spec.Stall)
		defer cancel()
		keys, err := r.s.Keys(qctx)
		if err != nil {
			return "", fmt.Errorf("store: %s cannot count its keys: %w", r.n.Name(), err)
		}
		return strconv.Itoa(keys.Len()), nil
	case verb == storeCmdStats:
		var st roleStats
		if r.spec.OwnCPU {
			st.CPUSec = selfCPU().Seconds()
		}
		for _, p := range r.n.Peers() {
			st.DroppedFrames += p.Stats().Dropped
		}
		if r.mb != nil {
			n, d := r.mb.WriteStalls()
			st.WriteStalls, st.WriteStallSec = n, d.Seconds()
		}
		return jsonReply(st, nil)
	case verb == storeCmdProfile:
		return "", r.profile(arg)
	}
	return "", fmt.Errorf("store: %s cannot do %q", r.spec.name(), verb)
}

func jsonReply(v any, err error) (string, error) {
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// puts runs a PUTS on the master's handle, pipelined.
func (r *storeRole) puts(ctx context.Context, p storePuts) (opsResult, error) {
	var res opsResult
	count := func(err error) {
		if err != nil {
			if res.Errors++; res.FirstError == "" {
				res.FirstError = err.Error()
			}
		}
	}
	buf := storePayload(r.spec.ValueSize)
	buf[0] = markStale
	clk := newClock()
	var pace sleeper
	defer pace.stop()
	t := time.Now()
	var last time.Time
	err := newPipe(storeCmdPuts, r.spec.Window, r.spec.Stall).run(ctx, p.N, nil, func(i int) *node.Future {
		if p.Rate > 0 {
			// Op i is due at t + i/Rate; ahead of time, sleep (in
			// bursts: timers are coarser than 10 µs).
			due := t.Add(time.Duration(float64(i) / p.Rate * 1e9))
			if d := time.Until(due); d > 0 {
				pace.sleep(ctx, d)
			}
		}
		v := r.val
		if p.Stamp {
			binary.LittleEndian.PutUint64(buf[1:], uint64(clk.nowNs()))
			v = frame.NewString(string(buf))
		}
		last = time.Now()
		return r.s.Do(frame.OpPut, storeKey(r.spec.Salt, p.Base+i), v, p.Expiry)
	}, func(_ int, _ frame.Value, err error) { count(err) })
	if err != nil {
		return res, err
	}
	res.IssueSeconds, res.Seconds = last.Sub(t).Seconds(), time.Since(t).Seconds()
	return res, nil
}

// gets runs a GETS on the clone: each key must be there, a string.
func (r *storeRole) gets(ctx context.Context, g storeGets) (opsResult, error) {
	var res opsResult
	rng := rand.New(rand.NewPCG(g.Seed, 1))
	t := time.Now()
	for i := range g.N {
		if i&1023 == 0 && ctx.Err() != nil {
			return res, fmt.Errorf("store: gets: %w", ctx.Err())
		}
		k := storeKey(r.spec.Salt, rng.IntN(g.Keys))
		v, ok, err := r.s.Get(ctx, k)
		if err == nil && (!ok || v.Type() != frame.TypeString) {
			err = fmt.Errorf("store: get %v on clone %d: found %v, %v", k, r.spec.ID, ok, v)
		}
		if err != nil {
			if res.Errors++; res.FirstError == "" {
				res.FirstError = err.Error()
			}
		}
	}
	res.Seconds = time.Since(t).Seconds()
	res.IssueSeconds = res.Seconds
	return res, nil
}

// profile starts or stops a CPU profile or an execution trace.
func (r *storeRole) profile(arg string) error {
	kind, file, _ := strings.Cut(arg, " ")
	switch {
	case kind == "stop":
		r.stopProfile()
		return nil
	case file == "":
	case kind == "cpu" && r.profiling.stopCPU == nil:
		stop, err := startCPUProfile(file)
		r.profiling.stopCPU = stop
		return err
	case kind == "trace" && r.profiling.stopTrace == nil:
		stop, err := startTrace(file)
		r.profiling.stopTrace = stop
		return err
	}
	return fmt.Errorf("store: bad %s %q (want cpu FILE or trace FILE, not running yet, or stop)", storeCmdProfile, arg)
}

func (r *storeRole) stopProfile() {
	for _, stop := range []*func(){&r.profiling.stopCPU, &r.profiling.stopTrace} {
		if *stop != nil {
			(*stop)()
			*stop = nil
		}
	}
}

// startTrace starts an execution trace into path, as startCPUProfile
// starts a CPU profile.
func startTrace(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cannot create trace: %w", err)
	}
	if err := trace.Start(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cannot start trace: %w", err)
	}
	return func() {
		trace.Stop()
		_ = f.Close()
	}, nil
}

// cloneWatch follows one clone's store through its events (OnEvent runs
// on the clone's goroutine): keys held, expiries, and the staleness of
// the marked puts.
type cloneWatch struct {
	clk         clock
	live        atomic.Int64 // inserts - erases - expiries
	expired     atomic.Uint64
	firstExpire atomic.Int64 // clock ns; 0: none yet
	lastExpire  atomic.Int64
	measuring   atomic.Bool
	staleN      atomic.Uint64
	mu          sync.Mutex // guards hist against HIST
	hist        *hdrhistogram.Histogram
}

func (w *cloneWatch) onEvent(ev kv.Event) {
	switch ev.Kind {
	case kv.EventInsert:
		w.live.Add(1)
		if w.measuring.Load() {
			w.stale(ev.Value)
		}
	case kv.EventErase:
		w.live.Add(-1)
	case kv.EventExpire:
		w.live.Add(-1)
		now := w.clk.nowNs()
		w.firstExpire.CompareAndSwap(0, now)
		w.lastExpire.Store(now)
		w.expired.Add(1)
	}
}

func (w *cloneWatch) state() watchState {
	return watchState{Live: w.live.Load(), Expired: w.expired.Load(), FirstExpire: w.firstExpire.Load(),
		LastExpire: w.lastExpire.Load(), StaleN: w.staleN.Load()}
}

// stale records the age of a marked value that just became visible: its
// stamp is the master's clock, this is the clone's, both wall-clock
// nanoseconds of one machine.
func (w *cloneWatch) stale(enc []byte) {
	v, _, err := frame.DecodeValue(enc, nil)
	if err != nil {
		return
	}
	p := v.Bytes()
	if len(p) < minValue || p[0] != markStale {
		return
	}
	age := w.clk.nowNs() - int64(binary.LittleEndian.Uint64(p[1:]))
	w.mu.Lock()
	_ = w.hist.RecordValue(max(age, histMin))
	w.mu.Unlock()
	w.staleN.Add(1)
}

// storeProc is a store role seen from the parent: a child process or
// goroutines of this process, behind the same line protocol.
type storeProc struct {
	name   string
	mu     sync.Mutex // one request at a time
	in     io.WriteCloser
	lines  chan string
	finish func() (cpu time.Duration, err error) // after the input is closed
	kill   func()
	closed bool
}

// roleExitWait bounds how long a role may take to close its node and exit
// once its input ends; then a child process is killed.
const roleExitWait = 30 * time.Second

// errRoleGone is returned by a request to a role whose output ended.
var errRoleGone = errors.New("the role exited")

// call sends one request and returns the argument of its OK reply.
func (p *storeProc) call(ctx context.Context, verb, arg string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := verb
	if arg != "" {
		line += " " + arg
	}
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		return "", fmt.Errorf("store: %s: %s: %w", p.name, verb, err)
	}
	return p.reply(ctx, verb)
}

// reply reads the next line: OK's argument, or ERROR's text as an error.
func (p *storeProc) reply(ctx context.Context, what string) (string, error) {
	select {
	case line, ok := <-p.lines:
		if !ok {
			return "", fmt.Errorf("store: %s: %s: %w", p.name, what, errRoleGone)
		}
		verb, arg := splitLine(line)
		switch verb {
		case lineOK, lineReady:
			return arg, nil
		case lineError:
			return "", fmt.Errorf("store: %s: %s", p.name, arg)
		}
		return "", fmt.Errorf("store: %s: %s: unexpected reply %q", p.name, what, line)
	case <-ctx.Done():
		p.kill()
		return "", fmt.Errorf("store: %s: %s: %w", p.name, what, ctx.Err())
	}
}

// callJSON sends a request with v as its JSON argument and decodes the
// reply into out (if not nil).
func (p *storeProc) callJSON(ctx context.Context, verb string, v, out any) error {
	arg := ""
	if v != nil {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		arg = string(b)
	}
	reply, err := p.call(ctx, verb, arg)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal([]byte(reply), out); err != nil {
		return fmt.Errorf("store: %s: %s: bad reply: %w", p.name, verb, err)
	}
	return nil
}

// close ends the role's input, which makes it close its node and exit
// (within roleExitWait, or a child process is killed), and returns its CPU
// time (a child process's) and failure.
func (p *storeProc) close() (time.Duration, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, nil
	}
	p.closed = true
	_ = p.in.Close()
	go func() { // drain what is left, so the role's writes do not block
		for range p.lines {
		}
	}()
	return p.finish()
}

// startStoreRole starts spec's role: as a child process of exe, or on
// goroutines of this process when exe is "". It returns once the role
// said READY, with READY's argument.
func startStoreRole(ctx context.Context, exe string, spec StoreRoleSpec, stderr io.Writer, log *slog.Logger) (*storeProc, string, error) {
	p := &storeProc{name: spec.name(), lines: make(chan string, 4)}
	if exe == "" {
		inR, inW := io.Pipe()
		outR, outW := io.Pipe()
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan error, 1)
		go func() {
			err := ServeStoreRole(rctx, spec, inR, outW, log)
			_ = inR.Close()
			_ = outW.Close()
			done <- err
		}()
		go readLines(outR, p.lines)
		p.in, p.kill = inW, cancel
		p.finish = func() (time.Duration, error) {
			defer cancel()
			select {
			case err := <-done:
				return 0, err
			case <-time.After(roleExitWait):
			}
			cancel() // a role stuck closing its node: its context ends it
			select {
			case err := <-done:
				return 0, err
			case <-time.After(roleExitWait):
				return 0, fmt.Errorf("store: %s did not exit within %v of its input's end", spec.name(), 2*roleExitWait)
			}
		}
	} else {
		spec.OwnCPU = true
		b, err := json.Marshal(spec)
		if err != nil {
			return nil, "", err
		}
		cmd := exec.Command(exe, "store", "--role-spec", string(b))
		setParentDeath(cmd)
		if stderr != nil {
			cmd.Stderr = &prefixWriter{w: stderr, prefix: []byte("[" + spec.name() + "] ")}
		}
		in, err := cmd.StdinPipe()
		if err != nil {
			return nil, "", err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, "", err
		}
		if err := cmd.Start(); err != nil {
			return nil, "", fmt.Errorf("store: cannot start %s: %w", spec.name(), err)
		}
		go readLines(bufio.NewReaderSize(out, 64<<10), p.lines)
		p.in = in
		p.kill = func() { _ = cmd.Process.Kill() }
		p.finish = func() (time.Duration, error) {
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			var err error
			select {
			case err = <-exited:
			case <-time.After(roleExitWait):
				_ = cmd.Process.Kill() // stuck closing its node
				err = <-exited
			}
			var cpu time.Duration
			if ps := cmd.ProcessState; ps != nil {
				cpu = ps.UserTime() + ps.SystemTime()
			}
			if err != nil {
				err = fmt.Errorf("store: %s exited: %w", spec.name(), err)
			}
			return cpu, err
		}
	}
	addr, err := p.reply(ctx, "start")
	if err != nil {
		p.kill()
		_, _ = p.close()
		return nil, "", err
	}
	return p, addr, nil
}
