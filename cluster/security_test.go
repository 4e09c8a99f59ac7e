package cluster

import (
	"slices"
	"testing"
)

func TestParseSecurity(t *testing.T) {
	l, err := Parse([]byte(`x-sec: &sec
  tls_ca: /etc/weir/ca.pem
  tls_peer_names: [manager, worker-1, ops]
  secret_file: /etc/weir/secret
nodes:
  - {<<: *sec, name: manager, role: manager, host: h, port: 1, tls_cert: m.pem, tls_key: m-key.pem}
  - {<<: *sec, name: worker-1, role: worker, host: h, port: 2, tls_cert: w.pem, tls_key: w-key.pem, tls_peer_names: manager}
`))
	if err != nil {
		t.Fatal(err)
	}
	m, w := l.Nodes[0], l.Nodes[1]
	if m.TLS == nil || m.TLS.Cert != "m.pem" || m.TLS.Key != "m-key.pem" || m.TLS.CA != "/etc/weir/ca.pem" ||
		!slices.Equal(m.TLS.PeerNames, []string{"manager", "worker-1", "ops"}) || m.SecretFile != "/etc/weir/secret" {
		t.Errorf("manager = %+v %+v", m, m.TLS)
	}
	if !slices.Equal(w.TLS.PeerNames, []string{"manager"}) || w.TLS.Cert != "w.pem" {
		t.Errorf("worker-1 = %+v", w.TLS)
	}
	plain, err := Parse([]byte("nodes:\n  - {name: m, role: manager, host: h, port: 1}\n"))
	if err != nil || plain.Nodes[0].TLS != nil || plain.Nodes[0].SecretFile != "" {
		t.Fatalf("plain layout: %+v %v", plain, err)
	}
}

func TestParseSecurityErrors(t *testing.T) {
	_, err := Parse([]byte(`nodes:
  - {name: m, role: manager, host: h, port: 1, tls_cert: c, tls_key: k, secret_file: s}
  - {name: w, role: worker, host: h, port: 2, tls_peer_names: [ok, "bad name"]}
  - {name: x, role: worker, host: h, port: 3, secret_file: ""}
  - {name: y, role: worker, host: h, port: 4, tls_peer_names: {a: b}}
`))
	checkErrors(t, err, []wantErr{
		{2, "m", "tls_ca missing"},
		{3, "w", "tls_cert missing"},
		{3, "w", "tls_key missing"},
		{3, "w", "tls_ca missing"},
		{3, "w", `tls_peer_names: "bad name": invalid name`},
		{4, "x", "empty secret_file"},
		{5, "y", "tls_peer_names: want a string"},
		{5, "y", "tls_cert missing"},
		{5, "y", "tls_key missing"},
		{5, "y", "tls_ca missing"},
		{0, "", "TLS is set on 3 of 4 nodes (m, w, y)"},
		{0, "", "secret_file is set on 1 of 4 nodes (m)"},
	})
}

func TestLoadSecureExample(t *testing.T) {
	l, err := Load("../examples/secure.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range l.Nodes {
		if n.TLS == nil || n.TLS.Cert != "certs/"+n.Name+".pem" || n.SecretFile == "" || len(n.TLS.PeerNames) != 7 {
			t.Errorf("node %s: %+v %+v", n.Name, n, n.TLS)
		}
	}
}
