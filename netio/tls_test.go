package netio

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/devcert"
	"github.com/weirio/weir/internal/testutil"
)

func newCA(t *testing.T, name string) *devcert.CA {
	t.Helper()
	ca, err := devcert.NewCA(name, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// tlsFor returns a TLSConfig with a certificate for name from ca, trusting
// ca, pinning pinned.
func tlsFor(t *testing.T, ca *devcert.CA, name string, pinned ...string) *TLSConfig {
	t.Helper()
	cert, err := ca.TLSCertificate(name, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &TLSConfig{Certificate: cert, CAs: ca.Pool(), PeerNames: pinned}
}

func withTLS(c *TLSConfig) func(*Options) { return func(o *Options) { o.TLS = c } }

// TestTLSConnects: mutual TLS with pinned names; subscribe and data frames
// flow both ways, including frames larger than the reader's buffer, and
// keepalive works.
func TestTLSConnects(t *testing.T) {
	ca := newCA(t, "ca")
	ra, rb := newRecorder("a/"), newRecorder("b/")
	fast := func(c *TLSConfig) func(*Options) {
		return func(o *Options) { o.TLS = c; o.PingInterval = 50 * time.Millisecond; o.PeerTimeout = 5 * time.Second }
	}
	a := newEngine(t, "a", ra, fast(tlsFor(t, ca, "node-a", "node-b")))
	b := newEngine(t, "b", rb, fast(tlsFor(t, ca, "node-b", "node-a")))
	if err := b.Dial(listen(t, a)); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "both peers up", func() bool { return ra.peer("b") != nil && rb.peer("a") != nil })
	pa, pb := rb.peer("a"), ra.peer("b")
	if !pa.TLS || !pb.TLS || pa.CertName != "node-a" || pb.CertName != "node-b" {
		t.Fatalf("TLS %v %v, cert names %q %q", pa.TLS, pb.TLS, pa.CertName, pb.CertName)
	}
	if got := ra.filters["b"]; len(got) != 1 || got[0] != "b/" {
		t.Fatalf("a saw b's filter %q", got)
	}
	sub := frame.AppendSubscribe(nil, frame.Subscribe{Op: frame.SubAdd, Prefixes: frame.MakeStrList("more/")})
	big := frame.AppendDataString(nil, frame.Header{}, []byte("b/big"), make([]byte, 3*tlsReadBuf))
	const n = 5000
	_ = pa.Send(sub)
	for i, fr := range frames(n, 64) {
		if err := pa.SendWait(fr, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 0 {
			_ = pa.SendWait(big, 10*time.Second)
		}
	}
	_ = pb.Send(sub)
	testutil.WaitFor(t, "frames delivered", func() bool { return ra.nframes("b") == 1+n+5 && rb.nframes("a") == 1 })
	ra.mu.Lock()
	got := ra.frames["b"]
	if f, _, err := frame.Scan(got[0], nil); err != nil || f.Kind() != frame.KindSubscribe {
		t.Errorf("first frame %v %v, want subscribe", f.Kind(), err)
	}
	seq := uint32(0)
	for _, fr := range got[1:] {
		if len(fr) == len(big) {
			continue
		}
		if s := firstSeq(t, fr); s != seq {
			t.Fatalf("frame seq %d, want %d", s, seq)
		}
		seq++
	}
	ra.mu.Unlock()
	// Keepalive: pings (not delivered to the Handler) keep arriving.
	in := pb.Stats().FramesIn
	testutil.WaitFor(t, "pings", func() bool { return pb.Stats().FramesIn >= in+3 })
	if f := a.Stats().Failures; len(f) != 0 {
		t.Fatalf("failures %v", f)
	}
}

// TestTLSRejects: a peer whose certificate is missing, from another CA or
// not pinned, or that does not speak TLS, is refused and counted on both
// sides (the refusing side in Failures[auth], the refused one in
// Refused[auth] or Failures).
func TestTLSRejects(t *testing.T) {
	ca, other := newCA(t, "ca"), newCA(t, "other")
	srvTLS := tlsFor(t, ca, "srv", "good")
	foreign := tlsFor(t, other, "good")
	foreign.CAs = ca.Pool() // it trusts the server; the server does not trust it
	cases := []struct {
		name    string
		dialer  *TLSConfig // nil: plaintext
		listen  *TLSConfig // nil: plaintext
		refuser string     // the side that counts Failures[auth]
		// what the other side counts: Refused[auth], or (a plaintext
		// listener, which sees no weir frame) Failures[protocol]
		otherCode frame.ErrCode
	}{
		{"other-ca", foreign, srvTLS, "listener", frame.CodeAuth},
		{"not-pinned", tlsFor(t, ca, "mallory"), srvTLS, "listener", frame.CodeAuth},
		{"server-not-pinned", tlsFor(t, ca, "good", "elsewhere"), srvTLS, "dialer", frame.CodeAuth},
		{"plaintext-dialer", nil, srvTLS, "listener", frame.CodeAuth},
		{"plaintext-listener", tlsFor(t, ca, "good"), nil, "dialer", frame.CodeProtocol},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rl, rd := newRecorder(), newRecorder()
			l := newEngine(t, "l", rl, withTLS(c.listen))
			d := newEngine(t, "d", rd, withTLS(c.dialer))
			if err := d.Dial(listen(t, l)); err != nil {
				t.Fatal(err)
			}
			ref, other := l, d
			if c.refuser == "dialer" {
				ref, other = d, l
			}
			testutil.WaitFor(t, "refusals counted", func() bool {
				s := other.Stats()
				n := s.Refused[frame.CodeAuth]
				if c.otherCode == frame.CodeProtocol {
					n = s.Failures[frame.CodeProtocol]
				}
				return ref.Stats().Failures[frame.CodeAuth] >= 2 && n >= 2
			})
			if len(l.Peers()) != 0 || len(d.Peers()) != 0 || rl.peer("d") != nil || rd.peer("l") != nil {
				t.Fatal("a peer came up")
			}
		})
	}
}

// TestTLSClientWithoutCertificate: a TLS client that presents no
// certificate gets nothing through.
func TestTLSClientWithoutCertificate(t *testing.T) {
	ca := newCA(t, "ca")
	r := newRecorder()
	e := newEngine(t, "srv", r, withTLS(tlsFor(t, ca, "srv")))
	c, err := tls.Dial("tcp", listen(t, e), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err) // TLS 1.3: the client's side completes before the server checks it
	}
	defer c.Close()
	_, _ = c.Write(frame.AppendHello(nil, frame.Hello{MinVersion: 1, MaxVersion: 1, ID: frame.NodeID{5}, Name: []byte("raw")}))
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err = c.Read(make([]byte, 64))
	if !isRemoteAlert(err) {
		t.Fatalf("read %v, want the server's alert", err)
	}
	testutil.WaitFor(t, "refusal counted", func() bool { return e.Stats().Failures[frame.CodeAuth] == 1 })
	if r.peer("raw") != nil {
		t.Fatal("peer up without a certificate")
	}
}

// TestTLSHandshakeTimeout: a connection that stalls in the TLS handshake
// is closed at HandshakeTimeout.
func TestTLSHandshakeTimeout(t *testing.T) {
	ca := newCA(t, "ca")
	e := newEngine(t, "srv", newRecorder(), func(o *Options) {
		o.TLS = tlsFor(t, ca, "srv")
		o.HandshakeTimeout = 300 * time.Millisecond
	})
	c, err := net.Dial("tcp", listen(t, e))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte{0x16, 0x03, 0x01}) // the start of a ClientHello, then silence
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("read %v, want the connection closed", err)
	}
	testutil.WaitFor(t, "timeout counted", func() bool { return e.Stats().Failures[frame.CodeTimeout] == 1 && e.Stats().Conns == 0 })
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestTLSWithSecret: TLS and the shared secret together.
func TestTLSWithSecret(t *testing.T) {
	ca := newCA(t, "ca")
	ra, rb := newRecorder(), newRecorder()
	a := newEngine(t, "a", ra, func(o *Options) { o.TLS = tlsFor(t, ca, "a"); o.Secret = secretA })
	b := newEngine(t, "b", rb, func(o *Options) { o.TLS = tlsFor(t, ca, "b"); o.Secret = secretA })
	_ = b.Dial(listen(t, a))
	testutil.WaitFor(t, "up", func() bool { return ra.peer("b") != nil && rb.peer("a") != nil })
	_ = rb.peer("a").Send(frames(1, 8)[0])
	testutil.WaitFor(t, "frame", func() bool { return ra.nframes("b") == 1 })
}

// TestTLSPerDial: a per-dial TLSConfig overrides the engine's, and
// WithTLS(nil) dials plaintext from a TLS engine.
func TestTLSPerDial(t *testing.T) {
	ca := newCA(t, "ca")
	rs, rp, rd := newRecorder(), newRecorder(), newRecorder()
	secure := newEngine(t, "secure", rs, withTLS(tlsFor(t, ca, "secure")))
	plain := newEngine(t, "plain", rp, nil)
	d := newEngine(t, "d", rd, withTLS(tlsFor(t, ca, "d")))
	if err := d.Dial(listen(t, plain), WithTLS(nil)); err != nil {
		t.Fatal(err)
	}
	dt := tlsFor(t, ca, "d")
	if err := d.Dial(listen(t, secure), WithTLS(dt.WithPeerNames("wrong"))); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "plaintext peer up, pinned dial refused", func() bool {
		return rd.peer("plain") != nil && d.Stats().Failures[frame.CodeAuth] >= 1
	})
	if rd.peer("secure") != nil || rd.peer("plain").TLS {
		t.Fatal("wrong transport")
	}
	if err := d.Dial("127.0.0.1:1", WithTLS(&TLSConfig{})); err == nil {
		t.Fatal("invalid per-dial TLSConfig accepted")
	}
}

// TestTLSStalledReader: a TLS peer that stops reading fills its own queue
// (the writer blocks, not the engine); under the disconnect policy it is
// closed, and Close does not wait on it past its deadline.
func TestTLSStalledReader(t *testing.T) {
	ca := newCA(t, "ca")
	r := newRecorder()
	e := newEngine(t, "srv", r, func(o *Options) {
		o.TLS = tlsFor(t, ca, "srv")
		o.Policy = Disconnect
		o.QueueFrames = 1000
		o.QueueBytes = 1 << 20
		o.Limits.MaxFrame = 1 << 16
	})
	cli := tlsFor(t, ca, "raw")
	c, err := tls.Dial("tcp", listen(t, e), &tls.Config{Certificates: []tls.Certificate{cli.Certificate}, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write(frame.AppendHello(nil, frame.Hello{MinVersion: 1, MaxVersion: 1, ID: frame.NodeID{5}, Name: []byte("raw")}))
	testutil.WaitFor(t, "peer up", func() bool { return r.peer("raw") != nil })
	p := r.peer("raw")
	fr := frame.AppendDataString(nil, frame.Header{}, []byte("t"), make([]byte, 1000))
	for i := 0; i < 1_000_000 && !errors.Is(p.Send(fr), ErrPeerClosed); i++ {
	}
	testutil.WaitFor(t, "disconnect", func() bool { _, ok := r.downErr("raw"); return ok })
	if p.Stats().Overflows == 0 || e.Stats().Limits.Queue == 0 {
		t.Fatalf("overflow not counted: %+v %+v", p.Stats(), e.Stats().Limits)
	}
}

// TestTLSCloseNoLeak: closing engines with TLS connections (one of them
// stalled mid-handshake) leaves no goroutine behind, and peers hear
// bye(shutdown).
func TestTLSCloseNoLeak(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"))
	ca := newCA(t, "ca")
	ra, rb := newRecorder(), newRecorder()
	mk := func(name string, r *recorder) *Engine {
		o := Options{Name: name, Logger: quietLogger(), Loops: 1, TLS: tlsFor(t, ca, name), RetryInitial: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond}
		e, err := New(o, r)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	a, b := mk("a", ra), mk("b", rb)
	addr, err := a.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Dial(addr.String())
	stalled, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	testutil.WaitFor(t, "up", func() bool { return ra.peer("b") != nil && rb.peer("a") != nil && a.Stats().Conns == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "b hears the shutdown", func() bool { err, ok := rb.downErr("a"); return ok && isBye(err, frame.CodeShutdown) })
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestLoadTLSConfig(t *testing.T) {
	dir := t.TempDir()
	if _, err := devcert.WriteDir(dir, []string{"n1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	c, err := LoadTLSConfig(devcert.CertFile(dir, "n1"), devcert.KeyFile(dir, "n1"), filepath.Join(dir, devcert.CAFile), []string{"n2"})
	if err != nil || len(c.PeerNames) != 1 {
		t.Fatalf("LoadTLSConfig: %+v %v", c, err)
	}
	if _, err := LoadTLSConfig(devcert.CertFile(dir, "n1"), devcert.KeyFile(dir, "n1"), devcert.CertFile(dir, "missing"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing CA: %v", err)
	}
	_ = os.WriteFile(filepath.Join(dir, "empty.pem"), []byte("nothing"), 0o644)
	if _, err := LoadTLSConfig(devcert.CertFile(dir, "n1"), devcert.KeyFile(dir, "n1"), filepath.Join(dir, "empty.pem"), nil); err == nil {
		t.Fatal("CA file without certificates accepted")
	}
}

// TestVerifyPeer: the certificate decisions, without sockets.
func TestVerifyPeer(t *testing.T) {
	ca, other := newCA(t, "ca"), newCA(t, "other")
	chain := func(c *devcert.CA, name string, edit func(*x509.Certificate)) []*x509.Certificate {
		certPEM, keyPEM, err := c.IssueWith(name, time.Now(), edit)
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(pair.Certificate[0])
		return []*x509.Certificate{leaf}
	}
	srv := x509.ExtKeyUsageServerAuth
	cases := []struct {
		name     string
		chain    []*x509.Certificate
		pinned   []string
		wantName string
		wantErr  error
	}{
		{"any", chain(ca, "n1", nil), nil, "n1", nil},
		{"pinned", chain(ca, "n1", nil), []string{"n0", "N1"}, "n1", nil},
		{"cn-fallback", chain(ca, "n2", func(c *x509.Certificate) { c.DNSNames = nil }), []string{"n2"}, "n2", nil},
		{"no-cert", nil, nil, "", ErrNoCertificate},
		{"other-ca", chain(other, "n1", nil), nil, "", ErrUntrustedCert},
		{"expired", chain(ca, "n1", func(c *x509.Certificate) { c.NotAfter = time.Now().Add(-time.Minute) }), nil, "", ErrUntrustedCert},
		{"client-only", chain(ca, "n1", func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} }), nil, "", ErrUntrustedCert},
		{"not-pinned", chain(ca, "mallory", nil), []string{"n1"}, "", ErrNameNotPinned},
	}
	for _, c := range cases {
		name, err := verifyPeer(c.chain, ca.Pool(), c.pinned, srv)
		if name != c.wantName || !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) {
			t.Errorf("%s: %q %v, want %q %v", c.name, name, err, c.wantName, c.wantErr)
		}
		if err != nil && !isCertError(err) {
			t.Errorf("%s: %v not classified as a certificate error", c.name, err)
		}
	}
}
