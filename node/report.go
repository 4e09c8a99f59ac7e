package node

import (
	"slices"
	"strings"

	"github.com/weirio/weir/netio"
)

// PeerReport describes one established peer for status output.
type PeerReport struct {
	Name     string          `json:"name"`
	ID       string          `json:"id"`
	Role     string          `json:"role"`
	Addr     string          `json:"addr"`
	DialAddr string          `json:"dial_addr,omitempty"`
	Filter   []string        `json:"filter"`
	Stats    netio.PeerStats `json:"stats"`
}

// Report is a snapshot of a node's state: peers with their queue depths
// and drop counters, the local subscriptions, and the counters.
type Report struct {
	Name          string       `json:"name"`
	ID            string       `json:"id"`
	Role          string       `json:"role"`
	Forwarding    bool         `json:"forwarding"`
	Policy        string       `json:"policy"`
	Peers         []PeerReport `json:"peers"`
	Subscriptions []string     `json:"subscriptions"`
	Stats         Stats        `json:"stats"`
	Net           netio.Stats  `json:"net"`
}

// Report returns a snapshot of the node's state.
func (n *Node) Report() Report {
	r := Report{Name: n.opts.Name, ID: n.ID().String(), Role: n.opts.Role.String(), Forwarding: n.opts.Forwarding,
		Policy: n.opts.Net.Policy.String(), Stats: n.Stats(), Net: n.NetStats()}
	for _, p := range n.Peers() {
		pr := PeerReport{Name: p.Name, ID: p.ID.String(), Role: p.Role.String(), DialAddr: p.DialAddr,
			Filter: n.peers.Prefixes(p), Stats: p.Stats()}
		if p.Addr != nil {
			pr.Addr = p.Addr.String()
		}
		slices.Sort(pr.Filter)
		r.Peers = append(r.Peers, pr)
	}
	slices.SortFunc(r.Peers, func(a, b PeerReport) int { return strings.Compare(a.Name, b.Name) })
	n.mu.Lock()
	for p := range n.mu.local {
		r.Subscriptions = append(r.Subscriptions, p)
	}
	n.mu.Unlock()
	slices.Sort(r.Subscriptions)
	return r
}
