// Package cluster is the socket-free core of weir's cluster framework (after
// Zeek's Broker-based one): the layout file that lists a cluster's nodes,
// the topology rules that say which node peers with which, the topics every
// node subscribes to, and the proxy, worker and logger pools that partition
// work by key. It opens no sockets and starts no goroutines; package node
// wires it to real peers (dialing Peers, subscribing to Subscriptions,
// feeding node up/down into Pools.SetAlive).
//
// # Layout file
//
// A layout is one YAML document. Parse and Load read it, fill in defaults
// and validate it; Options and Node document every field.
//
//	# Cluster-wide settings. The whole section, and every key in it, is
//	# optional; shown here with the defaults.
//	cluster:
//	  forwarding: false          # relay frames between peers (off, as in Zeek)
//	  backpressure:              # per peer outbound queue (see netio.Options)
//	    policy: drop_oldest      # drop_oldest | drop_newest | disconnect
//	    queue_frames: 8192       # at least 1
//	    queue_bytes: 67108864    # at least 1 (64 MiB)
//	  data_dir: weir-data        # node state under <data_dir>/<node name>
//	  log_dir: weir-logs         # logger output under <log_dir>/<node name>
//	  metrics_port: 0            # default metrics port of nodes; 0: none
//
//	# Top-level keys starting with x- are ignored: a place for anchors.
//	x-worker: &worker {role: worker, host: 10.0.0.5}
//
//	# The nodes, in any order. name, role, host and port are required.
//	nodes:
//	  - name: manager            # letters, digits, '.', '_', '-'; unique
//	    role: manager            # manager | logger | proxy | worker
//	    host: 10.0.0.1           # where the node listens (IPv6: no brackets)
//	    port: 27760              # 1..65535; host:port unique in the layout
//	    metrics_port: 27770      # optional, overrides cluster.metrics_port
//	  - {name: logger-1, role: logger, host: 10.0.0.1, port: 27761}
//	  - {name: proxy-1, role: proxy, host: 10.0.0.2, port: 27762, weight: 2}
//	  - {name: proxy-2, role: proxy, host: 10.0.0.3, port: 27762}
//	  - {<<: *worker, name: worker-1, port: 27764}   # merge key
//	  - {<<: *worker, name: worker-2, port: 27765}
//
// weight (default 1, positive) is the node's share of keys in its pool's
// HRW picks; proxy-1 above owns half the proxy keys. Exactly one manager is
// required; loggers, proxies and workers are optional. Unknown keys are
// errors. Parse lists every check; it reports all problems at once, each a
// *LayoutError naming the line and node:
//
//	layout.yaml:7: node "w1": unknown role "wrker" (want manager, logger, proxy or worker)
//	layout.yaml:9: node "w2": address 10.0.0.5:27764 already used by node "worker-1" (line 8)
//
// examples/local.yaml is a complete layout for one machine.
//
// # Security
//
// Per node, optional, for every node of a layout or none (see Node.TLS,
// Node.SecretFile and the README's "Secure deployment"); paths are
// relative to the node's working directory, and an anchor shares what the
// nodes have in common:
//
//	x-sec: &sec
//	  tls_ca: /etc/weir/ca.pem                 # signs every peer's certificate
//	  tls_peer_names: [manager, logger-1, worker-1]  # optional pinning
//	  secret_file: /etc/weir/secret            # shared secret (netio.LoadSecret)
//	nodes:
//	  - {<<: *sec, name: manager, role: manager, host: 10.0.0.1, port: 27760,
//	     tls_cert: /etc/weir/manager.pem, tls_key: /etc/weir/manager-key.pem}
//
// `weir-node gen-certs --dir D --names manager,logger-1,...` writes a
// development CA and a certificate per node, named after the node.
//
// The YAML is parsed with github.com/goccy/go-yaml: maintained, YAML 1.2
// minded, and its errors (and syntax tree) carry line numbers. The package
// walks the syntax tree itself rather than unmarshalling into structs, so
// that it reports every problem, each on its own line, instead of the
// first.
//
// # Topology
//
// Who dials whom depends on the roles only (Zeek's rules):
//
//	dialer \ listener   manager  logger  proxy  worker
//	manager                -       yes     -      -
//	logger                 -        -      -      -
//	proxy                 yes      yes     -      -
//	worker                yes      yes    yes     -
//
// Every node connects to every logger; workers to the manager and every
// proxy; proxies to the manager. Proxies never peer with each other, nor
// workers with each other; loggers dial nobody. Each pair that peers uses
// one connection, dialed by the row's role. Peers lists the nodes one node
// dials, Dialers the nodes that dial it, Edges every (dialer, listener)
// pair. A cluster of one manager, l loggers, p proxies and w workers has
// w·(1+l+p) + p·(1+l) + l connections.
//
// # Topics
//
// Every node subscribes to its role topic and its node topic
// (Subscriptions):
//
//	weir/cluster/role/<role>/    e.g. weir/cluster/role/worker/  (RoleTopic)
//	weir/cluster/node/<name>/    e.g. weir/cluster/node/proxy-1/ (NodeTopic)
//
// The trailing '/' keeps one topic from being a prefix of another under
// weir's prefix matching (worker-1 must not receive worker-10's messages).
// Publishing to a pool member means publishing to its node topic.
//
// # Pools
//
// NewPools builds a Pool per role among proxy, worker and logger, holding
// that role's nodes with their layout weights. A Pool picks one live member
// per key:
//
//   - PickHRW: rendezvous hashing over the live members (package hrw),
//     Zeek's publish_hrw. Deterministic across nodes that agree on the
//     layout and the live set; when a member dies only its keys move, and
//     they move back when it revives. Lock-free and allocation-free.
//   - PickRR: round-robin over the members in layout order, skipping dead
//     ones, with a separate position per key, Zeek's publish_rr. At most
//     MaxRRKeys key positions are kept, least recently used dropped.
//
// Both report !ok when no member is alive. Members start dead: the caller
// marks a node alive (SetAlive) once it has seen it up, and dead when its
// peering is lost. As Zeek does, a node that wants to pick itself marks
// itself alive too.
//
// # Threading
//
// Layout is plain data, read-only once built; the topology and topic
// functions are pure. Pools and Pool are safe for concurrent use: PickHRW
// reads an atomic snapshot; PickRR, SetAlive, Members and Live take the
// pool's mutex, held only for a few loads and stores.
//
// # Dependencies
//
// cluster imports frame (roles, name limits), hrw (the pools), netio (the
// backpressure Policy, so that a layout's setting is passed on as is) and
// go-yaml. It does no I/O beyond Load reading one file.
package cluster
