package logsink

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/weirio/weir/frame"
)

// Writer writes the records of one log stream in one format. Writers are
// not safe for concurrent use; RotatingFile serializes access to its own.
type Writer interface {
	// Write appends one record: one value per schema column, frame.None
	// for an unset field. A record that does not fit the schema is refused
	// with ErrRecordMismatch and nothing is written.
	Write(rec []frame.Value) error
	// WriteViews is Write from views (as ParsePayload's Each gives them),
	// with byte-identical output for the same values; it does not allocate
	// on the steady state.
	WriteViews(rec []frame.View) error
	// Flush hands buffered bytes to the underlying io.Writer.
	Flush() error
	// Sync flushes and, if the underlying writer has a Sync method (an
	// *os.File), fsyncs it: the point at which records may be acked.
	Sync() error
	// Close writes the format's footer (TSV: "#close") and flushes. It
	// does not close the underlying io.Writer, which the caller owns.
	Close() error
	// Size returns the bytes written so far, buffered ones included (and,
	// for a writer appending to an existing file, the file's prior size).
	Size() int64
}

// ZeekTimeFormat is the layout of "#open"/"#close" and of the times in
// rotated file names: Zeek's "%Y-%m-%d-%H-%M-%S".
const ZeekTimeFormat = "2006-01-02-15-04-05"

// countingBuf is the buffering and byte counting shared by the writers.
type countingBuf struct {
	dst    io.Writer
	bw     *bufio.Writer
	size   int64
	closed bool
	line   []byte  // scratch for one record, reused
	vb     viewBuf // Write's values as views
}

// viewBuf turns a record of values into views of their encodings, reusing
// its buffers: it lets Write share WriteViews' formatting code.
type viewBuf struct {
	enc   []byte
	ends  []int
	views []frame.View
}

func (vb *viewBuf) of(rec []frame.Value) ([]frame.View, error) {
	vb.enc, vb.ends = vb.enc[:0], vb.ends[:0]
	for _, v := range rec {
		vb.enc = frame.AppendValue(vb.enc, v)
		vb.ends = append(vb.ends, len(vb.enc))
	}
	vb.views = vb.views[:0]
	start := 0
	for _, end := range vb.ends {
		v, _, err := frame.DecodeValue(vb.enc[start:end], nil)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrRecordMismatch, err)
		}
		vb.views = append(vb.views, v)
		start = end
	}
	return vb.views, nil
}

func newCountingBuf(dst io.Writer, size int64) countingBuf {
	return countingBuf{dst: dst, bw: bufio.NewWriterSize(dst, 64<<10), size: size}
}

func (b *countingBuf) put(p []byte) error {
	n, err := b.bw.Write(p)
	b.size += int64(n)
	return err
}

func (b *countingBuf) Flush() error { return b.bw.Flush() }

func (b *countingBuf) Sync() error {
	if err := b.bw.Flush(); err != nil {
		return err
	}
	if s, ok := b.dst.(interface{ Sync() error }); ok {
		return s.Sync()
	}
	return nil
}

func (b *countingBuf) Size() int64 { return b.size }

// appendEpochNanos formats ns nanoseconds as seconds with exactly six decimals,
// rounded half away from zero to the microsecond, in integer arithmetic so
// that no float rounding creeps in (1700000000123456789 ns is
// "1700000000.123457").
func appendEpochNanos(dst []byte, ns int64) []byte {
	u := uint64(ns)
	if ns < 0 {
		dst = append(dst, '-')
		u = -u
	}
	us := u / 1000
	if u%1000 >= 500 {
		us++
	}
	dst = strconv.AppendUint(dst, us/1e6, 10)
	dst = append(dst, '.')
	frac := us % 1e6
	for d := uint64(100000); d > 0; d /= 10 {
		dst = append(dst, byte('0'+frac/d%10))
	}
	return dst
}

func appendEpochTime(dst []byte, t time.Time) []byte {
	return appendEpochNanos(dst, t.UnixNano())
}
