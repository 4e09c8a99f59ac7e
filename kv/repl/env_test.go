package repl

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
)

// This file is the test harness shared by the scripted (datadriven) and the
// randomized tests: masters and clones with map-model stores, wired by a
// simulated network that carries real weir frames (every message goes
// through AppendFrame, frame.Scan and DecodeFrame).

var epoch0 = time.Unix(0, 0) // the simulated clock starts here

// kvModel is a store's contents: encoded key → entry.
type kvModel map[string]Entry

func (s kvModel) apply(u Update) {
	switch u.Op {
	case frame.OpPut:
		s[string(u.Key)] = Entry{Key: u.Key, Value: u.Value, ExpireAt: u.ExpireAt}
	case frame.OpErase, frame.OpExpire:
		delete(s, string(u.Key))
	case frame.OpClear:
		clear(s)
	}
}

// format prints the contents sorted by key; withExp adds expiry instants.
func (s kvModel) format(withExp bool) string {
	keys := slices.Sorted(maps.Keys(s))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		e := s[k]
		p := FormatValue(e.Key) + "=" + FormatValue(e.Value)
		if withExp && e.ExpireAt != 0 {
			p += fmt.Sprintf("(expires=%s)", fmtInstant(e.ExpireAt))
		}
		parts = append(parts, p)
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// sameData compares keys and values (clone expiry instants drift by the
// delivery delay and are not compared).
func sameData(a, b kvModel) bool {
	if len(a) != len(b) {
		return false
	}
	for k, e := range a {
		f, ok := b[k]
		if !ok || string(e.Value) != string(f.Value) || (e.ExpireAt == 0) != (f.ExpireAt == 0) {
			return false
		}
	}
	return true
}

// masterStore is the master's backend and its SnapshotSource: a snapshot
// is a sorted copy taken at OpenSnapshot.
type masterStore struct {
	data   kvModel
	opened int
	fail   bool // OpenSnapshot fails
}

func (s *masterStore) OpenSnapshot() (SnapshotReader, error) {
	if s.fail {
		return nil, fmt.Errorf("injected snapshot failure")
	}
	s.opened++
	r := &sliceReader{store: s}
	for _, k := range slices.Sorted(maps.Keys(s.data)) {
		r.entries = append(r.entries, s.data[k])
	}
	return r, nil
}

type sliceReader struct {
	store   *masterStore
	entries []Entry
	closed  bool
}

func (r *sliceReader) Next(dst []Entry, maxBytes int) ([]Entry, bool, error) {
	if r.closed {
		panic("Next after Close")
	}
	size := 0
	for len(r.entries) > 0 {
		e := r.entries[0]
		if size > 0 && size+e.Size() > maxBytes {
			break
		}
		size += e.Size()
		dst = append(dst, e)
		r.entries = r.entries[1:]
	}
	return dst, len(r.entries) == 0, nil
}

func (r *sliceReader) Close() {
	if r.closed {
		panic("double Close")
	}
	r.closed = true
	r.store.opened--
}

// cloneStore is a clone's local store: the live copy, and the copy being
// built from a snapshot.
type cloneStore struct {
	data    kvModel
	staging kvModel // nil unless a snapshot is being applied
	seq     uint64  // sequence of the last change applied
}

func (s *cloneStore) apply(a Apply) error {
	switch a.Kind {
	case ApplyUpdate:
		if a.Seq != s.seq+1 {
			return fmt.Errorf("update %d applied after %d", a.Seq, s.seq)
		}
		if s.staging != nil {
			return fmt.Errorf("update %d during a snapshot", a.Seq)
		}
		s.data.apply(a.Update)
	case ApplySnapshotBegin:
		s.staging = kvModel{}
	case ApplySnapshotEntries:
		if s.staging == nil {
			return fmt.Errorf("snapshot entries outside a snapshot")
		}
		for _, e := range a.Entries {
			s.staging[string(e.Key)] = e
		}
	case ApplySnapshotEnd:
		if s.staging == nil {
			return fmt.Errorf("snapshot end outside a snapshot")
		}
		s.data, s.staging = s.staging, nil
	}
	s.seq = a.Seq
	return nil
}

type masterNode struct {
	m     *Master
	store *masterStore
	opts  MasterOptions
}

type cloneNode struct {
	c        *Clone
	store    *cloneStore
	opts     CloneOptions
	master   ID     // master followed at the last check
	maxEpoch uint64 // and its epoch
}

// packet is a frame in flight.
type packet struct {
	from, to ID
	bytes    []byte
	msg      Msg
	desc     string
	sentAt   time.Time
}

// env is a simulated cluster for one store.
type env struct {
	now       time.Time
	masters   map[ID]*masterNode
	clones    map[ID]*cloneNode
	net       []packet
	cut       map[[2]ID]bool // partitioned pairs (both orders stored)
	lim       frame.Limits
	out       *strings.Builder
	quiet     bool   // do not print (randomized test)
	quietNode string // advance: the node whose Ready is being printed
	// history holds the master's contents after each sequence, by
	// (epoch, seq): a live clone's store must equal the entry of its
	// (epoch, applied) after every Ready. Only one master ID is tracked.
	history map[[2]uint64]kvModel
	events  map[string]int // count by "kind/reason"
}

const storeName = "s"

var topic = []byte("weir/store/s")

func newEnv() *env {
	e := &env{now: epoch0, masters: map[ID]*masterNode{}, clones: map[ID]*cloneNode{}, cut: map[[2]ID]bool{},
		out: &strings.Builder{}, history: map[[2]uint64]kvModel{},
		events: map[string]int{}}
	e.lim.EnsureDefaults()
	return e
}

func (e *env) printf(format string, args ...any) {
	if !e.quiet {
		fmt.Fprintf(e.out, format, args...)
	}
}

func name(id ID, master bool) string {
	if master {
		return fmt.Sprintf("m%d", id)
	}
	return fmt.Sprintf("c%d", id)
}

func (e *env) isMaster(id ID) bool { _, ok := e.masters[id]; return ok }

func (e *env) nodeName(id ID) string { return name(id, e.isMaster(id)) }

// ids returns all node IDs, masters first, each group sorted.
func (e *env) ids() []ID {
	return append(slices.Sorted(maps.Keys(e.masters)), slices.Sorted(maps.Keys(e.clones))...)
}

// startMaster creates (or restarts, keeping its store) master id.
func (e *env) startMaster(opts MasterOptions) error {
	n := e.masters[opts.ID]
	if n == nil {
		n = &masterNode{store: &masterStore{data: kvModel{}}}
		e.masters[opts.ID] = n
	} else if n.m != nil {
		n.m.Close()
	}
	opts.Store, opts.Source = storeName, n.store
	m, err := NewMaster(opts)
	if err != nil {
		return err
	}
	m.Tick(e.now)
	n.m, n.opts = m, opts
	e.history[[2]uint64{opts.Epoch, 0}] = maps.Clone(n.store.data)
	return nil
}

func (e *env) startClone(opts CloneOptions) error {
	opts.Store = storeName
	c, err := NewClone(opts)
	if err != nil {
		return err
	}
	c.Tick(e.now)
	e.clones[opts.ID] = &cloneNode{c: c, store: &cloneStore{data: kvModel{}}, opts: opts}
	return nil
}

// propose applies u to master id's store and proposes it.
func (e *env) propose(id ID, u Update) error {
	n := e.masters[id]
	n.store.data.apply(u)
	seq, err := n.m.Propose(u)
	e.history[[2]uint64{n.opts.Epoch, seq}] = maps.Clone(n.store.data)
	return err
}

func (e *env) tick(d time.Duration, ids []ID) {
	e.now = e.now.Add(d)
	for _, id := range ids {
		if n, ok := e.masters[id]; ok {
			n.m.Tick(e.now)
		} else {
			e.clones[id].c.Tick(e.now)
		}
	}
}

// handleReady processes node id's Ready: sends its messages, applies its
// changes, prints its events. It reports whether there was anything.
func (e *env) handleReady(id ID) (bool, error) {
	var rd Ready
	var advance func()
	if n, ok := e.masters[id]; ok {
		if !n.m.HasReady() {
			return false, nil
		}
		rd, advance = n.m.Ready(), n.m.Advance
	} else {
		n := e.clones[id]
		if !n.c.HasReady() {
			return false, nil
		}
		rd, advance = n.c.Ready(), n.c.Advance
	}
	if !e.quiet {
		e.printf("%s ready:\n", e.nodeName(id))
	}
	for _, ev := range rd.Events {
		e.printf("  event %s\n", ev)
		e.events[ev.Kind.String()+"/"+ev.Reason.String()]++
	}
	for _, a := range rd.Apply {
		if !e.quiet {
			e.printf("  apply %s\n", fmtApply(a))
		}
		if err := e.clones[id].store.apply(a); err != nil {
			return true, fmt.Errorf("%s: %w", e.nodeName(id), err)
		}
	}
	for i := range rd.Messages {
		msg := &rd.Messages[i]
		desc := ""
		if !e.quiet {
			desc = msg.String()
			e.printf("  send %s\n", desc)
		}
		b, err := AppendFrame(nil, frame.Header{}, topic, msg, e.now)
		if err != nil {
			return true, fmt.Errorf("%s: cannot encode %s: %w", e.nodeName(id), msg, err)
		}
		for _, to := range e.recipients(id, msg) {
			pm := *msg
			pm.Updates = slices.Clone(pm.Updates) // the master reuses them after Advance
			e.net = append(e.net, packet{from: id, to: to, bytes: b, msg: pm, desc: desc, sentAt: e.now})
		}
	}
	advance()
	if n, ok := e.clones[id]; ok {
		return true, e.checkClone(id, n)
	}
	return true, nil
}

// checkClone checks a clone after its Ready: a live (or stale) clone's
// store is exactly the master's contents at its applied sequence, and it
// never went back to an older epoch of a master.
func (e *env) checkClone(id ID, n *cloneNode) error {
	st := n.c.Status()
	if st.Master == n.master && st.Epoch < n.maxEpoch {
		return fmt.Errorf("c%d went back from epoch %d to %d", id, n.maxEpoch, st.Epoch)
	}
	n.master, n.maxEpoch = st.Master, st.Epoch
	if st.State != StateLive && st.State != StateStale {
		return nil
	}
	if n.store.seq != st.Applied || n.store.staging != nil {
		return fmt.Errorf("c%d: store at %d (staging %v), clone applied %d", id, n.store.seq,
			n.store.staging != nil, st.Applied)
	}
	want, ok := e.history[[2]uint64{st.Epoch, st.Applied}]
	if !ok || len(e.masters) > 1 {
		return nil // several masters (conflict scripts): no single history
	}
	if !sameData(want, n.store.data) {
		return fmt.Errorf("c%d at epoch %d seq %d has %s, master had %s", id, st.Epoch, st.Applied,
			n.store.data.format(false), want.format(false))
	}
	return nil
}

// recipients: master messages go to their clone or all clones; clone
// messages go to every master (they share the master topic).
func (e *env) recipients(from ID, msg *Msg) []ID {
	if msg.Kind.FromMaster() {
		if msg.To != Broadcast {
			if _, ok := e.clones[msg.To]; ok {
				return []ID{msg.To}
			}
			return nil
		}
		return slices.Sorted(maps.Keys(e.clones))
	}
	return slices.Sorted(maps.Keys(e.masters))
}

// deliver hands packet p to its receiver through the frame codec.
func (e *env) deliver(p packet) error {
	if e.cut[[2]ID{p.from, p.to}] {
		if !e.quiet {
			e.printf("  %s->%s lost (partition): %s\n", e.nodeName(p.from), e.nodeName(p.to), p.desc)
		}
		return nil
	}
	f, need, err := frame.Scan(p.bytes, &e.lim)
	if err != nil || need != 0 || f.Len() != len(p.bytes) {
		return fmt.Errorf("bad frame (need %d): %v", need, err)
	}
	msg, err := DecodeFrame(f, &e.lim, e.now)
	if err != nil {
		return fmt.Errorf("cannot decode %s: %w", p.desc, err)
	}
	if err := sameMsg(p, msg, e.now); err != nil {
		return err
	}
	if !e.quiet {
		e.printf("  %s->%s %s\n", e.nodeName(p.from), e.nodeName(p.to), msg)
	}
	if n, ok := e.masters[p.to]; ok {
		err = n.m.Step(msg)
	} else if n, ok := e.clones[p.to]; ok {
		err = n.c.Step(msg)
	} else {
		return nil // the node is gone
	}
	if err != nil {
		e.printf("    step error: %v\n", err)
	}
	return nil
}

// sameMsg checks that the frame codec delivered what was sent: updates
// lose their To (they are the same for every clone), and expiry instants
// move by the time spent in flight.
func sameMsg(p packet, got Msg, now time.Time) error {
	want := p.msg
	if want.Kind == MsgUpdate {
		got.To = want.To
	}
	shift := func(at int64) int64 {
		if at == 0 {
			return 0
		}
		return max(at, p.sentAt.UnixNano()+1) + int64(now.Sub(p.sentAt))
	}
	want.Update.ExpireAt = shift(want.Update.ExpireAt)
	want.Updates = slices.Clone(want.Updates)
	for i := range want.Updates {
		want.Updates[i].ExpireAt = shift(want.Updates[i].ExpireAt)
	}
	want.Entries = slices.Clone(want.Entries)
	for i := range want.Entries {
		want.Entries[i].ExpireAt = shift(want.Entries[i].ExpireAt)
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Errorf("codec changed the message:\n sent %s\n got  %s", want, got)
	}
	return nil
}

// stabilize handles Ready and delivers messages until nothing moves.
func (e *env) stabilize() error {
	for rounds := 0; ; rounds++ {
		if rounds > 10000 {
			return fmt.Errorf("no quiescence after %d rounds", rounds)
		}
		moved := false
		for _, id := range e.ids() {
			ok, err := e.handleReady(id)
			if err != nil {
				return err
			}
			moved = moved || ok
		}
		if len(e.net) > 0 {
			e.printf("deliver:\n")
			pkts := e.net
			e.net = nil
			for _, p := range pkts {
				if err := e.deliver(p); err != nil {
					return err
				}
			}
			moved = true
		}
		if !moved {
			return nil
		}
	}
}

// state prints every node's state and store.
func (e *env) state() string {
	var b strings.Builder
	for _, id := range slices.Sorted(maps.Keys(e.masters)) {
		n := e.masters[id]
		mm := n.m.Metrics()
		fmt.Fprintf(&b, "m%d: epoch=%d last=%d buffer=%d..%d (%d entries)", id, n.opts.Epoch, mm.LastSeq,
			mm.FirstSeq, mm.LastSeq, mm.BufferEntries)
		for _, c := range n.m.Clones() {
			fmt.Fprintf(&b, " c%d:%s@%d", c.ID, c.Phase, c.Acked)
		}
		fmt.Fprintf(&b, "\n  %s\n", n.store.data.format(true))
	}
	for _, id := range slices.Sorted(maps.Keys(e.clones)) {
		n := e.clones[id]
		st := n.c.Status()
		ok, stale := st.Serve()
		fmt.Fprintf(&b, "c%d: %s master=%d epoch=%d applied=%d serve=%v stale=%v", id, st.State, st.Master,
			st.Epoch, st.Applied, ok, stale)
		if !st.LastHeard.IsZero() {
			fmt.Fprintf(&b, " heard=%v", st.LastHeard.Sub(epoch0))
		}
		fmt.Fprintf(&b, "\n  %s", n.store.data.format(false))
		if m, ok := e.masters[st.Master]; ok && sameData(m.store.data, n.store.data) {
			b.WriteString(" (= master)")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func fmtApply(a Apply) string {
	switch a.Kind {
	case ApplyUpdate:
		m := Msg{Kind: MsgUpdate, Seq: a.Seq, Update: a.Update}
		s := m.String()
		return "update" + s[strings.Index(s, " seq="):]
	case ApplySnapshotEntries:
		m := Msg{Kind: MsgSnapshot, Entries: a.Entries}
		s := m.String()
		return fmt.Sprintf("%s seq=%d %s", a.Kind, a.Seq, s[strings.Index(s, "["):])
	}
	return fmt.Sprintf("%s seq=%d", a.Kind, a.Seq)
}

// Encoding of test keys and values: strings; values that parse as
// integers are counts.
func key(s string) []byte { return frame.AppendString(nil, []byte(s)) }

func val(s string) []byte {
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return frame.AppendValue(nil, frame.NewCount(n))
	}
	return frame.AppendString(nil, []byte(s))
}

// parseUpdate reads one line: "put KEY VAL [ttl=DUR]", "erase KEY",
// "expire KEY", "clear".
func (e *env) parseUpdate(line string) (Update, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return Update{}, fmt.Errorf("empty update")
	}
	switch {
	case f[0] == "put" && (len(f) == 3 || len(f) == 4):
		u := Update{Op: frame.OpPut, Key: key(f[1]), Value: val(f[2])}
		if len(f) == 4 {
			d, err := time.ParseDuration(strings.TrimPrefix(f[3], "ttl="))
			if err != nil {
				return Update{}, err
			}
			u.ExpireAt = e.now.Add(d).UnixNano()
		}
		return u, nil
	case f[0] == "erase" && len(f) == 2:
		return Update{Op: frame.OpErase, Key: key(f[1])}, nil
	case f[0] == "expire" && len(f) == 2:
		return Update{Op: frame.OpExpire, Key: key(f[1])}, nil
	case f[0] == "clear" && len(f) == 1:
		return Update{Op: frame.OpClear}, nil
	}
	return Update{}, fmt.Errorf("bad update %q", line)
}

func TestEnvSanity(t *testing.T) {
	e := newEnv()
	if err := e.startMaster(MasterOptions{ID: 1, Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	if err := e.startClone(CloneOptions{ID: 10}); err != nil {
		t.Fatal(err)
	}
	e.clones[10].c.Attach()
	if err := e.propose(1, Update{Op: frame.OpPut, Key: key("a"), Value: val("1")}); err != nil {
		t.Fatal(err)
	}
	if err := e.stabilize(); err != nil {
		t.Fatal(err)
	}
	t.Log(e.out.String())
	if !sameData(e.masters[1].store.data, e.clones[10].store.data) || e.clones[10].c.State() != StateLive {
		t.Fatalf("not in sync:\n%s", e.state())
	}
}
