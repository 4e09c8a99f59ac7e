package logsink

import (
	"bufio"
	"fmt"
	"io"
	"math/bits"
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
	// WritePayload writes every record of a parsed payload of the
	// writer's schema, byte-identical to WriteViews of each record of
	// its Each, formatting straight from the payload's columns: the
	// logger's path. A payload of another schema is refused with
	// ErrRecordMismatch and nothing is written.
	WritePayload(p *Payload) error
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

// textChunk is how many bytes of formatted records WritePayload gathers
// before handing them to the buffered writer.
const textChunk = 32 << 10

// textWriter is the resumable form of WritePayload that RotatingFile uses
// to rotate by size in the middle of a payload.
type textWriter interface {
	writeText(p *Payload, limit int64) error
}

var (
	_ textWriter = (*TSVWriter)(nil)
	_ textWriter = (*JSONWriter)(nil)
)

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

// flushedSize is Size less what is still buffered: the bytes handed to
// the underlying writer.
func (b *countingBuf) flushedSize() int64 { return b.size - int64(b.bw.Buffered()) }

// appendEpochNanos formats ns nanoseconds as seconds with exactly six decimals,
// rounded half away from zero to the microsecond, in integer arithmetic so
// that no float rounding creeps in (1700000000123456789 ns is
// "1700000000.123457").
//
// Hot path (two columns of every conn.log record): divisions by constants
// only, the decimals two at a time from a table.
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
	dst = appendDec(dst, us/1e6)
	frac := us % 1e6
	a, b, c := frac/10000*2, frac/100%100*2, frac%100*2
	return append(dst, '.', digitPairs[a], digitPairs[a+1], digitPairs[b], digitPairs[b+1], digitPairs[c], digitPairs[c+1])
}

// appendDec appends u in decimal, as strconv.AppendUint(dst, u, 10).
//
// Hot path (the logger's counts, ports and times): the digits are
// written in place, two at a time.
func appendDec(dst []byte, u uint64) []byte {
	if u < 10 {
		return append(dst, byte('0'+u))
	}
	n := decLen(u)
	o := len(dst)
	dst = growBytes(dst, n)[:o+n]
	putDecDigits(dst[o:o+n], u)
	return dst
}

// putDecDigits writes the decimal digits of u into b, which holds exactly
// decLen(u) bytes, two digits at a time from the right.
func putDecDigits(b []byte, u uint64) {
	i := len(b)
	for u >= 100 {
		q := u / 100
		r := (u - 100*q) * 2
		i -= 2
		b[i], b[i+1] = digitPairs[r], digitPairs[r+1]
		u = q
	}
	if u >= 10 {
		b[i-2], b[i-1] = digitPairs[2*u], digitPairs[2*u+1]
	} else {
		b[i-1] = byte('0' + u)
	}
}

// appendInt appends v in decimal, as strconv.AppendInt(dst, v, 10).
func appendInt(dst []byte, v int64) []byte {
	if v < 0 {
		return appendDec(append(dst, '-'), -uint64(v))
	}
	return appendDec(dst, uint64(v))
}

// decLen returns the number of decimal digits of u.
func decLen(u uint64) int {
	n := (bits.Len64(u) * 1233) >> 12 // floor(log10(2^bits)), off by at most one
	if n < len(pow10u) && u >= pow10u[n] {
		n++
	}
	return max(n, 1)
}

var pow10u = [...]uint64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13,
	1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// digitPairs holds "00" to "99".
const digitPairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

func appendEpochTime(dst []byte, t time.Time) []byte {
	return appendEpochNanos(dst, t.UnixNano())
}
