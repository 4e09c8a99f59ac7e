package node

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/kv"
	"github.com/weirio/weir/kv/repl"
	"github.com/weirio/weir/netio"
)

// storeMaster is the goroutine that owns a master's kv.Store and
// repl.Master. Event loops and local callers post to its inbox (bounded);
// it applies requests in arrival order, proposes each resulting update to
// the replication channel right after applying it (so snapshots line up
// with sequence numbers), answers, and publishes what repl asks.
//
// Each turn of its loop takes everything queued, applies it as one group
// commit (one Pebble batch), expires at most one slice of due keys
// (StoreOptions.ExpireBatch), then sends the answers and the channel's
// messages at once: nothing on that path waits for a tick.
type storeMaster struct {
	s     *Store
	store *kv.Store
	m     *repl.Master

	mu struct {
		sync.Mutex
		q     []masterItem
		arena []byte // the queued remote frames, back to back
	}
	wake chan struct{}
	stop chan struct{}
	done chan struct{}

	items []masterItem // the turn's items (swapped with mu.q)
	arena []byte       // the turn's frames (swapped with mu.arena)
	// out holds the answers of the batch being applied: they are sent
	// once the batch's writes are durable (group commit).
	out []masterAnswer
	// replies caches the answer topic of each requester (bounded).
	replies map[uint64]string
	// The turn's open answer runs (store_answers.go): runs[runIndex[t]]
	// is topic t's, runs[lastRun] the one used last; answerBytes bounds a
	// run's entries.
	runs        []answerRun
	runIndex    map[string]int
	lastRun     int
	answerBytes int
	// Topics and scratch of the sending side.
	allTopic string
	buf      []byte
	// expireN is the size of the next expiry slice (see turn).
	expireN int
	// The expiry allowance while requests keep coming (see turn): keys
	// that may expire, times expireShare, and when a request came last.
	allowance int
	lastReq   time.Time
}

// minExpireSlice is the time an expiry slice may take even when no
// request was waiting: with nothing else to do, a wave advances in slices
// of about this length, back to back.
const minExpireSlice = 2 * time.Millisecond

// Expiry pacing. Each expired key costs the clones an update, as a write
// does, and on a busy machine the clones, the network and the writers
// share the CPU with the master. So while requests keep coming (one came
// within expireIdle), a wave removes at most one key per expireShare
// requests applied, so that it takes at most about a third of the updates;
// otherwise it runs in slices back to back. The allowance saves up to
// maxAllowance keys.
const (
	expireShare  = 2
	expireIdle   = 100 * time.Millisecond
	maxAllowance = 4096
)

// expireSliceSize returns the keys the next expiry slice may remove, given
// the slice size sized by cost (size), the allowance (keys times
// expireShare) and the time since the last request, and whether the
// allowance cut it short.
func expireSliceSize(size, allowance int, sinceReq time.Duration) (int, bool) {
	if sinceReq >= expireIdle {
		return size, false // no request is waiting: back to back
	}
	n := min(size, allowance/expireShare)
	return n, n < size
}

// masterAnswer is the answer to one request, sent after its batch commits.
type masterAnswer struct {
	fut   *Future // a local request; else reply and id
	reply string
	id    uint64
	res   frame.Value
	err   error
}

// masterItem is a request (local: fut set; remote: frame and requester)
// or a channel frame (ch set).
type masterItem struct {
	fut   *Future
	cmd   kv.Command
	frame []byte // the whole frame (remote), in the turn's arena
	from  uint64 // remote request: the requester's id (reply empty)
	reply string // remote request from a topic without a canonical id: where the answer goes
	ch    bool   // a replication channel frame
}

// maxReplyTopics bounds storeMaster.replies.
const maxReplyTopics = 4096

// replyTopic returns where the answer to it goes ("" for none).
func (sm *storeMaster) replyTopic(it *masterItem) string {
	if it.reply != "" || it.fut != nil || it.ch {
		return it.reply
	}
	t, ok := sm.replies[it.from]
	if !ok {
		if len(sm.replies) >= maxReplyTopics {
			clear(sm.replies)
		}
		t = storeTopic(sm.s.name, "r/"+idHex(it.from))
		sm.replies[it.from] = t
	}
	return t
}

// parseIDHex parses a canonical idHex (16 lower-case hex digits).
func parseIDHex(b []byte) (uint64, bool) {
	if len(b) != 16 {
		return 0, false
	}
	var id uint64
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			id = id<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			id = id<<4 | uint64(c-'a'+10)
		default:
			return 0, false
		}
	}
	return id, true
}

// AttachMaster makes this node the master of store name over backend b
// (kv.NewMemory() or a kv.OpenPebble one; the store owns it from now on).
// It fails with ErrMasterExists if a connected peer already is the master.
func (n *Node) AttachMaster(name string, b kv.Backend, opts StoreOptions) (*Store, error) {
	var arr [16]*netio.Peer
	if peers := n.peers.MatchString(storeTopic(name, "m/c"), arr[:0]); len(peers) > 0 {
		_ = b.Close()
		return nil, fmt.Errorf("%w: %q on %s", ErrMasterExists, name, peers[0].Name)
	}
	s, err := n.newStore(name, opts)
	if err != nil {
		_ = b.Close()
		return nil, err
	}
	st, err := kv.New(b, s.opts.Store)
	if err != nil {
		s.forget()
		_ = b.Close()
		return nil, err
	}
	// A batch of updates, or a run of answers, is one frame: keep it well
	// within the limit.
	batchBytes := max(1, min(repl.DefaultBatchBytes, n.opts.Net.Limits.MaxFrame/4))
	sm := &storeMaster{s: s, store: st, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		replies: make(map[uint64]string), allTopic: storeTopic(name, "c/all"), runIndex: make(map[string]int),
		answerBytes: batchBytes}
	mo := opts.Master
	mo.Store, mo.ID, mo.Epoch, mo.Source = name, masterID(n.opts.Name, name), uint64(time.Now().UnixNano()), snapshotSource{st}
	if mo.BatchBytes == 0 {
		mo.BatchBytes = batchBytes
	}
	if sm.m, err = repl.NewMaster(mo); err != nil {
		s.forget()
		_ = st.Close()
		return nil, err
	}
	s.master = sm
	// Requests and channel frames from peers (and from this node's own
	// clients of the store, were there any).
	reqPrefix := storeTopic(name, "m/r/")
	err = s.subscribeStore(storeTopic(name, "m/"), func(m Message) {
		// Hot path: no allocation; the frame is copied into the inbox's
		// arena.
		topic := m.Topic()
		var it masterItem
		if len(topic) >= len(reqPrefix) && string(topic[:len(reqPrefix)]) == reqPrefix {
			id := topic[len(reqPrefix):]
			var ok bool
			if it.from, ok = parseIDHex(id); !ok {
				it.reply = storeTopic(name, "r/"+string(id))
			}
		} else {
			it.ch = true
		}
		sm.postFrame(it, m.Bytes(), s.opts.Queue)
	})
	if err != nil {
		s.forget()
		sm.m.Close()
		_ = st.Close()
		return nil, err
	}
	go sm.run()
	return s, nil
}

// post queues an item; past the queue bound a request is refused at once.
func (sm *storeMaster) post(it masterItem, max int) { sm.postFrame(it, nil, max) }

// postFrame queues an item with a copy of frame b (if any).
func (sm *storeMaster) postFrame(it masterItem, b []byte, max int) {
	sm.mu.Lock()
	if len(sm.mu.q) >= max && !it.ch {
		sm.mu.Unlock()
		it.frame = b // refuse decodes it at once
		sm.refuse(it, frame.CodeLimit, "store queue full")
		return
	}
	if b != nil {
		n := len(sm.mu.arena)
		sm.mu.arena = append(sm.mu.arena, b...)
		it.frame = sm.mu.arena[n:len(sm.mu.arena):len(sm.mu.arena)]
	}
	sm.mu.q = append(sm.mu.q, it)
	sm.mu.Unlock()
	select {
	case sm.wake <- struct{}{}:
	default:
	}
}

func (sm *storeMaster) local(f *Future, cmd kv.Command) {
	// The command's views alias buffers the caller no longer touches
	// (kv.NewCommand encoded them afresh).
	sm.post(masterItem{fut: f, cmd: cmd}, sm.s.opts.Queue)
}

func (sm *storeMaster) refuse(it masterItem, code frame.ErrCode, text string) {
	if it.fut != nil {
		if code == frame.CodeLimit {
			sm.s.n.stats.storeLimit.Add(1)
		}
		it.fut.resolve(frame.None, &StoreError{Code: code, Text: text})
		return
	}
	if it.ch || (it.reply == "" && it.from == 0) {
		return
	}
	f, _, err := frame.Scan(it.frame, nil)
	if err != nil {
		return
	}
	c, err := frame.DecodeStoreCmd(f.Body(), nil)
	if err != nil {
		return
	}
	sm.answerNack(sm.replyTopic(&it), c.Seq, code, text)
}

func (sm *storeMaster) answerNack(topic string, id uint64, code frame.ErrCode, text string) {
	if code == frame.CodeLimit {
		sm.s.n.stats.storeLimit.Add(1)
	}
	_ = sm.s.n.publish(topic, nil, func(dst []byte, h frame.Header) []byte {
		return frame.AppendStoreNack(dst, unsafeBytes(topic), frame.StoreNack{Store: []byte(sm.s.name), Code: code, First: id, Last: id, Text: []byte(text)})
	})
}

func (sm *storeMaster) answer(topic string, id uint64, v frame.Value) {
	_ = sm.s.n.publish(topic, nil, func(dst []byte, h frame.Header) []byte {
		return frame.AppendStoreAck(dst, unsafeBytes(topic), sm.s.name, id, v)
	})
}

func (sm *storeMaster) run() {
	defer close(sm.done)
	tick := time.NewTicker(sm.s.opts.Tick)
	defer tick.Stop()
	expireDue := false // keys may be due beyond the slice expired last
	spin := false      // and expiry is not waiting for its allowance
	for {
		if spin {
			// Another slice of an expiry wave: after the requests that
			// came meanwhile, without waiting.
			select {
			case now := <-tick.C:
				sm.m.Tick(now)
			case <-sm.stop:
				sm.m.Close()
				sm.failQueued()
				return
			default:
			}
		} else {
			select {
			case <-sm.wake:
			case now := <-tick.C:
				sm.m.Tick(now)
				expireDue = true
			case <-sm.stop:
				sm.m.Close()
				sm.failQueued()
				return
			}
		}
		var paced bool
		expireDue, paced = sm.turn(expireDue)
		spin = expireDue && !paced
	}
}

// turn applies the requests queued, and one slice of the due keys if
// expire is set, as one group commit; then answers and sends. It reports
// whether more keys may be due, and whether the slice was cut short by
// the expiry allowance (then the next one waits for requests or a tick).
func (sm *storeMaster) turn(expire bool) (more, paced bool) {
	sm.mu.Lock()
	sm.items, sm.mu.q = sm.mu.q, sm.items[:0]
	sm.arena, sm.mu.arena = sm.mu.arena, sm.arena[:0]
	sm.mu.Unlock()
	lim := sm.s.n.opts.Net.Limits
	now := time.Now()
	start := now
	if len(sm.items) > 0 {
		sm.lastReq = now
		sm.allowance = min(sm.allowance+len(sm.items), maxAllowance*expireShare)
		// Group commit: the turn's writes go to the backend in one batch
		// (and with Pebble in sync mode, to the disk with one fsync); only
		// then are they acknowledged.
		sm.store.BeginGroup()
		for i := range sm.items {
			sm.handle(&sm.items[i], now, &lim)
			sm.items[i] = masterItem{}
		}
		err := sm.store.EndGroup()
		// The clones' updates first: their path to a reader is the longer
		// one.
		sm.send(now)
		sm.answerAll(err)
	}
	n := 0
	if expire {
		if sm.expireN <= 0 {
			sm.expireN = sm.s.opts.ExpireBatch
		}
		n, paced = expireSliceSize(sm.expireN, sm.allowance, now.Sub(sm.lastReq))
		more = n == 0
	}
	if n > 0 {
		// After the answers, so that requests never wait for a slice. A
		// slice gets about the time the turn's requests took (at least
		// minExpireSlice), however slow its reads (a wave of keys that
		// are no longer cached reads the disk).
		budget := max(minExpireSlice, time.Since(start))
		t0 := time.Now()
		scanned0 := sm.store.Backend().Metrics().IndexScanned
		sm.store.BeginGroup()
		ups, err := sm.store.Expire(now.UnixNano(), n)
		if err == nil {
			err = sm.store.EndGroup()
		} else {
			_ = sm.store.EndGroup()
		}
		if err != nil {
			sm.s.n.log.Error("store expiry failed", "store", sm.s.name, "err", err)
		}
		// Index entries examined: the keys removed, the stale entries
		// skipped (Pebble), and one that was not due yet.
		walked := int(sm.store.Backend().Metrics().IndexScanned - scanned0)
		sm.allowance = max(sm.allowance-walked*expireShare, 0)
		if d := time.Since(t0); walked > 0 && d > 0 {
			// The next slice's size from this one's cost per entry.
			per := d / time.Duration(walked)
			sm.expireN = min(max(int(budget/max(per, 1)), 16), sm.s.opts.ExpireBatch)
		}
		for _, u := range ups {
			sm.propose(u)
		}
		// More may be due if the slice removed keys or stopped at its
		// bound (Pebble counts stale entries against it, so a slice can
		// stop there having removed none).
		more = len(ups) > 0 || walked >= n
	}
	sm.send(now)
	if cap(sm.arena) > 4<<20 {
		sm.arena = nil // let a burst's buffer go
	}
	return more, paced
}

// send publishes what the replication channel asks.
func (sm *storeMaster) send(now time.Time) {
	if !sm.m.HasReady() {
		return
	}
	log := sm.s.n.log
	rd := sm.m.Ready()
	for i := range rd.Messages {
		msg := &rd.Messages[i]
		topic := sm.allTopic
		if msg.To != repl.Broadcast {
			topic = storeTopic(sm.s.name, "c/"+idHex(uint64(msg.To)))
		}
		var err error
		perr := sm.s.n.publish(topic, nil, func(dst []byte, h frame.Header) []byte {
			var b []byte
			b, err = repl.AppendFrame(dst, h, unsafeBytes(topic), msg, now)
			return b
		})
		if err == nil {
			err = perr
		}
		if err != nil {
			log.Warn("cannot send store channel message", "store", sm.s.name, "kind", msg.Kind.String(), "err", err)
		}
	}
	for _, ev := range rd.Events {
		if ev.Kind == repl.EventConflict {
			log.Error("two masters for one store", "store", sm.s.name, "err", ev.Err)
		} else {
			log.Debug("store master event", "store", sm.s.name, "event", ev.Kind, "clone", ev.Clone, "reason", ev.Reason)
		}
	}
	sm.m.Advance()
}

func (sm *storeMaster) handle(it *masterItem, now time.Time, lim *frame.Limits) {
	if it.fut != nil {
		res, err := sm.exec(it.cmd, now)
		sm.out = append(sm.out, masterAnswer{fut: it.fut, res: res, err: err})
		return
	}
	f, _, err := frame.Scan(it.frame, lim)
	if err != nil {
		return
	}
	if it.ch {
		msg, err := repl.DecodeFrame(f, lim, now)
		if err == nil {
			err = sm.m.Step(msg)
		}
		if err != nil {
			sm.s.n.log.Debug("store channel message ignored", "store", sm.s.name, "err", err)
		}
		return
	}
	if f.Kind() != frame.KindStoreCmd {
		return
	}
	c, err := frame.DecodeStoreCmd(f.Body(), lim)
	if err != nil {
		return // no request id to answer to
	}
	if string(c.Store) != sm.s.name {
		// Answered in its turn, as every request but a refused one.
		sm.out = append(sm.out, masterAnswer{reply: sm.replyTopic(it), id: c.Seq,
			err: &StoreError{Code: frame.CodeUnknownStore, Text: "no such store"}})
		return
	}
	res, err := sm.exec(kv.Command{Op: c.Op, Key: c.Key, Value: c.Value, Expiry: c.Expiry}, now)
	sm.out = append(sm.out, masterAnswer{reply: sm.replyTopic(it), id: c.Seq, res: res, err: err})
}

// answerAll sends the answers of a batch whose commit returned commitErr:
// if the writes may not be durable, requests that succeeded are answered
// with an internal error instead (their effect may or may not survive a
// crash, as with any write whose acknowledgement was lost).
func (sm *storeMaster) answerAll(commitErr error) {
	if commitErr != nil {
		sm.s.n.log.Error("store commit failed: answering the batch with errors", "store", sm.s.name, "err", commitErr)
	}
	for i := range sm.out {
		a := &sm.out[i]
		if a.err == nil && commitErr != nil {
			a.err = &StoreError{Code: frame.CodeInternal, Text: "not durable: " + commitErr.Error()}
		}
		var se *StoreError
		if a.err != nil {
			se = storeError(a.err)
		}
		switch {
		case a.fut != nil:
			if se != nil && se.Code == frame.CodeLimit {
				sm.s.n.stats.storeLimit.Add(1) // answerNack counts remote ones
			}
			a.fut.resolve(a.res, a.err)
		case a.err != nil:
			code, text := kv.Code(a.err), a.err.Error()
			if se != nil {
				code, text = se.Code, se.Text
			}
			sm.flushRunOf(a.reply) // the node's earlier answers go first
			sm.answerNack(a.reply, a.id, code, text)
		default:
			sm.batchAnswer(a.reply, a.id, a.res)
		}
	}
	sm.flushRuns()
	clear(sm.out) // the runs held on to the results until now
	sm.out = sm.out[:0]
}

// storeError returns the StoreError in err's chain, if any. (Kept out of
// line: errors.As's target escapes, and answerAll must not allocate for
// the answers that succeeded.)
func storeError(err error) *StoreError {
	var se *StoreError
	if errors.As(err, &se) {
		return se
	}
	return nil
}

// exec applies one request and proposes its update.
func (sm *storeMaster) exec(cmd kv.Command, now time.Time) (frame.Value, error) {
	if cmd.Op == frame.OpAttach || cmd.Op == frame.OpDetach || cmd.Op == frame.OpExpire {
		return frame.None, &StoreError{Code: frame.CodeBadRequest, Text: "not a request op: " + cmd.Op.String()}
	}
	res, u, err := sm.store.Exec(cmd, now.UnixNano())
	if err != nil {
		var se *StoreError
		if errors.As(err, &se) {
			return frame.None, err
		}
		return frame.None, &StoreError{Code: kv.Code(err), Text: err.Error()}
	}
	if u.Op != 0 {
		sm.propose(u)
	}
	return res, nil
}

// propose hands an update to the channel; Exec's slices are reused, so
// they are copied (into one allocation).
func (sm *storeMaster) propose(u kv.Update) {
	ru := repl.Update{Op: u.Op, ExpireAt: u.ExpireAt}
	if u.Key != nil || u.Value != nil {
		b := make([]byte, 0, len(u.Key)+len(u.Value))
		if u.Key != nil {
			b = append(b, u.Key...)
			ru.Key = b[:len(b):len(b)]
		}
		if u.Value != nil {
			b = append(b, u.Value...)
			ru.Value = b[len(u.Key):len(b):len(b)]
		}
	}
	if _, err := sm.m.Propose(ru); err != nil {
		sm.s.n.log.Error("cannot replicate store update", "store", sm.s.name, "err", err)
	}
}

func (sm *storeMaster) failQueued() {
	sm.mu.Lock()
	q := sm.mu.q
	sm.mu.q = nil
	sm.mu.Unlock()
	for _, it := range q {
		if it.fut != nil {
			it.fut.resolve(frame.None, ErrStoreClosed)
		}
	}
}

func (sm *storeMaster) close() error {
	close(sm.stop)
	<-sm.done
	return sm.store.Close()
}

// snapshotSource reads a point-in-time copy of a master's store for
// repl. The copy is taken when the snapshot opens (O(keys) memory for
// the duration of the transfer): the store goroutine keeps writing while
// the snapshot streams.
type snapshotSource struct{ st *kv.Store }

func (src snapshotSource) OpenSnapshot() (repl.SnapshotReader, error) {
	var ents []repl.Entry
	err := src.st.Snapshot(func(key, val []byte, expireAt int64) bool {
		ents = append(ents, repl.Entry{Key: append([]byte(nil), key...), Value: append([]byte(nil), val...), ExpireAt: expireAt})
		return true
	})
	if err != nil {
		return nil, err
	}
	return &sliceReader{ents: ents}, nil
}

type sliceReader struct{ ents []repl.Entry }

func (r *sliceReader) Next(dst []repl.Entry, maxBytes int) ([]repl.Entry, bool, error) {
	size := 0
	for len(r.ents) > 0 {
		e := r.ents[0]
		if len(dst) > 0 && size+e.Size() > maxBytes {
			break
		}
		dst = append(dst, e)
		size += e.Size()
		r.ents = r.ents[1:]
	}
	return dst, len(r.ents) == 0, nil
}

func (r *sliceReader) Close() { r.ents = nil }
