// Package devcert makes a development certificate authority and node
// certificates for weir's mutual TLS: `weir-node gen-certs` writes them,
// and the TLS tests of netio and cmd/node build theirs with it. It lives
// under internal because it is for development and tests, not for
// production PKI (no revocation, no key protection, long validity).
//
// Certificates use ECDSA P-256. A node certificate carries the node's
// name as its common name and its only DNS name (weir pins peers by node
// name, netio.TLSConfig.PeerNames), and may be used as server and as
// client, since every weir node is both.
package devcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Validity of what this package issues.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	CertValidity = 2 * 365 * 24 * time.Hour
)

// CA is a certificate authority that can issue node certificates.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// NewCA creates a self-signed CA named name, valid from now (minus an hour
// of clock skew) for CAValidity.
func NewCA(name string, now time.Time) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("cannot generate CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"weir development"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("cannot create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Issue creates a certificate for node name signed by the CA, valid from
// now for CertValidity, and returns it and its key in PEM.
func (ca *CA) Issue(name string, now time.Time) (certPEM, keyPEM []byte, err error) {
	return ca.IssueWith(name, now, nil)
}

// IssueWith is Issue with a hook that may change the certificate template
// before it is signed (tests make expired or client-only certificates).
func (ca *CA) IssueWith(name string, now time.Time, edit func(*x509.Certificate)) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot generate key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"weir development"}},
		DNSNames:     []string{name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(CertValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if edit != nil {
		edit(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot create certificate for %s: %w", name, err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), nil
}

// TLSCertificate issues a certificate for name and returns it ready for
// crypto/tls.
func (ca *CA) TLSCertificate(name string, now time.Time) (tls.Certificate, error) {
	c, k, err := ca.Issue(name, now)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(c, k)
}

// Pool returns a certificate pool holding the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// PEM returns the CA certificate in PEM.
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// Files in a directory written by WriteDir.
const (
	CAFile    = "ca.pem"
	CAKeyFile = "ca-key.pem"
)

// CertFile and KeyFile name a node's certificate and key in a directory
// written by WriteDir.
func CertFile(dir, name string) string { return filepath.Join(dir, name+".pem") }

// KeyFile names a node's key; see CertFile.
func KeyFile(dir, name string) string { return filepath.Join(dir, name+"-key.pem") }

// WriteDir writes a certificate and key for each name into dir (created if
// needed): NAME.pem and NAME-key.pem, signed by the CA in ca.pem and
// ca-key.pem, which it creates if dir holds none (so later runs add nodes
// to the same CA). It refuses to overwrite a node's files. Keys are
// written with mode 0600. It returns the paths written.
func WriteDir(dir string, names []string, now time.Time) ([]string, error) {
	if len(names) == 0 {
		return nil, errors.New("no node names")
	}
	for _, n := range names {
		if n == "" || n == "ca" || n != filepath.Base(n) || n == "." || n == ".." {
			return nil, fmt.Errorf("bad node name %q", n)
		}
		for _, f := range []string{CertFile(dir, n), KeyFile(dir, n)} {
			if _, err := os.Stat(f); err == nil {
				return nil, fmt.Errorf("%s exists; remove it to issue a new certificate for %s", f, n)
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create %s: %w", dir, err)
	}
	var written []string
	ca, err := loadCA(dir)
	if errors.Is(err, os.ErrNotExist) {
		if ca, err = NewCA("weir development CA", now); err != nil {
			return nil, err
		}
		kder, err := x509.MarshalECPrivateKey(ca.Key)
		if err != nil {
			return nil, err
		}
		if err := writeFile(filepath.Join(dir, CAKeyFile), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600, &written); err != nil {
			return written, err
		}
		if err := writeFile(filepath.Join(dir, CAFile), ca.PEM(), 0o644, &written); err != nil {
			return written, err
		}
	} else if err != nil {
		return nil, err
	}
	for _, n := range names {
		c, k, err := ca.Issue(n, now)
		if err != nil {
			return written, err
		}
		if err := writeFile(KeyFile(dir, n), k, 0o600, &written); err != nil {
			return written, err
		}
		if err := writeFile(CertFile(dir, n), c, 0o644, &written); err != nil {
			return written, err
		}
	}
	return written, nil
}

// loadCA reads the CA of a directory written by WriteDir.
func loadCA(dir string) (*CA, error) {
	cpem, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil {
		return nil, err
	}
	kpem, err := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("%s without %s: %w", CAFile, CAKeyFile, err)
	}
	cb, _ := pem.Decode(cpem)
	kb, _ := pem.Decode(kpem)
	if cb == nil || kb == nil {
		return nil, fmt.Errorf("cannot read the CA in %s: not PEM", dir)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("cannot read the CA certificate: %w", err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("cannot read the CA key: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

func writeFile(path string, data []byte, mode os.FileMode, written *[]string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	*written = append(*written, path)
	return nil
}

// serial returns a random 128-bit serial number.
func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	return n
}
