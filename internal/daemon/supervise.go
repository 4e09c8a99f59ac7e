package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Child is one process Supervise starts.
type Child struct {
	Name string
	Args []string // argv[0] is the program
}

// Supervise starts every child, copies each output line to w prefixed with
// "[name] ", and when ctx is cancelled sends them SIGTERM (SIGKILL after
// grace). It returns when all children have exited; a child that exits on
// its own while the others run is reported and makes Supervise stop the
// rest (a local cluster is all or nothing).
func Supervise(ctx context.Context, children []Child, w io.Writer, grace time.Duration) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu   sync.Mutex // serializes lines to w
		wg   sync.WaitGroup
		errs = make([]error, len(children))
	)
	cmds := make([]*exec.Cmd, len(children))
	for i, ch := range children {
		cmd := exec.Command(ch.Args[0], ch.Args[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		pr, pw := io.Pipe()
		cmd.Stdout, cmd.Stderr = pw, pw
		if err := cmd.Start(); err != nil {
			cancel()
			for _, c := range cmds[:i] {
				_ = c.Process.Signal(syscall.SIGTERM)
			}
			return fmt.Errorf("cannot start %s: %w", ch.Name, err)
		}
		cmds[i] = cmd
		wg.Add(2)
		go func(name string) {
			defer wg.Done()
			sc := bufio.NewScanner(pr)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				mu.Lock()
				fmt.Fprintf(w, "[%s] %s\n", name, sc.Text())
				mu.Unlock()
			}
			_, _ = io.Copy(io.Discard, pr)
		}(ch.Name)
		go func(i int) {
			defer wg.Done()
			err := cmds[i].Wait()
			_ = pw.Close()
			if ctx.Err() == nil {
				errs[i] = fmt.Errorf("%s exited early: %v", children[i].Name, err)
				cancel() // one down: stop the cluster
			} else if err != nil {
				errs[i] = fmt.Errorf("%s: %w", children[i].Name, err)
			}
		}(i)
	}
	<-ctx.Done()
	for _, c := range cmds {
		_ = c.Process.Signal(syscall.SIGTERM)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		for _, c := range cmds {
			_ = c.Process.Kill()
		}
		<-done
	}
	return errors.Join(errs...)
}
