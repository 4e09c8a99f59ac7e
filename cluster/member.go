package cluster

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/node"
)

// Events a Member raises locally (handle them with node.On) and sends.
const (
	// EventNodeUp is raised with the node's name when a peer of the layout
	// has announced itself (its hello arrived).
	EventNodeUp = "weir.cluster.node_up"
	// EventNodeDown is raised with the node's name when its connection is
	// lost or removed.
	EventNodeDown = "weir.cluster.node_down"
	// eventHello is what a node sends to each new peer's node topic:
	// (name, role, id).
	eventHello = "weir.cluster.hello"
)

// ErrNoLiveMember is returned by PublishHRW and PublishRR when no member
// of the pool is alive.
var ErrNoLiveMember = errors.New("cluster: no live member in the pool")

// Member runs one node of a layout: it dials the node's topology peers,
// subscribes to its role and node topics, announces itself to each new
// peer, turns announcements and lost peers into node_up / node_down
// events, and keeps the pools' alive flags in step. It owns the node's
// Status channel. Methods are safe for concurrent use.
type Member struct {
	l     *Layout
	self  Node
	n     *node.Node
	pools *Pools

	mu struct {
		sync.Mutex
		up map[string]bool
	}
	stop chan struct{}
	done chan struct{}
}

// Start makes n the member name of layout l. Call it before n.Listen:
// the node's role and node topics are then in every handshake, so a peer's
// announcement can never arrive before the subscription it is addressed
// to. n must listen on the layout's address for name.
func Start(n *node.Node, l *Layout, name string) (*Member, error) {
	self, ok := l.Node(name)
	if !ok {
		return nil, fmt.Errorf("%w: %q is not in the layout", ErrUnknownNode, name)
	}
	m := &Member{l: l, self: self, n: n, pools: NewPools(l), stop: make(chan struct{}), done: make(chan struct{})}
	m.mu.up = map[string]bool{}
	// A node is alive in its own pool: every member then computes the same
	// HRW assignment, and a key a node owns is handled locally.
	if err := m.pools.SetAlive(name, true); err != nil {
		return nil, err
	}
	n.On(eventHello, m.hello)
	for _, t := range Subscriptions(l, name) {
		if _, err := n.SubscribeEvents(t); err != nil {
			return nil, err
		}
	}
	go m.watch()
	for _, peer := range Peers(l, name) {
		p, _ := l.Node(peer)
		if err := n.Peer(p.Addr()); err != nil {
			m.Stop()
			return nil, err
		}
	}
	return m, nil
}

// Stop ends the member's bookkeeping (the node itself is the caller's).
func (m *Member) Stop() {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.done
}

// Pools returns the layout's pools, with alive flags kept up to date.
func (m *Member) Pools() *Pools { return m.pools }

// Up returns the names of the layout's nodes currently up (self excluded).
func (m *Member) Up() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.mu.up))
	for n := range m.mu.up {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func (m *Member) watch() {
	defer close(m.done)
	for {
		select {
		case <-m.stop:
			return
		case s := <-m.n.Status():
			if _, inLayout := m.l.Node(s.Peer.Name); !inLayout || s.Peer.Name == m.self.Name {
				continue
			}
			switch s.Kind {
			case node.StatusPeerAdded, node.StatusPeerRecovered:
				// Announce ourselves; the peer raises node_up on receipt.
				_ = m.n.PublishEvent(NodeTopic(s.Peer.Name), eventHello,
					frame.NewString(m.self.Name), frame.NewEnum(m.self.Role.String()), frame.NewString(m.n.ID().String()))
			case node.StatusPeerLost, node.StatusPeerRemoved:
				m.setUp(s.Peer.Name, false)
			}
		}
	}
}

// hello handles a peer's announcement.
func (m *Member) hello(ev node.Event) {
	if len(ev.Args) < 1 {
		return
	}
	name := ev.Args[0].Str()
	if _, ok := m.l.Node(name); !ok || name == m.self.Name {
		return
	}
	m.setUp(name, true)
}

func (m *Member) setUp(name string, up bool) {
	m.mu.Lock()
	was := m.mu.up[name]
	if up {
		m.mu.up[name] = true
	} else {
		delete(m.mu.up, name)
	}
	m.mu.Unlock()
	if was == up {
		return
	}
	_ = m.pools.SetAlive(name, up)
	ev := EventNodeDown
	if up {
		ev = EventNodeUp
	}
	m.n.RaiseLocal(ev, frame.NewString(name))
}

// PublishHRW sends the event to the member of the role's pool that owns
// key by rendezvous hashing (Zeek's publish_hrw). If that member is this
// node, the local handlers run instead. It returns the member's name.
func (m *Member) PublishHRW(role frame.Role, key, event string, args ...frame.Value) (string, error) {
	return m.publishTo(role, func(p *Pool) (string, bool) { return p.PickHRWString(key) }, event, args)
}

// PublishRR sends the event to the next live member of the role's pool in
// round-robin order for key (Zeek's publish_rr).
func (m *Member) PublishRR(role frame.Role, key, event string, args ...frame.Value) (string, error) {
	return m.publishTo(role, func(p *Pool) (string, bool) { return p.PickRR(key) }, event, args)
}

// publishTo sends the event to the member pick chooses in the role's pool.
func (m *Member) publishTo(role frame.Role, pick func(*Pool) (string, bool), event string, args []frame.Value) (string, error) {
	p := m.pools.Pool(role)
	if p == nil {
		return "", fmt.Errorf("cluster: no %s pool", role)
	}
	name, ok := pick(p)
	if !ok {
		return "", ErrNoLiveMember
	}
	return name, m.sendTo(name, event, args)
}

func (m *Member) sendTo(name, event string, args []frame.Value) error {
	if name == m.self.Name {
		m.n.RaiseLocal(event, args...)
		return nil
	}
	return m.n.PublishEvent(NodeTopic(name), event, args...)
}

// Report describes the pools for status output.
func (m *Member) Report() map[string]any {
	pools := map[string]any{}
	for _, r := range []frame.Role{frame.RoleProxy, frame.RoleWorker, frame.RoleLogger} {
		if p := m.pools.Pool(r); p != nil {
			pools[r.String()] = map[string]any{"members": p.Members(), "live": p.Live()}
		}
	}
	return map[string]any{"cluster": map[string]any{"self": m.self.Name, "role": m.self.Role.String(), "up": m.Up(), "pools": pools}}
}
