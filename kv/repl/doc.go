// Package repl is the replication channel of weir's data stores: how a
// master streams its store to clones, keeps them current, and repairs
// them. It owns the protocol state on both ends — sequence numbers, the
// retransmit buffer, snapshot transfers, acknowledgements, gap repair,
// liveness, master identity — and nothing else: the store operations and
// backends are package kv, sockets and topics are the node's.
//
// It is written like etcd raft's core: Master and Clone are state
// machines with no goroutine, no clock and no I/O. Inputs are Step(msg),
// Tick(now), Master.Propose(update), Clone.Attach/Detach; outputs come out
// of Ready() (messages to send, changes to apply, events), and the caller
// does the work, then calls Advance(). Everything is deterministic, which
// is what the scripted tests in testdata/ rely on.
//
// # Driving it
//
// Master, on the store's owner goroutine:
//
//	m, _ := repl.NewMaster(repl.MasterOptions{Store: name, ID: id, Epoch: epoch, Source: src})
//	on a mutation request:  res, u := store.Exec(cmd); m.Propose(copyOf(u))   // nothing in between
//	on expiry:              for _, u := range store.Expire(now) { m.Propose(u) }
//	on a channel frame:     msg, err := repl.DecodeFrame(f, lim, now); m.Step(msg)
//	every tick (100 ms):    m.Tick(now)
//	after any of these:     if m.HasReady() {
//	                            rd := m.Ready()
//	                            for _, msg := range rd.Messages { send(msg) }  // To 0: clone topic; else that clone
//	                            for _, ev := range rd.Events { log and count }
//	                            m.Advance()
//	                        }
//
// Clone:
//
//	c, _ := repl.NewClone(repl.CloneOptions{Store: name, ID: id}); c.Attach()
//	on a channel frame:     msg, err := repl.DecodeFrame(f, lim, now); c.Step(msg)
//	every tick:             c.Tick(now)
//	after any of these:     if c.HasReady() {
//	                            rd := c.Ready()
//	                            for _, a := range rd.Apply { apply a to the local store, in order }
//	                            for _, msg := range rd.Messages { send(msg) }  // to the master topic
//	                            for _, ev := range rd.Events { log and count }
//	                            c.Advance()
//	                        }
//	on a read:              ok, stale := c.Status().Serve()   // the read rule below
//
// send(msg) is AppendFrame(buf, hdr, topic, &msg, now) on the right topic.
// Writes from a clone's users are requests to the master (store-cmd with a
// request id), outside this package; their effect comes back as updates.
//
// # Identity, epochs and conflicts
//
// A master is (ID, Epoch). ID should be stable for the node that is the
// store's master (a hash of its name); Epoch must grow each time a master
// with that ID starts (the wall clock at start, or a persisted counter).
// Sequence numbers restart at 1 in each epoch. Every master message carries
// both; every clone message carries the identity it follows (0, 0 before
// it has heard a master). A clone following (I, E) that hears (J, F):
//
//	J = I, F = E   its master
//	J = I, F < E   a late message of an earlier life: ignored
//	J = I, F > E   the master restarted: follow (I, F) and resync at once
//	J ≠ I          if I was silent for MasterTimeout: fail over to (J, F) and
//	               resync; else a conflict: reported (EventConflict, once per
//	               other master), the message ignored, the clone stays
//
// A master that hears a clone following another ID (or a newer epoch of
// its own ID) reports the conflict too. weir does not elect masters; the
// node should make the conflict visible (log, metric) to the operator.
//
// # Sequences and snapshots
//
// Propose gives each update the next sequence and broadcasts it: the
// updates proposed between two Advance calls go out together, in Updates
// messages of consecutive sequences (at most BatchEntries updates and
// BatchBytes each), so a caller that proposes a group of mutations and
// then handles Ready sends one frame per batch, not per update, and
// nothing waits for a tick. Resends are batched the same way. A clone
// applies updates strictly in sequence order; one that arrives early is
// held (bounded, CloneOptions.Pending*) and the missing range is nacked.
// Acks are cumulative: an Ack's Seq is the last sequence applied, one Ack
// per Ready at most (and one per heartbeat, which proves liveness).
//
// Attach starts a snapshot: the clone picks a nonce (Sync; increasing,
// starting from its clock so a restarted clone does not reuse one). The
// master opens a point-in-time view (SnapshotSource) right then, so the
// snapshot reflects exactly the updates with sequence ≤ S, S = LastSeq at
// that moment; it streams the view in chunks of ≤ ChunkBytes, numbered
// from 0, the last one marked Final, each carrying S and the nonce, with
// at most SnapshotWindow chunks unacknowledged (Ack.Chunk counts the
// chunks received in order; unacknowledged chunks are resent after
// RetryInterval, and out-of-order ones are dropped). Updates keep being
// proposed and broadcast meanwhile: the clone holds those with sequence
// > S (dropping any ≤ S once chunk 0 tells it S) and applies them right
// after the Final chunk, so its store goes from the snapshot at S straight
// on to S+1, S+2, ... . Chunks of another nonce are ignored. On the store
// side a snapshot is ApplySnapshotBegin, ApplySnapshotEntries...,
// ApplySnapshotEnd: build the copy aside and swap it in at End.
//
// The master keeps the last updates for resending, bounded by
// BufferEntries and BufferBytes (oldest out first) and trimmed to what
// every clone it serves has acknowledged. A Nack for a range the buffer
// still holds is answered with those updates (≤ MaxResend), to that clone.
// A Nack for an older range is answered with a Status whose First is past
// the clone's next sequence: the clone resyncs from a fresh snapshot
// (Broker's clone gives up here). The same Status goes to all clones as
// the heartbeat, so a clone also finds a gap it cannot fill, or a lost
// last update, from there.
//
// # Clone states and the read rule
//
//	Detached  before Attach, after Detach
//	Syncing   waiting for or receiving a snapshot (first sync or resync)
//	Live      snapshot complete; the master heard within MasterTimeout
//	Stale     snapshot complete; master silent for MasterTimeout or more
//
// Read rule (for the node): a clone read never waits. It is answered at
// once from the local store and marked stale unless the state is Live
// (Status.Serve). During a resync the old copy keeps answering, marked
// stale, until ApplySnapshotEnd swaps the new one in. A clone that has
// never completed a snapshot has no copy and fails the read at once with
// a "not synced" error rather than return an empty answer that looks
// authoritative. Why not Broker's wait (reads without a master wait up to
// 5 s): a read runs on a worker's packet path; making it block turns a
// master outage into a stall of every worker, the failure DESIGN.md says a
// slow peer must never cause. Callers that need fresh data check the flag
// and retry or wait on their own terms.
//
// # Liveness
//
// A master that has broadcast nothing for HeartbeatInterval broadcasts a
// Status (its last sequence and the oldest it can resend); clones answer
// with an Ack. A clone that has heard nothing for MasterTimeout turns
// Stale; one whose snapshot makes no progress for SyncTimeout attaches
// again with a new nonce, and one that hears its master while still
// waiting for the first chunk re-sends its Attach, at most every
// RetryInterval (same nonce: a master already serving it ignores the
// duplicate). The master drops a clone it has not
// heard from, about its current sync, for CloneTimeout; if the clone was
// alive after all, its next Ack or Nack is answered with a Status flagged
// reattach, and it resyncs. Messages about an older sync are ignored and
// do not count as signs of life, so a master and a clone that disagree on
// the sync converge through a drop and a reattach.
//
// # Bounds and defaults
//
//	MasterOptions.BufferEntries      65536     retransmit buffer, updates
//	MasterOptions.BufferBytes        32 MiB    retransmit buffer, key+value+32 per update
//	MasterOptions.ChunkBytes         256 KiB   snapshot chunk (key+value+16 per entry)
//	MasterOptions.SnapshotWindow     4         unacknowledged chunks per transfer
//	MasterOptions.MaxSyncs           4         concurrent transfers (open snapshots); others queue
//	MasterOptions.MaxClones          1024      clones served; more are refused
//	MasterOptions.MaxResend          1024      updates resent per Nack
//	MasterOptions.BatchEntries       1024      updates per Updates message
//	MasterOptions.BatchBytes         48 KiB    the same in bytes (key+value+32 per update)
//	MasterOptions.HeartbeatInterval  500 ms    Broker: 5 ticks of 100 ms
//	MasterOptions.RetryInterval      200 ms    chunk resend
//	MasterOptions.CloneTimeout       10 s      drop a silent clone (Broker: ~2 s)
//	CloneOptions.PendingEntries      65536     updates held out of order or during a snapshot
//	CloneOptions.PendingBytes        32 MiB    the same in bytes; past either the newest go
//	CloneOptions.MasterTimeout       2 s       Live → Stale
//	CloneOptions.SyncTimeout         2 s       attach again without snapshot progress
//	CloneOptions.RetryInterval       200 ms    nack again while a gap stays open
//	CloneOptions.MaxNack             1024      updates asked for per Nack
//
// # Frames
//
// AppendFrame and DecodeFrame map messages to the store kinds of
// docs/PROTOCOL.md §5.6 without changing them. What those fields cannot
// carry travels in a tag: a vector of counts whose first element is the
// MsgKind, in whichever value field the kind leaves free.
//
//	Msg       frame                 seq   key            tag in           tag
//	Attach    store-cmd attach      Sync  none           value            [1, from, to, epoch]
//	Detach    store-cmd detach      0     none           value            [2, from, to, epoch]
//	Ack       store-ack             Seq   -              result           [3, from, to, epoch, sync, chunks]
//	Nack      store-nack, code 0    -     -              text (encoded)   [4, from, to, epoch, sync]
//	Update    store-cmd put, erase, Seq   the key        value            [5, from, epoch, the value]
//	          clear or expire             (clear: none)
//	Updates   store-snapshot        Seq   -              key of entry 0   [8, from, epoch, to]
//	Snapshot  store-snapshot        S     -              key of entry 0   [6, from, epoch, to, sync, chunk]
//	Status    store-nack, code 0    -     -              text (encoded)   [7, from, epoch, to, flags]
//
// The other fields: Attach and Detach have expiry 0. Nack: first, last =
// First, Last. Update: the value in the tag is none unless the op is put;
// expiry is the ns remaining (put only; at least 1 while set). Snapshot:
// flag FINAL = Final; entry 0 (the tag) has value none and expiry 0, the
// store's entries follow with their ns remaining; count includes entry 0.
// Status: first = First−1, last = Seq. Updates: seq = the first update's
// sequence, flags 0; entry 0 is the tag with, as its value, a string of
// one op byte per update (the store-cmd op: put, erase, clear, expire)
// and expiry 0; entry i+1 is update i: its key (none for clear), its
// value (none unless put) and its expiry remaining (put only); count
// includes entry 0. A master sends only Updates; a clone accepts Update
// too.
//
// "from"/"to" are IDs (to: 0 = all clones, or any master); "encoded" is
// the frame value encoding of the tag (a nack's text is opaque bytes).
// Status puts First−1 on the wire because a nack needs first ≤ last and
// an empty buffer has First = Seq+1. Wrapping the update's value adds one
// level of nesting; DecodeFrame allows it and checks the key and the
// value against the limit themselves. Expiry instants travel as the time
// remaining when the frame is encoded, re-based on the receiver's clock
// when decoded (a clone's expiry instants are informational: the master
// decides expiry and replicates OpExpire). The node routes by topic:
// channel frames from clones arrive on the store's master topic (store-cmd
// attach/detach, store-ack, store-nack code 0 — requests use the other
// ops), channel frames from the master on the store's clone topic
// (store-cmd put/erase/clear/expire, store-snapshot, store-nack code 0).
// Give DecodeFrame only those; it returns ErrNotChannel for kinds, ops and
// codes the channel never uses. (Updates travel on the clone topics like
// Update: the broadcast ones on the all-clones topic, resends on the
// clone's own.)
//
// # Durability
//
// Ready has no "after the write is durable" part: nothing needs one. A
// master that crashes and loses updates its clones have seen comes back
// with a new epoch, and every clone then resyncs from a snapshot of what
// the master really has, so no clone keeps an update the master lost. (A
// master that persisted its epoch and sequence with its data could let
// clones catch up without a snapshot after a restart; updates would then
// have to wait for durability, and Ready would grow that split.)
//
// # Threading
//
// Master and Clone are not safe for concurrent use: each belongs to one
// goroutine (the node's store loop), which makes every call, including
// the SnapshotSource calls the Master makes from inside Step and Tick.
// Ready's slices are valid until the next Advance; the messages' byte
// slices are shared with the state machine and must not be modified.
// AppendFrame and DecodeFrame are pure functions, safe anywhere.
//
// # Deviations from Broker
//
//   - A clone whose gap cannot be filled resyncs from a snapshot; Broker's
//     clone gives up ("broken clone").
//   - Reads never wait for a master (the read rule above); Broker waits up
//     to 5 s.
//   - Masters have epochs; a restarted master is detected at its first
//     message, and two masters are reported, not silently interleaved.
//   - Snapshots are chunked and flow-controlled, and a master serves
//     updates while they stream; Broker sends one snapshot message.
package repl
