package router

import (
	"encoding/binary"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// The match cache's view of a topic: its hash and its words.

// cacheHash hashes a topic for the match cache: XXH64 (seed 0), the design
// card's hash for router caches. A variable only so that tests can make
// every topic collide.
var cacheHash = xxhash.Sum64

// shortTopic is the length of the longest topic whose words hold all of its
// bytes: the cache compares such topics by their length and words, the
// longer ones byte by byte.
const shortTopic = 32

// words returns a topic of at most shortTopic bytes as four words: with
// 16-32 bytes its first 16 bytes and its last 16 (which overlap unless it
// has 32); with 8-15 bytes its first 8 and last 8, and with 4-7 its first 4
// and last 4 (w2 = w3 = 0); with 1-3 bytes its first, middle and last byte
// in w0; all zero for no bytes. The words cover every byte, so two topics
// of the same length with the same words are the same topic.
//
// Hot path: four loads and no bounds check for 16 bytes and more, the
// common topic length. It is too large to inline, so Match, MatchString
// and MatchMemo read the words by hand.
func words(b []byte) (w0, w1, w2, w3 uint64) {
	if n := len(b); n >= 16 {
		return load64(b, 0), load64(b, 8), load64(b, n-16), load64(b, n-8)
	}
	return wordsShort(b)
}

// wordsShort is words for fewer than 16 bytes.
func wordsShort(b []byte) (w0, w1, w2, w3 uint64) {
	switch n := len(b); {
	case n >= 8:
		w0, w1 = load64(b, 0), load64(b, n-8)
	case n >= 4:
		w0, w1 = uint64(load32(b, 0)), uint64(load32(b, n-4))
	case n > 0:
		w0 = uint64(b[0])<<16 | uint64(b[n>>1])<<8 | uint64(b[n-1])
	}
	return w0, w1, 0, 0
}

// load64 returns the 8 bytes of b at i, little-endian. The caller
// guarantees i >= 0 and i+8 <= len(b); the fixed-size array view lets the
// compiler load them with one instruction and no bounds check.
func load64(b []byte, i int) uint64 {
	return binary.LittleEndian.Uint64((*[8]byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(b)), i))[:])
}

// load32 is load64 for 4 bytes.
func load32(b []byte, i int) uint32 {
	return binary.LittleEndian.Uint32((*[4]byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(b)), i))[:])
}

// stringBytes views s as bytes without a copy, for reading only: the view
// must not be written, nor outlive the call that made it.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
