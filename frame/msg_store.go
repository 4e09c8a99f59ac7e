package frame

import (
	"encoding/binary"
	"fmt"
)

// StoreOp is a store command's operation.
type StoreOp uint8

// Store operations (wire values). Mutations carry an expiry; reads are
// answered with a store-ack whose result holds the answer.
const (
	OpPut       StoreOp = 1
	OpPutUnique StoreOp = 2 // ack result: bool, true if inserted
	OpErase     StoreOp = 3
	OpAdd       StoreOp = 4 // value: the operand; a missing key starts from the operand's zero
	OpSubtract  StoreOp = 5
	OpClear     StoreOp = 6
	OpExpire    StoreOp = 7 // master → clone: the key expired
	OpAttach    StoreOp = 8 // clone → master: send a snapshot, then updates
	OpGet       StoreOp = 9
	OpExists    StoreOp = 10
	OpKeys      StoreOp = 11
	OpGetIndex  StoreOp = 12 // value: the index/key into the container at key
	OpDetach    StoreOp = 13

	storeOpMax = OpDetach
)

var storeOpNames = [...]string{"", "put", "put_unique", "erase", "add", "subtract", "clear",
	"expire", "attach", "get", "exists", "keys", "get_index", "detach"}

func (o StoreOp) String() string {
	if o >= OpPut && o <= storeOpMax {
		return storeOpNames[o]
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// StoreCmd is a store command: a request to a master (with a request id in
// Seq) or an update on a master's replication channel (with the channel
// sequence in Seq).
type StoreCmd struct {
	Store  []byte
	Op     StoreOp
	Seq    uint64
	Key    View
	Value  View
	Expiry int64 // ns relative to the modification; 0: none
}

// AppendStoreCmd appends a complete store-cmd frame. key and val may be None.
func AppendStoreCmd(dst []byte, h Header, topic []byte, store string, op StoreOp, seq uint64, key, val Value, expiry int64) []byte {
	start := len(dst)
	h.Kind = KindStoreCmd
	dst = Begin(dst, h, topic)
	dst = binary.AppendUvarint(dst, uint64(len(store)))
	dst = append(dst, store...)
	dst = append(dst, byte(op))
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	dst = AppendValue(dst, key)
	dst = AppendValue(dst, val)
	return End(binary.LittleEndian.AppendUint64(dst, uint64(expiry)), start)
}

// DecodeStoreCmd decodes a store-cmd body.
func DecodeStoreCmd(body []byte, lim *Limits) (m StoreCmd, err error) {
	r := reader{b: body, lim: lim}
	m.Store = r.str("store_cmd.store", MaxNameLen)
	m.Op = StoreOp(r.u8("store_cmd.op"))
	m.Seq = r.u64("store_cmd.seq")
	m.Key = r.value("store_cmd.key")
	m.Value = r.value("store_cmd.value")
	m.Expiry = int64(r.u64("store_cmd.expiry"))
	if err = r.end(); err != nil {
		return StoreCmd{}, err
	}
	if m.Op < OpPut || m.Op > storeOpMax {
		return StoreCmd{}, fmt.Errorf("store_cmd.op: %w: %d", ErrBadValue, m.Op)
	}
	if m.Expiry < 0 {
		return StoreCmd{}, fmt.Errorf("store_cmd.expiry: %w: negative", ErrBadValue)
	}
	return m, nil
}

// StoreAck answers a request (Seq = its request id, Result = the answer)
// or acknowledges a replication channel cumulatively (Seq = the highest
// sequence applied, Result none).
type StoreAck struct {
	Store  []byte
	Seq    uint64
	Result View
}

// AppendStoreAck appends a complete store-ack frame.
func AppendStoreAck(dst []byte, topic []byte, store string, seq uint64, result Value) []byte {
	start := len(dst)
	dst = Begin(dst, Header{Kind: KindStoreAck}, topic)
	dst = binary.AppendUvarint(dst, uint64(len(store)))
	dst = append(dst, store...)
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	return End(AppendValue(dst, result), start)
}

// DecodeStoreAck decodes a store-ack body.
func DecodeStoreAck(body []byte, lim *Limits) (m StoreAck, err error) {
	r := reader{b: body, lim: lim}
	m.Store = r.str("store_ack.store", MaxNameLen)
	m.Seq = r.u64("store_ack.seq")
	m.Result = r.value("store_ack.result")
	return m, r.end()
}

// StoreNack reports a gap on a replication channel (Code 0: please resend
// First..Last) or a failed request (Code != 0, First = its request id).
type StoreNack struct {
	Store       []byte
	Code        ErrCode
	First, Last uint64
	Text        []byte
}

// AppendStoreNack appends a complete store-nack frame.
func AppendStoreNack(dst []byte, topic []byte, m StoreNack) []byte {
	start := len(dst)
	dst = Begin(dst, Header{Kind: KindStoreNack}, topic)
	dst = appendStr(dst, m.Store)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(m.Code))
	dst = binary.LittleEndian.AppendUint64(dst, m.First)
	dst = binary.LittleEndian.AppendUint64(dst, m.Last)
	return End(appendStr(dst, m.Text), start)
}

// DecodeStoreNack decodes a store-nack body.
func DecodeStoreNack(body []byte) (m StoreNack, err error) {
	r := reader{b: body}
	m.Store = r.str("store_nack.store", MaxNameLen)
	m.Code = ErrCode(r.u16("store_nack.code"))
	m.First = r.u64("store_nack.first")
	m.Last = r.u64("store_nack.last")
	m.Text = r.str("store_nack.text", MaxTextLen)
	if err = r.end(); err == nil && m.Code == 0 && m.First > m.Last {
		err = fmt.Errorf("store_nack: %w: first %d > last %d", ErrBadValue, m.First, m.Last)
	}
	return m, err
}

// SnapshotEntry is one key of a store snapshot.
type SnapshotEntry struct {
	Key, Value Value
	Expiry     int64 // ns remaining; 0: none
}

// StoreSnapshot is one chunk of a master's snapshot for a clone; the chunk
// with Final set ends it, and updates with sequence > Seq follow.
type StoreSnapshot struct {
	Store   []byte
	Seq     uint64
	Final   bool
	Count   int
	entries []byte
}

// AppendStoreSnapshot appends a complete store-snapshot frame.
func AppendStoreSnapshot(dst []byte, topic []byte, store string, seq uint64, final bool, entries []SnapshotEntry) []byte {
	start := len(dst)
	dst = beginStoreSnapshot(dst, topic, store, seq, final, len(entries))
	for _, e := range entries {
		dst = AppendValue(dst, e.Key)
		dst = AppendValue(dst, e.Value)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Expiry))
	}
	return End(dst, start)
}

// DecodeStoreSnapshot decodes and validates a store-snapshot body.
func DecodeStoreSnapshot(body []byte, lim *Limits) (m StoreSnapshot, err error) {
	r := reader{b: body, lim: lim}
	m.Store = r.str("store_snapshot.store", MaxNameLen)
	m.Seq = r.u64("store_snapshot.seq")
	fl := r.u8("store_snapshot.flags")
	n := r.uvarint("store_snapshot.count")
	if r.err != nil {
		return StoreSnapshot{}, r.err
	}
	if fl > 1 {
		return StoreSnapshot{}, fmt.Errorf("store_snapshot.flags: %w", ErrReserved)
	}
	if n > uint64(len(r.b))/10 { // an entry takes at least 1+1+8 bytes
		return StoreSnapshot{}, fmt.Errorf("store_snapshot.count: %w: %d entries in %d bytes", ErrBadValue, n, len(r.b))
	}
	m.entries = r.b
	for i := uint64(0); i < n; i++ {
		r.value("store_snapshot.key")
		r.value("store_snapshot.value")
		if int64(r.u64("store_snapshot.expiry")) < 0 {
			r.fail(ErrBadValue, "store_snapshot.expiry")
		}
	}
	if err = r.end(); err != nil {
		return StoreSnapshot{}, err
	}
	m.Final, m.Count = fl == 1, int(n)
	return m, nil
}

// SnapshotItem is one entry of a decoded snapshot, as views.
type SnapshotItem struct {
	Key, Value View
	Expiry     int64
}

// Entries walks the snapshot's entries: for it := range m.Entries { ... }.
func (m StoreSnapshot) Entries(yield func(SnapshotItem) bool) {
	b := m.entries
	for i := 0; i < m.Count; i++ {
		k := skip(b)
		v := skip(b[k:])
		exp := int64(binary.LittleEndian.Uint64(b[k+v:]))
		if !yield(SnapshotItem{View{b: b[:k:k]}, View{b: b[k : k+v : k+v]}, exp}) {
			return
		}
		b = b[k+v+8:]
	}
}

// StoreAnswers is an answers message: the answers to n consecutive
// requests of one node, First..First+n−1, in one store-snapshot frame on
// the node's answer topic (docs/PROTOCOL.md §5.6.1). Each entry has the
// key none, an answer as its value and the expiry 0. A master sends it
// instead of n store-ack frames.
type StoreAnswers struct {
	Store []byte
	First uint64
	Count int
	snap  StoreSnapshot
}

// AppendAnswerEntry appends the entry of one answer (result) to the
// entries of an answers message being built.
//
// Hot path: no allocation beyond dst's growth.
func AppendAnswerEntry(dst []byte, result Value) []byte {
	dst = AppendValue(dst, None)
	dst = AppendValue(dst, result)
	return binary.LittleEndian.AppendUint64(dst, 0)
}

// AppendStoreAnswers appends a complete answers frame for the requests
// first..first+n−1, whose n ≥ 1 entries were built with
// AppendAnswerEntry, back to back, in entries.
func AppendStoreAnswers(dst []byte, topic []byte, store string, first uint64, n int, entries []byte) []byte {
	start := len(dst)
	dst = beginStoreSnapshot(dst, topic, store, first, false, n)
	dst = append(dst, entries...)
	return End(dst, start)
}

// beginStoreSnapshot appends a store-snapshot frame's header and body up
// to its n entries.
func beginStoreSnapshot(dst []byte, topic []byte, store string, seq uint64, final bool, n int) []byte {
	dst = Begin(dst, Header{Kind: KindStoreSnapshot}, topic)
	dst = binary.AppendUvarint(dst, uint64(len(store)))
	dst = append(dst, store...)
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	var fl byte
	if final {
		fl = 1
	}
	dst = append(dst, fl)
	return binary.AppendUvarint(dst, uint64(n))
}

// DecodeStoreAnswers decodes and validates a store-snapshot body as an
// answers message: at least one entry, FINAL clear, every key none and
// every expiry 0, and no request id past 2^64−1.
func DecodeStoreAnswers(body []byte, lim *Limits) (StoreAnswers, error) {
	s, err := DecodeStoreSnapshot(body, lim)
	if err != nil {
		return StoreAnswers{}, err
	}
	switch {
	case s.Final:
		return StoreAnswers{}, fmt.Errorf("store_answers.flags: %w: FINAL", ErrBadValue)
	case s.Count < 1:
		return StoreAnswers{}, fmt.Errorf("store_answers.count: %w: no answer", ErrBadValue)
	case s.Seq == 0 || s.Seq+uint64(s.Count-1) < s.Seq:
		return StoreAnswers{}, fmt.Errorf("store_answers.seq: %w: %d answers from %d", ErrBadValue, s.Count, s.Seq)
	}
	for it := range s.Entries {
		if it.Key.Type() != TypeNone || it.Expiry != 0 {
			return StoreAnswers{}, fmt.Errorf("store_answers: %w: an entry with a key or an expiry", ErrBadValue)
		}
	}
	return StoreAnswers{Store: s.Store, First: s.Seq, Count: s.Count, snap: s}, nil
}

// Results walks the answers in request order: for i, v := range
// m.Results { ... } gives the answer to request First+i.
func (m StoreAnswers) Results(yield func(int, View) bool) {
	i := 0
	for it := range m.snap.Entries {
		if !yield(i, it.Value) {
			return
		}
		i++
	}
}
