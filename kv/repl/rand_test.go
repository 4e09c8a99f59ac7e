package repl

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
)

// TestRandomized runs a master and three clones over a network that
// drops, duplicates, reorders and partitions, while the master takes
// random updates, restarts (new epoch) and clones detach and attach again.
// Small bounds (buffer, pending, chunk size) make resyncs frequent. Then
// the faults stop and, after quiescence, every clone's store must equal
// the master's. Along the way each clone's store checks that updates come
// in sequence and never inside a snapshot.
func TestRandomized(t *testing.T) {
	// As many seeds under the race detector: the runs are deterministic,
	// and fewer of them miss some of the rarer recovery paths.
	seeds := 30
	if testing.Short() {
		seeds = 5
	}
	if s := os.Getenv("WEIR_REPL_SEEDS"); s != "" { // longer runs: WEIR_REPL_SEEDS=1000
		seeds, _ = strconv.Atoi(s)
	}
	events := map[string]int{}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			e, err := runRandom(seed, 3000)
			if err != nil {
				t.Fatal(err)
			}
			for k, n := range e.events {
				events[k] += n
			}
		})
	}
	if t.Failed() || testing.Short() {
		return
	}
	t.Logf("events: %v", events)
	// With one master there is never a conflict; and the runs must have
	// gone through every recovery path, or they prove little.
	if events["conflict/"] != 0 {
		t.Errorf("%d conflicts with a single master", events["conflict/"])
	}
	for _, k := range []string{"resync/attach", "resync/gap", "resync/restart", "resync/reattach", "resync/timeout",
		"master-changed/restart", "clone-dropped/detach", "clone-dropped/timeout"} {
		if events[k] == 0 {
			t.Errorf("no %s event in %d runs", k, seeds)
		}
	}
}

type faults struct {
	drop, dup, delay float64
}

func runRandom(seed uint64, steps int) (e *env, err error) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	e = newEnv()
	e.quiet = true
	epoch := uint64(1)
	// Batches of 1 to 3 updates: a lost frame may lose a few at once.
	mopts := MasterOptions{ID: 1, Epoch: epoch, BufferEntries: 32, ChunkBytes: 64, SnapshotWindow: 2, MaxSyncs: 2,
		MaxResend: 4, BatchEntries: 1 + int(seed%3)}
	if err := e.startMaster(mopts); err != nil {
		return e, err
	}
	clones := []ID{10, 11, 12}
	for _, id := range clones {
		if err := e.startClone(CloneOptions{ID: id, PendingEntries: 16, MaxNack: 4}); err != nil {
			return e, err
		}
		e.clones[id].c.Attach()
	}
	f := faults{drop: 0.05, dup: 0.03, delay: 0.2}
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for step := range steps {
		switch r := rng.Float64(); {
		case r < 0.30:
			for range 1 + rng.IntN(3) {
				if err := e.propose(1, randomUpdate(rng, keys, step, e.now)); err != nil {
					return e, err
				}
			}
		case r < 0.45:
			e.tick(time.Duration(10+rng.IntN(140))*time.Millisecond, e.ids())
		case r < 0.97:
			for _, id := range e.ids() {
				if _, err := e.handleReady(id); err != nil {
					return e, fmt.Errorf("step %d: %w", step, err)
				}
			}
			if err := e.deliverFaulty(rng, f); err != nil {
				return e, fmt.Errorf("step %d: %w", step, err)
			}
		case r < 0.98:
			a := clones[rng.IntN(len(clones))]
			if rng.IntN(2) == 0 {
				e.cut[[2]ID{1, a}], e.cut[[2]ID{a, 1}] = true, true
			} else {
				e.cut[[2]ID{a, 1}] = true // one way: the clone's messages are lost
			}
		case r < 0.995:
			clear(e.cut)
		case r < 0.9985:
			c := e.clones[clones[rng.IntN(len(clones))]].c
			if c.State() == StateDetached {
				c.Attach()
			} else {
				c.Detach()
			}
		default:
			epoch++
			mopts.Epoch = epoch
			if err := e.startMaster(mopts); err != nil {
				return e, err
			}
		}
	}
	// Quiescence: no faults, no new updates, everyone attached.
	clear(e.cut)
	for _, id := range clones {
		e.clones[id].c.Attach()
	}
	for range 600 { // 60 s of simulated time
		e.tick(100*time.Millisecond, e.ids())
		if err := e.stabilize(); err != nil {
			return e, err
		}
		if e.converged() {
			return e, nil
		}
	}
	return e, fmt.Errorf("no convergence (seed %d):\n%s", seed, e.state())
}

// deliverFaulty delivers the frames in flight, each with probability
// f.delay left for a later round (so frames overtake each other), f.drop
// lost, f.dup delivered twice.
func (e *env) deliverFaulty(rng *rand.Rand, f faults) error {
	pkts := e.net
	e.net = nil
	for _, p := range pkts {
		switch r := rng.Float64(); {
		case r < f.delay:
			e.net = append(e.net, p)
		case r < f.delay+f.drop:
		case r < f.delay+f.drop+f.dup:
			if err := e.deliver(p); err != nil {
				return err
			}
			e.net = append(e.net, p)
		default:
			if err := e.deliver(p); err != nil {
				return err
			}
		}
	}
	return nil
}

func randomUpdate(rng *rand.Rand, keys []string, step int, now time.Time) Update {
	k := key(keys[rng.IntN(len(keys))])
	switch x := rng.IntN(100); {
	case x < 60:
		u := Update{Op: frame.OpPut, Key: k, Value: val(fmt.Sprint(step))}
		if rng.IntN(4) == 0 {
			u.ExpireAt = now.Add(time.Duration(rng.IntN(10)) * time.Second).UnixNano()
		}
		return u
	case x < 80:
		return Update{Op: frame.OpErase, Key: k}
	case x < 97:
		return Update{Op: frame.OpExpire, Key: k}
	}
	return Update{Op: frame.OpClear}
}

// converged reports whether every clone is live at the master's last
// sequence with the master's data.
func (e *env) converged() bool {
	m := e.masters[1]
	for _, n := range e.clones {
		st := n.c.Status()
		if st.State != StateLive || st.Epoch != m.opts.Epoch || st.Applied != m.m.LastSeq() ||
			!sameData(m.store.data, n.store.data) {
			return false
		}
	}
	return true
}
