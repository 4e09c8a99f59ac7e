package cluster

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/hrw"
	"github.com/weirio/weir/netio"
)

// ErrUnknownNode is returned (wrapped) for a node name that is not in the
// layout or not in the pool at hand.
var ErrUnknownNode = errors.New("cluster: unknown node")

// Layout is a cluster's layout: its cluster-wide options and its nodes.
// Parse and Load return a validated Layout with every default filled in.
// A Layout built in code is checked with EnsureDefaults and Validate.
// A Layout is plain data; it is not modified by this package once built.
type Layout struct {
	// Options are the cluster-wide settings (the cluster: section).
	Options Options
	// Nodes are the cluster's nodes, in the order of the layout file.
	Nodes []Node
}

// Options are the cluster-wide settings: the layout's cluster: section.
// Parse fills a setting the file omits with the default given in its
// comment; EnsureDefaults does the same for the zero fields of Options
// built in code. A setting that is present in the file is taken as written
// and validated (queue_frames: 0 is an error, not "the default").
type Options struct {
	// Forwarding makes nodes relay frames between their peers (with a hop
	// TTL and duplicate suppression; see node.Options). YAML: forwarding.
	// Default false, as in Zeek: the topology already connects every pair
	// of nodes that exchange messages.
	Forwarding bool
	// Backpressure bounds each peer's outbound queue. YAML: backpressure.
	Backpressure Backpressure
	// DataDir is where nodes keep persistent state; by convention each node
	// uses DataDir/<node name>, so one directory serves a whole local
	// cluster. A relative path is relative to the node's working directory.
	// YAML: data_dir. Default "weir-data".
	DataDir string
	// LogDir is where loggers write log files, each in LogDir/<node name>
	// by the same convention. YAML: log_dir. Default "weir-logs".
	LogDir string
	// MetricsPort is the metrics port of every node that sets none of its
	// own; it listens on the node's host. It suits a cluster with one node
	// per host; nodes sharing a host need their own metrics_port. YAML:
	// metrics_port. Default 0: such nodes serve no metrics.
	MetricsPort int
}

// Backpressure bounds a peer's outbound queue and says what happens when it
// is full (netio.Options has the same three fields).
type Backpressure struct {
	// Policy applies when a queue is full. YAML: policy, one of drop_oldest,
	// drop_newest, disconnect. Default drop_oldest (Zeek's default).
	Policy netio.Policy
	// QueueFrames bounds a queue in frames. YAML: queue_frames. Default
	// netio.DefaultQueueFrames (8192, Zeek's cluster default).
	QueueFrames int
	// QueueBytes bounds a queue in bytes. YAML: queue_bytes. Default
	// netio.DefaultQueueBytes (64 MiB).
	QueueBytes int
}

// Defaults of Options.
const (
	DefaultDataDir = "weir-data"
	DefaultLogDir  = "weir-logs"
)

// Node is one node of the layout.
type Node struct {
	// Name identifies the node in the cluster: its node topic, its pool
	// member name, its name in the handshake. Letters, digits, '.', '_' and
	// '-' only, at most frame.MaxNameLen bytes, unique in the layout.
	Name string
	// Role is RoleManager, RoleLogger, RoleProxy or RoleWorker. YAML: role,
	// one of manager, logger, proxy, worker.
	Role frame.Role
	// Host and Port are where the node listens for its peers. Host is a
	// hostname or an IP address (IPv6 without brackets); Port is 1..65535.
	// No two nodes share an address.
	Host string
	Port int
	// Weight is the node's relative share of keys in its pool's HRW picks
	// (a node of weight 2 owns twice the keys of one of weight 1). It must
	// be positive and at most hrw.MaxWeight; it does not affect
	// round-robin. Default 1.
	Weight float64
	// MetricsPort is where the node serves metrics, on Host; 0 means no
	// metrics endpoint. YAML: metrics_port (1..65535). Default
	// Options.MetricsPort.
	MetricsPort int
	// TLS, when set, makes the node serve and dial mutual TLS. YAML:
	// tls_cert, tls_key, tls_ca and tls_peer_names. Either every node of a
	// layout has TLS or none: a TLS node and a plaintext one cannot talk.
	// Default nil: plaintext.
	TLS *NodeTLS
	// SecretFile is the file holding the cluster's shared secret
	// (netio.LoadSecret); every node must hold the same secret. YAML:
	// secret_file. Either every node has one or none. Default "": no
	// shared-secret authentication.
	SecretFile string
	// Stores are the data stores the node is the master of, Clones those
	// it keeps a replica of (StoreSpec). YAML: stores, a list of "name"
	// or "name:backend" (pebble, the default, pebble-nosync or memory;
	// Pebble data goes to the node's data directory, stores/<name>), and
	// clones, a list of names. A store has at most one master in a layout.
	Stores, Clones []StoreSpec
	// Line is the line of the node's entry in the layout file (0 for a node
	// not read from a file); errors about the node name it.
	Line int
}

// NodeTLS names a node's TLS files (PEM), relative to the node's working
// directory, and the names it accepts in peer certificates (see
// netio.TLSConfig and netio.LoadTLSConfig).
type NodeTLS struct {
	// Cert and Key are the node's certificate and private key. YAML:
	// tls_cert, tls_key. Required with TLS.
	Cert, Key string
	// CA is the certificate of the authorities that sign peer
	// certificates. YAML: tls_ca. Required with TLS.
	CA string
	// PeerNames are the names (DNS SAN, else CN) a peer's certificate may
	// carry; typically the names of the layout's nodes and of clients.
	// YAML: tls_peer_names, a list. Default: any certificate CA signed.
	PeerNames []string
}

// Addr returns the node's peering address, host:port.
func (n Node) Addr() string { return net.JoinHostPort(n.Host, strconv.Itoa(n.Port)) }

// MetricsAddr returns the node's metrics address, host:port, or "" if it
// serves no metrics.
func (n Node) MetricsAddr() string {
	if n.MetricsPort == 0 {
		return ""
	}
	return net.JoinHostPort(n.Host, strconv.Itoa(n.MetricsPort))
}

// Node returns the node with the given name.
func (l *Layout) Node(name string) (Node, bool) {
	i := l.index(name)
	if i < 0 {
		return Node{}, false
	}
	return l.Nodes[i], true
}

// index returns the index of the named node in l.Nodes, or -1. Layouts are
// small (at most a few hundred nodes) and lookups are not on a data path,
// so a scan is fine and keeps Layout plain data.
func (l *Layout) index(name string) int {
	return slices.IndexFunc(l.Nodes, func(n Node) bool { return n.Name == name })
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Backpressure.QueueFrames == 0 {
		o.Backpressure.QueueFrames = netio.DefaultQueueFrames
	}
	if o.Backpressure.QueueBytes == 0 {
		o.Backpressure.QueueBytes = netio.DefaultQueueBytes
	}
	if o.DataDir == "" {
		o.DataDir = DefaultDataDir
	}
	if o.LogDir == "" {
		o.LogDir = DefaultLogDir
	}
}

// EnsureDefaults fills the zero fields of l.Options and of every node with
// their defaults (a node's Weight 1, its MetricsPort Options.MetricsPort).
func (l *Layout) EnsureDefaults() {
	l.Options.EnsureDefaults()
	for i := range l.Nodes {
		n := &l.Nodes[i]
		if n.Weight == 0 {
			n.Weight = 1
		}
		if n.MetricsPort == 0 {
			n.MetricsPort = l.Options.MetricsPort
		}
	}
}

// Validate reports every problem of l (see Parse for the list), joined;
// each is a *LayoutError. It does not fill defaults: call EnsureDefaults
// first.
func (l *Layout) Validate() error {
	v := validator{l: l}
	v.run()
	return joinErrors(v.errs, "")
}

// LayoutError is one problem of a layout. Parse, Load and Validate return
// all the problems they find, joined with errors.Join; each is a
// *LayoutError (use errors.As for the first one, or the Unwrap() []error
// method of the joined error for all).
type LayoutError struct {
	// File is the layout file's path as given to Load ("" from Parse).
	File string
	// Line is the 1-based line of the problem, or 0 when it has none (a
	// Layout built in code, or a problem of the layout as a whole).
	Line int
	// Node is the name of the node concerned, or "" (a cluster option, a
	// node without a name).
	Node string
	// Msg describes the problem.
	Msg string
}

// Error formats e as `file:line: node "name": msg`, leaving out the parts
// e lacks; a layout given to Parse is called "layout".
func (e *LayoutError) Error() string {
	var b strings.Builder
	b.WriteString(cmp.Or(e.File, "layout"))
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Node != "" {
		fmt.Fprintf(&b, "node %q: ", e.Node)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Parse reads and validates a YAML layout and fills its defaults:
//
//	cluster:                      # optional, see Options
//	  forwarding: false
//	  backpressure: {policy: drop_oldest, queue_frames: 8192, queue_bytes: 67108864}
//	  data_dir: ./weir-data
//	  log_dir: ./weir-logs
//	  metrics_port: 0
//	nodes:                        # see Node
//	  - {name: manager, role: manager, host: 127.0.0.1, port: 27760, metrics_port: 27770}
//	  - {name: proxy-1, role: proxy, host: 127.0.0.1, port: 27762, weight: 2}
//
// Keys are strict: an unknown key is an error. Anchors, aliases and merge
// keys (<<: *defaults) work as in YAML. Parse reports every problem it
// finds, each a *LayoutError with the line of the offending key, joined
// with errors.Join. The problems:
//
//   - the file is not valid YAML, is empty, or holds more than one document;
//   - an unknown key, a value of the wrong type (port: "x"), an anchor
//     defined twice;
//   - a node without name, role, host or port;
//   - an empty name, a name with characters other than letters, digits,
//     '.', '_' and '-', or longer than frame.MaxNameLen, a duplicate name;
//   - an unknown role (want manager, logger, proxy or worker);
//   - a host that is neither a hostname nor an IP address;
//   - a port or metrics_port outside 1..65535;
//   - two nodes with the same address (host:port), or a metrics address
//     that is another address of the layout;
//   - a weight that is not positive or exceeds hrw.MaxWeight;
//   - a node with some of tls_cert, tls_key and tls_ca but not all, a
//     tls_peer_names entry that is not a valid node name, TLS or
//     secret_file on some nodes but not all;
//   - a stores or clones entry that does not parse (ParseStoreSpec), a
//     store listed twice on a node, or with a master on two nodes;
//   - no node list, no manager, or more than one manager;
//   - an unknown backpressure policy (want drop_oldest, drop_newest or
//     disconnect), queue bounds below 1, an empty data_dir or log_dir,
//     a cluster metrics_port outside 0..65535.
func Parse(data []byte) (*Layout, error) {
	return parse("", data)
}

// Load reads the layout file at path and parses it as Parse does; its
// errors name the file.
func Load(path string) (*Layout, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot load layout: %w", err)
	}
	return parse(path, data)
}

func parse(file string, data []byte) (*Layout, error) {
	d := newDecoder()
	l := d.decode(data)
	if l != nil {
		v := validator{l: l, src: &d.src}
		v.run()
		d.errs = append(d.errs, v.errs...)
	}
	if err := joinErrors(d.errs, file); err != nil {
		return nil, err
	}
	return l, nil
}

// joinErrors sorts errs by line (a stable sort: problems of one line keep
// the order in which they were found; problems without a line go last),
// names the file in each, and joins them.
func joinErrors(errs []*LayoutError, file string) error {
	if len(errs) == 0 {
		return nil
	}
	slices.SortStableFunc(errs, func(a, b *LayoutError) int {
		if (a.Line == 0) != (b.Line == 0) {
			if a.Line == 0 {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.Line, b.Line)
	})
	joined := make([]error, len(errs))
	for i, e := range errs {
		e.File = file
		joined[i] = e
	}
	return errors.Join(joined...)
}

// source records where the parts of a layout came from, so that checks made
// after decoding can name the line of the key at fault. Keys are YAML key
// paths ("backpressure.policy", "port"). A key that failed to decode is
// marked bad: its problem has been reported, and the checks skip it.
type source struct {
	cluster keyLines
	nodes   []keyLines // parallel to Layout.Nodes
	nodesAt int        // the line of the nodes: key
}

type keyLines struct {
	line int            // the line of the section or node entry
	keys map[string]int // line of each key present and well-typed
	bad  map[string]bool
}

// lineOf returns the line of key, or of the section if key is absent.
func (k *keyLines) lineOf(key string) int {
	if line, ok := k.keys[key]; ok {
		return line
	}
	return k.line
}

// validator checks a decoded or hand-built Layout.
type validator struct {
	l    *Layout
	src  *source // nil for a hand-built Layout
	errs []*LayoutError
}

func (v *validator) add(line int, node, format string, args ...any) {
	v.errs = append(v.errs, &LayoutError{Line: line, Node: node, Msg: fmt.Sprintf(format, args...)})
}

// at returns the source lines of node i (or of the cluster section, i < 0).
// For a hand-built layout they name only the node's Line.
func (v *validator) at(i int) *keyLines {
	switch {
	case v.src == nil && i < 0:
		return &keyLines{}
	case v.src == nil:
		return &keyLines{line: v.l.Nodes[i].Line}
	case i < 0:
		return &v.src.cluster
	}
	return &v.src.nodes[i]
}

func (v *validator) run() {
	v.options()
	type seen struct {
		node, what string
		line       int
	}
	names := make(map[string]int)  // name -> line of the first node
	addrs := make(map[string]seen) // canonical host:port -> first user
	var manager *Node
	for i := range v.l.Nodes {
		n := &v.l.Nodes[i]
		at := v.at(i)
		// who names the node in messages: its name, or its position.
		who, pre := n.Name, ""
		if n.Name == "" || at.bad["name"] {
			who, pre = "", fmt.Sprintf("node #%d: ", i+1)
		}
		if !at.bad["name"] {
			if first, dup := names[n.Name]; dup && n.Name != "" {
				v.add(at.lineOf("name"), who, "duplicate name (first defined%s)", lineSuffix(" at line %d", first))
			} else {
				names[n.Name] = at.lineOf("name")
			}
			if msg := checkName(n.Name); msg != "" {
				v.add(at.lineOf("name"), who, "%s%s", pre, msg)
			}
		}
		if !at.bad["role"] {
			switch n.Role {
			case frame.RoleManager:
				if manager != nil {
					v.add(at.lineOf("role"), who, "%smore than one manager (%q%s is the manager; exactly one is allowed)",
						pre, manager.Name, lineSuffix(" at line %d", manager.Line))
				} else {
					manager = n
				}
			case frame.RoleLogger, frame.RoleProxy, frame.RoleWorker:
			default:
				v.add(at.lineOf("role"), who, "%srole %s is not a cluster role (want manager, logger, proxy or worker)", pre, n.Role)
			}
		}
		hostOK := !at.bad["host"]
		if hostOK {
			if msg := checkHost(n.Host); msg != "" {
				v.add(at.lineOf("host"), who, "%s%s", pre, msg)
				hostOK = false
			}
		}
		portOK := !at.bad["port"]
		if portOK && (n.Port < 1 || n.Port > 65535) {
			v.add(at.lineOf("port"), who, "%sport %d out of range (want 1..65535)", pre, n.Port)
			portOK = false
		}
		metricsOK := !at.bad["metrics_port"]
		if metricsOK && (n.MetricsPort < 0 || n.MetricsPort > 65535) {
			v.add(at.lineOf("metrics_port"), who, "%smetrics_port %d out of range (want 1..65535)", pre, n.MetricsPort)
			metricsOK = false
		}
		if !at.bad["weight"] {
			switch {
			case !(n.Weight > 0): // also NaN
				v.add(at.lineOf("weight"), who, "%sweight %v must be positive", pre, n.Weight)
			case n.Weight > hrw.MaxWeight:
				v.add(at.lineOf("weight"), who, "%sweight %v too large (at most %v)", pre, n.Weight, hrw.MaxWeight)
			}
		}
		// Addresses: the peering address, then the metrics address; each
		// must differ from every address seen so far.
		claim := func(port int, what, key string) {
			k := net.JoinHostPort(canonicalHost(n.Host), strconv.Itoa(port))
			if first, dup := addrs[k]; dup {
				v.add(at.lineOf(key), who, "%s%s %s already used by node %q%s%s", pre, what, net.JoinHostPort(n.Host, strconv.Itoa(port)),
					first.node, cond(first.what == "metrics address", " for metrics", ""), lineSuffix(" (line %d)", first.line))
				return
			}
			addrs[k] = seen{node: n.Name, what: what, line: at.lineOf(key)}
		}
		if hostOK && portOK {
			claim(n.Port, "address", "port")
		}
		if hostOK && metricsOK && n.MetricsPort != 0 {
			claim(n.MetricsPort, "metrics address", "metrics_port")
		}
	}
	v.security()
	v.stores()
	if len(v.l.Nodes) == 0 && v.src == nil { // the decoder reports its own
		v.add(0, "", "no nodes")
	}
	if manager == nil && len(v.l.Nodes) > 0 {
		line := 0
		if v.src != nil {
			line = v.src.nodesAt
		}
		v.add(line, "", "no manager (exactly one node must have role manager)")
	}
}

// security checks the TLS and secret settings: complete per node, and
// the same choice for every node (a TLS node cannot talk to a plaintext
// one, nor a node with a secret to one without).
func (v *validator) security() {
	var withTLS, withSecret []string
	for i := range v.l.Nodes {
		n := &v.l.Nodes[i]
		at := v.at(i)
		if t := n.TLS; t != nil {
			withTLS = append(withTLS, n.Name)
			for _, f := range []struct{ key, val string }{{"tls_cert", t.Cert}, {"tls_key", t.Key}, {"tls_ca", t.CA}} {
				if f.val == "" && !at.bad[f.key] {
					v.add(at.lineOf(f.key), n.Name, "%s missing (TLS needs tls_cert, tls_key and tls_ca)", f.key)
				}
			}
			for _, p := range t.PeerNames {
				if msg := checkName(p); msg != "" && !at.bad["tls_peer_names"] {
					v.add(at.lineOf("tls_peer_names"), n.Name, "tls_peer_names: %q: %s", p, msg)
				}
			}
		}
		if n.SecretFile != "" {
			withSecret = append(withSecret, n.Name)
		}
	}
	all := len(v.l.Nodes)
	if len(withTLS) > 0 && len(withTLS) < all {
		v.add(0, "", "TLS is set on %d of %d nodes (%s); set it on every node or none", len(withTLS), all, strings.Join(withTLS, ", "))
	}
	if len(withSecret) > 0 && len(withSecret) < all {
		v.add(0, "", "secret_file is set on %d of %d nodes (%s); set it on every node or none", len(withSecret), all, strings.Join(withSecret, ", "))
	}
}

func (v *validator) options() {
	o := &v.l.Options
	at := v.at(-1)
	if !at.bad["backpressure.policy"] && o.Backpressure.Policy > netio.Disconnect {
		v.add(at.lineOf("backpressure.policy"), "", "unknown backpressure policy %s (want drop_oldest, drop_newest or disconnect)", o.Backpressure.Policy)
	}
	if !at.bad["backpressure.queue_frames"] && o.Backpressure.QueueFrames < 1 {
		v.add(at.lineOf("backpressure.queue_frames"), "", "backpressure queue_frames %d must be at least 1", o.Backpressure.QueueFrames)
	}
	if !at.bad["backpressure.queue_bytes"] && o.Backpressure.QueueBytes < 1 {
		v.add(at.lineOf("backpressure.queue_bytes"), "", "backpressure queue_bytes %d must be at least 1", o.Backpressure.QueueBytes)
	}
	if !at.bad["data_dir"] && o.DataDir == "" {
		v.add(at.lineOf("data_dir"), "", "empty data_dir")
	}
	if !at.bad["log_dir"] && o.LogDir == "" {
		v.add(at.lineOf("log_dir"), "", "empty log_dir")
	}
	if !at.bad["metrics_port"] && (o.MetricsPort < 0 || o.MetricsPort > 65535) {
		v.add(at.lineOf("metrics_port"), "", "metrics_port %d out of range (want 0..65535; 0 for none)", o.MetricsPort)
	}
}

// checkName returns what is wrong with a node name, or "". Names go into
// topics (NodeTopic), so '/' would let one node's topic be a prefix of
// another's; the allowed set is kept small and shell- and path-safe.
func checkName(name string) string {
	if name == "" {
		return "empty name"
	}
	if len(name) > frame.MaxNameLen {
		return fmt.Sprintf("invalid name: longer than %d bytes", frame.MaxNameLen)
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return "invalid name: only letters, digits, '.', '_' and '-' are allowed"
		}
	}
	return ""
}

// checkHost returns what is wrong with a host, or "".
func checkHost(host string) string {
	switch {
	case host == "":
		return "empty host"
	case strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]"):
		return fmt.Sprintf("host %q: write IPv6 addresses without brackets", host)
	case strings.Contains(host, ":"):
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Sprintf("host %q is neither a hostname nor an IP address", host)
		}
	case strings.ContainsAny(host, " \t\r\n/[]@?#"):
		return fmt.Sprintf("host %q is neither a hostname nor an IP address", host)
	}
	return ""
}

// canonicalHost folds spellings of one host together for the duplicate
// address check: IP addresses in canonical form, names in lower case.
// (It cannot know that localhost is 127.0.0.1; that is left to the OS.)
func canonicalHost(host string) string {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().String()
	}
	return strings.ToLower(host)
}

func lineSuffix(format string, line int) string {
	if line <= 0 {
		return ""
	}
	return fmt.Sprintf(format, line)
}

func cond[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}
