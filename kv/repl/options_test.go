package repl

import (
	"errors"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
)

func TestOptionsDefaults(t *testing.T) {
	var m MasterOptions
	m.EnsureDefaults()
	if m.BufferEntries != DefaultBufferEntries || m.BufferBytes != DefaultBufferBytes ||
		m.ChunkBytes != DefaultChunkBytes || m.SnapshotWindow != DefaultSnapshotWindow ||
		m.MaxSyncs != DefaultMaxSyncs || m.MaxClones != DefaultMaxClones ||
		m.MaxResend != DefaultMaxResend || m.HeartbeatInterval != DefaultHeartbeatInterval ||
		m.RetryInterval != DefaultRetryInterval || m.CloneTimeout != DefaultCloneTimeout {
		t.Errorf("master defaults: %+v", m)
	}
	var c CloneOptions
	c.EnsureDefaults()
	if c.PendingEntries != DefaultPendingEntries || c.PendingBytes != DefaultPendingBytes ||
		c.MasterTimeout != DefaultMasterTimeout || c.SyncTimeout != DefaultSyncTimeout ||
		c.RetryInterval != DefaultRetryInterval || c.MaxNack != DefaultMaxNack {
		t.Errorf("clone defaults: %+v", c)
	}
	// Set fields are kept.
	m2 := MasterOptions{BufferEntries: 7}
	if m2.EnsureDefaults().BufferEntries != 7 {
		t.Error("EnsureDefaults overwrote a set field")
	}
}

func TestOptionsValidate(t *testing.T) {
	src := &masterStore{data: kvModel{}}
	good := func() MasterOptions {
		o := MasterOptions{Store: "s", ID: 1, Epoch: 1, Source: src}
		o.EnsureDefaults()
		return o
	}
	if o := good(); o.Validate() != nil {
		t.Fatalf("good options rejected: %v", o.Validate())
	}
	for name, mut := range map[string]func(*MasterOptions){
		"no store":       func(o *MasterOptions) { o.Store = "" },
		"long store":     func(o *MasterOptions) { o.Store = string(make([]byte, 256)) },
		"no id":          func(o *MasterOptions) { o.ID = 0 },
		"no epoch":       func(o *MasterOptions) { o.Epoch = 0 },
		"no source":      func(o *MasterOptions) { o.Source = nil },
		"negative bytes": func(o *MasterOptions) { o.BufferBytes = -1 },
		"zero window":    func(o *MasterOptions) { o.SnapshotWindow = -3 },
		"negative retry": func(o *MasterOptions) { o.RetryInterval = -time.Second },
		"timeout<=hb":    func(o *MasterOptions) { o.CloneTimeout = o.HeartbeatInterval },
	} {
		o := good()
		mut(&o)
		if err := o.Validate(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := NewMaster(o); err == nil {
			t.Errorf("%s: NewMaster accepted", name)
		}
	}
	for name, o := range map[string]CloneOptions{
		"no store":         {ID: 1},
		"no id":            {Store: "s"},
		"negative pending": {Store: "s", ID: 1, PendingEntries: -1},
		"negative timeout": {Store: "s", ID: 1, MasterTimeout: -1},
		"negative nack":    {Store: "s", ID: 1, MaxNack: -1},
	} {
		o.EnsureDefaults()
		if err := o.Validate(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("clone %s: %v", name, err)
		}
	}
}

func TestMasterInputs(t *testing.T) {
	m, err := NewMaster(MasterOptions{Store: "s", ID: 1, Epoch: 1, Source: &masterStore{data: kvModel{}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []Update{
		{Op: frame.OpGet, Key: key("k")},
		{Op: frame.OpPut, Key: key("k")},
		{Op: frame.OpErase},
		{Op: frame.OpErase, Key: key("k"), Value: val("v")},
		{Op: frame.OpClear, Key: key("k")},
		{Op: frame.OpExpire, Key: key("k"), ExpireAt: 5},
	} {
		if _, err := m.Propose(u); !errors.Is(err, ErrBadUpdate) {
			t.Errorf("Propose(%+v): %v", u, err)
		}
	}
	if m.LastSeq() != 0 || m.HasReady() {
		t.Fatal("a rejected update changed the master")
	}
	if err := m.Step(Msg{Kind: MsgAck, Store: "other", From: 10}); !errors.Is(err, ErrWrongStore) {
		t.Errorf("other store: %v", err)
	}
	if err := m.Step(Msg{Kind: MsgUpdate, Store: "s", From: 1, Epoch: 1}); !errors.Is(err, ErrWrongRole) {
		t.Errorf("own update: %v", err)
	}
	if err := m.Step(Msg{Kind: MsgAck, Store: "s"}); !errors.Is(err, ErrBadMsg) {
		t.Errorf("no sender: %v", err)
	}
	if err := m.Step(Msg{Kind: MsgAck, Store: "s", From: 10}); !errors.Is(err, ErrBadMsg) {
		t.Errorf("ack to no master: %v", err)
	}
	m.Close()
	if _, err := m.Propose(Update{Op: frame.OpClear}); !errors.Is(err, ErrClosed) {
		t.Errorf("Propose after Close: %v", err)
	}
	if err := m.Step(Msg{Kind: MsgAttach, Store: "s", From: 10}); !errors.Is(err, ErrClosed) {
		t.Errorf("Step after Close: %v", err)
	}
}

func TestCloneInputs(t *testing.T) {
	c, err := NewClone(CloneOptions{Store: "s", ID: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Step(Msg{Kind: MsgStatus, Store: "s", From: 1, Epoch: 1}); err != nil || c.HasReady() {
		t.Errorf("a detached clone reacted: %v", err)
	}
	if err := c.Step(Msg{Kind: MsgAck, Store: "s", From: 11}); !errors.Is(err, ErrWrongRole) {
		t.Errorf("clone kind: %v", err)
	}
	if err := c.Step(Msg{Kind: MsgUpdate, Store: "x", From: 1, Epoch: 1}); !errors.Is(err, ErrWrongStore) {
		t.Errorf("other store: %v", err)
	}
	if err := c.Step(Msg{Kind: MsgUpdate, Store: "s", From: 1}); !errors.Is(err, ErrBadMsg) {
		t.Errorf("no epoch: %v", err)
	}
	c.Attach()
	c.Attach() // no-op
	rd := c.Ready()
	if len(rd.Messages) != 1 || rd.Messages[0].Kind != MsgAttach || c.State() != StateSyncing {
		t.Fatalf("attach: %+v", rd)
	}
	c.Advance()
	if c.HasReady() {
		t.Fatal("Ready not cleared by Advance")
	}
	if ok, stale := c.Status().Serve(); ok || !stale {
		t.Errorf("a clone without data serves reads: %v %v", ok, stale)
	}
}

// TestAdvanceReuses: in steady state the Ready slices are reused, so the
// state machines allocate nothing per update (the frame codec is apart).
func TestAdvanceReuses(t *testing.T) {
	e := newEnv()
	e.quiet = true
	if err := e.startMaster(MasterOptions{ID: 1, Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	if err := e.startClone(CloneOptions{ID: 10}); err != nil {
		t.Fatal(err)
	}
	e.clones[10].c.Attach()
	if err := e.stabilize(); err != nil {
		t.Fatal(err)
	}
	m, c := e.masters[1].m, e.clones[10].c
	u := Update{Op: frame.OpPut, Key: key("k"), Value: val("v")}
	seq := uint64(0)
	step := func() {
		seq, _ = m.Propose(u)
		rd := m.Ready()
		msg := rd.Messages[0]
		m.Advance()
		_ = c.Step(msg)
		c.Ready()
		c.Advance()
	}
	step()
	// AllocsPerRun truncates the average: 0 means under one per update,
	// which is the retransmit ring growing by doubling.
	if n := testing.AllocsPerRun(1000, step); n != 0 {
		t.Errorf("%v allocations per update, want 0", n)
	}
	if c.Status().Applied != seq {
		t.Fatalf("clone at %d, master at %d", c.Status().Applied, seq)
	}
}
