package bench

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Scenario is a benchmark topology.
type Scenario string

// Scenarios.
const (
	// Direct: each publisher peers with each subscriber; no relay.
	Direct Scenario = "direct"
	// Relay: publishers → one forwarding relay node → subscribers. With
	// one subscriber this is the equivalent of NATS's pub → server → sub.
	Relay Scenario = "relay"
	// Fanout is Relay with several subscribers, each receiving every
	// message.
	Fanout Scenario = "fanout"
)

// ParseScenario parses "direct", "relay" or "fanout".
func ParseScenario(s string) (Scenario, error) {
	switch sc := Scenario(s); sc {
	case Direct, Relay, Fanout:
		return sc, nil
	}
	return "", fmt.Errorf("bench: unknown scenario %q (want direct, relay or fanout)", s)
}

// Topic is the topic benchmark messages are published on; subscribers
// subscribe to it as a prefix.
const Topic = "weir-bench/pubsub"

// AckTopic is the topic subscribers acknowledge publisher pub's messages
// on; the publisher subscribes to it. The trailing slash keeps publisher 1
// from matching publisher 10's acks.
func AckTopic(pub int) string { return "weir-bench/ack/" + strconv.Itoa(pub) + "/" }

// Config describes a benchmark run. Zero fields take the defaults in their
// comments (EnsureDefaults).
type Config struct {
	// Scenario to run. Default Direct.
	Scenario Scenario
	// Size of each message's payload in bytes, at least PayloadHeaderSize.
	// Default 64.
	Size int
	// Msgs is the number of messages published in total, split evenly
	// over the publishers; every subscriber expects all of them. Default
	// 1,000,000.
	Msgs uint64
	// Pubs is the number of publishers. Default 1.
	Pubs int
	// Subs is the number of subscribers. Default 1 (Fanout: 4).
	Subs int
	// Rate is the total publish rate in msgs/s, split over the
	// publishers; 0 publishes as fast as the path takes (publishers wait
	// for queue room instead of dropping).
	Rate float64

	// Window bounds each publisher's messages in flight: it does not send
	// message i until every subscriber has acknowledged all but Window of
	// the messages before it. weir's forwarding does not push back on a
	// publisher (a relay's full peer queue drops, as in Zeek), so without
	// this a publisher faster than a subscriber loses messages at the
	// relay. -1 turns flow control off. Default: about
	// DefaultWindowBytes of messages, at most DefaultWindow — a deep
	// pipeline of big messages only queues (netio's socket high-water mark
	// then stalls a peer until the next housekeeping tick).
	Window int
	// AckEvery is how many messages a subscriber receives from a publisher
	// between acknowledgments (none when Window is -1). Default Window/4.
	AckEvery int

	// Loops is the number of event loops per node engine. Default 0:
	// netio.DefaultLoops (half of GOMAXPROCS).
	Loops int
	// QueueFrames bounds each peer's outbound queue in frames; keep it
	// above Pubs × Window. Default 65536 (netio's own default, 8192, is
	// Zeek's and too small for Window).
	QueueFrames int
	// PublishWait is how long a publisher waits for room in a full peer
	// queue before that message is dropped. Default 10s.
	PublishWait time.Duration

	// Timeout bounds the whole run. Default 5m.
	Timeout time.Duration
	// Idle ends a run in which every publisher has finished but no
	// subscriber made progress for this long (the rest is lost). Default 3s.
	Idle time.Duration
	// Progress is how often subscribers report their count. Default 100ms.
	Progress time.Duration
	// CPUProfile, when set, makes every child write a CPU profile to
	// CPUProfile-<role><id>.pprof.
	CPUProfile string
}

// Defaults.
const (
	DefaultSize        = 64
	DefaultMsgs        = 1_000_000
	DefaultFanoutSubs  = 4
	DefaultWindow      = 8192
	DefaultWindowBytes = 1 << 20
	DefaultQueueFrames = 65536
	DefaultPublishWait = 10 * time.Second
	DefaultTimeout     = 5 * time.Minute
	DefaultIdle        = 3 * time.Second
	DefaultProgress    = 100 * time.Millisecond
)

// EnsureDefaults fills zero fields.
func (c *Config) EnsureDefaults() {
	if c.Scenario == "" {
		c.Scenario = Direct
	}
	if c.Size == 0 {
		c.Size = DefaultSize
	}
	if c.Msgs == 0 {
		c.Msgs = DefaultMsgs
	}
	if c.Pubs == 0 {
		c.Pubs = 1
	}
	if c.Subs == 0 {
		c.Subs = 1
		if c.Scenario == Fanout {
			c.Subs = DefaultFanoutSubs
		}
	}
	if c.Window == 0 {
		c.Window = min(DefaultWindow, max(64, DefaultWindowBytes/(c.Size+40))) // ~40 B of frame overhead
	}
	if c.AckEvery == 0 {
		c.AckEvery = max(1, c.Window/4) // 1 when off: then unused
	}
	if c.QueueFrames == 0 {
		c.QueueFrames = DefaultQueueFrames
	}
	if c.PublishWait == 0 {
		c.PublishWait = DefaultPublishWait
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Idle == 0 {
		c.Idle = DefaultIdle
	}
	if c.Progress == 0 {
		c.Progress = DefaultProgress
	}
}

// Validate reports configurations that cannot run.
func (c *Config) Validate() error {
	var errs []error
	if _, err := ParseScenario(string(c.Scenario)); err != nil {
		errs = append(errs, err)
	}
	if c.Size < PayloadHeaderSize || c.Size > 16<<20-1024 {
		errs = append(errs, fmt.Errorf("bench: size %d out of range [%d, 16 MiB - 1 KiB]", c.Size, PayloadHeaderSize))
	}
	if c.Pubs < 1 || c.Pubs > 64 || c.Subs < 1 || c.Subs > 64 {
		errs = append(errs, errors.New("bench: pubs and subs must be in [1, 64]"))
	}
	if c.Msgs < uint64(c.Pubs) || c.Msgs > 1<<34 {
		errs = append(errs, fmt.Errorf("bench: msgs %d out of range [pubs, 2^34]", c.Msgs))
	}
	if c.Rate < 0 {
		errs = append(errs, errors.New("bench: negative rate"))
	}
	if c.Window < -1 || c.AckEvery < 1 {
		errs = append(errs, errors.New("bench: window must be -1 (off) or positive, and AckEvery positive"))
	}
	if c.Loops < 0 || c.QueueFrames < 0 || c.PublishWait < 0 || c.Timeout < 0 || c.Idle < 0 || c.Progress < 0 {
		errs = append(errs, errors.New("bench: negative loops, queue or duration"))
	}
	return errors.Join(errs...)
}

// PubShare returns how many messages publisher id sends: Msgs split evenly,
// the remainder going to the lowest ids.
func (c *Config) PubShare(id int) uint64 {
	n := c.Msgs / uint64(c.Pubs)
	if uint64(id) < c.Msgs%uint64(c.Pubs) {
		n++
	}
	return n
}

// Role is what a benchmark process does.
type Role string

// Roles.
const (
	RolePub   Role = "pub"
	RoleSub   Role = "sub"
	RoleRelay Role = "relay"
)

// ParseRole parses "pub", "sub" or "relay".
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RolePub, RoleSub, RoleRelay:
		return r, nil
	}
	return "", fmt.Errorf("bench: unknown role %q (want pub, sub or relay)", s)
}

// RoleSpec tells one process (or goroutine) which role to play.
type RoleSpec struct {
	Role Role
	// ID is the publisher id (0..Pubs-1) or subscriber index.
	ID int
	// Listen is the address to accept peers on ("" for none); Connect the
	// addresses to peer with.
	Listen  string
	Connect []string
	// CPUProfile is the file to write a CPU profile to ("" for none).
	CPUProfile string
	Config
}

// Validate reports a spec that cannot run.
func (s *RoleSpec) Validate() error {
	if _, err := ParseRole(string(s.Role)); err != nil {
		return err
	}
	if s.Role == RolePub && (s.ID < 0 || s.ID >= s.Pubs) {
		return fmt.Errorf("bench: publisher id %d out of range [0, %d)", s.ID, s.Pubs)
	}
	if s.Listen == "" && len(s.Connect) == 0 {
		return errors.New("bench: a role needs --listen or --connect")
	}
	return s.Config.Validate()
}
