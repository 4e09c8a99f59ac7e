package node

import (
	"sync"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/kv"
	"github.com/weirio/weir/kv/repl"
)

// storeClone is the goroutine that owns a clone's repl.Clone and applies
// its master's updates to a local memory store, which readers query under
// a read lock. A resync builds the new copy aside and swaps it in whole.
type storeClone struct {
	s *Store
	c *repl.Clone

	mu struct {
		sync.RWMutex
		store  *kv.Store
		status repl.Status
	}
	aside *kv.Store // the copy being built from a snapshot

	inbox struct {
		sync.Mutex
		q [][]byte
	}
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

// AttachClone makes this node a clone of store name: it attaches to the
// master among its peers, keeps a full copy in memory, answers reads
// locally and sends writes to the master.
func (n *Node) AttachClone(name string, opts StoreOptions) (*Store, error) {
	s, err := n.newStore(name, opts)
	if err != nil {
		return nil, err
	}
	st, err := kv.New(kv.NewMemory(), s.opts.Store)
	if err != nil {
		s.forget()
		return nil, err
	}
	sc := &storeClone{s: s, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	sc.mu.store = st
	co := opts.Clone
	co.Store, co.ID = name, repl.ID(n.origin)
	if sc.c, err = repl.NewClone(co); err != nil {
		s.forget()
		_ = st.Close()
		return nil, err
	}
	s.clone = sc
	post := func(m Message) {
		b := append([]byte(nil), m.Bytes()...)
		sc.inbox.Lock()
		if len(sc.inbox.q) < s.opts.Queue {
			sc.inbox.q = append(sc.inbox.q, b)
		} // else dropped: the channel's acks and nacks recover it
		sc.inbox.Unlock()
		select {
		case sc.wake <- struct{}{}:
		default:
		}
	}
	for _, sub := range []string{"c/all", "c/" + idHex(n.origin)} {
		if err := s.subscribeStore(storeTopic(name, sub), post); err != nil {
			s.Close()
			return nil, err
		}
	}
	if err := s.listenReplies(); err != nil {
		s.Close()
		return nil, err
	}
	sc.c.Attach()
	go sc.run()
	return s, nil
}

func (sc *storeClone) run() {
	defer close(sc.done)
	tick := time.NewTicker(sc.s.opts.Tick)
	defer tick.Stop()
	var q [][]byte
	lim := sc.s.n.opts.Net.Limits
	log := sc.s.n.log
	chTopic := storeTopic(sc.s.name, "m/c")
	for {
		select {
		case <-sc.wake:
		case now := <-tick.C:
			sc.c.Tick(now)
		case <-sc.stop:
			sc.c.Detach()
			sc.flush(chTopic, time.Now())
			return
		}
		now := time.Now() // after the wait: expiry instants are re-based on it
		sc.inbox.Lock()
		q = append(q[:0], sc.inbox.q...)
		clear(sc.inbox.q)
		sc.inbox.q = sc.inbox.q[:0]
		sc.inbox.Unlock()
		for i, b := range q {
			q[i] = nil
			f, _, err := frame.Scan(b, &lim)
			if err != nil {
				continue
			}
			msg, err := repl.DecodeFrame(f, &lim, now)
			if err == nil {
				err = sc.c.Step(msg)
			}
			if err != nil {
				log.Debug("store channel message ignored", "store", sc.s.name, "err", err)
			}
		}
		sc.flush(chTopic, now)
	}
}

// applyPerLock bounds the updates applied under one hold of the clone's
// lock.
const applyPerLock = 256

// prefetch hints the keys of the updates that open apply (at most
// applyPerLock, the ones the next hold of the lock applies) to the store,
// so that their cache misses overlap. sc.mu is held.
func (sc *storeClone) prefetch(apply []repl.Apply) {
	for i := range min(len(apply), applyPerLock) {
		if apply[i].Kind != repl.ApplyUpdate {
			return
		}
		sc.mu.store.Prefetch(apply[i].Update.Key)
	}
}

// flush applies and sends what the clone's Ready holds.
func (sc *storeClone) flush(chTopic string, now time.Time) {
	log := sc.s.n.log
	if !sc.c.HasReady() {
		sc.publishStatus()
		return
	}
	rd := sc.c.Ready()
	// Updates in a row are applied under one lock, taken again every
	// applyPerLock updates so that reads do not wait for a long batch.
	locked, held := false, 0
	unlock := func() {
		if locked {
			sc.mu.Unlock()
			locked = false
		}
	}
	for i := range rd.Apply {
		a := &rd.Apply[i]
		switch a.Kind {
		case repl.ApplySnapshotBegin:
			unlock()
			if sc.aside != nil {
				_ = sc.aside.Close()
			}
			sc.aside, _ = kv.New(kv.NewMemory(), sc.s.opts.Store)
		case repl.ApplySnapshotEntries:
			for _, e := range a.Entries {
				if sc.aside != nil {
					if err := sc.aside.ApplyUpdate(kv.Update{Op: frame.OpPut, Key: e.Key, Value: e.Value, ExpireAt: e.ExpireAt}); err != nil {
						log.Error("cannot apply snapshot entry", "store", sc.s.name, "err", err)
					}
				}
			}
		case repl.ApplySnapshotEnd:
			unlock()
			if sc.aside != nil {
				sc.mu.Lock()
				old := sc.mu.store
				sc.mu.store = sc.aside
				sc.mu.Unlock()
				sc.aside = nil
				_ = old.Close()
			}
		case repl.ApplyUpdate:
			u := a.Update
			if held == applyPerLock {
				unlock()
			}
			if !locked {
				sc.mu.Lock()
				locked, held = true, 0
				sc.prefetch(rd.Apply[i:])
			}
			held++
			err := sc.mu.store.ApplyUpdate(kv.Update{Op: u.Op, Key: u.Key, Value: u.Value, ExpireAt: u.ExpireAt})
			if err != nil {
				log.Error("cannot apply store update", "store", sc.s.name, "err", err)
			}
		}
	}
	unlock()
	for i := range rd.Messages {
		msg := &rd.Messages[i]
		var err error
		perr := sc.s.n.publish(chTopic, nil, func(dst []byte, h frame.Header) []byte {
			var b []byte
			b, err = repl.AppendFrame(dst, h, unsafeBytes(chTopic), msg, now)
			return b
		})
		if err == nil {
			err = perr
		}
		if err != nil {
			log.Warn("cannot send store channel message", "store", sc.s.name, "kind", msg.Kind.String(), "err", err)
		}
	}
	for _, ev := range rd.Events {
		if ev.Kind == repl.EventConflict {
			log.Error("two masters for one store", "store", sc.s.name, "err", ev.Err)
		} else {
			log.Debug("store clone event", "store", sc.s.name, "event", ev.Kind, "reason", ev.Reason)
		}
	}
	sc.c.Advance()
	sc.publishStatus()
}

func (sc *storeClone) publishStatus() {
	st := sc.c.Status()
	sc.mu.Lock()
	sc.mu.status = st
	sc.mu.Unlock()
}

func (sc *storeClone) status() repl.Status {
	sc.mu.RLock()
	defer sc.mu.RUnlock()
	return sc.mu.status
}

// read answers a read from the local copy (any goroutine).
func (sc *storeClone) read(op frame.StoreOp, key, val frame.Value) (frame.Value, error) {
	// kv.Store is single-owner (its scratch space and counters), so even
	// a read takes the lock exclusively.
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if ok, _ := sc.mu.status.Serve(); !ok {
		return frame.None, ErrNotSynced
	}
	res, _, err := sc.mu.store.Exec(kv.NewCommand(op, key, val, 0), time.Now().UnixNano())
	if err != nil {
		return frame.None, &StoreError{Code: kv.Code(err), Text: err.Error()}
	}
	return res, nil
}

func (sc *storeClone) close() error {
	close(sc.stop)
	<-sc.done
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.aside != nil {
		_ = sc.aside.Close()
	}
	return sc.mu.store.Close()
}
