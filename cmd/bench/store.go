package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"strings"

	"github.com/weirio/weir/internal/bench"
)

const storeHelp = `usage: weir-bench store [flags]

Replicated store throughput, read speed, replication staleness and the
cost of an expiry wave, over real TCP connections on loopback (127.0.0.1):
a master (Pebble backend in a temp dir, NoSync unless --sync) and --clones
clone nodes, each a child process of this program, as they would be on
machines of their own, and a writer node (role worker) in this process that
sends its requests to the master through a store frontend; the clones and
the writer peer with the master. --writers N adds writer nodes in this
process, each with a connection of its own, that share the puts and
put_unique phases. --in-process runs every node in this process instead.
Phases:

  local       --ops puts straight into a Pebble backend (NoSync), no nodes
  puts        --ops pipelined puts of fresh keys from the writer(s)
  put_unique  --ops pipelined put_uniques of fresh keys; each must insert
  gets        --ops gets of random existing keys on clone 0 (local reads)
  staleness   --stale-ops puts on the master at --rate; each clone records
              how long a put took to become visible there (the master's and
              the clone's wall clocks, one machine's)
  expiry      --expire-keys keys expire --expire-after after they are put,
              while the writer keeps putting; its rate is sampled every
              --interval before and during the wave

At the end every clone must hold as many keys as the master. The exit
status is 1 when a request failed or a clone differs.

Flags:
`

// store runs "weir-bench store".
func store(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var (
		c                bench.StoreConfig
		jsonOut, verbose bool
		cpuprof, phase   string
		tracefile        string
		inProcess        bool
		roleSpec         string
	)
	fs := flag.NewFlagSet("weir-bench store", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), storeHelp)
		fs.PrintDefaults()
	}
	fs.IntVar(&c.Clones, "clones", bench.DefaultStoreClones, "clone nodes")
	fs.IntVar(&c.Writers, "writers", 1, fmt.Sprintf("writer nodes sharing the puts and put_unique phases, each with --window requests in flight (at most %d)", bench.MaxStoreWriters))
	fs.IntVar(&c.Ops, "ops", bench.DefaultStoreOps, "operations of each of the local, puts, put_unique and gets phases")
	fs.IntVar(&c.Window, "window", bench.DefaultStoreWindow, fmt.Sprintf("pipelined requests in flight (at most %d, a store handle's MaxPending)", bench.MaxStoreWindow))
	fs.IntVar(&c.ValueSize, "value-size", bench.DefaultStoreValueSize, "bytes of each value's string payload (at least 9); keys are 9-byte counts")
	fs.BoolVar(&c.Sync, "sync", false, "the master's Pebble fsyncs every write (kv.Sync); the local baseline stays NoSync")
	fs.StringVar(&c.Dir, "dir", "", "where to make the run's directory (default the system temp dir; a tmpfs such as /dev/shm takes the disk out of the figures)")
	fs.BoolVar(&c.Keep, "keep", false, "keep the run's directory (its path is in the output)")
	fs.Float64Var(&c.Rate, "rate", bench.DefaultStoreRate, "put rate of the staleness phase, per second")
	fs.IntVar(&c.StaleOps, "stale-ops", 0, "puts of the staleness phase (default min(100000, --ops))")
	fs.IntVar(&c.ExpireKeys, "expire-keys", 0, "keys of the expiry wave (default --ops)")
	fs.DurationVar(&c.ExpireAfter, "expire-after", bench.DefaultStoreExpireAfter, "expiry of the wave's keys")
	fs.IntVar(&c.ExpireBatch, "expire-batch", 0, "most keys the master expires in one slice between requests (default: the node's)")
	fs.DurationVar(&c.Interval, "interval", bench.DefaultStoreInterval, "sampling interval of the put rate around the expiry wave")
	fs.DurationVar(&c.Before, "before", bench.DefaultStoreBefore, "how long the put rate is sampled before the wave's keys are put")
	fs.DurationVar(&c.Stall, "stall", bench.DefaultStoreStall, "fail when a wait (an answer, a clone catching up, the wave) makes no progress for this long")
	fs.DurationVar(&c.Timeout, "timeout", bench.DefaultStoreTimeout, "bound on the whole run")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the key order and the random reads")
	fs.BoolVar(&jsonOut, "json", false, "print one JSON object instead of text")
	fs.BoolVar(&inProcess, "in-process", false, "run the master and the clones in this process (one Go runtime for every node)")
	fs.StringVar(&roleSpec, "role-spec", "", "internal: play a master or a clone (JSON bench.StoreRoleSpec; control lines on stdin/stdout)")
	fs.StringVar(&cpuprof, "cpuprofile", "", "write a CPU profile of the run (or of --profile-phase) to this file; each child to FILE-<role>")
	fs.StringVar(&tracefile, "trace", "", "write an execution trace (go tool trace) of the run (or of --profile-phase) to this file; each child to FILE-<role>")
	fs.StringVar(&phase, "profile-phase", "", "with --cpuprofile or --trace: profile only this phase (local, puts, put_unique, gets, staleness or expiry)")
	fs.BoolVar(&verbose, "v", false, "log node events at info level on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := positiveFlags(fs, "clones", "writers", "ops", "window", "value-size", "rate", "expire-after",
		"interval", "before", "stall", "timeout"); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	c.Log = benchLogger(stderr, verbose)
	if roleSpec != "" {
		var spec bench.StoreRoleSpec
		if err := json.Unmarshal([]byte(roleSpec), &spec); err != nil {
			return fmt.Errorf("bad --role-spec: %w", err)
		}
		return bench.ServeStoreRole(ctx, spec, stdin, stdout, c.Log)
	}
	if !inProcess {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		c.Exe, c.Stderr = exe, stderr
		c.ChildCPUProfile, c.ChildTrace, c.ChildProfilePhase = cpuprof, tracefile, phase
	}
	if cpuprof != "" || tracefile != "" {
		stopProf, err := profile(&c, cpuprof, tracefile, phase)
		if err != nil {
			return err
		}
		defer stopProf()
	}
	res, err := bench.RunStore(ctx, c)
	if err != nil {
		return err
	}
	if jsonOut {
		if err := writeJSON(stdout, res, true); err != nil {
			return err
		}
	} else if err := writeStoreText(stdout, res); err != nil {
		return err
	}
	if !res.Clean() {
		return errStoreUnclean
	}
	return nil
}

var errStoreUnclean = errors.New("store: requests failed or the stores differ (see errors, clones_consistent, master_keys)")

// profile records a CPU profile into cpuFile and an execution trace into
// traceFile (either may be empty) of the whole run, or only of the named
// phase.
func profile(c *bench.StoreConfig, cpuFile, traceFile, phase string) (stop func(), err error) {
	switch phase {
	case "", bench.PhaseLocal, bench.PhasePuts, bench.PhasePutUnique, bench.PhaseGets, bench.PhaseStaleness, bench.PhaseExpiry:
	default:
		return nil, fmt.Errorf("unknown phase %q", phase)
	}
	var cpuF, traceF *os.File
	closeAll := func() {
		for _, f := range []*os.File{cpuF, traceF} {
			if f != nil {
				_ = f.Close()
			}
		}
	}
	if cpuFile != "" {
		if cpuF, err = os.Create(cpuFile); err != nil {
			return nil, err
		}
	}
	if traceFile != "" {
		if traceF, err = os.Create(traceFile); err != nil {
			closeAll()
			return nil, err
		}
	}
	cpuOn, traceOn := false, false
	start := func() {
		if cpuF != nil && !cpuOn && pprof.StartCPUProfile(cpuF) == nil {
			cpuOn = true
		}
		if traceF != nil && !traceOn && trace.Start(traceF) == nil {
			traceOn = true
		}
	}
	end := func() {
		if cpuOn {
			pprof.StopCPUProfile()
			cpuOn = false
		}
		if traceOn {
			trace.Stop()
			traceOn = false
		}
	}
	if phase == "" {
		start()
	} else {
		c.OnPhase = func(p string, starting bool) {
			if p != phase {
				return
			}
			if starting {
				start()
			} else {
				end()
			}
		}
	}
	return func() { end(); closeAll() }, nil
}

func writeStoreText(w io.Writer, r *bench.StoreResult) error {
	var b strings.Builder
	mode := "nosync"
	if r.Sync {
		mode = "sync"
	}
	writers := "writer"
	if r.Writers > 1 {
		writers = fmt.Sprintf("%d writers", r.Writers)
	}
	fmt.Fprintf(&b, "store: master (Pebble, %s) + %s + %d clone(s), %d ops, window %d, %d B keys, %d B values\n",
		mode, writers, r.Clones, r.Ops, r.Window, r.KeySize, r.ValueSize)
	fmt.Fprintf(&b, "  local Pebble puts   %12s /s  (NoSync, no nodes)\n", num(r.LocalPebblePutsPerSec))
	fmt.Fprintf(&b, "  puts (writer)       %12s /s  %.2f× local\n", num(r.PutsPerSec), r.PutsVsLocal)
	fmt.Fprintf(&b, "  put_unique (writer) %12s /s\n", num(r.PutUniquePerSec))
	fmt.Fprintf(&b, "  gets (clone 0)      %12s /s\n", num(r.GetsPerSec))
	fmt.Fprintf(&b, "  staleness at %s puts/s (%d puts, %d samples): p50 %.0f µs, p99 %.0f µs, max %.0f µs\n",
		num(r.StalenessRate), r.StaleOps, r.StalenessSamples, r.StalenessP50, r.StalenessP99, r.StalenessMax)
	fmt.Fprintf(&b, "  expiry wave: %d keys put in %.2fs, expiring %gs later, expired over %.2fs\n",
		r.ExpiryKeys, r.ExpiryInsertSeconds, r.ExpireAfterSec, r.ExpiryWaveSeconds)
	fmt.Fprintf(&b, "    writer puts %s /s before, %s /s during (over %d intervals), %s /s in the worst interval (%s /s in the worst before)\n",
		num(r.PutsBeforeWavePerSec), num(r.ExpiryWavePutsPerSec), r.ExpiryWaveIntervals, num(r.ExpiryWaveMinIntervalPerSec),
		num(r.PutsBeforeWaveMinIntervalPerSec))
	if r.ExpiryInsertSeconds > r.ExpireAfterSec {
		b.WriteString("    (putting the keys took longer than their expiry: the wave's start overlapped it and was not sampled)\n")
	}
	fmt.Fprintf(&b, "  keys: master %d (expected %d), clones %v, consistent %v\n", r.MasterKeys, r.ExpectedKeys, r.CloneKeys, r.ClonesConsistent)
	fmt.Fprintf(&b, "  errors %d, dropped frames %d, master write stalls %d (%.2fs), %.1fs, CPU %.1fs\n",
		r.Errors, r.DroppedFrames, r.MasterWriteStalls, r.MasterWriteStallSec, r.Seconds, r.CPUSec)
	perOp := func(phase string, ops int) string {
		return fmt.Sprintf("%s %.1f µs/op", phase, r.PhaseCPUSec[phase]*1e6/float64(max(ops, 1)))
	}
	fmt.Fprintf(&b, "  CPU per op (all nodes): %s, %s, %s\n", perOp(bench.PhaseLocal, r.Ops), perOp(bench.PhasePuts, r.Ops),
		perOp(bench.PhasePutUnique, r.Ops))
	if r.FirstError != "" {
		fmt.Fprintf(&b, "  first error: %s\n", r.FirstError)
	}
	if r.Dir != "" {
		fmt.Fprintf(&b, "  kept %s\n", r.Dir)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// num formats a rate with thousands separators.
func num(f float64) string {
	s := fmt.Sprintf("%.0f", f)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
