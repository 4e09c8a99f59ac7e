package netio

import (
	"bytes"
	"fmt"

	"github.com/weirio/weir/frame"
)

// The handshake's decisions are pure functions of the messages and this
// node's identity (docs/PROTOCOL.md §6), tested without sockets; the
// engine applies them to connections.

// handshakeError is a refusal: the code to send and why.
type handshakeError struct {
	code frame.ErrCode
	text string
}

// acceptHello decides a listener's answer to a hello: the version to use,
// or a refusal.
func acceptHello(self frame.NodeID, h frame.Hello) (uint16, *handshakeError) {
	v := min(h.MaxVersion, frame.Version)
	if v < max(h.MinVersion, frame.MinVersion) {
		return 0, &handshakeError{frame.CodeVersion, fmt.Sprintf("no common protocol version: peer speaks %d..%d, this node %d..%d",
			h.MinVersion, h.MaxVersion, frame.MinVersion, frame.Version)}
	}
	if h.ID == self {
		return 0, &handshakeError{frame.CodeSelf, "connected to itself"}
	}
	if h.Role == frame.RoleClient && h.Features&frame.FeatForwarding != 0 {
		return 0, &handshakeError{frame.CodeProtocol, "a client cannot forward"}
	}
	return v, nil
}

// acceptWelcome decides whether a dialer accepts a welcome.
func acceptWelcome(self frame.NodeID, w frame.Welcome) *handshakeError {
	if w.Version < frame.MinVersion || w.Version > frame.Version {
		return &handshakeError{frame.CodeVersion, fmt.Sprintf("welcome chose version %d outside %d..%d", w.Version, frame.MinVersion, frame.Version)}
	}
	if w.ID == self {
		return &handshakeError{frame.CodeSelf, "connected to itself"}
	}
	return nil
}

// keepNew applies the one-connection-per-pair rule (§6.2): of two
// connections to the same peer, keep the one dialed by the node with the
// smaller id; if the same node dialed both, keep the newer one.
func keepNew(self, peer frame.NodeID, oldDialedBySelf, newDialedBySelf bool) bool {
	dialer := func(bySelf bool) frame.NodeID {
		if bySelf {
			return self
		}
		return peer
	}
	o, n := dialer(oldDialedBySelf), dialer(newDialedBySelf)
	if o == n {
		return true
	}
	return bytes.Compare(n[:], o[:]) < 0
}

// appendHello builds the dialer's hello and records the version of the
// filter it carries: a subscription made before the welcome arrives must
// still be sent after the handshake.
func (e *Engine) appendHello(st *connState, dst []byte) []byte {
	filter, fv := e.h.Filter()
	st.helloFilterVersion = fv
	var feat frame.Features
	if e.opts.Forwarding {
		feat |= frame.FeatForwarding
	}
	return frame.AppendHello(dst, frame.Hello{
		MinVersion: frame.MinVersion, MaxVersion: frame.Version, ID: e.opts.ID, Role: e.opts.Role,
		Features: feat, Name: []byte(e.opts.Name), Filter: filter,
	})
}

// handshakeFrame handles a frame before the handshake completed; false
// stops reading.
func (e *Engine) handshakeFrame(st *connState, f frame.Frame) bool {
	switch st.stage.Load() {
	case stageAwaitHello:
		if f.Kind() != frame.KindHello {
			st.fail(frame.CodeProtocol, fmt.Sprintf("expected hello, got %v", f.Kind()), nil)
			return false
		}
		h, err := frame.DecodeHello(f.Body(), &e.opts.Limits)
		if err != nil {
			st.fail(frame.CodeProtocol, "bad hello", err)
			return false
		}
		v, herr := acceptHello(e.opts.ID, h)
		if herr != nil {
			st.fail(herr.code, herr.text, nil)
			return false
		}
		filter, fv := e.h.Filter()
		p := e.newPeer(st, h.ID, string(h.Name), h.Role, h.Features, v, fv)
		if !e.register(st, p) {
			return false
		}
		var feat frame.Features
		if e.opts.Forwarding {
			feat |= frame.FeatForwarding
		}
		w := frame.AppendWelcome(nil, frame.Welcome{Version: v, ID: e.opts.ID, Role: e.opts.Role, Features: feat,
			Name: []byte(e.opts.Name), Filter: filter})
		_, _ = st.c.Write(w)
		e.up(st, p, h.Filter)
		return true
	case stageAwaitWelcome:
		if f.Kind() == frame.KindError || f.Kind() == frame.KindBye {
			m, _ := frame.DecodeReason(f.Body())
			var rerr error = &RemoteError{Bye: f.Kind() == frame.KindBye, Code: m.Code, Text: string(m.Text)}
			e.log.Warn("handshake refused by peer", "remote", st.c.RemoteAddr(), "code", m.Code.String(), "reason", string(m.Text))
			st.closeOnce.Do(func() {
				st.reason.Store(&rerr)
				st.stage.Store(stageClosing)
				_ = st.c.Close()
			})
			return false
		}
		if f.Kind() != frame.KindWelcome {
			st.fail(frame.CodeProtocol, fmt.Sprintf("expected welcome, got %v", f.Kind()), nil)
			return false
		}
		w, err := frame.DecodeWelcome(f.Body(), &e.opts.Limits)
		if err != nil {
			st.fail(frame.CodeProtocol, "bad welcome", err)
			return false
		}
		if herr := acceptWelcome(e.opts.ID, w); herr != nil {
			st.fail(herr.code, herr.text, nil)
			return false
		}
		p := e.newPeer(st, w.ID, string(w.Name), w.Role, w.Features, w.Version, st.helloFilterVersion)
		if !e.register(st, p) {
			return false
		}
		e.up(st, p, w.Filter)
		return true
	}
	return false
}

func (e *Engine) newPeer(st *connState, id frame.NodeID, name string, role frame.Role, feat frame.Features, v uint16, fv uint64) *Peer {
	p := &Peer{ID: id, Name: name, Role: role, Features: feat, Version: v, Addr: st.c.RemoteAddr(), FilterVersion: fv, st: st,
		out: newOutbox(e.opts.QueueFrames, e.opts.QueueBytes, e.opts.Policy)}
	if st.target != nil {
		p.DialAddr = st.target.addr
	}
	return p
}

// register makes p the peer for its node id, applying the duplicate rule.
// On false the connection has been closed.
func (e *Engine) register(st *connState, p *Peer) bool {
	st.remote = p.ID
	e.mu.Lock()
	if e.mu.closed {
		e.mu.Unlock()
		st.fail(frame.CodeShutdown, "node shutting down", nil)
		return false
	}
	old := e.mu.peers[p.ID]
	if old != nil && !keepNew(e.opts.ID, p.ID, old.Dialed(), p.Dialed()) {
		e.mu.Unlock()
		e.log.Debug("duplicate connection refused", "peer", p.Name, "addr", p.Addr)
		st.closeWith(frame.CodeDuplicate, "another connection between these nodes wins")
		return false
	}
	st.peer.Store(p)
	e.mu.peers[p.ID] = p
	e.mu.Unlock()
	if old != nil {
		e.log.Debug("duplicate connection replaced", "peer", p.Name, "old", old.Addr, "new", p.Addr)
		old.st.closeWith(frame.CodeDuplicate, "replaced by another connection between these nodes")
	}
	return true
}

func (e *Engine) up(st *connState, p *Peer, filter frame.StrList) {
	st.stage.Store(stageUp)
	st.lastSent.Store(e.now())
	if t := st.target; t != nil {
		e.mu.Lock()
		t.attempts = 0
		e.mu.Unlock()
	}
	e.log.Info("peer up", "peer", p.Name, "role", p.Role.String(), "addr", p.Addr, "dialed", p.Dialed())
	e.h.PeerUp(p, filter)
}
