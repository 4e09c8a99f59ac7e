package node

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/netio"
	"github.com/weirio/weir/router"
)

// Message is a data or event frame delivered to a subscription. For a
// handler subscription it is a view into the network buffer, valid only
// during the handler call (Clone keeps it); a queued subscription receives
// messages that own their bytes.
type Message struct {
	f   frame.Frame
	lim *frame.Limits
}

// Topic returns the message's topic.
func (m Message) Topic() []byte { return m.f.Topic() }

// Kind returns frame.KindData or frame.KindEvent.
func (m Message) Kind() frame.Kind { return m.f.Kind() }

// Bytes returns the encoded frame.
func (m Message) Bytes() []byte { return m.f.Bytes() }

// Data decodes a data message's value as a view.
func (m Message) Data() (frame.View, error) {
	if m.f.Kind() != frame.KindData {
		return frame.View{}, fmt.Errorf("node: message is %v, not data", m.f.Kind())
	}
	return frame.DecodeData(m.f.Body(), m.lim)
}

// Event decodes an event message.
func (m Message) Event() (frame.Event, error) {
	if m.f.Kind() != frame.KindEvent {
		return frame.Event{}, fmt.Errorf("node: message is %v, not an event", m.f.Kind())
	}
	return frame.DecodeEvent(m.f.Body(), m.lim)
}

// Clone returns a copy that owns its bytes.
func (m Message) Clone() Message {
	b := append([]byte(nil), m.f.Bytes()...)
	// The frame was scanned under these limits before: it scans again.
	f, _, err := frame.Scan(b, m.lim)
	if err != nil {
		panic("BUG: node: a delivered frame no longer scans: " + err.Error())
	}
	return Message{f: f, lim: m.lim}
}

// Subscription receives the messages whose topics start with its prefix.
type Subscription struct {
	n      *Node
	prefix string
	fn     func(Message)
	ch     chan Message
	events bool // feeds the event registry: skips the node's own publishes
	store  bool // a store's internal subscription: store frames only

	mu      sync.Mutex // orders deliveries to ch with closing it
	closed  atomic.Bool
	dropped atomic.Uint64
	panics  atomic.Uint64
}

// Prefix returns the subscription's topic prefix.
func (s *Subscription) Prefix() string { return s.prefix }

// C returns the channel of a queued subscription (nil for a handler
// subscription). It is closed by Unsubscribe and by closing the node.
func (s *Subscription) C() <-chan Message { return s.ch }

// Dropped counts messages dropped because the queue was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Subscribe returns a queued subscription to prefix: messages arrive on
// C(), a channel of Options.SubQueue messages. When it is full, new
// messages are dropped and counted, so a slow consumer never holds up the
// node. The filter change reaches every peer.
func (n *Node) Subscribe(prefix string) (*Subscription, error) {
	return n.subscribe(prefix, nil, make(chan Message, n.opts.SubQueue))
}

// SubscribeFunc returns a subscription that calls fn for every message:
// on a network event loop for messages from peers, on the publishing
// goroutine for local publishes. fn must not block; the Message it gets is
// valid only during the call. A panic in fn is recovered and counted.
func (n *Node) SubscribeFunc(prefix string, fn func(Message)) (*Subscription, error) {
	if fn == nil {
		return nil, errors.New("node: nil handler")
	}
	return n.subscribe(prefix, fn, nil)
}

func (n *Node) subscribe(prefix string, fn func(Message), ch chan Message) (*Subscription, error) {
	if len(prefix) > n.opts.Net.Limits.MaxTopic {
		return nil, fmt.Errorf("node: cannot subscribe: %w", frame.ErrTopicTooLong)
	}
	s := &Subscription{n: n, prefix: prefix, fn: fn, ch: ch}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.closed {
		return nil, ErrClosed
	}
	n.subs.Subscribe(prefix, s)
	n.mu.subs[s] = struct{}{}
	if n.mu.local[prefix]++; n.mu.local[prefix] == 1 && !strings.HasPrefix(prefix, n.opts.LocalPrefix) {
		n.filterChangedLocked()
	}
	return s, nil
}

// Unsubscribe removes the subscription (peers are told if no other local
// subscription uses the prefix) and closes its channel. Idempotent.
func (s *Subscription) Unsubscribe() {
	if s.closed.Swap(true) {
		return
	}
	n := s.n
	n.subs.Unsubscribe(s.prefix, s)
	n.mu.Lock()
	delete(n.mu.subs, s)
	if n.mu.local[s.prefix]--; n.mu.local[s.prefix] <= 0 {
		delete(n.mu.local, s.prefix)
		if !strings.HasPrefix(s.prefix, n.opts.LocalPrefix) {
			n.filterChangedLocked()
		}
	}
	n.mu.Unlock()
	if s.ch != nil {
		s.mu.Lock()
		close(s.ch)
		s.mu.Unlock()
	}
}

func (n *Node) allSubs() []*Subscription {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]*Subscription, 0, len(n.mu.subs))
	for s := range n.mu.subs {
		out = append(out, s)
	}
	return out
}

// deliver hands m to the subscription.
//
// Hot path: a handler subscription is a direct call; a queued one copies
// the frame (the only allocation) and never blocks.
func (s *Subscription) deliver(m Message) {
	if s.closed.Load() {
		return
	}
	if s.fn != nil {
		defer func() {
			if r := recover(); r != nil {
				s.panics.Add(1)
				s.n.log.Error("subscription handler panicked", "prefix", s.prefix, "panic", r)
			}
		}()
		s.fn(m)
		return
	}
	c := m.Clone()
	s.mu.Lock()
	if !s.closed.Load() {
		select {
		case s.ch <- c:
		default:
			s.dropped.Add(1)
		}
	}
	s.mu.Unlock()
}

// Publish publishes a value on topic to every matching peer and every
// matching local subscription.
func (n *Node) Publish(topic string, v frame.Value) error {
	return n.publish(topic, nil, func(dst []byte, h frame.Header) []byte {
		return frame.AppendData(dst, h, unsafeBytes(topic), v)
	})
}

// PublishBytes publishes a data frame whose value is the string payload.
// It is the allocation-free path for opaque payloads.
func (n *Node) PublishBytes(topic string, payload []byte) error {
	return n.publishBytes(topic, payload, nil)
}

// PublishEvent publishes an event. Unlike Raise in a handler registry, it
// runs no local event handler itself; local subscriptions to the topic do
// receive it.
func (n *Node) PublishEvent(topic, name string, args ...frame.Value) error {
	return n.publishEvent(topic, name, args, nil)
}

// Publish publishes like Node.Publish, except that this subscription does
// not receive its own message: a component that both subscribes to a
// topic and publishes on it does not hear its own echo (as a Zeek node
// never receives the events it publishes).
func (s *Subscription) Publish(topic string, v frame.Value) error {
	return s.n.publish(topic, s, func(dst []byte, h frame.Header) []byte {
		return frame.AppendData(dst, h, unsafeBytes(topic), v)
	})
}

// PublishBytes is Node.PublishBytes without the echo to s.
func (s *Subscription) PublishBytes(topic string, payload []byte) error {
	return s.n.publishBytes(topic, payload, s)
}

// PublishEvent is Node.PublishEvent without the echo to s.
func (s *Subscription) PublishEvent(topic, name string, args ...frame.Value) error {
	return s.n.publishEvent(topic, name, args, s)
}

func (n *Node) publishBytes(topic string, payload []byte, except *Subscription) error {
	// The frame's size is known in advance: header, stamp, topic, type
	// byte, length varint and payload.
	size := frame.HeaderSize + 16 + len(topic) + 1 + binary.MaxVarintLen64 + len(payload)
	return n.publishSized(topic, except, size, func(dst []byte, h frame.Header) []byte {
		return frame.AppendDataString(dst, h, unsafeBytes(topic), payload)
	})
}

func (n *Node) publishEvent(topic, name string, args []frame.Value, except *Subscription) error {
	if len(name) > frame.MaxNameLen {
		return fmt.Errorf("node: event name longer than %d bytes", frame.MaxNameLen)
	}
	return n.publish(topic, except, func(dst []byte, h frame.Header) []byte {
		return frame.AppendEvent(dst, h, unsafeBytes(topic), name, args, frame.None)
	})
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// ErrFrameTooLarge is returned when an encoded message exceeds the frame
// size limit.
var ErrFrameTooLarge = errors.New("node: message exceeds the frame size limit")

// errNoRoute is publishTo's refusal (with try) of a topic nothing wants.
var errNoRoute = errors.New("node: no subscriber for the topic")

// publish encodes a frame once and hands the same bytes to every matching
// peer and local subscription.
//
// Hot path (see publishSized for the single-peer case): the buffer is
// pooled, the router is read lock-free into a stack array, and Peer.Send
// copies into the peer's queue.
func (n *Node) publish(topic string, except *Subscription, enc func([]byte, frame.Header) []byte) error {
	return n.publishSized(topic, except, 0, enc)
}

// publishSized is publish for a frame of at most size bytes (0: not
// known). A frame of known size for exactly one peer and no local
// subscription — a publisher's common case — is encoded straight into
// that peer's queue (Peer.SendEncoded), skipping the buffer and the copy.
//
// Hot path: as publish.
func (n *Node) publishSized(topic string, except *Subscription, size int, enc func([]byte, frame.Header) []byte) error {
	return n.publishTo(topic, except, size, false, enc)
}

// publishTo is publishSized; with try, a full peer queue refuses the frame
// (Peer.TrySend) instead of applying the peer's policy, and when every
// matching peer refused it publishTo returns netio.ErrQueueFull: for a request
// that must not be lost silently, nor push an older frame out. With try, a
// topic that no peer and no local subscription wants is errNoRoute.
func (n *Node) publishTo(topic string, except *Subscription, size int, try bool, enc func([]byte, frame.Header) []byte) error {
	if len(topic) > n.opts.Net.Limits.MaxTopic {
		return frame.ErrTopicTooLong
	}
	local := strings.HasPrefix(topic, n.opts.LocalPrefix)
	h := frame.Header{}
	if n.stamp.Load() && !local {
		h.Stamped, h.Origin, h.Seq = true, n.origin, n.seq.Add(1)
	}
	var parr [16]*netio.Peer
	var peers []*netio.Peer
	if !local {
		peers = n.peers.MatchString(topic, parr[:0])
	}
	var sarr [16]*Subscription
	var subs []*Subscription
	if n.subs.Len() > 0 {
		subs = n.subs.MatchString(topic, sarr[:0])
	}
	if try && len(peers) == 0 && len(subs) == 0 {
		return errNoRoute
	}
	if size > 0 && size <= n.opts.Net.Limits.MaxFrame && len(peers) == 1 && len(subs) == 0 {
		queued, _ := peers[0].SendEncoded(size, func(dst []byte) []byte { return enc(dst, h) })
		if queued {
			n.stats.published.Add(1)
			return nil
		}
		// No room (or the peer is gone): the path below applies the policy.
	}
	bp := bufPool.Get().(*[]byte)
	b := enc((*bp)[:0], h)
	if len(b) > n.opts.Net.Limits.MaxFrame {
		putBuf(bp, b)
		return ErrFrameTooLarge
	}
	full := 0
	for _, p := range peers {
		switch {
		case try:
			if errors.Is(p.TrySend(b), netio.ErrQueueFull) {
				full++
			}
		case n.opts.PublishWait > 0:
			_ = p.SendWait(b, n.opts.PublishWait)
		default:
			_ = p.Send(b)
		}
	}
	if full > 0 && full == len(peers) && len(subs) == 0 {
		putBuf(bp, b)
		return netio.ErrQueueFull
	}
	n.stats.published.Add(1)
	n.deliverLocal(subs, b, except)
	putBuf(bp, b)
	return nil
}

// putBuf returns publish's encoding buffer to the pool, unless it grew
// past 64 KiB (a rare large message should not pin its buffer).
func putBuf(bp *[]byte, b []byte) {
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		bufPool.Put(bp)
	}
}

// deliverLocal hands an encoded frame to subs, the local subscriptions
// its topic matches. (The caller matched the topic string it was given,
// not the frame's copy, so the router's address hint serves a topic
// published again.)
//
// Hot path: no match, no scan (e.g. a publisher whose only subscription
// is to its acks).
func (n *Node) deliverLocal(subs []*Subscription, b []byte, except *Subscription) {
	if len(subs) == 0 {
		return
	}
	f, _, err := frame.Scan(b, &n.opts.Net.Limits)
	if err != nil {
		panic("BUG: node: publishing a frame that does not scan: " + err.Error())
	}
	storeKind := isStoreKind(f.Kind())
	for _, s := range subs {
		if s != except && !s.events && s.store == storeKind {
			n.stats.delivered.Add(1)
			s.deliver(Message{f: f, lim: &n.opts.Net.Limits})
		}
	}
}

// routeMemo is a peer's memo of the last topic it sent, for routeRemote:
// the frames of a connection mostly share a topic, and a memo hit costs a
// compare instead of a hash and a lookup in the shared match cache.
type routeMemo struct {
	subs  router.Memo[*Subscription]
	peers router.Memo[*netio.Peer]
}

// routeRemote delivers a data or event frame from peer from to local
// subscriptions and, when forwarding, relays it to the other matching
// peers with its TTL decremented — without decoding the body.
//
// Hot path: runs on the event loop for every received message.
func (n *Node) routeRemote(from *netio.Peer, f frame.Frame) {
	memo, _ := from.Local.(*routeMemo)
	if memo == nil {
		memo = new(routeMemo)
		from.Local = memo // only this peer's frame handler touches it
	}
	topic := f.Topic()
	if len(topic) >= len(n.opts.LocalPrefix) && string(topic[:len(n.opts.LocalPrefix)]) == n.opts.LocalPrefix {
		n.stats.localTopicIn.Add(1) // a peer must never send these
		return
	}
	if origin, seq, ok := f.Stamp(); ok && n.opts.Forwarding {
		if origin == n.origin || n.dedupe.seen(origin, seq) {
			n.stats.duplicates.Add(1)
			return
		}
	}
	var arr [16]*Subscription
	storeKind := isStoreKind(f.Kind())
	for _, s := range n.subs.MatchMemo(&memo.subs, topic, arr[:0]) {
		if s.store != storeKind {
			continue // applications see data and events; stores their frames
		}
		n.stats.delivered.Add(1)
		s.deliver(Message{f: f, lim: &n.opts.Net.Limits})
	}
	// Relay: everywhere when forwarding; otherwise a client's frame goes one
	// hop on its behalf, and frames reach subscribed clients (leaves).
	fromClient := from.Role == frame.RoleClient
	if f.TTL() <= 1 || (!n.opts.Forwarding && !fromClient && n.clients.Load() == 0) {
		return
	}
	frame.SetTTL(f.Bytes(), f.TTL()-1)
	var parr [16]*netio.Peer
	for _, p := range n.peers.MatchMemo(&memo.peers, topic, parr[:0]) {
		if p != from && (n.opts.Forwarding || fromClient || p.Role == frame.RoleClient) {
			n.stats.forwarded.Add(1)
			_ = p.Forward(from, f.Bytes())
		}
	}
}

// Stats are node-wide message counters.
type Stats struct {
	Published uint64 `json:"published"`
	Delivered uint64 `json:"delivered"`
	Forwarded uint64 `json:"forwarded"`
	// Duplicates counts stamped frames a forwarding node had already seen.
	Duplicates uint64 `json:"duplicates"`
	// LocalTopicIn counts frames from peers on the reserved local prefix
	// (dropped); Unhandled counts frames of kinds this node does not serve.
	LocalTopicIn uint64 `json:"local_topic_in"`
	Unhandled    uint64 `json:"unhandled"`
	// HandlerPanics counts recovered panics of event handlers.
	HandlerPanics uint64 `json:"handler_panics"`
	// StoreLimit counts store requests refused with the limit code: by a
	// master of this node (its queue was full, or a key or value was over
	// the store's size limits), or by a handle of this node whose queue
	// to the master's peer was full (the request was not sent).
	StoreLimit uint64 `json:"store_limit"`
	// StoreLost counts requests of this node's store handles that failed
	// without an answer: lost on the way (ErrRequestLost), cut off with
	// their master's connection (ErrMasterLost), or timed out
	// (ErrRequestTimeout).
	StoreLost uint64 `json:"store_lost"`
	// Subscriptions is the number of (prefix, subscription) pairs.
	Subscriptions int `json:"subscriptions"`
}

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	return Stats{Published: n.stats.published.Load(), Delivered: n.stats.delivered.Load(), Forwarded: n.stats.forwarded.Load(),
		Duplicates: n.stats.duplicates.Load(), LocalTopicIn: n.stats.localTopicIn.Load(), Unhandled: n.stats.unhandled.Load(),
		HandlerPanics: n.stats.handlerPanics.Load(), StoreLimit: n.stats.storeLimit.Load(), StoreLost: n.stats.storeLost.Load(), Subscriptions: n.subs.Len()}
}
