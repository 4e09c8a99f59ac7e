package cluster

import (
	"fmt"
	"strings"
)

// StoreBackend is where a master store keeps its data.
type StoreBackend string

// Store backends. Pebble in sync mode acknowledges a write once it is
// durable; pebble-nosync once it is in memory (a crash can lose the last
// writes); memory keeps nothing across restarts.
const (
	BackendPebble       StoreBackend = "pebble"
	BackendPebbleNoSync StoreBackend = "pebble-nosync"
	BackendMemory       StoreBackend = "memory"
)

// StoreSpec is a data store a node attaches at start: as its master
// (layout key stores, weir-node --store) or as a clone (clones,
// --clone). Written "name" or "name:backend"; the backend of a master
// defaults to pebble, a clone has none (it keeps its copy in memory).
type StoreSpec struct {
	Name    string
	Backend StoreBackend // masters only
}

// String returns the spec as written.
func (s StoreSpec) String() string {
	if s.Backend == "" {
		return s.Name
	}
	return s.Name + ":" + string(s.Backend)
}

// ParseStoreSpec parses "name" or "name:backend" (backend pebble,
// pebble-nosync or memory) for a master, or "name" alone for a clone.
// Store names follow the rules of node names.
func ParseStoreSpec(s string, clone bool) (StoreSpec, error) {
	name, backend, hasBackend := strings.Cut(s, ":")
	if msg := checkName(name); msg != "" {
		return StoreSpec{}, fmt.Errorf("store %q: %s", s, strings.TrimPrefix(msg, "invalid name: "))
	}
	if clone {
		if hasBackend {
			return StoreSpec{}, fmt.Errorf("clone %q: a clone keeps its copy in memory; write the name alone", s)
		}
		return StoreSpec{Name: name}, nil
	}
	spec := StoreSpec{Name: name, Backend: BackendPebble}
	if hasBackend {
		switch b := StoreBackend(backend); b {
		case BackendPebble, BackendPebbleNoSync, BackendMemory:
			spec.Backend = b
		default:
			return StoreSpec{}, fmt.Errorf("store %q: unknown backend %q (want pebble, pebble-nosync or memory)", s, backend)
		}
	}
	return spec, nil
}

// stores checks the stores and clones of every node: specs that parse,
// no store listed twice on a node, and one master per store name in the
// whole layout (a clone may follow a master outside the layout).
func (v *validator) stores() {
	masters := map[string]string{} // store -> node
	for i := range v.l.Nodes {
		n := &v.l.Nodes[i]
		at := v.at(i)
		seen := map[string]bool{}
		for _, s := range n.Stores {
			if seen[s.Name] {
				v.add(at.lineOf("stores"), n.Name, "store %q listed twice", s.Name)
			}
			seen[s.Name] = true
			if other, ok := masters[s.Name]; ok {
				v.add(at.lineOf("stores"), n.Name, "store %q already has its master on %s (one master per store)", s.Name, other)
				continue
			}
			masters[s.Name] = n.Name
		}
		for _, c := range n.Clones {
			if seen[c.Name] {
				v.add(at.lineOf("clones"), n.Name, "store %q listed twice", c.Name)
			}
			seen[c.Name] = true
		}
	}
}
