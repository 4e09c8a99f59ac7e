package netio

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/weirio/weir/frame"
)

// The TLS transport. gnet has no TLS, so a TLS connection runs on two
// goroutines of its own: a reader that owns the connection (it runs the
// TLS handshake, then scans frames through Engine.consume — the same
// handshake and frame code as the gnet loop) and a writer that flushes
// the peer's outbox (connState.flush, as the loop does on a wake). Both
// belong to the engine (Engine.wg) and end when the connection does.

// tlsFinishTimeout bounds the last write of a TLS connection being closed
// (the frames still queued, the bye or error frame, close_notify): a peer
// that stopped reading cannot hold the writer.
const tlsFinishTimeout = 2 * time.Second

// tlsReadBuf is the TLS reader's buffer size, between frames larger than
// it.
const tlsReadBuf = 64 << 10

// tlsWire is a TLS connection (see wire).
type tlsWire struct {
	raw    net.Conn
	conn   *tls.Conn
	wakeCh chan struct{} // a flush is due; capacity 1
	stopCh chan struct{} // closed by finish or abort
	done   chan struct{} // closed when the writer exits
	mu     struct {
		sync.Mutex
		closing bool     // finish or abort was called
		started bool     // the writer runs
		final   [][]byte // what finish asked to write last
	}
}

func newTLSWire(raw net.Conn, conn *tls.Conn) *tlsWire {
	return &tlsWire{raw: raw, conn: conn, wakeCh: make(chan struct{}, 1), stopCh: make(chan struct{}), done: make(chan struct{})}
}

func (w *tlsWire) RemoteAddr() net.Addr { return w.raw.RemoteAddr() }

// write writes a handshake frame from the reader. A failure surfaces as
// the reader's next error.
func (w *tlsWire) write(b []byte) { _, _ = w.conn.Write(b) }

// writev writes on the writer goroutine; it blocks while the peer does not
// read, so the outbox fills and its policy applies, as on gnet.
func (w *tlsWire) writev(bs [][]byte) int {
	n := 0
	for _, b := range bs {
		m, err := w.conn.Write(b)
		n += m
		if err != nil {
			w.abort()
			break
		}
	}
	return n
}

// backlog is 0: a TLS write returns only once the kernel took the bytes.
func (w *tlsWire) backlog() int { return 0 }

func (w *tlsWire) wake() error {
	select {
	case w.wakeCh <- struct{}{}:
	default:
	}
	return nil
}

func (w *tlsWire) finish(bs [][]byte) {
	w.mu.Lock()
	if w.mu.closing {
		w.mu.Unlock()
		return
	}
	w.mu.closing, w.mu.final = true, bs
	started := w.mu.started
	close(w.stopCh)
	w.mu.Unlock()
	if !started {
		// Before the TLS handshake completed nothing can be said: close.
		_ = w.raw.Close()
		return
	}
	_ = w.raw.SetWriteDeadline(time.Now().Add(tlsFinishTimeout))
}

func (w *tlsWire) abort() {
	w.mu.Lock()
	if !w.mu.closing {
		w.mu.closing = true
		close(w.stopCh)
	}
	w.mu.Unlock()
	_ = w.raw.Close()
}

// closing reports whether finish or abort was called.
func (w *tlsWire) closing() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.mu.closing
}

// listenTLSLocked starts the TLS listener and its accept loop.
func (e *Engine) listenTLSLocked(addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("netio: cannot listen on %s: %w", addr, err)
	}
	e.ln.tls, e.ln.addr = ln, ln.Addr()
	e.wg.Add(1)
	go e.acceptTLS(ln)
	e.log.Info("listening", "addr", e.ln.addr.String(), "tls", true)
	return e.ln.addr, nil
}

// acceptTLS accepts connections until the listener closes. Admission
// (MaxPeers, MaxHandshakes) happens here, before any goroutine or TLS
// work is spent on the connection.
func (e *Engine) acceptTLS(ln net.Listener) {
	defer e.wg.Done()
	var backoff time.Duration
	for {
		raw, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, as net/http.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			e.log.Warn("accept failed", "err", err, "retry_in", backoff)
			select {
			case <-e.ctx.Done():
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		e.stats.accepted.Add(1)
		st := &connState{e: e, tls: true}
		st.stage.Store(stageAwaitHello)
		w := newTLSWire(raw, tls.Server(raw, e.tls.server))
		st.c = w
		now := e.now()
		st.openedAt = now
		st.lastRecv.Store(now)
		if e.admit(st, true) != admitted {
			// No frame can be sent before the TLS handshake, and running one
			// to refuse would cost more than the refusal.
			_ = raw.Close()
			continue
		}
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.serveTLS(st, w, e.tls)
		}()
	}
}

// dialTLS connects to a TLS dial target and, once connected, runs the
// connection to its end. It returns only a failure to connect.
func (e *Engine) dialTLS(t *dialTarget, st *connState) error {
	d := net.Dialer{Timeout: e.opts.HandshakeTimeout}
	raw, err := d.DialContext(e.ctx, "tcp", t.addr)
	if err != nil {
		return err
	}
	st.tls = true
	w := newTLSWire(raw, tls.Client(raw, t.tls.client))
	st.c = w
	now := e.now()
	st.openedAt = now
	st.lastRecv.Store(now)
	if e.admit(st, false) != admitted {
		_ = raw.Close()
		e.connClosed(st, ErrClosed)
		return nil
	}
	e.serveTLS(st, w, t.tls)
	return nil
}

// serveTLS runs an admitted TLS connection on the calling goroutine (its
// reader) until it closes, then reports it closed.
func (e *Engine) serveTLS(st *connState, w *tlsWire, ts *tlsSetup) {
	started, err := e.startTLS(st, w, ts)
	if err == nil {
		err = e.readTLS(st, w)
	}
	// A connection this node is closing (finish) is closed by its writer
	// once the last frames are out; otherwise close it now.
	if !w.closing() || !started {
		w.abort()
	}
	if started {
		<-w.done
	}
	_ = w.raw.Close()
	if r := st.reason.Load(); r != nil {
		err = *r
	}
	e.connClosed(st, err)
}

// startTLS runs the TLS handshake, starts the writer and, on a dialed
// connection, sends the hello. The handshake is bounded by
// HandshakeTimeout like the weir handshake (housekeeping closes the
// socket) and aborted by Close.
func (e *Engine) startTLS(st *connState, w *tlsWire, ts *tlsSetup) (started bool, err error) {
	if err := w.conn.HandshakeContext(e.ctx); err != nil {
		e.tlsFailed(st, err)
		return false, err
	}
	if cs := w.conn.ConnectionState(); len(cs.PeerCertificates) > 0 {
		st.certName, _ = matchName(cs.PeerCertificates[0], ts.pinned)
	}
	w.mu.Lock()
	if w.mu.closing {
		w.mu.Unlock()
		return false, ErrLocalClose
	}
	w.mu.started = true
	w.mu.Unlock()
	e.wg.Add(1)
	go e.writeTLS(st, w)
	if st.target != nil {
		w.write(e.appendHello(st, nil))
	}
	return true, nil
}

// tlsFailed closes a connection whose TLS handshake failed, and counts
// why: a certificate this node refused (auth), a refusal by the peer
// (Stats.Refused), a peer that does not speak TLS (auth: TLS is what
// authenticates here), anything else but a plain disconnect (protocol).
func (e *Engine) tlsFailed(st *connState, err error) {
	var rhe tls.RecordHeaderError
	switch {
	case st.reason.Load() != nil: // closed by this node: timeout, eviction
	case e.ctx.Err() != nil: // Close aborted the handshake
		st.closeWith(frame.CodeShutdown, "node shutting down")
	case isCertError(err):
		st.fail(frame.CodeAuth, "TLS certificate refused", err)
	case isRemoteAlert(err):
		st.remoteClosed(&RemoteError{Code: frame.CodeAuth, Text: "TLS handshake refused: " + err.Error()})
	case errors.As(err, &rhe):
		if rhe.Conn != nil && st.target == nil {
			// A plaintext weir dialer: tell it in its own terms.
			_ = rhe.Conn.SetWriteDeadline(time.Now().Add(tlsFinishTimeout))
			_, _ = rhe.Conn.Write(frame.AppendReason(nil, frame.KindError, frame.CodeAuth, "this node accepts TLS connections only"))
		}
		st.fail(frame.CodeAuth, "peer does not speak TLS", err)
	case errors.Is(err, io.EOF):
		st.remoteClosed(err)
	default:
		st.fail(frame.CodeProtocol, "TLS handshake failed", err)
	}
}

// isRemoteAlert reports whether the peer's TLS stack sent an alert.
// crypto/tls reports a received alert as a *net.OpError whose Op is
// "remote error" (its alert type is unexported).
func isRemoteAlert(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "remote error"
}

// readTLS reads frames until the connection fails or this node closes it.
func (e *Engine) readTLS(st *connState, w *tlsWire) error {
	buf := make([]byte, 0, tlsReadBuf)
	wasUp := false
	for {
		if len(buf) == cap(buf) { // a frame larger than the buffer
			nb := make([]byte, len(buf), 2*cap(buf))
			copy(nb, buf)
			buf = nb
		}
		n, err := w.conn.Read(buf[len(buf):cap(buf)])
		if n > 0 {
			st.lastRecv.Store(e.now())
			buf = buf[:len(buf)+n]
			c := e.consume(st, buf)
			switch st.stage.Load() {
			case stageClosing:
				return nil
			case stageUp:
				if !wasUp {
					// Frames queued while the handshake ran (their wake came
					// too early) go out now.
					wasUp = true
					st.wake()
				}
			}
			rest := copy(buf, buf[c:])
			buf = buf[:rest]
			if rest == 0 && cap(buf) > tlsReadBuf {
				buf = make([]byte, 0, tlsReadBuf) // shrink after a large frame
			}
		}
		if err != nil {
			if st.stage.Load() != stageUp && st.reason.Load() == nil && isRemoteAlert(err) {
				// TLS 1.3: the server checks the client's certificate after
				// the client's handshake returned; its refusal arrives here.
				st.remoteClosed(&RemoteError{Code: frame.CodeAuth, Text: "TLS handshake refused: " + err.Error()})
			}
			return err
		}
	}
}

// writeTLS is a TLS connection's writer: it flushes the outbox on every
// wake and, when the connection closes, writes the last frames (finish)
// and closes it.
func (e *Engine) writeTLS(st *connState, w *tlsWire) {
	defer e.wg.Done()
	defer close(w.done)
	for {
		select {
		case <-w.wakeCh:
			if st.stage.Load() == stageUp {
				st.flush()
			}
		case <-w.stopCh:
			w.mu.Lock()
			final := w.mu.final
			w.mu.final = nil
			w.mu.Unlock()
			for _, b := range final {
				if _, err := w.conn.Write(b); err != nil {
					break
				}
			}
			_ = w.conn.Close() // close_notify, then the socket; finish set a deadline
			return
		}
	}
}
