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

// TestPebbleExactEntriesEpochs checks the suspect generations: entries
// of the epochs whose suspects are kept stay exact while other keys are
// rewritten; past suspectGens epochs the oldest suspects are forgotten and
// those entries are checked by reading; and a reopened backend continues
// after the last epoch used.
func TestPebbleExactEntriesEpochs(t *testing.T) {
	oldKeys, oldGens := suspectGenKeys, suspectGens
	suspectGenKeys, suspectGens = 4, 3
	defer func() { suspectGenKeys, suspectGens = oldKeys, oldGens }()
	fs := vfs.NewMem()
	p := openPebble(t, PebbleOptions{FS: fs})
	waitFilter(p)
	v := enc(cnt(1))
	key := func(i int) []byte { return enc(str(fmt.Sprintf("k%03d", i))) }
	put := func(i int, at int64) {
		t.Helper()
		if err := p.Put(key(i), v, at); err != nil {
			t.Fatal(err)
		}
	}
	e0 := p.epoch
	for i := range 10 {
		put(i, 100) // written once: exact
	}
	for i := range 10 {
		put(100+i, 0) // new keys, no suspects
	}
	for i := range 8 {
		put(100+i, 0) // eight suspects: two full generations
	}
	if p.epoch != e0+2 || len(p.suspects) != 3 {
		t.Fatalf("epoch %d -> %d, %d generations; want +2 and 3", e0, p.epoch, len(p.suspects))
	}
	if got := expireAll(t, p, 150); len(got) != 10 {
		t.Fatalf("expired %d keys at 150, want 10", len(got))
	}
	if m := p.Metrics(); m.IndexReads != 0 {
		t.Fatalf("IndexReads = %d: entries within the kept epochs were read", m.IndexReads)
	}
	// Entries of epoch e0+2, then enough suspects to drop its generation.
	for i := range 10 {
		put(200+i, 300)
	}
	for i := range 4 {
		put(200+i, 400) // stale entries at 300
	}
	for i := range 12 {
		put(100+i, 1) // suspects of later epochs
	}
	if p.suspects[0].epoch <= e0+2 || len(p.suspects) != suspectGens {
		t.Fatalf("oldest kept epoch %d (%d generations), want past %d", p.suspects[0].epoch, len(p.suspects), e0+2)
	}
	got := expireAll(t, p, 350)
	if len(got) != 6+12 {
		t.Fatalf("expired %d keys at 350, want 18", len(got))
	}
	for i := range 4 {
		if got[string(key(200+i))] {
			t.Fatalf("key %d expired at its stale entry", 200+i)
		}
	}
	if m := p.Metrics(); m.IndexReads < 10 {
		t.Fatalf("IndexReads = %d: entries older than the kept epochs were trusted", m.IndexReads)
	}
	if got := expireAll(t, p, 450); len(got) != 4 {
		t.Fatalf("expired %d keys at 450, want 4", len(got))
	}
	// A key rewritten in a later epoch than its entry's.
	put(300, 500)
	e := p.epoch
	for i := 0; p.epoch == e; i++ {
		put(100+i%10, 0)
	}
	put(300, 0) // the entry at 500 is stale now
	if got := expireAll(t, p, 600); len(got) != 0 {
		t.Fatalf("expired %v at 600: a suspect of a later epoch was missed", got)
	}
	checkPebble(t, p)
	last := p.epoch
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	p = openPebble(t, PebbleOptions{FS: fs})
	defer p.Close()
	if p.epoch != last+1 {
		t.Fatalf("epoch after reopen %d, want %d (one more than the last in use)", p.epoch, last+1)
	}
}
