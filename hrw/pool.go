package hrw

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// Errors returned by the membership methods. They are wrapped with the
// member's name; test for them with errors.Is.
var (
	ErrEmptyName     = errors.New("hrw: empty member name")
	ErrDuplicateName = errors.New("hrw: duplicate member name")
	ErrBadWeight     = errors.New("hrw: weight not in [MinWeight, MaxWeight]")
	ErrUnknownMember = errors.New("hrw: unknown member")
)

// The range of valid weights. It is wide enough for any real weighting and
// narrow enough that no score overflows, underflows or loses precision
// (a score is at most weight * 2^53 and at least weight / 37).
const (
	MinWeight = 1e-100
	MaxWeight = 1e100
)

// Member is one member of a pool, as given to New and Add and as returned by
// Pick, PickN and Members.
type Member struct {
	// Name identifies the member; it must be non-empty and unique in the
	// pool. Its hash is part of every score, so all nodes of a cluster must
	// use the same names.
	Name string
	// Weight is the member's relative share of keys, in [MinWeight,
	// MaxWeight]. A member of weight 2 owns twice the keys of one of weight 1.
	Weight float64
	// Alive says whether picks consider the member. Note that the zero value
	// is false: a member added without Alive set owns no keys until
	// SetAlive(name, true).
	Alive bool
}

// Pool is a set of weighted members among which keys are partitioned by
// rendezvous hashing. The zero value is an empty pool, ready to use.
//
// All methods are safe for concurrent use. Pick and PickN take no lock: they
// read an immutable snapshot of the membership through one atomic load, so a
// pick that runs during a change sees the membership either before or after
// it, never a mix. Add, Remove and SetAlive serialize on a mutex, copy the
// snapshot (O(members)) and publish the copy. A Pool must not be copied after
// first use.
type Pool struct {
	mu   sync.Mutex // serializes writers; readers use snap only
	snap atomic.Pointer[snapshot]
}

// snapshot is one immutable state of a Pool.
type snapshot struct {
	all []entry // every member, sorted by name

	// The live members, sorted by name, as parallel slices so the pick loop
	// reads 8 bytes per member.
	fac  []uint64  // factor(xxhash64 of the name): the member's operand of mix
	w    []float64 // weight
	live []Member  // what picks return

	// equal is true when all live members have the same weight; then picks
	// compare mixed hashes and compute no logarithm (see doc.go).
	equal bool
}

type entry struct {
	m  Member
	hm uint64 // xxhash64(m.Name), computed once when the member is added
}

// New returns a pool holding members. It fails, and returns no pool, if a
// member is invalid (see Add).
func New(members ...Member) (*Pool, error) {
	p := new(Pool)
	if err := p.Add(members...); err != nil {
		return nil, err
	}
	return p, nil
}

// Add adds members to the pool, all at once or, if one is invalid, none. A
// member is invalid if its name is empty or already in the pool (or twice in
// members), or its weight is not in [MinWeight, MaxWeight] (this includes
// NaN and ±Inf). A live member that is added takes over only keys whose new
// owner it is; no key moves between the other members.
func (p *Pool) Add(members ...Member) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.snap.Load().entries()
	all := make([]entry, 0, len(old)+len(members))
	all = append(all, old...)
	for _, m := range members {
		if err := validate(m); err != nil {
			return fmt.Errorf("cannot add member %q: %w", m.Name, err)
		}
		all = append(all, entry{m: m, hm: xxhash.Sum64String(m.Name)})
	}
	slices.SortFunc(all, func(a, b entry) int { return strings.Compare(a.m.Name, b.m.Name) })
	for i := 1; i < len(all); i++ {
		if all[i].m.Name == all[i-1].m.Name {
			return fmt.Errorf("cannot add member %q: %w", all[i].m.Name, ErrDuplicateName)
		}
	}
	p.snap.Store(newSnapshot(all))
	return nil
}

func validate(m Member) error {
	if m.Name == "" {
		return ErrEmptyName
	}
	// The negated test also catches NaN.
	if !(m.Weight >= MinWeight && m.Weight <= MaxWeight) {
		return fmt.Errorf("weight %v: %w", m.Weight, ErrBadWeight)
	}
	return nil
}

// Remove removes the named members from the pool, all of them or, if one is
// not in the pool, none. Only the keys the removed members owned move.
func (p *Pool) Remove(names ...string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.snap.Load().entries()
	for _, name := range names {
		if _, ok := find(old, name); !ok {
			return fmt.Errorf("cannot remove member %q: %w", name, ErrUnknownMember)
		}
	}
	all := make([]entry, 0, len(old))
	for _, e := range old {
		if !slices.Contains(names, e.m.Name) {
			all = append(all, e)
		}
	}
	p.snap.Store(newSnapshot(all))
	return nil
}

// SetAlive marks the named member alive or dead. A dead member stays in the
// pool but owns no keys: marking it dead moves only its keys (to their next
// member in score order), and marking it alive again moves exactly those keys
// back.
func (p *Pool) SetAlive(name string, alive bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.snap.Load().entries()
	i, ok := find(old, name)
	if !ok {
		return fmt.Errorf("cannot set member %q alive: %w", name, ErrUnknownMember)
	}
	if old[i].m.Alive == alive {
		return nil
	}
	all := slices.Clone(old)
	all[i].m.Alive = alive
	p.snap.Store(newSnapshot(all))
	return nil
}

// Members returns a copy of all members, alive and dead, sorted by name.
func (p *Pool) Members() []Member {
	all := p.snap.Load().entries()
	ms := make([]Member, len(all))
	for i, e := range all {
		ms[i] = e.m
	}
	return ms
}

// entries returns the members of s; s may be nil (the zero Pool).
func (s *snapshot) entries() []entry {
	if s == nil {
		return nil
	}
	return s.all
}

func find(all []entry, name string) (int, bool) {
	return slices.BinarySearchFunc(all, name, func(e entry, name string) int {
		return strings.Compare(e.m.Name, name)
	})
}

// newSnapshot builds a snapshot from all, which must be sorted by name and is
// owned by the snapshot from now on.
func newSnapshot(all []entry) *snapshot {
	s := &snapshot{all: all, equal: true}
	for _, e := range all {
		if !e.m.Alive {
			continue
		}
		if len(s.w) > 0 && e.m.Weight != s.w[0] {
			s.equal = false
		}
		s.fac = append(s.fac, factor(e.hm))
		s.w = append(s.w, e.m.Weight)
		s.live = append(s.live, e.m)
	}
	return s
}
