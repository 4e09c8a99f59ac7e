// Package frame is weir's wire format: the frame header, the message kinds,
// the typed values of the Broker data model, and the limits that make
// decoding hostile input safe. The specification is docs/PROTOCOL.md; this
// package and that document must agree, and the document wins.
//
// # Frames
//
// Every message is one frame: a fixed 12-byte little-endian header, an
// optional 16-byte origin stamp, the topic, the body.
//
//	offset  size  field
//	0       4     length     u32, the whole frame, header included
//	4       1     kind       Kind
//	5       1     flags      Flags (FlagStamped)
//	6       1     ttl        hop budget; relays decrement it in place (SetTTL)
//	7       1     magic      0xB7
//	8       2     topic_len  u16
//	10      2     reserved   zero
//	12      16    stamp      origin u64, seq u64 — only if FlagStamped
//	12|28   n     topic
//	...           body       kind-specific (docs/PROTOCOL.md §5)
//
// A relay routes a frame by reading only the header and the topic: Scan
// validates those and returns a Frame view; Frame.Bytes is what gets
// forwarded. The body is decoded only by a local consumer.
//
// # Values
//
// A value is a one-byte type tag and a body: fixed-width little-endian
// scalars, uvarint-length strings, 16-byte addresses, and containers (set,
// table, vector) written as a uvarint element count, a u32 body length and
// the elements. Sets and tables are sorted by the total order (Compare) and
// duplicate-free, so each value has exactly one encoding. Value is the
// in-memory form for the public API; View is a validated, zero-copy view
// into received bytes, walked with Iter. The JSON form (AppendJSON,
// ParseJSON) follows Broker's JSON v1 data encoding.
//
// # Encoding and decoding
//
// Encoders append to a caller's slice (AppendX(dst, ...) []byte) and do not
// allocate when dst has room. Decoders return views into their input
// (DecodeX(body) (X, error)): scalars, strings and headers are read in
// place, containers are validated once and then iterated. Views are valid
// as long as the input is — for netio, only inside the traffic callback.
//
// # Limits
//
// Limits bounds frame size (default 16 MiB), topic length (65535) and value
// nesting (32). Element counts are checked against the bytes remaining
// before any loop runs, so a decoder never allocates on behalf of the
// input and never runs longer than the input is. Every error is a sentinel
// (ErrFrameTooLarge, ErrBadValue, ...) wrapped with the field that failed.
//
// # Threading
//
// Everything here is a pure function or an immutable value; all of it is
// safe for concurrent use.
package frame
