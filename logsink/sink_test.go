package logsink

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirio/weir/frame"
)

// payloadOf encodes recs as one uncompressed payload.
func payloadOf(t *testing.T, c *Codecs, s Schema, recs [][]frame.Value) Payload {
	t.Helper()
	bt, err := NewBatcher(s, &BatcherOptions{MaxRecords: 1 << 20, Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if _, _, err := bt.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	b := bt.Flush(nil)[0]
	b, err = c.CompressBatch(nil, b, frame.CodecNone)
	if err != nil {
		t.Fatal(err)
	}
	_, _, raw := b.Wire()
	p, err := ParsePayload(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// reopenableSink returns a directory, codecs (closed at the test's end)
// and a function that opens a Sink in the directory, as a restarted
// logger does.
func reopenableSink(t *testing.T) (dir string, c *Codecs, open func() *Sink) {
	t.Helper()
	dir = t.TempDir()
	c, err := NewCodecs()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return dir, c, func() *Sink {
		t.Helper()
		sk, err := OpenSink(SinkOptions{Rotate: RotateOptions{Dir: dir, Interval: -1}})
		if err != nil {
			t.Fatal(err)
		}
		return sk
	}
}

// A batch written but not committed when the logger dies is cut from the
// file on reopen; a committed one stays and is recognised as a duplicate.
func TestSinkRecoversToCommitted(t *testing.T) {
	dir, c, open := reopenableSink(t)
	s := connSchema()
	recs := connRecords()
	a := payloadOf(t, c, s, recs[:1])
	b := payloadOf(t, c, s, recs[1:])
	origin := frame.NodeID{1}
	sk := open()
	if v, err := sk.Write(origin, s.Path, 1, &a); err != nil || v != New {
		t.Fatal(v, err)
	}
	if err := sk.Commit(); err != nil {
		t.Fatal(err)
	}
	committed, err := os.Stat(filepath.Join(dir, s.Path+".log"))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := sk.Write(origin, s.Path, 2, &b); err != nil || v != New {
		t.Fatal(v, err)
	}
	// The process dies after the records reached the file, before Commit.
	killSink(t, sk)
	if fi, _ := os.Stat(filepath.Join(dir, s.Path+".log")); fi.Size() <= committed.Size() {
		t.Fatal("uncommitted batch did not reach the file")
	}

	sk = open()
	if m := sk.Metrics(); m.Truncated == 0 {
		t.Fatalf("nothing cut: %+v", m)
	}
	if v, _ := sk.Write(origin, s.Path, 1, &a); v != Duplicate {
		t.Fatalf("committed batch: %v", v)
	}
	if v, err := sk.Write(origin, s.Path, 2, &b); err != nil || v != New {
		t.Fatalf("resent batch: %v %v", v, err)
	}
	if err := sk.Close(); err != nil {
		t.Fatal(err)
	}
	// Every record once: one rotated file holds a then b.
	checkRecordLines(t, dir, s.Path, len(recs))
}

// A logger killed during its first commit, after the file's fsync and
// before the journal's, leaves an empty journal beside a file of
// unacknowledged records. The reopened sink must set that file aside, not
// append the resent batch to it.
func TestSinkRecoversBeforeFirstCommit(t *testing.T) {
	dir, c, open := reopenableSink(t)
	s := connSchema()
	recs := connRecords()
	a := payloadOf(t, c, s, recs)
	origin := frame.NodeID{1}
	sk := open()
	if v, err := sk.Write(origin, s.Path, 1, &a); err != nil || v != New {
		t.Fatal(v, err)
	}
	killSink(t, sk)
	if fi, err := os.Stat(filepath.Join(dir, journalName)); err != nil || fi.Size() != 0 {
		t.Fatalf("journal after the kill: %v, %v; want it empty", fi, err)
	}

	sk = open()
	if m := sk.Metrics(); m.Unacked != 1 {
		t.Errorf("files set aside %d, want 1: %+v", m.Unacked, m)
	}
	if v, err := sk.Write(origin, s.Path, 1, &a); err != nil || v != New {
		t.Fatalf("resent batch: %v %v", v, err)
	}
	if err := sk.Close(); err != nil {
		t.Fatal(err)
	}
	checkRecordLines(t, dir, s.Path, len(recs))
}

// killSink leaves the files as a logger killed before Commit reached the
// journal does: the records written are in the files, and the journal
// entries still buffered are lost.
func killSink(t *testing.T, sk *Sink) {
	t.Helper()
	for _, sf := range sk.files {
		if err := sf.rf.Sync(); err != nil {
			t.Fatal(err)
		}
		sf.rf.abandon()
	}
	_ = sk.j.f.Close()
}

// checkRecordLines checks that dir holds one rotated file of stream path
// with want record lines.
func checkRecordLines(t *testing.T, dir, path string, want int) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, path+".*.log"))
	if len(files) != 1 {
		t.Fatalf("files %v", files)
	}
	data, _ := os.ReadFile(files[0])
	lines := 0
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && l[0] != '#' {
			lines++
		}
	}
	if lines != want {
		t.Fatalf("%d record lines, want %d:\n%s", lines, want, data)
	}
}
