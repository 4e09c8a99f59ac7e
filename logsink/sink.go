package logsink

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/weirio/weir/frame"
)

// SinkOptions configure a Sink. The zero value with Rotate.Dir set means
// the defaults.
type SinkOptions struct {
	// Rotate configures every stream's RotatingFile (Dir is required). The
	// Sink rotates files only between commit rounds (Tick), never in the
	// middle of one, so that the journal's marks always describe whole
	// files; Rotate.Manual is forced on.
	Rotate RotateOptions
	// Dedupe configures the (origin, stream, seq) windows.
	Dedupe DedupeOptions
	// MaxStreams bounds the streams (files) a Sink keeps open; a batch of
	// a new stream past it is refused with ErrTooManyStreams. Default 1024.
	MaxStreams int
	// Commands, if set, runs Rotate.Command for every file of the Sink;
	// the caller owns it (and closes it after the Sink). Default: with
	// Rotate.Command set, the Sink starts its own runner and its Close
	// waits for the queued commands.
	Commands *CommandRunner
}

// ErrTooManyStreams is returned by Sink.Write past SinkOptions.MaxStreams.
var ErrTooManyStreams = errors.New("logsink: too many streams")

// ErrStreamMismatch is returned by Sink.Write for a batch whose stream name
// is not its schema's path.
var ErrStreamMismatch = errors.New("logsink: batch stream does not match its schema")

// Sink is a logger's side of log shipping: it writes received batches to
// one RotatingFile per stream, drops duplicates, and makes both the records
// and its dedupe state durable before anything is acknowledged.
//
// Use: Write each received batch; after a group of them, Commit (flush and
// fsync the files, then journal and fsync the batch ids and the files'
// synced sizes); only then acknowledge the group. Tick rotates files due
// for rotation. On open, the journal is replayed and every stream's current
// file is cut back to its last journaled size, so records written but never
// acknowledged (the logger was killed before Commit finished) are removed:
// their senders retransmit them, and they are written exactly once. A
// current file the journal does not know (created after the last commit)
// holds nothing acknowledged; it is renamed to "<name>.unacked-<unix ns>"
// rather than deleted, for inspection.
//
// A Sink is not safe for concurrent use: one goroutine owns it.
type Sink struct {
	opts    SinkOptions
	cmds    *CommandRunner // nil without a rotation command
	owns    bool           // cmds is the Sink's own
	dedupe  *Dedupe
	j       *journal
	files   map[string]*sinkFile
	touched []*sinkFile
	closed  bool
	failed  error
	m       SinkMetrics
}

type sinkFile struct {
	rf      *RotatingFile
	schema  Schema
	touched bool
}

// SinkMetrics counts a Sink's work.
type SinkMetrics struct {
	Batches, Records  uint64 // written
	Duplicates, Stale uint64 // acknowledged without writing (Duplicate, TooOld)
	Commits           uint64
	Truncated         int64          // bytes cut from files at open (unacknowledged tails)
	Unacked           int            // files renamed away at open
	Commands          CommandMetrics // the rotation command's runs
}

// OpenSink opens the sink in opts.Rotate.Dir, creating the directory if
// needed, and recovers from a previous run (see Sink).
func OpenSink(opts SinkOptions) (*Sink, error) {
	if opts.MaxStreams == 0 {
		opts.MaxStreams = 1024
	}
	opts.Rotate.Manual = true
	opts.Rotate.EnsureDefaults()
	if err := opts.Rotate.Validate(); err != nil {
		return nil, err
	}
	if opts.MaxStreams < 0 {
		return nil, fmt.Errorf("%w: MaxStreams %d", ErrBadConfig, opts.MaxStreams)
	}
	if err := os.MkdirAll(opts.Rotate.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create log directory: %w", err)
	}
	d, err := NewDedupe(&opts.Dedupe)
	if err != nil {
		return nil, err
	}
	s := &Sink{opts: opts, dedupe: d, files: map[string]*sinkFile{}, cmds: opts.Commands}
	j, existed, err := openJournal(opts.Rotate.Dir, d)
	if err != nil {
		return nil, err
	}
	s.j = j
	if existed {
		if err := s.recover(); err != nil {
			_ = j.close()
			return nil, err
		}
	}
	if s.cmds == nil && opts.Rotate.Command.Enabled() {
		if s.cmds, err = NewCommandRunner(opts.Rotate.Command, opts.Rotate.Dir); err != nil {
			_ = j.close()
			return nil, err
		}
		s.owns = true
	}
	return s, nil
}

// recover cuts every current file back to its journaled extent.
func (s *Sink) recover() error {
	dir := s.opts.Rotate.Dir
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("cannot recover log directory: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		stream, ok := strings.CutSuffix(name, ".log")
		if !ok || strings.Contains(stream, ".") || !e.Type().IsRegular() {
			continue // rotated files hold "<path>.<open>-<close>.log"
		}
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("cannot recover log file: %w", err)
		}
		mark, known := s.j.marks[stream]
		if known && inodeOf(fi) == mark.inode {
			if fi.Size() > int64(mark.size) {
				if err := os.Truncate(p, int64(mark.size)); err != nil {
					return fmt.Errorf("cannot recover log file: %w", err)
				}
				s.m.Truncated += fi.Size() - int64(mark.size)
			}
			continue
		}
		away := fmt.Sprintf("%s.unacked-%d", p, time.Now().UnixNano())
		if err := os.Rename(p, away); err != nil {
			return fmt.Errorf("cannot recover log file: %w", err)
		}
		s.m.Unacked++
	}
	return syncDir(dir)
}

func inodeOf(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// Write writes the records of batch seq of origin, held in p, unless it was
// written before. The caller acknowledges New and Duplicate batches alike,
// but only after the next successful Commit.
func (s *Sink) Write(origin frame.NodeID, stream string, seq uint64, p *Payload) (Verdict, error) {
	if s.closed {
		return New, errJournalClosed
	}
	if s.failed != nil {
		return New, s.failed
	}
	if stream != p.Schema.Path {
		return New, fmt.Errorf("%w: %q, schema %q", ErrStreamMismatch, stream, p.Schema.Path)
	}
	switch v := s.dedupe.Check(origin, stream, seq); v {
	case Duplicate:
		s.m.Duplicates++
		return v, nil
	case TooOld:
		s.m.Stale++
		return v, nil
	}
	sf, err := s.file(&p.Schema)
	if err != nil {
		return New, err
	}
	err = sf.rf.WritePayload(p)
	if !sf.touched {
		sf.touched = true
		s.touched = append(s.touched, sf)
	}
	if err != nil {
		// Part of the batch may be in the file: nothing more is written
		// until the sink is reopened, which cuts the file back.
		s.failed = fmt.Errorf("cannot write log batch: %w", err)
		return New, s.failed
	}
	s.dedupe.Mark(origin, stream, seq)
	if err := s.j.addBatch(origin, stream, seq); err != nil {
		s.failed = fmt.Errorf("cannot write journal: %w", err)
		return New, s.failed
	}
	s.m.Batches++
	s.m.Records += uint64(p.Records())
	return New, nil
}

// file returns the stream's file, opening it, or reopening it when the
// schema changed (the old file is rotated away).
func (s *Sink) file(sc *Schema) (*sinkFile, error) {
	sf := s.files[sc.Path]
	if sf != nil && schemaEqual(&sf.schema, sc) {
		return sf, nil
	}
	if sf != nil {
		// A new schema: commit what the old file holds, then rotate it.
		if err := s.Commit(); err != nil {
			return nil, err
		}
		if err := sf.rf.Close(); err != nil {
			return nil, err
		}
		delete(s.files, sc.Path)
	} else if len(s.files) >= s.opts.MaxStreams {
		return nil, fmt.Errorf("%w: %d", ErrTooManyStreams, s.opts.MaxStreams)
	}
	sch := Schema{Path: sc.Path, Columns: slices.Clone(sc.Columns)}
	rf, err := newRotatingFile(sch, s.opts.Rotate, s.cmds)
	if err != nil {
		return nil, err
	}
	sf = &sinkFile{rf: rf, schema: sch}
	s.files[sc.Path] = sf
	return sf, nil
}

func schemaEqual(a, b *Schema) bool {
	return a.Path == b.Path && a.Equal(b)
}

// Commit makes everything written since the last Commit durable: the files
// are flushed and fsynced, then the journal. Acknowledge only after it
// returns nil. After an error the Sink refuses further writes; close it and
// open it again (which cuts the files back to what was committed).
func (s *Sink) Commit() error {
	if s.failed != nil {
		return s.failed
	}
	if len(s.touched) == 0 {
		return nil
	}
	for _, sf := range s.touched {
		sf.touched = false
		if err := sf.rf.Sync(); err != nil {
			s.failed = err
			return err
		}
		ino, size, ok := sf.rf.Extent()
		if !ok {
			continue
		}
		if err := s.j.addFile(sf.schema.Path, fileMark{ino, uint64(size)}); err != nil {
			s.failed = fmt.Errorf("cannot write journal: %w", err)
			return s.failed
		}
	}
	s.touched = s.touched[:0]
	if err := s.j.sync(); err != nil {
		s.failed = err
		return err
	}
	s.m.Commits++
	if err := s.j.compact(s.dedupe); err != nil {
		s.failed = err
		return err
	}
	return nil
}

// Tick rotates the files due for rotation. Call it between commit rounds
// (after Commit), for example once a second.
func (s *Sink) Tick() error {
	if s.failed != nil {
		return s.failed
	}
	var first error
	for _, sf := range s.files {
		if err := sf.rf.MaybeRotate(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Metrics returns a snapshot of the counters.
func (s *Sink) Metrics() SinkMetrics {
	m := s.m
	if s.cmds != nil {
		m.Commands = s.cmds.Metrics()
	}
	return m
}

// Close commits, then closes (and so rotates) every file and the journal.
// If the sink failed, files are not rotated: the next OpenSink cuts them
// back.
func (s *Sink) Close() error {
	if s.closed {
		return errJournalClosed
	}
	s.closed = true
	err := s.failed
	if err == nil {
		err = s.Commit()
	}
	if err == nil {
		for _, sf := range s.files {
			if cerr := sf.rf.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}
	} else {
		for _, sf := range s.files {
			sf.rf.abandon()
		}
	}
	if cerr := s.j.close(); cerr != nil && err == nil {
		err = cerr
	}
	if s.owns {
		s.cmds.Close() // after the files' last rotations
	}
	return err
}
