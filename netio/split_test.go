package netio

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/testutil"
)

// TestFramesSplitAcrossReads sends a stream of frames cut at random points,
// waiting after each piece until the engine has handled every frame it
// completes, so that frames (and their headers) straddle reads in every way:
// the partial-frame path of readGnet, where gnet carries the bytes of an
// unfinished frame from one read to the next.
func TestFramesSplitAcrossReads(t *testing.T) {
	r := newRecorder()
	e := newEngine(t, "srv", r, nil)
	addr := listen(t, e)
	c := rawHandshake(t, addr, frame.NodeID{7})
	testutil.WaitFor(t, "raw peer up", func() bool { return r.peer("raw") != nil })

	rng := rand.New(rand.NewPCG(5, 5))
	var stream []byte
	var ends []int // offset in stream where each frame ends
	var want [][]byte
	for i := range 400 {
		payload := bytes.Repeat([]byte{byte(i)}, rng.IntN(3000))
		f := frame.AppendDataString(nil, frame.Header{}, []byte(fmt.Sprintf("t/%d", i)), payload)
		want = append(want, f)
		stream = append(stream, f...)
		ends = append(ends, len(stream))
	}
	sent, done := 0, 0
	for sent < len(stream) {
		var n int
		switch rng.IntN(4) {
		case 0:
			n = 1 + rng.IntN(frame.HeaderSize) // cut inside a header
		case 1:
			n = 1 + rng.IntN(100)
		default:
			n = 1 + rng.IntN(8000) // several frames and a part
		}
		n = min(n, len(stream)-sent)
		if _, err := c.Write(stream[sent : sent+n]); err != nil {
			t.Fatal(err)
		}
		sent += n
		for done < len(ends) && ends[done] <= sent {
			done++
		}
		testutil.WaitFor(t, fmt.Sprintf("%d frames handled", done), func() bool { return r.nframes("raw") == done })
	}
	r.mu.Lock()
	got := r.frames["raw"]
	r.mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("got %d frames, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("frame %d differs", i)
		}
	}
}
