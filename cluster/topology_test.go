package cluster

import (
	"slices"
	"testing"

	"github.com/weirio/weir/frame"
)

// bigLayout: 1 manager, 2 loggers, 3 proxies, 4 workers. The nodes are
// listed out of role order on purpose: the rules follow roles, not order.
const bigLayout = `nodes:
  - {name: worker-1, role: worker, host: 10.0.0.1, port: 27764}
  - {name: manager,  role: manager, host: 10.0.0.1, port: 27760}
  - {name: logger-1, role: logger, host: 10.0.0.1, port: 27761}
  - {name: proxy-1,  role: proxy,  host: 10.0.0.1, port: 27762, weight: 2}
  - {name: logger-2, role: logger, host: 10.0.0.1, port: 27763}
  - {name: proxy-2,  role: proxy,  host: 10.0.0.2, port: 27762}
  - {name: proxy-3,  role: proxy,  host: 10.0.0.3, port: 27762}
  - {name: worker-2, role: worker, host: 10.0.0.2, port: 27764}
  - {name: worker-3, role: worker, host: 10.0.0.3, port: 27764}
  - {name: worker-4, role: worker, host: 10.0.0.4, port: 27764}
`

func mustParse(t testing.TB, s string) *Layout {
	t.Helper()
	l, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestEdges(t *testing.T) {
	l := mustParse(t, bigLayout)
	// Written out by hand from the rules, in the documented order: dialers
	// in layout order, each one's listeners in layout order.
	want := [][2]string{
		{"worker-1", "manager"}, {"worker-1", "logger-1"}, {"worker-1", "proxy-1"}, {"worker-1", "logger-2"}, {"worker-1", "proxy-2"}, {"worker-1", "proxy-3"},
		{"manager", "logger-1"}, {"manager", "logger-2"},
		{"proxy-1", "manager"}, {"proxy-1", "logger-1"}, {"proxy-1", "logger-2"},
		{"proxy-2", "manager"}, {"proxy-2", "logger-1"}, {"proxy-2", "logger-2"},
		{"proxy-3", "manager"}, {"proxy-3", "logger-1"}, {"proxy-3", "logger-2"},
		{"worker-2", "manager"}, {"worker-2", "logger-1"}, {"worker-2", "proxy-1"}, {"worker-2", "logger-2"}, {"worker-2", "proxy-2"}, {"worker-2", "proxy-3"},
		{"worker-3", "manager"}, {"worker-3", "logger-1"}, {"worker-3", "proxy-1"}, {"worker-3", "logger-2"}, {"worker-3", "proxy-2"}, {"worker-3", "proxy-3"},
		{"worker-4", "manager"}, {"worker-4", "logger-1"}, {"worker-4", "proxy-1"}, {"worker-4", "logger-2"}, {"worker-4", "proxy-2"}, {"worker-4", "proxy-3"},
	}
	got := Edges(l)
	if !slices.Equal(got, want) {
		t.Fatalf("Edges =\n%v\nwant\n%v", got, want)
	}
	// 4 workers × 6 + 3 proxies × 3 + manager × 2.
	if len(got) != 35 {
		t.Fatalf("%d edges, want 35", len(got))
	}
	// Each connection once, in either direction, and none to self.
	seen := map[[2]string]bool{}
	for _, e := range got {
		if e[0] == e[1] || seen[e] || seen[[2]string{e[1], e[0]}] {
			t.Errorf("edge %v repeated or reflexive", e)
		}
		seen[e] = true
	}
}

func TestPeersAndDialers(t *testing.T) {
	l := mustParse(t, bigLayout)
	for _, tc := range []struct {
		name           string
		peers, dialers []string
	}{
		{"worker-2", []string{"manager", "logger-1", "proxy-1", "logger-2", "proxy-2", "proxy-3"}, nil},
		{"proxy-2", []string{"manager", "logger-1", "logger-2"}, []string{"worker-1", "worker-2", "worker-3", "worker-4"}},
		{"manager", []string{"logger-1", "logger-2"},
			[]string{"worker-1", "proxy-1", "proxy-2", "proxy-3", "worker-2", "worker-3", "worker-4"}},
		{"logger-2", nil,
			[]string{"worker-1", "manager", "proxy-1", "proxy-2", "proxy-3", "worker-2", "worker-3", "worker-4"}},
		{"nobody", nil, nil},
	} {
		if got := Peers(l, tc.name); !slices.Equal(got, tc.peers) {
			t.Errorf("Peers(%s) = %v, want %v", tc.name, got, tc.peers)
		}
		if got := Dialers(l, tc.name); !slices.Equal(got, tc.dialers) {
			t.Errorf("Dialers(%s) = %v, want %v", tc.name, got, tc.dialers)
		}
	}
}

// TestPeersMatchEdges: Peers and Dialers are the two views of Edges.
func TestPeersMatchEdges(t *testing.T) {
	l := mustParse(t, bigLayout)
	out, in := map[string][]string{}, map[string][]string{}
	for _, e := range Edges(l) {
		out[e[0]] = append(out[e[0]], e[1])
		in[e[1]] = append(in[e[1]], e[0])
	}
	for _, n := range l.Nodes {
		if !slices.Equal(Peers(l, n.Name), out[n.Name]) || !slices.Equal(Dialers(l, n.Name), in[n.Name]) {
			t.Errorf("%s: Peers %v Dialers %v, edges out %v in %v", n.Name, Peers(l, n.Name), Dialers(l, n.Name), out[n.Name], in[n.Name])
		}
	}
}

func TestTopics(t *testing.T) {
	l := mustParse(t, bigLayout)
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"manager", []string{"weir/cluster/role/manager/", "weir/cluster/node/manager/"}},
		{"logger-1", []string{"weir/cluster/role/logger/", "weir/cluster/node/logger-1/"}},
		{"proxy-3", []string{"weir/cluster/role/proxy/", "weir/cluster/node/proxy-3/"}},
		{"worker-4", []string{"weir/cluster/role/worker/", "weir/cluster/node/worker-4/"}},
		{"nobody", nil},
	} {
		if got := Subscriptions(l, tc.name); !slices.Equal(got, tc.want) {
			t.Errorf("Subscriptions(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := RoleTopic(frame.RoleProxy); got != "weir/cluster/role/proxy/" {
		t.Errorf("RoleTopic = %q", got)
	}
	if got := NodeTopic("w1"); got != "weir/cluster/node/w1/" {
		t.Errorf("NodeTopic = %q", got)
	}
}
