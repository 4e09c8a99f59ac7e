//go:build faults

package faults

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/testutil"
)

// Raw connections that speak (or abuse) the wire protocol by hand.

func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func helloFrame(id frame.NodeID, name string, filter ...string) []byte {
	return frame.AppendHello(nil, frame.Hello{MinVersion: frame.MinVersion, MaxVersion: frame.Version, ID: id,
		Name: []byte(name), Filter: frame.MakeStrList(filter...)})
}

// rawHandshake connects as a peer without a filter and reads the welcome.
func rawHandshake(t *testing.T, addr string, id frame.NodeID) net.Conn {
	t.Helper()
	c := dialRaw(t, addr)
	if _, err := c.Write(helloFrame(id, "raw")); err != nil {
		t.Fatal(err)
	}
	if f := readFrame(t, c); f.Kind() != frame.KindWelcome {
		t.Fatalf("got %v, want welcome", f.Kind())
	}
	return c
}

// readFrame reads one frame from a raw connection.
func readFrame(t *testing.T, c net.Conn) frame.Frame {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(testutil.Deadline))
	hdr := make([]byte, frame.HeaderSize)
	if _, err := io.ReadFull(c, hdr); err != nil {
		t.Fatalf("read header: %v", err)
	}
	b := make([]byte, binary.LittleEndian.Uint32(hdr))
	copy(b, hdr)
	if _, err := io.ReadFull(c, b[frame.HeaderSize:]); err != nil {
		t.Fatalf("read body: %v", err)
	}
	f, _, err := frame.Scan(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// closedWith reads until the node closes the connection and returns the
// code of the last error or bye frame it sent (0xffff: none), or ok false
// if it was not closed within testutil.Deadline.
func closedWith(c net.Conn) (code frame.ErrCode, ok bool) {
	_ = c.SetReadDeadline(time.Now().Add(testutil.Deadline))
	data, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return 0, false
	}
	code = frame.ErrCode(0xffff)
	for len(data) > 0 {
		f, need, err := frame.Scan(data, nil)
		if err != nil || need > 0 {
			break
		}
		if f.Kind() == frame.KindError || f.Kind() == frame.KindBye {
			r, _ := frame.DecodeReason(f.Body())
			code = r.Code
		}
		data = data[f.Len():]
	}
	return code, true
}

// header builds a frame header by hand, lies included.
func header(length uint32, kind frame.Kind, topicLen uint16) []byte {
	h := make([]byte, frame.HeaderSize)
	binary.LittleEndian.PutUint32(h[0:], length)
	h[4] = byte(kind)
	h[6] = frame.DefaultTTL
	h[7] = frame.Magic
	binary.LittleEndian.PutUint16(h[8:], topicLen)
	return h
}
