package main

import (
	"context"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/weirio/weir/internal/client"
	"github.com/weirio/weir/internal/daemon"
)

const defaultNode, defaultMetrics = "127.0.0.1:9999", "127.0.0.1:9998"

func pubCmd() *cobra.Command {
	var addr, level string
	var timeout time.Duration
	var sec daemon.Security
	cmd := &cobra.Command{
		Use:   "pub TOPIC VALUE",
		Short: "Publish one value on a topic through a running node",
		Long: `Publish one value on TOPIC through the node at --node. VALUE is in the JSON form of
weir values (Broker's JSON v1 data encoding), for example:
  weir-node pub demo/greeting '{"@data-type":"string","data":"hello"}'
  weir-node pub demo/count '{"@data-type":"count","data":42}'`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			log, opt, err := clientSetup(level, sec)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			return client.Publish(ctx, addr, args[0], []byte(args[1]), log, opt)
		},
	}
	registerSecurity(cmd, &sec)
	cmd.Flags().StringVar(&addr, "node", defaultNode, "address of the node")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for the node")
	cmd.Flags().StringVar(&level, "log-level", "warn", "debug, info, warn or error")
	return cmd
}

func subCmd() *cobra.Command {
	var addr, level string
	var count int
	var sec daemon.Security
	cmd := &cobra.Command{
		Use:   "sub PREFIX",
		Short: "Print every message on a topic prefix as a JSON line",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			log, opt, err := clientSetup(level, sec)
			if err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			return client.Subscribe(ctx, addr, args[0], count, os.Stdout, log, opt)
		},
	}
	registerSecurity(cmd, &sec)
	cmd.Flags().StringVar(&addr, "node", defaultNode, "address of the node")
	cmd.Flags().IntVar(&count, "count", 0, "exit after this many messages (0: run until Ctrl-C)")
	cmd.Flags().StringVar(&level, "log-level", "warn", "debug, info, warn or error")
	return cmd
}

func statusCmd() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a running node's peers (queue depths, drops), subscriptions and pools",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := client.Status(context.Background(), addr)
			if err != nil {
				return err
			}
			_, err = os.Stdout.Write(b)
			return err
		},
	}
	cmd.Flags().StringVar(&addr, "metrics", defaultMetrics, "metrics address of the node")
	return cmd
}
