package cluster

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/netio"
)

// layoutErrors returns the *LayoutErrors joined in err, failing the test
// if err holds anything else.
func layoutErrors(t *testing.T, err error) []*LayoutError {
	t.Helper()
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	out := make([]*LayoutError, len(errs))
	for i, e := range errs {
		var le *LayoutError
		if !errors.As(e, &le) {
			t.Fatalf("error %d is %T, not *LayoutError: %v", i, e, e)
		}
		out[i] = le
	}
	return out
}

// wantErr is one expected problem: its line, node and a part of its message.
type wantErr struct {
	line int
	node string
	msg  string
}

func checkErrors(t *testing.T, err error, want []wantErr) {
	t.Helper()
	got := layoutErrors(t, err)
	if len(got) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(got), len(want), err)
	}
	for i, w := range want {
		g := got[i]
		if g.Line != w.line || g.Node != w.node || !strings.Contains(g.Msg, w.msg) {
			t.Errorf("error %d = {line %d, node %q, %q}, want {line %d, node %q, containing %q}",
				i, g.Line, g.Node, g.Msg, w.line, w.node, w.msg)
		}
	}
}

func TestParseExample(t *testing.T) {
	l, err := Parse([]byte(`cluster:
  forwarding: true
  backpressure: {policy: disconnect, queue_frames: 100, queue_bytes: 4096}
  data_dir: /var/weir
  log_dir: /var/log/weir
  metrics_port: 9100
nodes:
  - {name: manager, role: manager, host: 127.0.0.1, port: 27760, metrics_port: 27770}
  - {name: logger-1, role: logger, host: 127.0.0.1, port: 27761}
  - name: proxy-1
    role: proxy
    host: ::1
    port: 27762
    weight: 2.5
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Layout{
		Options: Options{
			Forwarding:   true,
			Backpressure: Backpressure{Policy: netio.Disconnect, QueueFrames: 100, QueueBytes: 4096},
			DataDir:      "/var/weir",
			LogDir:       "/var/log/weir",
			MetricsPort:  9100,
		},
		Nodes: []Node{
			{Name: "manager", Role: frame.RoleManager, Host: "127.0.0.1", Port: 27760, Weight: 1, MetricsPort: 27770, Line: 8},
			{Name: "logger-1", Role: frame.RoleLogger, Host: "127.0.0.1", Port: 27761, Weight: 1, MetricsPort: 9100, Line: 9},
			{Name: "proxy-1", Role: frame.RoleProxy, Host: "::1", Port: 27762, Weight: 2.5, MetricsPort: 9100, Line: 10},
		},
	}
	if l.Options != want.Options {
		t.Errorf("options = %+v, want %+v", l.Options, want.Options)
	}
	if len(l.Nodes) != len(want.Nodes) {
		t.Fatalf("nodes = %+v", l.Nodes)
	}
	for i := range want.Nodes {
		if !reflect.DeepEqual(l.Nodes[i], want.Nodes[i]) {
			t.Errorf("node %d = %+v, want %+v", i, l.Nodes[i], want.Nodes[i])
		}
	}
	if a := l.Nodes[2].Addr(); a != "[::1]:27762" {
		t.Errorf("Addr = %q", a)
	}
	if a := l.Nodes[0].MetricsAddr(); a != "127.0.0.1:27770" {
		t.Errorf("MetricsAddr = %q", a)
	}
	if n, ok := l.Node("logger-1"); !ok || n.Port != 27761 {
		t.Errorf("Node(logger-1) = %+v, %v", n, ok)
	}
	if _, ok := l.Node("nope"); ok {
		t.Error("Node(nope) found")
	}
}

func TestParseDefaults(t *testing.T) {
	l, err := Parse([]byte("nodes:\n  - {name: m, role: manager, host: h, port: 1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Options{
		Backpressure: Backpressure{Policy: netio.DropOldest, QueueFrames: netio.DefaultQueueFrames, QueueBytes: netio.DefaultQueueBytes},
		DataDir:      DefaultDataDir,
		LogDir:       DefaultLogDir,
	}
	if l.Options != want {
		t.Errorf("options = %+v, want %+v", l.Options, want)
	}
	n := l.Nodes[0]
	if n.Weight != 1 || n.MetricsPort != 0 || n.MetricsAddr() != "" {
		t.Errorf("node = %+v", n)
	}
}

// TestParseAnchors: anchors live under x- keys; merge keys and aliases
// resolve; a node's own keys override merged ones.
func TestParseAnchors(t *testing.T) {
	l, err := Parse([]byte(`x-worker: &worker {role: worker, host: 10.0.0.9, weight: 3}
x-port: &p 27800
nodes:
  - {name: manager, role: manager, host: 10.0.0.1, port: *p}
  - <<: *worker
    name: w1
    port: 27801
  - {<<: *worker, name: w2, port: 27802, host: 10.0.0.2}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := l.Nodes
	if got[0].Port != 27800 || got[1].Role != frame.RoleWorker || got[1].Host != "10.0.0.9" || got[1].Weight != 3 ||
		got[2].Host != "10.0.0.2" || got[2].Weight != 3 || got[1].Line != 5 {
		t.Errorf("nodes = %+v", got)
	}
}

func TestLoadExample(t *testing.T) {
	l, err := Load("../examples/local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	count := map[frame.Role]int{}
	metrics := map[int]bool{}
	for _, n := range l.Nodes {
		count[n.Role]++
		if n.Host != "127.0.0.1" || n.Port < 27760 || n.Port > 27799 || n.MetricsPort < 27760 || n.MetricsPort > 27799 {
			t.Errorf("node %+v: want 127.0.0.1 and ports in 27760-27799", n)
		}
		metrics[n.MetricsPort] = true
	}
	if count[frame.RoleManager] != 1 || count[frame.RoleLogger] != 1 || count[frame.RoleProxy] != 2 || count[frame.RoleWorker] != 2 {
		t.Errorf("roles = %v", count)
	}
	if len(metrics) != len(l.Nodes) {
		t.Errorf("metrics ports not distinct: %v", metrics)
	}
}

func TestLoadNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "layout.yaml")
	data := "nodes:\n  - {name: m, role: manager, host: h, port: 1}\n  - {name: w1, role: wrker, host: h, port: 2}\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	want := path + `:3: node "w1": unknown role "wrker" (want manager, logger, proxy or worker)`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestLayoutErrorFormat(t *testing.T) {
	for _, tc := range []struct {
		e    LayoutError
		want string
	}{
		{LayoutError{File: "layout.yaml", Line: 7, Node: "w1", Msg: "m"}, `layout.yaml:7: node "w1": m`},
		{LayoutError{Line: 7, Msg: "m"}, `layout:7: m`},
		{LayoutError{Node: "w1", Msg: "m"}, `layout: node "w1": m`},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.e, got, tc.want)
		}
	}
}

// mgr is a valid first node; test layouts add theirs from line 3 on.
const mgr = "nodes:\n  - {name: manager, role: manager, host: 127.0.0.1, port: 27760}\n"

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want []wantErr
	}{
		{"unknown role", mgr + "  - {name: w1, role: wrker, host: 127.0.0.1, port: 1}\n",
			[]wantErr{{3, "w1", `unknown role "wrker" (want manager, logger, proxy or worker)`}}},
		{"role not a cluster role", mgr + "  - {name: c, role: client, host: 127.0.0.1, port: 1}\n",
			[]wantErr{{3, "c", `unknown role "client"`}}},
		{"duplicate name", mgr + "  - {name: w1, role: worker, host: h, port: 1}\n  - {name: w1, role: worker, host: h, port: 2}\n",
			[]wantErr{{4, "w1", "duplicate name (first defined at line 3)"}}},
		{"duplicate address", mgr + "  - {name: w1, role: worker, host: 127.0.0.1, port: 27760}\n",
			[]wantErr{{3, "w1", `address 127.0.0.1:27760 already used by node "manager" (line 2)`}}},
		{"duplicate address, IPv6 spellings", mgr + "  - {name: a, role: worker, host: '::1', port: 5}\n  - {name: b, role: worker, host: '0:0::1', port: 5}\n",
			[]wantErr{{4, "b", `address [0:0::1]:5 already used by node "a" (line 3)`}}},
		{"duplicate address, host case", mgr + "  - {name: a, role: worker, host: Box, port: 5}\n  - {name: b, role: worker, host: box, port: 5}\n",
			[]wantErr{{4, "b", `address box:5 already used by node "a"`}}},
		{"metrics address clash", mgr + "  - {name: a, role: worker, host: 127.0.0.1, port: 5, metrics_port: 27760}\n",
			[]wantErr{{3, "a", `metrics address 127.0.0.1:27760 already used by node "manager" (line 2)`}}},
		{"address clashes with metrics", "nodes:\n  - {name: m, role: manager, host: h, port: 1, metrics_port: 2}\n  - {name: w, role: worker, host: h, port: 2}\n",
			[]wantErr{{3, "w", `address h:2 already used by node "m" for metrics (line 2)`}}},
		{"cluster metrics port on a shared host", "cluster: {metrics_port: 9100}\n" + mgr + "  - {name: w, role: worker, host: 127.0.0.1, port: 2}\n",
			[]wantErr{{4, "w", `metrics address 127.0.0.1:9100 already used by node "manager" for metrics (line 3)`}}},
		{"no manager", "nodes:\n  - {name: w1, role: worker, host: h, port: 1}\n",
			[]wantErr{{1, "", "no manager (exactly one node must have role manager)"}}},
		{"two managers", mgr + "  - {name: m2, role: manager, host: h, port: 1}\n",
			[]wantErr{{3, "m2", `more than one manager ("manager" at line 2 is the manager; exactly one is allowed)`}}},
		{"port 0", mgr + "  - {name: w, role: worker, host: h, port: 0}\n",
			[]wantErr{{3, "w", "port 0 out of range (want 1..65535)"}}},
		{"port 65536", mgr + "  - {name: w, role: worker, host: h, port: 65536}\n",
			[]wantErr{{3, "w", "port 65536 out of range (want 1..65535)"}}},
		{"port negative", mgr + "  - {name: w, role: worker, host: h, port: -1}\n",
			[]wantErr{{3, "w", "port -1 out of range (want 1..65535)"}}},
		{"port not a number", mgr + "  - {name: w, role: worker, host: h, port: http}\n",
			[]wantErr{{3, "w", `port: want an integer, got "http"`}}},
		{"port huge", mgr + "  - {name: w, role: worker, host: h, port: 99999999999999999999}\n",
			[]wantErr{{3, "w", `port: want an integer, got "99999999999999999999"`}}},
		{"metrics_port 0", mgr + "  - {name: w, role: worker, host: h, port: 1, metrics_port: 0}\n",
			[]wantErr{{3, "w", "metrics_port 0 out of range (want 1..65535)"}}},
		{"metrics_port big", mgr + "  - {name: w, role: worker, host: h, port: 1, metrics_port: 70000}\n",
			[]wantErr{{3, "w", "metrics_port 70000 out of range (want 1..65535)"}}},
		{"empty name", mgr + "  - {name: '', role: worker, host: h, port: 1}\n",
			[]wantErr{{3, "", "node #2: empty name"}}},
		{"name with slash", mgr + "  - {name: a/b, role: worker, host: h, port: 1}\n",
			[]wantErr{{3, "a/b", "invalid name: only letters, digits, '.', '_' and '-' are allowed"}}},
		{"name too long", mgr + "  - {name: " + strings.Repeat("n", 256) + ", role: worker, host: h, port: 1}\n",
			[]wantErr{{3, strings.Repeat("n", 256), "invalid name: longer than 255 bytes"}}},
		{"name not a string", mgr + "  - {name: [a], role: worker, host: h, port: 1}\n",
			[]wantErr{{3, "", "node #2: name: want a string, got a list"}}},
		{"missing keys", mgr + "  - {weight: 2}\n",
			[]wantErr{{3, "", "node #2: missing name"}, {3, "", "node #2: missing role"},
				{3, "", "node #2: missing host"}, {3, "", "node #2: missing port"}}},
		{"unknown node key", mgr + "  - {name: w, role: worker, host: h, port: 1, prot: 2}\n",
			[]wantErr{{3, "w", `unknown key "prot" in a node (want name, role, host, port, weight, metrics_port, tls_cert, tls_key, tls_ca, tls_peer_names, secret_file, stores or clones)`}}},
		{"unknown cluster key", "cluster:\n  forwardng: true\n" + mgr,
			[]wantErr{{2, "", `unknown key "forwardng" in cluster (want forwarding, backpressure, data_dir, log_dir or metrics_port)`}}},
		{"unknown backpressure key", "cluster:\n  backpressure:\n    frames: 1\n" + mgr,
			[]wantErr{{3, "", `unknown key "frames" in backpressure (want policy, queue_frames or queue_bytes)`}}},
		{"unknown top-level key", "clster: {}\n" + mgr,
			[]wantErr{{1, "", `unknown key "clster" at the top level (want cluster, nodes or x-*)`}}},
		{"bad policy", "cluster:\n  backpressure: {policy: drop}\n" + mgr,
			[]wantErr{{2, "", `unknown backpressure policy "drop" (want drop_oldest, drop_newest or disconnect)`}}},
		{"bad queue bounds", "cluster:\n  backpressure:\n    queue_frames: 0\n    queue_bytes: -1\n" + mgr,
			[]wantErr{{3, "", "backpressure queue_frames 0 must be at least 1"}, {4, "", "backpressure queue_bytes -1 must be at least 1"}}},
		{"bad cluster types", "cluster:\n  forwarding: yes please\n  data_dir: {a: 1}\n  metrics_port: -5\n" + mgr,
			[]wantErr{{2, "", `forwarding: want true or false, got "yes please"`}, {3, "", "data_dir: want a string, got a mapping"},
				{4, "", "metrics_port -5 out of range (want 0..65535; 0 for none)"}}},
		{"empty dirs", "cluster: {data_dir: '', log_dir: ''}\n" + mgr,
			[]wantErr{{1, "", "empty data_dir"}, {1, "", "empty log_dir"}}},
		{"weight 0", mgr + "  - {name: p, role: proxy, host: h, port: 1, weight: 0}\n",
			[]wantErr{{3, "p", "weight 0 must be positive"}}},
		{"weight negative", mgr + "  - {name: p, role: proxy, host: h, port: 1, weight: -1.5}\n",
			[]wantErr{{3, "p", "weight -1.5 must be positive"}}},
		{"weight NaN", mgr + "  - {name: p, role: proxy, host: h, port: 1, weight: .nan}\n",
			[]wantErr{{3, "p", "weight NaN must be positive"}}},
		{"weight too large", mgr + "  - {name: p, role: proxy, host: h, port: 1, weight: 1.0e300}\n",
			[]wantErr{{3, "p", "weight 1e+300 too large"}}},
		{"weight not a number", mgr + "  - {name: p, role: proxy, host: h, port: 1, weight: heavy}\n",
			[]wantErr{{3, "p", `weight: want a number, got "heavy"`}}},
		{"host brackets", mgr + "  - {name: w, role: worker, host: '[::1]', port: 1}\n",
			[]wantErr{{3, "w", `host "[::1]": write IPv6 addresses without brackets`}}},
		{"host junk", mgr + "  - {name: w, role: worker, host: 'a b', port: 1}\n",
			[]wantErr{{3, "w", `host "a b" is neither a hostname nor an IP address`}}},
		{"host bad colon", mgr + "  - {name: w, role: worker, host: 'a:b', port: 1}\n",
			[]wantErr{{3, "w", `host "a:b" is neither a hostname nor an IP address`}}},
		{"empty host", mgr + "  - {name: w, role: worker, host: '', port: 1}\n",
			[]wantErr{{3, "w", "empty host"}}},
		{"block style names the key's line", mgr + "  - name: w\n    role: worker\n    host: h\n    port: 0\n",
			[]wantErr{{6, "w", "port 0 out of range"}}},
		{"syntax error", "nodes: [\n",
			[]wantErr{{1, "", "invalid YAML: sequence end token ']' not found"}}},
		{"duplicate YAML key", mgr + "  - {name: w, role: worker, host: h, port: 1, port: 2}\n",
			[]wantErr{{3, "", `invalid YAML: mapping key "port" already defined`}}},
		{"empty", "# nothing\n", []wantErr{{0, "", "empty layout"}}},
		{"two documents", mgr + "---\n" + mgr, []wantErr{{4, "", "more than one YAML document"}}},
		{"top level not a mapping", "- a\n", []wantErr{{1, "", "want a mapping with cluster: and nodes:, got a list"}}},
		{"no nodes key", "cluster: {}\n", []wantErr{{0, "", "no nodes: list"}}},
		{"nodes empty", "nodes: []\n", []wantErr{{1, "", "no nodes: the nodes: list is empty"}}},
		{"nodes null", "nodes:\n", []wantErr{{1, "", "no nodes: the nodes: list is empty"}}},
		{"nodes not a list", "nodes: {a: 1}\n", []wantErr{{1, "", "nodes: want a list of nodes, got a mapping"}}},
		{"node not a mapping", mgr + "  - worker\n",
			[]wantErr{{3, "", `node #2: want a mapping (name, role, host, port, ...), got "worker"`}}},
		{"anchor defined twice", "x-a: &a 1\nx-b: &a 2\n" + mgr,
			[]wantErr{{2, "", "anchor &a defined again (first at line 1)"}}},
		{"merge of a scalar", mgr + "  - {<<: 5, name: w, role: worker, host: h, port: 1}\n",
			[]wantErr{{3, "", "<<: want a mapping or a list of mappings, got 5"}}},
		{
			// Every problem is reported, sorted by line, with no cascade
			// (the bad role does not also yield "no manager" twice, the bad
			// port no address check).
			"many problems", "cluster:\n  backpressure: {policy: fast}\nnodes:\n" +
				"  - {name: m, role: manger, host: h, port: 1}\n" +
				"  - {name: w1, role: worker, host: h, port: x}\n" +
				"  - {name: w1, role: worker, host: h, port: 2, colour: red}\n",
			[]wantErr{
				{2, "", "unknown backpressure policy"},
				{3, "", "no manager"},
				{4, "m", `unknown role "manger"`},
				{5, "w1", "port: want an integer"},
				{6, "w1", `unknown key "colour"`},
				{6, "w1", "duplicate name (first defined at line 5)"},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse([]byte(tc.yaml))
			if l != nil {
				t.Errorf("Parse returned a layout with errors")
			}
			checkErrors(t, err, tc.want)
		})
	}
}

// TestValidateBuilt checks a Layout built in code: EnsureDefaults fills
// it, Validate names nodes by their Line (0 here).
func TestValidateBuilt(t *testing.T) {
	l := &Layout{Nodes: []Node{
		{Name: "m", Role: frame.RoleManager, Host: "h", Port: 1},
		{Name: "w", Role: frame.RoleWorker, Host: "h", Port: 2},
	}}
	l.EnsureDefaults()
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	if l.Nodes[1].Weight != 1 || l.Options.Backpressure.QueueFrames != netio.DefaultQueueFrames || l.Options.DataDir != DefaultDataDir {
		t.Errorf("defaults not filled: %+v", l)
	}
	l.Nodes[0].Role = frame.RoleClient
	l.Nodes[1].Weight = math.Inf(1)
	l.Nodes[1].Line = 9
	l.Options.Backpressure.Policy = netio.Policy(7)
	checkErrors(t, l.Validate(), []wantErr{
		{9, "w", "weight +Inf too large"},
		{0, "", "unknown backpressure policy policy(7)"},
		{0, "m", "role client is not a cluster role"},
		{0, "", "no manager"},
	})
	empty := &Layout{}
	empty.EnsureDefaults()
	checkErrors(t, empty.Validate(), []wantErr{{0, "", "no nodes"}})
}

// TestDocExample parses the annotated layout in doc.go, so the package
// documentation cannot drift from what Parse accepts.
func TestDocExample(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(src), "// # Layout file\n")
	if !ok {
		t.Fatal("no layout section in doc.go")
	}
	var yaml []string
	for _, line := range strings.Split(rest, "\n") {
		if strings.HasPrefix(line, "//\t") {
			yaml = append(yaml, strings.TrimPrefix(line, "//\t"))
		} else if line == "//" && len(yaml) > 0 {
			yaml = append(yaml, "")
		} else if len(yaml) > 0 {
			break // the first paragraph of text after the example
		}
	}
	l, err := Parse([]byte(strings.Join(yaml, "\n")))
	if err != nil {
		t.Fatalf("doc.go example: %v\n%s", err, strings.Join(yaml, "\n"))
	}
	if len(l.Nodes) != 6 || l.Nodes[4].Host != "10.0.0.5" || l.Nodes[2].Weight != 2 {
		t.Errorf("doc.go example parsed as %+v", l.Nodes)
	}
}
