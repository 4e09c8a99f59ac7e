package main

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startNode runs the binary with args and returns its peering and metrics
// addresses, as it logs them. The node is stopped (SIGTERM) at cleanup.
func startNode(t *testing.T, args ...string) (listen, metrics string) {
	listen, metrics, _ = startNodeStop(t, args...)
	return listen, metrics
}

// startNodeStop is startNode that also returns a function stopping the
// node (SIGTERM) and failing the test unless it exits cleanly.
func startNodeStop(t *testing.T, args ...string) (listen, metrics string, stop func()) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("node exit after SIGTERM: %v", err)
				}
			case <-time.After(60 * time.Second):
				_ = cmd.Process.Kill()
				t.Error("node did not stop on SIGTERM")
			}
		})
	}
	t.Cleanup(stop)
	type addrs struct{ listen, metrics string }
	found := make(chan addrs, 1)
	go func() {
		re := regexp.MustCompile(`listen=(127\.0\.0\.1:\d+) metrics=(127\.0\.0\.1:\d+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- addrs{m[1], m[2]}
			}
		}
	}()
	select {
	case a := <-found:
		return a.listen, a.metrics, stop
	case <-time.After(60 * time.Second):
		t.Fatal("node did not report its addresses")
	}
	return "", "", stop
}

// TestBinarySecure: gen-certs, a node with mutual TLS and a shared secret,
// and the pub client with and without the right credentials.
func TestBinarySecure(t *testing.T) {
	dir := t.TempDir()
	certs, foreign := filepath.Join(dir, "certs"), filepath.Join(dir, "foreign")
	if out, err := exec.Command(binary, "gen-certs", "--dir", certs, "--names", "srv,ops").CombinedOutput(); err != nil {
		t.Fatalf("gen-certs: %v\n%s", err, out)
	}
	for _, f := range []string{"ca.pem", "ca-key.pem", "srv.pem", "srv-key.pem", "ops.pem", "ops-key.pem"} {
		if _, err := os.Stat(filepath.Join(certs, f)); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(binary, "gen-certs", "--dir", certs, "--names", "ops").CombinedOutput(); err == nil || !strings.Contains(string(out), "exists") {
		t.Fatalf("gen-certs over existing files: %v\n%s", err, out)
	}
	if out, err := exec.Command(binary, "gen-certs", "--dir", foreign, "--names", "ops").CombinedOutput(); err != nil {
		t.Fatalf("gen-certs: %v\n%s", err, out)
	}
	secret := filepath.Join(dir, "secret")
	_ = os.WriteFile(secret, []byte("correct horse battery staple\n"), 0o600)
	wrongSecret := filepath.Join(dir, "wrong")
	_ = os.WriteFile(wrongSecret, []byte("incorrect horse battery staple\n"), 0o600)
	tlsArgs := func(d, name string) []string {
		return []string{"--tls-cert", filepath.Join(d, name+".pem"), "--tls-key", filepath.Join(d, name+"-key.pem"),
			"--tls-ca", filepath.Join(certs, "ca.pem")}
	}
	addr, metrics := startNode(t, append(tlsArgs(certs, "srv"), "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0",
		"--data-dir", filepath.Join(dir, "data"), "--log-dir", filepath.Join(dir, "logs"),
		"--tls-peer-name", "ops", "--secret-file", secret)...)
	pub := func(extra ...string) error {
		args := append([]string{"pub", "--node", addr, "--timeout", "3s", "demo/x", `{"@data-type":"count","data":1}`}, extra...)
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err != nil {
			return errors.New(string(out))
		}
		return nil
	}
	if err := pub(append(tlsArgs(certs, "ops"), "--secret-file", secret)...); err != nil {
		t.Fatalf("pub with the right credentials: %v", err)
	}
	for name, args := range map[string][]string{
		"plaintext":    {"--secret-file", secret},
		"no-secret":    tlsArgs(certs, "ops"),
		"wrong-secret": append(tlsArgs(certs, "ops"), "--secret-file", wrongSecret),
		"foreign-cert": append(tlsArgs(foreign, "ops"), "--secret-file", secret),
		"not-pinned":   append(tlsArgs(certs, "srv"), "--secret-file", secret),
	} {
		if err := pub(args...); err == nil {
			t.Errorf("%s: pub succeeded", name)
		}
	}
	resp, err := http.Get("http://" + metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `weir_connection_failures_total{code="auth"}`) {
		t.Errorf("auth failures not in metrics:\n%s", body)
	}
}
