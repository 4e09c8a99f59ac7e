package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ProgressFunc receives the subscribers' distinct deliveries so far and the
// total expected (Msgs × Subs). It is called from Run's goroutine.
type ProgressFunc func(done, total uint64)

// shutdownGrace is how long a child may take to exit after its input
// ends (its node flushes and says bye) before it is killed.
const shutdownGrace = 10 * time.Second

// Run runs one benchmark: it starts the roles with l, waits until every
// subscriber's filter has reached every publisher (probes), lets the
// publishers go, collects the results and aggregates them. The run is
// bounded by cfg.Timeout and ctx; on any exit every child is stopped, and
// killed if it does not exit in time.
func Run(ctx context.Context, cfg Config, l Launcher, progress ProgressFunc) (Report, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	r := &runner{cfg: cfg, l: l, progress: progress, events: make(chan event, 256)}
	defer r.shutdown()
	rep, err := r.run(ctx)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", err, context.Cause(ctx))
	}
	return rep, err
}

// RunLatency first runs cfg at full speed to find the rate the path
// sustains, then reruns it at half that rate, where latency percentiles
// mean something (at full speed they measure queueing).
func RunLatency(ctx context.Context, cfg Config, l Launcher, progress ProgressFunc) (maxRun, halfRun Report, err error) {
	cfg.Rate = 0
	if maxRun, err = Run(ctx, cfg, l, progress); err != nil {
		return maxRun, halfRun, fmt.Errorf("max-rate run: %w", err)
	}
	if maxRun.Sub.PerSubMsgsPerSec <= 0 {
		return maxRun, halfRun, errors.New("bench: max-rate run delivered nothing")
	}
	cfg.Rate = maxRun.Sub.PerSubMsgsPerSec / 2
	if halfRun, err = Run(ctx, cfg, l, progress); err != nil {
		return maxRun, halfRun, fmt.Errorf("half-rate run: %w", err)
	}
	return maxRun, halfRun, nil
}

type child struct {
	Child
	spec     RoleSpec
	name     string
	ready    bool
	addr     string // READY argument
	linked   map[int]bool
	progress uint64
	result   string // RESULT argument, once reported
	stopped  bool   // STOP sent
}

type event struct {
	c    *child
	line string
	eof  bool
}

type runner struct {
	cfg      Config
	l        Launcher
	progress ProgressFunc
	events   chan event
	phase    string
	all      []*child
	wg       sync.WaitGroup
}

func (r *runner) start(ctx context.Context, spec RoleSpec) (*child, error) {
	spec.Config = r.cfg
	if r.cfg.CPUProfile != "" {
		spec.CPUProfile = fmt.Sprintf("%s-%s%d.pprof", r.cfg.CPUProfile, spec.Role, spec.ID)
	}
	ch, err := r.l.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	c := &child{Child: ch, spec: spec, name: fmt.Sprintf("%s %d", spec.Role, spec.ID), linked: map[int]bool{}}
	r.all = append(r.all, c)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for line := range ch.Lines() {
			r.events <- event{c: c, line: line}
		}
		r.events <- event{c: c, eof: true}
	}()
	return c, nil
}

// step handles the next control line from any child, recording it in
// that child's state; it also returns when tick fires (tick may be nil).
// An ERROR line, a malformed line or a child's output ending is a failed
// run.
func (r *runner) step(ctx context.Context, tick <-chan time.Time) error {
	select {
	case <-tick:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("bench: run stopped %s: %w", r.describe(), ctx.Err())
	case ev := <-r.events:
		c := ev.c
		if ev.eof {
			return fmt.Errorf("bench: %s exited unexpectedly", c.name)
		}
		verb, arg := splitLine(ev.line)
		var err error
		switch verb {
		case lineError:
			return fmt.Errorf("bench: %s failed: %s", c.name, arg)
		case lineReady:
			c.ready, c.addr = true, arg
		case lineLinked:
			var id int
			switch id, err = strconv.Atoi(arg); {
			case err != nil:
			case id < 0 || id >= r.cfg.Subs:
				err = errors.New("subscriber out of range")
			default:
				c.linked[id] = true
			}
		case lineProgress:
			c.progress, err = strconv.ParseUint(arg, 10, 64)
		case lineResult:
			c.result = arg
		default:
			err = errors.New("unknown verb")
		}
		if err != nil {
			return fmt.Errorf("bench: %s sent a bad line %q: %w", c.name, ev.line, err)
		}
		return nil
	}
}

// await handles control lines until done reports true. Lines are recorded
// in the children's state as they come (step), so none is lost to a phase
// that waits for something else.
func (r *runner) await(ctx context.Context, done func() bool) error {
	for !done() {
		if err := r.step(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

// awaitReady waits for a READY line from each of cs and returns their
// addresses in order.
func (r *runner) awaitReady(ctx context.Context, cs []*child) ([]string, error) {
	err := r.await(ctx, func() bool {
		for _, c := range cs {
			if !c.ready {
				return false
			}
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.addr
	}
	return out, nil
}

func (r *runner) run(ctx context.Context) (Report, error) {
	cfg := r.cfg
	const loopback = "127.0.0.1:0"
	var relay *child
	var pubTargets []string
	if cfg.Scenario != Direct {
		var err error
		r.phase = "starting the relay"
		if relay, err = r.start(ctx, RoleSpec{Role: RoleRelay, Listen: loopback}); err != nil {
			return Report{}, err
		}
		addrs, err := r.awaitReady(ctx, []*child{relay})
		if err != nil {
			return Report{}, err
		}
		pubTargets = addrs
	}
	r.phase = "starting subscribers"
	subs := make([]*child, cfg.Subs)
	for i := range subs {
		spec := RoleSpec{Role: RoleSub, ID: i, Listen: loopback}
		if relay != nil {
			spec.Listen, spec.Connect = "", pubTargets
		}
		c, err := r.start(ctx, spec)
		if err != nil {
			return Report{}, err
		}
		subs[i] = c
	}
	subAddrs, err := r.awaitReady(ctx, subs)
	if err != nil {
		return Report{}, err
	}
	if relay == nil {
		pubTargets = subAddrs
	}
	r.phase = "starting publishers"
	pubs := make([]*child, cfg.Pubs)
	for i := range pubs {
		if pubs[i], err = r.start(ctx, RoleSpec{Role: RolePub, ID: i, Connect: pubTargets}); err != nil {
			return Report{}, err
		}
	}
	if _, err := r.awaitReady(ctx, pubs); err != nil {
		return Report{}, err
	}
	// Every publisher must have an answer to a probe from every
	// subscriber: then data reaches every subscriber and acks come back.
	r.phase = "probing"
	err = r.await(ctx, func() bool {
		for _, p := range pubs {
			if len(p.linked) < len(subs) {
				return false
			}
		}
		return true
	})
	if err != nil {
		return Report{}, err
	}
	for _, p := range pubs {
		if err := p.Send(cmdGo); err != nil {
			return Report{}, fmt.Errorf("bench: cannot start %s: %w", p.name, err)
		}
	}
	r.phase = "publishing"
	if err := r.collect(ctx, pubs, subs); err != nil {
		return Report{}, err
	}
	var relayRes *RelayResult
	if relay != nil {
		r.phase = "collecting the relay's result"
		if err := relay.Send(cmdStop); err != nil {
			return Report{}, fmt.Errorf("bench: cannot stop the relay: %w", err)
		}
		if err := r.await(ctx, func() bool { return relay.result != "" }); err != nil {
			return Report{}, err
		}
		relayRes = new(RelayResult)
		if err := json.Unmarshal([]byte(relay.result), relayRes); err != nil {
			return Report{}, fmt.Errorf("bench: bad relay result: %w", err)
		}
	}
	subRes := make([]SubResult, len(subs))
	for i, c := range subs {
		if err := json.Unmarshal([]byte(c.result), &subRes[i]); err != nil {
			return Report{}, fmt.Errorf("bench: bad result from %s: %w", c.name, err)
		}
	}
	pubRes := make([]PubResult, len(pubs))
	for i, c := range pubs {
		if err := json.Unmarshal([]byte(c.result), &pubRes[i]); err != nil {
			return Report{}, fmt.Errorf("bench: bad result from %s: %w", c.name, err)
		}
	}
	return Aggregate(cfg, subRes, pubRes, relayRes)
}

// collect waits for every publisher's and subscriber's result. Once all
// publishers are done, subscribers that make no progress for cfg.Idle are
// told to report what they have (the rest is lost).
func (r *runner) collect(ctx context.Context, pubs, subs []*child) error {
	total := r.cfg.Msgs * uint64(len(subs))
	var lastSum uint64
	lastChange, pubsDone := time.Now(), false
	tick := time.NewTicker(r.cfg.Progress)
	defer tick.Stop()
	for {
		pending := false
		for _, c := range append(pubs[:len(pubs):len(pubs)], subs...) {
			pending = pending || c.result == ""
		}
		if !pending {
			return nil
		}
		var sum uint64
		for _, c := range subs {
			sum += c.progress
		}
		if sum != lastSum {
			lastSum, lastChange = sum, time.Now()
			if r.progress != nil {
				r.progress(sum, total)
			}
		}
		allSent := true
		for _, c := range pubs {
			allSent = allSent && c.result != ""
		}
		if allSent && !pubsDone {
			pubsDone, lastChange = true, time.Now() // the idle clock starts now at the earliest
		}
		if pubsDone && time.Since(lastChange) > r.cfg.Idle {
			for _, c := range subs {
				if c.result == "" && !c.stopped {
					c.stopped = true
					if err := c.Send(cmdStop); err != nil {
						return fmt.Errorf("bench: cannot stop %s: %w", c.name, err)
					}
				}
			}
		}
		// Wake for the next line or the next idle check, whichever first.
		if err := r.step(ctx, tick.C); err != nil {
			return err
		}
	}
}

// describe says where the run stands, for an error message.
func (r *runner) describe() string {
	var parts []string
	for _, c := range r.all {
		st := "running"
		switch {
		case c.result != "":
			st = "reported"
		case c.spec.Role == RoleSub:
			st = fmt.Sprintf("received %d of %d", c.progress, r.cfg.Msgs)
		}
		parts = append(parts, c.name+": "+st)
	}
	return "while " + r.phase + " (" + strings.Join(parts, "; ") + ")"
}

// shutdown ends every child's input, waits for them to exit, and kills
// those that do not within shutdownGrace.
func (r *runner) shutdown() {
	var wg sync.WaitGroup
	for _, c := range r.all {
		c.CloseInput()
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan struct{})
			go func() {
				_ = c.Wait()
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(shutdownGrace):
				c.Kill()
				<-done
			}
		}()
	}
	// Keep draining lines so the readers can finish.
	go func() {
		for range r.events {
		}
	}()
	wg.Wait()
	r.wg.Wait()
	close(r.events)
}
