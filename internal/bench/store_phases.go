package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/node"
)

// puts: Ops puts of fresh keys from the writer, pipelined.
func (r *storeRun) puts(ctx context.Context) error {
	t := time.Now()
	err := r.spread(ctx, PhasePuts, r.c.Ops, func(w *node.Store, i int) *node.Future {
		return w.Do(frame.OpPut, r.key(i), r.val, 0)
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
	base := r.uniqueBase()
	t := time.Now()
	err := r.spread(ctx, PhasePutUnique, r.c.Ops, func(w *node.Store, i int) *node.Future {
		return w.Do(frame.OpPutUnique, r.key(base+i), r.val, 0)
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
// existing keys on clone 0, answered from its local copy (in its process).
func (r *storeRun) gets(ctx context.Context) error {
	if err := r.waitClones(ctx, PhaseGets, 2*r.c.Ops); err != nil {
		return err
	}
	var res opsResult
	if err := r.clones[0].callJSON(ctx, storeCmdGets, storeGets{N: r.c.Ops, Keys: 2 * r.c.Ops, Seed: r.c.Seed}, &res); err != nil {
		return err
	}
	r.countRemote(res)
	r.res.GetsPerSec = float64(r.c.Ops) / res.Seconds
	return nil
}

// countRemote counts the failures a role reported.
func (r *storeRun) countRemote(res opsResult) {
	if res.Errors == 0 {
		return
	}
	r.errs.Add(res.Errors - 1)
	r.countErr(errors.New(res.FirstError))
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
	p := r.clones[i]
	lastN, lastAt := int64(-1), time.Now()
	var checkedAt time.Time
	var failed error
	err := waitProgress(ctx, r.c.Stall, what, func() (bool, int64) {
		w, err := p.watch(ctx)
		if err != nil {
			failed = err
			return true, 0
		}
		n := w.Live
		if n == int64(want) {
			return true, n
		}
		if n != lastN {
			lastN, lastAt = n, time.Now()
		}
		if (n > int64(want) || time.Since(lastAt) > time.Second) && time.Since(checkedAt) > time.Second {
			checkedAt = time.Now()
			if k, err := p.keys(ctx); err == nil && k == want {
				return true, n
			}
		}
		return false, n
	})
	if failed != nil {
		return failed
	}
	return err
}

// staleness: StaleOps puts on the master's own handle at Rate, each value
// carrying its issue time; every clone records when the key appears.
func (r *storeRun) staleness(ctx context.Context) error {
	measure := func(on string) error {
		for _, p := range r.clones {
			if _, err := p.call(ctx, storeCmdMeasure, on); err != nil {
				return err
			}
		}
		return nil
	}
	if err := measure("1"); err != nil {
		return err
	}
	var res opsResult
	err := r.m.callJSON(ctx, storeCmdPuts, storePuts{Base: r.staleBase(), N: r.c.StaleOps, Rate: r.c.Rate, Stamp: true}, &res)
	if err != nil {
		return err
	}
	r.countRemote(res)
	if res.IssueSeconds > 0 {
		r.res.StalenessRate = float64(r.c.StaleOps-1) / res.IssueSeconds
	}
	for i, p := range r.clones {
		var failed error
		err := waitProgress(ctx, r.c.Stall, fmt.Sprintf("staleness: clone %d to see every put", i), func() (bool, int64) {
			w, err := p.watch(ctx)
			if err != nil {
				failed = err
				return true, 0
			}
			return w.StaleN >= uint64(r.c.StaleOps), int64(w.StaleN)
		})
		if failed != nil {
			return failed
		}
		if err != nil {
			return err
		}
	}
	if err := measure("0"); err != nil {
		return err
	}
	h := newHistogram()
	for _, p := range r.clones {
		enc, err := p.call(ctx, storeCmdHist, "")
		if err != nil {
			return err
		}
		ch, err := decodeHist(enc)
		if err != nil {
			return fmt.Errorf("store: %s: %w", p.name, err)
		}
		h.Merge(ch)
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
	clock := r.clk.nowNs
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

	var ins opsResult
	err = r.m.callJSON(ctx, storeCmdPuts, storePuts{Base: r.expireBase(), N: r.c.ExpireKeys, Expiry: r.c.ExpireAfter}, &ins)
	if err != nil {
		return err
	}
	r.countRemote(ins)
	r.res.ExpiryInsertSeconds = ins.Seconds

	// The wave is over when clone 0 has seen every key expire; should a
	// resync have swallowed some of its expire events, when it holds no
	// expiring key any more.
	c0 := r.clones[0]
	want := uint64(r.c.ExpireKeys)
	progressAt := time.Now().Add(r.c.ExpireAfter) // last expiry progress, or when it is due
	var seen uint64
	var checkedAt time.Time
	post, err := sample(func() (bool, error) {
		w, err := c0.watch(ctx)
		if err != nil {
			return false, err
		}
		n := w.Expired
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
			k, err := c0.keys(ctx)
			return err == nil && k == r.expectedKeys(), nil
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	w, err := c0.watch(ctx)
	if err != nil {
		return err
	}

	// Rates are answers over time across each stretch's intervals, not a
	// median of intervals: answers come in bursts (a pipeline window at a
	// time), so single short intervals can see none.
	ws, we := w.FirstExpire, w.LastExpire
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
			return r.ws[0].Do(frame.OpPut, key(), r.val, 0)
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
