package node

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/netio"
)

// Options configure a Node. Zero fields take the defaults in their
// comments.
type Options struct {
	// Name of the node, sent to peers. Default "weir".
	Name string
	// Role in a cluster. Default frame.RoleNone (standalone).
	Role frame.Role
	// Forwarding makes the node relay data and event frames between its
	// peers (off by default, as in Zeek). A forwarding node advertises to
	// each peer its own filter plus its other peers' filters, decrements
	// the hop TTL and suppresses duplicates.
	Forwarding bool
	// LocalPrefix marks topics that never leave the node. Default
	// "weir/local/".
	LocalPrefix string
	// SubQueue is the capacity of a queued subscription's channel. When it
	// is full new messages for that subscription are dropped and counted
	// (Subscription.Dropped): a slow local consumer never stalls the
	// network. Default 1024.
	SubQueue int
	// PublishWait is how long Publish may wait for room in a full peer
	// queue before that peer's backpressure policy applies. Default 0:
	// never wait (a stalled peer cannot slow the publisher). Load
	// generators that must not lose messages set it.
	PublishWait time.Duration
	// DedupeWindow is how many recent sequence numbers per origin a
	// forwarding node remembers. Default 4096.
	DedupeWindow int
	// StatusQueue is the capacity of the Status channel; when full, new
	// status events are dropped and counted. Default 256.
	StatusQueue int
	// MaxStores bounds the stores (masters, clones and frontends) one node
	// attaches; past it Attach* and StoreFrontend fail with ErrTooManyStores.
	// Default 256.
	MaxStores int
	// StoreMaxPending bounds the requests all of the node's store handles
	// together have sent to remote masters and not yet had answered (each
	// handle has its own StoreOptions.MaxPending too). Past it Store.Do
	// refuses at once with frame.CodeLimit. A master node answers every
	// handle of this node through one peer queue (netio QueueFrames,
	// default 8192), where the drop_oldest policy would otherwise discard
	// answers when several handles pipeline at once. Default
	// DefaultStoreMaxPending (4096).
	StoreMaxPending int
	// Logs configures log streams: batching, shipping to loggers, local
	// files. Defaults by role, as Zeek (see LogOptions).
	Logs LogOptions
	// Net configures the transport (limits, timeouts, queues, policy).
	// Its Name, Role, Forwarding, Logger and ID are set from this struct.
	Net netio.Options
	// Logger for the node. Default slog.Default().
	Logger *slog.Logger
}

// Defaults.
const (
	DefaultLocalPrefix  = "weir/local/"
	DefaultSubQueue     = 1024
	DefaultDedupeWindow = 4096
	DefaultStatusQueue  = 256
	DefaultMaxStores    = 256
)

// EnsureDefaults fills zero fields.
func (o *Options) EnsureDefaults() {
	if o.Name == "" {
		o.Name = "weir"
	}
	if o.LocalPrefix == "" {
		o.LocalPrefix = DefaultLocalPrefix
	}
	if o.SubQueue == 0 {
		o.SubQueue = DefaultSubQueue
	}
	if o.DedupeWindow == 0 {
		o.DedupeWindow = DefaultDedupeWindow
	}
	if o.StatusQueue == 0 {
		o.StatusQueue = DefaultStatusQueue
	}
	if o.MaxStores == 0 {
		o.MaxStores = DefaultMaxStores
	}
	if o.StoreMaxPending == 0 {
		o.StoreMaxPending = DefaultStoreMaxPending
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	o.Net.Name, o.Net.Role, o.Net.Forwarding = o.Name, o.Role, o.Forwarding
	if o.Net.Logger == nil {
		o.Net.Logger = o.Logger
	}
	o.Net.EnsureDefaults()
	o.Logs.EnsureDefaults()
}

// Validate reports options that cannot work.
func (o *Options) Validate() error {
	var errs []error
	if o.SubQueue < 1 || o.StatusQueue < 1 {
		errs = append(errs, errors.New("node: SubQueue and StatusQueue must be positive"))
	}
	if o.DedupeWindow < 64 || o.DedupeWindow > 1<<20 {
		errs = append(errs, fmt.Errorf("node: DedupeWindow %d out of range [64, 1048576]", o.DedupeWindow))
	}
	if o.MaxStores < 1 {
		errs = append(errs, fmt.Errorf("node: MaxStores %d < 1", o.MaxStores))
	}
	if o.StoreMaxPending < 1 {
		errs = append(errs, fmt.Errorf("node: StoreMaxPending %d < 1", o.StoreMaxPending))
	}
	if o.PublishWait < 0 {
		errs = append(errs, errors.New("node: negative PublishWait"))
	}
	if strings.TrimSpace(o.LocalPrefix) == "" {
		errs = append(errs, errors.New("node: empty LocalPrefix"))
	}
	errs = append(errs, o.Net.Validate(), o.Logs.Validate())
	return errors.Join(errs...)
}
