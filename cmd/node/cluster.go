package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/weirio/weir/cluster"
	"github.com/weirio/weir/internal/daemon"
)

func runCmd() *cobra.Command {
	var layout, name, level string
	cmd := &cobra.Command{
		Use:   "run --layout FILE --name NODE",
		Short: "Run one node of a cluster layout",
		Long: `Run the node NODE of the cluster layout FILE: it listens on its layout address,
dials its topology peers (workers -> proxies, manager, loggers; proxies -> manager,
loggers; manager -> loggers), subscribes to its role and node topics, and serves
metrics on its metrics port.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := logger(level)
			if err != nil {
				return err
			}
			l, err := cluster.Load(layout)
			if err != nil {
				return err
			}
			cfg, err := daemon.FromLayout(l, name)
			if err != nil {
				return fmt.Errorf("node %q: %w", name, err)
			}
			ctx, cancel := signalContext()
			defer cancel()
			return daemon.Run(ctx, cfg, log.With("node", name), nil)
		},
	}
	cmd.Flags().StringVar(&layout, "layout", "", "cluster layout file (YAML)")
	cmd.Flags().StringVar(&name, "name", "", "name of this node in the layout")
	cmd.Flags().StringVar(&level, "log-level", "info", "debug, info, warn or error")
	_ = cmd.MarkFlagRequired("layout")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func clusterCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Work with a cluster layout on this machine"}
	var layout, level string
	up := &cobra.Command{
		Use:   "up --layout FILE",
		Short: "Start every node of a layout as child processes (for local development)",
		Long: `Start every node of the layout as a child process running "weir-node run", prefix
their output with the node's name, and stop them all on Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := cluster.Load(layout)
			if err != nil {
				return err
			}
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			var children []daemon.Child
			for _, n := range l.Nodes {
				children = append(children, daemon.Child{Name: n.Name,
					Args: []string{exe, "run", "--layout", layout, "--name", n.Name, "--log-level", level}})
			}
			ctx, cancel := signalContext()
			defer cancel()
			return daemon.Supervise(ctx, children, os.Stdout, 10*time.Second)
		},
	}
	up.Flags().StringVar(&layout, "layout", "", "cluster layout file (YAML)")
	up.Flags().StringVar(&level, "log-level", "info", "log level of the nodes")
	_ = up.MarkFlagRequired("layout")
	cmd.AddCommand(up)
	return cmd
}
