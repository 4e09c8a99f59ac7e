package netio

import (
	"bytes"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"

	"github.com/weirio/weir/frame"
)

// Shared-secret authentication (docs/PROTOCOL.md §6.3). The decisions are
// pure functions of the secret, the handshake messages and the nonces,
// tested without sockets; handshake.go applies them. The check runs once
// per connection, during the handshake: established connections pay
// nothing per frame.

// MinSecretLen is the shortest shared secret accepted (Options.Secret).
const MinSecretLen = 16

const (
	nonceLen      = 16
	proofLen      = sha256.Size
	labelDialer   = "weir/v1/dialer"
	labelListener = "weir/v1/listener"
)

// authCtx is what a proof binds: both nonces, both node ids and both
// roles. The dialer fills its half when it sends the hello and the
// listener's half from the welcome; the listener fills both from the hello.
type authCtx struct {
	dialerNonce, listenerNonce [nonceLen]byte
	dialer, listener           frame.NodeID
	dialerRole, listenerRole   frame.Role
}

// authProof computes HMAC-SHA256(secret, label ‖ nonce_d ‖ nonce_l ‖
// id_d ‖ id_l ‖ role_d ‖ role_l). The two labels keep a listener's proof
// from serving as a dialer's (reflection); the nonces, fresh per
// connection on both sides, keep an old proof from serving again (replay);
// the ids and roles keep a proof for one pair of nodes from serving
// another (relay to a third node).
func authProof(secret []byte, label string, a *authCtx) [proofLen]byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	m.Write(a.dialerNonce[:])
	m.Write(a.listenerNonce[:])
	m.Write(a.dialer[:])
	m.Write(a.listener[:])
	m.Write([]byte{byte(a.dialerRole), byte(a.listenerRole)})
	var out [proofLen]byte
	m.Sum(out[:0])
	return out
}

// newNonce returns a fresh random nonce. Nonces come from crypto/rand, not
// from an option: a predictable nonce would defeat the challenge.
func newNonce() (n [nonceLen]byte) {
	_, _ = crand.Read(n[:]) // never fails (crypto/rand crashes the program instead)
	return n
}

// helloAuth decides the auth part of a hello at a listener with secret
// (nil: none configured). It returns the dialer's nonce, or a refusal.
func helloAuth(secret []byte, h frame.Hello) ([nonceLen]byte, *handshakeError) {
	var nonce [nonceLen]byte
	asks := h.Features&frame.FeatAuth != 0
	switch {
	case !asks && len(h.Auth) > 0:
		return nonce, &handshakeError{code: frame.CodeProtocol, text: "auth material without the AUTH feature"}
	case secret == nil && asks:
		return nonce, &handshakeError{code: frame.CodeAuth, text: "this node has no shared secret configured, the dialer has one"}
	case secret == nil:
		return nonce, nil
	case !asks:
		return nonce, &handshakeError{code: frame.CodeAuth, text: "this node requires a shared secret (the dialer has none configured)"}
	case len(h.Auth) != nonceLen:
		return nonce, &handshakeError{code: frame.CodeProtocol, text: fmt.Sprintf("hello auth nonce of %d bytes, want %d", len(h.Auth), nonceLen)}
	}
	copy(nonce[:], h.Auth)
	return nonce, nil
}

// welcomeAuth returns the auth field of a listener's welcome: its nonce,
// then its proof.
func welcomeAuth(secret []byte, a *authCtx) []byte {
	p := authProof(secret, labelListener, a)
	out := make([]byte, 0, nonceLen+proofLen)
	return append(append(out, a.listenerNonce[:]...), p[:]...)
}

// welcomeAuthCheck decides the auth part of a welcome at a dialer with
// secret (nil: none). a holds the dialer's half (its nonce, id and role);
// the listener's half is filled from w. It returns the proof to send in an
// auth frame (nil when no auth is used), or a refusal. A dialer with a
// secret requires the listener to prove it too: a listener that skips
// auth is refused, or anyone could pose as a node.
func welcomeAuthCheck(secret []byte, a *authCtx, w frame.Welcome) ([]byte, *handshakeError) {
	asks := w.Features&frame.FeatAuth != 0
	switch {
	case !asks && len(w.Auth) > 0:
		return nil, &handshakeError{code: frame.CodeProtocol, text: "auth material without the AUTH feature"}
	case secret == nil && asks:
		return nil, &handshakeError{code: frame.CodeAuth, text: "the peer requires a shared secret; this node has none configured"}
	case secret == nil:
		return nil, nil
	case !asks:
		return nil, &handshakeError{code: frame.CodeAuth, text: "the peer did not authenticate (no shared secret configured there)"}
	case len(w.Auth) != nonceLen+proofLen:
		return nil, &handshakeError{code: frame.CodeProtocol, text: fmt.Sprintf("welcome auth of %d bytes, want %d", len(w.Auth), nonceLen+proofLen)}
	}
	copy(a.listenerNonce[:], w.Auth[:nonceLen])
	a.listener, a.listenerRole = w.ID, w.Role
	if a.listenerNonce == a.dialerNonce {
		// Only a peer replaying this node's own nonce could do that.
		return nil, &handshakeError{code: frame.CodeAuth, text: "the peer echoed this node's nonce"}
	}
	want := authProof(secret, labelListener, a)
	if !hmac.Equal(w.Auth[nonceLen:], want[:]) {
		return nil, &handshakeError{code: frame.CodeAuth, text: "wrong shared secret (the listener's proof does not check)"}
	}
	p := authProof(secret, labelDialer, a)
	return p[:], nil
}

// authFrameCheck decides a listener's answer to the dialer's auth frame.
func authFrameCheck(secret []byte, a *authCtx, f frame.Frame) *handshakeError {
	if f.Kind() != frame.KindAuth {
		return &handshakeError{code: frame.CodeAuth, text: fmt.Sprintf("%v frame before authentication", f.Kind())}
	}
	proof, err := frame.DecodeAuth(f.Body())
	if err != nil {
		return &handshakeError{code: frame.CodeProtocol, text: "bad auth frame: " + err.Error()}
	}
	want := authProof(secret, labelDialer, a)
	if !hmac.Equal(proof, want[:]) {
		return &handshakeError{code: frame.CodeAuth, text: "wrong shared secret (the dialer's proof does not check)"}
	}
	return nil
}

// LoadSecret reads a shared secret from a file: its contents without
// leading and trailing white space (a newline an editor added is not part
// of the secret), at least MinSecretLen bytes. Keep the file readable by
// the node's user only.
func LoadSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read secret: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < MinSecretLen {
		return nil, fmt.Errorf("cannot use secret in %s: %d bytes, want at least %d (for example: head -c 32 /dev/urandom | base64 > %s)",
			path, len(b), MinSecretLen, path)
	}
	return b, nil
}
