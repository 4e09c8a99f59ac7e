package kv

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// expireAll expires everything due at now (one unbounded Expire) and
// returns the keys it removed.
func expireAll(t *testing.T, p *Pebble, now int64) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	if _, err := p.Expire(now, 0, func(k []byte) { got[string(k)] = true }); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestPebbleExactEntries checks that Expire deletes the records of keys
// written once without reading them, and still reads, and keeps, the
// records whose entries a later write made stale.
func TestPebbleExactEntries(t *testing.T) {
	fs := vfs.NewMem()
	p := openPebble(t, PebbleOptions{FS: fs})
	waitFilter(p) // without the filter every write is a suspect
	v := enc(cnt(1))
	key := func(i int) []byte { return enc(str(fmt.Sprintf("k%03d", i))) }
	for i := range 100 {
		if err := p.Put(key(i), v, 100); err != nil {
			t.Fatal(err)
		}
	}
	// Rewritten after their entries at 100: k000-k009 expire at 200 now,
	// k010-k019 never.
	for i := range 10 {
		if err := p.Put(key(i), v, 200); err != nil {
			t.Fatal(err)
		}
		if err := p.Put(key(10+i), v, 0); err != nil {
			t.Fatal(err)
		}
	}
	got := expireAll(t, p, 150)
	if len(got) != 80 {
		t.Fatalf("expired %d keys at 150, want 80", len(got))
	}
	for i := range 20 {
		if got[string(key(i))] {
			t.Fatalf("rewritten key %d expired at its stale entry", i)
		}
	}
	m := p.Metrics()
	if m.IndexReads != 20 {
		t.Fatalf("IndexReads = %d, want 20 (the rewritten keys' stale entries)", m.IndexReads)
	}
	if got := expireAll(t, p, 250); len(got) != 10 {
		t.Fatalf("expired %d keys at 250, want 10", len(got))
	}
	checkPebble(t, p)
	if n, _ := p.Len(); n != 10 {
		t.Fatalf("Len = %d, want 10", n)
	}
	p.Close()
}

// TestPebbleExactEntriesReopen checks that entries written before an open
// are not trusted: the suspects of the earlier open are gone.
func TestPebbleExactEntriesReopen(t *testing.T) {
	fs := vfs.NewMem()
	p := openPebble(t, PebbleOptions{FS: fs})
	waitFilter(p)
	k, v := enc(str("k")), enc(cnt(1))
	if err := p.Put(k, v, 100); err != nil {
		t.Fatal(err)
	}
	if err := p.Put(k, v, 300); err != nil { // the entry at 100 is stale now
		t.Fatal(err)
	}
	if err := p.Put(enc(str("once")), v, 100); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = openPebble(t, PebbleOptions{FS: fs})
	defer p.Close()
	waitFilter(p)
	got := expireAll(t, p, 200)
	if len(got) != 1 || !got[string(enc(str("once")))] {
		t.Fatalf("expired %v at 200, want only \"once\"", got)
	}
	if m := p.Metrics(); m.IndexReads < 2 {
		t.Fatalf("IndexReads = %d: entries of the last open were trusted", m.IndexReads)
	}
	if _, _, ok, err := p.Get(k); err != nil || !ok {
		t.Fatalf("rewritten key after reopen: ok %v, err %v", ok, err)
	}
	checkPebble(t, p)
}

// TestPebbleExactEntriesNewEpoch checks that past the suspect filter's
// capacity the backend starts a new epoch: the suspects are forgotten, and
// the entries written before are checked by reading.
func TestPebbleExactEntriesNewEpoch(t *testing.T) {
	oldMin, oldMax := suspectMinCap, suspectMaxCap
	suspectMinCap, suspectMaxCap = 2, 4
	defer func() { suspectMinCap, suspectMaxCap = oldMin, oldMax }()
	fs := vfs.NewMem()
	p := openPebble(t, PebbleOptions{FS: fs})
	waitFilter(p)
	v := enc(cnt(1))
	key := func(i int) []byte { return enc(str(fmt.Sprintf("k%03d", i))) }
	for i := range 10 {
		if err := p.Put(key(i), v, 100); err != nil {
			t.Fatal(err)
		}
	}
	e0 := p.epoch
	for i := range 10 { // ten suspects: at least one new epoch
		if err := p.Put(key(i), v, 300); err != nil {
			t.Fatal(err)
		}
	}
	if p.epoch < e0+2 || p.suspects.capacity != suspectMaxCap || p.suspects.added > suspectMaxCap {
		t.Fatalf("epoch %d -> %d with a suspect filter of %d/%d keys", e0, p.epoch, p.suspects.added, p.suspects.capacity)
	}
	if got := expireAll(t, p, 200); len(got) != 0 {
		t.Fatalf("expired %d rewritten keys at their stale entries", len(got))
	}
	if got := expireAll(t, p, 300); len(got) != 10 {
		t.Fatalf("expired %d keys at 300, want 10", len(got))
	}
	checkPebble(t, p)
	e1 := p.epoch
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = openPebble(t, PebbleOptions{FS: fs})
	defer p.Close()
	if p.epoch != e1+1 {
		t.Fatalf("epoch after reopen %d, want %d (one more than the last in use)", p.epoch, e1+1)
	}
}
