// Package daemon runs a weir node as an operator's process: it creates the
// data and log directories, starts the node and its metrics endpoint, and
// on a signal (or a cancelled context) stops accepting, flushes outbound
// queues within a bound, says bye to every peer and returns. cmd/node is a
// thin main over it.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/weirio/weir/cluster"
	"github.com/weirio/weir/internal/metrics"
	"github.com/weirio/weir/node"
)

// Config describes one node process. Zero fields take the defaults of the
// standalone node (Default).
type Config struct {
	// Listen is the peering address. Default 127.0.0.1:9999.
	Listen string
	// Metrics is the address of /metrics, /healthz and /status; "-"
	// disables it. Default 127.0.0.1:9998.
	Metrics string
	// DataDir and LogDir are created at start. Defaults ./weir-data and
	// ./weir-logs.
	DataDir, LogDir string
	// Peers are dialed (and redialed) at start.
	Peers []string
	// Subscribe lists prefixes the node subscribes to (its own events).
	Subscribe []string
	// ShutdownGrace bounds the flush at shutdown. Default 5s.
	ShutdownGrace time.Duration
	// Stores are the data stores the node is the master of, Clones those
	// it keeps a replica of; they are attached before the node listens.
	// A Pebble store lives in DataDir/stores/<name>. Default (the
	// standalone node): one Pebble master named "default".
	Stores, Clones []cluster.StoreSpec
	// Security names the TLS and shared-secret files, loaded into
	// Node.Net at start. Default: plaintext, no authentication.
	Security Security
	// Node configures the node itself.
	Node node.Options
	// Setup, if set, runs before the node listens (so its subscriptions
	// are in every handshake); the cluster runtime uses it to install
	// handlers, pools and its peers. It returns extra fields for /status
	// and a function run at shutdown.
	Setup func(n *node.Node) (extra func() map[string]any, stop func(), err error)
}

// Default is the embedded standalone configuration: the README's first
// command runs a node with it and no config file.
func Default() Config {
	return Config{Listen: "127.0.0.1:9999", Metrics: "127.0.0.1:9998", DataDir: "./weir-data", LogDir: "./weir-logs",
		ShutdownGrace: 5 * time.Second, Stores: []cluster.StoreSpec{{Name: "default", Backend: cluster.BackendPebble}}}
}

// ensureDefaults fills the zero addresses, directories and grace; a nil
// Stores stays nil (a layout node has only the stores it lists).
func (c *Config) ensureDefaults() {
	d := Default()
	if c.Listen == "" {
		c.Listen = d.Listen
	}
	if c.Metrics == "" {
		c.Metrics = d.Metrics
	}
	if c.DataDir == "" {
		c.DataDir = d.DataDir
	}
	if c.LogDir == "" {
		c.LogDir = d.LogDir
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = d.ShutdownGrace
	}
}

// Ready is reported once the node listens.
type Ready struct {
	Node        *node.Node
	Listen      net.Addr
	MetricsAddr net.Addr // nil when disabled
}

// Run runs the node until ctx is cancelled, then shuts it down gracefully.
// ready, if not nil, is called once the node listens.
func Run(ctx context.Context, cfg Config, log *slog.Logger, ready func(Ready)) error {
	cfg.ensureDefaults()
	if err := cfg.Security.Apply(&cfg.Node.Net); err != nil {
		return err // before any directory is created
	}
	for _, d := range []string{cfg.DataDir, cfg.LogDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("cannot create directory: %w", err)
		}
	}
	cfg.Node.Logger = log
	if cfg.Node.Logs.Dir == "" {
		cfg.Node.Logs.Dir = cfg.LogDir // log streams' files (loggers, standalone)
	}
	n, err := node.New(cfg.Node)
	if err != nil {
		return fmt.Errorf("cannot create node: %w", err)
	}
	var extra func() map[string]any
	stop := func() {}
	if cfg.Setup != nil {
		var s func()
		if extra, s, err = cfg.Setup(n); err != nil {
			_ = n.Close()
			return err
		}
		if s != nil {
			stop = s
		}
	}
	defer stop()
	if err := attachStores(n, cfg); err != nil {
		_ = n.Close()
		return err
	}
	for _, p := range cfg.Subscribe {
		if _, err := n.SubscribeEvents(p); err != nil {
			_ = n.Close()
			return err
		}
	}
	addr, err := n.Listen(cfg.Listen)
	if err != nil {
		_ = n.Close()
		return err
	}
	var srv *http.Server
	var maddr net.Addr
	if cfg.Metrics != "-" {
		ln, err := net.Listen("tcp", cfg.Metrics)
		if err != nil {
			_ = n.Close()
			return fmt.Errorf("cannot listen for metrics on %s: %w", cfg.Metrics, err)
		}
		maddr = ln.Addr()
		col := metrics.New(n)
		col.Extra = extra
		srv = &http.Server{Handler: col.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server stopped", "err", err)
			}
		}()
	}
	for _, p := range cfg.Peers {
		if err := n.Peer(p); err != nil {
			log.Error("cannot peer", "addr", p, "err", err)
		}
	}
	log.Info("node running", "name", cfg.Node.Name, "listen", addr.String(), "metrics", fmt.Sprint(maddr),
		"data_dir", cfg.DataDir, "log_dir", cfg.LogDir, "stores", fmt.Sprint(cfg.Stores), "clones", fmt.Sprint(cfg.Clones), "tls", cfg.Node.Net.TLS != nil, "secret", cfg.Node.Net.Secret != nil)
	if ready != nil {
		ready(Ready{Node: n, Listen: addr, MetricsAddr: maddr})
	}
	<-ctx.Done()
	log.Info("shutting down: flushing queues and closing peers", "grace", cfg.ShutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	err = n.CloseContext(sctx)
	if srv != nil {
		_ = srv.Shutdown(sctx)
	}
	log.Info("stopped")
	return err
}
