// Command weir-bench load-tests weir in the manner of `nats bench`.
//
//	weir-bench pubsub --scenario direct|relay|fanout --size BYTES --msgs N \
//	    --pubs N --subs N --rate MSGS_PER_S [--latency] [--json]
//
// By default it starts every role (publishers, a forwarding relay,
// subscribers) as a child process of its own binary on 127.0.0.1 and
// coordinates them over their standard input and output; with --role a
// process plays one role only (--listen, --connect), speaking that line
// protocol (internal/bench) on stdin/stdout, so roles can be placed by
// hand. Results: msgs/s and MB/s at the subscribers, latency percentiles
// from the payloads' send timestamps, loss, duplicates and reordering.
//
// Flags use the standard library's flag package: one subcommand does not
// need a CLI framework. The logic lives in internal/bench.
package main
