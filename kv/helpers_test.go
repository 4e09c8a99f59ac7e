package kv

import (
	"bytes"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/weirio/weir/frame"
)

// Short names for building values in tests.
var (
	cnt   = frame.NewCount
	intv  = frame.NewInt
	flt   = frame.NewReal
	str   = frame.NewString
	set   = frame.NewSet
	vec   = frame.NewVector
	table = func(kv ...frame.Value) frame.Value {
		var es []frame.Entry
		for i := 0; i+1 < len(kv); i += 2 {
			es = append(es, frame.Entry{Key: kv[i], Value: kv[i+1]})
		}
		return frame.NewTable(es...)
	}
)

func enc(v frame.Value) []byte { return frame.AppendValue(nil, v) }

func dec(t testing.TB, b []byte) frame.Value {
	t.Helper()
	v, rest, err := frame.DecodeValue(b, &frame.Limits{MaxDepth: 1000})
	if err != nil || len(rest) != 0 {
		t.Fatalf("stored bytes %x do not decode: %v (%d trailing)", b, err, len(rest))
	}
	return v.Value()
}

// backendKind opens a fresh backend of one kind for a test.
type backendKind struct {
	name string
	open func(t testing.TB) Backend
}

var backendKinds = []backendKind{
	{"memory", func(testing.TB) Backend { return NewMemory() }},
	{"pebble", func(t testing.TB) Backend {
		p, err := OpenPebble(PebbleOptions{FS: vfs.NewMem()})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}},
}

func newStore(t testing.TB, b Backend, opts Options) *Store {
	t.Helper()
	s, err := New(b, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// mustExec runs a command that must succeed.
func mustExec(t testing.TB, s *Store, c Command, now int64) (frame.Value, Update) {
	t.Helper()
	r, u, err := s.Exec(c, now)
	if err != nil {
		t.Fatalf("%s: %v", c.Op, err)
	}
	return r, u
}

// contents reads a store into a map from key encoding to entry.
type entry struct {
	val []byte
	at  int64
}

func contents(t testing.TB, s *Store) map[string]entry {
	t.Helper()
	m := make(map[string]entry)
	err := s.Snapshot(func(k, v []byte, at int64) bool {
		if _, dup := m[string(k)]; dup {
			t.Errorf("snapshot returns key %x twice", k)
		}
		m[string(k)] = entry{bytes.Clone(v), at}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameContents(t testing.TB, what string, got, want map[string]entry) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Fatalf("%s: key %s missing", what, dec(t, []byte(k)))
		case !bytes.Equal(g.val, w.val) || g.at != w.at:
			t.Fatalf("%s: key %s = %s @%d, want %s @%d", what, dec(t, []byte(k)), dec(t, g.val), g.at, dec(t, w.val), w.at)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Fatalf("%s: extra key %s", what, dec(t, []byte(k)))
		}
	}
}
