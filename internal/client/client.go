// Package client implements weir-node's client commands against a running
// node: pub, sub and status. A client is a node with role client: the node
// it connects to serves it as a leaf (see node's package doc), so a pub
// reaches the node's subscribers and peers, and a sub receives what the
// node and its peers publish on the prefix.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/netio"
	"github.com/weirio/weir/node"
)

// Option configures the client node.
type Option func(*node.Options)

// WithNet sets the client's transport options: TLS and the shared secret
// a secured node requires (daemon.Security.Apply fills them).
func WithNet(o netio.Options) Option { return func(n *node.Options) { n.Net = o } }

// connect starts a client node, peers with addr and waits for the
// connection.
func connect(ctx context.Context, addr string, prefixes []string, fn func(node.Message), log *slog.Logger, opts []Option) (*node.Node, error) {
	o := node.Options{Name: "weir-client", Role: frame.RoleClient, Logger: log}
	for _, f := range opts {
		f(&o)
	}
	n, err := node.New(o)
	if err != nil {
		return nil, err
	}
	for _, p := range prefixes {
		if _, err := n.SubscribeFunc(p, fn); err != nil {
			_ = n.Close()
			return nil, err
		}
	}
	if err := n.Peer(addr); err != nil {
		_ = n.Close()
		return nil, err
	}
	select {
	case s := <-n.Status():
		if s.Kind == node.StatusPeerAdded {
			return n, nil
		}
		_ = n.Close()
		return nil, fmt.Errorf("cannot connect to %s: %v", addr, s.Err)
	case <-ctx.Done():
		_ = n.Close()
		return nil, fmt.Errorf("cannot connect to %s: %w", addr, ctx.Err())
	}
}

// Publish publishes value (in the JSON form of frame values) on topic via
// the node at addr.
func Publish(ctx context.Context, addr, topic string, valueJSON []byte, log *slog.Logger, opts ...Option) error {
	v, err := frame.ParseJSON(valueJSON, nil)
	if err != nil {
		return fmt.Errorf("bad value (want the JSON form, e.g. {\"@data-type\":\"count\",\"data\":42}): %w", err)
	}
	n, err := connect(ctx, addr, nil, nil, log, opts)
	if err != nil {
		return err
	}
	if err := n.Publish(topic, v); err != nil {
		_ = n.Close()
		return err
	}
	return n.Close() // flushes the queue before saying bye
}

// Line is one received message as sub prints it (a JSON line).
type Line struct {
	Topic string        `json:"topic"`
	Type  string        `json:"type"` // "data" or "event"
	Data  *frame.Value  `json:"data,omitempty"`
	Name  string        `json:"name,omitempty"`
	Args  []frame.Value `json:"args,omitempty"`
}

// Format renders a message as a Line.
func Format(m node.Message) (Line, error) {
	l := Line{Topic: string(m.Topic())}
	switch m.Kind() {
	case frame.KindData:
		v, err := m.Data()
		if err != nil {
			return l, err
		}
		val := v.Value()
		l.Type, l.Data = "data", &val
	case frame.KindEvent:
		ev, err := m.Event()
		if err != nil {
			return l, err
		}
		l.Type, l.Name, l.Args = "event", string(ev.Name), ev.Args.Value().Elems()
	default:
		return l, fmt.Errorf("unexpected %v", m.Kind())
	}
	return l, nil
}

// Subscribe prints every message on prefix as a JSON line to w until ctx
// is done or count messages arrived (count 0: no limit).
func Subscribe(ctx context.Context, addr, prefix string, count int, w io.Writer, log *slog.Logger, opts ...Option) error {
	lines := make(chan Line, 1024)
	n, err := connect(ctx, addr, []string{prefix}, func(m node.Message) {
		l, err := Format(m)
		if err != nil {
			log.Warn("undecodable message", "topic", string(m.Topic()), "err", err)
			return
		}
		select {
		case lines <- l:
		default:
			log.Warn("output too slow: message dropped", "topic", l.Topic)
		}
	}, log, opts)
	if err != nil {
		return err
	}
	defer n.Close()
	enc := json.NewEncoder(w)
	for seen := 0; count == 0 || seen < count; seen++ {
		select {
		case l := <-lines:
			if err := enc.Encode(l); err != nil {
				return err
			}
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// Status fetches /status from a node's metrics address.
func Status(ctx context.Context, metricsAddr string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+metricsAddr+"/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach node metrics at %s: %w", metricsAddr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New("status: " + resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 16<<20))
}
