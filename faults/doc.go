// Package faults is weir's fault-injection suite: end-to-end tests that
// break things on purpose — kill processes, stall readers, cut and heal
// the network, attack a node — against real nodes on 127.0.0.1, and check
// that nothing the system promised is lost. It holds only tests, behind
// the build tag "faults", so `go test ./...` skips them: they take half a
// minute (a minute under -race), start child processes and measure rates.
// CI (.ci/run) runs them once, without -race, after the race test suite.
//
// Why a top-level package: the cases cross every layer (netio, node,
// kv, logsink through weir-bench, cluster), so they belong to none of
// them, and a package of their own keeps their helpers (a partitioning
// TCP proxy, raw hostile connections, child processes) out of the
// packages under test.
//
// # Running it
//
//	go test -tags faults ./faults/            # the cases (the soak is skipped)
//	go test -tags faults -race ./faults/      # the same under the race detector
//	WEIR_SOAK=10m go test -tags faults -run Soak -v -timeout 30m ./faults/
//	perf/faults --quick                       # the cases, and a table of every check
//	perf/faults                               # the cases and the 10-minute soak
//
// `go test -tags faults ./...` runs the suite along with every other
// package's tests. WEIR_TEST_LOG=1 shows the nodes' logs.
//
// # Output
//
// Every check prints one line (t.Logf, so with -v or on failure):
//
//	FAULT <case> | <check> | <measured> | ok|FAIL|info
//	FAULT 3.partition/blackhole | a and b notice: peer_lost | after 3.006s | ok
//
// A case is named "<number>.<name>", with "/<variant>" where it runs
// several; "info" marks a measurement that is not a check. perf/faults
// collects these lines into a table, in case order, and exits non-zero on
// any FAIL.
//
// # Cases
//
//  1. logger-kill (logger_test.go): of two loggers, one is SIGKILLed half
//     way through a conn.log stream and restarted; every record id is in
//     the files exactly once. It builds cmd/bench and runs `weir-bench
//     logs --loggers 2 --kill-at 0.5` (loggers are child processes there),
//     checking its JSON result.
//  2. stalled-sub (stall_test.go): a peer that handshakes and never reads.
//     A healthy subscriber's rate beside it is compared (median of the
//     ratios within interleaved rounds) with its rate beside a healthy
//     second subscriber (≥ 90%) and alone (≥ 50%: the cost of one more copy
//     per message; a publisher held up by the stalled peer would be far
//     below) — printed but not checked under -race, which distorts rates;
//     the stalled peer's queue stays within its byte bound; drop_oldest
//     drops and counts, and disconnect cuts it off with error(limit),
//     counted; the healthy subscriber gets every message once, in order.
//  3. partition (partition_test.go, proxy_test.go): nodes talk through TCP
//     proxies that the test turns into a blackhole, resets, or leaves
//     half-open. Peers notice (keepalive or reset), reconnect by
//     themselves, report peer_lost then peer_recovered (cluster members:
//     node_down then node_up), the subscription is restored, a clone
//     resyncs writes made during the partition, and no message reaches the
//     application twice or out of order.
//  4. pebble-kill (pebble_test.go): a store master on Pebble in sync mode,
//     in a child process (the test binary re-executed; see TestMain),
//     SIGKILLed while a frontend pipelines puts. The puts the kill cut off
//     fail at once with node.ErrMasterLost; every acknowledged put is on
//     disk with its value and absolute expiry, and the restarted master
//     serves it.
//  5. hostile-peer (hostile_test.go, rawpeer_test.go): random bytes, lying
//     frame headers, silent and byte-by-byte handshakes, oversized frames,
//     subscription floods, protocol violations after the handshake, and a
//     handshake flood. Each connection is closed with the right error code
//     and counted exactly once (netio.Stats Failures and Limits: the
//     counters of what this node rejected; Refused counts what peers
//     refused of it), while a good peer keeps exchanging messages and a new
//     one joins during the flood.
//  6. soak (soak_test.go, only with WEIR_SOAK=<duration>): publisher →
//     forwarding relay → subscriber at 80% of the path's lossless maximum
//     rate, measured first (with a bounded number of messages in flight,
//     as the soak keeps); the rate is held, every message arrives once and
//     in order, and the live heap and the goroutine count, sampled every
//     few seconds, stay flat after a warm-up.
//
// Tests wait on conditions (internal/testutil) with generous deadlines,
// never on sleeps, and close everything they start; goleak checks the
// package for leaked goroutines.
package faults
