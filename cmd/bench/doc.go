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
// Paced runs (--rate, and the --latency rerun at half the maximum) stamp
// every message; at the maximum rate one in 16 carries a timestamp (plus
// the last), so that reading the clock does not weigh on the throughput
// being measured.
//
//	weir-bench logs --workers N --loggers N --records N --codec s2|zstd|none \
//	    --batch N [--kill-at F] [--verify] [--json]
//
// ships conn.log records from worker nodes (in this process) to logger
// nodes (child processes) that write files: records/s end to end, wire
// and file bytes per record, CPU per record.
//
//	weir-bench store --clones N [--writers N] --ops N [--window N] [--value-size B] [--sync] \
//	    [--rate PUTS_PER_S] [--stale-ops N] [--expire-keys N] [--expire-after D] \
//	    [--expire-batch N] [--in-process] [--cpuprofile FILE] [--trace FILE] [--profile-phase P] [--json]
//
// measures a replicated data store with real nodes over TCP on
// 127.0.0.1: a master node (Pebble backend in a temp dir, NoSync unless
// --sync) and N clone nodes, each a child process of this program (as
// they would be on machines of their own), and a writer node (role
// worker) in this process that sends requests through a store frontend;
// the clones and the writer peer with the master (--writers N: N writer
// nodes, each with its own connection, share the puts and put_unique
// phases). --in-process runs every
// node in this process, sharing one Go runtime. In order: a local baseline (--ops puts straight into a Pebble
// backend, local_pebble_puts_per_sec); --ops pipelined puts from the
// writer (puts_per_sec, and puts_vs_local, their ratio to the baseline;
// target ≥ 0.6); --ops put_uniques of fresh keys, each of which must
// insert (put_unique_per_sec; target ≥ 100k/s); --ops gets of random keys
// on one clone, answered locally (gets_per_sec); --stale-ops puts on the
// master paced at --rate, each carrying its issue time, which every clone
// compares with the moment the key becomes visible there
// (staleness_p50_us, _p99_us, _max_us, staleness_rate; target p99 ≤ 10
// ms at 100k puts/s); and an expiry wave: --expire-keys keys put with
// expiry --expire-after while the writer's put rate is sampled every
// --interval, before (puts_before_wave_per_sec) and during the wave
// (expiry_wave_puts_per_sec, answers over the wave's intervals, and
// expiry_wave_min_interval_per_sec) until a clone has seen every key
// expire (expiry_wave_seconds). At the end every clone must hold as many
// keys as the master (clones_consistent) and no request may have failed
// (errors), or the exit status is 1. cpu_sec is the CPU time of this
// process and the children over the run, phase_cpu_sec the same per
// phase. --expire-batch sets the keys the master expires per slice
// (node.StoreOptions.ExpireBatch, default 256);
// --cpuprofile and --trace (an execution trace for go tool trace) with
// --profile-phase record one phase: this process to FILE and each child
// to FILE-master, FILE-clone-0, ...
// Every wait is bounded (--stall without progress, --timeout in all), and
// Ctrl-C stops the run and closes the nodes.
//
// Flags use the standard library's flag package: one subcommand does not
// need a CLI framework. The logic lives in internal/bench.
package main
