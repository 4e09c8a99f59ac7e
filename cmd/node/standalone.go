package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/weirio/weir/cluster"
	"github.com/weirio/weir/internal/daemon"
	"github.com/weirio/weir/netio"
)

type standaloneFlags struct {
	name, listen, metrics, dataDir, logDir, policy, logLevel string
	peers, subscribe, stores, clones                         []string
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
	var def []string
	for _, s := range d.Stores {
		def = append(def, s.String())
	}
	f.StringArrayVar(&o.stores, "store", def, `data store this node is the master of, "name" or "name:backend" (pebble, pebble-nosync, memory; repeatable; "" for none)`)
	f.StringArrayVar(&o.clones, "clone", nil, "data store this node keeps a replica of (repeatable)")
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
	for _, s := range o.stores {
		if s == "" {
			continue
		}
		spec, err := cluster.ParseStoreSpec(s, false)
		if err != nil {
			return err
		}
		cfg.Stores = append(cfg.Stores, spec)
	}
	for _, s := range o.clones {
		spec, err := cluster.ParseStoreSpec(s, true)
		if err != nil {
			return err
		}
		cfg.Clones = append(cfg.Clones, spec)
	}
	ctx, cancel := signalContext()
	defer cancel()
	if err := daemon.Run(ctx, cfg, log, nil); err != nil {
		return fmt.Errorf("node failed: %w", err)
	}
	return nil
}
