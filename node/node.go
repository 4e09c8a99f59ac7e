package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/netio"
	"github.com/weirio/weir/router"
)

// ErrClosed is returned by operations on a closed node.
var ErrClosed = errors.New("node: closed")

// Node is a weir node: it peers with other nodes, publishes and
// subscribes. All methods are safe for concurrent use.
type Node struct {
	opts Options
	log  *slog.Logger
	net  *netio.Engine

	// subs routes topics to local subscriptions; peers routes topics to the
	// peers whose filters match. Both are read lock-free on the data path.
	subs  *router.Router[*Subscription]
	peers *router.Router[*netio.Peer]

	origin uint64        // this node's stamp origin (§3)
	seq    atomic.Uint64 // stamp sequence
	stamp  atomic.Bool   // stamp published frames (forwarding here or at a peer)
	dedupe *dedupe
	// storesView is a copy of mu.stores for readers that must not take mu
	// (onEvict runs inside a send).
	storesView atomic.Pointer[map[string]*Store]

	// clients counts connected client-role peers (leaves this node serves).
	clients atomic.Int32

	// mu guards the control plane: filters and peer bookkeeping.
	mu struct {
		sync.Mutex
		local    map[string]int // prefix -> subscriptions using it
		subs     map[*Subscription]struct{}
		peers    map[*netio.Peer]*peerState
		version  uint64   // bumps on every change of what Filter returns
		handshk  []string // the filter sent in handshakes at version
		lost     map[string]bool
		unpeered map[string]bool
		stores   map[string]*Store
		closed   bool
	}

	events registry
	logs   *logs

	status        chan Status
	statusDropped atomic.Uint64
	stats         stats
}

// peerState is the node's view of one established peer.
type peerState struct {
	sent map[string]struct{} // the filter this node last advertised to it
}

type stats struct {
	published, delivered, forwarded atomic.Uint64
	duplicates, localTopicIn        atomic.Uint64
	unhandled, handlerPanics        atomic.Uint64
	storeLimit, storeLost           atomic.Uint64
	// storePending counts the requests the node's store handles have
	// sent to remote masters and not had answered (Options.StoreMaxPending).
	storePending atomic.Int64
}

// New creates a node. It does not listen or dial until told to.
func New(opts Options) (*Node, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	n := &Node{opts: opts, log: opts.Logger, dedupe: newDedupe(opts.DedupeWindow),
		status: make(chan Status, opts.StatusQueue)}
	n.origin = binary.LittleEndian.Uint64(opts.Net.ID[:8])
	n.mu.local = map[string]int{}
	n.mu.subs = map[*Subscription]struct{}{}
	n.mu.peers = map[*netio.Peer]*peerState{}
	n.mu.lost = map[string]bool{}
	n.mu.unpeered = map[string]bool{}
	var err error
	if n.subs, err = router.New[*Subscription](router.Options{}); err != nil {
		return nil, err
	}
	if n.peers, err = router.New[*netio.Peer](router.Options{}); err != nil {
		return nil, err
	}
	n.stamp.Store(opts.Forwarding)
	if n.logs, err = newLogs(n, opts.Logs); err != nil {
		return nil, err
	}
	// A store request the drop_oldest policy evicts on its way to the
	// master fails at once (onEvict) instead of after RequestTimeout.
	n.opts.Net.OnEvict, n.opts.Net.EvictKinds = n.onEvict, []frame.Kind{frame.KindStoreCmd}
	if n.net, err = netio.New(n.opts.Net, (*handler)(n)); err != nil {
		_ = n.logs.close()
		return nil, err
	}
	return n, nil
}

// ID returns the node's id.
func (n *Node) ID() frame.NodeID { return n.opts.Net.ID }

// Name returns the node's name.
func (n *Node) Name() string { return n.opts.Name }

// Listen accepts peers on addr ("host:port", port 0 for any) and returns
// the bound address.
func (n *Node) Listen(addr string) (net.Addr, error) { return n.net.Listen(addr) }

// Peer connects to the node at addr and keeps the connection: it is
// redialed with backoff whenever lost, until Unpeer. It returns at once;
// the StatusPeerAdded event reports the connection.
func (n *Node) Peer(addr string) error {
	n.mu.Lock()
	delete(n.mu.unpeered, addr)
	n.mu.Unlock()
	return n.net.Dial(addr)
}

// Unpeer stops keeping a connection to addr and closes it with bye.
func (n *Node) Unpeer(addr string) error {
	n.mu.Lock()
	n.mu.unpeered[addr] = true
	n.mu.Unlock()
	if !n.net.Undial(addr) {
		return fmt.Errorf("node: not peered with %s", addr)
	}
	return nil
}

// Peers returns the established peers.
func (n *Node) Peers() []*netio.Peer { return n.net.Peers() }

// NetStats returns the transport's counters.
func (n *Node) NetStats() netio.Stats { return n.net.Stats() }

// Close flushes every peer's queue (waiting up to 5s), says bye, closes
// the connections and every subscription.
func (n *Node) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return n.CloseContext(ctx)
}

// CloseContext is Close with the flush bounded by ctx.
func (n *Node) CloseContext(ctx context.Context) error {
	n.mu.Lock()
	if n.mu.closed {
		n.mu.Unlock()
		return nil
	}
	n.mu.Unlock()
	n.closeStores()
	n.mu.Lock()
	n.mu.closed = true
	n.mu.Unlock()
	// Logs first, while loggers are still connected: close the open
	// batches and wait (within ctx) for their acks.
	var errs []error
	if err := n.FlushLogs(ctx); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, n.net.Close(ctx), n.logs.close())
	for _, s := range n.allSubs() {
		s.Unsubscribe()
	}
	return errors.Join(errs...)
}

// handler adapts Node to netio.Handler without exporting the methods.
type handler Node

func (h *handler) node() *Node { return (*Node)(h) }

// Filter returns the filter advertised in handshakes: the local prefixes,
// plus, when forwarding, every peer's prefixes.
func (h *handler) Filter() (frame.StrList, uint64) {
	n := h.node()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mu.handshk == nil {
		n.mu.handshk = n.advertisedLocked(nil)
	}
	return frame.MakeStrList(n.mu.handshk...), n.mu.version
}

// advertisedLocked computes the filter for peer to (nil: for a new peer).
func (n *Node) advertisedLocked(to *netio.Peer) []string {
	set := make(map[string]struct{}, len(n.mu.local))
	for p := range n.mu.local {
		if !strings.HasPrefix(p, n.opts.LocalPrefix) {
			set[p] = struct{}{}
		}
	}
	for q := range n.mu.peers {
		if q == to || (!n.opts.Forwarding && q.Role != frame.RoleClient) {
			continue
		}
		for _, p := range n.peers.Prefixes(q) {
			set[p] = struct{}{}
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// filterChangedLocked re-advertises filters after a change, sending each
// peer only the difference from what it has (add and remove frames).
// except is a peer whose own filter changed: under forwarding it is not
// told about itself.
func (n *Node) filterChangedLocked() {
	n.mu.version++
	n.mu.handshk = nil
	for p, ps := range n.mu.peers {
		n.syncPeerLocked(p, ps)
	}
}

func (n *Node) syncPeerLocked(p *netio.Peer, ps *peerState) {
	want := n.advertisedLocked(p)
	var add, del []string
	wantSet := make(map[string]struct{}, len(want))
	for _, w := range want {
		wantSet[w] = struct{}{}
		if _, ok := ps.sent[w]; !ok {
			add = append(add, w)
		}
	}
	for s := range ps.sent {
		if _, ok := wantSet[s]; !ok {
			del = append(del, s)
		}
	}
	if len(add) > 0 {
		_ = p.Send(frame.AppendSubscribe(nil, frame.Subscribe{Op: frame.SubAdd, Prefixes: frame.MakeStrList(add...)}))
	}
	if len(del) > 0 {
		slices.Sort(del)
		_ = p.Send(frame.AppendSubscribe(nil, frame.Subscribe{Op: frame.SubRemove, Prefixes: frame.MakeStrList(del...)}))
	}
	ps.sent = wantSet
}

func (h *handler) PeerUp(p *netio.Peer, filter frame.StrList) {
	n := h.node()
	if p.Features&frame.FeatForwarding != 0 {
		n.stamp.Store(true)
	}
	if p.Role == frame.RoleClient {
		n.clients.Add(1)
	}
	n.mu.Lock()
	// A connection that replaces an established one to the same node
	// (netio keeps one per pair, §6.2: a redial while this side still held
	// a half-open connection, or crossed dials) takes over its routes in
	// one router change, so no publish goes out on both. It is reported as
	// recovered (what was in flight on the old one may be lost), and the
	// old connection's PeerDown reports nothing.
	old := n.sameNodeLocked(p)
	changes := make([]router.Change[*netio.Peer], 0, filter.Len())
	if old != nil {
		for _, pre := range n.peers.Prefixes(old) {
			changes = append(changes, router.Change[*netio.Peer]{Op: router.OpUnsubscribe, Prefix: pre, Sub: old})
		}
	}
	for pre := range filter.All() {
		changes = append(changes, router.Change[*netio.Peer]{Op: router.OpSubscribe, Prefix: string(pre), Sub: p})
	}
	n.peers.Apply(changes)
	ps := &peerState{sent: map[string]struct{}{}}
	if p.FilterVersion == n.mu.version && n.mu.handshk != nil {
		for _, s := range n.mu.handshk {
			ps.sent[s] = struct{}{}
		}
	} else {
		// The filter changed since the handshake: replace it whole.
		want := n.advertisedLocked(p)
		_ = p.Send(frame.AppendSubscribe(nil, frame.Subscribe{Op: frame.SubReplace, Prefixes: frame.MakeStrList(want...)}))
		for _, s := range want {
			ps.sent[s] = struct{}{}
		}
	}
	n.mu.peers[p] = ps
	n.logs.peerUp(p)
	key := peerKey(p)
	kind := StatusPeerAdded
	if n.mu.lost[key] || old != nil {
		kind = StatusPeerRecovered
		delete(n.mu.lost, key)
	}
	if (n.opts.Forwarding || p.Role == frame.RoleClient) && filter.Len() > 0 {
		n.filterChangedLocked()
	}
	n.mu.Unlock()
	n.emit(Status{Kind: kind, Peer: infoOf(p)})
}

func (h *handler) PeerDown(p *netio.Peer, reason error) {
	n := h.node()
	replaced := isDuplicate(reason) && n.replacedAtNetio(p)
	n.peers.RemoveSubscriber(p)
	n.failOrphanedRequests()
	if p.Role == frame.RoleClient {
		n.clients.Add(-1)
	}
	n.logs.peerDown(p)
	n.mu.Lock()
	delete(n.mu.peers, p)
	key := peerKey(p)
	kind := StatusPeerLost
	var re *netio.RemoteError
	switch {
	case replaced:
		// Replaced by a connection netio holds already: its PeerUp reports
		// the peer recovered (or did, if it came first).
		kind = 0
		if n.sameNodeLocked(p) == nil {
			n.mu.lost[key] = true
		}
	case errors.Is(reason, netio.ErrLocalClose) && (n.mu.unpeered[p.DialAddr] || n.mu.closed):
		kind = StatusPeerRemoved
	case errors.As(reason, &re) && re.Bye && (re.Code == frame.CodeUnpeer || re.Code == frame.CodeShutdown):
		kind = StatusPeerRemoved
		if re.Code == frame.CodeShutdown && p.Dialed() && !n.mu.unpeered[p.DialAddr] {
			kind = StatusPeerLost // we will redial it
			n.mu.lost[key] = true
		}
	default:
		n.mu.lost[key] = true
	}
	if len(n.mu.lost) > 10000 {
		clear(n.mu.lost)
	}
	if n.opts.Forwarding || p.Role == frame.RoleClient {
		n.filterChangedLocked()
	}
	n.mu.Unlock()
	if kind != 0 {
		n.emit(Status{Kind: kind, Peer: infoOf(p), Err: reason})
	}
}

// sameNodeLocked returns another established connection to p's node, if
// any: the one p replaces (in PeerUp) or was replaced by (in PeerDown).
func (n *Node) sameNodeLocked(p *netio.Peer) *netio.Peer {
	for q := range n.mu.peers {
		if q != p && q.ID == p.ID {
			return q
		}
	}
	return nil
}

// replacedAtNetio reports whether the transport holds another established
// connection to p's node.
func (n *Node) replacedAtNetio(p *netio.Peer) bool {
	for _, q := range n.net.Peers() {
		if q != p && q.ID == p.ID {
			return true
		}
	}
	return false
}

// isDuplicate reports whether a connection was closed, by either side,
// because another connection between the same two nodes won (§6.2).
func isDuplicate(reason error) bool {
	var le *netio.LocalError
	var re *netio.RemoteError
	return (errors.As(reason, &le) && le.Code == frame.CodeDuplicate) || (errors.As(reason, &re) && re.Code == frame.CodeDuplicate)
}

func (h *handler) DialFailed(addr string, err error, retryIn time.Duration) {
	h.node().log.Debug("peering attempt failed", "addr", addr, "err", err, "retry_in", retryIn)
}

// Frame handles a frame from an established peer (on its event loop).
func (h *handler) Frame(p *netio.Peer, f frame.Frame) {
	n := h.node()
	switch f.Kind() {
	case frame.KindData, frame.KindEvent:
		n.routeRemote(p, f)
	case frame.KindSubscribe:
		n.peerSubscribe(p, f)
	case frame.KindStoreCmd, frame.KindStoreAck, frame.KindStoreNack, frame.KindStoreSnapshot:
		n.routeRemote(p, f)
	case frame.KindLogBatch:
		n.logs.batchFrame(p, f)
	case frame.KindLogAck:
		n.logs.ackFrame(p, f)
	default:
		n.stats.unhandled.Add(1)
	}
}

func (n *Node) peerSubscribe(p *netio.Peer, f frame.Frame) {
	m, err := frame.DecodeSubscribe(f.Body())
	if err != nil {
		n.log.Warn("bad subscribe frame", "peer", p.Name, "err", err)
		p.Close(frame.CodeProtocol, "bad subscribe frame")
		return
	}
	var changes []router.Change[*netio.Peer]
	if m.Op == frame.SubReplace {
		for _, pre := range n.peers.Prefixes(p) {
			changes = append(changes, router.Change[*netio.Peer]{Op: router.OpUnsubscribe, Prefix: pre, Sub: p})
		}
	}
	op := router.OpSubscribe
	if m.Op == frame.SubRemove {
		op = router.OpUnsubscribe
	}
	for pre := range m.Prefixes.All() {
		changes = append(changes, router.Change[*netio.Peer]{Op: op, Prefix: string(pre), Sub: p})
	}
	n.peers.Apply(changes)
	if max := n.opts.Net.MaxSubscriptions; max > 0 && m.Op != frame.SubRemove && len(n.peers.Prefixes(p)) > max {
		n.log.Warn("peer exceeded the subscription limit", "peer", p.Name, "limit", max)
		p.CloseLimit(netio.LimitSubscriptions, fmt.Sprintf("more than %d subscriptions", max))
		return
	}
	if n.opts.Forwarding || p.Role == frame.RoleClient {
		n.mu.Lock()
		n.filterChangedLocked()
		n.mu.Unlock()
	}
}

func peerKey(p *netio.Peer) string {
	if p.DialAddr != "" {
		return "addr:" + p.DialAddr
	}
	return "name:" + p.Name
}
