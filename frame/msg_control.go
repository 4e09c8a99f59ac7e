package frame

import (
	"encoding/binary"
	"fmt"
)

// ErrCode classifies an error, bye or rejection (docs/PROTOCOL.md §5.6).
type ErrCode uint16

// Error codes (wire values).
const (
	CodeOK           ErrCode = 0
	CodeProtocol     ErrCode = 1  // malformed frame or body, unexpected kind
	CodeVersion      ErrCode = 2  // no common protocol version
	CodeAuth         ErrCode = 3  // missing or wrong auth proof, certificate refused
	CodeLimit        ErrCode = 4  // a limit was hit (frame size, subscriptions, peers ...)
	CodeDuplicate    ErrCode = 5  // a connection between these nodes exists already
	CodeSelf         ErrCode = 6  // the peer is this node
	CodeUnknownStore ErrCode = 7  // no such store
	CodeBadRequest   ErrCode = 8  // a request that cannot be applied (wrong type for add ...)
	CodeNotMaster    ErrCode = 9  // a master for this store exists elsewhere
	CodeShutdown     ErrCode = 10 // the node is shutting down
	CodeTimeout      ErrCode = 11 // handshake or keepalive timeout
	CodeInternal     ErrCode = 12
	CodeCorrupt      ErrCode = 13 // a payload failed to decompress or decode
	CodeUnpeer       ErrCode = 14 // the peer was removed by its operator

	codeMax = CodeUnpeer
)

var codeNames = [...]string{"ok", "protocol", "version", "auth", "limit", "duplicate", "self",
	"unknown-store", "bad-request", "not-master", "shutdown", "timeout", "internal", "corrupt", "unpeer"}

// MarshalText names the code (for JSON map keys and logs).
func (c ErrCode) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

func (c ErrCode) String() string {
	if c <= codeMax {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", uint16(c))
}

// Ping and Pong carry a token and the sender's clock (ns since the epoch);
// a pong echoes the ping's fields.
type Ping struct {
	Token uint64
	Time  int64
}

// AppendPing appends a ping (kind KindPing) or pong (KindPong) frame.
func AppendPing(dst []byte, kind Kind, m Ping) []byte {
	start := len(dst)
	dst = Begin(dst, Header{Kind: kind}, nil)
	dst = binary.LittleEndian.AppendUint64(dst, m.Token)
	return End(binary.LittleEndian.AppendUint64(dst, uint64(m.Time)), start)
}

// DecodePing decodes a ping or pong body.
func DecodePing(body []byte) (m Ping, err error) {
	r := reader{b: body}
	m.Token = r.u64("ping.token")
	m.Time = int64(r.u64("ping.time"))
	return m, r.end()
}

// Reason is the body of bye and error frames: a code and a text.
type Reason struct {
	Code ErrCode
	Text []byte
}

// AppendReason appends a bye (KindBye) or error (KindError) frame. Texts
// longer than MaxTextLen are cut.
func AppendReason(dst []byte, kind Kind, code ErrCode, text string) []byte {
	if len(text) > MaxTextLen {
		text = text[:MaxTextLen]
	}
	start := len(dst)
	dst = Begin(dst, Header{Kind: kind}, nil)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(code))
	dst = binary.AppendUvarint(dst, uint64(len(text)))
	return End(append(dst, text...), start)
}

// DecodeReason decodes a bye or error body.
func DecodeReason(body []byte) (m Reason, err error) {
	r := reader{b: body}
	m.Code = ErrCode(r.u16("reason.code"))
	m.Text = r.str("reason.text", MaxTextLen)
	return m, r.end()
}
