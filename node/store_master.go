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
type storeMaster struct {
	s     *Store
	store *kv.Store
	m     *repl.Master

	mu struct {
		sync.Mutex
		q []masterItem
	}
	wake chan struct{}
	stop chan struct{}
	done chan struct{}

	// out holds the answers of the batch being applied: they are sent
	// once the batch's writes are durable (group commit).
	out []masterAnswer
}

// masterAnswer is the answer to one request, sent after its batch commits.
type masterAnswer struct {
	fut   *Future // a local request; else reply and id
	reply string
	id    uint64
	res   frame.Value
	err   error
}

// masterItem is a request (local: fut set; remote: body and reply topic)
// or a channel frame (ch set).
type masterItem struct {
	fut   *Future
	cmd   kv.Command
	frame []byte // a copy of the whole frame (remote)
	reply string // remote request: where the answer goes
	ch    bool   // a replication channel frame
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
	sm := &storeMaster{s: s, store: st, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	mo := opts.Master
	mo.Store, mo.ID, mo.Epoch, mo.Source = name, masterID(n.opts.Name, name), uint64(time.Now().UnixNano()), snapshotSource{st}
	if sm.m, err = repl.NewMaster(mo); err != nil {
		s.forget()
		_ = st.Close()
		return nil, err
	}
	s.master = sm
	// Requests and channel frames from peers (and from this node's own
	// clients of the store, were there any).
	err = s.subscribeStore(storeTopic(name, "m/"), func(m Message) {
		topic := string(m.Topic())
		it := masterItem{frame: append([]byte(nil), m.Bytes()...)}
		if id, ok := cutPrefix(topic, storeTopic(name, "m/r/")); ok {
			it.reply = storeTopic(name, "r/"+id)
		} else {
			it.ch = true
		}
		sm.post(it, s.opts.Queue)
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

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}

// post queues an item; past the queue bound a request is refused at once.
func (sm *storeMaster) post(it masterItem, max int) {
	sm.mu.Lock()
	if len(sm.mu.q) >= max && !it.ch {
		sm.mu.Unlock()
		sm.refuse(it, frame.CodeLimit, "store queue full")
		return
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
	if it.reply == "" {
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
	sm.answerNack(it.reply, c.Seq, code, text)
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
	var items []masterItem
	var buf []byte
	lim := sm.s.n.opts.Net.Limits
	log := sm.s.n.log
	more := make(chan struct{}, 1) // more keys are due than one round expired
	expire := func(now time.Time) {
		sm.store.BeginGroup()
		ups, err := sm.store.Expire(now.UnixNano(), sm.s.opts.ExpireBatch)
		if err == nil {
			err = sm.store.EndGroup()
		}
		if err != nil {
			log.Error("store expiry failed", "store", sm.s.name, "err", err)
		}
		for _, u := range ups {
			sm.propose(u)
		}
		if len(ups) >= sm.s.opts.ExpireBatch {
			select {
			case more <- struct{}{}:
			default:
			}
		}
	}
	for {
		select {
		case <-sm.wake:
		case <-more:
			expire(time.Now())
		case now := <-tick.C:
			sm.m.Tick(now)
			expire(now)
		case <-sm.stop:
			sm.m.Close()
			sm.failQueued()
			return
		}
		sm.mu.Lock()
		items = append(items[:0], sm.mu.q...)
		clear(sm.mu.q)
		sm.mu.q = sm.mu.q[:0]
		sm.mu.Unlock()
		now := time.Now()
		// Group commit: with Pebble in sync mode the batch's writes reach
		// the disk with one fsync, and only then are they acknowledged.
		sm.store.BeginGroup()
		for i := range items {
			sm.handle(&items[i], now, &lim)
			items[i] = masterItem{}
		}
		sm.answerAll(sm.store.EndGroup())
		if sm.m.HasReady() {
			rd := sm.m.Ready()
			for i := range rd.Messages {
				msg := &rd.Messages[i]
				topic := storeTopic(sm.s.name, "c/all")
				if msg.To != repl.Broadcast {
					topic = storeTopic(sm.s.name, "c/"+idHex(uint64(msg.To)))
				}
				var err error
				b := buf[:0]
				err = sm.s.n.publish(topic, nil, func(dst []byte, h frame.Header) []byte {
					b, err = repl.AppendFrame(dst, h, unsafeBytes(topic), msg, now)
					return b
				})
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
	}
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
		sm.answerNack(it.reply, c.Seq, frame.CodeUnknownStore, "no such store")
		return
	}
	res, err := sm.exec(kv.Command{Op: c.Op, Key: c.Key, Value: c.Value, Expiry: c.Expiry}, now)
	sm.out = append(sm.out, masterAnswer{reply: it.reply, id: c.Seq, res: res, err: err})
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
		errors.As(a.err, &se)
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
			sm.answerNack(a.reply, a.id, code, text)
		default:
			sm.answer(a.reply, a.id, a.res)
		}
		sm.out[i] = masterAnswer{}
	}
	sm.out = sm.out[:0]
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
// they are copied.
func (sm *storeMaster) propose(u kv.Update) {
	ru := repl.Update{Op: u.Op, Key: append([]byte(nil), u.Key...), ExpireAt: u.ExpireAt}
	if u.Value != nil {
		ru.Value = append([]byte(nil), u.Value...)
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
