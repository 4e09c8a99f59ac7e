package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Protocol constants. See docs/PROTOCOL.md §2.
const (
	// HeaderSize is the size of the fixed frame header.
	HeaderSize = 12
	// StampSize is the size of the optional origin stamp that follows the
	// header when FlagStamped is set.
	StampSize = 16
	// Magic is the fourth byte of every frame header. It identifies the
	// weir frame format and lets a receiver reject a stream that is not
	// weir (an HTTP client, random bytes) at its first frame.
	Magic = 0xB7
	// Version is the highest protocol version this package speaks;
	// MinVersion the lowest. See docs/PROTOCOL.md §6.
	Version    = 1
	MinVersion = 1
	// DefaultTTL is the hop budget a publisher puts in new frames.
	DefaultTTL = 16
)

// Header field offsets (docs/PROTOCOL.md §2).
const (
	offLength   = 0 // u32 total frame length, header included
	offKind     = 4 // u8
	offFlags    = 5 // u8
	offTTL      = 6 // u8
	offMagic    = 7 // u8
	offTopicLen = 8 // u16
	offReserved = 10
)

// Kind is the message kind in a frame header.
type Kind uint8

// Message kinds. Numbers are part of the wire format.
const (
	KindHello         Kind = 1
	KindWelcome       Kind = 2
	KindAuth          Kind = 3
	KindSubscribe     Kind = 4
	KindData          Kind = 5
	KindEvent         Kind = 6
	KindLogBatch      Kind = 7
	KindLogAck        Kind = 8
	KindStoreCmd      Kind = 9
	KindStoreAck      Kind = 10
	KindStoreNack     Kind = 11
	KindStoreSnapshot Kind = 12
	KindPing          Kind = 13
	KindPong          Kind = 14
	KindBye           Kind = 15
	KindError         Kind = 16

	kindMax = KindError
)

var kindNames = [...]string{
	KindHello: "hello", KindWelcome: "welcome", KindAuth: "auth", KindSubscribe: "subscribe",
	KindData: "data", KindEvent: "event", KindLogBatch: "log-batch", KindLogAck: "log-ack",
	KindStoreCmd: "store-cmd", KindStoreAck: "store-ack", KindStoreNack: "store-nack",
	KindStoreSnapshot: "store-snapshot", KindPing: "ping", KindPong: "pong", KindBye: "bye",
	KindError: "error",
}

// Valid reports whether k is a kind of this protocol version.
func (k Kind) Valid() bool { return k >= KindHello && k <= kindMax }

func (k Kind) String() string {
	if k.Valid() {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Flags is the flag byte of a frame header.
type Flags uint8

const (
	// FlagStamped: a 16-byte origin stamp (origin u64, sequence u64)
	// follows the header; relays use it to suppress duplicates.
	FlagStamped Flags = 1 << 0

	flagsKnown = FlagStamped
)

// Errors returned by Scan and the decoders. Callers branch on them with
// errors.Is; decoders wrap them with the field that failed.
var (
	ErrBadMagic        = errors.New("frame: bad magic byte (not a weir stream)")
	ErrFrameTooLarge   = errors.New("frame: frame exceeds size limit")
	ErrFrameTooShort   = errors.New("frame: length shorter than header and topic")
	ErrTopicTooLong    = errors.New("frame: topic exceeds length limit")
	ErrUnknownKind     = errors.New("frame: unknown message kind")
	ErrReserved        = errors.New("frame: reserved bits set")
	ErrTruncated       = errors.New("frame: truncated")
	ErrTrailingBytes   = errors.New("frame: trailing bytes after message")
	ErrTooDeep         = errors.New("frame: value nesting too deep")
	ErrBadValue        = errors.New("frame: malformed value")
	ErrNonCanonical    = errors.New("frame: non-canonical encoding")
	ErrTypeMismatch    = errors.New("frame: wrong value type")
	ErrUnsupportedType = errors.New("frame: Go type has no weir equivalent")
)

// Limits bound what a decoder accepts. The zero value means the defaults.
type Limits struct {
	// MaxFrame is the largest frame accepted, header included.
	// Default 16 MiB; at most 1 GiB.
	MaxFrame int
	// MaxTopic is the longest topic accepted. Default and maximum 65535
	// (the header's u16 topic length).
	MaxTopic int
	// MaxDepth is the deepest value nesting accepted (a scalar is depth 0,
	// a vector of scalars depth 1). Default 32.
	MaxDepth int
}

// Defaults of Limits.
const (
	DefaultMaxFrame = 16 << 20
	DefaultMaxTopic = 65535
	DefaultMaxDepth = 32
	maxMaxFrame     = 1 << 30
)

// DefaultLimits are the limits used when a nil *Limits is passed.
var defaultLimits = Limits{MaxFrame: DefaultMaxFrame, MaxTopic: DefaultMaxTopic, MaxDepth: DefaultMaxDepth}

// EnsureDefaults fills zero fields with their defaults.
func (l *Limits) EnsureDefaults() {
	if l.MaxFrame == 0 {
		l.MaxFrame = DefaultMaxFrame
	}
	if l.MaxTopic == 0 {
		l.MaxTopic = DefaultMaxTopic
	}
	if l.MaxDepth == 0 {
		l.MaxDepth = DefaultMaxDepth
	}
}

// Validate reports limits outside their allowed ranges.
func (l *Limits) Validate() error {
	switch {
	case l.MaxFrame < HeaderSize+StampSize || l.MaxFrame > maxMaxFrame:
		return fmt.Errorf("frame: MaxFrame %d out of range [%d, %d]", l.MaxFrame, HeaderSize+StampSize, maxMaxFrame)
	case l.MaxTopic < 1 || l.MaxTopic > DefaultMaxTopic:
		return fmt.Errorf("frame: MaxTopic %d out of range [1, %d]", l.MaxTopic, DefaultMaxTopic)
	case l.MaxDepth < 1 || l.MaxDepth > 1000:
		return fmt.Errorf("frame: MaxDepth %d out of range [1, 1000]", l.MaxDepth)
	}
	return nil
}

func limitsOrDefault(l *Limits) *Limits {
	if l == nil {
		return &defaultLimits
	}
	return l
}

// Frame is a view of one complete frame: header, optional stamp, topic and
// body. It aliases the buffer it was scanned from and is valid only as long
// as that buffer is (for netio: inside the traffic callback).
type Frame struct {
	b           []byte
	topic, body uint32 // offsets of the topic and the body, set by Scan
}

// Bytes returns the raw frame, header included. Relays forward exactly
// these bytes.
func (f Frame) Bytes() []byte { return f.b }

// Len returns the frame's total length in bytes.
func (f Frame) Len() int { return len(f.b) }

// Kind returns the message kind.
func (f Frame) Kind() Kind { return Kind(f.b[offKind]) }

// Flags returns the header flags.
func (f Frame) Flags() Flags { return Flags(f.b[offFlags]) }

// TTL returns the remaining hop budget.
func (f Frame) TTL() uint8 { return f.b[offTTL] }

// Stamp returns the origin stamp, if the frame carries one.
func (f Frame) Stamp() (origin, seq uint64, ok bool) {
	if f.Flags()&FlagStamped == 0 {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint64(f.b[HeaderSize:]), binary.LittleEndian.Uint64(f.b[HeaderSize+8:]), true
}

// Topic returns the topic bytes (a view).
func (f Frame) Topic() []byte { return f.b[f.topic:f.body] }

// Body returns the message body (a view).
func (f Frame) Body() []byte { return f.b[f.body:] }

// SetTTL rewrites the hop TTL of an encoded frame in place. Relays call it
// on their outbound copy; it never touches the body.
func SetTTL(frame []byte, ttl uint8) { frame[offTTL] = ttl }

// Scan looks for one complete frame at the start of buf, the bytes received
// so far. It returns the frame and need == 0, or need > 0 = how many more
// bytes are required before the next call can succeed, or an error when the
// stream is not a valid frame stream (the connection must be closed: there
// is no way to resynchronize). Only the header and topic length are
// checked; the body is not decoded. lim may be nil for the defaults.
//
// Hot path: called once per frame on the event loop's input buffer; it
// reads 12 bytes and allocates nothing.
func Scan(buf []byte, lim *Limits) (f Frame, need int, err error) {
	if len(buf) < HeaderSize {
		return Frame{}, HeaderSize - len(buf), nil
	}
	// Two wide loads read the whole header.
	h := binary.LittleEndian.Uint64(buf)
	t := binary.LittleEndian.Uint32(buf[8:])
	n := int(uint32(h))
	k, fl, magic := Kind(h>>32), Flags(h>>40), byte(h>>56)
	topicLen := int(uint16(t))
	l := limitsOrDefault(lim)
	if magic != Magic || !k.Valid() || fl&^flagsKnown != 0 || t>>16 != 0 || n > l.MaxFrame || topicLen > l.MaxTopic {
		return Frame{}, 0, scanError(magic, k, fl, t, n, topicLen, l)
	}
	start := HeaderSize + int(fl&FlagStamped)*StampSize
	body := start + topicLen
	if n < body {
		return Frame{}, 0, ErrFrameTooShort
	}
	if len(buf) < n {
		return Frame{}, n - len(buf), nil
	}
	return Frame{b: buf[:n:n], topic: uint32(start), body: uint32(body)}, 0, nil
}

// scanError names the first check Scan's combined test failed; off the hot
// path.
func scanError(magic byte, k Kind, fl Flags, t uint32, n, topicLen int, l *Limits) error {
	switch {
	case magic != Magic:
		return ErrBadMagic
	case !k.Valid():
		return ErrUnknownKind
	case fl&^flagsKnown != 0 || t>>16 != 0:
		return ErrReserved
	case n > l.MaxFrame:
		return ErrFrameTooLarge
	default:
		return ErrTopicTooLong
	}
}

// Header holds the fields a writer chooses for a new frame.
type Header struct {
	Kind Kind
	TTL  uint8 // 0 means DefaultTTL
	// Stamped adds the origin stamp (Origin, Seq) and sets FlagStamped, the
	// only flag of this protocol version.
	Stamped     bool
	Origin, Seq uint64
}

// Begin appends a frame header (with a zero length), the optional stamp and
// the topic to dst, and returns the extended slice. The caller appends the
// body and then calls End with the frame's start offset (len(dst) before
// Begin) to write the length. Topics longer than 65535 bytes are cut by the
// u16 field; callers validate topics first (CheckTopic).
func Begin(dst []byte, h Header, topic []byte) []byte {
	ttl := h.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	var fl Flags
	if h.Stamped {
		fl = FlagStamped
	}
	dst = append(dst, 0, 0, 0, 0, byte(h.Kind), byte(fl), ttl, Magic, byte(len(topic)), byte(len(topic)>>8), 0, 0)
	if h.Stamped {
		dst = binary.LittleEndian.AppendUint64(dst, h.Origin)
		dst = binary.LittleEndian.AppendUint64(dst, h.Seq)
	}
	return append(dst, topic...)
}

// End writes the length of the frame that starts at dst[start:] and
// returns dst. A frame longer than 4 GiB cannot be represented; its length
// field is saturated so that every receiver rejects it as too large.
func End(dst []byte, start int) []byte {
	n := len(dst) - start
	if uint64(n) > 0xFFFFFFFF {
		n = 0xFFFFFFFF
	}
	binary.LittleEndian.PutUint32(dst[start:], uint32(n))
	return dst
}

// CheckTopic validates a topic against the limits a sender must respect.
func CheckTopic(topic string, lim *Limits) error {
	if len(topic) > limitsOrDefault(lim).MaxTopic {
		return ErrTopicTooLong
	}
	return nil
}
