package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/kv"
	"github.com/weirio/weir/kv/repl"
	"github.com/weirio/weir/netio"
)

// Store errors.
var (
	// ErrMasterExists is returned by AttachMaster when a peer already has
	// a master for the store name.
	ErrMasterExists = errors.New("node: a master for this store exists on a peer")
	// ErrStoreAttached is returned when this node already has the store.
	ErrStoreAttached = errors.New("node: store already attached on this node")
	// ErrNotSynced is returned by a clone read before its first snapshot.
	ErrNotSynced = errors.New("node: clone not synced yet")
	// ErrStoreClosed is returned by operations on a closed store handle.
	ErrStoreClosed = errors.New("node: store closed")
	// ErrRequestTimeout fails a request to a remote master that had no
	// answer within StoreOptions.RequestTimeout.
	ErrRequestTimeout = errors.New("node: no answer from the store's master")
	// ErrTooManyStores is returned when attaching one more store would
	// exceed Options.MaxStores.
	ErrTooManyStores = errors.New("node: too many stores")
	// ErrMasterLost fails the requests in flight to a remote master when
	// the last peer through which the master was reached goes down: no
	// answer can come, and the request may or may not have been applied.
	ErrMasterLost = errors.New("node: connection to the store's master lost; the request may or may not have been applied")
	// ErrNoMaster fails a request at once when no peer of this node leads
	// to the store's master (no peer has subscribed to the store's
	// request topic): nothing was sent. The master may not exist, or its
	// subscription may not have reached this node yet; retrying later is
	// safe.
	ErrNoMaster = errors.New("node: no peer leads to the store's master; the request was not sent")
	// ErrRequestLost fails a request to a remote master whose answer
	// cannot come any more: the master answers a handle's requests in the
	// order the handle sent them, and the answer to a later request came
	// first, so this request or its answer was dropped on the way (by a
	// queue's drop_oldest policy, or with a master that restarted). It may
	// or may not have been applied.
	ErrRequestLost = errors.New("node: store request or its answer lost on the way (a later request was answered first); it may or may not have been applied")
)

// StoreError is a master's refusal of a request, with its error code.
type StoreError struct {
	Code frame.ErrCode
	Text string
}

func (e *StoreError) Error() string { return fmt.Sprintf("store: %v: %s", e.Code, e.Text) }

// StoreOptions configure a store handle. The zero value means the
// defaults.
type StoreOptions struct {
	// Store configures the kv.Store: key and value size limits (a zero
	// MaxValueSize becomes the smaller of kv's default and what fits in
	// one frame under the node's frame limit, so every update and snapshot
	// chunk can be sent), and an OnEvent hook of the caller's own.
	Store kv.Options
	// Events publishes the store's changes to local subscribers of
	// StoreEventsTopic(name): events "insert" (store, key, value, expiry),
	// "update" (store, key, old, new, expiry), "erase" (store, key) and
	// "expire" (store, key), as Broker's store events; expiry is an
	// absolute timestamp, or none. Off by default: it costs a read of the
	// previous value on every put.
	Events bool
	// Master and Clone configure the replication state machines; Store,
	// ID, Epoch and Source are set by the node.
	Master repl.MasterOptions
	Clone  repl.CloneOptions
	// Queue bounds the requests waiting for the store goroutine. Past it a
	// local request fails at once with CodeLimit and a remote one is
	// answered with CodeLimit. Default 65536.
	Queue int
	// MaxPending bounds the requests a handle has sent to a remote master
	// and not yet had answered. Past it Do refuses at once with
	// frame.CodeLimit. It keeps the master's answers within its peer queue
	// to this node (netio.Options.QueueFrames, default 8192), where the
	// drop_oldest policy would otherwise discard some, and their requests
	// would wait for RequestTimeout. Default 4096. All of a node's handles
	// together are bounded by Options.StoreMaxPending as well.
	MaxPending int
	// RequestTimeout bounds how long a request sent to a remote master is
	// tracked: past it the request fails with ErrRequestTimeout, so
	// requests lost with a master cost no memory. (When the last peer
	// through which the master was reached goes down, its requests fail
	// at once with ErrMasterLost; a request that was lost on the way, or
	// whose answer was, fails with ErrRequestLost as soon as a later
	// request is answered; when requests are pending and no answer came
	// for a second, the handle sends the master a probe (an exists of the
	// key none) to learn that. So the timeout catches a master that is
	// connected but does not answer.) Sending a request runs the check
	// (at most every RequestTimeout/4, and every second). Default 1 min.
	RequestTimeout time.Duration
	// Tick drives expiry, heartbeats and retransmissions (answers and
	// updates never wait for it). Default 50 ms.
	Tick time.Duration
	// ExpireBatch bounds the keys expired in one slice (with Pebble, the
	// expiry index entries examined, stale ones included). While more keys
	// are due the master expires one slice per turn of its loop, after
	// the requests that came meanwhile, so an expiry wave is spread
	// between requests and never stalls writes for long. Within the bound
	// the master sizes each slice by the last one's cost per index entry
	// to take about as long as the requests of its turn (at least 2 ms).
	// While requests keep coming (one came in the last 100 ms), a wave
	// also removes at most one key per two requests applied: each expired
	// key costs every clone an update, as a write does, so a wave takes at
	// most about a third of the updates and writes keep about two thirds
	// of their rate on a saturated machine. Due keys stay readable until
	// they are removed, so under a steady full load a wave of N keys takes
	// about 2N / (write rate) to clear; without requests it runs in slices
	// back to back. Default 256.
	ExpireBatch int
}

// DefaultStoreMaxPending is the default of StoreOptions.MaxPending.
const DefaultStoreMaxPending = 4096

func (o *StoreOptions) ensureDefaults() {
	if o.Queue == 0 {
		o.Queue = 1 << 16
	}
	if o.Tick == 0 {
		o.Tick = 50 * time.Millisecond
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = time.Minute
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultStoreMaxPending
	}
	if o.ExpireBatch == 0 {
		o.ExpireBatch = 256
	}
}

// Store topics: every store lives under "weir/store/<name>/".
//
//	weir/store/<name>/m/c        clone → master channel (attach, detach, ack, nack)
//	weir/store/<name>/m/r/<id>   requests from node <id> to the master
//	weir/store/<name>/c/all      master → every clone (updates, status)
//	weir/store/<name>/c/<id>     master → clone <id> (snapshots, resends)
//	weir/store/<name>/r/<id>     master → node <id>: answers to its requests
//
// <id> is the node's 64-bit stamp origin in 16 hex digits.
const storePrefix = "weir/store/"

func storeTopic(name, sub string) string { return storePrefix + name + "/" + sub }

func idHex(id uint64) string {
	var b [8]byte
	for i := range b {
		b[i] = byte(id >> (56 - 8*i))
	}
	return hex.EncodeToString(b[:])
}

func isStoreKind(k frame.Kind) bool {
	return k == frame.KindStoreCmd || k == frame.KindStoreAck || k == frame.KindStoreNack || k == frame.KindStoreSnapshot
}

// Store is a handle on a data store attached to this node: as its master
// (AttachMaster), as a clone (AttachClone) or as a frontend that only
// sends requests to the master (StoreFrontend). All methods are safe for
// concurrent use.
//
// Mutations go to the master and return once the master applied them (on
// a clone, the change becomes visible locally when the master's update
// arrives, as in Broker). Reads on the master go through its goroutine; on
// a clone they are answered from the local copy at once — stale (see
// Stale) while the clone is resyncing or has not heard from its master,
// and ErrNotSynced before its first snapshot (kv/repl's read rule: a read
// never waits).
type Store struct {
	n    *Node
	name string
	opts StoreOptions
	self uint64

	master *storeMaster // master only
	clone  *storeClone  // clone only

	reqTopic string // frontend and clone: where requests go
	// sendMu orders requests: a request id is taken and the request
	// queued to the master's peer under it, so requests reach the master
	// in id order and an answer also tells which earlier ones were lost.
	sendMu  sync.Mutex
	nextReq uint64 // under sendMu
	// The tail probe (checkTail), under sendMu: a timer armed while
	// requests are pending, and the answers counted at its last check.
	tail      *time.Timer
	tailAfter time.Duration // tailProbeAfter
	tailArmed bool
	tailSeen  uint64
	pending   pendingMap   // request id -> *Future
	sweepAt   atomic.Int64 // unix ns: when a request next checks pending for timeouts
	subs      []*Subscription
	closed    atomic.Bool
}

// Future is the pending answer of a pipelined request.
//
// Its channel is made only for a caller that asks for it (Done, or a Wait
// that must block) before the answer is in: a pipelined caller that
// collects answers already in costs no channel per request.
type Future struct {
	sig atomic.Pointer[futureSignal] // nil until Done needs it or resolve; then closedSignal once resolved
	res frame.Value                  // written before sig says resolved
	err error

	owner *Store // a remote request: its entry in owner.pending
	id    uint64
	sent  int64 // unix ns
}

// futureSignal holds the channel a Future's Done returns.
type futureSignal struct{ c chan struct{} }

// closedSignal is every resolved Future's signal: its channel is closed.
var closedSignal = func() *futureSignal {
	s := &futureSignal{c: make(chan struct{})}
	close(s.c)
	return s
}()

// Wait returns the answer, or ctx's error. A Wait that gives up on a
// request sent to a remote master abandons it: the handle stops tracking
// it (so requests lost with a crashed master cost no memory), and a later
// answer is dropped; a later Wait returns the answer only if it arrived
// before.
func (f *Future) Wait(ctx context.Context) (frame.Value, error) {
	if f.sig.Load() == closedSignal {
		return f.res, f.err
	}
	select {
	case <-f.Done():
		return f.res, f.err
	case <-ctx.Done():
		if f.owner != nil {
			f.owner.pending.Delete(f.id)
		}
		return frame.None, ctx.Err()
	}
}

// Done is closed when the answer is in. Safe for concurrent use.
func (f *Future) Done() <-chan struct{} {
	if s := f.sig.Load(); s != nil {
		return s.c
	}
	s := &futureSignal{c: make(chan struct{})}
	if f.sig.CompareAndSwap(nil, s) {
		return s.c
	}
	return f.sig.Load().c // resolved, or another Done's channel
}

// resolve sets the answer. It is called once per Future.
func (f *Future) resolve(v frame.Value, err error) {
	f.res, f.err = v, err
	if f.sig.CompareAndSwap(nil, closedSignal) {
		return
	}
	s := f.sig.Swap(closedSignal)
	close(s.c)
}

func (n *Node) newStore(name string, opts StoreOptions) (*Store, error) {
	if name == "" || len(name) > frame.MaxNameLen || strings.ContainsAny(name, "/") {
		return nil, fmt.Errorf("node: bad store name %q", name)
	}
	opts.ensureDefaults()
	if opts.Store.MaxValueSize == 0 {
		keys := opts.Store.MaxKeySize
		if keys == 0 {
			keys = kv.DefaultMaxKeySize
		}
		// Room for the key, the store name and the frame's own fields.
		opts.Store.MaxValueSize = max(1, min(kv.DefaultMaxValueSize, n.opts.Net.Limits.MaxFrame-keys-4096))
	}
	opts.Store.OnEvent = n.storeEventHook(name, opts.Events, opts.Store)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.closed {
		return nil, ErrClosed
	}
	if n.mu.stores == nil {
		n.mu.stores = map[string]*Store{}
	}
	if n.mu.stores[name] != nil {
		return nil, fmt.Errorf("%w: %q", ErrStoreAttached, name)
	}
	if len(n.mu.stores) >= n.opts.MaxStores {
		return nil, fmt.Errorf("%w: %d attached (Options.MaxStores)", ErrTooManyStores, len(n.mu.stores))
	}
	s := &Store{n: n, name: name, opts: opts, self: n.origin, tailAfter: tailProbeAfter}
	s.reqTopic = storeTopic(name, "m/r/"+idHex(n.origin))
	n.mu.stores[name] = s
	n.publishStoresLocked()
	return s, nil
}

func (s *Store) forget() {
	s.n.mu.Lock()
	if s.n.mu.stores[s.name] == s {
		delete(s.n.mu.stores, s.name)
		s.n.publishStoresLocked()
	}
	s.n.mu.Unlock()
}

// publishStoresLocked makes storesView a copy of mu.stores; n.mu is held.
func (n *Node) publishStoresLocked() {
	view := maps.Clone(n.mu.stores)
	n.storesView.Store(&view)
}

// subscribeStore subscribes an internal handler that receives only store
// frames.
func (s *Store) subscribeStore(topic string, fn func(Message)) error {
	sub, err := s.n.subscribe(topic, fn, nil)
	if err != nil {
		return err
	}
	sub.store = true
	s.subs = append(s.subs, sub)
	return nil
}

// Store returns the handle of the store name attached to this node (by
// AttachMaster, AttachClone or StoreFrontend, here or by the program that
// configured the node), if any.
func (n *Node) Store(name string) (*Store, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	s, ok := n.mu.stores[name]
	return s, ok
}

// StoreFrontend returns a handle that sends every operation, reads
// included, to the store's master over the network (for tools and nodes
// that keep no copy).
func (n *Node) StoreFrontend(name string) (*Store, error) {
	s, err := n.newStore(name, StoreOptions{})
	if err != nil {
		return nil, err
	}
	if err := s.listenReplies(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Do sends cmd to the master without waiting: the pipelined form. The
// Future carries the answer. On a clone, reads are answered locally. When
// the peer queue to a remote master is full, the Future fails at once with
// a StoreError of code frame.CodeLimit: nothing was sent, and the caller
// may retry once earlier requests are answered. A request that other
// traffic's drop_oldest policy evicts from that queue fails the same way,
// at once. With no peer leading to the master (none subscribes to the
// store's requests yet) the Future fails at once with ErrNoMaster, and
// nothing was sent.
func (s *Store) Do(op frame.StoreOp, key, val frame.Value, expiry time.Duration) *Future {
	f := new(Future)
	if s.closed.Load() {
		f.resolve(frame.None, ErrStoreClosed)
		return f
	}
	if expiry < 0 {
		f.resolve(frame.None, &StoreError{Code: frame.CodeBadRequest, Text: "negative expiry"})
		return f
	}
	if s.master != nil {
		s.master.local(f, kv.NewCommand(op, key, val, int64(expiry)))
		return f
	}
	if s.clone != nil && isRead(op) {
		v, err := s.clone.read(op, key, val)
		f.resolve(v, err)
		return f
	}
	f.owner, f.sent = s, time.Now().UnixNano()
	s.sweep(f.sent)
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.nextReq++
	id := s.nextReq
	f.id = id
	if ok, nodeFull := s.pending.Store(id, f, s.opts.MaxPending, &s.n.stats.storePending, s.n.opts.StoreMaxPending); !ok {
		s.n.stats.storeLimit.Add(1)
		text := fmt.Sprintf("%d requests to the master unanswered (StoreOptions.MaxPending)", s.opts.MaxPending)
		if nodeFull {
			text = fmt.Sprintf("%d requests of this node's store handles unanswered (Options.StoreMaxPending)", s.n.opts.StoreMaxPending)
		}
		f.resolve(frame.None, &StoreError{Code: frame.CodeLimit, Text: text})
		return f
	}
	// A full queue to the master refuses the request at once: dropping it
	// (or, by the drop_oldest policy, an earlier one) would leave its
	// caller waiting for RequestTimeout.
	err := s.send(op, id, key, val, expiry)
	if err == nil && !s.tailArmed {
		s.armTailLocked()
	}
	if err != nil {
		if _, ok := s.pending.LoadAndDelete(id); !ok {
			// Taken meanwhile by Close or by a lost master's cleanup
			// (they do not hold sendMu), which resolved it.
			return f
		}
		switch {
		case errors.Is(err, netio.ErrQueueFull):
			s.n.stats.storeLimit.Add(1)
			err = &StoreError{Code: frame.CodeLimit, Text: "queue to the master full"}
		case errors.Is(err, errNoRoute):
			err = ErrNoMaster
		}
		f.resolve(frame.None, err)
	}
	return f
}

func isRead(op frame.StoreOp) bool {
	return op == frame.OpGet || op == frame.OpExists || op == frame.OpKeys || op == frame.OpGetIndex
}

func (s *Store) do(ctx context.Context, op frame.StoreOp, key, val frame.Value, expiry time.Duration) (frame.Value, error) {
	return s.Do(op, key, val, expiry).Wait(ctx)
}

// Put stores val under key; expiry 0 means none.
func (s *Store) Put(ctx context.Context, key, val frame.Value, expiry time.Duration) error {
	_, err := s.do(ctx, frame.OpPut, key, val, expiry)
	return err
}

// PutUnique stores val under key only if key is absent and reports
// whether it did.
func (s *Store) PutUnique(ctx context.Context, key, val frame.Value, expiry time.Duration) (bool, error) {
	v, err := s.do(ctx, frame.OpPutUnique, key, val, expiry)
	return err == nil && v.Type() == frame.TypeBool && v.Bool(), err
}

// Erase removes key.
func (s *Store) Erase(ctx context.Context, key frame.Value) error {
	_, err := s.do(ctx, frame.OpErase, key, frame.None, 0)
	return err
}

// Add adds val to the value at key (see kv for the types); a missing key
// starts from val's type's zero value.
func (s *Store) Add(ctx context.Context, key, val frame.Value, expiry time.Duration) error {
	_, err := s.do(ctx, frame.OpAdd, key, val, expiry)
	return err
}

// Subtract subtracts val from the value at key (see kv).
func (s *Store) Subtract(ctx context.Context, key, val frame.Value, expiry time.Duration) error {
	_, err := s.do(ctx, frame.OpSubtract, key, val, expiry)
	return err
}

// Clear removes every key.
func (s *Store) Clear(ctx context.Context) error {
	_, err := s.do(ctx, frame.OpClear, frame.None, frame.None, 0)
	return err
}

// Get returns the value at key; ok is false when the key is missing (the
// master's kv.ErrNotFound answer).
func (s *Store) Get(ctx context.Context, key frame.Value) (frame.Value, bool, error) {
	v, err := s.do(ctx, frame.OpGet, key, frame.None, 0)
	if err != nil {
		if isNotFound(err) {
			return frame.None, false, nil
		}
		return frame.None, false, err
	}
	return v, true, nil
}

// Exists reports whether key is present.
func (s *Store) Exists(ctx context.Context, key frame.Value) (bool, error) {
	v, err := s.do(ctx, frame.OpExists, key, frame.None, 0)
	return err == nil && v.Type() == frame.TypeBool && v.Bool(), err
}

// Keys returns the set of keys.
func (s *Store) Keys(ctx context.Context) (frame.Value, error) {
	return s.do(ctx, frame.OpKeys, frame.None, frame.None, 0)
}

// GetIndex returns the element index of the container at key.
func (s *Store) GetIndex(ctx context.Context, key, index frame.Value) (frame.Value, error) {
	return s.do(ctx, frame.OpGetIndex, key, index, 0)
}

// Stale reports whether a clone's reads may be out of date (it is
// resyncing or has not heard from its master lately). Always false on a
// master and a frontend.
func (s *Store) Stale() bool {
	if s.clone == nil {
		return false
	}
	_, stale := s.clone.status().Serve()
	return stale
}

// CloneStatus returns a clone's replication status (zero elsewhere).
func (s *Store) CloneStatus() repl.Status {
	if s.clone == nil {
		return repl.Status{}
	}
	return s.clone.status()
}

// Close detaches the handle: a master stops serving (its backend is
// closed), a clone detaches from its master. Pending requests fail.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	for _, sub := range s.subs {
		sub.Unsubscribe()
	}
	var err error
	if s.master != nil {
		err = s.master.close()
	}
	if s.clone != nil {
		err = s.clone.close()
	}
	s.sendMu.Lock()
	if s.tail != nil {
		s.tail.Stop()
	}
	s.sendMu.Unlock()
	for _, f := range s.pending.takeAll() {
		f.resolve(frame.None, ErrStoreClosed)
	}
	s.forget()
	return err
}

func isNotFound(err error) bool {
	var se *StoreError
	if errors.As(err, &se) {
		return se.Code == kv.Code(kv.ErrNotFound)
	}
	return errors.Is(err, kv.ErrNotFound)
}

// masterID is a store master's replication id: stable across restarts of
// a node with the same name, so a restart is told from a second master by
// its epoch.
func masterID(nodeName, store string) repl.ID {
	id := repl.ID(xxhash.Sum64String(nodeName + "\x00" + store))
	if id == repl.Broadcast {
		id = 1
	}
	return id
}

// closeStores closes every store handle (node shutdown).
func (n *Node) closeStores() {
	n.mu.Lock()
	stores := make([]*Store, 0, len(n.mu.stores))
	for _, s := range n.mu.stores {
		stores = append(stores, s)
	}
	n.mu.Unlock()
	for _, s := range stores {
		_ = s.Close()
	}
}
