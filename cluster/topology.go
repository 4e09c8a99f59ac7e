package cluster

import "github.com/weirio/weir/frame"

// dials reports whether a node of role from opens the connection to a node
// of role to. It is the whole topology (DESIGN.md, Zeek's cluster layout):
// every node connects to every logger; workers also to the manager and
// every proxy; proxies also to the manager. Proxies never peer with each
// other, nor workers with each other, and loggers dial nobody. Each pair
// that peers does so over one connection, opened by the role that comes
// later in the chain worker → proxy → manager → logger.
func dials(from, to frame.Role) bool {
	switch from {
	case frame.RoleWorker:
		return to == frame.RoleProxy || to == frame.RoleManager || to == frame.RoleLogger
	case frame.RoleProxy:
		return to == frame.RoleManager || to == frame.RoleLogger
	case frame.RoleManager:
		return to == frame.RoleLogger
	}
	return false
}

// Peers returns the names of the nodes that the named node dials, in
// layout order, or nil if it dials none or is not in the layout.
func Peers(l *Layout, name string) []string {
	i := l.index(name)
	if i < 0 {
		return nil
	}
	var out []string
	for _, n := range l.Nodes {
		if dials(l.Nodes[i].Role, n.Role) {
			out = append(out, n.Name)
		}
	}
	return out
}

// Dialers returns the names of the nodes that dial the named node, in
// layout order, or nil if none does or it is not in the layout: the
// cluster members a listener should expect.
func Dialers(l *Layout, name string) []string {
	i := l.index(name)
	if i < 0 {
		return nil
	}
	var out []string
	for _, n := range l.Nodes {
		if dials(n.Role, l.Nodes[i].Role) {
			out = append(out, n.Name)
		}
	}
	return out
}

// Edges returns every connection of the cluster as a (dialer, listener)
// pair of node names, each connection once: for each node in layout order,
// its Peers in layout order.
func Edges(l *Layout) [][2]string {
	var out [][2]string
	for _, from := range l.Nodes {
		for _, to := range l.Nodes {
			if dials(from.Role, to.Role) {
				out = append(out, [2]string{from.Name, to.Name})
			}
		}
	}
	return out
}

// Topic prefixes of the cluster. Every topic ends in '/', so that no role
// or node topic is a prefix of another ("worker-1/" is not a prefix of
// "worker-10/"); node names cannot contain '/'.
const (
	RoleTopicPrefix = "weir/cluster/role/"
	NodeTopicPrefix = "weir/cluster/node/"
)

// RoleTopic returns the topic every node of role subscribes to,
// "weir/cluster/role/<role>/" (Zeek's Cluster::worker_topic and friends).
func RoleTopic(role frame.Role) string { return RoleTopicPrefix + role.String() + "/" }

// NodeTopic returns the topic only the named node subscribes to,
// "weir/cluster/node/<name>/" (Zeek's Cluster::node_topic).
func NodeTopic(name string) string { return NodeTopicPrefix + name + "/" }

// Subscriptions returns the topic prefixes the named node subscribes to:
// its role topic and its node topic. It returns nil if the node is not in
// the layout.
func Subscriptions(l *Layout, name string) []string {
	n, ok := l.Node(name)
	if !ok {
		return nil
	}
	return []string{RoleTopic(n.Role), NodeTopic(n.Name)}
}
