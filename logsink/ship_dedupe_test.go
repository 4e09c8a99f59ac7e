package logsink

import (
	"testing"

	"github.com/weirio/weir/frame"
)

func TestDedupe(t *testing.T) {
	d, err := NewDedupe(&DedupeOptions{Window: 64})
	if err != nil {
		t.Fatal(err)
	}
	o1, o2 := frame.NodeID{1}, frame.NodeID{2}
	steps := []struct {
		origin frame.NodeID
		stream string
		seq    uint64
		want   Verdict
	}{
		{o1, "conn", 1, New},
		{o1, "conn", 1, Duplicate},
		{o2, "conn", 1, New}, // other origin
		{o1, "dns", 1, New},  // other stream
		{o1, "conn", 5, New}, // gap
		{o1, "conn", 3, New}, // out of order within the window: once
		{o1, "conn", 3, Duplicate},
		{o1, "conn", 4, New},
		{o1, "conn", 5, Duplicate},
		{o1, "conn", 68, New}, // window slides: 5..68 remembered
		{o1, "conn", 4, TooOld},
		{o1, "conn", 5, Duplicate},
		{o1, "conn", 6, New},
		{o1, "conn", 6, Duplicate},
		{o1, "conn", 1000, New}, // jump past the window
		{o1, "conn", 68, TooOld},
		{o1, "conn", 937, New},
		{o1, "conn", 936, TooOld},
		{o1, "conn", 999, New},
		{o1, "conn", 1000, Duplicate},
	}
	for i, s := range steps {
		if got := d.Accept(s.origin, s.stream, s.seq); got != s.want {
			t.Errorf("step %d (%s %d): got %v, want %v", i, s.stream, s.seq, got, s.want)
		}
	}
}

// TestDedupeModel checks the window against a map of everything marked.
func TestDedupeModel(t *testing.T) {
	const win = 128
	d, _ := NewDedupe(&DedupeOptions{Window: win})
	seen := map[uint64]bool{}
	var top uint64
	r := newRand(7)
	o := frame.NodeID{9}
	for range 20000 {
		q := top + uint64(r.IntN(40))
		if q > 60 && r.IntN(2) == 0 {
			q -= min(q, uint64(r.IntN(60+win)))
		}
		var want Verdict
		switch {
		case top >= q+win && q < top:
			want = TooOld
		case seen[q]:
			want = Duplicate
		default:
			want = New
		}
		if got := d.Accept(o, "s", q); got != want {
			t.Fatalf("seq %d top %d: got %v, want %v", q, top, got, want)
		}
		if want == New {
			seen[q] = true
			top = max(top, q)
		}
	}
}

func TestDedupeBounded(t *testing.T) {
	d, _ := NewDedupe(&DedupeOptions{MaxStreams: 3})
	for i := range 10 {
		d.Mark(frame.NodeID{byte(i)}, "s", 1)
	}
	if d.Len() != 3 {
		t.Fatalf("%d pairs tracked, want 3", d.Len())
	}
	// The most recent pairs are kept.
	if v := d.Check(frame.NodeID{9}, "s", 1); v != Duplicate {
		t.Fatalf("newest pair forgotten: %v", v)
	}
	if v := d.Check(frame.NodeID{0}, "s", 1); v != New {
		t.Fatalf("oldest pair kept: %v", v)
	}
}
