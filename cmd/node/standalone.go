package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/weirio/weir/internal/daemon"
	"github.com/weirio/weir/netio"
)

type standaloneFlags struct {
	name, listen, metrics, dataDir, logDir, policy, logLevel string
	peers, subscribe                                         []string
	forwarding                                               bool
	security                                                 daemon.Security
}

func (o *standaloneFlags) register(cmd *cobra.Command) {
	d := daemon.Default()
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "weir", "node name")
	f.StringVar(&o.listen, "listen", d.Listen, "peering address")
	f.StringVar(&o.metrics, "metrics", d.Metrics, `metrics, /healthz and /status address ("-" disables)`)
	f.StringVar(&o.dataDir, "data-dir", d.DataDir, "data directory")
	f.StringVar(&o.logDir, "log-dir", d.LogDir, "log directory")
	f.StringArrayVar(&o.peers, "peer", nil, "address of a node to peer with (repeatable)")
	f.StringArrayVar(&o.subscribe, "subscribe", nil, "topic prefix to subscribe to (repeatable)")
	f.BoolVar(&o.forwarding, "forwarding", false, "relay messages between peers")
	f.StringVar(&o.policy, "policy", "drop_oldest", "backpressure policy: drop_oldest, drop_newest or disconnect")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	registerSecurity(cmd, &o.security)
}

func runStandalone(o standaloneFlags) error {
	log, err := logger(o.logLevel)
	if err != nil {
		return err
	}
	pol, err := netio.ParsePolicy(o.policy)
	if err != nil {
		return err
	}
	cfg := daemon.Config{Listen: o.listen, Metrics: o.metrics, DataDir: o.dataDir, LogDir: o.logDir,
		Peers: o.peers, Subscribe: o.subscribe, Security: o.security}
	cfg.Node.Name, cfg.Node.Forwarding, cfg.Node.Net.Policy = o.name, o.forwarding, pol
	ctx, cancel := signalContext()
	defer cancel()
	if err := daemon.Run(ctx, cfg, log, nil); err != nil {
		return fmt.Errorf("node failed: %w", err)
	}
	return nil
}
