package cluster

import (
	"container/list"
	"fmt"
	"slices"
	"sync"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/hrw"
)

// MaxRRKeys bounds the round-robin counters a Pool keeps (one per key
// passed to PickRR). When a new key would exceed it, the least recently
// used key's counter is dropped; that key, if used again, starts over at
// the pool's first live member. Zeek keeps its counters forever; a key
// space that grows without bound (keys derived from traffic) would leak.
const MaxRRKeys = 4096

// poolRoles are the roles that have a pool, as in Zeek: proxy, worker and
// logger. The manager is a single node and has none.
var poolRoles = []frame.Role{frame.RoleProxy, frame.RoleWorker, frame.RoleLogger}

// Pools holds the proxy, worker and logger pools of a layout. All methods
// are safe for concurrent use.
type Pools struct {
	pools map[frame.Role]*Pool
	roles map[string]frame.Role // every node of the layout
}

// NewPools builds the pools of l: one per role among proxy, worker and
// logger (empty if the layout has no such node), its members the layout's
// nodes of that role with their weights. Every member starts dead (see
// Pool). l must be valid (Parse, or EnsureDefaults and Validate); NewPools
// panics on a duplicate name or a bad weight.
func NewPools(l *Layout) *Pools {
	ps := &Pools{pools: make(map[frame.Role]*Pool, len(poolRoles)), roles: make(map[string]frame.Role, len(l.Nodes))}
	for _, r := range poolRoles {
		ps.pools[r] = newPool(r)
	}
	for _, n := range l.Nodes {
		ps.roles[n.Name] = n.Role
		if p := ps.pools[n.Role]; p != nil {
			p.add(n)
		}
	}
	return ps
}

// Pool returns the pool of role: RoleProxy, RoleWorker or RoleLogger. It
// returns nil for any other role.
func (ps *Pools) Pool(role frame.Role) *Pool { return ps.pools[role] }

// SetAlive marks the named node alive or dead in the pool of its role. For
// a node of the layout without a pool (the manager) it does nothing. It
// fails, wrapping ErrUnknownNode, for a name not in the layout.
func (ps *Pools) SetAlive(name string, alive bool) error {
	role, ok := ps.roles[name]
	if !ok {
		return fmt.Errorf("cannot set node %q alive: %w", name, ErrUnknownNode)
	}
	if p := ps.pools[role]; p != nil {
		return p.SetAlive(name, alive)
	}
	return nil
}

// Pool is the set of nodes of one role, among which a publisher picks one
// node per key: PickHRW by rendezvous hashing (Zeek's publish_hrw), PickRR
// round-robin per key (publish_rr). Picks consider live members only and
// report !ok when none is alive.
//
// Members start dead, including the local node if it is a member: a node
// is alive once the caller has seen it up (a peer's hello, or the local
// node itself once it runs) and calls SetAlive(name, true); it leaves the
// picks again with SetAlive(name, false) when its peering is lost. Only
// the keys of a node that goes down move, to the other live members, and
// they come back when it revives.
//
// PickHRW is deterministic: every node that agrees on the layout and on
// the live set picks the same member for a key (package hrw fixes the hash
// across processes and platforms). It takes no lock and does not allocate.
// PickRR is per publisher, as in Zeek: it takes a mutex, since it advances
// a counter.
//
// All methods are safe for concurrent use.
type Pool struct {
	role  frame.Role
	hrw   hrw.Pool // the live set as hrw sees it; written under mu
	rrCap int      // MaxRRKeys; lowered by tests

	mu struct {
		sync.Mutex
		members []member // layout order, the round-robin order
		live    int      // number of live members
		rr      map[string]*list.Element
		lru     list.List // of *rrCounter, most recently used first
	}
}

type member struct {
	name  string
	alive bool
}

// rrCounter is the round-robin position of one key: the index in
// mu.members of the next member to try.
type rrCounter struct {
	key  string
	next int
}

func newPool(role frame.Role) *Pool {
	p := &Pool{role: role, rrCap: MaxRRKeys}
	p.mu.rr = make(map[string]*list.Element)
	return p
}

func (p *Pool) add(n Node) {
	if err := p.hrw.Add(hrw.Member{Name: n.Name, Weight: n.Weight}); err != nil {
		panic(fmt.Sprintf("cluster: NewPools needs a valid layout: %v", err))
	}
	p.mu.members = append(p.mu.members, member{name: n.Name})
}

// Role returns the role of the pool's members.
func (p *Pool) Role() frame.Role { return p.role }

// SetAlive marks the named member alive or dead. Marking a member dead
// moves only its keys (PickHRW) and skips it in round-robin; marking it
// alive again moves exactly those keys back. It fails, wrapping
// ErrUnknownNode, for a name that is not a member.
func (p *Pool) SetAlive(name string, alive bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := slices.IndexFunc(p.mu.members, func(m member) bool { return m.name == name })
	if i < 0 {
		return fmt.Errorf("cannot set %q alive in the %s pool: %w", name, p.role, ErrUnknownNode)
	}
	m := &p.mu.members[i]
	if m.alive == alive {
		return nil
	}
	if err := p.hrw.SetAlive(name, alive); err != nil {
		panic("BUG: hrw pool out of step with cluster pool: " + err.Error())
	}
	m.alive = alive
	if alive {
		p.mu.live++
	} else {
		p.mu.live--
	}
	return nil
}

// PickHRW returns the live member that owns key by rendezvous hashing, or
// !ok if no member is alive.
//
// Hot path: lock-free and allocation-free (one atomic load in hrw).
func (p *Pool) PickHRW(key []byte) (name string, ok bool) {
	m, ok := p.hrw.Pick(key)
	return m.Name, ok
}

// PickHRWString is PickHRW for a string key, without converting it.
func (p *Pool) PickHRWString(key string) (name string, ok bool) {
	m, ok := p.hrw.PickString(key)
	return m.Name, ok
}

// PickRR returns the next live member for key in round-robin order, or !ok
// if no member is alive. Each key has its own position, as in Zeek's
// publish_rr: successive picks for one key cycle over the members in
// layout order, skipping dead ones, whatever picks other keys make. At most
// MaxRRKeys positions are kept (least recently used dropped).
func (p *Pool) PickRR(key string) (name string, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.live == 0 {
		return "", false
	}
	c := p.counterLocked(key)
	ms := p.mu.members
	// There is a live member, so this stops within len(ms) steps.
	for {
		m := ms[c.next]
		c.next = (c.next + 1) % len(ms)
		if m.alive {
			return m.name, true
		}
	}
}

// counterLocked returns key's counter, creating it (and evicting the least
// recently used one if there are rrCap) or marking it recently used.
func (p *Pool) counterLocked(key string) *rrCounter {
	if e, ok := p.mu.rr[key]; ok {
		p.mu.lru.MoveToFront(e)
		return e.Value.(*rrCounter)
	}
	if len(p.mu.rr) >= p.rrCap {
		old := p.mu.lru.Back()
		p.mu.lru.Remove(old)
		delete(p.mu.rr, old.Value.(*rrCounter).key)
	}
	c := &rrCounter{key: key}
	p.mu.rr[key] = p.mu.lru.PushFront(c)
	return c
}

// Members returns the names of all members, alive or dead, in layout order.
func (p *Pool) Members() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, len(p.mu.members))
	for i, m := range p.mu.members {
		out[i] = m.name
	}
	return out
}

// Live returns the names of the live members in layout order.
func (p *Pool) Live() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, p.mu.live)
	for _, m := range p.mu.members {
		if m.alive {
			out = append(out, m.name)
		}
	}
	return out
}
