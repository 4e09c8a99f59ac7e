package logsink

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeSpool is a bounded in-memory Spool, oldest first.
type fakeSpool struct {
	max int
	q   []Batch
}

var errSpoolFull = errors.New("spool full")

func (f *fakeSpool) Put(b Batch) error {
	if len(f.q) >= f.max {
		return errSpoolFull
	}
	f.q = append(f.q, b)
	return nil
}

func (f *fakeSpool) Take() (Batch, bool, error) {
	if len(f.q) == 0 {
		return Batch{}, false, nil
	}
	b := f.q[0]
	f.q = f.q[1:]
	return b, true, nil
}

// runShipScript runs a script against s. Each step is "command => output",
// where output is the Ready the command produced ("-" for none). Commands:
//
//	up L | down L | add STREAM SEQ SIZE | ack L STREAM SEQ | nack L STREAM SEQ | tick DURATION
//
// The time of tick is relative to the start.
func runShipScript(t *testing.T, s *Shipper, script string) {
	t.Helper()
	t0 := time.Unix(1700000000, 0)
	s.Tick(t0)
	for n, line := range strings.Split(strings.TrimSpace(script), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cmd, want, ok := strings.Cut(line, "=>")
		if !ok {
			t.Fatalf("line %d: no =>: %q", n+1, line)
		}
		f := strings.Fields(cmd)
		num := func(i int) uint64 {
			u, err := strconv.ParseUint(f[i], 10, 64)
			if err != nil {
				t.Fatalf("line %d: %v", n+1, err)
			}
			return u
		}
		switch f[0] {
		case "up":
			s.LoggerUp(f[1])
		case "down":
			s.LoggerDown(f[1])
		case "add":
			s.Add(Batch{Stream: f[1], Seq: num(2), Payload: make([]byte, num(3))})
		case "ack":
			s.Ack(f[1], f[2], num(3))
		case "nack":
			s.Nack(f[1], f[2], num(3))
		case "tick":
			d, err := time.ParseDuration(f[1])
			if err != nil {
				t.Fatal(err)
			}
			s.Tick(t0.Add(d))
		default:
			t.Fatalf("line %d: unknown command %q", n+1, f[0])
		}
		got := formatReady(s)
		if strings.TrimSpace(want) != got {
			t.Errorf("line %d: %s\n got: %s\nwant: %s", n+1, strings.TrimSpace(cmd), got, strings.TrimSpace(want))
		}
	}
}

func formatReady(s *Shipper) string {
	if !s.HasReady() {
		return "-"
	}
	rd := s.Ready()
	var parts []string
	for _, x := range rd.Sends {
		parts = append(parts, fmt.Sprintf("send %s %s/%d", x.Logger, x.Batch.Stream, x.Batch.Seq))
	}
	for _, x := range rd.Dropped {
		parts = append(parts, fmt.Sprintf("drop %s/%d %v", x.Batch.Stream, x.Batch.Seq, x.Reason))
	}
	s.Advance()
	return strings.Join(parts, "; ")
}

func TestShipperScripts(t *testing.T) {
	tests := []struct {
		name   string
		opts   ShipperOptions
		spool  *fakeSpool
		script string
		check  func(t *testing.T, m ShipperMetrics)
	}{{
		name: "normal ack",
		script: `
			up a          => -
			add conn 1 10 => send a conn/1
			ack a conn 1  => -
			tick 10s      => -`,
		check: func(t *testing.T, m ShipperMetrics) {
			if m.Pending != 0 || m.Acked != 1 || m.PendingBytes != 0 {
				t.Errorf("metrics %+v", m)
			}
		},
	}, {
		name: "round robin over live loggers",
		script: `
			up a          => -
			up b          => -
			add conn 1 10 => send b conn/1
			add conn 2 10 => send a conn/2
			add dns 1 10  => send b dns/1`,
	}, {
		name: "logger down resends to the other",
		opts: ShipperOptions{FailoverAfter: -1},
		script: `
			up a          => -
			up b          => -
			add conn 1 10 => send b conn/1
			add conn 2 10 => send a conn/2
			down b        => send a conn/1
			ack a conn 1  => -
			ack a conn 2  => -`,
	}, {
		name: "all loggers down: wait, then deliver on up",
		opts: ShipperOptions{FailoverAfter: -1},
		script: `
			add conn 1 10 => -
			add conn 2 10 => -
			tick 30s      => -
			up a          => send a conn/1; send a conn/2
			down a        => -
			up b          => send b conn/1; send b conn/2`,
		check: func(t *testing.T, m ShipperMetrics) {
			if m.Pending != 2 || m.Waiting != 0 {
				t.Errorf("metrics %+v", m)
			}
		},
	}, {
		name: "a logger back within FailoverAfter gets its batches again",
		script: `
			up a          => -
			up b          => -
			add conn 1 10 => send b conn/1
			add conn 2 10 => send a conn/2
			ack a conn 2  => -
			down b        => -
			tick 10s      => -
			up b          => send b conn/1
			ack b conn 1  => -`,
		check: func(t *testing.T, m ShipperMetrics) {
			if m.Returned != 1 || m.Resent != 0 || m.FailedOver != 0 || m.Pending != 0 {
				t.Errorf("metrics %+v", m)
			}
		},
	}, {
		name: "ack timeout resends to the same logger",
		script: `
			up a          => -
			add conn 1 10 => send a conn/1
			tick 4s       => -
			add conn 2 10 => send a conn/2
			tick 5s       => send a conn/1
			tick 9s       => send a conn/2
			ack a conn 1  => -
			tick 10s      => -
			tick 14s      => send a conn/2
			ack a conn 2  => -
			tick 30s      => -`,
	}, {
		name: "duplicate and unknown acks are ignored",
		script: `
			up a          => -
			add conn 1 10 => send a conn/1
			ack a conn 1  => -
			ack a conn 1  => -
			ack b conn 1  => -
			ack a conn 7  => -
			nack a conn 1 => -`,
		check: func(t *testing.T, m ShipperMetrics) {
			if m.Acked != 1 || m.DupAcks != 4 || m.Nacked != 0 {
				t.Errorf("metrics %+v", m)
			}
		},
	}, {
		name: "budget overflow drops the oldest and reports it",
		opts: ShipperOptions{Budget: 25},
		script: `
			add conn 1 10 => -
			add conn 2 10 => -
			add conn 3 10 => drop conn/1 budget
			up a          => send a conn/2; send a conn/3
			add conn 4 30 => send a conn/4; drop conn/2 budget; drop conn/3 budget`,
		check: func(t *testing.T, m ShipperMetrics) {
			if m.DroppedBudget != 3 || m.Pending != 1 || m.PendingBytes != 30 {
				t.Errorf("metrics %+v", m)
			}
		},
	}, {
		name: "nack drops and reports, no retransmission",
		script: `
			up a          => -
			add conn 1 10 => send a conn/1
			nack a conn 1 => drop conn/1 nack
			tick 1m       => -`,
		check: func(t *testing.T, m ShipperMetrics) {
			if m.Nacked != 1 || m.Pending != 0 {
				t.Errorf("metrics %+v", m)
			}
		},
	}, {
		name:  "spool holds what the budget cannot, and gives it back on ack",
		opts:  ShipperOptions{Budget: 20},
		spool: &fakeSpool{max: 1},
		script: `
			up a          => -
			add conn 1 10 => send a conn/1
			add conn 2 10 => send a conn/2
			add conn 3 10 => send a conn/3
			add conn 4 10 => send a conn/4; drop conn/2 budget
			ack a conn 3  => send a conn/1
			ack a conn 1  => -
			ack a conn 4  => -`,
		check: func(t *testing.T, m ShipperMetrics) {
			if m.Spooled != 1 || m.Unspooled != 1 || m.DroppedBudget != 1 || m.Pending != 0 {
				t.Errorf("metrics %+v", m)
			}
		},
	}, {
		name: "hrw keeps a stream on one logger",
		opts: ShipperOptions{Pick: HRWPick(), FailoverAfter: -1},
		script: `
			up a          => -
			up b          => -
			up c          => -
			add conn 1 10 => send b conn/1
			add conn 2 10 => send b conn/2
			add dns 1 10  => send a dns/1
			down b        => send c conn/1; send c conn/2
			up b          => -
			add conn 3 10 => send b conn/3`,
	}, {
		name: "logger down: its batches wait for it and go back to it",
		opts: ShipperOptions{FailoverAfter: 10 * time.Second},
		script: `
			up a          => -
			up b          => -
			add conn 1 10 => send b conn/1
			down b        => -
			add conn 2 10 => send a conn/2
			tick 4s       => -
			up b          => send b conn/1
			ack b conn 1  => -`,
		check: func(t *testing.T, m ShipperMetrics) {
			if m.FailedOver != 0 || m.Held != 0 || m.Pending != 1 {
				t.Errorf("metrics %+v", m)
			}
		},
	}, {
		name: "logger down past FailoverAfter: batches go to another",
		opts: ShipperOptions{FailoverAfter: 10 * time.Second},
		script: `
			up a          => -
			up b          => -
			add conn 1 10 => send b conn/1
			down b        => -
			tick 9s       => -
			tick 10s      => send a conn/1
			up b          => -
			ack a conn 1  => -`,
		check: func(t *testing.T, m ShipperMetrics) {
			if m.FailedOver != 1 || m.Pending != 0 {
				t.Errorf("metrics %+v", m)
			}
		},
	}, {
		name: "window bounds the batches in flight per logger",
		opts: ShipperOptions{Window: 2},
		script: `
			up a          => -
			add conn 1 10 => send a conn/1
			add conn 2 10 => send a conn/2
			add conn 3 10 => -
			add conn 4 10 => -
			ack a conn 1  => send a conn/3
			up b          => send b conn/4
			ack a conn 2  => -
			ack a conn 3  => -
			ack b conn 4  => -`,
		check: func(t *testing.T, m ShipperMetrics) {
			if m.Pending != 0 || m.Waiting != 0 {
				t.Errorf("metrics %+v", m)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			if tt.spool != nil {
				o.Spool = tt.spool
			}
			s, err := NewShipper(&o)
			if err != nil {
				t.Fatal(err)
			}
			runShipScript(t, s, tt.script)
			if tt.check != nil {
				tt.check(t, s.Metrics())
			}
		})
	}
}

// TestShipperRandom drives a Shipper with random inputs against the
// invariants: every added batch is acked, dropped or still pending, exactly
// once; pending bytes stay within budget (but for one oversized batch).
func TestShipperRandom(t *testing.T) {
	for seed := range uint64(20) {
		r := newRand(seed)
		s, _ := NewShipper(&ShipperOptions{Budget: 200, ResendAfter: time.Second})
		t0 := time.Unix(0, 0)
		loggers := []string{"a", "b", "c"}
		added := map[uint64]bool{}
		gone := map[uint64]string{}
		var inflight []uint64
		var seq uint64
		for step := range 2000 {
			switch r.IntN(7) {
			case 0, 1:
				seq++
				added[seq] = true
				s.Add(Batch{Stream: "s", Seq: seq, Payload: make([]byte, 1+r.IntN(40))})
			case 2:
				s.LoggerUp(loggers[r.IntN(3)])
			case 3:
				s.LoggerDown(loggers[r.IntN(3)])
			case 4:
				s.Tick(t0.Add(time.Duration(step) * 100 * time.Millisecond))
			case 5, 6:
				if len(inflight) > 0 {
					i := r.IntN(len(inflight))
					q := inflight[i]
					if r.IntN(20) == 0 {
						s.Nack("a", "s", q)
					} else {
						s.Ack("a", "s", q)
					}
					if _, ok := gone[q]; !ok && s.byKey[shipKey{"s", q}] == nil {
						gone[q] = "acked"
					}
				}
			}
			rd := s.Ready()
			for _, x := range rd.Sends {
				inflight = append(inflight, x.Batch.Seq)
			}
			for _, x := range rd.Dropped {
				if prev, ok := gone[x.Batch.Seq]; ok && prev != "acked" {
					t.Fatalf("seed %d: seq %d dropped twice", seed, x.Batch.Seq)
				}
				gone[x.Batch.Seq] = "dropped"
			}
			s.Advance()
			m := s.Metrics()
			if m.PendingBytes > 200+40 {
				t.Fatalf("seed %d: %d bytes pending", seed, m.PendingBytes)
			}
		}
		for q := range added {
			_, isGone := gone[q]
			_, held := s.byKey[shipKey{"s", q}]
			if isGone == held {
				t.Fatalf("seed %d: seq %d gone=%v held=%v", seed, q, isGone, held)
			}
		}
	}
}

func TestShipperOptions(t *testing.T) {
	if _, err := NewShipper(&ShipperOptions{Budget: -1}); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("negative budget: %v", err)
	}
	o := (&ShipperOptions{}).EnsureDefaults()
	if o.Budget != 64<<20 || o.ResendAfter != 5*time.Second {
		t.Fatalf("defaults %+v", o)
	}
}

// TestShipperFirstTick checks that batches sent, and loggers gone down,
// before the Shipper's first Tick are not overdue at that Tick: a worker's
// first window must not be resent (nor failed over) just because the clock
// started after it was sent.
func TestShipperFirstTick(t *testing.T) {
	s, err := NewShipper(&ShipperOptions{ResendAfter: time.Second, FailoverAfter: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s.LoggerUp("a")
	s.LoggerUp("b")
	for seq := range uint64(4) {
		s.Add(Batch{Stream: "conn", Seq: seq, Payload: []byte("x")})
	}
	if got := len(s.Ready().Sends); got != 4 {
		t.Fatalf("sends before the first tick: %d, want 4", got)
	}
	s.Advance()
	s.LoggerDown("b") // its two batches are held for it
	t0 := time.Unix(1700000000, 0)
	s.Tick(t0)
	if s.HasReady() {
		t.Fatalf("first tick resent or failed over: %+v", s.Ready())
	}
	s.Tick(t0.Add(999 * time.Millisecond))
	if s.HasReady() {
		t.Fatalf("resent before ResendAfter: %+v", s.Ready())
	}
	s.Tick(t0.Add(time.Second))
	m := s.Metrics()
	if m.Resent != 2 || m.FailedOver != 2 {
		t.Fatalf("after ResendAfter: resent %d, failed over %d; want 2 and 2", m.Resent, m.FailedOver)
	}
}
