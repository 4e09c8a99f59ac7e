// Package suite runs the perf suite: it builds weir-bench, installs the
// peer (nats-server v2.15.2 and the nats CLI v0.5.0, with `go install`
// into perf/.bin), starts nats-server on 127.0.0.1, and measures every
// scenario weir and its peer both have, interleaved run by run so that
// both see the same machine:
//
//	part     weir                                      peer
//	pubsub   weir-bench pubsub relay and direct,       nats bench pub → server → sub
//	         16 B … 16 KiB                             (relay only: NATS has no direct path)
//	fanout   weir-bench pubsub fanout, 1/4/16 subs     nats bench sub --clients N
//	latency  weir-bench pubsub relay --rate R          nats latency --rate R
//	micro    go test -bench on frame, router, hrw      —
//	logs     weir-bench logs, batch × codec sweep      —
//	store    weir-bench store                          —
//
// The order within a point alternates between runs (weir first in odd
// runs, NATS first in even ones). CPU cost is measured for whole process
// trees: wait4's rusage covers a weir-bench parent and every role process
// it waited for; the NATS figure adds nats-server's /proc CPU delta to its
// two clients' rusage. `weir-bench logs` and `store` are used only when
// the binary documents them (`weir-bench logs -h`); otherwise the run
// records them as unavailable rather than guessing numbers.
//
// WriteReport turns a run into its directory: results.json and CSV
// (package results), results.md with the scaling estimate (package
// scaling), and SVG plots (package plots).
//
// # Threading and processes
//
// Run is sequential: one measurement at a time, so that measurements do
// not compete with each other for the two cores of the reference machine.
// Every process it starts is its own child and is stopped (by pid) before
// Run returns; a cancelled context ends the current measurement and the
// run, and Run returns what it has.
package suite
