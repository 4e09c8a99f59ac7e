// Command weir-node runs a weir node and talks to running ones.
//
//	go build -o weir-node ./cmd/node
//	weir-node                      # a standalone node on the embedded default
//	weir-node run --layout cluster.yaml --name worker-1
//	weir-node cluster up --layout cluster.yaml
//	weir-node pub TOPIC VALUE      # VALUE in the JSON form of frame values
//	weir-node sub PREFIX
//	weir-node store put default KEY VALUE   # also get, exists, erase, keys
//	weir-node status
//	weir-node gen-certs --dir certs --names manager,worker-1   # a dev CA and node certificates
//
// Security (README, "Secure deployment"): --tls-cert, --tls-key and
// --tls-ca make a node (or the pub and sub clients) use mutual TLS only,
// --tls-peer-name pins the names peer certificates may carry, and
// --secret-file makes every peer prove a shared secret; a layout sets the
// same per node (tls_cert, tls_key, tls_ca, tls_peer_names, secret_file).
//
// Flags and subcommands come from github.com/spf13/cobra (the de facto
// standard for Go command lines; --help on every command for free).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	if err := rootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "weir-node:", err)
		os.Exit(1)
	}
}

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func logger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad --log-level %q (want debug, info, warn or error)", level)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

func rootCmd() *cobra.Command {
	var o standaloneFlags
	root := &cobra.Command{
		Use:   "weir-node",
		Short: "Run a weir node, or talk to a running one",
		Long: `weir-node runs one weir node. With no arguments it runs a standalone node on the
embedded default: peering on 127.0.0.1:9999, metrics on 127.0.0.1:9998, data in
./weir-data (with a Pebble data store named "default"), logs in ./weir-logs. No
config file is needed.`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE:          func(cmd *cobra.Command, _ []string) error { return runStandalone(o) },
	}
	o.register(root)
	root.AddCommand(pubCmd(), subCmd(), storeCmd(), statusCmd(), runCmd(), clusterCmd(), genCertsCmd())
	return root
}
