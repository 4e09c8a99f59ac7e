package netio

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
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
	// OnEvict, when set, is called with each frame of a kind in EvictKinds
	// that the DropOldest policy removed from a peer's queue to make room
	// for a newer one, so that its sender can fail at once what it waits
	// on instead of timing out (the node fails a store request this way).
	// It runs on the goroutine whose send evicted the frame, after the
	// queue's lock is released; fr is a copy, valid only during the call.
	// Default: none.
	OnEvict func(p *Peer, fr []byte)
	// EvictKinds selects the frame kinds OnEvict is called for; the others
	// are evicted without a copy.
	EvictKinds []frame.Kind
	// SocketHighWater: while this many bytes wait in the kernel-side
	// write buffer of a connection (the socket did not take them), the
	// queue is not handed over, so the bounds above apply to a stalled
	// peer. Default 4 MiB.
	SocketHighWater int

	// MaxPeers bounds the connections of this node, established and in
	// the handshake. An inbound connection beyond it is refused with
	// error(limit) (on the TLS listener: closed before the TLS handshake,
	// which would cost more than the refusal). Connections this node dials
	// count but are never refused: the operator asked for them. Default
	// 4096.
	MaxPeers int
	// MaxHandshakes bounds the inbound connections in the handshake (TLS
	// and weir's) at once. A new connection beyond it evicts the oldest
	// one still in its handshake, with error(limit): stalled or garbage
	// connections cannot keep a good peer out, which completes in one
	// round trip. Default 256.
	MaxHandshakes int
	// MaxHandshakeFrame bounds the frames a connection may send before its
	// handshake completes (hello, auth): what a stranger can make this node
	// buffer is MaxHandshakes × MaxHandshakeFrame, not × Limits.MaxFrame.
	// A larger frame is refused with error(limit). The hello carries the
	// peer's whole filter, which must fit. Default 4 MiB, or
	// Limits.MaxFrame if smaller.
	MaxHandshakeFrame int
	// MaxSubscriptions bounds the prefixes of a peer's filter in the
	// handshake; a larger filter is refused with error(limit). The node
	// enforces the same bound on later subscribe frames
	// (Peer.CloseLimit). Default 65536.
	MaxSubscriptions int

	// Secret, when set, is the shared secret of docs/PROTOCOL.md §6.3:
	// every connection, dialed or accepted, must prove knowledge of it
	// (HMAC-SHA256 challenge-response; the secret never crosses the wire),
	// and a peer without it is refused with error(auth) before any of its
	// frames is accepted. At least MinSecretLen bytes (LoadSecret reads it
	// from a file). Default: none.
	Secret []byte
	// TLS, when set, makes Listen serve mutual TLS (crypto/tls, a reader
	// and a writer goroutine per connection) instead of plaintext gnet,
	// and is the default for Dial (see WithTLS). Default: plaintext.
	TLS *TLSConfig

	// Loops is the number of event loops per engine (the listener's, and
	// the dialer's). Default: DefaultLoops, half of GOMAXPROCS.
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
	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultPingInterval      = 2 * time.Second
	DefaultPeerTimeout       = 10 * time.Second
	DefaultRetryInitial      = time.Second
	DefaultRetryMax          = 30 * time.Second
	DefaultQueueFrames       = 8192
	DefaultQueueBytes        = 64 << 20
	DefaultSocketHighWater   = 4 << 20
	DefaultTick              = 100 * time.Millisecond
	DefaultMaxPeers          = 4096
	DefaultMaxHandshakes     = 256
	DefaultMaxSubscriptions  = 65536
	DefaultMaxHandshakeFrame = 4 << 20
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
	if o.MaxPeers == 0 {
		o.MaxPeers = DefaultMaxPeers
	}
	if o.MaxHandshakes == 0 {
		o.MaxHandshakes = DefaultMaxHandshakes
	}
	if o.MaxSubscriptions == 0 {
		o.MaxSubscriptions = DefaultMaxSubscriptions
	}
	if o.MaxHandshakeFrame == 0 {
		o.MaxHandshakeFrame = min(DefaultMaxHandshakeFrame, o.Limits.MaxFrame)
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
	if o.MaxPeers < 1 || o.MaxHandshakes < 1 || o.MaxSubscriptions < 1 {
		errs = append(errs, errors.New("netio: MaxPeers, MaxHandshakes and MaxSubscriptions must be positive"))
	}
	if o.MaxHandshakeFrame < frame.HeaderSize || o.MaxHandshakeFrame > o.Limits.MaxFrame {
		errs = append(errs, fmt.Errorf("netio: MaxHandshakeFrame %d outside %d..Limits.MaxFrame (%d)", o.MaxHandshakeFrame, frame.HeaderSize, o.Limits.MaxFrame))
	}
	if o.Secret != nil && len(o.Secret) < MinSecretLen {
		errs = append(errs, fmt.Errorf("netio: Secret shorter than %d bytes", MinSecretLen))
	}
	if o.TLS != nil {
		if err := o.TLS.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// DefaultLoops is the default of Options.Loops: half of GOMAXPROCS, at
// least one. The other half is left to what the loops feed and are fed by:
// the goroutines that publish and handle messages, the Go runtime (GC), and
// the kernel's network stack, which on a busy node (and on loopback, where
// a sender's syscall also runs the receiver's TCP processing) takes a
// large share of the CPU. Fewer loops also put more of a relay's
// connections on one loop, where it forwards without copying or waking
// another thread (Peer.Forward). On the 2-core development VM one loop
// per engine relayed 1 KiB messages a third faster than two, 64-byte ones a
// sixth (perf/README.md).
func DefaultLoops() int { return max(1, runtime.GOMAXPROCS(0)/2) }
