package frame

import (
	"encoding/binary"
	"fmt"
)

// Codec is a log batch's compression codec.
type Codec uint8

// Codecs (wire values).
const (
	CodecNone Codec = 0
	CodecS2   Codec = 1
	CodecZstd Codec = 2

	codecMax = CodecZstd
)

var codecNames = [...]string{"none", "s2", "zstd"}

func (c Codec) String() string {
	if c <= codecMax {
		return codecNames[c]
	}
	return fmt.Sprintf("codec(%d)", uint8(c))
}

// LogBatch is a compressed batch of log records of one stream.
type LogBatch struct {
	Origin  NodeID // the node that wrote the records (dedupe key with Stream, Seq)
	Stream  []byte
	Codec   Codec
	Records uint32 // records in the batch
	Seq     uint64 // per (Origin, Stream) batch sequence, from 1
	RawLen  uint32 // uncompressed payload size, bounds decompression
	Payload []byte // the compressed records: the rest of the body
}

// AppendLogBatch appends a complete log-batch frame.
func AppendLogBatch(dst []byte, h Header, topic []byte, m LogBatch) []byte {
	start := len(dst)
	h.Kind = KindLogBatch
	dst = Begin(dst, h, topic)
	dst = append(dst, m.Origin[:]...)
	dst = appendStr(dst, m.Stream)
	dst = append(dst, byte(m.Codec))
	dst = binary.LittleEndian.AppendUint32(dst, m.Records)
	dst = binary.LittleEndian.AppendUint64(dst, m.Seq)
	dst = binary.LittleEndian.AppendUint32(dst, m.RawLen)
	return End(append(dst, m.Payload...), start)
}

// DecodeLogBatch decodes a log-batch body. The payload is not decompressed.
func DecodeLogBatch(body []byte) (m LogBatch, err error) {
	r := reader{b: body}
	copy(m.Origin[:], r.take(nodeIDSize, "log_batch.origin"))
	m.Stream = r.str("log_batch.stream", MaxNameLen)
	m.Codec = Codec(r.u8("log_batch.codec"))
	m.Records = r.u32("log_batch.records")
	m.Seq = r.u64("log_batch.seq")
	m.RawLen = r.u32("log_batch.raw_len")
	if r.err != nil {
		return LogBatch{}, r.err
	}
	m.Payload = r.b
	if m.Codec > codecMax {
		return LogBatch{}, fmt.Errorf("log_batch.codec: %w: %d", ErrBadValue, m.Codec)
	}
	if m.Codec == CodecNone && uint64(m.RawLen) != uint64(len(m.Payload)) {
		return LogBatch{}, fmt.Errorf("log_batch.raw_len: %w: %d for %d uncompressed bytes", ErrBadValue, m.RawLen, len(m.Payload))
	}
	return m, nil
}

// LogAck acknowledges (Status 0) or rejects (an error code) one batch.
type LogAck struct {
	Stream []byte
	Seq    uint64
	Status ErrCode
}

// AppendLogAck appends a complete log-ack frame.
func AppendLogAck(dst []byte, m LogAck) []byte {
	start := len(dst)
	dst = Begin(dst, Header{Kind: KindLogAck}, nil)
	dst = appendStr(dst, m.Stream)
	dst = binary.LittleEndian.AppendUint64(dst, m.Seq)
	return End(binary.LittleEndian.AppendUint16(dst, uint16(m.Status)), start)
}

// DecodeLogAck decodes a log-ack body.
func DecodeLogAck(body []byte) (m LogAck, err error) {
	r := reader{b: body}
	m.Stream = r.str("log_ack.stream", MaxNameLen)
	m.Seq = r.u64("log_ack.seq")
	m.Status = ErrCode(r.u16("log_ack.status"))
	return m, r.end()
}
