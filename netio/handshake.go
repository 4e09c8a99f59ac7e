package netio

import (
	"bytes"
	"fmt"

	"github.com/weirio/weir/frame"
)

// The handshake's decisions are pure functions of the messages and this
// node's identity (docs/PROTOCOL.md §6), tested without sockets; the
// engine applies them to connections.

// handshakeError is a refusal: the code to send and why, and the limit
// that was hit, if any.
type handshakeError struct {
	code  frame.ErrCode
	text  string
	limit Limit
}

// acceptHello decides a listener's answer to a hello: the version to use,
// or a refusal. maxSubs bounds the hello's filter (MaxSubscriptions).
func acceptHello(self frame.NodeID, maxSubs int, h frame.Hello) (uint16, *handshakeError) {
	v := min(h.MaxVersion, frame.Version)
	if v < max(h.MinVersion, frame.MinVersion) {
		return 0, &handshakeError{code: frame.CodeVersion, text: fmt.Sprintf("no common protocol version: peer speaks %d..%d, this node %d..%d",
			h.MinVersion, h.MaxVersion, frame.MinVersion, frame.Version)}
	}
	if h.ID == self {
		return 0, &handshakeError{code: frame.CodeSelf, text: "connected to itself"}
	}
	if h.Role == frame.RoleClient && h.Features&frame.FeatForwarding != 0 {
		return 0, &handshakeError{code: frame.CodeProtocol, text: "a client cannot forward"}
	}
	if herr := checkFilter(maxSubs, h.Filter); herr != nil {
		return 0, herr
	}
	return v, nil
}

// acceptWelcome decides whether a dialer accepts a welcome.
func acceptWelcome(self frame.NodeID, maxSubs int, w frame.Welcome) *handshakeError {
	if w.Version < frame.MinVersion || w.Version > frame.Version {
		return &handshakeError{code: frame.CodeVersion, text: fmt.Sprintf("welcome chose version %d outside %d..%d", w.Version, frame.MinVersion, frame.Version)}
	}
	if w.ID == self {
		return &handshakeError{code: frame.CodeSelf, text: "connected to itself"}
	}
	return checkFilter(maxSubs, w.Filter)
}

func checkFilter(maxSubs int, f frame.StrList) *handshakeError {
	if f.Len() > maxSubs {
		return &handshakeError{code: frame.CodeLimit, limit: LimitSubscriptions,
			text: fmt.Sprintf("filter of %d prefixes exceeds the limit of %d", f.Len(), maxSubs)}
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

// pendingPeer is a hello a listener accepted, waiting for the dialer's
// proof: the peer is registered (and its filter applied) only once the
// proof checks, so an unauthenticated connection cannot displace an
// established one (§6.2) nor subscribe to anything.
type pendingPeer struct {
	id            frame.NodeID
	name          string
	role          frame.Role
	feat          frame.Features
	version       uint16
	filterVersion uint64
	filter        frame.StrList // a copy: the hello was a view into the read buffer
}

func (e *Engine) features() frame.Features {
	if e.opts.Forwarding {
		return frame.FeatForwarding
	}
	return 0
}

// appendHello builds the dialer's hello and records the version of the
// filter it carries: a subscription made before the welcome arrives must
// still be sent after the handshake. With a secret it draws the dialer's
// nonce.
func (e *Engine) appendHello(st *connState, dst []byte) []byte {
	filter, fv := e.h.Filter()
	st.helloFilterVersion = fv
	h := frame.Hello{MinVersion: frame.MinVersion, MaxVersion: frame.Version, ID: e.opts.ID, Role: e.opts.Role,
		Features: e.features(), Name: []byte(e.opts.Name), Filter: filter}
	if e.opts.Secret != nil {
		st.auth = &authCtx{dialerNonce: newNonce(), dialer: e.opts.ID, dialerRole: e.opts.Role}
		h.Features |= frame.FeatAuth
		h.Auth = st.auth.dialerNonce[:]
	}
	return frame.AppendHello(dst, h)
}

// refuse closes a connection whose handshake failed and counts the limit
// it hit, if any.
func (e *Engine) refuse(st *connState, herr *handshakeError) {
	if st.fail(herr.code, herr.text, nil) && herr.limit != 0 {
		e.countLimit(herr.limit)
	}
}

// handshakeFrame handles a frame before the handshake completed; false
// stops reading. It runs on the connection's owner.
func (e *Engine) handshakeFrame(st *connState, f frame.Frame) bool {
	switch st.stage.Load() {
	case stageAwaitHello:
		return e.helloFrame(st, f)
	case stageAwaitAuth:
		if f.Kind() == frame.KindError || f.Kind() == frame.KindBye {
			st.remoteClosed(reasonFrame(f))
			return false
		}
		if herr := authFrameCheck(e.opts.Secret, st.auth, f); herr != nil {
			e.refuse(st, herr)
			return false
		}
		pp := st.pending
		st.pending, st.auth = nil, nil
		p := e.newPeer(st, pp.id, pp.name, pp.role, pp.feat, pp.version, pp.filterVersion)
		if !e.register(st, p) {
			return false
		}
		e.up(st, p, pp.filter)
		return true
	case stageAwaitWelcome:
		if f.Kind() == frame.KindError || f.Kind() == frame.KindBye {
			st.remoteClosed(reasonFrame(f))
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
		herr := acceptWelcome(e.opts.ID, e.opts.MaxSubscriptions, w)
		var proof []byte
		if herr == nil {
			proof, herr = welcomeAuthCheck(e.opts.Secret, st.auth, w)
		}
		if herr != nil {
			e.refuse(st, herr)
			return false
		}
		st.auth = nil
		if proof != nil {
			st.c.write(frame.AppendAuth(nil, proof))
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

// helloFrame answers a dialer's hello: welcome (and, without a secret, the
// peer is up), or error and close.
func (e *Engine) helloFrame(st *connState, f frame.Frame) bool {
	if f.Kind() != frame.KindHello {
		st.fail(frame.CodeProtocol, fmt.Sprintf("expected hello, got %v", f.Kind()), nil)
		return false
	}
	h, err := frame.DecodeHello(f.Body(), &e.opts.Limits)
	if err != nil {
		st.fail(frame.CodeProtocol, "bad hello", err)
		return false
	}
	v, herr := acceptHello(e.opts.ID, e.opts.MaxSubscriptions, h)
	var nonce [nonceLen]byte
	if herr == nil {
		nonce, herr = helloAuth(e.opts.Secret, h)
	}
	if herr != nil {
		e.refuse(st, herr)
		return false
	}
	filter, fv := e.h.Filter()
	w := frame.Welcome{Version: v, ID: e.opts.ID, Role: e.opts.Role, Features: e.features(), Name: []byte(e.opts.Name), Filter: filter}
	if e.opts.Secret == nil {
		p := e.newPeer(st, h.ID, string(h.Name), h.Role, h.Features, v, fv)
		if !e.register(st, p) {
			return false
		}
		st.c.write(frame.AppendWelcome(nil, w))
		e.up(st, p, h.Filter)
		return true
	}
	st.auth = &authCtx{dialerNonce: nonce, listenerNonce: newNonce(), dialer: h.ID, listener: e.opts.ID,
		dialerRole: h.Role, listenerRole: e.opts.Role}
	st.pending = &pendingPeer{id: h.ID, name: string(h.Name), role: h.Role, feat: h.Features, version: v,
		filterVersion: fv, filter: frame.MakeStrList(h.Filter.Strings()...)}
	w.Features |= frame.FeatAuth
	w.Auth = welcomeAuth(e.opts.Secret, st.auth)
	if !st.stage.CompareAndSwap(stageAwaitHello, stageAwaitAuth) {
		return false // closing (a timeout or an eviction)
	}
	st.c.write(frame.AppendWelcome(nil, w))
	return true
}

func (e *Engine) newPeer(st *connState, id frame.NodeID, name string, role frame.Role, feat frame.Features, v uint16, fv uint64) *Peer {
	p := &Peer{ID: id, Name: name, Role: role, Features: feat, Version: v, Addr: st.c.RemoteAddr(), FilterVersion: fv,
		TLS: st.tls, CertName: st.certName, st: st, out: newOutbox(e.opts.QueueFrames, e.opts.QueueBytes, e.opts.Policy, e.evictKinds)}
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
		st.closeWith(frame.CodeShutdown, "node shutting down")
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

// up completes the handshake: the connection carries frames, and the
// Handler hears of the peer. A connection closed meanwhile (a timeout)
// stays closing; the Handler still sees PeerUp, then PeerDown.
func (e *Engine) up(st *connState, p *Peer, filter frame.StrList) {
	if cur := st.stage.Load(); cur != stageClosing {
		st.stage.CompareAndSwap(cur, stageUp)
	}
	st.lastSent.Store(e.now())
	e.mu.Lock()
	e.handshakeDoneLocked(st)
	if t := st.target; t != nil {
		t.attempts = 0
	}
	e.mu.Unlock()
	e.log.Info("peer up", "peer", p.Name, "role", p.Role.String(), "addr", p.Addr, "dialed", p.Dialed(), "tls", p.TLS)
	e.h.PeerUp(p, filter)
}
