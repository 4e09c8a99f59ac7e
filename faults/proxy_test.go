//go:build faults

package faults

import (
	"net"
	"sync"
	"testing"
)

// proxy relays TCP connections from its own address to a target, and
// can partition them the ways a network does:
//
//   - pause: a blackhole. Nothing moves in either direction, on existing
//     connections and new ones (accepted, never forwarded), but no socket
//     closes: only keepalive can tell. Bytes are held, not dropped, so a
//     heal delivers what TCP would have retransmitted — and closes that
//     happened meanwhile arrive late, as a delayed FIN would.
//   - resetAll: every relayed connection is reset (RST) on both sides.
//   - resetDialers: the dialer's side of every relayed connection is reset
//     while the listener's side stays open and silent: a half-open
//     connection, as after a NAT or firewall lost its state.
//   - heal: relaying resumes; connections accepted during the pause are
//     reset (their SYN would have been lost), so the dialers redial.
type proxy struct {
	ln net.Listener
	wg sync.WaitGroup
	mu struct {
		sync.Mutex
		target string
		gate   chan struct{} // closed while relaying; open (blocking) while paused
		links  map[*link]struct{}
		closed bool
	}
}

// link is one relayed connection.
type link struct {
	client, server net.Conn // server: nil until dialed
	held           bool     // accepted during a pause
	halfOpen       bool     // the client side was reset, the server side is left alone
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	p.mu.target = target
	p.mu.gate = make(chan struct{})
	close(p.mu.gate)
	p.mu.links = map[*link]struct{}{}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// setTarget sets the address connections are relayed to, for a target
// that listens only after the proxy's address is needed.
func (p *proxy) setTarget(addr string) {
	p.mu.Lock()
	p.mu.target = addr
	p.mu.Unlock()
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.mu.closed {
			p.mu.Unlock()
			c.Close()
			return
		}
		l := &link{client: c, held: !isClosed(p.mu.gate)}
		p.mu.links[l] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(l)
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// waitOpen blocks while the proxy is paused and reports whether it still
// relays (false once closed).
func (p *proxy) waitOpen() bool {
	p.mu.Lock()
	gate := p.mu.gate
	p.mu.Unlock()
	<-gate
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.mu.closed
}

func (p *proxy) serve(l *link) {
	defer p.wg.Done()
	if !p.waitOpen() || l.held {
		p.drop(l)
		return
	}
	p.mu.Lock()
	target := p.mu.target
	p.mu.Unlock()
	s, err := net.Dial("tcp", target)
	if err != nil {
		p.drop(l)
		return
	}
	p.mu.Lock()
	if p.mu.closed {
		p.mu.Unlock()
		s.Close()
		p.drop(l)
		return
	}
	l.server = s
	p.wg.Add(2)
	p.mu.Unlock()
	go p.pump(l, l.client, s)
	go p.pump(l, s, l.client)
}

// pump copies src to dst, holding bytes (and the end of the stream)
// while paused.
func (p *proxy) pump(l *link, src, dst net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if !p.waitOpen() {
			break
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	p.drop(l)
}

// drop ends a link: both sides are closed, except the listener's side of
// a half-open one, which stays open until the proxy closes.
func (p *proxy) drop(l *link) {
	p.mu.Lock()
	half := l.halfOpen && !p.mu.closed
	if !half {
		delete(p.mu.links, l)
	}
	p.mu.Unlock()
	l.client.Close()
	if l.server != nil && !half {
		l.server.Close()
	}
}

func (p *proxy) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if isClosed(p.mu.gate) {
		p.mu.gate = make(chan struct{})
	}
}

func (p *proxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !isClosed(p.mu.gate) {
		close(p.mu.gate)
	}
}

// resetAll resets every relayed connection on both sides.
func (p *proxy) resetAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := range p.mu.links {
		reset(l.client)
		if l.server != nil {
			reset(l.server)
		}
	}
}

// resetDialers resets the dialer's side of every relayed connection and
// leaves the listener's side open and silent.
func (p *proxy) resetDialers() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := range p.mu.links {
		if l.server != nil && !l.halfOpen {
			l.halfOpen = true
			reset(l.client)
		}
	}
}

// reset closes c with an RST rather than a FIN.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.Close()
}

func (p *proxy) close() {
	p.mu.Lock()
	p.mu.closed = true
	if !isClosed(p.mu.gate) {
		close(p.mu.gate)
	}
	links := make([]*link, 0, len(p.mu.links))
	for l := range p.mu.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	p.ln.Close()
	for _, l := range links {
		l.client.Close()
		if l.server != nil {
			l.server.Close()
		}
	}
	p.wg.Wait()
}
