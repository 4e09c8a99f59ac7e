package repl

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/weirio/weir/frame"
)

// The mapping of messages to weir frames (the table in doc.go). Every
// message carries a "tag": a vector of counts whose first element is the
// MsgKind, holding what the frame's own fields cannot (identities, epoch,
// sync nonce, chunk index, flags).

// Tag lengths, kind element included.
const (
	tagAttach   = 4 // kind, from, to, epoch
	tagAck      = 6 // kind, from, to, epoch, sync, chunk
	tagNack     = 5 // kind, from, to, epoch, sync
	tagUpdate   = 3 // kind, from, epoch (+ the update's value)
	tagSnapshot = 6 // kind, from, epoch, to, sync, chunk
	tagStatus   = 5 // kind, from, epoch, to, flags
	tagUpdates  = 4 // kind, from, epoch, to
	tagMax      = 6
)

func tag(k MsgKind, fields ...uint64) frame.Value {
	vs := make([]frame.Value, 0, len(fields)+2)
	vs = append(vs, frame.NewCount(uint64(k)))
	for _, f := range fields {
		vs = append(vs, frame.NewCount(f))
	}
	return frame.NewVector(vs...)
}

// AppendFrame appends m to dst as one weir frame on topic and returns the
// extended slice. h (TTL, stamp) applies to store-cmd frames (Update,
// Attach, Detach); frame/ gives the other kinds default headers. now is
// the sender's clock: expiry instants travel as the time remaining (at
// least 1 ns while set). On error dst is returned unchanged.
func AppendFrame(dst []byte, h frame.Header, topic []byte, m *Msg, now time.Time) ([]byte, error) {
	nowNs := now.UnixNano()
	from, to := uint64(m.From), uint64(m.To)
	switch m.Kind {
	case MsgAttach, MsgDetach:
		seq := uint64(0)
		op := frame.OpDetach
		if m.Kind == MsgAttach {
			seq, op = m.Sync, frame.OpAttach
		}
		return frame.AppendStoreCmd(dst, h, topic, m.Store, op, seq, frame.None,
			tag(m.Kind, from, to, m.Epoch), 0), nil
	case MsgAck:
		return frame.AppendStoreAck(dst, topic, m.Store, m.Seq, tag(MsgAck, from, to, m.Epoch, m.Sync, m.Chunk)), nil
	case MsgNack:
		if m.First == 0 || m.First > m.Last {
			return dst, fmt.Errorf("%w: nack range %d..%d", ErrBadMsg, m.First, m.Last)
		}
		text := frame.AppendValue(nil, tag(MsgNack, from, to, m.Epoch, m.Sync))
		return frame.AppendStoreNack(dst, topic, frame.StoreNack{Store: []byte(m.Store), First: m.First,
			Last: m.Last, Text: text}), nil
	case MsgStatus:
		if m.First == 0 || m.First-1 > m.Seq {
			return dst, fmt.Errorf("%w: status first %d, seq %d", ErrBadMsg, m.First, m.Seq)
		}
		text := frame.AppendValue(nil, tag(MsgStatus, from, m.Epoch, to, uint64(m.Flags)))
		return frame.AppendStoreNack(dst, topic, frame.StoreNack{Store: []byte(m.Store), First: m.First - 1,
			Last: m.Seq, Text: text}), nil
	case MsgUpdate:
		u := &m.Update
		if err := u.validate(); err != nil {
			return dst, err
		}
		key, val := frame.None, frame.None
		var err error
		if u.Key != nil {
			if key, err = toValue(u.Key); err != nil {
				return dst, fmt.Errorf("cannot encode key: %w", err)
			}
		}
		if u.Value != nil {
			if val, err = toValue(u.Value); err != nil {
				return dst, fmt.Errorf("cannot encode value: %w", err)
			}
		}
		wrapped := frame.NewVector(frame.NewCount(uint64(MsgUpdate)), frame.NewCount(from), frame.NewCount(m.Epoch), val)
		return frame.AppendStoreCmd(dst, h, topic, m.Store, u.Op, m.Seq, key, wrapped, remaining(u.ExpireAt, nowNs)), nil
	case MsgUpdates:
		return appendUpdates(dst, topic, m, nowNs)
	case MsgSnapshot:
		es := make([]frame.SnapshotEntry, 0, len(m.Entries)+1)
		es = append(es, frame.SnapshotEntry{Key: tag(MsgSnapshot, from, m.Epoch, to, m.Sync, m.Chunk), Value: frame.None})
		for i := range m.Entries {
			e := &m.Entries[i]
			k, err := toValue(e.Key)
			if err != nil {
				return dst, fmt.Errorf("cannot encode snapshot key: %w", err)
			}
			v, err := toValue(e.Value)
			if err != nil {
				return dst, fmt.Errorf("cannot encode snapshot value: %w", err)
			}
			es = append(es, frame.SnapshotEntry{Key: k, Value: v, Expiry: remaining(e.ExpireAt, nowNs)})
		}
		return frame.AppendStoreSnapshot(dst, topic, m.Store, m.Seq, m.Final, es), nil
	}
	return dst, fmt.Errorf("%w: kind %v", ErrBadMsg, m.Kind)
}

// appendUpdates appends an Updates message as a store-snapshot frame whose
// entry 0 is the tag [8, from, epoch, to] with, as its value, a string of
// one op byte per update; entry i is update i-1: its key (none for
// clear), its value (none unless put) and its expiry remaining (put
// only). Keys and values are copied as they are, after a check that each
// is one canonical value.
//
// Hot path: no allocation beyond dst's growth.
func appendUpdates(dst, topic []byte, m *Msg, nowNs int64) ([]byte, error) {
	if len(m.Updates) == 0 {
		return dst, fmt.Errorf("%w: updates message without updates", ErrBadMsg)
	}
	for i := range m.Updates {
		u := &m.Updates[i]
		if err := u.validate(); err != nil {
			return dst, err
		}
		for _, b := range [2][]byte{u.Key, u.Value} {
			if b == nil {
				continue
			}
			if _, rest, err := frame.DecodeValue(b, nil); err != nil || len(rest) != 0 {
				if err == nil {
					err = frame.ErrTrailingBytes
				}
				return dst, fmt.Errorf("cannot encode update: %w", err)
			}
		}
	}
	start := len(dst)
	dst = frame.Begin(dst, frame.Header{Kind: frame.KindStoreSnapshot}, topic)
	dst = binary.AppendUvarint(dst, uint64(len(m.Store)))
	dst = append(dst, m.Store...)
	dst = binary.LittleEndian.AppendUint64(dst, m.Seq)
	dst = append(dst, 0) // flags
	dst = binary.AppendUvarint(dst, uint64(len(m.Updates))+1)
	// Entry 0: the tag, and the ops.
	var t [tagUpdates]frame.Value
	for i, f := range [tagUpdates]uint64{uint64(MsgUpdates), uint64(m.From), m.Epoch, uint64(m.To)} {
		t[i] = frame.NewCount(f)
	}
	dst = frame.AppendValue(dst, frame.NewVector(t[:]...))
	dst = append(dst, byte(frame.TypeString))
	dst = binary.AppendUvarint(dst, uint64(len(m.Updates)))
	for i := range m.Updates {
		dst = append(dst, byte(m.Updates[i].Op))
	}
	dst = binary.LittleEndian.AppendUint64(dst, 0)
	for i := range m.Updates {
		u := &m.Updates[i]
		dst = appendRawOrNone(dst, u.Key)
		dst = appendRawOrNone(dst, u.Value)
		dst = binary.LittleEndian.AppendUint64(dst, uint64(remaining(u.ExpireAt, nowNs)))
	}
	return frame.End(dst, start), nil
}

func appendRawOrNone(dst, b []byte) []byte {
	if b == nil {
		return append(dst, byte(frame.TypeNone))
	}
	return append(dst, b...)
}

// toValue converts one canonical value encoding to a frame.Value.
func toValue(b []byte) (frame.Value, error) {
	v, rest, err := frame.DecodeValue(b, nil)
	if err != nil {
		return frame.None, err
	}
	if len(rest) != 0 {
		return frame.None, frame.ErrTrailingBytes
	}
	return v.Value(), nil
}

// remaining converts an expiry instant to the ns left at nowNs (≥ 1).
func remaining(at, nowNs int64) int64 {
	switch {
	case at == 0:
		return 0
	case nowNs < 0 && at > math.MaxInt64+nowNs: // at - nowNs overflows
		return math.MaxInt64
	case at-nowNs < 1:
		return 1
	}
	return at - nowNs
}

// instant converts ns remaining (≥ 0) to an expiry instant (0: none).
func instant(rem, nowNs int64) int64 {
	switch {
	case rem == 0:
		return 0
	case nowNs > 0 && rem > math.MaxInt64-nowNs:
		return math.MaxInt64
	case nowNs+rem == 0:
		return 1 // 0 means none
	}
	return nowNs + rem
}

// DecodeFrame maps a received frame of the replication channel to a Msg.
// Give it the store frames of the channel's topics only (doc.go, "Frames"):
// it returns ErrNotChannel for kinds, ops and codes the channel never uses,
// and an error wrapping ErrBadMsg or a frame error for malformed ones. now
// is the receiver's clock (expiry instants). lim should be the
// connection's limits (nil: the defaults). The Msg owns copies of all its
// bytes: it stays valid after f's buffer is gone.
func DecodeFrame(f frame.Frame, lim *frame.Limits, now time.Time) (Msg, error) {
	if lim == nil {
		lim = &frame.Limits{}
		lim.EnsureDefaults()
	}
	nowNs := now.UnixNano()
	var (
		m   Msg
		t   [tagMax]uint64
		err error
	)
	switch f.Kind() {
	case frame.KindStoreCmd:
		// The update's value sits one level down in its tag.
		deeper := *lim
		deeper.MaxDepth++
		c, err := frame.DecodeStoreCmd(f.Body(), &deeper)
		if err != nil {
			return Msg{}, err
		}
		m.Store = string(c.Store)
		switch c.Op {
		case frame.OpAttach, frame.OpDetach:
			m.Kind = MsgAttach
			if c.Op == frame.OpDetach {
				m.Kind = MsgDetach
			}
			if err = readTag(c.Value, m.Kind, tagAttach, t[:]); err != nil {
				return Msg{}, err
			}
			if c.Key.Type() != frame.TypeNone || c.Expiry != 0 || (m.Kind == MsgDetach && c.Seq != 0) {
				return Msg{}, fmt.Errorf("%w: %v with key, expiry or seq", ErrBadMsg, c.Op)
			}
			m.From, m.To, m.Epoch, m.Sync = ID(t[1]), ID(t[2]), t[3], c.Seq
		case frame.OpPut, frame.OpErase, frame.OpClear, frame.OpExpire:
			m.Kind, m.Seq = MsgUpdate, c.Seq
			if m.Update, err = decodeUpdate(c, lim, t[:], nowNs); err != nil {
				return Msg{}, err
			}
			m.From, m.Epoch = ID(t[1]), t[2]
		default:
			return Msg{}, ErrNotChannel
		}
	case frame.KindStoreAck:
		a, err := frame.DecodeStoreAck(f.Body(), lim)
		if err != nil {
			return Msg{}, err
		}
		if a.Result.Type() != frame.TypeVector {
			return Msg{}, ErrNotChannel
		}
		if err = readTag(a.Result, MsgAck, tagAck, t[:]); err != nil {
			return Msg{}, err
		}
		m = Msg{Kind: MsgAck, Store: string(a.Store), From: ID(t[1]), To: ID(t[2]), Epoch: t[3], Sync: t[4],
			Chunk: t[5], Seq: a.Seq}
	case frame.KindStoreNack:
		n, err := frame.DecodeStoreNack(f.Body())
		if err != nil {
			return Msg{}, err
		}
		if n.Code != frame.CodeOK {
			return Msg{}, ErrNotChannel
		}
		v, rest, err := frame.DecodeValue(n.Text, lim)
		if err != nil {
			return Msg{}, fmt.Errorf("%w: nack text: %w", ErrBadMsg, err)
		}
		if len(rest) != 0 {
			return Msg{}, fmt.Errorf("%w: nack text: %w", ErrBadMsg, frame.ErrTrailingBytes)
		}
		m.Store = string(n.Store)
		if tagKind(v) == MsgStatus {
			if err = readTag(v, MsgStatus, tagStatus, t[:]); err != nil {
				return Msg{}, err
			}
			if t[4]&^uint64(flagsKnown) != 0 {
				return Msg{}, fmt.Errorf("%w: status flags %#x", ErrBadMsg, t[4])
			}
			if n.First == math.MaxUint64 {
				return Msg{}, fmt.Errorf("%w: status first overflows", ErrBadMsg)
			}
			m.Kind, m.From, m.Epoch, m.To, m.Flags = MsgStatus, ID(t[1]), t[2], ID(t[3]), uint8(t[4])
			m.First, m.Seq = n.First+1, n.Last
		} else {
			if err = readTag(v, MsgNack, tagNack, t[:]); err != nil {
				return Msg{}, err
			}
			if n.First == 0 {
				return Msg{}, fmt.Errorf("%w: nack from 0", ErrBadMsg)
			}
			m.Kind, m.From, m.To, m.Epoch, m.Sync = MsgNack, ID(t[1]), ID(t[2]), t[3], t[4]
			m.First, m.Last = n.First, n.Last
		}
	case frame.KindStoreSnapshot:
		s, err := frame.DecodeStoreSnapshot(f.Body(), lim)
		if err != nil {
			return Msg{}, err
		}
		if m, err = decodeSnapshot(s, t[:], nowNs); err != nil {
			return Msg{}, err
		}
	default:
		return Msg{}, ErrNotChannel
	}
	if err = checkIdentity(&m); err != nil {
		return Msg{}, err
	}
	return m, nil
}

// tagKind returns the kind in tag v, or 0.
func tagKind(v frame.View) MsgKind {
	if v.Type() != frame.TypeVector {
		return 0
	}
	it := v.Iter()
	e, ok := it.Next()
	if !ok || e.Type() != frame.TypeCount || e.Count() > uint64(msgKindMax) {
		return 0
	}
	return MsgKind(e.Count())
}

// readTag checks that v is the tag of kind k with n elements, and reads
// its counts into t. For an update, the last element is the value and is
// not read.
func readTag(v frame.View, k MsgKind, n int, t []uint64) error {
	it := v.Iter()
	want := n
	if k == MsgUpdate {
		want++
	}
	if v.Type() != frame.TypeVector || it.Remaining() != want {
		return fmt.Errorf("%w: %v tag is not a vector of %d", ErrBadMsg, k, want)
	}
	for i := 0; i < n; i++ {
		e, _ := it.Next()
		if e.Type() != frame.TypeCount {
			return fmt.Errorf("%w: %v tag element %d is %v", ErrBadMsg, k, i, e.Type())
		}
		t[i] = e.Count()
	}
	if t[0] != uint64(k) {
		return fmt.Errorf("%w: tag of kind %d in a %v frame", ErrBadMsg, t[0], k)
	}
	return nil
}

func decodeUpdate(c frame.StoreCmd, lim *frame.Limits, t []uint64, nowNs int64) (Update, error) {
	if err := readTag(c.Value, MsgUpdate, tagUpdate, t); err != nil {
		return Update{}, err
	}
	it := c.Value.Iter()
	for range tagUpdate {
		it.Next()
	}
	inner, _ := it.Next()
	// Both were checked with one more level of nesting allowed.
	for _, v := range []frame.View{c.Key, inner} {
		if _, _, err := frame.DecodeValue(v.Raw(), lim); err != nil {
			return Update{}, err
		}
	}
	u := Update{Op: c.Op}
	isNone := func(v frame.View) bool { return v.Type() == frame.TypeNone }
	switch {
	case c.Op == frame.OpClear && !isNone(c.Key):
		return Update{}, fmt.Errorf("%w: clear with a key", ErrBadMsg)
	case c.Op != frame.OpPut && (!isNone(inner) || c.Expiry != 0):
		return Update{}, fmt.Errorf("%w: %v with a value or expiry", ErrBadMsg, c.Op)
	}
	buf := make([]byte, 0, len(c.Key.Raw())+len(inner.Raw()))
	if c.Op != frame.OpClear {
		buf = append(buf, c.Key.Raw()...)
		u.Key = buf[:len(buf):len(buf)]
	}
	if c.Op == frame.OpPut {
		n := len(buf)
		buf = append(buf, inner.Raw()...)
		u.Value = buf[n:len(buf):len(buf)]
		u.ExpireAt = instant(c.Expiry, nowNs)
	}
	return u, nil
}

func decodeSnapshot(s frame.StoreSnapshot, t []uint64, nowNs int64) (Msg, error) {
	if s.Count < 1 {
		return Msg{}, fmt.Errorf("%w: snapshot without its tag entry", ErrBadMsg)
	}
	for e := range s.Entries {
		if tagKind(e.Key) == MsgUpdates {
			return decodeUpdates(s, t, nowNs)
		}
		break
	}
	size := 0
	first := true
	var err error
	for e := range s.Entries {
		if first {
			first = false
			if err = readTag(e.Key, MsgSnapshot, tagSnapshot, t); err == nil &&
				(e.Value.Type() != frame.TypeNone || e.Expiry != 0) {
				err = fmt.Errorf("%w: snapshot tag entry with a value", ErrBadMsg)
			}
			if err != nil {
				break
			}
			continue
		}
		size += len(e.Key.Raw()) + len(e.Value.Raw())
	}
	if err != nil {
		return Msg{}, err
	}
	m := Msg{Kind: MsgSnapshot, Store: string(s.Store), From: ID(t[1]), Epoch: t[2], To: ID(t[3]),
		Sync: t[4], Chunk: t[5], Seq: s.Seq, Final: s.Final}
	if s.Count > 1 {
		m.Entries = make([]Entry, 0, s.Count-1)
	}
	buf := make([]byte, 0, size)
	first = true
	for e := range s.Entries {
		if first {
			first = false
			continue
		}
		n := len(buf)
		buf = append(buf, e.Key.Raw()...)
		k := buf[n:len(buf):len(buf)]
		n = len(buf)
		buf = append(buf, e.Value.Raw()...)
		m.Entries = append(m.Entries, Entry{Key: k, Value: buf[n:len(buf):len(buf)], ExpireAt: instant(e.Expiry, nowNs)})
	}
	return m, nil
}

// decodeUpdates decodes an Updates message (see appendUpdates).
func decodeUpdates(s frame.StoreSnapshot, t []uint64, nowNs int64) (Msg, error) {
	if s.Final {
		return Msg{}, fmt.Errorf("%w: updates flagged final", ErrBadMsg)
	}
	var ops []byte
	size, i := 0, -1
	var err error
	for e := range s.Entries {
		i++
		if i == 0 {
			if err = readTag(e.Key, MsgUpdates, tagUpdates, t); err != nil {
				break
			}
			if e.Value.Type() != frame.TypeString || e.Expiry != 0 || len(e.Value.Bytes()) != s.Count-1 {
				err = fmt.Errorf("%w: updates tag entry without %d ops", ErrBadMsg, s.Count-1)
				break
			}
			ops = e.Value.Bytes()
			continue
		}
		op := frame.StoreOp(ops[i-1])
		isNone := func(v frame.View) bool { return v.Type() == frame.TypeNone }
		switch {
		case op != frame.OpPut && op != frame.OpErase && op != frame.OpClear && op != frame.OpExpire:
			err = fmt.Errorf("%w: update op %d", ErrBadMsg, op)
		case op == frame.OpClear && !isNone(e.Key):
			err = fmt.Errorf("%w: clear with a key", ErrBadMsg)
		case op != frame.OpPut && (!isNone(e.Value) || e.Expiry != 0):
			err = fmt.Errorf("%w: %v with a value or expiry", ErrBadMsg, op)
		}
		if err != nil {
			break
		}
		// The frame checked them against lim already (no extra nesting
		// here, unlike a single update's tag).
		size += len(e.Key.Raw()) + len(e.Value.Raw())
	}
	if err != nil {
		return Msg{}, err
	}
	if s.Count < 2 {
		return Msg{}, fmt.Errorf("%w: updates message without updates", ErrBadMsg)
	}
	m := Msg{Kind: MsgUpdates, Store: string(s.Store), From: ID(t[1]), Epoch: t[2], To: ID(t[3]), Seq: s.Seq,
		Updates: make([]Update, 0, s.Count-1)}
	if s.Seq == 0 || s.Seq > math.MaxUint64-uint64(s.Count-1) {
		return Msg{}, fmt.Errorf("%w: updates from seq %d", ErrBadMsg, s.Seq)
	}
	buf := make([]byte, 0, size)
	i = -1
	for e := range s.Entries {
		i++
		if i == 0 {
			continue
		}
		u := Update{Op: frame.StoreOp(ops[i-1])}
		if u.Op != frame.OpClear {
			n := len(buf)
			buf = append(buf, e.Key.Raw()...)
			u.Key = buf[n:len(buf):len(buf)]
		}
		if u.Op == frame.OpPut {
			n := len(buf)
			buf = append(buf, e.Value.Raw()...)
			u.Value = buf[n:len(buf):len(buf)]
			u.ExpireAt = instant(e.Expiry, nowNs)
		}
		m.Updates = append(m.Updates, u)
	}
	return m, nil
}

// checkIdentity rejects identities an encoder of this package never
// writes, so that the state machines see only well-formed ones.
func checkIdentity(m *Msg) error {
	switch {
	case m.From == 0:
		return fmt.Errorf("%w: %v from 0", ErrBadMsg, m.Kind)
	case m.Kind.FromMaster() && m.Epoch == 0:
		return fmt.Errorf("%w: %v with epoch 0", ErrBadMsg, m.Kind)
	case m.Kind == MsgSnapshot && m.To == 0:
		return fmt.Errorf("%w: snapshot to no clone", ErrBadMsg)
	case !m.Kind.FromMaster() && m.To == 0 && m.Epoch != 0:
		return fmt.Errorf("%w: %v to no master with an epoch", ErrBadMsg, m.Kind)
	}
	return nil
}
