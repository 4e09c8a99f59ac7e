package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/weirio/weir/perf/internal/compare"
	"github.com/weirio/weir/perf/internal/results"
	"github.com/weirio/weir/perf/internal/suite"
)

const usage = `usage:
  weir-perf run [--quick] [--runs N] [--only PARTS] [--worktree]
                                                      measure, write perf/results/<date>-<commit>[-quick]/
  weir-perf compare [--all] OLD_DIR NEW_DIR           diff two result directories
  weir-perf report DIR                                redraw plots and results.md from DIR/results.json
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "run":
		err = run(ctx, os.Args[2:], os.Stdout, os.Stderr)
	case "compare":
		err = cmpDirs(os.Args[2:], os.Stdout, os.Stderr)
	case "report":
		err = report(os.Args[2:])
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "weir-perf:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("weir-perf run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "short run: fewer messages, one run per point (about 3 minutes on 2 cores)")
	runs := fs.Int("runs", 0, "runs per scenario point, weir and NATS interleaved (default 1 quick, 3 full)")
	worktree := fs.Bool("worktree", false, "measure the work tree as it is (default: a clean export of HEAD, the commit recorded)")
	out := fs.String("results", "", "directory to create the run directory in (default perf/results)")
	only := fs.String("only", "", "comma-separated parts to run: pubsub, fanout, latency, micro, logs, store (default all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	o := suite.Options{Root: root, Quick: *quick, Runs: *runs, Command: strings.TrimSpace("perf/run " + strings.Join(args, " ")), Log: stderr,
		ResultsDir: *out, WorkTree: *worktree}
	if *only != "" {
		o.Only = strings.Split(*only, ",")
	}
	s, dir, runErr := suite.Run(ctx, o)
	if s == nil {
		return runErr
	}
	if err := suite.WriteReport(dir, s); err != nil {
		return errors.Join(runErr, err)
	}
	fmt.Fprintf(stdout, "%s\nresults: %s\nraw output: %s\n", results.Headline(s), dir, s.Meta.Scratch)
	return runErr
}

func cmpDirs(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("weir-perf compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	all := fs.Bool("all", false, "compare every recorded metric, not only the headline ones")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("compare wants two result directories: OLD NEW")
	}
	old, err := results.Load(fs.Arg(0))
	if err != nil {
		return err
	}
	cur, err := results.Load(fs.Arg(1))
	if err != nil {
		return err
	}
	return compare.Write(stdout, old, cur, *all)
}

func report(args []string) error {
	if len(args) != 1 {
		return errors.New("report wants one result directory")
	}
	s, err := results.Load(args[0])
	if err != nil {
		return err
	}
	return suite.WriteReport(args[0], s)
}
