package daemon

import (
	"errors"
	"fmt"

	"github.com/weirio/weir/netio"
)

// Security names the files of a node's transport security. The zero
// value is plaintext without authentication.
type Security struct {
	// TLSCert, TLSKey and TLSCA are PEM files: the node's certificate and
	// key, and the authorities that sign its peers' certificates. All
	// three or none; with them the node serves and dials mutual TLS only.
	TLSCert, TLSKey, TLSCA string
	// PeerNames pins the names a peer's certificate may carry (empty: any
	// certificate TLSCA signed).
	PeerNames []string
	// SecretFile holds the shared secret every peer must prove it knows.
	SecretFile string
}

// Apply loads the files into o's TLS and Secret.
func (s Security) Apply(o *netio.Options) error {
	if s.TLSCert != "" || s.TLSKey != "" || s.TLSCA != "" {
		if s.TLSCert == "" || s.TLSKey == "" || s.TLSCA == "" {
			return errors.New("TLS needs a certificate, its key and a CA file (--tls-cert, --tls-key, --tls-ca)")
		}
		c, err := netio.LoadTLSConfig(s.TLSCert, s.TLSKey, s.TLSCA, s.PeerNames)
		if err != nil {
			return err
		}
		o.TLS = c
	} else if len(s.PeerNames) > 0 {
		return errors.New("TLS peer names without TLS (--tls-cert, --tls-key, --tls-ca)")
	}
	if s.SecretFile != "" {
		secret, err := netio.LoadSecret(s.SecretFile)
		if err != nil {
			return fmt.Errorf("cannot use --secret-file: %w", err)
		}
		o.Secret = secret
	}
	return nil
}
