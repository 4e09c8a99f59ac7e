package router

import (
	"errors"
	"fmt"
)

// ErrInvalidOptions is returned (wrapped) by Options.Validate and New for
// options out of range.
var ErrInvalidOptions = errors.New("router: invalid options")

// Default option values; see the Options fields.
const (
	DefaultCacheSize      = 4096
	DefaultCacheMaxTopic  = 256
	DefaultCacheMaxResult = 1024

	// MaxCacheSize bounds CacheSize: 1<<20 entries is 8 MiB of slots before
	// any entry is stored, far beyond any useful working set of topics.
	MaxCacheSize = 1 << 20
)

// Options configures a Router. The zero value means all defaults.
type Options struct {
	// CacheSize is the number of slots of the match cache, a table of
	// 2-slot sets indexed by the hash of the topic. It is rounded up to a
	// power of two, at least 2. 0 means DefaultCacheSize (4096); a negative
	// value disables the cache, so every Match walks the trie.
	CacheSize int

	// CacheMaxTopic is the length of the longest topic that is cached:
	// longer ones always walk the trie. It bounds the cache's memory, since
	// an entry keeps a copy of its topic. 0 means DefaultCacheMaxTopic (256).
	CacheMaxTopic int

	// CacheMaxResult bounds the number of subscribers an entry copies: a
	// longer result is not cached, so every Match of its topic walks the
	// trie. 0 means DefaultCacheMaxResult (1024).
	CacheMaxResult int
}

// EnsureDefaults replaces zero fields with their defaults and returns o. It
// writes o, so it is not safe for concurrent use on the same Options.
func (o *Options) EnsureDefaults() *Options {
	if o.CacheSize == 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.CacheMaxTopic == 0 {
		o.CacheMaxTopic = DefaultCacheMaxTopic
	}
	if o.CacheMaxResult == 0 {
		o.CacheMaxResult = DefaultCacheMaxResult
	}
	return o
}

// Validate reports options that are out of range, wrapping
// ErrInvalidOptions. It accepts zero fields (they mean defaults). It only
// reads o: safe for concurrent use.
func (o *Options) Validate() error {
	switch {
	case o.CacheSize > MaxCacheSize:
		return fmt.Errorf("%w: CacheSize %d exceeds %d", ErrInvalidOptions, o.CacheSize, MaxCacheSize)
	case o.CacheMaxTopic < 0:
		return fmt.Errorf("%w: negative CacheMaxTopic %d", ErrInvalidOptions, o.CacheMaxTopic)
	case o.CacheMaxResult < 0:
		return fmt.Errorf("%w: negative CacheMaxResult %d", ErrInvalidOptions, o.CacheMaxResult)
	}
	return nil
}

// cacheSlots returns the number of cache slots for validated, defaulted
// options: 0 if the cache is disabled, else a power of two, at least 2.
func (o *Options) cacheSlots() int {
	if o.CacheSize < 0 {
		return 0
	}
	n := 2
	for n < o.CacheSize {
		n <<= 1
	}
	return n
}
