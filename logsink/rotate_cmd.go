package logsink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"
)

// CommandOptions configure the command run on each rotated file (Zeek's
// rotation postprocessor; RotateOptions.Command). The zero value runs
// none.
type CommandOptions struct {
	// Args is the program and its arguments; the rotated file's path is
	// appended as the last argument. For a shell line, use
	// {"sh", "-c", `gzip "$1"`, "sh"}: the path is then $1. Default none.
	Args []string
	// Dir is the command's working directory. Default the log directory.
	Dir string
	// Timeout bounds one run: past it the command is killed and the run
	// counts as failed. Default 1 min.
	Timeout time.Duration
	// Queue bounds the rotated files waiting for their command. Past it a
	// file is not processed, and that is counted and logged: a slow
	// command never holds up writing. Default 64.
	Queue int
	// Log gets a line for each failed run and each file not processed.
	// Default slog.Default().
	Log *slog.Logger
}

// Defaults of CommandOptions.
const (
	DefaultCommandTimeout = time.Minute
	DefaultCommandQueue   = 64
)

// Enabled reports whether a command is configured.
func (o *CommandOptions) Enabled() bool { return len(o.Args) > 0 }

// EnsureDefaults fills zero fields with their defaults (Dir excepted) and
// returns o.
func (o *CommandOptions) EnsureDefaults() *CommandOptions {
	if o.Timeout == 0 {
		o.Timeout = DefaultCommandTimeout
	}
	if o.Queue == 0 {
		o.Queue = DefaultCommandQueue
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return o
}

// Validate reports options that cannot work.
func (o *CommandOptions) Validate() error {
	switch {
	case len(o.Args) > 0 && o.Args[0] == "":
		return fmt.Errorf("%w: Command has an empty program name", ErrBadRotateOptions)
	case o.Timeout < 0:
		return fmt.Errorf("%w: Command.Timeout %v", ErrBadRotateOptions, o.Timeout)
	case o.Queue < 0:
		return fmt.Errorf("%w: Command.Queue %d", ErrBadRotateOptions, o.Queue)
	}
	return nil
}

// CommandMetrics counts a CommandRunner's work.
type CommandMetrics struct {
	Runs    uint64 // commands that exited with status 0
	Failed  uint64 // commands that could not start, exited non-zero or timed out
	Dropped uint64 // rotated files not processed: the queue was full, or the runner closed
}

// CommandRunner runs the configured command on rotated files, one at a
// time, on its own goroutine: Rotated only queues the path, so rotating
// (and so writing) never waits for a command. A RotatingFile or Sink with
// RotateOptions.Command set starts one and stops it with Close; a caller
// may also share one (SinkOptions.Commands).
//
// Rotated and Metrics are safe for concurrent use.
type CommandRunner struct {
	opts CommandOptions
	mu   struct {
		sync.Mutex
		q      []string
		closed bool
	}
	wake                  chan struct{}
	done                  chan struct{}
	runs, failed, dropped atomic.Uint64
}

// NewCommandRunner starts a runner; opts.Args must be set. dir is the
// working directory when opts.Dir is empty.
func NewCommandRunner(opts CommandOptions, dir string) (*CommandRunner, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if !opts.Enabled() {
		return nil, fmt.Errorf("%w: no Command", ErrBadRotateOptions)
	}
	if opts.Dir == "" {
		opts.Dir = dir
	}
	c := &CommandRunner{opts: opts, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go c.run()
	return c, nil
}

// Rotated queues the command for the rotated file path. It never blocks:
// past the queue bound, or after Close, the file is dropped (counted and
// logged).
func (c *CommandRunner) Rotated(path string) {
	c.mu.Lock()
	if c.mu.closed || len(c.mu.q) >= c.opts.Queue {
		closed := c.mu.closed
		c.mu.Unlock()
		c.dropped.Add(1)
		c.opts.Log.Error("rotated log file not post-processed", "path", path, "queue_full", !closed, "closed", closed)
		return
	}
	c.mu.q = append(c.mu.q, path)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Metrics returns a snapshot of the counters.
func (c *CommandRunner) Metrics() CommandMetrics {
	return CommandMetrics{Runs: c.runs.Load(), Failed: c.failed.Load(), Dropped: c.dropped.Load()}
}

// Close runs the commands still queued (each bounded by Timeout), then
// stops the runner. Later Rotated calls are dropped. It may be called more
// than once.
func (c *CommandRunner) Close() {
	c.mu.Lock()
	already := c.mu.closed
	c.mu.closed = true
	c.mu.Unlock()
	if !already {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	<-c.done
}

func (c *CommandRunner) run() {
	defer close(c.done)
	for {
		c.mu.Lock()
		if len(c.mu.q) == 0 {
			closed := c.mu.closed
			c.mu.Unlock()
			if closed {
				return
			}
			<-c.wake
			continue
		}
		path := c.mu.q[0]
		c.mu.q[0] = ""
		c.mu.q = c.mu.q[1:]
		c.mu.Unlock()
		c.runOne(path)
	}
}

// maxCommandOutput bounds the output of a failed command kept for its log
// line.
const maxCommandOutput = 2 << 10

func (c *CommandRunner) runOne(path string) {
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.Timeout)
	defer cancel()
	args := append(c.opts.Args[1:len(c.opts.Args):len(c.opts.Args)], path)
	cmd := exec.CommandContext(ctx, c.opts.Args[0], args...)
	cmd.Dir = c.opts.Dir
	out := &limitedBuffer{max: maxCommandOutput}
	cmd.Stdout, cmd.Stderr = out, out
	// A killed command's children may hold its output pipe open; do not
	// wait for them.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err == nil {
		c.runs.Add(1)
		return
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("timed out after %v: %w", c.opts.Timeout, err)
	}
	c.failed.Add(1)
	c.opts.Log.Error("rotation command failed", "path", path, "command", c.opts.Args, "err", err,
		"output", out.String())
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
