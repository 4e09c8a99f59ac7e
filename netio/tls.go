package netio

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// TLSConfig is the mutual-TLS setup of an engine (Options.TLS) or of one
// dial target (WithTLS). Both sides present a certificate and verify the
// other's against CAs; peers are identified by node names in their
// certificates (PeerNames), not by host names or addresses, which is why
// the client side does not verify the dialed host name.
type TLSConfig struct {
	// Certificate is this node's certificate (with any intermediates) and
	// private key, presented to every peer, as server and as client.
	// Required.
	Certificate tls.Certificate
	// CAs are the authorities a peer's certificate must chain to.
	// Required.
	CAs *x509.CertPool
	// PeerNames pins peers: when not empty, a peer's certificate must
	// carry one of these names as a DNS subject alternative name (or, if
	// it has none, as its common name). Empty: any certificate the CAs
	// vouch for.
	PeerNames []string
}

// Errors for a peer certificate this node refuses. The TLS handshake
// fails with one of them (wrapped) and the connection is counted in
// Stats.Failures as code auth.
var (
	ErrNoCertificate = errors.New("netio: peer presented no TLS certificate")
	ErrUntrustedCert = errors.New("netio: peer certificate not signed by a trusted CA")
	ErrNameNotPinned = errors.New("netio: peer certificate name not in the pinned names")
)

// LoadTLSConfig reads a PEM certificate and key and a PEM file of CA
// certificates, and pins peerNames (see TLSConfig).
func LoadTLSConfig(certFile, keyFile, caFile string, peerNames []string) (*TLSConfig, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("cannot load TLS certificate: %w", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("cannot load TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("cannot load TLS CA: no PEM certificate in %s", caFile)
	}
	c := &TLSConfig{Certificate: cert, CAs: pool, PeerNames: peerNames}
	return c, c.Validate()
}

// Validate reports a TLSConfig that cannot work.
func (c *TLSConfig) Validate() error {
	var errs []error
	if len(c.Certificate.Certificate) == 0 || c.Certificate.PrivateKey == nil {
		errs = append(errs, errors.New("netio: TLS needs a certificate and its private key"))
	}
	if c.CAs == nil {
		errs = append(errs, errors.New("netio: TLS needs the CAs that sign peer certificates (mutual TLS)"))
	}
	for _, n := range c.PeerNames {
		if strings.TrimSpace(n) == "" {
			errs = append(errs, errors.New("netio: empty TLS peer name"))
			break
		}
	}
	return errors.Join(errs...)
}

// WithPeerNames returns a copy of c pinning names instead: for dialing a
// node whose certificate name is known (WithTLS).
func (c *TLSConfig) WithPeerNames(names ...string) *TLSConfig {
	d := *c
	d.PeerNames = slices.Clone(names)
	return &d
}

// tlsSetup is a TLSConfig compiled into crypto/tls configurations, built
// once per engine or dial target.
type tlsSetup struct {
	server, client *tls.Config
	pinned         []string
}

func (c *TLSConfig) compile() *tlsSetup {
	pinned := slices.Clone(c.PeerNames)
	cas := c.CAs
	verify := func(usage x509.ExtKeyUsage) func(tls.ConnectionState) error {
		return func(cs tls.ConnectionState) error {
			_, err := verifyPeer(cs.PeerCertificates, cas, pinned, usage)
			return err
		}
	}
	base := tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{c.Certificate},
	}
	srv, cli := base.Clone(), base.Clone()
	// The server requests a certificate without having crypto/tls verify
	// it, and the client skips crypto/tls's verification (which would
	// check the dialed host name); VerifyConnection then checks the chain
	// and the pinned names on both sides, so every refusal is one of the
	// errors above.
	srv.ClientAuth = tls.RequestClientCert
	srv.SessionTicketsDisabled = true
	srv.VerifyConnection = verify(x509.ExtKeyUsageClientAuth)
	cli.InsecureSkipVerify = true
	cli.VerifyConnection = verify(x509.ExtKeyUsageServerAuth)
	return &tlsSetup{server: srv, client: cli, pinned: pinned}
}

// verifyPeer checks a peer's certificate chain against cas for usage, and
// its names against pinned (none pinned: any name). It returns the name
// the certificate is accepted under.
func verifyPeer(chain []*x509.Certificate, cas *x509.CertPool, pinned []string, usage x509.ExtKeyUsage) (string, error) {
	if len(chain) == 0 {
		return "", ErrNoCertificate
	}
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: cas, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return "", fmt.Errorf("%w: %w", ErrUntrustedCert, err)
	}
	name, ok := matchName(leaf, pinned)
	if !ok {
		return "", fmt.Errorf("%w: certificate names %q, pinned %q", ErrNameNotPinned, certNames(leaf), pinned)
	}
	return name, nil
}

// matchName returns the name of c that pinned allows (DNS names compare
// case-insensitively): its first name when nothing is pinned.
func matchName(c *x509.Certificate, pinned []string) (string, bool) {
	names := certNames(c)
	if len(pinned) == 0 {
		if len(names) == 0 {
			return "", true
		}
		return names[0], true
	}
	for _, n := range names {
		for _, p := range pinned {
			if strings.EqualFold(n, p) {
				return n, true
			}
		}
	}
	return "", false
}

// certNames returns a certificate's DNS names, or its common name if it
// has none.
func certNames(c *x509.Certificate) []string {
	if len(c.DNSNames) > 0 {
		return c.DNSNames
	}
	if c.Subject.CommonName != "" {
		return []string{c.Subject.CommonName}
	}
	return nil
}

// isCertError reports whether a TLS handshake failed on a certificate
// decision of this node.
func isCertError(err error) bool {
	return errors.Is(err, ErrNoCertificate) || errors.Is(err, ErrUntrustedCert) || errors.Is(err, ErrNameNotPinned)
}
