package daemon

import (
	"path/filepath"

	"github.com/weirio/weir/cluster"
	"github.com/weirio/weir/node"
)

// FromLayout returns the configuration of node name in layout l: its
// addresses, directories (data_dir/<name>, log_dir/<name>), role,
// forwarding, backpressure, TLS and secret files, stores and clones, and a Setup that makes
// it a cluster member.
func FromLayout(l *cluster.Layout, name string) (Config, error) {
	self, ok := l.Node(name)
	if !ok {
		return Config{}, cluster.ErrUnknownNode
	}
	cfg := Config{Listen: self.Addr(), Metrics: self.MetricsAddr(),
		DataDir: filepath.Join(l.Options.DataDir, name), LogDir: filepath.Join(l.Options.LogDir, name)}
	if cfg.Metrics == "" {
		cfg.Metrics = "-"
	}
	cfg.Node.Name, cfg.Node.Role, cfg.Node.Forwarding = name, self.Role, l.Options.Forwarding
	bp := l.Options.Backpressure
	cfg.Node.Net.Policy, cfg.Node.Net.QueueFrames, cfg.Node.Net.QueueBytes = bp.Policy, bp.QueueFrames, bp.QueueBytes
	if t := self.TLS; t != nil {
		cfg.Security.TLSCert, cfg.Security.TLSKey, cfg.Security.TLSCA, cfg.Security.PeerNames = t.Cert, t.Key, t.CA, t.PeerNames
	}
	cfg.Security.SecretFile = self.SecretFile
	cfg.Stores, cfg.Clones = self.Stores, self.Clones
	cfg.Setup = func(n *node.Node) (func() map[string]any, func(), error) {
		m, err := cluster.Start(n, l, name)
		if err != nil {
			return nil, nil, err
		}
		return m.Report, m.Stop, nil
	}
	return cfg, nil
}
