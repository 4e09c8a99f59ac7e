package netio

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/weirio/weir/frame"
)

// Policy says what a peer's outbound queue does when it is full.
type Policy uint8

// Overflow policies (Zeek's names).
const (
	// DropOldest discards the oldest queued frames to make room (Zeek's
	// default): a slow peer sees a gap, the rest of the node is unaffected.
	DropOldest Policy = iota
	// DropNewest discards the frame being sent.
	DropNewest
	// Disconnect closes the peer's connection with error(limit).
	Disconnect
)

var policyNames = [...]string{"drop_oldest", "drop_newest", "disconnect"}

func (p Policy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("policy(%d)", uint8(p))
}

// ParsePolicy parses "drop_oldest", "drop_newest" or "disconnect".
func ParsePolicy(s string) (Policy, error) {
	for i, n := range policyNames {
		if n == s {
			return Policy(i), nil
		}
	}
	return 0, fmt.Errorf("netio: unknown backpressure policy %q (want drop_oldest, drop_newest or disconnect)", s)
}

// Options configure an Engine. Zero fields take the defaults given in
// their comments (EnsureDefaults).
type Options struct {
	// ID is this node's id. Default: random.
	ID frame.NodeID
	// Name is this node's name, sent in the handshake. Default "weir".
	Name string
	// Role is this node's cluster role.
	Role frame.Role
	// Forwarding is advertised in the handshake (FeatForwarding).
	Forwarding bool

	// Limits bound what peers may send. Zero fields: frame's defaults.
	Limits frame.Limits
	// HandshakeTimeout: a connection that has not completed its handshake
	// by then is closed. Default 10s.
	HandshakeTimeout time.Duration
	// PingInterval: an idle established connection is pinged this often.
	// Default 2s.
	PingInterval time.Duration
	// PeerTimeout: a peer from which nothing arrived for this long is
	// declared lost. Default 10s.
	PeerTimeout time.Duration
	// RetryInitial is the first delay before redialing a lost peer (Zeek:
	// 1s); each failure doubles it, up to RetryMax, with ±20% jitter.
	RetryInitial time.Duration
	// RetryMax caps the redial delay. Default 30s.
	RetryMax time.Duration

	// QueueFrames bounds each peer's outbound queue in frames. Default 8192
	// (Zeek's cluster default).
	QueueFrames int
	// QueueBytes bounds each peer's outbound queue in bytes. Default 64 MiB.
	QueueBytes int
	// Policy applies when a peer's queue is full. Default DropOldest.
	Policy Policy
	// SocketHighWater: while this many bytes wait in the kernel-side
	// write buffer of a connection (the socket did not take them), the
	// queue is not handed over, so the bounds above apply to a stalled
	// peer. Default 4 MiB.
	SocketHighWater int

	// Loops is the number of event loops per engine. Default: GOMAXPROCS.
	Loops int
	// Tick is the housekeeping period (keepalive, handshake timeouts,
	// resuming stalled writers). Default 100ms.
	Tick time.Duration

	// Logger receives connection events. Default: slog.Default().
	Logger *slog.Logger
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// Defaults.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultPingInterval     = 2 * time.Second
	DefaultPeerTimeout      = 10 * time.Second
	DefaultRetryInitial     = time.Second
	DefaultRetryMax         = 30 * time.Second
	DefaultQueueFrames      = 8192
	DefaultQueueBytes       = 64 << 20
	DefaultSocketHighWater  = 4 << 20
	DefaultTick             = 100 * time.Millisecond
)

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.ID == (frame.NodeID{}) {
		o.ID = randomID()
	}
	if o.Name == "" {
		o.Name = "weir"
	}
	o.Limits.EnsureDefaults()
	setDur := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	setDur(&o.HandshakeTimeout, DefaultHandshakeTimeout)
	setDur(&o.PingInterval, DefaultPingInterval)
	setDur(&o.PeerTimeout, DefaultPeerTimeout)
	setDur(&o.RetryInitial, DefaultRetryInitial)
	setDur(&o.RetryMax, DefaultRetryMax)
	setDur(&o.Tick, DefaultTick)
	if o.QueueFrames == 0 {
		o.QueueFrames = DefaultQueueFrames
	}
	if o.QueueBytes == 0 {
		o.QueueBytes = DefaultQueueBytes
	}
	if o.SocketHighWater == 0 {
		o.SocketHighWater = DefaultSocketHighWater
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Validate reports options that cannot work.
func (o *Options) Validate() error {
	var errs []error
	if len(o.Name) > frame.MaxNameLen {
		errs = append(errs, fmt.Errorf("netio: Name longer than %d bytes", frame.MaxNameLen))
	}
	if err := o.Limits.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.QueueFrames < 1 || o.QueueBytes < 1 {
		errs = append(errs, errors.New("netio: QueueFrames and QueueBytes must be positive"))
	}
	if o.QueueBytes < o.Limits.MaxFrame {
		errs = append(errs, fmt.Errorf("netio: QueueBytes %d smaller than the largest frame %d", o.QueueBytes, o.Limits.MaxFrame))
	}
	if o.Policy > Disconnect {
		errs = append(errs, fmt.Errorf("netio: unknown Policy %d", o.Policy))
	}
	if o.PeerTimeout <= o.PingInterval {
		errs = append(errs, errors.New("netio: PeerTimeout must exceed PingInterval"))
	}
	if o.RetryMax < o.RetryInitial {
		errs = append(errs, errors.New("netio: RetryMax below RetryInitial"))
	}
	if o.Loops < 0 {
		errs = append(errs, errors.New("netio: negative Loops"))
	}
	return errors.Join(errs...)
}
