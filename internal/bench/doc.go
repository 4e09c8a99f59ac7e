// Package bench is the engine of cmd/bench's scenarios (pubsub, logs,
// store; see "Other scenarios" for the last two). For pubsub: the payload
// codec, the subscriber's loss/duplicate/reorder accounting, the three
// roles (publisher, relay, subscriber) as runnable bodies, the parent that
// starts them and coordinates them over a line protocol, and the
// aggregation of their results. cmd/bench only parses flags, picks a
// launcher (child processes of its own binary) and prints.
//
// # Fairness
//
// Every message is one PublishBytes call and reaches the subscriber's
// handler on its own, with its topic and payload; nothing batches several
// messages into one value. The payload carries (publisher id, sequence,
// send time); see Payload for its byte layout. Subscribers account every
// (publisher, sequence) pair (Tracker): loss, duplicates and reordering
// are reported, never assumed away. At rate 0 publishers set
// node.Options.PublishWait so they slow down instead of dropping; drops
// anywhere are still counted and reported.
//
// # Readiness without sleeps
//
// Subscriptions travel asynchronously, so "the publisher is up" does not
// mean "the publisher routes the topic". Subscribers subscribe before they
// listen or peer, so their filter goes out in the handshake; publishers
// subscribe to their AckTopic likewise. Publishers, once peered, publish
// probe payloads on the benchmark topic every probeInterval; a subscriber
// answers every probe with an ack, and a publisher reports each
// subscriber's first answer to the parent (LINKED). Only when every
// publisher has heard from every subscriber does the parent say GO: an
// answered probe proves the filters are in place along the whole path,
// relays included, in both directions.
//
// # Flow control
//
// weir's forwarding does not push back on publishers: a relay whose
// outbound queue to a slow subscriber is full drops frames (drop_oldest,
// Zeek's default). PublishWait only covers the publisher's own queues. So
// that a max-rate run measures delivery rather than loss, subscribers
// acknowledge every AckEvery messages (one small message back per
// publisher, not a batch of data) and a publisher keeps at most
// Config.Window messages unacknowledged by its slowest subscriber. This is
// the credit scheme NATS's server applies internally by stalling fast
// producers; --window -1 turns it off and shows the raw behaviour.
//
// # Processes and bounds
//
// The parent (Run) starts roles through a Launcher: Exec runs child
// processes that exit when their standard input ends (and, on Linux, when
// the parent dies); InProcess runs them on goroutines for tests. A run is
// bounded by Config.Timeout; on timeout, error or cancellation every child
// is told to stop and killed after a grace period.
//
// # Other scenarios
//
// RunLogs (logs.go) ships conn.log records from worker nodes to logger
// nodes (child processes) and measures records/s end to end, wire bytes
// and CPU per record.
//
// RunStore (store*.go) measures a replicated store: a master node over
// Pebble, a writer node with a frontend (in the parent) and clone nodes,
// over loopback TCP. The master and each clone are processes of their own
// (StoreConfig.Exe; ServeStoreRole is a child's body, driven by a line
// protocol described in store_roles.go), as on machines of their own; or,
// with no Exe, goroutines of the parent speaking the same protocol over
// pipes (tests, --in-process). Its phases: a local Pebble put baseline;
// pipelined puts and put_uniques from the writer; gets on a clone; the
// staleness of paced puts on the master, seen through the clones'
// kv.Options.OnEvent; and the writer's put rate while a wave of keys
// expires. Every key is distinct by construction (a bijection of the
// index), so the master's final key count is known and each clone's is
// compared with it. Requests are pipelined by pipe, which keeps up to
// Window futures in flight and fails a phase when an answer takes longer
// than Stall; every wait for a condition is bounded by Stall without
// progress and by the run's Timeout.
//
// # Libraries
//
// Latency is recorded in github.com/HdrHistogram/hdrhistogram-go (1 ns to
// 60 s, 3 significant digits): the standard HDR histogram, whose
// compressed encoding lets children ship histograms to the parent to be
// merged exactly. cmd/bench draws its progress bar with
// github.com/schollz/progressbar/v3.
//
// # Threading
//
// Tracker is not safe for concurrent use; the subscriber role serializes
// it with a mutex because its peers may sit on several event loops. Run
// is called from one goroutine; ProgressFunc is called on it. RunStore
// likewise; StoreConfig.OnPhase is called on its goroutine. A store
// role's clone events run on the clone's store goroutine and share only
// atomics and a mutex-guarded histogram with the role's request loop; the
// parent sends a role one request at a time (storeProc's mutex).
package bench
