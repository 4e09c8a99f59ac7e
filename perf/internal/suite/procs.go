package suite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat times; it is 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// proc is the outcome of one command.
type proc struct {
	Stdout []byte
	Stderr []byte
	// CPU is the user + system time of the process and of every
	// descendant it waited for (Linux reports both in wait4's rusage), so
	// a weir-bench parent accounts for all of its role processes.
	CPU  time.Duration
	Wall time.Duration
	Err  error // nil on exit 0
}

// CPUSec is CPU in seconds.
func (p *proc) CPUSec() float64 { return p.CPU.Seconds() }

// exitCode returns the exit status, or -1 if the process did not exit
// normally (or did not start).
func (p *proc) exitCode() int {
	var ee *exec.ExitError
	if p.Err == nil {
		return 0
	}
	if errors.As(p.Err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// tail returns the last n bytes of stderr, trimmed, for error messages.
func (p *proc) tail(n int) string {
	s := strings.TrimSpace(string(p.Stderr))
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// cmdSpec says how to run a command.
type cmdSpec struct {
	Dir     string
	Timeout time.Duration
	// Raw, when set, is a file (created with its directory) that gets
	// stdout, with stderr in Raw+".stderr".
	Raw string
	// Env is added to this process's environment.
	Env []string
}

// runCmd runs name with args as spec says and keeps its output.
func runCmd(ctx context.Context, spec cmdSpec, name string, args ...string) *proc {
	ctx, cancel := context.WithTimeout(ctx, spec.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = spec.Dir
	if len(spec.Env) > 0 {
		cmd.Env = append(os.Environ(), spec.Env...)
	}
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	p := &proc{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Wall: time.Since(start), Err: err}
	if cmd.ProcessState != nil {
		p.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if ctx.Err() != nil && err != nil {
		p.Err = fmt.Errorf("%w (after %s: %w)", err, spec.Timeout, ctx.Err())
	}
	if spec.Raw != "" {
		_ = os.MkdirAll(filepath.Dir(spec.Raw), 0o755)
		_ = os.WriteFile(spec.Raw, p.Stdout, 0o644)
		if len(p.Stderr) > 0 {
			_ = os.WriteFile(spec.Raw+".stderr", p.Stderr, 0o644)
		}
	}
	return p
}

// procCPU returns the user + system CPU time a running process has used,
// from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) from a
// /proc/PID/stat line. The command name (field 2) may contain spaces and
// parentheses, so fields are counted after its last ')'.
func parseStatCPU(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("perf: malformed /proc stat line")
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("perf: short /proc stat line")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("perf: /proc stat times: %w", err)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}
