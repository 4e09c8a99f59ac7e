package main

import (
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "weir-node-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "weir-node")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		panic("go build: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestBinaryServesAndStops: the node starts, answers /healthz and status,
// and exits 0 on SIGTERM.
func TestBinaryServesAndStops(t *testing.T) {
	dir := t.TempDir()
	_, addr, stop := startNodeStop(t, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0",
		"--data-dir", filepath.Join(dir, "data"), "--log-dir", filepath.Join(dir, "logs"))
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok\n" {
		t.Fatalf("healthz %q", body)
	}
	out, err := exec.Command(binary, "status", "--metrics", addr).Output()
	if err != nil || !strings.Contains(string(out), `"policy": "drop_oldest"`) {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, d := range []string{"data", "logs"} {
		if _, err := os.Stat(filepath.Join(dir, d)); err != nil {
			t.Errorf("directory %s not created: %v", d, err)
		}
	}
	stop() // fails the test unless the node exits 0
}

// TestBinaryRejectsBadInput: clear messages and a non-zero exit.
func TestBinaryRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	_ = os.WriteFile(bad, []byte("nodes:\n  - {name: w1, role: wrker, host: 127.0.0.1, port: 1}\n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "unknown flag: --bogus"},
		{[]string{"--policy", "drop_all"}, `unknown backpressure policy "drop_all"`},
		{[]string{"run", "--layout", bad, "--name", "w1"}, `bad.yaml:2: node "w1": unknown role "wrker"`},
		{[]string{"run", "--layout", bad}, `required flag(s) "name" not set`},
		{[]string{"run", "--layout", filepath.Join(dir, "missing.yaml"), "--name", "x"}, "no such file"},
		{[]string{"pub", "t"}, "accepts 2 arg(s)"},
		{[]string{"pub", "t", "42", "--node", "127.0.0.1:1", "--timeout", "1s"}, "bad value"},
		{[]string{"status", "--metrics", "127.0.0.1:1"}, "cannot reach node metrics"},
		{[]string{"--tls-cert", "x.pem"}, "TLS needs a certificate, its key and a CA file"},
		{[]string{"--secret-file", filepath.Join(dir, "missing")}, "cannot use --secret-file"},
		{[]string{"gen-certs", "--dir", dir}, `required flag(s) "names" not set`},
		{[]string{"store", "frob", "default"}, `unknown operation "frob"`},
		{[]string{"store", "get"}, "want an operation and a store name"},
		{[]string{"store", "put", "default", "k"}, "put takes 3 arguments after the operation, got 2"},
		{[]string{"store", "get", "default", "k", "--expire", "1s"}, "--expire applies to put only"},
		{[]string{"store", "put", "default", "k", "{bad", "--node", "127.0.0.1:1", "--timeout", "1s"}, "bad value"},
		{[]string{"--store", "a:disk"}, `unknown backend "disk"`},
		{[]string{"--clone", "a:memory"}, "a clone keeps its copy in memory"},
	}
	for _, c := range cases {
		out, err := exec.Command(binary, c.args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Errorf("%v: exit %v, want non-zero", c.args, err)
		}
		if !strings.Contains(string(out), c.want) {
			t.Errorf("%v: output %q lacks %q", c.args, out, c.want)
		}
	}
}

// TestBinaryStore: weir-node store against a standalone node's default
// Pebble store, which keeps its data across a restart.
func TestBinaryStore(t *testing.T) {
	dir := t.TempDir()
	dirs := []string{"--data-dir", filepath.Join(dir, "data"), "--log-dir", filepath.Join(dir, "logs")}
	dirs = append(dirs, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0")
	addr, _, stop := startNodeStop(t, dirs...)
	run := func(args ...string) (string, error) {
		// --timeout before args: a later --timeout in args wins.
		out, err := exec.Command(binary, append([]string{"store", "--node", addr, "--timeout", "60s"}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	must := func(want string, args ...string) {
		t.Helper()
		out, err := run(args...)
		if err != nil || out != want {
			t.Fatalf("store %v: %v, output %q, want %q", args, err, out, want)
		}
	}
	must("", "put", "default", "greeting", "hello")
	must("", "put", "default", "n", `{"@data-type":"count","data":42}`, "--expire", "1h")
	must(`{"@data-type":"string","data":"hello"}`, "get", "default", "greeting")
	must(`{"@data-type":"count","data":42}`, "get", "default", "n")
	must(`{"@data-type":"boolean","data":true}`, "exists", "default", "n")
	must("", "erase", "default", "greeting")
	must(`{"@data-type":"set","data":[{"@data-type":"string","data":"n"}]}`, "keys", "default")
	if out, err := run("get", "default", "greeting"); err == nil || !strings.Contains(out, "no such key") {
		t.Fatalf("get of an erased key: %v %q", err, out)
	}
	if out, err := run("get", "nosuch", "k", "--timeout", "2s"); err == nil || !strings.Contains(out, `no master of store "nosuch" reachable`) {
		t.Fatalf("get on a store without a master: %v %q", err, out)
	}
	stop()
	addr, _ = startNode(t, dirs...)
	must(`{"@data-type":"count","data":42}`, "get", "default", "n")
}
