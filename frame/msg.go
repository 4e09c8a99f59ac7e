package frame

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
)

// Field limits inside message bodies (docs/PROTOCOL.md §5).
const (
	MaxNameLen   = 255   // node names, event names, stream and store names
	MaxAuthLen   = 1024  // opaque auth material in hello/welcome/auth
	MaxTextLen   = 4096  // error and bye texts
	maxPrefixLen = 65535 // a subscription prefix is at most a topic
	nodeIDSize   = 16
)

// NodeID identifies a node for its lifetime (random, 16 bytes).
type NodeID [nodeIDSize]byte

func (id NodeID) String() string { return fmt.Sprintf("%x", id[:]) }

// Role is a node's cluster role.
type Role uint8

// Roles (wire values).
const (
	RoleNone    Role = 0 // standalone node
	RoleManager Role = 1
	RoleLogger  Role = 2
	RoleProxy   Role = 3
	RoleWorker  Role = 4
	RoleClient  Role = 5 // a command-line or embedded client, not a cluster member

	roleMax = RoleClient
)

var roleNames = [...]string{"none", "manager", "logger", "proxy", "worker", "client"}

func (r Role) String() string {
	if r <= roleMax {
		return roleNames[r]
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// ParseRole returns the role with the given name.
func ParseRole(s string) (Role, bool) {
	for i, n := range roleNames {
		if n == s {
			return Role(i), true
		}
	}
	return 0, false
}

// Features are capability bits in the handshake.
type Features uint8

const (
	// FeatForwarding: the node relays frames between its peers.
	FeatForwarding Features = 1 << 0
	// FeatAuth: the sender requires the shared-secret proof (§6.3).
	FeatAuth Features = 1 << 1

	featKnown = FeatForwarding | FeatAuth
)

// Hello is the dialer's first frame.
type Hello struct {
	MinVersion, MaxVersion uint16
	ID                     NodeID
	Role                   Role
	Features               Features
	Name                   []byte
	Auth                   []byte // the dialer's nonce when auth is used
	Filter                 StrList
}

// AppendHello appends a complete hello frame.
func AppendHello(dst []byte, m Hello) []byte {
	start := len(dst)
	dst = Begin(dst, Header{Kind: KindHello}, nil)
	dst = binary.LittleEndian.AppendUint16(dst, m.MinVersion)
	dst = binary.LittleEndian.AppendUint16(dst, m.MaxVersion)
	dst = append(dst, m.ID[:]...)
	dst = append(dst, byte(m.Role), byte(m.Features))
	dst = appendStr(dst, m.Name)
	dst = appendStr(dst, m.Auth)
	dst = appendStrList(dst, m.Filter)
	return End(dst, start)
}

// DecodeHello decodes a hello body.
func DecodeHello(body []byte, lim *Limits) (m Hello, err error) {
	r := reader{b: body, lim: lim}
	m.MinVersion = r.u16("hello.min_version")
	m.MaxVersion = r.u16("hello.max_version")
	copy(m.ID[:], r.take(nodeIDSize, "hello.id"))
	m.Role = Role(r.u8("hello.role"))
	m.Features = Features(r.u8("hello.features"))
	m.Name = r.str("hello.name", MaxNameLen)
	m.Auth = r.str("hello.auth", MaxAuthLen)
	m.Filter = r.strList("hello.filter", maxPrefixLen)
	if err = r.end(); err == nil {
		err = checkPeerInfo("hello", m.Role, m.Features, m.MinVersion > m.MaxVersion)
	}
	return m, err
}

func checkPeerInfo(what string, role Role, f Features, badVersions bool) error {
	switch {
	case role > roleMax:
		return fmt.Errorf("%s.role: %w: %d", what, ErrBadValue, role)
	case f&^featKnown != 0:
		return fmt.Errorf("%s.features: %w", what, ErrReserved)
	case badVersions:
		return fmt.Errorf("%s: %w: min_version > max_version", what, ErrBadValue)
	}
	return nil
}

// Welcome is the listener's answer to an acceptable hello.
type Welcome struct {
	Version  uint16 // the version chosen for the connection
	ID       NodeID
	Role     Role
	Features Features
	Name     []byte
	Auth     []byte // the listener's nonce and proof when auth is used
	Filter   StrList
}

// AppendWelcome appends a complete welcome frame.
func AppendWelcome(dst []byte, m Welcome) []byte {
	start := len(dst)
	dst = Begin(dst, Header{Kind: KindWelcome}, nil)
	dst = binary.LittleEndian.AppendUint16(dst, m.Version)
	dst = append(dst, m.ID[:]...)
	dst = append(dst, byte(m.Role), byte(m.Features))
	dst = appendStr(dst, m.Name)
	dst = appendStr(dst, m.Auth)
	dst = appendStrList(dst, m.Filter)
	return End(dst, start)
}

// DecodeWelcome decodes a welcome body.
func DecodeWelcome(body []byte, lim *Limits) (m Welcome, err error) {
	r := reader{b: body, lim: lim}
	m.Version = r.u16("welcome.version")
	copy(m.ID[:], r.take(nodeIDSize, "welcome.id"))
	m.Role = Role(r.u8("welcome.role"))
	m.Features = Features(r.u8("welcome.features"))
	m.Name = r.str("welcome.name", MaxNameLen)
	m.Auth = r.str("welcome.auth", MaxAuthLen)
	m.Filter = r.strList("welcome.filter", maxPrefixLen)
	if err = r.end(); err == nil {
		err = checkPeerInfo("welcome", m.Role, m.Features, false)
	}
	return m, err
}

// AppendAuth appends an auth frame carrying the dialer's proof.
func AppendAuth(dst []byte, proof []byte) []byte {
	start := len(dst)
	dst = Begin(dst, Header{Kind: KindAuth}, nil)
	return End(appendStr(dst, proof), start)
}

// DecodeAuth decodes an auth body and returns the proof.
func DecodeAuth(body []byte) ([]byte, error) {
	r := reader{b: body}
	p := r.str("auth.proof", MaxAuthLen)
	return p, r.end()
}

// SubOp is what a subscribe frame does to the sender's filter.
type SubOp uint8

// Subscription operations.
const (
	SubReplace SubOp = 0 // the list is the whole new filter
	SubAdd     SubOp = 1 // add these prefixes
	SubRemove  SubOp = 2 // remove these prefixes
)

// Subscribe is a subscription-filter update.
type Subscribe struct {
	Op       SubOp
	Prefixes StrList
}

// AppendSubscribe appends a complete subscribe frame.
func AppendSubscribe(dst []byte, m Subscribe) []byte {
	start := len(dst)
	dst = Begin(dst, Header{Kind: KindSubscribe}, nil)
	dst = append(dst, byte(m.Op))
	return End(appendStrList(dst, m.Prefixes), start)
}

// DecodeSubscribe decodes a subscribe body.
func DecodeSubscribe(body []byte) (m Subscribe, err error) {
	r := reader{b: body}
	m.Op = SubOp(r.u8("subscribe.op"))
	m.Prefixes = r.strList("subscribe.prefixes", maxPrefixLen)
	if err = r.end(); err == nil && m.Op > SubRemove {
		err = fmt.Errorf("subscribe.op: %w: %d", ErrBadValue, m.Op)
	}
	return m, err
}

// AppendData appends a complete data frame carrying one value.
func AppendData(dst []byte, h Header, topic []byte, v Value) []byte {
	start := len(dst)
	h.Kind = KindData
	dst = Begin(dst, h, topic)
	return End(AppendValue(dst, v), start)
}

// AppendDataString appends a data frame whose value is the string payload,
// without building a Value.
//
// Hot path: the publish path. It sizes the frame once, writes the header
// with two stores and copies topic and payload; allocation-free given
// capacity in dst.
func AppendDataString(dst []byte, h Header, topic, payload []byte) []byte {
	if h.Stamped || len(topic) > 0xFFFF {
		start := len(dst)
		h.Kind = KindData
		dst = Begin(dst, h, topic)
		return End(AppendString(dst, payload), start)
	}
	nv := (bits.Len64(uint64(len(payload))|1) + 6) / 7 // uvarint length
	n := HeaderSize + len(topic) + 1 + nv + len(payload)
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	b := dst[start:]
	ttl := h.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if uint64(n) > 0xFFFFFFFF {
		n = 0xFFFFFFFF // saturate: every receiver rejects it as too large
	}
	binary.LittleEndian.PutUint64(b, uint64(uint32(n))|uint64(KindData)<<32|uint64(ttl)<<48|uint64(Magic)<<56)
	binary.LittleEndian.PutUint32(b[8:], uint32(len(topic)))
	p := HeaderSize + copy(b[HeaderSize:], topic)
	b[p] = byte(TypeString)
	p += 1 + binary.PutUvarint(b[p+1:], uint64(len(payload)))
	copy(b[p:], payload)
	return dst
}

// DecodeData decodes a data body: exactly one value.
func DecodeData(body []byte, lim *Limits) (View, error) {
	r := reader{b: body, lim: lim}
	v := r.value("data.value")
	return v, r.end()
}

// Event is an event: a name, arguments and optional metadata.
type Event struct {
	Name []byte
	Args View // a vector
	Meta View // none, or a table
}

// AppendEvent appends a complete event frame. meta may be None.
func AppendEvent(dst []byte, h Header, topic []byte, name string, args []Value, meta Value) []byte {
	start := len(dst)
	h.Kind = KindEvent
	dst = Begin(dst, h, topic)
	dst = binary.AppendUvarint(dst, uint64(len(name)))
	dst = append(dst, name...)
	dst = AppendValue(dst, Value{t: TypeVector, c: args})
	return End(AppendValue(dst, meta), start)
}

// DecodeEvent decodes an event body. Arguments are walked with Args.Iter.
//
// Hot path: subscribers decode events with it; no allocation.
func DecodeEvent(body []byte, lim *Limits) (m Event, err error) {
	r := reader{b: body, lim: lim}
	m.Name = r.str("event.name", MaxNameLen)
	m.Args = r.value("event.args")
	m.Meta = r.value("event.meta")
	if err = r.end(); err != nil {
		return Event{}, err
	}
	if m.Args.Type() != TypeVector {
		return Event{}, fmt.Errorf("event.args: %w: %s, want vector", ErrTypeMismatch, m.Args.Type())
	}
	if t := m.Meta.Type(); t != TypeNone && t != TypeTable {
		return Event{}, fmt.Errorf("event.meta: %w: %s, want table or none", ErrTypeMismatch, t)
	}
	return m, nil
}
