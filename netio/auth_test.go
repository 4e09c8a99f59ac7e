package netio

import (
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/testutil"
)

var (
	secretA = []byte("0123456789abcdef-test-secret")
	secretB = []byte("another-secret-of-enough-bytes")
)

// testAuthCtx is a fixed transcript: worker d dials manager l.
func testAuthCtx() *authCtx {
	a := &authCtx{dialer: frame.NodeID{0xd0, 0xd0, 0xd0, 0xd0, 0xd0, 0xd0, 0xd0, 0xd0, 0xd0, 0xd0, 0xd0, 0xd0, 0xd0, 0xd0, 0xd0, 0xd0},
		listener:   frame.NodeID{0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11},
		dialerRole: frame.RoleWorker, listenerRole: frame.RoleManager}
	for i := range a.dialerNonce {
		a.dialerNonce[i], a.listenerNonce[i] = byte(i), byte(16+i)
	}
	return a
}

// TestAuthProofVector pins the proof to the layout of PROTOCOL.md §6.3;
// the expected values were computed independently (Python's hmac).
func TestAuthProofVector(t *testing.T) {
	a := testAuthCtx()
	for label, want := range map[string]string{
		labelListener: "0c69d47d559e0223b31edd214522dc4e25eb8ef0df3799fc328c8431d6f18b72",
		labelDialer:   "cfa36e78a94191598c4c00667d8c425ab7d6d62e46392fb9cfb3955819293fb0",
	} {
		p := authProof(secretA, label, a)
		if got := hex.EncodeToString(p[:]); got != want {
			t.Errorf("%s: %s, want %s", label, got, want)
		}
	}
}

// TestAuthProofBinds: every field of the transcript changes the proof.
func TestAuthProofBinds(t *testing.T) {
	base := authProof(secretA, labelDialer, testAuthCtx())
	edits := map[string]func(*authCtx){
		"dialer nonce":   func(a *authCtx) { a.dialerNonce[0] ^= 1 },
		"listener nonce": func(a *authCtx) { a.listenerNonce[15] ^= 1 },
		"dialer id":      func(a *authCtx) { a.dialer[3] ^= 1 },
		"listener id":    func(a *authCtx) { a.listener[3] ^= 1 },
		"dialer role":    func(a *authCtx) { a.dialerRole = frame.RoleProxy },
		"listener role":  func(a *authCtx) { a.listenerRole = frame.RoleLogger },
	}
	for name, edit := range edits {
		a := testAuthCtx()
		edit(a)
		if authProof(secretA, labelDialer, a) == base {
			t.Errorf("%s does not change the proof", name)
		}
	}
	if authProof(secretB, labelDialer, testAuthCtx()) == base {
		t.Error("the secret does not change the proof")
	}
	if authProof(secretA, labelListener, testAuthCtx()) == base {
		t.Error("the label does not change the proof")
	}
}

// exchange runs the whole challenge-response between a dialer with
// secret sd and a listener with secret sl, by the pure functions, and
// returns the first refusal (and which side made it).
func exchange(t *testing.T, sd, sl []byte) (side string, herr *handshakeError) {
	t.Helper()
	fix := testAuthCtx()
	// Dialer: hello.
	d := &authCtx{dialerNonce: fix.dialerNonce, dialer: fix.dialer, dialerRole: fix.dialerRole}
	h := frame.Hello{ID: fix.dialer, Role: fix.dialerRole}
	if sd != nil {
		h.Features, h.Auth = frame.FeatAuth, d.dialerNonce[:]
	}
	// Listener: welcome.
	nonce, herr := helloAuth(sl, h)
	if herr != nil {
		return "listener", herr
	}
	w := frame.Welcome{ID: fix.listener, Role: fix.listenerRole}
	l := &authCtx{dialerNonce: nonce, listenerNonce: fix.listenerNonce, dialer: h.ID, listener: fix.listener,
		dialerRole: h.Role, listenerRole: fix.listenerRole}
	if sl != nil {
		w.Features, w.Auth = frame.FeatAuth, welcomeAuth(sl, l)
	}
	// Dialer: auth.
	proof, herr := welcomeAuthCheck(sd, d, w)
	if herr != nil {
		return "dialer", herr
	}
	if sl == nil {
		if proof != nil {
			t.Fatal("a proof without auth")
		}
		return "", nil
	}
	f, _, err := frame.Scan(frame.AppendAuth(nil, proof), nil)
	if err != nil {
		t.Fatal(err)
	}
	if herr := authFrameCheck(sl, l, f); herr != nil {
		return "listener", herr
	}
	return "", nil
}

func TestAuthExchange(t *testing.T) {
	cases := []struct {
		name     string
		sd, sl   []byte
		side     string
		wantCode frame.ErrCode
	}{
		{"none", nil, nil, "", frame.CodeOK},
		{"same-secret", secretA, secretA, "", frame.CodeOK},
		{"wrong-secret", secretB, secretA, "dialer", frame.CodeAuth},
		{"dialer-without", nil, secretA, "listener", frame.CodeAuth},
		{"listener-without", secretA, nil, "listener", frame.CodeAuth},
	}
	for _, c := range cases {
		side, herr := exchange(t, c.sd, c.sl)
		code := frame.CodeOK
		if herr != nil {
			code = herr.code
		}
		if side != c.side || code != c.wantCode {
			t.Errorf("%s: refused by %q with %v (%v), want %q %v", c.name, side, code, herr, c.side, c.wantCode)
		}
	}
}

func TestAuthMalformed(t *testing.T) {
	// A hello or welcome that carries auth material is refused, whether it
	// lacks the feature bit or has the wrong length.
	if _, herr := helloAuth(secretA, frame.Hello{Features: frame.FeatAuth, Auth: make([]byte, 15)}); herr == nil || herr.code != frame.CodeProtocol {
		t.Errorf("short nonce: %v", herr)
	}
	if _, herr := helloAuth(nil, frame.Hello{Auth: make([]byte, 16)}); herr == nil || herr.code != frame.CodeProtocol {
		t.Errorf("nonce without AUTH: %v", herr)
	}
	d := testAuthCtx()
	if _, herr := welcomeAuthCheck(secretA, d, frame.Welcome{Features: frame.FeatAuth, Auth: make([]byte, 47)}); herr == nil || herr.code != frame.CodeProtocol {
		t.Errorf("short welcome auth: %v", herr)
	}
	if _, herr := welcomeAuthCheck(nil, d, frame.Welcome{Auth: make([]byte, 48)}); herr == nil || herr.code != frame.CodeProtocol {
		t.Errorf("welcome auth without AUTH: %v", herr)
	}
	// A listener echoing the dialer's nonce is refused even with a good
	// proof over it.
	a := testAuthCtx()
	a.listenerNonce = a.dialerNonce
	w := frame.Welcome{ID: a.listener, Role: a.listenerRole, Features: frame.FeatAuth, Auth: welcomeAuth(secretA, a)}
	d = &authCtx{dialerNonce: a.dialerNonce, dialer: a.dialer, dialerRole: a.dialerRole}
	if _, herr := welcomeAuthCheck(secretA, d, w); herr == nil || herr.code != frame.CodeAuth {
		t.Errorf("echoed nonce: %v", herr)
	}
	// Before the proof, any other frame is an auth failure.
	sub, _, _ := frame.Scan(frame.AppendSubscribe(nil, frame.Subscribe{Prefixes: frame.MakeStrList("a")}), nil)
	if herr := authFrameCheck(secretA, testAuthCtx(), sub); herr == nil || herr.code != frame.CodeAuth {
		t.Errorf("subscribe before auth: %v", herr)
	}
}

// TestAuthReflectionAndReplay: a listener's proof does not pass as a
// dialer's, and a proof for one connection does not pass on another.
func TestAuthReflectionAndReplay(t *testing.T) {
	a := testAuthCtx()
	lp := authProof(secretA, labelListener, a)
	f, _, _ := frame.Scan(frame.AppendAuth(nil, lp[:]), nil)
	if herr := authFrameCheck(secretA, a, f); herr == nil || herr.code != frame.CodeAuth {
		t.Errorf("reflected proof accepted: %v", herr)
	}
	dp := authProof(secretA, labelDialer, a)
	f, _, _ = frame.Scan(frame.AppendAuth(nil, dp[:]), nil)
	if herr := authFrameCheck(secretA, a, f); herr != nil {
		t.Fatalf("good proof refused: %v", herr)
	}
	b := testAuthCtx()
	b.listenerNonce[0] ^= 0xff // the next connection's challenge
	if herr := authFrameCheck(secretA, b, f); herr == nil || herr.code != frame.CodeAuth {
		t.Errorf("replayed proof accepted: %v", herr)
	}
}

func TestLoadSecret(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	_ = os.WriteFile(good, []byte("  "+string(secretA)+"\n"), 0o600)
	s, err := LoadSecret(good)
	if err != nil || string(s) != string(secretA) {
		t.Fatalf("LoadSecret: %q %v", s, err)
	}
	short := filepath.Join(dir, "short")
	_ = os.WriteFile(short, []byte("tiny\n"), 0o600)
	if _, err := LoadSecret(short); err == nil {
		t.Error("short secret accepted")
	}
	if _, err := LoadSecret(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	o := Options{Secret: []byte("short")}
	o.EnsureDefaults()
	if o.Validate() == nil {
		t.Error("Options with a short Secret validated")
	}
}

// withSecret returns an option setter for newEngine.
func withSecret(s []byte) func(*Options) { return func(o *Options) { o.Secret = s } }

func TestAuthEnginesConnect(t *testing.T) {
	ra, rb := newRecorder("a/"), newRecorder("b/")
	a := newEngine(t, "a", ra, withSecret(secretA))
	b := newEngine(t, "b", rb, withSecret(secretA))
	if err := b.Dial(listen(t, a)); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "both peers up", func() bool { return ra.peer("b") != nil && rb.peer("a") != nil })
	ra.mu.Lock()
	fa := ra.filters["b"]
	ra.mu.Unlock()
	if len(fa) != 1 || fa[0] != "b/" {
		t.Fatalf("a saw b's filter %q", fa)
	}
	for _, fr := range frames(100, 16) {
		_ = rb.peer("a").Send(fr)
		_ = ra.peer("b").Send(fr)
	}
	testutil.WaitFor(t, "frames both ways", func() bool { return ra.nframes("b") == 100 && rb.nframes("a") == 100 })
	if f := a.Stats().Failures[frame.CodeAuth] + b.Stats().Failures[frame.CodeAuth]; f != 0 {
		t.Fatalf("%d auth failures", f)
	}
}

// TestAuthEnginesRefuse: a wrong or missing secret on either side keeps
// the peers apart, and both sides count it: the side that detects it in
// Failures, the other in Refused.
func TestAuthEnginesRefuse(t *testing.T) {
	cases := []struct {
		name           string
		dialer, listen []byte
		// which side detects the problem
		detector string
	}{
		{"wrong-secret", secretB, secretA, "dialer"},
		{"dialer-without", nil, secretA, "listener"},
		{"listener-without", secretA, nil, "listener"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rl, rd := newRecorder(), newRecorder()
			l := newEngine(t, "l", rl, withSecret(c.listen))
			d := newEngine(t, "d", rd, withSecret(c.dialer))
			if err := d.Dial(listen(t, l)); err != nil {
				t.Fatal(err)
			}
			det, other := d, l
			if c.detector == "listener" {
				det, other = l, d
			}
			testutil.WaitFor(t, "both sides count the refusal", func() bool {
				return det.Stats().Failures[frame.CodeAuth] >= 2 && other.Stats().Refused[frame.CodeAuth] >= 2
			})
			if rl.peer("d") != nil || rd.peer("l") != nil || len(l.Peers()) != 0 || len(d.Peers()) != 0 {
				t.Fatal("a peer came up")
			}
			rl.mu.Lock()
			n := len(rl.frames["d"])
			rl.mu.Unlock()
			if n != 0 {
				t.Fatalf("listener delivered %d frames", n)
			}
		})
	}
}

// rawAuthHello dials addr and sends a hello asking for auth; it returns
// the connection and the auth context with the welcome's half filled.
func rawAuthHello(t *testing.T, addr string, id frame.NodeID, filter ...string) (net.Conn, *authCtx, frame.Welcome) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	a := &authCtx{dialerNonce: newNonce(), dialer: id, dialerRole: frame.RoleWorker}
	h := frame.Hello{MinVersion: 1, MaxVersion: 1, ID: id, Role: frame.RoleWorker, Name: []byte("raw"),
		Features: frame.FeatAuth, Auth: a.dialerNonce[:], Filter: frame.MakeStrList(filter...)}
	if _, err := c.Write(frame.AppendHello(nil, h)); err != nil {
		t.Fatal(err)
	}
	f := readFrame(t, c)
	if f.Kind() != frame.KindWelcome {
		t.Fatalf("got %v, want welcome", f.Kind())
	}
	w, err := frame.DecodeWelcome(f.Body(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if w.Features&frame.FeatAuth == 0 || len(w.Auth) != nonceLen+proofLen {
		t.Fatalf("welcome without auth: %+v", w)
	}
	copy(a.listenerNonce[:], w.Auth)
	a.listener, a.listenerRole = w.ID, w.Role
	return c, a, w
}

// TestAuthBeforeFrames: on the wire, a dialer that sends anything but a
// good proof after the welcome is closed with error(auth), and nothing it
// sent reaches the Handler; a hand-made good proof gets through.
func TestAuthBeforeFrames(t *testing.T) {
	r := newRecorder()
	e := newEngine(t, "srv", r, withSecret(secretA))
	addr := listen(t, e)
	sub := frame.AppendSubscribe(nil, frame.Subscribe{Prefixes: frame.MakeStrList("")})
	data := frames(1, 8)[0]
	cases := []struct {
		name string
		send func(a *authCtx) []byte
	}{
		{"subscribe-first", func(*authCtx) []byte { return sub }},
		{"data-first", func(*authCtx) []byte { return data }},
		{"wrong-proof", func(a *authCtx) []byte { p := authProof(secretB, labelDialer, a); return frame.AppendAuth(nil, p[:]) }},
		{"reflected-proof", func(a *authCtx) []byte { p := authProof(secretA, labelListener, a); return frame.AppendAuth(nil, p[:]) }},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, a, _ := rawAuthHello(t, addr, frame.NodeID{byte(10 + i)}, "")
			if _, err := conn.Write(append(c.send(a), data...)); err != nil {
				t.Fatal(err)
			}
			if got := expectClosed(t, conn); got != frame.CodeAuth {
				t.Fatalf("closed with %v, want auth", got)
			}
		})
	}
	if n := e.Stats().Failures[frame.CodeAuth]; n != uint64(len(cases)) {
		t.Fatalf("%d auth failures counted, want %d", n, len(cases))
	}
	if len(e.Peers()) != 0 || r.peer("raw") != nil || r.nframes("raw") != 0 {
		t.Fatal("an unauthenticated peer got through")
	}
	// The same exchange done right.
	conn, a, _ := rawAuthHello(t, addr, frame.NodeID{99}, "")
	p := authProof(secretA, labelDialer, a)
	if _, err := conn.Write(append(frame.AppendAuth(nil, p[:]), data...)); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "raw peer up and its frame delivered", func() bool { return r.peer("raw") != nil && r.nframes("raw") == 1 })
}

// TestAuthTimeout: a dialer that never sends its proof is closed at the
// handshake timeout.
func TestAuthTimeout(t *testing.T) {
	r := newRecorder()
	e := newEngine(t, "srv", r, func(o *Options) { o.Secret = secretA; o.HandshakeTimeout = 300 * time.Millisecond })
	conn, _, _ := rawAuthHello(t, listen(t, e), frame.NodeID{7})
	if got := expectClosed(t, conn); got != frame.CodeTimeout {
		t.Fatalf("closed with %v, want timeout", got)
	}
}
