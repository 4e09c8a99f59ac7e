package logsink

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
)

// listCommand returns a command that appends the rotated file's path to
// list, a line per file.
func listCommand(list string) []string {
	return []string{"sh", "-c", `echo "$1" >> ` + shellQuote(list), "sh"}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// syncBuffer is a log destination safe for the runner's goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRotateCommand: the command runs on every rotated file, with its path
// as the last argument, in rotation order, in the log directory; Close
// waits for the queued runs.
func TestRotateCommand(t *testing.T) {
	list := filepath.Join(t.TempDir(), "list")
	opts := RotateOptions{MaxSize: 1, Command: CommandOptions{Args: listCommand(list)}}
	r, clock, hook, dir := rotateSetup(t, opts)
	for i := range 5 {
		clock.Set(rotateAt(11, 0, i))
		if err := r.Write(connRecords()[i%4]); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	want := hook.Paths()
	if len(want) != 5 {
		t.Fatalf("%d rotations, want 5", len(want))
	}
	if got := readLines(t, list); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("command saw\n%v\nwant\n%v", got, want)
	}
	for _, p := range want {
		if filepath.Dir(p) != dir {
			t.Fatalf("rotated %s outside %s", p, dir)
		}
	}
	if m := r.CommandMetrics(); m != (CommandMetrics{Runs: 5}) {
		t.Fatalf("metrics %+v", m)
	}
}

// TestRotateCommandFails: a command that fails, cannot start or times out
// is logged and counted; writing and rotating go on.
func TestRotateCommandFails(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"exit", []string{"sh", "-c", "echo oops >&2; exit 3", "sh"}, "oops"},
		{"missing", []string{filepath.Join(t.TempDir(), "no-such-program")}, "no such file"},
		{"timeout", []string{"sh", "-c", "exec sleep 30", "sh"}, "timed out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			opts := RotateOptions{MaxSize: 1, Command: CommandOptions{Args: tc.args, Timeout: 100 * time.Millisecond,
				Log: slog.New(slog.NewTextHandler(&logs, nil))}}
			r, _, hook, _ := rotateSetup(t, opts)
			for i := range 3 {
				if err := r.Write(connRecords()[i]); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Fatalf("Close took %v: the timeout did not stop the command", d)
			}
			if len(hook.Paths()) != 3 {
				t.Fatalf("%d rotations", len(hook.Paths()))
			}
			if m := r.CommandMetrics(); m != (CommandMetrics{Failed: 3}) {
				t.Fatalf("metrics %+v", m)
			}
			if out := logs.String(); strings.Count(out, "rotation command failed") != 3 || !strings.Contains(out, tc.want) {
				t.Fatalf("log:\n%s", out)
			}
		})
	}
}

// TestRotateCommandQueueFull: rotations past the queue bound while a
// command runs are dropped (counted and logged), without waiting for it.
func TestRotateCommandQueueFull(t *testing.T) {
	tmp := t.TempDir()
	gate, list := filepath.Join(tmp, "gate"), filepath.Join(tmp, "list")
	if err := syscall.Mkfifo(gate, 0o600); err != nil {
		t.Skip("no fifo:", err)
	}
	// While the gate exists, a run reads it to its end: the first run
	// blocks until the test has opened and closed it.
	script := fmt.Sprintf(`if [ -p %s ]; then cat %s >/dev/null; fi; echo "$1" >> %s`,
		shellQuote(gate), shellQuote(gate), shellQuote(list))
	var logs syncBuffer
	opts := RotateOptions{MaxSize: 1, Command: CommandOptions{Args: []string{"sh", "-c", script, "sh"}, Queue: 1,
		Log: slog.New(slog.NewTextHandler(&logs, nil))}}
	r, _, hook, _ := rotateSetup(t, opts)
	if err := r.Write(connRecords()[0]); err != nil {
		t.Fatal(err)
	}
	// Opening the fifo for writing returns once the first run has opened
	// it for reading: that run is under way.
	w, err := os.OpenFile(gate, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(gate); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 3; i++ { // the second waits in the queue, the third is dropped
		if err := r.Write(connRecords()[i]); err != nil {
			t.Fatal(err)
		}
	}
	if m := r.CommandMetrics(); m.Dropped != 1 {
		t.Fatalf("metrics %+v, want 1 dropped", m)
	}
	_ = w.Close()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	paths := hook.Paths()
	if got := readLines(t, list); len(paths) != 3 || strings.Join(got, " ") != strings.Join(paths[:2], " ") {
		t.Fatalf("command saw %v of %v", got, paths)
	}
	if m := r.CommandMetrics(); m != (CommandMetrics{Runs: 2, Dropped: 1}) {
		t.Fatalf("metrics %+v", m)
	}
	if !strings.Contains(logs.String(), "not post-processed") {
		t.Fatalf("log:\n%s", logs.String())
	}
}

// TestSinkRotateCommand: a Sink runs the command on the files it rotates,
// sharing one runner among its streams; Close waits for it.
func TestSinkRotateCommand(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(t.TempDir(), "list")
	c := newTestCodecs(t)
	sk, err := OpenSink(SinkOptions{Rotate: RotateOptions{Dir: dir, Interval: -1, Command: CommandOptions{Args: listCommand(list)}}})
	if err != nil {
		t.Fatal(err)
	}
	other := connSchema()
	other.Path = "other"
	for i, s := range []Schema{connSchema(), other} {
		p := payloadOf(t, c, s, connRecords())
		if _, err := sk.Write(frame.NodeID{1}, s.Path, uint64(i+1), &p); err != nil {
			t.Fatal(err)
		}
	}
	if err := sk.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := sk.Close(); err != nil {
		t.Fatal(err)
	}
	got := readLines(t, list)
	if len(got) != 2 {
		t.Fatalf("command saw %v", got)
	}
	for _, p := range got {
		if b, err := os.ReadFile(p); err != nil || !bytes.Contains(b, []byte("#close")) {
			t.Fatalf("%s: %v, rotated without its footer", p, err)
		}
	}
	if m := sk.Metrics().Commands; m != (CommandMetrics{Runs: 2}) {
		t.Fatalf("metrics %+v", m)
	}
}

func TestCommandOptionsValidate(t *testing.T) {
	for _, o := range []CommandOptions{{Args: []string{""}}, {Args: []string{"true"}, Timeout: -1}, {Args: []string{"true"}, Queue: -1}} {
		if _, err := NewRotatingFile(connSchema(), RotateOptions{Dir: t.TempDir(), Command: o}); !errors.Is(err, ErrBadRotateOptions) {
			t.Errorf("%+v: %v", o, err)
		}
	}
	if _, err := NewCommandRunner(CommandOptions{}, "."); !errors.Is(err, ErrBadRotateOptions) {
		t.Errorf("runner without a command: %v", err)
	}
}
