package repl

import (
	"fmt"
	"time"
)

// Ready is the work a Master or Clone asks of its caller since the last
// Advance. Its slices are valid until the next Advance.
type Ready struct {
	// Messages to send now, in order. None has to wait for a durable
	// write (see "Durability" in doc.go).
	Messages []Msg
	// Apply (clones only) lists the changes to make to the local store,
	// in order, before the next Ready's.
	Apply []Apply
	// Events are state changes and problems to log and count.
	Events []Event
}

// Empty reports whether r holds no work.
func (r *Ready) Empty() bool { return len(r.Messages) == 0 && len(r.Apply) == 0 && len(r.Events) == 0 }

// ApplyKind says what an Apply asks of the clone's store.
type ApplyKind uint8

// Apply kinds. A snapshot arrives as Begin, zero or more Entries, End. The
// store should build the new contents aside and swap them in at End (the
// read rule in doc.go serves the old contents, flagged stale, until then).
// A Begin while a copy is being built discards that copy.
const (
	ApplyUpdate          ApplyKind = iota + 1 // apply Update; Seq is its sequence
	ApplySnapshotBegin                        // start a new copy of the store; Seq is the snapshot's
	ApplySnapshotEntries                      // put Entries into the copy
	ApplySnapshotEnd                          // the copy is complete: it replaces the store
)

var applyKindNames = [...]string{"", "update", "snapshot-begin", "snapshot-entries", "snapshot-end"}

// String returns the kind's name ("snapshot-begin").
func (k ApplyKind) String() string {
	if k >= ApplyUpdate && k <= ApplySnapshotEnd {
		return applyKindNames[k]
	}
	return fmt.Sprintf("ApplyKind(%d)", uint8(k))
}

// Apply is one change for a clone's local store.
type Apply struct {
	Kind    ApplyKind
	Seq     uint64
	Update  Update  // ApplyUpdate
	Entries []Entry // ApplySnapshotEntries
}

// State is a clone's replication state (see the read rule in doc.go).
type State uint8

// Clone states.
const (
	StateDetached State = iota // not attached (before Attach, after Detach)
	StateSyncing               // waiting for or receiving a snapshot
	StateLive                  // snapshot complete, master heard within MasterTimeout
	StateStale                 // snapshot complete, master silent for MasterTimeout or more
)

var stateNames = [...]string{"detached", "syncing", "live", "stale"}

// String returns the state's name ("live").
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Status is a clone's state as the node needs it to answer reads.
type Status struct {
	State State
	// Master and Epoch identify the master the clone follows; 0 if none
	// yet.
	Master ID
	Epoch  uint64
	// Applied is the last sequence reflected in the local store.
	Applied uint64
	// HasData reports that a snapshot has completed since Attach: the
	// local store holds a copy (maybe stale).
	HasData bool
	// LastHeard is when the master was last heard from (zero: never). For
	// StateStale this is the "no master since" instant.
	LastHeard time.Time
	// Since is when State was entered.
	Since time.Time
}

// Serve applies the read rule (doc.go): ok reports that a read can be
// answered from the local store, stale that the answer must carry the
// stale flag. A clone without data answers no read (the node returns its
// "not synced" error at once rather than wait).
func (s Status) Serve() (ok, stale bool) {
	return s.HasData, s.State != StateLive
}

// EventKind is the kind of an Event.
type EventKind uint8

// Event kinds.
const (
	// Master side.
	EventCloneAttached EventKind = iota + 1 // Clone asked for a snapshot (a new sync)
	EventCloneLive                          // Clone completed its snapshot at Seq
	EventCloneDropped                       // Clone is no longer served (Reason)
	EventSnapshotError                      // Err reading a snapshot for Clone; the transfer was abandoned

	// Clone side.
	EventState         // the clone entered State
	EventResync        // the clone starts a new snapshot (Reason)
	EventMasterChanged // the clone now follows Master/Epoch (Reason)

	// Both sides.
	EventConflict // a second master: Master/Epoch (and Clone, on the master side, which follows it)
)

var eventKindNames = [...]string{"", "clone-attached", "clone-live", "clone-dropped", "snapshot-error",
	"state", "resync", "master-changed", "conflict"}

// String returns the kind's name ("clone-live").
func (k EventKind) String() string {
	if int(k) < len(eventKindNames) && k != 0 {
		return eventKindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Reason qualifies an Event.
type Reason uint8

// Reasons.
const (
	ReasonNone      Reason = iota
	ReasonAttach           // the clone attached (first sync, or after Detach)
	ReasonGap              // a gap the master can no longer fill
	ReasonRestart          // the master restarted (same ID, higher epoch)
	ReasonFailover         // another master after the old one fell silent
	ReasonReattach         // the master does not serve this clone
	ReasonTimeout          // no progress (clone: snapshot; master: clone silent)
	ReasonDetach           // the clone detached
	ReasonMaxClones        // refused: MaxClones reached
	ReasonSnapshot         // the snapshot could not be read
	ReasonFirst            // the first master heard
)

var reasonNames = [...]string{"", "attach", "gap", "restart", "failover", "reattach", "timeout", "detach",
	"max-clones", "snapshot", "first"}

// String returns the reason's name ("gap").
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// Event reports a state change or a problem.
type Event struct {
	Kind   EventKind
	Reason Reason
	Clone  ID     // master side: the clone concerned
	Master ID     // the master concerned (followed, or the conflicting one)
	Epoch  uint64 // its epoch
	State  State  // EventState
	Seq    uint64
	Err    error
}

// String formats e on one line for logs.
func (e Event) String() string {
	s := e.Kind.String()
	if e.Reason != ReasonNone {
		s += " reason=" + e.Reason.String()
	}
	if e.Kind == EventState {
		s += " " + e.State.String()
	}
	if e.Clone != 0 {
		s += fmt.Sprintf(" clone=%d", e.Clone)
	}
	if e.Master != 0 {
		s += fmt.Sprintf(" master=%d epoch=%d", e.Master, e.Epoch)
	}
	if e.Kind == EventCloneLive {
		s += fmt.Sprintf(" seq=%d", e.Seq)
	}
	if e.Err != nil {
		s += " err=" + e.Err.Error()
	}
	return s
}
