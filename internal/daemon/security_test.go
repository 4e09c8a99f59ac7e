package daemon

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/weirio/weir/cluster"
	"github.com/weirio/weir/internal/devcert"
	"github.com/weirio/weir/netio"
)

func TestSecurityApply(t *testing.T) {
	dir := t.TempDir()
	if _, err := devcert.WriteDir(dir, []string{"n"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret")
	_ = os.WriteFile(secret, []byte("0123456789abcdef0123\n"), 0o600)
	good := Security{TLSCert: devcert.CertFile(dir, "n"), TLSKey: devcert.KeyFile(dir, "n"), TLSCA: filepath.Join(dir, devcert.CAFile),
		PeerNames: []string{"m"}, SecretFile: secret}
	var o netio.Options
	if err := good.Apply(&o); err != nil {
		t.Fatal(err)
	}
	if o.TLS == nil || !slices.Equal(o.TLS.PeerNames, []string{"m"}) || string(o.Secret) != "0123456789abcdef0123" {
		t.Fatalf("applied %+v", o)
	}
	var none netio.Options
	if err := (Security{}).Apply(&none); err != nil || none.TLS != nil || none.Secret != nil {
		t.Fatalf("zero Security: %+v %v", none, err)
	}
	for name, s := range map[string]Security{
		"cert-only":       {TLSCert: good.TLSCert},
		"names-only":      {PeerNames: []string{"m"}},
		"missing-secret":  {SecretFile: filepath.Join(dir, "missing")},
		"missing-ca-file": {TLSCert: good.TLSCert, TLSKey: good.TLSKey, TLSCA: filepath.Join(dir, "nope.pem")},
	} {
		if err := s.Apply(&netio.Options{}); err == nil {
			t.Errorf("%s: applied", name)
		}
	}
}

func TestFromLayoutSecurity(t *testing.T) {
	l, err := cluster.Parse([]byte(`nodes:
  - {name: m, role: manager, host: 127.0.0.1, port: 1, tls_cert: m.pem, tls_key: m-key.pem, tls_ca: ca.pem, tls_peer_names: [w], secret_file: s}
  - {name: w, role: worker, host: 127.0.0.1, port: 2, tls_cert: w.pem, tls_key: w-key.pem, tls_ca: ca.pem, secret_file: s}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := FromLayout(l, "m")
	if err != nil {
		t.Fatal(err)
	}
	want := Security{TLSCert: "m.pem", TLSKey: "m-key.pem", TLSCA: "ca.pem", PeerNames: []string{"w"}, SecretFile: "s"}
	if s := cfg.Security; s.TLSCert != want.TLSCert || s.TLSKey != want.TLSKey || s.TLSCA != want.TLSCA ||
		!slices.Equal(s.PeerNames, want.PeerNames) || s.SecretFile != want.SecretFile {
		t.Fatalf("security %+v, want %+v", s, want)
	}
}
