package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/kv"
	"github.com/weirio/weir/node"
)

// puts: Ops puts of fresh keys from the writer, pipelined.
func (r *storeRun) puts(ctx context.Context) error {
	p := r.newPipe(PhasePuts)
	t := time.Now()
	err := p.run(ctx, r.c.Ops, nil, func(i int) *node.Future {
		return r.w.Do(frame.OpPut, r.key(i), r.val, 0)
	}, func(_ int, _ frame.Value, err error) { r.countErr(err) })
	if err != nil {
		return err
	}
	r.res.PutsPerSec = float64(r.c.Ops) / time.Since(t).Seconds()
	if r.res.LocalPebblePutsPerSec > 0 {
		r.res.PutsVsLocal = r.res.PutsPerSec / r.res.LocalPebblePutsPerSec
	}
	return nil
}

// putUnique: Ops put_uniques of fresh keys from the writer, pipelined;
// every one must insert.
func (r *storeRun) putUnique(ctx context.Context) error {
	p := r.newPipe(PhasePutUnique)
	base := r.uniqueBase()
	t := time.Now()
	err := p.run(ctx, r.c.Ops, nil, func(i int) *node.Future {
		return r.w.Do(frame.OpPutUnique, r.key(base+i), r.val, 0)
	}, func(i int, v frame.Value, err error) {
		if err == nil && (v.Type() != frame.TypeBool || !v.Bool()) {
			err = fmt.Errorf("store: put_unique of fresh key %d answered %v", base+i, v)
		}
		r.countErr(err)
	})
	if err != nil {
		return err
	}
	r.res.PutUniquePerSec = float64(r.c.Ops) / time.Since(t).Seconds()
	return nil
}

// gets: once every clone holds the keys put so far, Ops gets of random
// existing keys on clone 0, answered from its local copy.
func (r *storeRun) gets(ctx context.Context) error {
	if err := r.waitClones(ctx, PhaseGets, 2*r.c.Ops); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(r.c.Seed, 1))
	s := r.clones[0]
	t := time.Now()
	for i := range r.c.Ops {
		if i&1023 == 0 && ctx.Err() != nil {
			return fmt.Errorf("store: gets: %w", ctx.Err())
		}
		k := r.key(rng.IntN(2 * r.c.Ops))
		v, ok, err := s.Get(ctx, k)
		if err == nil && (!ok || v.Type() != frame.TypeString) {
			err = fmt.Errorf("store: get %v on clone 0: found %v, %v", k, ok, v)
		}
		r.countErr(err)
	}
	r.res.GetsPerSec = float64(r.c.Ops) / time.Since(t).Seconds()
	return nil
}

// waitClones waits until every clone holds want keys.
func (r *storeRun) waitClones(ctx context.Context, phase string, want int) error {
	for i := range r.clones {
		if err := r.waitHolds(ctx, i, want, fmt.Sprintf("%s: clone %d to hold %d keys", phase, i, want)); err != nil {
			return err
		}
	}
	return nil
}

// waitHolds waits until clone i holds want keys. Its event count is cheap
// to poll, but a resync replays the master's snapshot as inserts into a
// fresh copy and leaves the count too high; so when the count overshoots
// or stops moving for a second, the clone's keys are counted instead (at
// most once a second).
func (r *storeRun) waitHolds(ctx context.Context, i, want int, what string) error {
	w, s := r.watch[i], r.clones[i]
	lastN, lastAt := int64(-1), time.Now()
	var checkedAt time.Time
	return waitProgress(ctx, r.c.Stall, what, func() (bool, int64) {
		n := w.live.Load()
		if n == int64(want) {
			return true, n
		}
		if n != lastN {
			lastN, lastAt = n, time.Now()
		}
		if (n > int64(want) || time.Since(lastAt) > time.Second) && time.Since(checkedAt) > time.Second {
			checkedAt = time.Now()
			if keys, err := s.Keys(ctx); err == nil && keys.Len() == want {
				return true, n
			}
		}
		return false, n
	})
}

// staleness: StaleOps puts on the master's own handle at Rate, each value
// carrying its issue time; every clone records when the key appears.
func (r *storeRun) staleness(ctx context.Context) error {
	for _, w := range r.watch {
		w.measuring.Store(true)
	}
	defer func() {
		for _, w := range r.watch {
			w.measuring.Store(false)
		}
	}()
	p := r.newPipe(PhaseStaleness)
	base := r.staleBase()
	buf := []byte(r.val.Str())
	buf[0] = markStale
	var pace sleeper
	defer pace.stop()
	t := time.Now()
	var last time.Time
	err := p.run(ctx, r.c.StaleOps, nil, func(i int) *node.Future {
		// Op i is due at t + i/Rate; ahead of time, sleep (in bursts:
		// timers are coarser than 10 µs).
		due := t.Add(time.Duration(float64(i) / r.c.Rate * 1e9))
		if d := time.Until(due); d > 0 {
			pace.sleep(ctx, d)
		}
		binary.LittleEndian.PutUint64(buf[1:], uint64(time.Since(r.start).Nanoseconds()))
		last = time.Now()
		return r.m.Do(frame.OpPut, r.key(base+i), frame.NewString(string(buf)), 0)
	}, func(_ int, _ frame.Value, err error) { r.countErr(err) })
	if err != nil {
		return err
	}
	if el := last.Sub(t); el > 0 {
		r.res.StalenessRate = float64(r.c.StaleOps-1) / el.Seconds()
	}
	for i, w := range r.watch {
		err := waitProgress(ctx, r.c.Stall, fmt.Sprintf("staleness: clone %d to see every put", i), func() (bool, int64) {
			n := w.staleN.Load()
			return n >= uint64(r.c.StaleOps), int64(n)
		})
		if err != nil {
			return err
		}
	}
	h := newHistogram()
	for _, w := range r.watch {
		w.mu.Lock()
		h.Merge(w.hist)
		w.mu.Unlock()
	}
	s := summarize(h)
	r.res.StalenessSamples, r.res.StalenessP50, r.res.StalenessP99, r.res.StalenessMax = s.Count, s.P50, s.P99, s.Max
	return nil
}

// expiry measures the writer's put rate (overwrites of random existing
// keys, so the key count stays put) every Interval: for Before; then,
// with the writer paused, the master puts ExpireKeys keys with expiry
// ExpireAfter as fast as it can (a sharp wave); then the writer resumes
// until clone 0 has seen every one of those keys expire. Intervals that
// overlap the expiries clone 0 saw are the wave's; those before it (from
// both stretches of writing) are the baseline.
func (r *storeRun) expiry(ctx context.Context) error {
	var answered atomic.Uint64
	rng := rand.New(rand.NewPCG(r.c.Seed, 2)) // used by one writer at a time
	tick := time.NewTicker(r.c.Interval)
	defer tick.Stop()
	clock := func() int64 { return time.Since(r.start).Nanoseconds() }
	type interval struct{ a, b, n int64 } // ns on the run's clock, answers

	// sample starts the writer and records intervals until done reports
	// true (checked after each), then stops the writer.
	sample := func(done func() (bool, error)) ([]interval, error) {
		wr := r.startWriter(ctx, PhaseExpiry, func(err error) {
			r.countErr(err)
			answered.Add(1)
		}, func() frame.Value { return r.key(rng.IntN(r.c.Ops)) })
		var ivs []interval
		// A tick that fell due while nobody sampled (during the insert)
		// would end the first interval at once, with no answers: a rate
		// of 0 that measured nothing. Reset drops it.
		tick.Reset(r.c.Interval)
		lastAt, lastN := clock(), answered.Load()
		for {
			select {
			case <-tick.C:
			case <-wr.done:
				return ivs, wr.stop()
			case <-ctx.Done():
				_ = wr.stop()
				return ivs, fmt.Errorf("store: expiry: %w", ctx.Err())
			}
			at, n := clock(), answered.Load()
			ivs = append(ivs, interval{lastAt, at, int64(n - lastN)})
			lastAt, lastN = at, n
			ok, err := done()
			if err != nil || ok {
				if serr := wr.stop(); err == nil {
					err = serr
				}
				return ivs, err
			}
		}
	}

	end := time.Now().Add(r.c.Before)
	pre, err := sample(func() (bool, error) { return !time.Now().Before(end), nil })
	if err != nil {
		return err
	}

	base := r.expireBase()
	t := time.Now()
	err = r.newPipe(PhaseExpiry+" insert").run(ctx, r.c.ExpireKeys, nil, func(i int) *node.Future {
		return r.m.Do(frame.OpPut, r.key(base+i), r.val, r.c.ExpireAfter)
	}, func(_ int, _ frame.Value, err error) { r.countErr(err) })
	if err != nil {
		return err
	}
	r.res.ExpiryInsertSeconds = time.Since(t).Seconds()

	// The wave is over when clone 0 has seen every key expire; should a
	// resync have swallowed some of its expire events, when it holds no
	// expiring key any more.
	w := r.watch[0]
	want := uint64(r.c.ExpireKeys)
	progressAt := time.Now().Add(r.c.ExpireAfter) // last expiry progress, or when it is due
	var seen uint64
	var checkedAt time.Time
	post, err := sample(func() (bool, error) {
		n := w.expired.Load()
		if n >= want {
			return true, nil
		}
		if n > seen {
			seen, progressAt = n, time.Now()
		}
		if since := time.Since(progressAt); since > r.c.Stall {
			return false, fmt.Errorf("store: expiry: clone 0 saw %d of %d keys expire, none for %v", n, want, r.c.Stall)
		} else if since > time.Second && time.Since(checkedAt) > time.Second {
			checkedAt = time.Now()
			keys, err := r.clones[0].Keys(ctx)
			return err == nil && keys.Len() == r.expectedKeys(), nil
		}
		return false, nil
	})
	if err != nil {
		return err
	}

	// Rates are answers over time across each stretch's intervals, not a
	// median of intervals: answers come in bursts (a pipeline window at a
	// time), so single short intervals can see none.
	ws, we := w.firstExpire.Load(), w.lastExpire.Load()
	var wave, before []float64
	var beforeN, beforeNs, waveN, waveNs int64
	for _, iv := range pre {
		before = append(before, float64(iv.n)/(float64(iv.b-iv.a)/1e9))
		beforeN, beforeNs = beforeN+iv.n, beforeNs+iv.b-iv.a
	}
	for _, iv := range post {
		switch {
		case iv.b > ws && iv.a <= we:
			wave = append(wave, float64(iv.n)/(float64(iv.b-iv.a)/1e9))
			waveN, waveNs = waveN+iv.n, waveNs+iv.b-iv.a
		case iv.b <= ws:
			before = append(before, float64(iv.n)/(float64(iv.b-iv.a)/1e9))
			beforeN, beforeNs = beforeN+iv.n, beforeNs+iv.b-iv.a
		}
	}
	rate := func(n, ns int64) float64 {
		if ns <= 0 {
			return 0
		}
		return float64(n) / (float64(ns) / 1e9)
	}
	r.res.PutsBeforeWavePerSec = rate(beforeN, beforeNs)
	r.res.ExpiryWavePutsPerSec = rate(waveN, waveNs)
	if len(wave) > 0 {
		r.res.ExpiryWaveMinIntervalPerSec = slices.Min(wave)
	}
	if len(before) > 0 {
		r.res.PutsBeforeWaveMinIntervalPerSec = slices.Min(before)
	}
	r.res.ExpiryWaveIntervals = len(wave)
	r.res.ExpiryWaveSeconds = float64(we-ws) / 1e9
	return nil
}

// writer is the writer node putting from a goroutine of its own.
type writer struct {
	halt atomic.Bool
	done chan struct{} // closed when the goroutine ends
	err  error         // valid after done
}

// startWriter starts pipelined puts of key() from the writer node until
// stopped; answer is called (on the writer's goroutine) for each answer.
func (r *storeRun) startWriter(ctx context.Context, phase string, answer func(error), key func() frame.Value) *writer {
	wr := &writer{done: make(chan struct{})}
	go func() {
		defer close(wr.done)
		wr.err = r.newPipe(phase).run(ctx, -1, &wr.halt, func(int) *node.Future {
			return r.w.Do(frame.OpPut, key(), r.val, 0)
		}, func(_ int, _ frame.Value, err error) { answer(err) })
		if wr.err == nil && !wr.halt.Load() {
			wr.err = fmt.Errorf("store: %s: the writer stopped", phase)
		}
	}()
	return wr
}

// stop stops the writer, waits for its answers in flight and returns its
// error.
func (wr *writer) stop() error {
	wr.halt.Store(true)
	<-wr.done
	return wr.err
}

// cloneWatch follows one clone's store through its events (OnEvent runs
// on the clone's goroutine): keys held, expiries, and the staleness of
// the marked puts.
type cloneWatch struct {
	start       time.Time
	live        atomic.Int64 // inserts - erases - expiries
	expired     atomic.Uint64
	firstExpire atomic.Int64 // ns on the run's clock; 0: none yet
	lastExpire  atomic.Int64
	measuring   atomic.Bool
	staleN      atomic.Uint64
	mu          sync.Mutex // guards hist against the reader after the phase
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
		now := time.Since(w.start).Nanoseconds()
		w.firstExpire.CompareAndSwap(0, now)
		w.lastExpire.Store(now)
		w.expired.Add(1)
	}
}

// stale records the age of a marked value that just became visible.
func (w *cloneWatch) stale(enc []byte) {
	v, _, err := frame.DecodeValue(enc, nil)
	if err != nil {
		return
	}
	p := v.Bytes()
	if len(p) < minValue || p[0] != markStale {
		return
	}
	age := time.Since(w.start).Nanoseconds() - int64(binary.LittleEndian.Uint64(p[1:]))
	w.mu.Lock()
	_ = w.hist.RecordValue(max(age, histMin))
	w.mu.Unlock()
	w.staleN.Add(1)
}
