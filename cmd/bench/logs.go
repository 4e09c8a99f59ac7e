package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/bench"
)

// logs runs "weir-bench logs": workers → loggers with conn.log records.
func logs(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var (
		c                 bench.LogsConfig
		codec, role, name string
		listen, dir       string
		jsonOut, verbose  bool
		inProcess         bool
		cpuprof           string
	)
	fs := flag.NewFlagSet("weir-bench logs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.Workers, "workers", 1, "worker nodes (in this process)")
	fs.IntVar(&c.Loggers, "loggers", 1, "logger nodes (child processes)")
	fs.IntVar(&c.Writers, "writers", 1, "goroutines writing records on each worker")
	fs.Uint64Var(&c.Records, "records", 2_000_000, "records written in total")
	fs.StringVar(&codec, "codec", "s2", "batch compression: s2, zstd or none")
	fs.IntVar(&c.Batch, "batch", 400, "records per batch (Zeek: 400)")
	fs.IntVar(&c.Window, "window", 0, "batches sent to a logger and not yet acknowledged, at most (default 256, logsink.DefaultWindow)")
	fs.StringVar(&c.Dir, "dir", "", "directory for the loggers' files (default: a temp dir, removed)")
	fs.BoolVar(&c.Keep, "keep", false, "keep the loggers' files")
	fs.Float64Var(&c.KillAt, "kill-at", 0, "SIGKILL logger 0 once this fraction of the records is written (e.g. 0.5), restart it, and verify every record is in the files exactly once")
	fs.DurationVar(&c.RestartAfter, "restart-after", 0, "with --kill-at: how long logger 0 stays down (default 1s)")
	fs.BoolVar(&c.Verify, "verify", false, "read the files afterwards and check every record id appears exactly once")
	fs.DurationVar(&c.Timeout, "timeout", 0, "bound on the whole run (default 10m)")
	fs.BoolVar(&inProcess, "in-process", false, "run the loggers in this process (no SIGKILL, CPU not split)")
	fs.BoolVar(&jsonOut, "json", false, "print one JSON object")
	fs.BoolVar(&verbose, "v", false, "log node events at info level on stderr")
	fs.StringVar(&cpuprof, "cpuprofile", "", "write CPU profiles: with --role to this file; otherwise this process (the workers) to FILE-workers.pprof and each logger child to FILE-logger<i>.pprof")
	fs.StringVar(&role, "role", "", "internal: play a logger (with --name, --listen, --dir)")
	fs.StringVar(&name, "name", "logger-0", "with --role logger: node name")
	fs.StringVar(&listen, "listen", "127.0.0.1:0", "with --role logger: address to listen on")
	fs.StringVar(&dir, "logdir", "", "with --role logger: directory of its files")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c.Log = benchLogger(stderr, verbose)
	if role != "" {
		if role != "logger" {
			return fmt.Errorf("unknown role %q (want logger)", role)
		}
		if dir == "" {
			dir = c.Dir
		}
		if cpuprof != "" {
			f, err := os.Create(cpuprof)
			if err != nil {
				return fmt.Errorf("cannot create CPU profile: %w", err)
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return fmt.Errorf("cannot start CPU profile: %w", err)
			}
			defer pprof.StopCPUProfile()
		}
		return bench.ServeLogger(ctx, name, listen, dir, stdin, stdout, c.Log)
	}
	switch codec {
	case "s2":
		c.Codec = frame.CodecS2
	case "zstd":
		c.Codec = frame.CodecZstd
	case "none":
		c.Codec = frame.CodecNone
	default:
		return fmt.Errorf("unknown codec %q (want s2, zstd or none)", codec)
	}
	c.CPUProfile = cpuprof
	if !inProcess {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		c.Exe = exe
	}
	res, err := bench.RunLogs(ctx, c)
	if err != nil {
		return err
	}
	if jsonOut {
		return writeJSON(stdout, res, res.Clean())
	}
	fmt.Fprintf(stdout, "logs: %d worker(s) → %d logger(s), %d records, codec %s, batch %d\n",
		res.Workers, res.Loggers, res.Records, res.Codec, res.Batch)
	fmt.Fprintf(stdout, "  %.0f records/s end to end (written and fsynced at the loggers) in %.2fs\n", res.RecordsPerSec, res.Seconds)
	fmt.Fprintf(stdout, "  wire %.1f B/record, raw %.1f B/record (ratio %.2f), files %.1f B/record (%.2f× the wire)\n",
		res.WireBytesPerRecord, res.RawBytesPerRecord, res.CompressionRatio, res.FileBytesPerRecord, res.FileRatio)
	fmt.Fprintf(stdout, "  CPU %.0f ns/record (workers %.0f, loggers %.0f)\n", res.CPUNsPerRecord, res.WorkerCPUNsPerRec, res.LoggerCPUNsPerRec)
	if res.Killed {
		fmt.Fprintf(stdout, "  logger-0 killed (SIGKILL) after %d records and restarted; %d batches sent again on its return, %d resent after a timeout\n",
			res.RecordsAtKill, res.ReturnedBatches, res.ResentBatches)
	}
	if res.Verified {
		fmt.Fprintf(stdout, "  verified: %d lost, %d duplicated, %d dropped\n", res.Lost, res.Duplicates, res.Dropped)
	}
	return cleanErr(res.Clean())
}
