package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// PayloadHeaderSize is the size of the header every benchmark payload
// starts with; it is also the smallest payload size (--size).
const PayloadHeaderSize = 24

// payloadMagic is the first byte of every benchmark payload. It lets a
// subscriber count stray messages on the benchmark topic as bad rather than
// misread them.
const payloadMagic = 0xB5

// PayloadKind says what a benchmark message is for.
type PayloadKind uint8

const (
	// KindData is a measured message: counted, sequence-checked, timed.
	KindData PayloadKind = 1
	// KindProbe is a readiness probe: a publisher sends probes until every
	// subscriber has acknowledged one, which proves the subscription
	// filters are in place along the whole path, both ways. Probes are not
	// measured.
	KindProbe PayloadKind = 2
	// KindAck goes from a subscriber back to a publisher (on AckTopic): the
	// number of distinct messages it has received from that publisher. It
	// answers every probe, and every Config.AckEvery data messages.
	KindAck PayloadKind = 3
)

// Errors returned by DecodePayload.
var (
	ErrShortPayload = errors.New("bench: payload shorter than its header")
	ErrBadPayload   = errors.New("bench: not a benchmark payload")
)

// Payload is the header of a benchmark message. The byte layout, little
// endian, padded with filler up to the message size:
//
//	| offset | size | field                                   |
//	|--------|------|-----------------------------------------|
//	| 0      | 1    | magic 0xB5                              |
//	| 1      | 1    | kind (1 data, 2 probe, 3 ack)            |
//	| 2      | 2    | subscriber id (u16; acks only, else 0)   |
//	| 4      | 4    | publisher id (u32)                       |
//	| 8      | 8    | sequence (u64), 0-based per publisher;   |
//	|        |      | for an ack: messages received            |
//	| 16     | 8    | send time (i64, ns since the Unix epoch) |
type Payload struct {
	Kind   PayloadKind
	Sub    uint16
	Pub    uint32
	Seq    uint64
	SentNs int64
}

// PutPayload writes p's header into b[:PayloadHeaderSize] and leaves the
// rest of b alone, so a publisher fills its buffer once and rewrites only
// the header per message. b must be at least PayloadHeaderSize long.
//
// Hot path: called once per published message; no allocation.
func PutPayload(b []byte, p Payload) {
	_ = b[PayloadHeaderSize-1]
	b[0], b[1] = payloadMagic, byte(p.Kind)
	binary.LittleEndian.PutUint16(b[2:], p.Sub)
	binary.LittleEndian.PutUint32(b[4:], p.Pub)
	binary.LittleEndian.PutUint64(b[8:], p.Seq)
	binary.LittleEndian.PutUint64(b[16:], uint64(p.SentNs))
}

// AppendPayload appends a payload of exactly size bytes (at least
// PayloadHeaderSize): p's header, then deterministic filler.
func AppendPayload(dst []byte, p Payload, size int) []byte {
	if size < PayloadHeaderSize {
		panic(fmt.Sprintf("BUG: bench: payload size %d below the header size %d", size, PayloadHeaderSize))
	}
	start := len(dst)
	dst = append(dst, make([]byte, size)...)
	PutPayload(dst[start:], p)
	for i := start + PayloadHeaderSize; i < len(dst); i++ {
		dst[i] = byte('a' + (i-start)%26)
	}
	return dst
}

// DecodePayload reads the header of a benchmark payload.
//
// Hot path: called once per received message; no allocation.
func DecodePayload(b []byte) (Payload, error) {
	if len(b) < PayloadHeaderSize {
		return Payload{}, ErrShortPayload
	}
	k, sub := PayloadKind(b[1]), binary.LittleEndian.Uint16(b[2:])
	if b[0] != payloadMagic || k < KindData || k > KindAck || (k != KindAck && sub != 0) {
		return Payload{}, ErrBadPayload
	}
	return Payload{
		Kind:   k,
		Sub:    sub,
		Pub:    binary.LittleEndian.Uint32(b[4:]),
		Seq:    binary.LittleEndian.Uint64(b[8:]),
		SentNs: int64(binary.LittleEndian.Uint64(b[16:])),
	}, nil
}
