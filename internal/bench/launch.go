package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"sync"
	"time"
)

// Child is a running role, seen from the parent.
type Child interface {
	// Lines returns the child's control lines; it is closed when the
	// child's output ends.
	Lines() <-chan string
	// Send writes one command line to the child.
	Send(cmd string) error
	// CloseInput ends the child's input, which tells it to exit.
	CloseInput()
	// Wait waits for the child to exit and returns its failure, if any.
	Wait() error
	// Kill ends the child at once.
	Kill()
}

// Launcher starts roles.
type Launcher interface {
	Start(ctx context.Context, spec RoleSpec) (Child, error)
}

// InProcess runs each role on goroutines of this process, talking the
// control protocol over pipes. Tests use it; a profile covers all roles
// at once.
type InProcess struct {
	// Log receives the roles' node logs. Default: warnings to stderr.
	Log *slog.Logger
}

// Start implements Launcher.
func (l InProcess) Start(ctx context.Context, spec RoleSpec) (Child, error) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	c := &pipeChild{in: inW, lines: make(chan string, 64), done: make(chan struct{})}
	ctx, c.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go readLines(outR, c.lines)
	go func() {
		defer close(c.done)
		c.err = ServeRole(ctx, spec, inR, outW, l.Log)
		_ = inR.Close()
		_ = outW.Close()
	}()
	return c, nil
}

type pipeChild struct {
	in     *io.PipeWriter
	lines  chan string
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// Lines implements Child.
func (c *pipeChild) Lines() <-chan string { return c.lines }

// Send implements Child.
func (c *pipeChild) Send(cmd string) error {
	_, err := io.WriteString(c.in, cmd+"\n")
	return err
}

// CloseInput implements Child.
func (c *pipeChild) CloseInput() { _ = c.in.Close() }

// Wait implements Child.
func (c *pipeChild) Wait() error {
	<-c.done
	if errors.Is(c.err, errStopped) {
		return nil
	}
	return c.err
}

// Kill implements Child.
func (c *pipeChild) Kill() { c.cancel() }

// Exec runs each role as a child process (normally this program's own
// binary). Children exit when their standard input ends, so they do not
// outlive the parent; on Linux they are also killed if the parent dies.
type Exec struct {
	// Path is the program to run.
	Path string
	// Args returns the command-line arguments that make Path play spec.
	Args func(spec RoleSpec) []string
	// Stderr receives the children's standard error, each line prefixed
	// with the role's name. Default: discarded.
	Stderr io.Writer
}

// Start implements Launcher.
func (l Exec) Start(_ context.Context, spec RoleSpec) (Child, error) {
	cmd := exec.Command(l.Path, l.Args(spec)...)
	setParentDeath(cmd)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", spec.Role, err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", spec.Role, err)
	}
	if l.Stderr != nil {
		cmd.Stderr = &prefixWriter{w: l.Stderr, prefix: []byte(fmt.Sprintf("[%s %d] ", spec.Role, spec.ID))}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", spec.Role, err)
	}
	c := &procChild{cmd: cmd, in: in, lines: make(chan string, 64), read: make(chan struct{})}
	raw := make(chan string, 64)
	go readLines(out, raw)
	go func() { // relay lines, then note the output's end for Wait
		defer close(c.lines)
		defer close(c.read)
		for line := range raw {
			c.lines <- line
		}
	}()
	return c, nil
}

type procChild struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
	read  chan struct{}
	mu    sync.Mutex
}

// Lines implements Child.
func (c *procChild) Lines() <-chan string { return c.lines }

// Send implements Child.
func (c *procChild) Send(cmd string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := io.WriteString(c.in, cmd+"\n")
	return err
}

// CloseInput implements Child.
func (c *procChild) CloseInput() {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.in.Close()
}

// Wait waits for the output to end (os/exec requires reading to finish
// before Wait) and then for the process, bounded so a stuck reader cannot
// hang the parent.
func (c *procChild) Wait() error {
	select {
	case <-c.read:
	case <-time.After(10 * time.Second):
		c.Kill()
	}
	return c.cmd.Wait()
}

// Kill implements Child.
func (c *procChild) Kill() { _ = c.cmd.Process.Kill() }

// prefixWriter prefixes every line written through it.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix []byte
	mid    bool // inside a line
}

// Write implements io.Writer.
func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(b)
	var out []byte
	for len(b) > 0 {
		if !p.mid {
			out = append(out, p.prefix...)
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b...)
			p.mid = true
			break
		}
		out = append(out, b[:i+1]...)
		b = b[i+1:]
		p.mid = false
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return n, nil
}
