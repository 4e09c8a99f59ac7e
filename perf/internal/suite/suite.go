package suite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/weirio/weir/perf/internal/results"
)

// weirMinPayload is internal/bench.PayloadHeaderSize: weir-bench rejects
// smaller messages.
const weirMinPayload = 24

// brokerNote says why Zeek's Broker is not among the peers.
const brokerNote = "not installable here: Debian (bookworm) has no zeek or broker package, only zkg, Zeek's " +
	"package manager; Broker is a C++ library (with CAF) that is neither a Go module nor an npm package, and this " +
	"machine reaches no other source to build it from. The comparison is with NATS only."

// Run measures what o asks for. It returns the suite and the run
// directory it created (empty; WriteReport fills it). On cancellation or
// a failure it returns what it measured so far with the error, so the
// caller can still write a partial report.
func Run(ctx context.Context, o Options) (*results.Suite, string, error) {
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		return nil, "", err
	}
	start := o.Now()
	commit, short, dirty := gitInfo(ctx, o.Root)
	name := start.UTC().Format("2006-01-02") + "-" + short
	if o.Quick {
		name += "-quick"
	}
	dir, err := uniqueDir(o.ResultsDir, name)
	if err != nil {
		return nil, "", err
	}
	scratch := o.ScratchDir
	if scratch == "" {
		scratch = filepath.Join(o.Root, "perf", "scratch", filepath.Base(dir))
	}
	if err := os.MkdirAll(scratch, 0o755); err != nil {
		return nil, dir, fmt.Errorf("cannot create scratch dir: %w", err)
	}
	relScratch, _ := filepath.Rel(o.Root, scratch)
	r := &runner{o: o, plan: PlanFor(o.Quick), scratch: scratch, start: start, src: o.Root}
	source := "work tree"
	if !o.WorkTree {
		source = "clean export of HEAD (git archive)"
		dirty = false // the work tree's changes are not measured
	}
	r.s = &results.Suite{Meta: results.Meta{
		Date: start.UTC().Format(time.RFC3339), Commit: commit, ShortCommit: short, Dirty: dirty,
		GoVersion: runtime.Version(), Command: o.Command, Quick: o.Quick, Runs: o.Runs,
		Machine: readMachine(), LoadStart: loadAvg(), Scratch: relScratch, Source: source,
	}}
	r.unavailable("Zeek's Broker (peer)", brokerNote)
	err = r.run(ctx)
	r.s.Meta.DurationSec = o.Now().Sub(start).Seconds()
	r.s.Meta.LoadEnd = loadAvg()
	if err != nil {
		r.s.Notes = append(r.s.Notes, "the run stopped early: "+err.Error())
	}
	return r.s, dir, err
}

// uniqueDir creates parent/name, or parent/name-2, -3, … if it exists.
func uniqueDir(parent, name string) (string, error) {
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("cannot create results dir: %w", err)
	}
	for i := 1; i < 100; i++ {
		d := filepath.Join(parent, name)
		if i > 1 {
			d += "-" + strconv.Itoa(i)
		}
		err := os.Mkdir(d, 0o755)
		if err == nil {
			return d, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("cannot create run dir: %w", err)
		}
	}
	return "", fmt.Errorf("perf: too many runs named %s", name)
}

type runner struct {
	o       Options
	plan    Plan
	s       *results.Suite
	scratch string
	start   time.Time
	src     string // the source tree measured: the root or an export of HEAD
	bench   string // weir-bench
	nats    *natsServer
	natsCLI string
	seq     int // NATS subject counter
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.o.Log, "%s [%4.0fs] %s\n", time.Now().UTC().Format("15:04:05"), r.o.Now().Sub(r.start).Seconds(),
		fmt.Sprintf(format, args...))
}

func (r *runner) unavailable(what, why string) {
	r.s.Unavailable = append(r.s.Unavailable, results.Unavailable{What: what, Why: why})
}

func (r *runner) run(ctx context.Context) error {
	var err error
	if !r.o.WorkTree {
		r.src = filepath.Join(r.scratch, "src")
		r.logf("exporting HEAD (%s) into %s", r.s.Meta.ShortCommit, r.src)
		if err := exportHEAD(ctx, r.o.Root, r.src); err != nil {
			return err
		}
		defer func() { _ = os.RemoveAll(r.src) }()
	}
	r.logf("building weir-bench")
	if r.bench, err = buildWeirBench(ctx, r.src, r.o.BinDir); err != nil {
		return err
	}
	if r.o.wants("pubsub") || r.o.wants("fanout") || r.o.wants("latency") {
		r.startNATS(ctx)
		if r.nats != nil {
			defer r.nats.stop()
		}
	}
	for run := 1; run <= r.o.Runs; run++ {
		weirFirst := run%2 == 1 // alternate who goes first at each point
		if r.o.wants("pubsub") {
			for _, size := range r.plan.Sizes {
				msgs := r.plan.Msgs(size)
				key := results.Key{Group: results.GroupPubSub, Scenario: "relay", Size: size}
				if size < weirMinPayload {
					if run == 1 {
						r.unavailable(fmt.Sprintf("weir at %d B", size), fmt.Sprintf("weir-bench's payload starts with a "+
							"%d-byte header (publisher, sequence, send time) that its loss and latency accounting need, so "+
							"its smallest message is %d B; NATS alone is measured at %d B, and both at %d B",
							weirMinPayload, weirMinPayload, size, weirMinPayload))
					}
					if r.nats != nil {
						r.natsBench(ctx, key, run, size, 1, msgs)
					}
					continue
				}
				r.weirPubSub(ctx, results.Key{Group: results.GroupPubSub, Scenario: "direct", Size: size}, run,
					"--scenario", "direct", "--size", itoa(size), "--msgs", utoa(msgs))
				r.pair(weirFirst,
					func() {
						r.weirPubSub(ctx, key, run, "--scenario", "relay", "--size", itoa(size), "--msgs", utoa(msgs))
					},
					func() { r.natsBench(ctx, key, run, size, 1, msgs) })
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
		if r.o.wants("fanout") {
			for _, subs := range r.plan.FanoutSubs {
				key := results.Key{Group: results.GroupFanout, Scenario: "fanout", Size: r.plan.FanoutSize, Subs: subs}
				r.pair(weirFirst,
					func() {
						r.weirPubSub(ctx, key, run, "--scenario", "fanout", "--subs", itoa(subs),
							"--size", itoa(r.plan.FanoutSize), "--msgs", utoa(r.plan.FanoutMsgs))
					},
					func() { r.natsBench(ctx, key, run, r.plan.FanoutSize, subs, r.plan.FanoutMsgs) })
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
		if r.o.wants("latency") {
			for _, rate := range r.plan.Rates {
				key := results.Key{Group: results.GroupLatency, Scenario: "relay", Size: r.plan.LatencySize, Rate: rate}
				msgs := uint64(rate) * uint64(r.plan.LatencySecs)
				r.pair(weirFirst,
					func() {
						r.weirPubSub(ctx, key, run, "--scenario", "relay", "--size", itoa(r.plan.LatencySize),
							"--rate", strconv.FormatFloat(rate, 'f', -1, 64), "--msgs", utoa(msgs))
					},
					func() { r.natsLatency(ctx, key, run, rate) })
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
	}
	if r.o.wants("micro") {
		r.micro(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if r.o.wants("logs") {
		r.logs(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if r.o.wants("store") {
		r.store(ctx)
	}
	return ctx.Err()
}

// pair runs weir's and the peer's measurement of one point, in the order
// given; the peer's is skipped when it is not available.
func (r *runner) pair(weirFirst bool, weir, peer func()) {
	if r.nats == nil {
		weir()
		return
	}
	if weirFirst {
		weir()
		peer()
		return
	}
	peer()
	weir()
}

func (r *runner) startNATS(ctx context.Context) {
	server, cli, err := ensureNATS(ctx, r.o.Root, r.o.BinDir, r.logf)
	if err == nil {
		r.nats, err = startNATS(ctx, server, r.scratch)
	}
	if err != nil {
		r.logf("NATS is not available: %v", err)
		r.unavailable("NATS (peer)", err.Error())
		return
	}
	r.natsCLI = cli
	r.s.Meta.Peers = append(r.s.Meta.Peers, "nats-server "+natsServerVer+" and the nats CLI "+natsCLIVer+
		" (`nats bench`, `nats latency`), on 127.0.0.1")
	r.logf("nats-server at %s", r.nats.URL)
}

// rawPath returns a scratch file name for a sample and the name recorded
// in it (relative to the scratch dir).
func (r *runner) rawPath(system string, key results.Key, run int, ext string) (string, string) {
	name := fmt.Sprintf("%s-%s-r%d%s", system, slug(key), run, ext)
	return filepath.Join(r.scratch, name), name
}

func slug(k results.Key) string {
	return strings.NewReplacer(" ", "-", "=", "").Replace(k.String())
}

func (r *runner) record(smp results.Sample) {
	r.s.Samples = append(r.s.Samples, smp)
	head := fmt.Sprintf("%-4s %s run %d", smp.System, smp.Key, smp.Run)
	switch {
	case smp.Error != "":
		r.logf("%s: %s", head, smp.Error)
	case smp.Key.Group == results.GroupLatency:
		r.logf("%s: p50 %s µs, p99 %s µs", head, results.Num(smp.Metrics[results.P50]), results.Num(smp.Metrics[results.P99]))
	default:
		r.logf("%s: %s msgs/s", head, results.Num(smp.Metrics[results.MsgsPerSec]))
	}
}

// weirPubSub runs `weir-bench pubsub ARGS --json` and records the sample.
func (r *runner) weirPubSub(ctx context.Context, key results.Key, run int, args ...string) {
	path, name := r.rawPath(results.Weir, key, run, ".json")
	args = append([]string{"pubsub"}, args...)
	args = append(args, "--json", "--timeout", r.plan.RunTimeout.String())
	p := runCmd(ctx, cmdSpec{Dir: r.scratch, Timeout: r.plan.RunTimeout + 30*time.Second, Raw: path}, r.bench, args...)
	smp := results.Sample{Key: key, System: results.Weir, Run: run, Raw: name}
	m, err := parseWeirPubSub(p.Stdout, p.CPUSec())
	switch {
	case err != nil && m == nil:
		smp.Error = fmt.Sprintf("%v (exit %d): %s", err, p.exitCode(), p.tail(300))
	case err != nil:
		smp.Error = err.Error()
	case p.Err != nil:
		smp.Error = fmt.Sprintf("weir-bench: %v: %s", p.Err, p.tail(300))
	}
	if m != nil {
		m["wall_sec"] = p.Wall.Seconds()
		if key.Group == results.GroupLatency {
			m[results.AchievedRate] = m["pub_msgs_per_sec"]
		}
	}
	smp.Metrics = m
	r.record(smp)
}

// natsBench runs `nats bench sub` with subs clients and `nats bench pub`
// against the suite's server and records the subscribers' aggregate rate
// and the CPU of the server and both clients.
func (r *runner) natsBench(ctx context.Context, key results.Key, run, size, subs int, msgs uint64) {
	r.seq++
	subject := "weirbench" + strconv.Itoa(r.seq)
	path, name := r.rawPath(results.NATS, key, run, ".sub.txt")
	smp := results.Sample{Key: key, System: results.NATS, Run: run, Raw: name}
	defer func() { r.record(smp) }()
	out, err := os.Create(path)
	if err != nil {
		smp.Error = err.Error()
		return
	}
	defer func() { _ = out.Close() }()
	cpu0 := r.nats.cpu()
	start := time.Now()
	sub := exec.Command(r.natsCLI, "-s", r.nats.URL, "bench", "sub", subject, "--clients", itoa(subs),
		"--msgs", utoa(msgs), "--size", itoa(size), "--no-progress")
	sub.Stdout, sub.Stderr = out, out
	if err := sub.Start(); err != nil {
		smp.Error = "cannot start nats bench sub: " + err.Error()
		return
	}
	subDone := make(chan error, 1)
	go func() { subDone <- sub.Wait() }()
	stopSub := func() {
		_ = sub.Process.Kill()
		<-subDone
	}
	// The publisher may only start once every subscriber is registered.
	deadline := time.Now().Add(15 * time.Second)
	for {
		n, err := r.nats.subscriptions(ctx, subject)
		if err == nil && n >= subs {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stopSub()
			smp.Error = fmt.Sprintf("NATS subscribers did not subscribe within 15 s (%d of %d, %v)", n, subs, err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	pubPath := strings.TrimSuffix(path, ".sub.txt") + ".pub.txt"
	pub := runCmd(ctx, cmdSpec{Dir: r.scratch, Timeout: r.plan.RunTimeout, Raw: pubPath}, r.natsCLI, "-s", r.nats.URL,
		"bench", "pub", subject, "--msgs", utoa(msgs), "--size", itoa(size), "--no-progress")
	if pub.Err != nil {
		stopSub()
		smp.Error = fmt.Sprintf("nats bench pub: %v: %s", pub.Err, pub.tail(300))
		return
	}
	// A slow consumer is cut off by the server and would wait forever.
	select {
	case <-subDone:
	case <-time.After(r.plan.NATSWait):
		stopSub()
		smp.Error = fmt.Sprintf("NATS subscribers did not receive every message within %s of the publisher's end "+
			"(slow consumer disconnected by the server)", r.plan.NATSWait)
		return
	case <-ctx.Done():
		stopSub()
		smp.Error = ctx.Err().Error()
		return
	}
	wall := time.Since(start)
	subCPU := sub.ProcessState.UserTime() + sub.ProcessState.SystemTime()
	cpu := (r.nats.cpu() - cpu0 + subCPU + pub.CPU).Seconds()
	text, _ := os.ReadFile(path)
	res, err := parseNATSBenchSub(string(text))
	if err != nil {
		smp.Error = err.Error()
		return
	}
	smp.Metrics = map[string]float64{
		results.MsgsPerSec:       res.MsgsPerSec,
		results.PerSubMsgsPerSec: res.PerSubMsgsPerSec,
		results.MBPerSec:         res.MsgsPerSec * float64(size) / 1e6,
		"cpu_sec":                cpu,
		results.CPUNsPerMsg:      cpu * 1e9 / float64(msgs),
		results.CPUNsPerDelivery: cpu * 1e9 / float64(msgs*uint64(subs)),
		"wall_sec":               wall.Seconds(),
	}
	if !sub.ProcessState.Success() {
		smp.Error = "nats bench sub exited with " + sub.ProcessState.String()
	}
}

// natsLatency runs `nats latency` at a fixed rate through the suite's
// server (publisher and subscriber both on it).
func (r *runner) natsLatency(ctx context.Context, key results.Key, run int, rate float64) {
	path, name := r.rawPath(results.NATS, key, run, ".txt")
	smp := results.Sample{Key: key, System: results.NATS, Run: run, Raw: name}
	p := runCmd(ctx, cmdSpec{Dir: r.scratch, Timeout: time.Duration(r.plan.LatencySecs)*time.Second + r.plan.NATSWait, Raw: path},
		r.natsCLI, "-s", r.nats.URL, "latency", "--server-b", r.nats.URL, "--size", itoa(key.Size),
		"--rate", strconv.FormatFloat(rate, 'f', 0, 64), "--duration", strconv.Itoa(r.plan.LatencySecs)+"s")
	l, err := parseNATSLatency(string(p.Stdout) + "\n" + string(p.Stderr))
	switch {
	case err != nil:
		smp.Error = fmt.Sprintf("%v (exit %d): %s", err, p.exitCode(), p.tail(300))
	default:
		smp.Metrics = map[string]float64{results.P50: l.P50, results.P90: l.P90, results.P99: l.P99, results.P999: l.P999,
			results.AchievedRate: l.ActualRate}
		if p.Err != nil {
			smp.Error = "nats latency: " + p.Err.Error()
		}
	}
	r.record(smp)
}

func itoa(n int) string    { return strconv.Itoa(n) }
func utoa(n uint64) string { return strconv.FormatUint(n, 10) }
