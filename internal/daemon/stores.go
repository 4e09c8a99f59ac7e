package daemon

import (
	"fmt"
	"path/filepath"

	"github.com/weirio/weir/cluster"
	"github.com/weirio/weir/kv"
	"github.com/weirio/weir/node"
)

// attachStores attaches cfg's masters (opening their backends) and
// clones to n. The node closes them when it closes.
func attachStores(n *node.Node, cfg Config) error {
	for _, s := range cfg.Stores {
		b, err := openBackend(s, filepath.Join(cfg.DataDir, "stores", s.Name))
		if err != nil {
			return fmt.Errorf("store %s: %w", s.Name, err)
		}
		if _, err := n.AttachMaster(s.Name, b, node.StoreOptions{}); err != nil {
			return fmt.Errorf("store %s: %w", s.Name, err)
		}
	}
	for _, c := range cfg.Clones {
		if _, err := n.AttachClone(c.Name, node.StoreOptions{}); err != nil {
			return fmt.Errorf("clone %s: %w", c.Name, err)
		}
	}
	return nil
}

func openBackend(s cluster.StoreSpec, dir string) (kv.Backend, error) {
	switch s.Backend {
	case cluster.BackendMemory:
		return kv.NewMemory(), nil
	case cluster.BackendPebble, "":
		return kv.OpenPebble(kv.PebbleOptions{Dir: dir, Sync: kv.Sync})
	case cluster.BackendPebbleNoSync:
		return kv.OpenPebble(kv.PebbleOptions{Dir: dir, Sync: kv.NoSync})
	}
	return nil, fmt.Errorf("unknown backend %q", s.Backend)
}
