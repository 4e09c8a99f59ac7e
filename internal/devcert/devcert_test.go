package devcert

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	now := time.Now()
	if _, err := WriteDir(dir, []string{"a", "b"}, now); err != nil {
		t.Fatal(err)
	}
	// A second run adds nodes under the same CA and never overwrites.
	if _, err := WriteDir(dir, []string{"c"}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteDir(dir, []string{"a"}, now); err == nil {
		t.Fatal("overwrote a node's files")
	}
	for _, bad := range []string{"", "ca", "../x", "x/y"} {
		if _, err := WriteDir(dir, []string{bad}, now); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	caPEM, _ := os.ReadFile(filepath.Join(dir, CAFile))
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("no CA")
	}
	for _, n := range []string{"a", "b", "c"} {
		pair, err := tls.LoadX509KeyPair(CertFile(dir, n), KeyFile(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(pair.Certificate[0])
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{usage}, DNSName: n}); err != nil {
				t.Errorf("%s: %v", n, err)
			}
		}
		if fi, _ := os.Stat(KeyFile(dir, n)); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s key mode %v", n, fi.Mode())
		}
	}
	if fi, _ := os.Stat(filepath.Join(dir, CAKeyFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("CA key mode %v", fi.Mode())
	}
	b, _ := pem.Decode(caPEM)
	ca, _ := x509.ParseCertificate(b.Bytes)
	if !ca.IsCA || ca.NotAfter.Before(now.Add(CAValidity-time.Hour)) {
		t.Errorf("CA %+v", ca)
	}
}
