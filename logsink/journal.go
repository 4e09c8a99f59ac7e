package logsink

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/weirio/weir/frame"
)

// The logger's journal makes its dedupe state and its files' acknowledged
// extent durable, so that a logger killed at any instant restarts with
// exactly the records it acknowledged: no record twice, none lost.
//
// Each commit round (Sink.Commit) appends one group of records and fsyncs
// the journal after the log files themselves:
//
//	| field  | size     | meaning                                       |
//	|--------|----------|-----------------------------------------------|
//	| len    | u32 LE   | length of body                                |
//	| crc    | u32 LE   | CRC-32C of body                               |
//	| body   | len      | one entry, below                              |
//
// Entry bodies:
//
//	| kind | fields                                                   | meaning                          |
//	|------|----------------------------------------------------------|----------------------------------|
//	| 1    | origin (16 bytes), stream (uvarint len + bytes), seq u64 | batch written and acknowledged   |
//	| 2    | path (uvarint len + bytes), inode u64, size u64          | a stream's current file, synced  |
//
// A torn or corrupt tail (a crash mid-append) is cut on open. When the
// journal outgrows JournalCompactAt it is rewritten with what is still
// needed (each pair's dedupe window and each file's last mark) into a new
// file that replaces it by rename.
const (
	journalName      = "weir-logger.journal"
	journalBatch     = 1
	journalFile      = 2
	journalMaxEntry  = 1 << 16
	JournalCompactAt = 64 << 20 // bytes; see the journal layout above
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// fileMark is the last synced extent of a stream's current file.
type fileMark struct {
	inode, size uint64
}

type journal struct {
	path  string
	f     *os.File
	w     *bufio.Writer
	size  int64
	marks map[string]fileMark // stream path -> last mark
	buf   []byte
}

// openJournal opens (or creates) the journal in dir, replays it into d and
// returns it with the file marks it recorded. existed reports whether a
// journal was found, empty or not: an empty one was left by a logger
// killed before its first commit reached the journal, and the log files
// beside it hold nothing acknowledged, so they must be recovered (set
// aside) rather than appended to.
func openJournal(dir string, d *Dedupe) (j *journal, existed bool, err error) {
	j = &journal{path: filepath.Join(dir, journalName), marks: map[string]fileMark{}}
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	existed = errors.Is(err, fs.ErrExist)
	if existed {
		f, err = os.OpenFile(j.path, os.O_RDWR, 0)
	}
	if err != nil {
		return nil, false, fmt.Errorf("cannot open journal: %w", err)
	}
	if !existed {
		// The journal's name must outlive a crash if any log file created
		// after it does: log files found without a journal are appended to.
		if err := syncDir(dir); err != nil {
			_ = f.Close()
			return nil, false, fmt.Errorf("cannot create journal: %w", err)
		}
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, false, fmt.Errorf("cannot open journal: %w", err)
	}
	good, err := j.replay(bufio.NewReaderSize(f, 1<<16), d)
	if err != nil {
		_ = f.Close()
		return nil, false, err
	}
	if good < fi.Size() {
		if err := f.Truncate(good); err != nil {
			_ = f.Close()
			return nil, false, fmt.Errorf("cannot repair journal: %w", err)
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		_ = f.Close()
		return nil, false, fmt.Errorf("cannot open journal: %w", err)
	}
	j.f, j.w, j.size = f, bufio.NewWriterSize(f, 1<<16), good
	return j, existed, nil
}

// replay reads entries until the end or the first torn or corrupt one and
// returns the offset after the last good entry.
func (j *journal) replay(r *bufio.Reader, d *Dedupe) (int64, error) {
	var good int64
	var hdr [8]byte
	body := make([]byte, 0, 256)
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return good, nil // end, or a torn header
		}
		n := binary.LittleEndian.Uint32(hdr[:4])
		if n == 0 || n > journalMaxEntry {
			return good, nil
		}
		body = slices.Grow(body[:0], int(n))[:n]
		if _, err := io.ReadFull(r, body); err != nil {
			return good, nil
		}
		if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(hdr[4:]) {
			return good, nil
		}
		if !j.apply(body, d) {
			return good, nil
		}
		good += 8 + int64(n)
	}
}

// apply replays one entry body; false if it does not parse.
func (j *journal) apply(b []byte, d *Dedupe) bool {
	if len(b) < 1 {
		return false
	}
	kind, b := b[0], b[1:]
	switch kind {
	case journalBatch:
		if len(b) < len(frame.NodeID{}) {
			return false
		}
		var origin frame.NodeID
		copy(origin[:], b)
		stream, rest, ok := journalStr(b[len(origin):])
		if !ok || len(rest) != 8 {
			return false
		}
		d.Mark(origin, stream, binary.LittleEndian.Uint64(rest))
	case journalFile:
		path, rest, ok := journalStr(b)
		if !ok || len(rest) != 16 {
			return false
		}
		j.marks[path] = fileMark{binary.LittleEndian.Uint64(rest), binary.LittleEndian.Uint64(rest[8:])}
	default:
		return false
	}
	return true
}

func journalStr(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, false
	}
	return string(b[k : k+int(n)]), b[k+int(n):], true
}

func (j *journal) entry(body []byte) error {
	var hdr [8]byte
	binary.LittleEndian.PutUint32(hdr[:4], uint32(len(body)))
	binary.LittleEndian.PutUint32(hdr[4:], crc32.Checksum(body, castagnoli))
	if _, err := j.w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := j.w.Write(body)
	j.size += 8 + int64(len(body))
	return err
}

func (j *journal) addBatch(origin frame.NodeID, stream string, seq uint64) error {
	b := append(j.buf[:0], journalBatch)
	b = append(b, origin[:]...)
	b = binary.AppendUvarint(b, uint64(len(stream)))
	b = append(b, stream...)
	b = binary.LittleEndian.AppendUint64(b, seq)
	j.buf = b
	return j.entry(b)
}

func (j *journal) addFile(path string, m fileMark) error {
	b := append(j.buf[:0], journalFile)
	b = binary.AppendUvarint(b, uint64(len(path)))
	b = append(b, path...)
	b = binary.LittleEndian.AppendUint64(b, m.inode)
	b = binary.LittleEndian.AppendUint64(b, m.size)
	j.buf = b
	j.marks[path] = m
	return j.entry(b)
}

// sync makes every entry added so far durable.
func (j *journal) sync() error {
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("cannot write journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("cannot sync journal: %w", err)
	}
	return nil
}

// compact rewrites the journal with d's windows and the file marks, if it
// has grown past JournalCompactAt.
func (j *journal) compact(d *Dedupe) error {
	if j.size < JournalCompactAt {
		return nil
	}
	if err := j.sync(); err != nil {
		return err
	}
	tmp := j.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("cannot compact journal: %w", err)
	}
	nj := &journal{path: j.path, f: f, w: bufio.NewWriterSize(f, 1<<16), marks: map[string]fileMark{}}
	err = d.each(func(origin frame.NodeID, stream string, seq uint64) error {
		return nj.addBatch(origin, stream, seq)
	})
	for p, m := range j.marks {
		if err == nil {
			err = nj.addFile(p, m)
		}
	}
	if err == nil {
		err = nj.sync()
	}
	if err == nil {
		err = os.Rename(tmp, j.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(j.path))
	}
	if err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("cannot compact journal: %w", err)
	}
	_ = j.f.Close()
	*j = *nj
	return nil
}

func (j *journal) close() error {
	err := j.sync()
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// each calls fn for every sequence number d remembers, oldest first per
// pair.
func (d *Dedupe) each(fn func(origin frame.NodeID, stream string, seq uint64) error) error {
	size := uint64(d.opts.Window)
	for k, w := range d.m {
		lo := uint64(1)
		if w.top >= size {
			lo = w.top - size + 1
		}
		for s := lo; s <= w.top && s != 0; s++ {
			if w.bits[(s%size)/64]&(1<<(s%64)) != 0 {
				if err := fn(k.origin, k.stream, s); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// errJournalClosed is returned by a Sink after Close.
var errJournalClosed = errors.New("logsink: sink closed")
