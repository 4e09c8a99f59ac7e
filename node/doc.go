// Package node is weir's composition root and embeddable API: a Node peers
// with other nodes over netio, publishes and subscribes by topic prefix,
// and (optionally) relays between its peers.
//
//	n, _ := node.New(node.Options{Name: "worker-1"})
//	n.Listen("127.0.0.1:9999")
//	n.Peer("10.0.0.2:9999")
//	sub, _ := n.Subscribe("zeek/events/")
//	n.PublishEvent("zeek/events/conn", "new_connection", frame.NewCount(1))
//
// # Routing
//
// Two routers (package router) decide where a frame goes: one maps topics
// to local subscriptions, one to the peers whose filters match. Both are
// read lock-free from immutable snapshots, so subscription churn never
// stalls the data path. A publish encodes its frame once; the same bytes
// go to every matching peer's queue and to every matching local
// subscription. A PublishBytes for exactly one peer and no local
// subscription (a publisher's common case) encodes the frame straight into
// that peer's queue (netio's Peer.SendEncoded), without a buffer or a copy.
//
// # Semantics
//
//   - Subscriptions are plain byte prefixes, as in Broker: "a" matches
//     "alice", "" matches everything. Adding and removing a prefix reaches
//     every peer (an add or remove frame); unlike Broker, filters shrink.
//   - Node.Publish reaches every matching peer and every matching local
//     subscription, as a Broker endpoint's publish does. A component that
//     subscribes and publishes on the same topics publishes through its
//     Subscription (Subscription.Publish): then it does not receive its own
//     message — as a Zeek node never receives the events it publishes —
//     while other local subscriptions still do.
//   - Topics beginning with Options.LocalPrefix ("weir/local/") never leave
//     the node: they are neither sent nor advertised, and received ones are
//     dropped and counted.
//   - Delivery from one publisher is in order and, without forwarding
//     loops, exactly once, as long as no queue overflows. Overflow is
//     explicit: a peer's queue applies its netio.Policy (drop_oldest by
//     default), a queued subscription drops new messages when its channel
//     is full (Subscription.Dropped), and both are counted. A slow consumer
//     never holds up the node; a publisher that prefers waiting to
//     dropping sets Options.PublishWait.
//   - Forwarding is off by default (as in Zeek). A forwarding node
//     advertises to each peer its own filter plus its other peers'
//     filters, relays data and event frames to the other matching peers
//     with the hop TTL decremented in place (never decoding the body), and
//     delivers and relays each stamped frame once: frames carry an origin
//     stamp whenever forwarding is on anywhere among a node's peers, and a
//     per-origin sequence window (dedupe.go) drops the copies that arrive
//     over a second path. A triangle of forwarding nodes does not loop.
//   - Clients (peers with role frame.RoleClient, such as weir-node's pub and
//     sub commands) are leaves the node serves: a client's publish is
//     routed one hop as if published at the node (to its subscriptions and
//     matching peers), messages matching a client's filter are passed to
//     it, and clients' filters are advertised to the node's other peers —
//     with or without forwarding. Clients never relay, so this cannot loop.
//
// # Messages and threading
//
// A handler subscription (SubscribeFunc) is called on a network event loop
// for remote messages and on the publishing goroutine for local ones; its
// Message is a view valid only during the call, and the handler must not
// block. A queued subscription (Subscribe) receives owned copies on a
// channel. Status events (peer added, lost, removed, recovered) arrive on
// the bounded Status channel. All Node methods are safe for concurrent use.
//
// # Data stores
//
// AttachMaster makes the node the master of a store over a kv.Backend
// (memory or Pebble), AttachClone keeps a replica in memory that answers
// reads locally, and StoreFrontend sends every operation to the master.
// Each returns a *Store with typed operations (Put, PutUnique, Erase, Add,
// Subtract, Clear, Get, Exists, Keys, GetIndex) and the pipelined Do,
// which returns a Future at once. Requests, answers and the replication
// channel are store frames on topics under "weir/store/<name>/"
// (docs/PROTOCOL.md §5.6.1–5.6.2); the master replicates with kv/repl, so
// a clone that falls too far behind resyncs from a snapshot instead of
// giving up. A clone never waits to read: it serves a stale copy with
// Stale() set while it has no live master, and ErrNotSynced before its
// first snapshot. With StoreOptions.Events, each master and clone
// publishes Broker-style store events (insert, update, erase, expire) on
// the local topic StoreEventsTopic(name). Limits: Options.MaxStores
// stores per node (ErrTooManyStores), a bounded request queue per store
// (StoreOptions.Queue), and key and value sizes (kv.Options) that fit a
// frame; refusals carry the limit code and are counted in
// Stats.StoreLimit. A request to a remote master is never dropped by the
// peer queue's policy: when the queue to the master is full, Do refuses
// it at once with the limit code (a deep pipeline then sees refusals, not
// requests that wait for RequestTimeout). Nor does a request wait for
// RequestTimeout when its answer cannot come: with no peer leading to the
// master it is not sent (ErrNoMaster); when the connection to the master
// drops it fails with ErrMasterLost; and when it or its answer was lost
// on the way, the answer to a later request fails it (ErrRequestLost),
// as the master answers a handle's requests in order (a handle with
// requests pending and no answer for a second sends a probe request to
// get one). Stats.StoreLost
// counts the requests that failed without an answer. A master sends the
// answers of one group commit to each requesting node in as few frames
// as it can: the successful answers to a node's consecutive requests go
// as one answers message, not a store-ack each.
package node
