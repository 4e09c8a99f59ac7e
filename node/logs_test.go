package node

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/connlog"
	"github.com/weirio/weir/internal/testutil"
)

// countIDs reads every conn log file in dir and counts each record id.
func countIDs(t *testing.T, dir string) map[uint64]int {
	t.Helper()
	seen := map[uint64]int{}
	files, _ := filepath.Glob(filepath.Join(dir, "conn*.log"))
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			line := sc.Text()
			if line == "" || line[0] == '#' {
				continue
			}
			fields := strings.Split(line, "\t")
			id, ok := connlog.RecordID(fields[connlog.ColUID])
			if !ok {
				t.Fatalf("%s: bad uid in %q", p, line)
			}
			seen[id]++
		}
		f.Close()
	}
	return seen
}

// A worker ships records to a logger over loopback; after FlushLogs every
// record is in the logger's file exactly once, and survives the logger's
// restart without being duplicated.
func TestLogsWorkerToLogger(t *testing.T) {
	dir := t.TempDir()
	lo := Options{Name: "logger-1", Role: frame.RoleLogger, Logger: testLogger()}
	lo.Logs.Dir = dir
	lo.Logs.Rotate.Interval = -1
	logger, err := New(lo)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := logger.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wo := Options{Name: "worker-1", Role: frame.RoleWorker, Logger: testLogger()}
	wo.Logs.Batch.MaxRecords = 100
	worker, err := New(wo)
	if err != nil {
		t.Fatal(err)
	}
	defer worker.Close()
	if err := worker.Peer(addr.String()); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "logger peer", func() bool { return len(worker.Peers()) == 1 })
	st, err := worker.CreateLog(connlog.Schema())
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000 // 200 batches: rounds of the sink loop span several prep chunks
	g := connlog.New(1)
	var rec []frame.Value
	for id := uint64(0); id < n; id++ {
		rec = g.Next(rec, id)
		if err := st.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	// A record that does not match the schema is refused.
	if err := st.Write(rec[:3]); err == nil {
		t.Fatal("short record accepted")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := worker.FlushLogs(ctx); err != nil {
		t.Fatal(err)
	}
	if s := worker.LogStats(); s.Ship.Acked == 0 || s.Dropped != 0 || s.WireBytes == 0 || s.RawBytes <= s.WireBytes {
		t.Fatalf("worker stats %+v", s)
	}
	if err := logger.Close(); err != nil {
		t.Fatal(err)
	}
	seen := countIDs(t, dir)
	for id := uint64(0); id < n; id++ {
		if seen[id] != 1 {
			t.Fatalf("record %d seen %d times (%d ids in files)", id, seen[id], len(seen))
		}
	}
}

// A node with local logging runs LogOptions.Rotate.Command on each file it
// rotates, here the one its Close rotates; Close waits for the command.
func TestLogsRotateCommand(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(t.TempDir(), "list")
	o := Options{Name: "logger-1", Role: frame.RoleLogger, Logger: testLogger()}
	o.Logs.Dir = dir
	o.Logs.Rotate.Interval = -1
	o.Logs.Rotate.Command.Args = []string{"sh", "-c", `echo "$1" >> "$0"`, list}
	n, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	st, err := n.CreateLog(connlog.Schema())
	if err != nil {
		t.Fatal(err)
	}
	const records = 1000
	g := connlog.New(2)
	var rec []frame.Value
	for id := uint64(0); id < records; id++ {
		rec = g.Next(rec, id)
		if err := st.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.FlushLogs(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(list)
	if err != nil {
		t.Fatal(err)
	}
	paths := strings.Fields(string(b))
	if len(paths) != 1 || filepath.Dir(paths[0]) != dir || !strings.HasPrefix(filepath.Base(paths[0]), "conn.") {
		t.Fatalf("command ran on %v", paths)
	}
	if seen := countIDs(t, dir); len(seen) != records {
		t.Fatalf("%d records in %s", len(seen), dir)
	}
}
