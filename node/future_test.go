package node

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
)

// A Future's channel is made only when Done is asked for before the
// answer: every Done, before or after resolve and from any goroutine, then
// returns a channel that closes, and Wait returns the answer.
func TestFutureSignal(t *testing.T) {
	want := frame.NewCount(7)
	t.Run("resolved first", func(t *testing.T) {
		f := new(Future)
		f.resolve(want, nil)
		if f.sig.Load() != closedSignal {
			t.Fatal("a Future resolved before anyone waited made a channel of its own")
		}
		<-f.Done()
		if v, err := f.Wait(context.Background()); err != nil || v.Count() != 7 {
			t.Fatalf("Wait = %v, %v", v, err)
		}
	})
	t.Run("done first", func(t *testing.T) {
		f := new(Future)
		c := f.Done()
		if c != f.Done() {
			t.Fatal("two Done calls before the answer returned different channels")
		}
		select {
		case <-c:
			t.Fatal("Done closed before the answer")
		default:
		}
		f.resolve(frame.None, ErrRequestLost)
		<-c
		<-f.Done()
		if _, err := f.Wait(context.Background()); !errors.Is(err, ErrRequestLost) {
			t.Fatalf("Wait error = %v", err)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		for range 200 {
			f := new(Future)
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					<-f.Done()
					if v, err := f.Wait(context.Background()); err != nil || v.Count() != 7 {
						t.Errorf("Wait = %v, %v", v, err)
					}
				})
			}
			f.resolve(want, nil)
			wg.Wait()
		}
	})
	t.Run("wait gives up", func(t *testing.T) {
		f := new(Future)
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		if _, err := f.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait error = %v", err)
		}
		f.resolve(want, nil) // after a Wait gave up: no panic, Done closes
		<-f.Done()
	})
}

// BenchmarkFutureResolved is the cost of a pipelined request's Future when
// the answer is in before the caller looks: no channel.
func BenchmarkFutureResolved(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		f := new(Future)
		f.resolve(frame.None, nil)
		<-f.Done()
		if _, err := f.Wait(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
