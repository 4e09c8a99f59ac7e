package logsink

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
)

// tsvHeaderPrefixes are the first bytes of the eight header lines of a TSV
// log, in order.
var tsvHeaderPrefixes = [...]string{
	"#separator ", "#set_separator\t", "#empty_field\t", "#unset_field\t",
	"#path\t", "#open\t", "#fields\t", "#types\t",
}

// maxHeaderLine bounds one header line read by Repair and by the reopen
// check of RotatingFile; a longer line is treated as a damaged header.
const maxHeaderLine = 1 << 20

// Repair makes a log file left by a crash safe to append to. Every write
// ends in '\n', so bytes after the last '\n' are a torn record (or the
// zeroes some file systems leave): the file is truncated to just after the
// last '\n'. A file that starts like a TSV log ("#separator") but does
// not hold all eight header lines after that is truncated to 0 bytes. A file
// that ends cleanly with a complete header (or that is not TSV) is left
// untouched. Repair returns the number of bytes cut and fsyncs the file
// when it cut anything. It must not run while a writer has the file open.
func Repair(path string) (cut int64, err error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("cannot repair: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("cannot repair: %w", cerr)
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("cannot repair: %w", err)
	}
	size := fi.Size()
	keep, err := lastNewlineEnd(f, size)
	if err != nil {
		return 0, fmt.Errorf("cannot repair: %w", err)
	}
	if keep > 0 {
		isTSV, complete, err := tsvHeaderState(io.NewSectionReader(f, 0, keep))
		if err != nil {
			return 0, fmt.Errorf("cannot repair: %w", err)
		}
		if isTSV && !complete {
			keep = 0
		}
	}
	if keep == size {
		return 0, nil
	}
	if err := f.Truncate(keep); err != nil {
		return 0, fmt.Errorf("cannot repair: %w", err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("cannot repair: %w", err)
	}
	return size - keep, nil
}

// lastNewlineEnd returns the offset just after the last '\n' in the first
// size bytes of r, or 0 if there is none, reading backwards in chunks so
// that a large log is not read whole.
func lastNewlineEnd(r io.ReaderAt, size int64) (int64, error) {
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	for end := size; end > 0; {
		start := max(end-chunk, 0)
		b := buf[:end-start]
		if _, err := r.ReadAt(b, start); err != nil && err != io.EOF {
			return 0, err
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

// tsvHeaderState reports whether r starts like a TSV log and, if so,
// whether its eight header lines are all there, complete and in order.
func tsvHeaderState(r io.Reader) (isTSV, complete bool, err error) {
	lines, err := readTSVHeader(r)
	if err != nil {
		return false, false, err
	}
	if len(lines) == 0 {
		return false, false, nil
	}
	return true, len(lines) == len(tsvHeaderPrefixes), nil
}

// readTSVHeader returns the leading complete ('\n'-terminated) lines of r
// that match tsvHeaderPrefixes in order, without their '\n'; it stops at
// the first line that does not.
func readTSVHeader(r io.Reader) ([]string, error) {
	br := bufio.NewReader(r)
	var lines []string
	for _, p := range tsvHeaderPrefixes {
		line, err := readLineLimited(br, maxHeaderLine)
		if err == io.EOF {
			return lines, nil
		}
		if err != nil {
			return nil, err
		}
		if len(line) < len(p) || string(line[:len(p)]) != p {
			return lines, nil
		}
		lines = append(lines, string(line))
	}
	return lines, nil
}

// readLineLimited reads one '\n'-terminated line of at most limit bytes
// and returns it without the '\n'. An unterminated or overlong line
// yields io.EOF.
func readLineLimited(br *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		line = append(line, frag...)
		if len(line) > limit+1 {
			return nil, io.EOF
		}
		switch err {
		case nil:
			return line[:len(line)-1], nil
		case bufio.ErrBufferFull:
			continue
		default:
			return nil, err
		}
	}
}
