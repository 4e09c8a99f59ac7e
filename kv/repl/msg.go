package repl

import (
	"fmt"
	"strings"
	"time"

	"github.com/weirio/weir/frame"
)

// ID names a master or a clone on a replication channel. 0 is not a valid
// ID: as a destination it means "every clone" (a master's broadcast) or
// "whichever master" (a clone's attach before it knows its master).
type ID uint64

// Broadcast is the To of a message for every clone of the store.
const Broadcast ID = 0

// MsgKind is the kind of a replication message. The numbers are on the
// wire (the first element of every channel tag, see doc.go) and must not
// change.
type MsgKind uint8

// Message kinds. Attach, Detach, Ack and Nack go from a clone to its master;
// Update, Snapshot and Status from a master to its clones.
const (
	MsgAttach   MsgKind = 1 // clone → master: send me a snapshot (Sync: its nonce)
	MsgDetach   MsgKind = 2 // clone → master: forget me
	MsgAck      MsgKind = 3 // clone → master: applied up to Seq; Chunk chunks of sync Sync received
	MsgNack     MsgKind = 4 // clone → master: resend First..Last
	MsgUpdate   MsgKind = 5 // master → clones: the update at Seq
	MsgSnapshot MsgKind = 6 // master → clone: chunk Chunk of the snapshot at Seq for sync Sync
	MsgStatus   MsgKind = 7 // master → clones: heartbeat; resendable range First..Seq; Flags
	MsgUpdates  MsgKind = 8 // master → clones: the updates at Seq, Seq+1, ... (a batch of MsgUpdate)

	msgKindMax = MsgUpdates
)

var msgKindNames = [...]string{"", "Attach", "Detach", "Ack", "Nack", "Update", "Snapshot", "Status", "Updates"}

// String returns the kind's name ("Update").
func (k MsgKind) String() string {
	if k >= MsgAttach && k <= msgKindMax {
		return msgKindNames[k]
	}
	return fmt.Sprintf("MsgKind(%d)", uint8(k))
}

// FromMaster reports whether messages of kind k are sent by a master.
func (k MsgKind) FromMaster() bool { return k >= MsgUpdate && k <= msgKindMax }

// Status flags.
const (
	// FlagReattach, in a Status addressed to one clone, says the master
	// does not serve that clone (it never attached, or was dropped): the
	// clone must attach again.
	FlagReattach uint8 = 1 << 0

	flagsKnown = FlagReattach
)

// Update is one replicated mutation, the result the master computed and
// applied (add and subtract travel as puts). Key and Value are opaque to
// the state machine; on the wire they must be canonical frame value
// encodings (frame.AppendValue), which is how kv stores them.
type Update struct {
	Op       frame.StoreOp // frame.OpPut, OpErase, OpClear or OpExpire
	Key      []byte        // nil only for OpClear
	Value    []byte        // OpPut only; nil otherwise
	ExpireAt int64         // OpPut only: expiry instant, ns since the Unix epoch; 0 = none
}

// Entry is one key of a snapshot.
type Entry struct {
	Key, Value []byte
	ExpireAt   int64 // ns since the Unix epoch; 0 = none
}

// Size overheads used for the byte bounds: a rough per-item cost of the
// structure and of its wire framing, so that many empty items still count.
const (
	updateOverhead = 32
	entryOverhead  = 16
)

func (u *Update) size() int { return len(u.Key) + len(u.Value) + updateOverhead }

// Size is the entry's size as counted against MasterOptions.ChunkBytes.
func (e *Entry) Size() int { return len(e.Key) + len(e.Value) + entryOverhead }

func (u *Update) validate() error {
	switch u.Op {
	case frame.OpPut:
		if u.Key == nil || u.Value == nil {
			return fmt.Errorf("%w: put needs a key and a value", ErrBadUpdate)
		}
	case frame.OpErase, frame.OpExpire:
		if u.Key == nil || u.Value != nil || u.ExpireAt != 0 {
			return fmt.Errorf("%w: %v takes a key only", ErrBadUpdate, u.Op)
		}
	case frame.OpClear:
		if u.Key != nil || u.Value != nil || u.ExpireAt != 0 {
			return fmt.Errorf("%w: clear takes no key", ErrBadUpdate)
		}
	default:
		return fmt.Errorf("%w: op %v is not replicated", ErrBadUpdate, u.Op)
	}
	return nil
}

// Msg is one message of the replication channel. Which fields are used
// depends on Kind (the table in doc.go); the others are zero. A Msg owns
// its byte slices: the state machines keep them after Step, and the caller
// must not modify them afterwards.
type Msg struct {
	Kind  MsgKind
	Store string // the store's name
	// From is the sender: the master's ID (Update, Snapshot, Status) or the
	// clone's (Attach, Detach, Ack, Nack).
	From ID
	// To is the receiver: a clone, or Broadcast (Update, Updates, Status); the
	// master the clone follows, or 0 for any master (Attach, Detach, Ack,
	// Nack).
	To ID
	// Epoch is the sender's epoch (master messages), or the epoch of the
	// master the clone follows (clone messages; 0 when To is 0).
	Epoch uint64
	// Seq: Update, its sequence number; Updates, the sequence number of
	// the first (Updates[i] has Seq+i); Snapshot, the sequence the
	// snapshot reflects (it holds every update ≤ Seq and none after);
	// Status, the master's last sequence; Ack, the last sequence the clone
	// applied (0 while it has not finished a snapshot).
	Seq uint64
	// First..Last: Nack, the range to resend (First ≤ Last). Status: First
	// is the oldest sequence the master can still resend (Seq+1 when it
	// holds none); Last is unused.
	First, Last uint64
	// Sync is the clone's snapshot nonce: chosen by the clone in Attach,
	// echoed in the Snapshot chunks it gets, and carried in its Acks and
	// Nacks (the nonce of the last snapshot it completed or is receiving).
	Sync uint64
	// Chunk: Snapshot, the chunk's index from 0; Ack, how many chunks of
	// sync Sync the clone has received in order.
	Chunk   uint64
	Final   bool     // Snapshot: the last chunk
	Flags   uint8    // Status: FlagReattach
	Update  Update   // Update
	Updates []Update // Updates: at least one
	Entries []Entry  // Snapshot
}

// String formats m on one line for logs and test transcripts. Keys and
// values that decode as frame values are printed as such.
func (m Msg) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s->%s", m.Kind, m.Store, idStr(m.From, m.Kind.FromMaster()), idStr(m.To, !m.Kind.FromMaster()))
	if m.Epoch != 0 || m.Kind.FromMaster() {
		fmt.Fprintf(&b, " epoch=%d", m.Epoch)
	}
	switch m.Kind {
	case MsgAttach:
		fmt.Fprintf(&b, " sync=%d", m.Sync)
	case MsgAck:
		fmt.Fprintf(&b, " seq=%d sync=%d chunks=%d", m.Seq, m.Sync, m.Chunk)
	case MsgNack:
		fmt.Fprintf(&b, " sync=%d range=%d..%d", m.Sync, m.First, m.Last)
	case MsgUpdate:
		fmt.Fprintf(&b, " seq=%d ", m.Seq)
		fmtUpdate(&b, &m.Update)
	case MsgUpdates:
		fmt.Fprintf(&b, " seq=%d..%d [", m.Seq, m.Seq+uint64(len(m.Updates))-1)
		for i := range m.Updates {
			if i > 0 {
				b.WriteString(", ")
			}
			fmtUpdate(&b, &m.Updates[i])
		}
		b.WriteByte(']')
	case MsgSnapshot:
		fmt.Fprintf(&b, " sync=%d seq=%d chunk=%d", m.Sync, m.Seq, m.Chunk)
		if m.Final {
			b.WriteString(" final")
		}
		b.WriteString(" [")
		for i, e := range m.Entries {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%s=%s", FormatValue(e.Key), FormatValue(e.Value))
			if e.ExpireAt != 0 {
				fmt.Fprintf(&b, "(expires=%s)", fmtInstant(e.ExpireAt))
			}
		}
		b.WriteByte(']')
	case MsgStatus:
		fmt.Fprintf(&b, " seq=%d first=%d", m.Seq, m.First)
		if m.Flags&FlagReattach != 0 {
			b.WriteString(" reattach")
		}
	}
	return b.String()
}

func fmtUpdate(b *strings.Builder, u *Update) {
	b.WriteString(u.Op.String())
	if u.Key != nil {
		fmt.Fprintf(b, " %s", FormatValue(u.Key))
	}
	if u.Op == frame.OpPut {
		fmt.Fprintf(b, "=%s", FormatValue(u.Value))
	}
	if u.ExpireAt != 0 {
		fmt.Fprintf(b, " expires=%s", fmtInstant(u.ExpireAt))
	}
}

func fmtInstant(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

func idStr(id ID, master bool) string {
	if id == 0 {
		if master {
			return "?"
		}
		return "*"
	}
	return fmt.Sprint(uint64(id))
}

// FormatValue formats an encoded frame value for logs: its String form if
// it decodes, else the quoted bytes.
func FormatValue(b []byte) string {
	v, rest, err := frame.DecodeValue(b, nil)
	if err != nil || len(rest) != 0 {
		return fmt.Sprintf("%q", b)
	}
	return v.Value().String()
}
