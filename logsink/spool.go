package logsink

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/weirio/weir/frame"
)

// Spool errors.
var (
	// ErrSpoolFull reports a Put that would take the spool past its size
	// bound; the Shipper then drops the batch and reports it.
	ErrSpoolFull = errors.New("logsink: spool full")
	// ErrSpoolClosed reports use of a closed FileSpool.
	ErrSpoolClosed = errors.New("logsink: spool closed")
)

// Spool file layout (see the package doc, "Spool").
const (
	spoolExt        = ".spool"
	spoolCursorName = "cursor"
	spoolRecHeader  = 8 // u32 body length, u32 CRC-32C of the body
	spoolVersion    = 1
	// maxSpoolBody bounds a record body; a larger length read back is
	// damage, not a batch (a payload is at most a compressed MaxRawLen).
	maxSpoolBody = 2 * MaxRawLen
	// minSpoolBody is the smallest body: version, empty stream, seq,
	// records, codec, raw length and one payload byte. It makes a run of
	// zeroes (a length of 0 with the CRC of nothing, 0) damage.
	minSpoolBody = 1 + 1 + 8 + 4 + 1 + 4 + 1
	cursorSize   = 20 // u64 segment, u64 offset, u32 CRC-32C of the 16 bytes
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// FileSpool is a Spool on disk: the batches a worker cannot hold in memory
// wait in a directory, bounded in size, and survive a restart.
//
// Batches are appended to segment files ("<16 hex digits>.spool", ids
// increasing) as records framed by their length and a CRC-32C, and taken
// back oldest first. A small "cursor" file remembers how far Take has got,
// so that a reopened spool yields exactly the batches not yet taken; a
// segment whose batches have all been taken is deleted.
//
// Crash safety: a record is written with one write call; after a crash,
// NewFileSpool cuts a segment at its first torn or damaged record (the
// records before it are kept). Writes are not fsynced one by one (a spool
// fills when a worker is overloaded, which is no time for an fsync per
// batch): a full segment is fsynced when the next one starts, and Sync and
// Close fsync the rest. Across a power loss, then, the newest batches may
// be lost, and the cursor may lag so that a few taken batches come back
// (delivery is at least once; the logger's Dedupe absorbs them).
//
// The bound: Put refuses, with ErrSpoolFull, a batch that would take the
// segment files past maxBytes. Taken records stay on disk until their
// segment is wholly taken, so a spool holding little may still be near its
// bound; segments are a quarter of maxBytes (64 KiB to 64 MiB) to keep that
// waste small.
//
// Only encoded batches (CompressBatch) are spooled: their wire fields and
// payload, not their records' columns. A batch taken back has none (it
// cannot be compressed again).
//
// One FileSpool per directory; it is safe for concurrent use.
type FileSpool struct {
	dir    string
	max    int64
	segMax int64

	mu struct {
		sync.Mutex
		segs    []*spoolSeg // oldest first; the last is written if active
		active  bool        // segs[len-1] takes Puts
		nextID  uint64
		bytes   int64 // sum of segment sizes
		records int   // not yet taken
		cursor  *os.File
		buf     []byte
		closed  bool
	}
}

// spoolSeg is one segment file.
type spoolSeg struct {
	id      uint64
	f       *os.File
	size    int64 // valid bytes
	read    int64 // offset of the next record to take
	records int   // records not yet taken
}

// NewFileSpool opens (creating it if needed) the spool in dir, bounded to
// maxBytes of segment files. Segments left by an earlier run are checked
// record by record: a segment is cut at its first torn or damaged record,
// and the batches not yet taken come back from Take, oldest first.
func NewFileSpool(dir string, maxBytes int64) (*FileSpool, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("%w: spool maxBytes %d", ErrBadConfig, maxBytes)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot open spool: %w", err)
	}
	s := &FileSpool{dir: dir, max: maxBytes, segMax: min(max(maxBytes/4, 64<<10), 64<<20, maxBytes)}
	if err := s.open(); err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("cannot open spool: %w", err)
	}
	return s, nil
}

func (s *FileSpool) open() error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	var ids []uint64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), spoolExt)
		if !ok || len(name) != 16 || !e.Type().IsRegular() {
			continue
		}
		id, err := strconv.ParseUint(name, 16, 64)
		if err != nil {
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	cf, err := os.OpenFile(filepath.Join(s.dir, spoolCursorName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	s.mu.cursor = cf
	curSeg, curOff := readCursor(cf)
	s.mu.nextID = curSeg + 1
	for _, id := range ids {
		s.mu.nextID = max(s.mu.nextID, id+1)
		path := s.segPath(id)
		if id < curSeg {
			if err := os.Remove(path); err != nil {
				return err
			}
			continue
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		seg := &spoolSeg{id: id, f: f}
		if err := s.scan(seg, curSeg, curOff); err != nil {
			_ = f.Close()
			return err
		}
		if seg.records == 0 {
			_ = f.Close()
			if err := os.Remove(path); err != nil {
				return err
			}
			continue
		}
		s.mu.segs = append(s.mu.segs, seg)
		s.mu.bytes += seg.size
		s.mu.records += seg.records
	}
	return syncDir(s.dir)
}

// scan validates seg's records, cuts it at the first bad one, and counts
// those at or after the cursor.
func (s *FileSpool) scan(seg *spoolSeg, curSeg uint64, curOff int64) error {
	fi, err := seg.f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	var hdr [spoolRecHeader]byte
	var body []byte
	off := int64(0)
	for off < size {
		n, ok := readSpoolRecord(seg.f, off, size, hdr[:], &body)
		if !ok {
			break
		}
		if seg.id > curSeg || off >= curOff {
			if seg.records == 0 {
				seg.read = off
			}
			seg.records++
		}
		off += n
	}
	if seg.records == 0 {
		seg.read = off
	}
	seg.size = off
	if off < size { // a torn or damaged tail
		if err := seg.f.Truncate(off); err != nil {
			return err
		}
		if err := seg.f.Sync(); err != nil {
			return err
		}
	}
	return nil
}

// readSpoolRecord reads the record at off (of a file of size bytes) into
// *body and reports its framed length; ok is false if it is torn or
// damaged.
func readSpoolRecord(f io.ReaderAt, off, size int64, hdr []byte, body *[]byte) (n int64, ok bool) {
	if size-off < spoolRecHeader {
		return 0, false
	}
	if _, err := f.ReadAt(hdr[:spoolRecHeader], off); err != nil {
		return 0, false
	}
	l := int64(binary.LittleEndian.Uint32(hdr))
	if l < minSpoolBody || l > maxSpoolBody || l > size-off-spoolRecHeader {
		return 0, false
	}
	if int64(cap(*body)) < l {
		*body = make([]byte, l)
	}
	b := (*body)[:l]
	if _, err := f.ReadAt(b, off+spoolRecHeader); err != nil {
		return 0, false
	}
	if crc32.Checksum(b, crcTable) != binary.LittleEndian.Uint32(hdr[4:]) {
		return 0, false
	}
	if _, err := parseSpoolRecord(b); err != nil {
		return 0, false
	}
	*body = b
	return spoolRecHeader + l, true
}

func readCursor(f *os.File) (seg uint64, off int64) {
	var b [cursorSize]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		return 0, 0
	}
	if crc32.Checksum(b[:16], crcTable) != binary.LittleEndian.Uint32(b[16:]) {
		return 0, 0 // never written, or damaged: take everything again
	}
	return binary.LittleEndian.Uint64(b[:]), int64(binary.LittleEndian.Uint64(b[8:]))
}

func (s *FileSpool) segPath(id uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%016x%s", id, spoolExt))
}

// Put appends b to the spool. It fails with ErrSpoolFull if b would take
// the spool past its bound, and with ErrBadBatch if b is not Encoded.
func (s *FileSpool) Put(b Batch) error {
	if !b.Encoded() {
		return fmt.Errorf("%w: spool: batch %s/%d not encoded", ErrBadBatch, b.Stream, b.Seq)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return ErrSpoolClosed
	}
	rec := appendSpoolRecord(s.mu.buf[:0], b)
	s.mu.buf = rec
	n := int64(len(rec))
	if len(rec)-spoolRecHeader > maxSpoolBody || s.mu.bytes+n > s.max {
		return fmt.Errorf("%w: %d bytes held, %d more, bound %d", ErrSpoolFull, s.mu.bytes, n, s.max)
	}
	if !s.mu.active || s.last().size > 0 && s.last().size+n > s.segMax {
		if err := s.rollLocked(); err != nil {
			return fmt.Errorf("cannot spool: %w", err)
		}
	}
	seg := s.last()
	if _, err := seg.f.WriteAt(rec, seg.size); err != nil {
		_ = seg.f.Truncate(seg.size) // best effort; reopening cuts it anyway
		return fmt.Errorf("cannot spool: %w", err)
	}
	seg.size += n
	seg.records++
	s.mu.bytes += n
	s.mu.records++
	return nil
}

// appendSpoolRecord appends b's framed record.
func appendSpoolRecord(dst []byte, b Batch) []byte {
	at := len(dst)
	dst = append(dst, make([]byte, spoolRecHeader)...)
	dst = append(dst, spoolVersion)
	dst = appendStr(dst, b.Stream)
	dst = binary.LittleEndian.AppendUint64(dst, b.Seq)
	dst = binary.LittleEndian.AppendUint32(dst, b.Records)
	dst = append(dst, byte(b.Codec))
	dst = binary.LittleEndian.AppendUint32(dst, b.RawLen)
	dst = append(dst, b.Payload...)
	body := dst[at+spoolRecHeader:]
	binary.LittleEndian.PutUint32(dst[at:], uint32(len(body)))
	binary.LittleEndian.PutUint32(dst[at+4:], crc32.Checksum(body, crcTable))
	return dst
}

// parseSpoolRecord decodes a record body (CRC already checked). It never
// panics; the batch's payload aliases body.
func parseSpoolRecord(body []byte) (Batch, error) {
	r := preader{b: body}
	if v := r.u8("spool version"); r.err == nil && v != spoolVersion {
		return Batch{}, fmt.Errorf("%w: spool record version %d", ErrBadBatch, v)
	}
	var b Batch
	b.Stream = string(r.str("stream", frame.MaxNameLen))
	seq := r.take(8, "seq")
	recs := r.take(4, "records")
	codec := r.u8("codec")
	rawLen := r.take(4, "raw length")
	if r.err != nil {
		return Batch{}, r.err
	}
	b.Seq = binary.LittleEndian.Uint64(seq)
	b.Records = binary.LittleEndian.Uint32(recs)
	b.Codec = frame.Codec(codec)
	b.RawLen = binary.LittleEndian.Uint32(rawLen)
	if len(r.b) == 0 {
		return Batch{}, fmt.Errorf("%w: spool record without payload", ErrBadBatch)
	}
	b.Payload = r.b
	return b, nil
}

func (s *FileSpool) last() *spoolSeg { return s.mu.segs[len(s.mu.segs)-1] }

// rollLocked fsyncs the active segment and starts a new one.
func (s *FileSpool) rollLocked() error {
	if s.mu.active {
		if err := s.last().f.Sync(); err != nil {
			return err
		}
	}
	id := s.mu.nextID
	f, err := os.OpenFile(s.segPath(id), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := syncDir(s.dir); err != nil {
		_ = f.Close()
		_ = os.Remove(s.segPath(id))
		return err
	}
	s.mu.nextID++
	s.mu.segs = append(s.mu.segs, &spoolSeg{id: id, f: f})
	s.mu.active = true
	return nil
}

// Take returns the oldest batch not yet taken; ok is false when there is
// none. A record damaged since it was written (the disk, or another
// process) ends its segment: the rest of that segment is given up and Take
// returns an error wrapping ErrBadBatch; the next Take goes on with the
// next segment.
func (s *FileSpool) Take() (b Batch, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return Batch{}, false, ErrSpoolClosed
	}
	for len(s.mu.segs) > 0 {
		seg := s.mu.segs[0]
		if seg.records == 0 {
			if err := s.dropHeadLocked(); err != nil {
				return Batch{}, false, err
			}
			if len(s.mu.segs) == 0 {
				break
			}
			continue
		}
		var hdr [spoolRecHeader]byte
		n, ok := readSpoolRecord(seg.f, seg.read, seg.size, hdr[:], &s.mu.buf)
		var b Batch
		var derr error
		if ok {
			b, derr = parseSpoolRecord(s.mu.buf[:n-spoolRecHeader])
			b.Payload = slices.Clone(b.Payload) // buf is reused
		}
		if !ok || derr != nil {
			lost, at := seg.records, seg.read
			s.mu.records -= lost
			seg.records, seg.read = 0, seg.size
			_ = s.dropHeadLocked()
			return Batch{}, false, fmt.Errorf("%w: spool segment %s damaged at offset %d, %d batches lost", ErrBadBatch, s.segPath(seg.id), at, lost)
		}
		seg.read += n
		seg.records--
		s.mu.records--
		s.writeCursorLocked(seg.id, seg.read)
		if seg.records == 0 {
			if err := s.dropHeadLocked(); err != nil {
				return b, true, err
			}
		}
		return b, true, nil
	}
	return Batch{}, false, nil
}

// dropHeadLocked deletes the oldest segment, wholly taken. The active
// segment goes too when it is the only one: the next Put starts afresh, so
// an idle spool holds no files.
func (s *FileSpool) dropHeadLocked() error {
	seg := s.mu.segs[0]
	if len(s.mu.segs) == 1 && s.mu.active && seg.read < seg.size {
		return nil
	}
	s.mu.segs = s.mu.segs[1:]
	if len(s.mu.segs) == 0 {
		s.mu.active = false
	}
	s.mu.bytes -= seg.size
	cerr := seg.f.Close()
	if err := os.Remove(s.segPath(seg.id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot remove spool segment: %w", err)
	}
	if cerr != nil {
		return fmt.Errorf("cannot remove spool segment: %w", cerr)
	}
	return nil
}

// writeCursorLocked records that everything before (seg, off) is taken. It
// is not fsynced (see FileSpool); a failed write only means batches may
// come back after a restart, so it is not reported.
func (s *FileSpool) writeCursorLocked(seg uint64, off int64) {
	var b [cursorSize]byte
	binary.LittleEndian.PutUint64(b[:], seg)
	binary.LittleEndian.PutUint64(b[8:], uint64(off))
	binary.LittleEndian.PutUint32(b[16:], crc32.Checksum(b[:16], crcTable))
	_, _ = s.mu.cursor.WriteAt(b[:], 0)
}

// Len returns the number of batches not yet taken.
func (s *FileSpool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.records
}

// Bytes returns the size of the segment files, against maxBytes.
func (s *FileSpool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.bytes
}

// Sync fsyncs the active segment and the cursor.
func (s *FileSpool) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return ErrSpoolClosed
	}
	return s.syncLocked()
}

func (s *FileSpool) syncLocked() error {
	if s.mu.active {
		if err := s.last().f.Sync(); err != nil {
			return fmt.Errorf("cannot sync spool: %w", err)
		}
	}
	if err := s.mu.cursor.Sync(); err != nil {
		return fmt.Errorf("cannot sync spool: %w", err)
	}
	return nil
}

// Close syncs and closes the spool; the batches not taken stay for the
// next NewFileSpool. Later calls return ErrSpoolClosed.
func (s *FileSpool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return ErrSpoolClosed
	}
	s.mu.closed = true
	err := s.syncLocked()
	if cerr := s.closeFiles(); err == nil {
		err = cerr
	}
	return err
}

func (s *FileSpool) closeFiles() error {
	var err error
	for _, seg := range s.mu.segs {
		if cerr := seg.f.Close(); err == nil {
			err = cerr
		}
	}
	s.mu.segs = nil
	if s.mu.cursor != nil {
		if cerr := s.mu.cursor.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

var _ Spool = (*FileSpool)(nil)
