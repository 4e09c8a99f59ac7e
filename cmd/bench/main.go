package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/weirio/weir/internal/bench"
)

const usage = `usage: weir-bench <scenario> [flags]

Scenarios:
  pubsub   publish/subscribe throughput and latency, in the manner of "nats bench"
  logs     workers ship conn.log records to loggers that write files
  store    replicated store: puts, put_unique, gets, staleness, expiry wave
           (master and clones in child processes, writers in this one,
           over loopback TCP)

Run "weir-bench <scenario> -h" for its flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var err error
	switch os.Args[1] {
	case "pubsub":
		err = pubsub(ctx, os.Args[0], os.Args[2:], os.Stdin, os.Stdout, os.Stderr)
	case "logs":
		err = logs(ctx, os.Args[2:], os.Stdin, os.Stdout, os.Stderr)
	case "store":
		err = store(ctx, os.Args[2:], os.Stdin, os.Stdout, os.Stderr)
	case "help", "-h", "--help":
		fmt.Fprint(os.Stdout, usage)
		stop()
		return
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case errors.Is(err, errUnclean):
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "weir-bench:", err)
		os.Exit(1)
	}
}

var errUnclean = errors.New("messages were lost, duplicated, reordered or dropped")

type flags struct {
	cfg      bench.Config
	scenario string
	json     bool
	latency  bool
	progress bool
	role     string
	id       int
	listen   string
	connect  string
	cpuprof  string
	verbose  bool
}

func parse(args []string, stderr io.Writer) (*flags, error) {
	f := &flags{}
	fs := flag.NewFlagSet("weir-bench pubsub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &f.cfg
	fs.StringVar(&f.scenario, "scenario", "direct", "topology: direct (pub → sub), relay (pub → relay → sub) or fanout (pub → relay → N subs)")
	fs.IntVar(&c.Size, "size", bench.DefaultSize, "payload bytes per message (at least 24)")
	fs.Uint64Var(&c.Msgs, "msgs", bench.DefaultMsgs, "messages published in total (split over publishers); every subscriber gets all")
	fs.IntVar(&c.Pubs, "pubs", 1, "publishers")
	fs.IntVar(&c.Subs, "subs", 0, "subscribers (default 1; fanout: 4)")
	fs.Float64Var(&c.Rate, "rate", 0, "total publish rate in msgs/s; 0 = as fast as possible")
	fs.BoolVar(&f.latency, "latency", false, "measure the max rate first, then rerun at half of it and report latency there")
	fs.BoolVar(&f.json, "json", false, "print one JSON object instead of text (no progress bar)")
	fs.BoolVar(&f.progress, "progress", true, "show a progress bar on stderr when it is a terminal")
	fs.DurationVar(&c.Timeout, "timeout", bench.DefaultTimeout, "bound on the whole run; children are killed after it")
	fs.DurationVar(&c.Idle, "idle", bench.DefaultIdle, "once publishers are done, stop waiting after subscribers stall this long")
	fs.DurationVar(&c.PublishWait, "publish-wait", bench.DefaultPublishWait, "how long a publisher waits for room in a full peer queue before dropping")
	fs.IntVar(&c.Loops, "loops", 0, "event loops per node engine (0: netio.DefaultLoops, half of GOMAXPROCS)")
	fs.IntVar(&c.QueueFrames, "queue", bench.DefaultQueueFrames, "per-peer outbound queue bound in frames; keep above pubs × window")
	fs.IntVar(&c.Window, "window", 0, "flow control: messages a publisher may have unacknowledged by the slowest subscriber (0: ~1 MiB worth, at most 8192; -1: off)")
	fs.IntVar(&c.AckEvery, "ack-every", 0, "messages between a subscriber's acknowledgments (0: window/4)")
	fs.StringVar(&f.cpuprof, "cpuprofile", "", "write CPU profiles: with --role to this file; otherwise each child to FILE-<role><id>.pprof")
	fs.BoolVar(&f.verbose, "v", false, "log node events at info level on stderr")
	fs.StringVar(&f.role, "role", "", "play one role only: pub, sub or relay (speaks the control protocol on stdin/stdout)")
	fs.IntVar(&f.id, "id", 0, "with --role: publisher id or subscriber index")
	fs.StringVar(&f.listen, "listen", "", "with --role: address to listen on")
	fs.StringVar(&f.connect, "connect", "", "with --role: comma-separated addresses to peer with")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if err := positiveFlags(fs, "size", "msgs", "pubs", "timeout", "idle", "publish-wait", "queue"); err != nil {
		return nil, err
	}
	sc, err := bench.ParseScenario(f.scenario)
	if err != nil {
		return nil, err
	}
	c.Scenario = sc
	return f, nil
}

func pubsub(ctx context.Context, self string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f, err := parse(args, stderr)
	if err != nil {
		return err
	}
	log := benchLogger(stderr, f.verbose)
	if f.role != "" {
		return serveRole(ctx, f, stdin, stdout, log)
	}
	exe, err := os.Executable()
	if err != nil {
		exe = self
	}
	f.cfg.CPUProfile = f.cpuprof
	l := bench.Exec{Path: exe, Args: childArgs(f), Stderr: stderr}
	progress := progressFunc(f, stderr)
	if f.latency {
		maxRun, halfRun, err := bench.RunLatency(ctx, f.cfg, l, progress)
		if err != nil {
			return err
		}
		if f.json {
			return writeJSON(stdout, map[string]any{"throughput": maxRun, "latency": halfRun}, maxRun.Clean() && halfRun.Clean())
		}
		if err := bench.WriteText(stdout, maxRun); err != nil {
			return err
		}
		fmt.Fprintln(stdout)
		if err := bench.WriteText(stdout, halfRun); err != nil {
			return err
		}
		return cleanErr(maxRun.Clean() && halfRun.Clean())
	}
	rep, err := bench.Run(ctx, f.cfg, l, progress)
	if err != nil {
		return err
	}
	if f.json {
		return writeJSON(stdout, rep, rep.Clean())
	}
	if err := bench.WriteText(stdout, rep); err != nil {
		return err
	}
	return cleanErr(rep.Clean())
}

func serveRole(ctx context.Context, f *flags, stdin io.Reader, stdout io.Writer, log *slog.Logger) error {
	role, err := bench.ParseRole(f.role)
	if err != nil {
		return err
	}
	spec := bench.RoleSpec{Role: role, ID: f.id, Listen: f.listen, CPUProfile: f.cpuprof, Config: f.cfg}
	if f.connect != "" {
		spec.Connect = strings.Split(f.connect, ",")
	}
	err = bench.ServeRole(ctx, spec, stdin, stdout, log)
	if err != nil {
		// Already reported to the parent as an ERROR line.
		os.Exit(1)
	}
	return nil
}

// childArgs returns the arguments that make this binary play a role with
// the run's configuration.
func childArgs(f *flags) func(bench.RoleSpec) []string {
	return func(s bench.RoleSpec) []string {
		c := s.Config
		a := []string{"pubsub", "--role", string(s.Role), "--id", strconv.Itoa(s.ID),
			"--scenario", string(c.Scenario), "--size", strconv.Itoa(c.Size),
			"--msgs", strconv.FormatUint(c.Msgs, 10), "--pubs", strconv.Itoa(c.Pubs), "--subs", strconv.Itoa(c.Subs),
			"--rate", strconv.FormatFloat(c.Rate, 'g', -1, 64),
			"--publish-wait", c.PublishWait.String(), "--loops", strconv.Itoa(c.Loops), "--queue", strconv.Itoa(c.QueueFrames),
			"--window", strconv.Itoa(c.Window), "--ack-every", strconv.Itoa(c.AckEvery),
			"--timeout", c.Timeout.String()}
		if s.Listen != "" {
			a = append(a, "--listen", s.Listen)
		}
		if len(s.Connect) > 0 {
			a = append(a, "--connect", strings.Join(s.Connect, ","))
		}
		if s.CPUProfile != "" {
			a = append(a, "--cpuprofile", s.CPUProfile)
		}
		if f.verbose {
			a = append(a, "-v")
		}
		return a
	}
}

// progressFunc returns a progress bar callback, or nil when the output is
// for machines or stderr is not a terminal.
func progressFunc(f *flags, stderr io.Writer) bench.ProgressFunc {
	if f.json || !f.progress || !isTerminal(stderr) {
		return nil
	}
	var bar *progressbar.ProgressBar
	var lastTotal uint64
	return func(done, total uint64) {
		if bar == nil || total != lastTotal || done < uint64(bar.State().CurrentNum) {
			if bar != nil {
				_ = bar.Finish()
			}
			lastTotal = total
			bar = progressbar.NewOptions64(int64(total), progressbar.OptionSetWriter(stderr),
				progressbar.OptionSetDescription("messages delivered"), progressbar.OptionShowCount(),
				progressbar.OptionShowIts(), progressbar.OptionSetItsString("msgs"),
				progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
		}
		_ = bar.Set64(int64(done))
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	file, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := file.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func writeJSON(w io.Writer, v any, clean bool) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	return cleanErr(clean)
}

func cleanErr(clean bool) error {
	if clean {
		return nil
	}
	return errUnclean
}

// parseFlags parses a scenario's flags and refuses stray arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return nil
}

// positiveFlags fails when one of the named flags was set to zero or
// less: for those, a configuration's zero means its default, which a
// command line's explicit 0 must not silently become.
func positiveFlags(fs *flag.FlagSet, names ...string) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		g, ok := f.Value.(flag.Getter)
		if err != nil || !ok || !slices.Contains(names, f.Name) {
			return
		}
		pos := true
		switch v := g.Get().(type) {
		case int:
			pos = v > 0
		case uint64:
			pos = v > 0
		case float64:
			pos = v > 0
		case time.Duration:
			pos = v > 0
		}
		if !pos {
			err = fmt.Errorf("--%s must be positive, not %s", f.Name, f.Value)
		}
	})
	return err
}

// benchLogger logs to stderr: warnings, or node events too with -v.
func benchLogger(stderr io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}
