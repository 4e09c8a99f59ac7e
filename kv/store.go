package kv

import (
	"fmt"
	"math"

	"github.com/weirio/weir/frame"
)

// Defaults of Options.
const (
	DefaultMaxKeySize   = 64 << 10 // 64 KiB
	DefaultMaxValueSize = 8 << 20  // 8 MiB: half the default frame limit, so updates and snapshot chunks fit
)

// Options configure a Store. The zero value means the defaults.
type Options struct {
	// MaxKeySize is the largest key encoding accepted, in bytes.
	// Default DefaultMaxKeySize (64 KiB).
	MaxKeySize int
	// MaxValueSize is the largest value encoding accepted or produced (by
	// add), in bytes. Keep it below the frame size limit of every node the
	// store replicates to. Default DefaultMaxValueSize (8 MiB).
	MaxValueSize int
	// MaxDepth is the deepest value nesting add may produce and
	// ApplyUpdate accepts; set it to the decoder's frame.Limits.MaxDepth.
	// Default frame.DefaultMaxDepth (32).
	MaxDepth int
	// OnEvent, if set, is called synchronously for every change to the
	// store (insert, update, erase, expire), on the goroutine calling the
	// Store, after the change is written. It must not call the Store; its
	// Event's slices are valid only during the call. Without it, puts do
	// not read the previous value.
	OnEvent func(Event)
}

// EnsureDefaults fills in zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.MaxKeySize == 0 {
		o.MaxKeySize = DefaultMaxKeySize
	}
	if o.MaxValueSize == 0 {
		o.MaxValueSize = DefaultMaxValueSize
	}
	if o.MaxDepth == 0 {
		o.MaxDepth = frame.DefaultMaxDepth
	}
}

// Validate reports an option out of range.
func (o *Options) Validate() error {
	switch {
	case o.MaxKeySize < 1:
		return fmt.Errorf("kv: MaxKeySize %d < 1", o.MaxKeySize)
	case o.MaxValueSize < 1:
		return fmt.Errorf("kv: MaxValueSize %d < 1", o.MaxValueSize)
	case o.MaxDepth < 1 || o.MaxDepth > 1000:
		return fmt.Errorf("kv: MaxDepth %d out of range [1, 1000]", o.MaxDepth)
	}
	return nil
}

// Command is a request to a master: the fields of a decoded store-cmd.
// Key and Value are views (the zero View is none); they must stay valid
// for the duration of Exec only.
type Command struct {
	Op     frame.StoreOp
	Key    frame.View
	Value  frame.View // the operand of put, put_unique, add, subtract, get_index
	Expiry int64      // ns after now; 0: none; negative is invalid
}

// NewCommand builds a Command from in-memory values (it encodes them; for
// tests and local callers).
func NewCommand(op frame.StoreOp, key, val frame.Value, expiry int64) Command {
	kb := frame.AppendValue(nil, key)
	k, _, _ := frame.DecodeValue(kb, &frame.Limits{MaxDepth: 1000})
	vb := frame.AppendValue(nil, val)
	v, _, _ := frame.DecodeValue(vb, &frame.Limits{MaxDepth: 1000})
	return Command{Op: op, Key: k, Value: v, Expiry: expiry}
}

// Update is the replicated result of a mutation: what a master broadcasts
// and a clone applies with ApplyUpdate. An add or subtract goes out as the
// put of its result, so clones never redo arithmetic.
//
// The zero Update (Op 0) means there is nothing to replicate (a read, an
// erase of a missing key, a put_unique that found its key).
type Update struct {
	// Op is frame.OpPut, OpErase, OpClear or OpExpire.
	Op frame.StoreOp
	// Key and Value are canonical value encodings (Value: put only). Those
	// returned by Exec may alias the Command's bytes or the Store's
	// scratch space: they are valid until the next call on the Store.
	// Those returned by Expire are owned by the caller.
	Key, Value []byte
	// ExpireAt is the absolute expiry time in ns on the master's clock
	// (put only); 0: none. The expiry remaining at time t is ExpireAt - t.
	ExpireAt int64
}

// EventKind says what changed.
type EventKind uint8

// Event kinds, as Broker's store events.
const (
	EventInsert EventKind = 1 + iota // a new key
	EventUpdate                      // an existing key got a new value (or expiry)
	EventErase                       // a key was erased (erase, or clear)
	EventExpire                      // a key expired
)

var eventNames = [...]string{"", "insert", "update", "erase", "expire"}

func (k EventKind) String() string {
	if k >= EventInsert && k <= EventExpire {
		return eventNames[k]
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// Event is one change, as passed to Options.OnEvent. Slices are valid only
// during the callback.
type Event struct {
	Kind     EventKind
	Key      []byte // the key's encoding
	Value    []byte // insert, update: the new value's encoding
	Old      []byte // update: the previous value's encoding
	ExpireAt int64  // insert, update: the new expiry; 0: none
}

// Metrics are a Store's counters, returned as a snapshot by Metrics.
type Metrics struct {
	Commands uint64 // Exec calls
	Errors   uint64 // Exec calls that returned an error
	Updates  uint64 // updates produced by Exec and Expire
	Applied  uint64 // updates applied with ApplyUpdate
	Backend  BackendMetrics
}

// Store is a data store: Broker's store semantics over a Backend. A master
// calls Exec for each request and Expire on a timer; a clone calls
// ApplyUpdate for each update from its master.
//
// Threading: a Store is not safe for concurrent use. It has one owner (the
// node's store goroutine, say) that makes every call, including Close.
type Store struct {
	b      Backend
	opts   Options
	lim    frame.Limits
	calc   calc
	out    []byte // the result of the last add or subtract
	old    []byte // the previous value, for update events
	none   frame.View
	m      Metrics
	closed bool

	pf      prefetcher // b, if it is one
	touched uint64     // what prefetches read, kept so that the reads stay
}

// New returns a Store over b. The Store owns b from now on: Close closes it.
func New(b Backend, opts Options) (*Store, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	s := &Store{b: b, opts: opts, lim: frame.Limits{MaxDepth: opts.MaxDepth}}
	s.pf, _ = b.(prefetcher)
	s.lim.EnsureDefaults()
	s.calc.maxDepth = opts.MaxDepth
	s.none, _, _ = frame.DecodeValue(noneRaw, nil)
	return s, nil
}

// Backend returns the Store's backend (for its Metrics, say).
func (s *Store) Backend() Backend { return s.b }

// expireAt turns a relative expiry into an absolute time, saturating.
func expireAt(now, expiry int64) int64 {
	if expiry == 0 {
		return 0
	}
	if now > math.MaxInt64-expiry {
		return math.MaxInt64
	}
	return now + expiry
}

func (s *Store) checkKey(k []byte) error {
	if len(k) > s.opts.MaxKeySize {
		return fmt.Errorf("kv: key of %d bytes (limit %d): %w", len(k), s.opts.MaxKeySize, ErrTooLarge)
	}
	return nil
}

func (s *Store) checkValue(v []byte) error {
	if len(v) > s.opts.MaxValueSize {
		return fmt.Errorf("kv: value of %d bytes (limit %d): %w", len(v), s.opts.MaxValueSize, ErrTooLarge)
	}
	return nil
}

// Exec applies a request at time now (ns; the clock is the caller's, so
// tests inject it) and returns the answer for the requester (none for
// mutations other than put_unique), the update to replicate (the zero
// Update when there is none) and an error if the command cannot be
// applied, in which case the store is unchanged.
//
// Keys whose expiry has passed stay visible until Expire removes them.
func (s *Store) Exec(cmd Command, now int64) (result frame.Value, upd Update, err error) {
	s.m.Commands++
	result, upd, err = s.exec(cmd, now)
	if err != nil {
		s.m.Errors++
		return frame.None, Update{}, err
	}
	if upd.Op != 0 {
		s.m.Updates++
	}
	return result, upd, nil
}

func (s *Store) exec(cmd Command, now int64) (frame.Value, Update, error) {
	if s.closed {
		return frame.None, Update{}, ErrClosed
	}
	if cmd.Expiry < 0 {
		return frame.None, Update{}, fmt.Errorf("kv: negative expiry %d: %w", cmd.Expiry, ErrInvalid)
	}
	if cmd.Expiry > 0 && now < 0 {
		return frame.None, Update{}, fmt.Errorf("kv: negative time %d: %w", now, ErrInvalid)
	}
	if len(cmd.Key.Raw()) == 0 {
		cmd.Key = s.none
	}
	if len(cmd.Value.Raw()) == 0 {
		cmd.Value = s.none
	}
	key, val := cmd.Key.Raw(), cmd.Value.Raw()
	if cmd.Op != frame.OpClear && cmd.Op != frame.OpKeys {
		if err := s.checkKey(key); err != nil {
			return frame.None, Update{}, err
		}
	}
	exp := expireAt(now, cmd.Expiry)
	switch cmd.Op {
	case frame.OpPut:
		if err := s.checkValue(val); err != nil {
			return frame.None, Update{}, err
		}
		return frame.None, Update{Op: frame.OpPut, Key: key, Value: val, ExpireAt: exp}, s.put(key, val, exp)
	case frame.OpPutUnique:
		if err := s.checkValue(val); err != nil {
			return frame.None, Update{}, err
		}
		ok, err := s.exists(key)
		if err != nil || ok {
			return frame.NewBool(false), Update{}, err
		}
		if err := s.put(key, val, exp); err != nil {
			return frame.None, Update{}, err
		}
		return frame.NewBool(true), Update{Op: frame.OpPut, Key: key, Value: val, ExpireAt: exp}, nil
	case frame.OpErase:
		ok, err := s.erase(key, EventErase)
		if err != nil || !ok {
			return frame.None, Update{}, err
		}
		return frame.None, Update{Op: frame.OpErase, Key: key}, nil
	case frame.OpAdd, frame.OpSubtract:
		return s.arith(cmd, exp)
	case frame.OpClear:
		return frame.None, Update{Op: frame.OpClear}, s.clear()
	case frame.OpGet:
		cur, ok, err := s.get(key)
		if err != nil {
			return frame.None, Update{}, err
		}
		if !ok {
			return frame.None, Update{}, fmt.Errorf("kv: get %s: %w", cmd.Key.Value(), ErrNotFound)
		}
		return cur.Value(), Update{}, nil
	case frame.OpExists:
		ok, err := s.exists(key)
		return frame.NewBool(ok), Update{}, err
	case frame.OpKeys:
		keys, err := s.keys()
		return keys, Update{}, err
	case frame.OpGetIndex:
		cur, ok, err := s.get(key)
		if err != nil {
			return frame.None, Update{}, err
		}
		if !ok {
			return frame.None, Update{}, fmt.Errorf("kv: get_index %s: %w", cmd.Key.Value(), ErrNotFound)
		}
		v, err := getIndex(cur, cmd.Value)
		return v, Update{}, err
	}
	return frame.None, Update{}, fmt.Errorf("kv: cannot exec %s: %w", cmd.Op, ErrUnknownOp)
}

// exists reports whether key is stored.
func (s *Store) exists(key []byte) (bool, error) {
	if p, ok := s.b.(prober); ok {
		return p.probe(key)
	}
	_, _, ok, err := s.b.Get(key)
	return ok, err
}

// get reads and decodes the value under key.
func (s *Store) get(key []byte) (frame.View, bool, error) {
	b, _, ok, err := s.b.Get(key)
	if err != nil || !ok {
		return frame.View{}, false, err
	}
	v, err := view(b, &s.lim)
	if err != nil {
		return frame.View{}, false, fmt.Errorf("kv: stored value: %w: %w", ErrCorrupt, err)
	}
	return v, true, nil
}

// put writes key and emits insert or update.
func (s *Store) put(key, val []byte, exp int64) error {
	if s.opts.OnEvent == nil {
		return s.b.Put(key, val, exp)
	}
	var existed bool
	if sw, ok := s.b.(putSwapper); ok {
		var err error
		if s.old, existed, err = sw.putSwap(key, val, exp, s.old[:0]); err != nil {
			return err
		}
	} else {
		old, _, ok, err := s.b.Get(key)
		if err != nil {
			return err
		}
		existed = ok
		s.old = append(s.old[:0], old...) // Put may reuse the backend's buffer
		if err := s.b.Put(key, val, exp); err != nil {
			return err
		}
	}
	if existed {
		s.opts.OnEvent(Event{Kind: EventUpdate, Key: key, Value: val, Old: s.old, ExpireAt: exp})
	} else {
		s.opts.OnEvent(Event{Kind: EventInsert, Key: key, Value: val, ExpireAt: exp})
	}
	return nil
}

// erase deletes key and emits kind (erase or expire) if it existed.
func (s *Store) erase(key []byte, kind EventKind) (bool, error) {
	ok, err := s.b.Delete(key)
	if err == nil && ok && s.opts.OnEvent != nil {
		s.opts.OnEvent(Event{Kind: kind, Key: key})
	}
	return ok, err
}

// clear removes every key, emitting an erase event for each (as Broker).
func (s *Store) clear() error {
	if s.opts.OnEvent == nil {
		return s.b.Clear()
	}
	var arena []byte
	var ends []int
	err := s.b.Iterate(func(key, _ []byte, _ int64) bool {
		arena = append(arena, key...)
		ends = append(ends, len(arena))
		return true
	})
	if err != nil {
		return err
	}
	if err := s.b.Clear(); err != nil {
		return err
	}
	start := 0
	for _, end := range ends {
		s.opts.OnEvent(Event{Kind: EventErase, Key: arena[start:end:end]})
		start = end
	}
	return nil
}

// arith applies add or subtract and replicates the result as a put.
func (s *Store) arith(cmd Command, exp int64) (frame.Value, Update, error) {
	key := cmd.Key.Raw()
	cur, ok, err := s.get(key)
	if err != nil {
		return frame.None, Update{}, err
	}
	if cmd.Op == frame.OpAdd {
		s.out, err = s.calc.add(s.out[:0], cur, ok, cmd.Value)
	} else {
		s.out, err = s.calc.subtract(s.out[:0], cur, ok, cmd.Value)
	}
	if err != nil {
		return frame.None, Update{}, err
	}
	if err := s.checkValue(s.out); err != nil {
		return frame.None, Update{}, err
	}
	if err := s.put(key, s.out, exp); err != nil {
		return frame.None, Update{}, err
	}
	return frame.None, Update{Op: frame.OpPut, Key: key, Value: s.out, ExpireAt: exp}, nil
}

// keys returns the set of all keys.
func (s *Store) keys() (frame.Value, error) {
	var keys []frame.Value
	var derr error
	err := s.b.Iterate(func(key, _ []byte, _ int64) bool {
		v, err := view(key, &s.lim)
		if err != nil {
			derr = fmt.Errorf("kv: stored key: %w: %w", ErrCorrupt, err)
			return false
		}
		keys = append(keys, v.Value())
		return true
	})
	if err == nil {
		err = derr
	}
	if err != nil {
		return frame.None, err
	}
	return frame.NewSet(keys...), nil
}

// ApplyUpdate applies an update computed by a master (a clone's only way
// to change its store). It checks that keys and values are single
// canonical values within the limits, and emits the same events Exec
// does. An expire update is applied like an erase but reported as an
// expire event; a clone never expires keys on its own clock.
func (s *Store) ApplyUpdate(u Update) error {
	if s.closed {
		return ErrClosed
	}
	if err := s.applyUpdate(u); err != nil {
		return fmt.Errorf("kv: cannot apply %s update: %w", u.Op, err)
	}
	s.m.Applied++
	return nil
}

func (s *Store) applyUpdate(u Update) error {
	if u.Op == frame.OpClear {
		return s.clear()
	}
	switch u.Op {
	case frame.OpPut, frame.OpErase, frame.OpExpire:
	default:
		return ErrUnknownOp
	}
	if err := s.checkKey(u.Key); err != nil {
		return err
	}
	if _, err := view(u.Key, &s.lim); err != nil {
		return fmt.Errorf("key: %w: %w", ErrInvalid, err)
	}
	if u.Op != frame.OpPut {
		kind := EventErase
		if u.Op == frame.OpExpire {
			kind = EventExpire
		}
		_, err := s.erase(u.Key, kind)
		return err
	}
	if err := s.checkValue(u.Value); err != nil {
		return err
	}
	if _, err := view(u.Value, &s.lim); err != nil {
		return fmt.Errorf("value: %w: %w", ErrInvalid, err)
	}
	if u.ExpireAt < 0 {
		return fmt.Errorf("negative expiry time %d: %w", u.ExpireAt, ErrInvalid)
	}
	return s.put(u.Key, u.Value, u.ExpireAt)
}

// Prefetch hints that key is about to be read or written. With the memory
// backend it reads the key's slot of the hash table, so that prefetching a
// run of random keys before applying them overlaps their cache misses
// instead of taking one after another; other backends ignore it. It
// changes nothing and never fails.
func (s *Store) Prefetch(key []byte) {
	if s.pf != nil && !s.closed {
		s.touched += s.pf.prefetch(key)
	}
}

// Expire removes up to max keys (max <= 0: no limit) whose expiry time is
// at or before now, earliest first, and returns an expire update for each
// (owned by the caller). A master calls it on a timer or at NextExpiry;
// its cost is proportional to the number of keys that expire. With the
// Pebble backend, stale index entries count against max too (see
// Backend.Expire): fewer than max updates do not mean that none are due.
func (s *Store) Expire(now int64, max int) ([]Update, error) {
	if s.closed {
		return nil, ErrClosed
	}
	var arena []byte
	var ends []int
	_, err := s.b.Expire(now, max, func(key []byte) {
		arena = append(arena, key...)
		ends = append(ends, len(arena))
	})
	// Keys the backend reports are gone even if it also returns an error.
	ups := make([]Update, len(ends))
	start := 0
	for i, end := range ends {
		ups[i] = Update{Op: frame.OpExpire, Key: arena[start:end:end]}
		start = end
	}
	s.m.Updates += uint64(len(ups))
	if s.opts.OnEvent != nil {
		for _, u := range ups {
			s.opts.OnEvent(Event{Kind: EventExpire, Key: u.Key})
		}
	}
	return ups, err
}

// NextExpiry returns the earliest expiry time of any key; ok is false when
// no key expires.
func (s *Store) NextExpiry() (at int64, ok bool, err error) {
	if s.closed {
		return 0, false, ErrClosed
	}
	return s.b.NextExpiry()
}

// Len returns the number of keys.
func (s *Store) Len() (int, error) {
	if s.closed {
		return 0, ErrClosed
	}
	return s.b.Len()
}

// Snapshot calls fn with every key, its value and its absolute expiry time
// (0: none) until fn returns false: the material of a store-snapshot
// (whose expiry field is the time remaining, ExpireAt - now). The slices
// are valid only during the call; fn must not call the Store.
func (s *Store) Snapshot(fn func(key, val []byte, expireAt int64) bool) error {
	if s.closed {
		return ErrClosed
	}
	return s.b.Iterate(fn)
}

// Sync makes every write so far durable (see PebbleOptions.Sync).
func (s *Store) Sync() error {
	if s.closed {
		return ErrClosed
	}
	return s.b.Sync()
}

// BeginGroup starts a group commit if the backend is a GroupCommitter:
// the writes of the commands until EndGroup become durable together,
// when EndGroup returns nil; answer their requesters only then. With
// other backends it does nothing.
func (s *Store) BeginGroup() {
	if g, ok := s.b.(GroupCommitter); ok && !s.closed {
		g.BeginGroup()
	}
}

// EndGroup ends a group commit (see BeginGroup), making its writes
// durable; an error means they may not be.
func (s *Store) EndGroup() error {
	if g, ok := s.b.(GroupCommitter); ok && !s.closed {
		return g.EndGroup()
	}
	return nil
}

// Metrics returns a snapshot of the Store's counters and its backend's.
func (s *Store) Metrics() Metrics {
	m := s.m
	if !s.closed {
		m.Backend = s.b.Metrics()
	}
	return m
}

// Close closes the Store and its backend.
func (s *Store) Close() error {
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	return s.b.Close()
}
