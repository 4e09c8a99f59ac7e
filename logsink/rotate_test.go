package logsink

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
)

type rotateClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *rotateClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *rotateClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

type rotateHook struct {
	mu    sync.Mutex
	paths []string
}

func (h *rotateHook) PostRotate(p string) {
	h.mu.Lock()
	h.paths = append(h.paths, p)
	h.mu.Unlock()
}

func (h *rotateHook) Paths() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.paths)
}

func rotateAt(h, m, s int) time.Time { return time.Date(2026, 11, 26, h, m, s, 0, time.UTC) }

func rotateSetup(t *testing.T, opts RotateOptions) (*RotatingFile, *rotateClock, *rotateHook, string) {
	t.Helper()
	clock := &rotateClock{t: rotateAt(10, 59, 0)}
	hook := &rotateHook{}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	opts.Now = clock.Now
	opts.PostRotate = hook.PostRotate
	r, err := NewRotatingFile(connSchema(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return r, clock, hook, opts.Dir
}

// rotateRecords returns the record lines (not '#' lines) of a file and the
// whole content.
func rotateRecords(t *testing.T, path string) (records []string, content string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			records = append(records, l)
		}
	}
	return records, string(b)
}

func rotateExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestRotateByInterval(t *testing.T) {
	r, clock, hook, dir := rotateSetup(t, RotateOptions{})
	recs := connRecords()
	cur := filepath.Join(dir, "conn.log")
	if rotateExists(cur) {
		t.Fatal("file created before the first record")
	}
	if err := r.Write(recs[0]); err != nil {
		t.Fatal(err)
	}
	clock.Set(rotateAt(10, 59, 30))
	if err := r.Write(recs[1]); err != nil {
		t.Fatal(err)
	}
	if err := r.MaybeRotate(); err != nil {
		t.Fatal(err)
	}
	if len(hook.Paths()) != 0 {
		t.Fatalf("rotated early: %v", hook.Paths())
	}
	clock.Set(rotateAt(11, 0, 0)) // the hour boundary
	if err := r.MaybeRotate(); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(dir, "conn.2026-11-26-10-59-00-2026-11-26-11-00-00.log")
	if got := hook.Paths(); !slices.Equal(got, []string{first}) {
		t.Fatalf("PostRotate paths %v, want %v", got, first)
	}
	if rotateExists(cur) {
		t.Error("current file recreated before a record")
	}
	lines, content := rotateRecords(t, first)
	if len(lines) != 2 || !strings.Contains(content, "#open\t2026-11-26-10-59-00\n") ||
		!strings.HasSuffix(content, "#close\t2026-11-26-11-00-00\n") {
		t.Errorf("first file:\n%s", content)
	}

	// A write after the next boundary rotates first, then lands in the
	// new file.
	clock.Set(rotateAt(11, 0, 5))
	if err := r.Write(recs[2]); err != nil {
		t.Fatal(err)
	}
	clock.Set(rotateAt(12, 0, 1))
	if err := r.Write(recs[3]); err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(dir, "conn.2026-11-26-11-00-05-2026-11-26-12-00-01.log")
	if lines, _ := rotateRecords(t, second); len(lines) != 1 {
		t.Errorf("second file has %d records, want 1", len(lines))
	}
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	if lines, content := rotateRecords(t, cur); len(lines) != 1 || !strings.Contains(content, "#open\t2026-11-26-12-00-01\n") {
		t.Errorf("current file after Sync:\n%s", content)
	}
	clock.Set(rotateAt(12, 10, 0))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	third := filepath.Join(dir, "conn.2026-11-26-12-00-01-2026-11-26-12-10-00.log")
	if got, want := hook.Paths(), []string{first, second, third}; !slices.Equal(got, want) {
		t.Errorf("PostRotate paths\n got %v\nwant %v", got, want)
	}
	if rotateExists(cur) {
		t.Error("Close left the current file")
	}
	if err := r.Write(recs[0]); !errors.Is(err, ErrWriterClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	if err := r.Close(); !errors.Is(err, ErrWriterClosed) {
		t.Errorf("second Close: %v", err)
	}
}

func TestRotateBySize(t *testing.T) {
	// Every record pushes the file past MaxSize; with the clock standing
	// still the names collide and get suffixes.
	r, _, hook, dir := rotateSetup(t, RotateOptions{MaxSize: 1, Interval: -1})
	rec := connRecords()[1]
	for range 3 {
		if err := r.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	base := filepath.Join(dir, "conn.2026-11-26-10-59-00-2026-11-26-10-59-00")
	want := []string{base + ".log", base + "-1.log", base + "-2.log"}
	if got := hook.Paths(); !slices.Equal(got, want) {
		t.Fatalf("PostRotate paths\n got %v\nwant %v", got, want)
	}
	for _, p := range want {
		lines, content := rotateRecords(t, p)
		if len(lines) != 1 || !strings.HasSuffix(content, "#close\t2026-11-26-10-59-00\n") {
			t.Errorf("%s:\n%s", p, content)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if len(hook.Paths()) != 3 {
		t.Errorf("Close without a current file rotated: %v", hook.Paths())
	}

	// Below MaxSize nothing rotates.
	r2, _, hook2, _ := rotateSetup(t, RotateOptions{MaxSize: 1 << 20})
	for range 10 {
		if err := r2.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := r2.MaybeRotate(); err != nil || len(hook2.Paths()) != 0 {
		t.Errorf("MaybeRotate = %v, rotated %v", err, hook2.Paths())
	}
	if err := r2.Close(); err != nil {
		t.Fatal(err)
	}
}

// rotateCrash abandons r as a crash would: buffered records are lost,
// synced ones stay, the file is not closed properly.
func rotateCrash(r *RotatingFile) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mu.f != nil {
		_ = r.mu.f.Close()
	}
	r.mu.f, r.mu.w, r.mu.closed = nil, nil, true
}

func rotateAppendRaw(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestRotateReopenAfterCrashAppends(t *testing.T) {
	for _, format := range []FileFormat{FormatTSV, FormatJSON} {
		r, clock, hook, dir := rotateSetup(t, RotateOptions{Format: format})
		recs := connRecords()
		for _, rec := range recs[:2] {
			if err := r.Write(rec); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.Sync(); err != nil {
			t.Fatal(err)
		}
		if err := r.Write(recs[2]); err != nil { // buffered, lost in the crash
			t.Fatal(err)
		}
		rotateCrash(r)
		cur := filepath.Join(dir, "conn.log")
		rotateAppendRaw(t, cur, "1700000099.000000\tCtorn") // torn record
		// JSON files fall back to the modification time as open time.
		if err := os.Chtimes(cur, rotateAt(10, 59, 20), rotateAt(10, 59, 20)); err != nil {
			t.Fatal(err)
		}

		clock.Set(rotateAt(10, 59, 40))
		r, err := NewRotatingFile(connSchema(), RotateOptions{Dir: dir, Format: format, Now: clock.Now, PostRotate: hook.PostRotate})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Write(recs[3]); err != nil {
			t.Fatal(err)
		}
		clock.Set(rotateAt(10, 59, 50))
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		// The file keeps its original open time.
		want := filepath.Join(dir, "conn.2026-11-26-10-59-00-2026-11-26-10-59-50.log")
		if format == FormatJSON {
			// JSON has no "#open": the modification time stands in.
			want = filepath.Join(dir, "conn.2026-11-26-10-59-20-2026-11-26-10-59-50.log")
		}
		if got := hook.Paths(); !slices.Equal(got, []string{want}) {
			t.Fatalf("PostRotate paths %v, want %v", got, want)
		}
		lines, content := rotateRecords(t, want)
		if len(lines) != 3 || strings.Contains(content, "torn") {
			t.Errorf("format %d: reopened file:\n%s", format, content)
		}
		if format == FormatTSV {
			if n := strings.Count(content, "#fields"); n != 1 {
				t.Errorf("%d headers:\n%s", n, content)
			}
			var buf bytes.Buffer
			w, _ := NewTSVWriter(&buf, connSchema(), rotateAt(10, 59, 0))
			for _, rec := range [][]frame.Value{recs[0], recs[1], recs[3]} {
				_ = w.Write(rec)
			}
			_ = w.CloseAt(rotateAt(10, 59, 50))
			if content != buf.String() {
				t.Errorf("reopened file differs from one written in one go:\n%s\nwant:\n%s", content, buf.String())
			}
		}
	}
}

func TestRotateReopenIncompatible(t *testing.T) {
	clock := &rotateClock{t: rotateAt(10, 0, 0)}
	other := Schema{Path: "conn", Columns: []Column{{Name: "ts", Type: frame.TypeTimestamp}}}
	header := func(s Schema) string {
		var buf bytes.Buffer
		w, err := NewTSVWriter(&buf, s, rotateAt(9, 30, 0))
		if err != nil {
			t.Fatal(err)
		}
		_ = w.Flush()
		return buf.String()
	}
	for name, tc := range map[string]struct {
		format  FileFormat
		content string
		rotated bool
	}{
		"other fields":   {FormatTSV, header(other) + "1.000000\n", true},
		"closed cleanly": {FormatTSV, header(connSchema()) + "#close\t2026-11-26-09-40-00\n", true},
		"json into tsv":  {FormatTSV, "{\"ts\":1.0}\n", true},
		"tsv into json":  {FormatJSON, header(connSchema()), true},
		"torn header":    {FormatTSV, "#separator \\x09\n#set_separator\t,\n#empty_f", false},
		"header only":    {FormatTSV, header(connSchema()), false},
	} {
		dir := t.TempDir()
		cur := filepath.Join(dir, "conn.log")
		if err := os.WriteFile(cur, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		mtime := rotateAt(9, 45, 0)
		if err := os.Chtimes(cur, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		hook := &rotateHook{}
		r, err := NewRotatingFile(connSchema(), RotateOptions{Dir: dir, Format: tc.format, Now: clock.Now, PostRotate: hook.PostRotate})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := hook.Paths()
		if !tc.rotated {
			if len(got) != 0 {
				t.Errorf("%s: rotated %v", name, got)
			}
		} else {
			open := "2026-11-26-09-30-00" // from "#open"
			if strings.HasPrefix(tc.content, "{") {
				open = "2026-11-26-09-45-00" // none: the modification time
			}
			want := filepath.Join(dir, "conn."+open+"-2026-11-26-09-45-00.log")
			if !slices.Equal(got, []string{want}) {
				t.Errorf("%s: rotated %v, want %v", name, got, want)
			} else if b, _ := os.ReadFile(want); string(b) != tc.content {
				t.Errorf("%s: rotated file changed: %q", name, b)
			}
		}
		if err := r.Write(connRecords()[0]); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := r.Sync(); err != nil {
			t.Fatal(err)
		}
		lines, content := rotateRecords(t, cur)
		if len(lines) != 1 {
			t.Errorf("%s: current file:\n%s", name, content)
		}
		if tc.format == FormatTSV && strings.Count(content, "#fields") != 1 {
			t.Errorf("%s: current file:\n%s", name, content)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRotateOptions(t *testing.T) {
	var o RotateOptions
	o.EnsureDefaults()
	if o.Interval != time.Hour || o.Now == nil || o.FileMode != 0o644 || o.MaxSize != 0 || o.Format != FormatTSV {
		t.Errorf("defaults: %+v", o)
	}
	for name, o := range map[string]RotateOptions{
		"no dir":   {},
		"format":   {Dir: "x", Format: 7},
		"max size": {Dir: "x", MaxSize: -1},
		"mode":     {Dir: "x", FileMode: os.ModeDir | 0o644},
	} {
		if err := o.EnsureDefaults().Validate(); !errors.Is(err, ErrBadRotateOptions) {
			t.Errorf("%s: Validate = %v", name, err)
		}
	}
	if _, err := NewRotatingFile(connSchema(), RotateOptions{}); !errors.Is(err, ErrBadRotateOptions) {
		t.Errorf("NewRotatingFile without Dir: %v", err)
	}
	if _, err := NewRotatingFile(connSchema(), RotateOptions{Dir: filepath.Join(t.TempDir(), "missing")}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("NewRotatingFile with a missing dir: %v", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRotatingFile(connSchema(), RotateOptions{Dir: file}); !errors.Is(err, ErrBadRotateOptions) {
		t.Errorf("NewRotatingFile with a file as dir: %v", err)
	}
}

func TestRotateRecordMismatch(t *testing.T) {
	r, _, _, dir := rotateSetup(t, RotateOptions{})
	if err := r.Write(connRecords()[0][:2]); !errors.Is(err, ErrRecordMismatch) {
		t.Errorf("Write(short) = %v", err)
	}
	if rotateExists(filepath.Join(dir, "conn.log")) {
		t.Error("a refused record created the file")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRotateConcurrent writes from several goroutines while a timer
// goroutine rotates, and checks that every record lands in exactly one
// file.
func TestRotateConcurrent(t *testing.T) {
	r, clock, hook, dir := rotateSetup(t, RotateOptions{MaxSize: 4000, Interval: time.Minute})
	const writers, each = 4, 200
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := r.Write(connRecords()[0]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	timerDone := make(chan struct{})
	go func() {
		defer close(timerDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			clock.Set(rotateAt(11, i/10%60, 0))
			if err := r.MaybeRotate(); err != nil {
				t.Error(err)
				return
			}
			if i%10 == 0 {
				if err := r.Sync(); err != nil {
					t.Error(err)
					return
				}
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	wg.Wait()
	close(stop)
	<-timerDone
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, p := range hook.Paths() {
		lines, _ := rotateRecords(t, p)
		total += len(lines)
	}
	entries, _ := os.ReadDir(dir)
	if total != writers*each || len(entries) != len(hook.Paths()) {
		t.Errorf("%d records in %d rotated files (%d in dir), want %d", total, len(hook.Paths()), len(entries), writers*each)
	}
}

// TestRotateWriteViews: WriteViews writes what Write writes, rotates by
// size the same way, and refuses a mismatched record without writing.
func TestRotateWriteViews(t *testing.T) {
	files := func(useViews bool) map[string]string {
		r, clock, _, dir := rotateSetup(t, RotateOptions{MaxSize: 2000})
		for i := range 40 {
			clock.Set(rotateAt(11, 0, i))
			rec := connRecords()[i%4]
			var err error
			if useViews {
				err = r.WriteViews(recordViews(t, rec))
			} else {
				err = r.Write(rec)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := r.WriteViews(recordViews(t, connRecords()[0][:2])); !errors.Is(err, ErrRecordMismatch) {
			t.Fatalf("mismatched views: %v", err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteViews(recordViews(t, connRecords()[0])); !errors.Is(err, ErrWriterClosed) {
			t.Fatalf("WriteViews after Close: %v", err)
		}
		out := map[string]string{}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = string(b)
		}
		return out
	}
	byValue, byView := files(false), files(true)
	if len(byValue) < 3 {
		t.Fatalf("only %d files: no size rotation", len(byValue))
	}
	if len(byValue) != len(byView) {
		t.Fatalf("%d files by value, %d by view", len(byValue), len(byView))
	}
	for name, want := range byValue {
		if byView[name] != want {
			t.Fatalf("%s differs:\n%s\nvs\n%s", name, byView[name], want)
		}
	}
}
