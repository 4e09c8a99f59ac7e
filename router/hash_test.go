package router

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestWordsDetermineTopic checks what the cache's compare relies on: two
// topics of the same length up to shortTopic bytes have the same words if
// and only if they have the same bytes.
func TestWordsDetermineTopic(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for n := range shortTopic + 1 {
		for range 20 {
			a := make([]byte, n)
			for i := range a {
				a[i] = byte(rng.Uint32())
			}
			wa := [4]uint64{}
			wa[0], wa[1], wa[2], wa[3] = words(a)
			var wb [4]uint64
			if wb[0], wb[1], wb[2], wb[3] = words(bytes.Clone(a)); wb != wa {
				t.Fatalf("n=%d: equal topics, words %x and %x", n, wa, wb)
			}
			for i := range n {
				for _, flip := range []byte{0x01, 0x80, 0xff} {
					b := bytes.Clone(a)
					b[i] ^= flip
					if wb[0], wb[1], wb[2], wb[3] = words(b); wb == wa {
						t.Fatalf("n=%d: byte %d changed, words still %x", n, i, wa)
					}
				}
			}
		}
	}
}

// TestCacheTopicLengths matches topics of every length up to past
// CacheMaxTopic, and near twins (one byte changed), through every cached
// form, and compares with the uncached trie walk. A topic matched again
// right after its first match must hit the cache if it is cacheable. The
// second round goes through whatever the first left in the cache. Lengths
// 8-32 take Match's inlined path (16-32 MatchString's and MatchMemo's), the
// rest the general one, and over 32 bytes the long hash.
func TestCacheTopicLengths(t *testing.T) {
	const maxTopic = 70
	r := mustNew[int](t, Options{CacheMaxTopic: maxTopic})
	rng := rand.New(rand.NewPCG(13, 14))
	base := make([]byte, maxTopic+10)
	for i := range base {
		base[i] = "ab/"[rng.IntN(3)]
	}
	var topics [][]byte
	for n := range len(base) + 1 {
		topics = append(topics, base[:n])
		if n > 0 {
			twin := bytes.Clone(base[:n])
			twin[rng.IntN(n)] ^= 0x40
			topics = append(topics, twin)
		}
	}
	// Prefixes of the base topic of many lengths, with subscribers of
	// their own, so the results differ from one length to the next.
	for n := 0; n <= len(base); n += 3 {
		r.Subscribe(string(base[:n]), n)
		r.Subscribe(string(base[:n]), 1000) // shared: dedup and longer lists
	}
	memos := make([]Memo[int], len(topics))
	misses := func() uint64 { return r.Metrics().CacheMisses }
	for round := range 2 {
		for i, topic := range topics {
			want := slices.Sorted(slices.Values(r.matchUncached(topic, nil)))
			m0 := misses()
			for form, got := range [][]int{
				r.Match(topic, make([]int, 0, 1)), // room for one: the no-call append
				r.Match(topic, nil),
				r.MatchString(string(topic), make([]int, 0, 1)),
				r.MatchMemo(&memos[i], topic, make([]int, 0, 1)),
			} {
				if slices.Sort(got); !slices.Equal(got, want) {
					t.Fatalf("round %d form %d: Match(%q) = %v, want %v", round, form, topic, got, want)
				}
			}
			// The first Match may miss, and fill; every later form hits.
			if got := misses() - m0; got > 1 || len(topic) > maxTopic && got != 0 {
				t.Fatalf("round %d: %d cache misses for %q (%d bytes)", round, got, topic, len(topic))
			}
		}
	}
}

// TestCacheCollisions makes every topic hash alike (cacheHash returns a
// constant) and matches several topics of each family in turn through a
// one-set cache: every lookup finds an entry with the topic's hash, and
// only the compare of the words (or bytes) tells the topics apart. Each
// family differs in other words: the first two and the last two of the
// inlined path, the general path's, and a long topic's.
func TestCacheCollisions(t *testing.T) {
	defer func(h func([]byte) uint64) { cacheHash = h }(cacheHash)
	cacheHash = func([]byte) uint64 { return 0x5eed }
	zero8 := string(make([]byte, 8))
	families := map[string][]string{
		// n=24: only words 0 and 3 differ.
		"24 bytes, words 0 and 3": {"AAAAAAAA" + zero8 + "CCCCCCCC", "BAAAAAAA" + zero8 + "CCCCCCCC", "AAAAAAAA" + zero8 + "CCCCCCCD"},
		// n=32: only word 1 differs.
		"32 bytes, word 1": {"\x20" + zero8[1:] + "aaaaaaaa" + "0123456789abcdef", "\x20" + zero8[1:] + "bbbbbbbb" + "0123456789abcdef"},
		// n=32: only word 3 differs.
		"32 bytes, word 3": {"01234567" + "89abcdef" + zero8 + "aaaaaaaa", "01234567" + "89abcdef" + zero8 + "bbbbbbbb"},
		// n=12, the general path.
		"12 bytes": {"\x0c" + zero8[1:] + "aaaa", "\x0c" + zero8[1:] + "bbbb"},
		// n=48, longer than the words: compared byte by byte.
		"48 bytes": {zero8 + "aaaaaaaa" + "0123456789abcdef0123456789abcdef", zero8 + "bbbbbbbb" + "0123456789abcdef0123456789abcdef"},
	}
	for name, topics := range families {
		t.Run(name, func(t *testing.T) {
			r := mustNew[int](t, Options{CacheSize: 2}) // one set
			var h0 uint64
			for i, topic := range topics {
				r.Subscribe(topic, i)
				if _, h := r.lookup(r.snap.Load(), []byte(topic)); i == 0 {
					h0 = h
				} else if h != h0 {
					t.Fatalf("%q hashes to %#x, %q to %#x: not a collision", topics[0], h0, topic, h)
				}
			}
			var m Memo[int]
			for range 3 {
				for i, topic := range topics {
					for form, got := range [][]int{
						r.Match([]byte(topic), make([]int, 0, 1)),
						r.MatchString(topic, nil),
						r.MatchMemo(&m, []byte(topic), nil),
					} {
						if len(got) != 1 || got[0] != i {
							t.Fatalf("form %d: Match(%q) = %v, want [%d]", form, topic, got, i)
						}
					}
				}
			}
		})
	}
}

// FuzzCacheTopics checks the cache against the trie walk for any pair of
// topics: a matched first, then b, then both again from the cache; and, for
// topics of one length up to shortTopic, that their words are equal
// exactly when their bytes are.
func FuzzCacheTopics(f *testing.F) {
	f.Add([]byte("zeek/event/x"), []byte("zeek/event/y"))
	f.Add([]byte("zeek/cluster/node/worker-1/a"), []byte("zeek/cluster/node/worker-1/b"))
	f.Add([]byte("0123456789abcdef0123456789abcdef"), []byte("0123456789abcdef0123456789abcdeg"))
	f.Add([]byte("0123456789abcdef0123456789abcdef!"), []byte("0123456789abcdef0123456789abcde"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if len(a) == len(b) && len(a) <= shortTopic {
			var wa, wb [4]uint64
			wa[0], wa[1], wa[2], wa[3] = words(a)
			wb[0], wb[1], wb[2], wb[3] = words(b)
			if (wa == wb) != bytes.Equal(a, b) {
				t.Fatalf("words %x and %x, bytes %q and %q", wa, wb, a, b)
			}
		}
		r := mustNew[int](t, Options{CacheSize: 2}) // one set: a and b share it
		r.Subscribe(string(a[:len(a)/2]), 1)
		r.Subscribe(string(b[:len(b)/3]), 2)
		r.Subscribe(string(a), 3)
		for range 2 {
			for _, topic := range [][]byte{a, b} {
				want := slices.Sorted(slices.Values(r.matchUncached(topic, nil)))
				got := r.Match(topic, nil)
				if slices.Sort(got); !slices.Equal(got, want) {
					t.Fatalf("Match(%q) = %v, want %v", topic, got, want)
				}
				got = r.MatchString(string(topic), nil)
				if slices.Sort(got); !slices.Equal(got, want) {
					t.Fatalf("MatchString(%q) = %v, want %v", topic, got, want)
				}
			}
		}
	})
}
