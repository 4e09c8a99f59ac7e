package repl

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors.
var (
	ErrBadConfig    = errors.New("repl: bad options")
	ErrBadUpdate    = errors.New("repl: bad update")
	ErrWrongStore   = errors.New("repl: message for another store")
	ErrWrongRole    = errors.New("repl: message for the other role")
	ErrBadMsg       = errors.New("repl: malformed message")
	ErrNotChannel   = errors.New("repl: not a replication channel frame")
	ErrClosed       = errors.New("repl: closed")
	ErrSnapshotRead = errors.New("repl: cannot read snapshot")
)

// SnapshotSource gives the master point-in-time views of its store. Like
// etcd raft's Storage it is called synchronously by the state machine, on
// the owner's goroutine: OpenSnapshot when a clone's transfer starts (from
// Step or Tick), Next when the transfer's window has room.
type SnapshotSource interface {
	// OpenSnapshot returns a reader over the store's contents reflecting
	// exactly the updates proposed so far (sequence ≤ Master.LastSeq()):
	// the caller upholds this by calling Propose right after each mutation
	// of its backend, with no other call on the Master in between. It must
	// be cheap (pebble.NewSnapshot, a copy-on-write handle); reading is
	// done later, chunk by chunk.
	OpenSnapshot() (SnapshotReader, error)
}

// SnapshotReader walks one point-in-time view, forward only.
type SnapshotReader interface {
	// Next appends the next entries to dst and returns it: at least one
	// entry unless the view is exhausted, and no more than maxBytes of
	// Entry.Size in total unless the first entry alone is larger. done
	// reports that no entries are left after the ones returned. The
	// entries must stay valid and unmodified until Close.
	Next(dst []Entry, maxBytes int) (entries []Entry, done bool, err error)
	// Close releases the view. It is called exactly once.
	Close()
}

// MasterOptions configure a Master. Store, ID, Epoch and Source are
// required; zero values of the others mean their defaults.
type MasterOptions struct {
	// Store is the store's name (≤ 255 bytes).
	Store string
	// ID is this master's identity, non-zero. It should be stable across
	// restarts of the node that is master for the store (e.g. a hash of
	// the node's name), so that clones tell a restart (same ID, higher
	// Epoch: resync at once) from a second master (another ID: conflict).
	ID ID
	// Epoch is this incarnation of the master, non-zero, and must grow
	// each time a master with this ID is created (e.g. the wall clock in
	// ns at creation, or a counter persisted with the store). Sequence
	// numbers start at 1 in every epoch.
	Epoch uint64
	// Source produces snapshots for attaching clones.
	Source SnapshotSource

	// BufferEntries bounds the retransmit buffer in updates. Default 65536.
	BufferEntries int
	// BufferBytes bounds the retransmit buffer in bytes (key + value + 32
	// per update). Default 32 MiB. Past either bound the oldest updates
	// go; a clone that needs one of them resyncs from a snapshot.
	BufferBytes int
	// ChunkBytes bounds a snapshot chunk (Entry.Size summed; one larger
	// entry goes alone). Default 256 KiB.
	ChunkBytes int
	// SnapshotWindow is how many chunks of a transfer may be unacknowledged
	// at once. Default 4.
	SnapshotWindow int
	// MaxSyncs bounds concurrent snapshot transfers (open readers); more
	// attaching clones wait in order. Default 4.
	MaxSyncs int
	// MaxClones bounds the clones served; attaches beyond it are refused
	// (reported) until one leaves. Default 1024.
	MaxClones int
	// BatchEntries and BatchBytes bound one Updates message (a frame):
	// the updates proposed between two Advance calls go out in as few
	// messages as these allow, and so do resends. BatchBytes counts key +
	// value + 32 per update (one larger update goes alone); keep it well
	// under the frame limit. Defaults 1024 and 48 KiB (a batch then fits
	// one of netio's 64 KiB outbound chunks).
	BatchEntries int
	BatchBytes   int
	// MaxResend bounds the updates resent for one Nack. Keep it at least
	// the clones' MaxNack: a clone asks for the rest of a range cut short
	// only after its RetryInterval. Default 1024.
	MaxResend int
	// HeartbeatInterval: a master that has broadcast nothing for this long
	// broadcasts a Status, so that idle clones see it is alive and detect
	// lost trailing updates. Default 500 ms (Broker: 5 ticks of 100 ms).
	HeartbeatInterval time.Duration
	// RetryInterval: unacknowledged snapshot chunks are sent again after
	// this long without progress. Default 200 ms.
	RetryInterval time.Duration
	// CloneTimeout: a clone not heard from for this long is dropped (it
	// must attach again). Default 10 s.
	CloneTimeout time.Duration
}

// Defaults of MasterOptions and CloneOptions.
const (
	DefaultBufferEntries     = 65536
	DefaultBufferBytes       = 32 << 20
	DefaultChunkBytes        = 256 << 10
	DefaultSnapshotWindow    = 4
	DefaultMaxSyncs          = 4
	DefaultMaxClones         = 1024
	DefaultMaxResend         = 1024
	DefaultBatchEntries      = 1024
	DefaultBatchBytes        = 48 << 10
	DefaultHeartbeatInterval = 500 * time.Millisecond
	DefaultRetryInterval     = 200 * time.Millisecond
	DefaultCloneTimeout      = 10 * time.Second
	DefaultPendingEntries    = 65536
	DefaultPendingBytes      = 32 << 20
	DefaultMasterTimeout     = 2 * time.Second
	DefaultSyncTimeout       = 2 * time.Second
	DefaultMaxNack           = 1024

	maxNameLen = 255
)

// EnsureDefaults fills zero fields with their defaults and returns o.
func (o *MasterOptions) EnsureDefaults() *MasterOptions {
	setDefault(&o.BufferEntries, DefaultBufferEntries)
	setDefault(&o.BufferBytes, DefaultBufferBytes)
	setDefault(&o.ChunkBytes, DefaultChunkBytes)
	setDefault(&o.SnapshotWindow, DefaultSnapshotWindow)
	setDefault(&o.MaxSyncs, DefaultMaxSyncs)
	setDefault(&o.MaxClones, DefaultMaxClones)
	setDefault(&o.MaxResend, DefaultMaxResend)
	setDefault(&o.BatchEntries, DefaultBatchEntries)
	setDefault(&o.BatchBytes, DefaultBatchBytes)
	setDefault(&o.HeartbeatInterval, DefaultHeartbeatInterval)
	setDefault(&o.RetryInterval, DefaultRetryInterval)
	setDefault(&o.CloneTimeout, DefaultCloneTimeout)
	return o
}

// Validate reports options that cannot work. Call it after EnsureDefaults.
func (o *MasterOptions) Validate() error {
	switch {
	case o.Store == "" || len(o.Store) > maxNameLen:
		return fmt.Errorf("%w: Store %q must be 1..%d bytes", ErrBadConfig, o.Store, maxNameLen)
	case o.ID == 0:
		return fmt.Errorf("%w: ID must be non-zero", ErrBadConfig)
	case o.Epoch == 0:
		return fmt.Errorf("%w: Epoch must be non-zero", ErrBadConfig)
	case o.Source == nil:
		return fmt.Errorf("%w: Source is required", ErrBadConfig)
	}
	if err := positive("BufferEntries", o.BufferEntries, "BufferBytes", o.BufferBytes,
		"ChunkBytes", o.ChunkBytes, "SnapshotWindow", o.SnapshotWindow, "MaxSyncs", o.MaxSyncs,
		"MaxClones", o.MaxClones, "MaxResend", o.MaxResend, "BatchEntries", o.BatchEntries,
		"BatchBytes", o.BatchBytes); err != nil {
		return err
	}
	if err := positiveDur("HeartbeatInterval", o.HeartbeatInterval, "RetryInterval", o.RetryInterval,
		"CloneTimeout", o.CloneTimeout); err != nil {
		return err
	}
	if o.CloneTimeout <= o.HeartbeatInterval {
		return fmt.Errorf("%w: CloneTimeout %v must exceed HeartbeatInterval %v (clones ack heartbeats)",
			ErrBadConfig, o.CloneTimeout, o.HeartbeatInterval)
	}
	return nil
}

// CloneOptions configure a Clone. Store and ID are required; zero values
// of the others mean their defaults.
type CloneOptions struct {
	// Store is the store's name (≤ 255 bytes).
	Store string
	// ID is this clone's identity, non-zero and unique among the store's
	// clones (e.g. the origin of its node id, docs/PROTOCOL.md §3).
	ID ID
	// PendingEntries bounds the updates held while they cannot be applied
	// yet (arrived during a snapshot, or after a gap). Default 65536.
	PendingEntries int
	// PendingBytes bounds the same in bytes (key + value + 32 per update).
	// Default 32 MiB. Past either bound the newest held updates are
	// dropped; they are asked for again once the gap before them is filled.
	PendingBytes int
	// MasterTimeout: a clone that has heard nothing from its master for
	// this long is Stale; another master may then take over without a
	// conflict. It must exceed the master's HeartbeatInterval. Default 2 s.
	MasterTimeout time.Duration
	// SyncTimeout: a snapshot transfer (or an attach) without progress for
	// this long is started again with a new nonce. Default 2 s.
	SyncTimeout time.Duration
	// RetryInterval: a gap still open this long after its Nack is asked for
	// again. Default 200 ms.
	RetryInterval time.Duration
	// MaxNack bounds the range of one Nack; the next range is asked for as
	// soon as this one is filled. Default 1024.
	MaxNack int
}

// EnsureDefaults fills zero fields with their defaults and returns o.
func (o *CloneOptions) EnsureDefaults() *CloneOptions {
	setDefault(&o.PendingEntries, DefaultPendingEntries)
	setDefault(&o.PendingBytes, DefaultPendingBytes)
	setDefault(&o.MasterTimeout, DefaultMasterTimeout)
	setDefault(&o.SyncTimeout, DefaultSyncTimeout)
	setDefault(&o.RetryInterval, DefaultRetryInterval)
	setDefault(&o.MaxNack, DefaultMaxNack)
	return o
}

// Validate reports options that cannot work. Call it after EnsureDefaults.
func (o *CloneOptions) Validate() error {
	switch {
	case o.Store == "" || len(o.Store) > maxNameLen:
		return fmt.Errorf("%w: Store %q must be 1..%d bytes", ErrBadConfig, o.Store, maxNameLen)
	case o.ID == 0:
		return fmt.Errorf("%w: ID must be non-zero", ErrBadConfig)
	}
	err := positive("PendingEntries", o.PendingEntries, "PendingBytes", o.PendingBytes, "MaxNack", o.MaxNack)
	if err != nil {
		return err
	}
	return positiveDur("MasterTimeout", o.MasterTimeout, "SyncTimeout", o.SyncTimeout,
		"RetryInterval", o.RetryInterval)
}

func setDefault[T int | time.Duration](p *T, d T) {
	if *p == 0 {
		*p = d
	}
}

// positive checks name/value pairs.
func positive(kv ...any) error {
	for i := 0; i < len(kv); i += 2 {
		if v := kv[i+1].(int); v <= 0 {
			return fmt.Errorf("%w: %s %d must be positive", ErrBadConfig, kv[i], v)
		}
	}
	return nil
}

func positiveDur(kv ...any) error {
	for i := 0; i < len(kv); i += 2 {
		if v := kv[i+1].(time.Duration); v <= 0 {
			return fmt.Errorf("%w: %s %v must be positive", ErrBadConfig, kv[i], v)
		}
	}
	return nil
}
