package bench

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/node"
)

// pipe keeps up to window requests in flight and hands their answers to
// answer in issue order. It is used by one goroutine.
type pipe struct {
	phase  string
	window int
	stall  time.Duration
	timer  *time.Timer
}

func newPipe(phase string, window int, stall time.Duration) *pipe {
	return &pipe{phase: phase, window: window, stall: stall}
}

func (r *storeRun) newPipe(phase string) *pipe { return newPipe(phase, r.c.Window, r.c.Stall) }

// run issues n requests (n < 0: until stop is set), then waits for the
// rest of the answers. It fails when an answer takes longer than the
// stall bound or ctx ends; requests still in flight then resolve when
// their store handle closes.
func (p *pipe) run(ctx context.Context, n int, stop *atomic.Bool, issue func(i int) *node.Future,
	answer func(i int, v frame.Value, err error)) error {
	defer func() {
		if p.timer != nil {
			p.timer.Stop()
		}
	}()
	ring := make([]*node.Future, p.window)
	head, inflight := 0, 0 // ring[head] is the oldest of inflight requests
	i0 := 0                // index of the oldest
	next := func() error {
		f := ring[head]
		if err := p.wait(ctx, f, i0); err != nil {
			return err
		}
		v, err := f.Wait(context.Background())
		answer(i0, v, err)
		ring[head] = nil
		head, inflight, i0 = (head+1)%p.window, inflight-1, i0+1
		return nil
	}
	for i := 0; n < 0 || i < n; i++ {
		if stop != nil && stop.Load() {
			break
		}
		if i&1023 == 0 && ctx.Err() != nil {
			return fmt.Errorf("store: %s: %w", p.phase, ctx.Err())
		}
		if inflight == p.window {
			if err := next(); err != nil {
				return err
			}
		}
		ring[(head+inflight)%p.window] = issue(i)
		inflight++
	}
	for inflight > 0 {
		if err := next(); err != nil {
			return err
		}
	}
	return nil
}

// wait waits for f, at most the stall bound.
func (p *pipe) wait(ctx context.Context, f *node.Future, answered int) error {
	select {
	case <-f.Done():
		return nil
	default:
	}
	if p.timer == nil {
		p.timer = time.NewTimer(p.stall)
	} else {
		p.timer.Reset(p.stall)
	}
	select {
	case <-f.Done():
		p.timer.Stop()
		return nil
	case <-p.timer.C:
		return fmt.Errorf("store: %s: no answer for %v after %d answers", p.phase, p.stall, answered)
	case <-ctx.Done():
		return fmt.Errorf("store: %s: %w", p.phase, ctx.Err())
	}
}

// sleeper sleeps with one reusable timer, waking early when ctx ends.
type sleeper struct{ t *time.Timer }

func (s *sleeper) sleep(ctx context.Context, d time.Duration) {
	if s.t == nil {
		s.t = time.NewTimer(d)
	} else {
		s.t.Reset(d)
	}
	select {
	case <-s.t.C:
	case <-ctx.Done():
	}
}

func (s *sleeper) stop() {
	if s.t != nil {
		s.t.Stop()
	}
}

// waitProgress polls cond until it reports done. It fails when ctx ends
// or when the progress figure cond reports has not changed for stall.
func waitProgress(ctx context.Context, stall time.Duration, what string, cond func() (done bool, progress int64)) error {
	last, lastAt := int64(math.MinInt64), time.Now()
	for {
		done, n := cond()
		if done {
			return nil
		}
		if n != last {
			last, lastAt = n, time.Now()
		} else if time.Since(lastAt) > stall {
			return fmt.Errorf("store: waiting for %s: no progress for %v (at %d)", what, stall, n)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("store: waiting for %s: %w", what, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// spread runs n requests (issue(w, i) for i in [0, n)) over the writers:
// writer k issues i = k, k+W, k+2W, … through a pipe of its own, all at
// once. answer may be called from several goroutines.
func (r *storeRun) spread(ctx context.Context, phase string, n int, issue func(w *node.Store, i int) *node.Future,
	answer func(i int, v frame.Value, err error)) error {
	nw := len(r.ws)
	var g errgroup.Group
	for k, w := range r.ws {
		g.Go(func() error {
			return r.newPipe(phase).run(ctx, (n-k+nw-1)/nw, nil,
				func(j int) *node.Future { return issue(w, k+j*nw) },
				func(j int, v frame.Value, err error) { answer(k+j*nw, v, err) })
		})
	}
	return g.Wait()
}
