package cluster

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/netio"
)

// The YAML keys of each section, in the order messages list them. At the
// top level, keys beginning with extPrefix are also allowed and ignored: a
// place for anchors (x-worker: &worker {role: worker, host: 10.0.0.1}),
// as in Docker Compose.
var (
	topKeys          = []string{"cluster", "nodes", extPrefix + "*"}
	clusterKeys      = []string{"forwarding", "backpressure", "data_dir", "log_dir", "metrics_port"}
	backpressureKeys = []string{"policy", "queue_frames", "queue_bytes"}
	nodeKeys         = []string{"name", "role", "host", "port", "weight", "metrics_port",
		"tls_cert", "tls_key", "tls_ca", "tls_peer_names", "secret_file", "stores", "clones"}
)

const extPrefix = "x-"

// decoder turns a YAML document into a Layout. go-yaml parses (and reports
// syntax errors with their line); the decoder walks the syntax tree itself
// rather than unmarshalling into structs, because the library stops at the
// first error and does not say where each value came from, while a layout
// error should name every problem with its line.
type decoder struct {
	anchors map[string]ast.Node // by name; see collectAnchors
	src     source
	errs    []*LayoutError
}

func newDecoder() *decoder {
	return &decoder{anchors: make(map[string]ast.Node)}
}

func (d *decoder) errorf(line int, node, format string, args ...any) {
	d.errs = append(d.errs, &LayoutError{Line: line, Node: node, Msg: fmt.Sprintf(format, args...)})
}

// place says whom a problem concerns: a node by name, or (pre) by its
// position in the list when it has no usable name. The zero place is the
// cluster section or the layout as a whole.
type place struct {
	node string // LayoutError.Node
	pre  string // a prefix of LayoutError.Msg, "node #3: "
}

func (d *decoder) errorAt(at place, line int, format string, args ...any) {
	d.errorf(line, at.node, "%s%s", at.pre, fmt.Sprintf(format, args...))
}

// field is one key of a mapping, with its value resolved (anchors, aliases
// and tags stripped).
type field struct {
	key  string
	line int
	val  ast.Node
}

// decode parses data. It returns nil if the document is unusable as a
// whole (a syntax error, no mapping at the top); otherwise a Layout with
// what could be decoded, problems recorded in d.errs.
func (d *decoder) decode(data []byte) *Layout {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil {
			d.errorf(ye.GetToken().Position.Line, "", "invalid YAML: %s", ye.GetMessage())
		} else {
			d.errorf(0, "", "invalid YAML: %v", err)
		}
		return nil
	}
	var docs []*ast.DocumentNode
	for _, doc := range f.Docs {
		if doc.Body != nil {
			docs = append(docs, doc)
		}
	}
	switch {
	case len(docs) == 0:
		d.errorf(0, "", "empty layout (want a cluster: section and a nodes: list)")
		return nil
	case len(docs) > 1:
		d.errorf(lineOf(docs[1].Body), "", "more than one YAML document (a layout is one document)")
		return nil
	}
	body := docs[0].Body
	d.collectAnchors(body)
	top, ok := d.mapping(body, 0)
	if !ok {
		d.errorf(lineOf(body), "", "want a mapping with cluster: and nodes:, got %s", describe(body))
		return nil
	}
	l := &Layout{}
	l.Options.EnsureDefaults()
	d.src.cluster = keyLines{line: lineOf(body), keys: map[string]int{}, bad: map[string]bool{}}
	var nodes *field
	for _, f := range d.known(top, topKeys, "at the top level", place{}) {
		switch f.key {
		case "cluster":
			d.src.cluster.line = f.line
			d.cluster(f, &l.Options)
		case "nodes":
			nodes = &f
		}
	}
	if nodes == nil {
		d.errorf(0, "", "no nodes: list")
		return l
	}
	d.src.nodesAt = nodes.line
	d.nodes(*nodes, l)
	return l
}

// known returns the fields of fs whose keys are in keys, reporting the
// others. where and at place the report.
func (d *decoder) known(fs []field, keys []string, where string, at place) []field {
	out := fs[:0:0]
	for _, f := range fs {
		if !contains(keys, f.key) && !(contains(keys, extPrefix+"*") && strings.HasPrefix(f.key, extPrefix)) {
			d.errorAt(at, f.line, "unknown key %q %s (want %s)", f.key, where, orList(keys))
			continue
		}
		out = append(out, f)
	}
	return out
}

func (d *decoder) cluster(f field, o *Options) {
	fs, ok := d.mapping(f.val, 0)
	if !ok {
		d.errorf(f.line, "", "cluster: want a mapping, got %s", describe(f.val))
		return
	}
	src := &d.src.cluster
	for _, f := range d.known(fs, clusterKeys, "in cluster", place{}) {
		good := true
		switch f.key {
		case "forwarding":
			good = d.bool(f, place{}, &o.Forwarding)
		case "backpressure":
			d.backpressure(f, &o.Backpressure)
		case "data_dir":
			good = d.str(f, place{}, &o.DataDir)
		case "log_dir":
			good = d.str(f, place{}, &o.LogDir)
		case "metrics_port":
			good = d.int(f, place{}, &o.MetricsPort)
		}
		src.record(f.key, f.line, good)
	}
}

func (d *decoder) backpressure(f field, b *Backpressure) {
	fs, ok := d.mapping(f.val, 0)
	if !ok {
		d.errorf(f.line, "", "backpressure: want a mapping, got %s", describe(f.val))
		return
	}
	src := &d.src.cluster
	for _, f := range d.known(fs, backpressureKeys, "in backpressure", place{}) {
		good := true
		switch f.key {
		case "policy":
			var s string
			if good = d.str(f, place{}, &s); good {
				p, err := netio.ParsePolicy(s)
				if err != nil {
					d.errorf(f.line, "", "unknown backpressure policy %q (want drop_oldest, drop_newest or disconnect)", s)
					good = false
				}
				b.Policy = p
			}
		case "queue_frames":
			good = d.int(f, place{}, &b.QueueFrames)
		case "queue_bytes":
			good = d.int(f, place{}, &b.QueueBytes)
		}
		src.record("backpressure."+f.key, f.line, good)
	}
}

func (d *decoder) nodes(f field, l *Layout) {
	seq, ok := f.val.(*ast.SequenceNode)
	if !ok {
		if _, null := f.val.(*ast.NullNode); !null {
			d.errorf(f.line, "", "nodes: want a list of nodes, got %s", describe(f.val))
			return
		}
	}
	if !ok || len(seq.Values) == 0 {
		d.errorf(f.line, "", "no nodes: the nodes: list is empty")
		return
	}
	for i, e := range seq.Values {
		d.node(i, d.resolve(e), lineOf(e), l)
	}
}

// node decodes the i-th node entry, at line, and appends it to l (even if
// it has problems, so the checks of the whole layout see every node).
func (d *decoder) node(i int, e ast.Node, line int, l *Layout) {
	n := Node{Weight: 1, Line: line}
	if m := l.Options.MetricsPort; m > 0 && m <= 65535 {
		n.MetricsPort = m // a bad default is reported once, for the cluster
	}
	src := keyLines{line: line, keys: map[string]int{}, bad: map[string]bool{}}
	defer func() {
		l.Nodes = append(l.Nodes, n)
		d.src.nodes = append(d.src.nodes, src)
	}()
	at := place{pre: fmt.Sprintf("node #%d: ", i+1)}
	fs, ok := d.mapping(e, 0)
	if !ok {
		d.errorAt(at, line, "want a mapping (name, role, host, port, ...), got %s", describe(e))
		src.bad = allBad()
		return
	}
	// Decode the name first: the other messages name the node.
	for _, f := range fs {
		if f.key == "name" {
			good := d.str(f, at, &n.Name)
			src.record(f.key, f.line, good)
			if good && n.Name != "" {
				at = place{node: n.Name}
			}
		}
	}
	for _, f := range d.known(fs, nodeKeys, "in a node", at) {
		good := true
		switch f.key {
		case "name":
			continue
		case "role":
			var s string
			if good = d.str(f, at, &s); good {
				if n.Role, good = parseRole(s); !good {
					d.errorAt(at, f.line, "unknown role %q (want manager, logger, proxy or worker)", s)
				}
			}
		case "host":
			good = d.str(f, at, &n.Host)
		case "port":
			good = d.int(f, at, &n.Port)
		case "weight":
			good = d.float(f, at, &n.Weight)
		case "metrics_port":
			if good = d.int(f, at, &n.MetricsPort); good && n.MetricsPort == 0 {
				d.errorAt(at, f.line, "metrics_port 0 out of range (want 1..65535)")
				good = false
			}
		case "tls_cert":
			good = d.str(f, at, &tlsOf(&n).Cert)
		case "tls_key":
			good = d.str(f, at, &tlsOf(&n).Key)
		case "tls_ca":
			good = d.str(f, at, &tlsOf(&n).CA)
		case "tls_peer_names":
			good = d.strs(f, at, &tlsOf(&n).PeerNames)
		case "secret_file":
			if good = d.str(f, at, &n.SecretFile); good && n.SecretFile == "" {
				d.errorAt(at, f.line, "empty secret_file")
				good = false
			}
		case "stores", "clones":
			var specs []string
			if good = d.strs(f, at, &specs); good {
				for _, spec := range specs {
					s, err := ParseStoreSpec(spec, f.key == "clones")
					if err != nil {
						d.errorAt(at, f.line, "%s: %v", f.key, err)
						good = false
						continue
					}
					if f.key == "clones" {
						n.Clones = append(n.Clones, s)
					} else {
						n.Stores = append(n.Stores, s)
					}
				}
			}
		}
		src.record(f.key, f.line, good)
	}
	for _, k := range []string{"name", "role", "host", "port"} {
		if _, present := src.keys[k]; !present && !src.bad[k] {
			d.errorAt(at, line, "missing %s", k)
			src.bad[k] = true
		}
	}
}

// tlsOf returns n's TLS settings, creating them at the first tls_ key.
func tlsOf(n *Node) *NodeTLS {
	if n.TLS == nil {
		n.TLS = &NodeTLS{}
	}
	return n.TLS
}

// record notes that key was seen at line and whether it decoded.
func (k *keyLines) record(key string, line int, good bool) {
	if good {
		k.keys[key] = line
	} else {
		k.bad[key] = true
	}
}

func allBad() map[string]bool {
	m := make(map[string]bool, len(nodeKeys))
	for _, k := range nodeKeys {
		m[k] = true
	}
	return m
}

// parseRole accepts the four cluster roles only (frame.ParseRole also
// knows "none" and "client").
func parseRole(s string) (frame.Role, bool) {
	r, ok := frame.ParseRole(s)
	switch {
	case !ok:
		return 0, false
	case r == frame.RoleManager, r == frame.RoleLogger, r == frame.RoleProxy, r == frame.RoleWorker:
		return r, true
	}
	return 0, false
}

// maxDepth bounds alias and merge-key resolution. YAML forbids an alias
// before its anchor, but an anchored node may contain an alias to itself.
const maxDepth = 16

// resolve strips anchors, tags and aliases off n.
func (d *decoder) resolve(n ast.Node) ast.Node {
	for range maxDepth {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		case *ast.AliasNode:
			target, ok := d.anchors[v.Value.GetToken().Value]
			if !ok {
				return n // the parser rejects undefined aliases; be safe
			}
			n = target
		default:
			return n
		}
	}
	return n
}

// collectAnchors records every anchor in n. An anchor name defined twice
// is reported rather than resolved by position, which YAML allows but
// which is an easy way to get a wrong layout silently.
func (d *decoder) collectAnchors(n ast.Node) {
	lines := make(map[string]int)
	ast.Walk(visitor(func(n ast.Node) {
		a, ok := n.(*ast.AnchorNode)
		if !ok {
			return
		}
		name := a.Name.GetToken().Value
		if first, dup := lines[name]; dup {
			d.errorf(lineOf(a), "", "anchor &%s defined again (first at line %d); use distinct anchor names", name, first)
			return
		}
		lines[name] = lineOf(a)
		d.anchors[name] = a.Value
	}), n)
}

type visitor func(ast.Node)

func (v visitor) Visit(n ast.Node) ast.Visitor {
	v(n)
	return v
}

// mapping returns the fields of the mapping n (null is the empty mapping),
// merge keys expanded: keys of n itself override merged ones, and of
// several merged mappings the first wins, as YAML's merge key specifies.
// ok is false if n is not a mapping.
func (d *decoder) mapping(n ast.Node, depth int) (fs []field, ok bool) {
	switch m := d.resolve(n).(type) {
	case *ast.NullNode:
		return nil, true
	case *ast.MappingNode:
		var merged []field
		for _, mv := range m.Values {
			if _, isMerge := mv.Key.(*ast.MergeKeyNode); isMerge {
				merged = append(merged, d.merge(mv, depth)...)
				continue
			}
			fs = append(fs, field{key: keyString(mv.Key), line: lineOf(mv.Key), val: d.resolve(mv.Value)})
		}
		for _, f := range merged {
			if !containsKey(fs, f.key) {
				fs = append(fs, f)
			}
		}
		return fs, true
	}
	return nil, false
}

func (d *decoder) merge(mv *ast.MappingValueNode, depth int) []field {
	if depth >= maxDepth {
		d.errorf(lineOf(mv.Key), "", "merge keys (<<) nested too deeply")
		return nil
	}
	src := []ast.Node{mv.Value}
	if seq, ok := d.resolve(mv.Value).(*ast.SequenceNode); ok {
		src = seq.Values
	}
	var fs []field
	for _, s := range src {
		m, ok := d.mapping(s, depth+1)
		if !ok {
			d.errorf(lineOf(mv.Key), "", "<<: want a mapping or a list of mappings, got %s", describe(d.resolve(s)))
			continue
		}
		for _, f := range m {
			if !containsKey(fs, f.key) {
				fs = append(fs, f)
			}
		}
	}
	return fs
}

func keyString(k ast.MapKeyNode) string {
	if s, ok := k.(*ast.StringNode); ok {
		return s.Value
	}
	if tk := k.GetToken(); tk != nil {
		return tk.Value
	}
	return k.String()
}

// The scalar decoders store f's value in *dst and report whether it had
// the right type; if not, they report the problem at at.

func (d *decoder) str(f field, at place, dst *string) bool {
	switch v := f.val.(type) {
	case *ast.StringNode:
		*dst = v.Value
	case *ast.LiteralNode:
		*dst = v.Value.Value
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
		// An unquoted name or host such as 7 or 1.5 is meant as text.
		*dst = v.GetToken().Value
	default:
		d.typeError(f, at, "a string")
		return false
	}
	return true
}

// strs decodes a list of strings (a single string is a list of one).
func (d *decoder) strs(f field, at place, dst *[]string) bool {
	seq, ok := f.val.(*ast.SequenceNode)
	if !ok {
		var s string
		if !d.str(f, at, &s) {
			return false
		}
		*dst = []string{s}
		return true
	}
	out := make([]string, 0, len(seq.Values))
	for _, e := range seq.Values {
		var s string
		if !d.str(field{key: f.key, line: lineOf(e), val: d.resolve(e)}, at, &s) {
			return false
		}
		out = append(out, s)
	}
	*dst = out
	return true
}

func (d *decoder) int(f field, at place, dst *int) bool {
	v, ok := f.val.(*ast.IntegerNode)
	if !ok {
		d.typeError(f, at, "an integer")
		return false
	}
	switch x := v.Value.(type) {
	case int64:
		if int64(int(x)) == x {
			*dst = int(x)
			return true
		}
	case uint64:
		if x <= math.MaxInt {
			*dst = int(x)
			return true
		}
	}
	d.errorAt(at, f.line, "%s: integer %s out of range", f.key, v.GetToken().Value)
	return false
}

func (d *decoder) float(f field, at place, dst *float64) bool {
	switch v := f.val.(type) {
	case *ast.FloatNode:
		*dst = v.Value
	case *ast.InfinityNode:
		*dst = v.Value
	case *ast.NanNode:
		*dst = math.NaN()
	case *ast.IntegerNode:
		switch x := v.Value.(type) {
		case int64:
			*dst = float64(x)
		case uint64:
			*dst = float64(x)
		}
	default:
		d.typeError(f, at, "a number")
		return false
	}
	return true
}

func (d *decoder) bool(f field, at place, dst *bool) bool {
	v, ok := f.val.(*ast.BoolNode)
	if !ok {
		d.typeError(f, at, "true or false")
		return false
	}
	*dst = v.Value
	return true
}

func (d *decoder) typeError(f field, at place, want string) {
	d.errorAt(at, f.line, "%s: want %s, got %s", f.key, want, describe(f.val))
}

// describe names a value for an error message.
func describe(n ast.Node) string {
	switch v := n.(type) {
	case nil, *ast.NullNode:
		return "nothing"
	case *ast.MappingNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return fmt.Sprintf("%q", v.Value)
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return n.Type().String()
}

func lineOf(n ast.Node) int {
	if n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Position.Line
	}
	return 0
}

func contains(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

func containsKey(fs []field, k string) bool {
	for _, f := range fs {
		if f.key == k {
			return true
		}
	}
	return false
}

// orList formats keys as "a, b or c".
func orList(keys []string) string {
	if len(keys) == 1 {
		return keys[0]
	}
	return strings.Join(keys[:len(keys)-1], ", ") + " or " + keys[len(keys)-1]
}
