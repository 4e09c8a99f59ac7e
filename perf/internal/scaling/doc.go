// Package scaling turns a run's measured per-core costs into a paper plan
// for a cluster bigger than the machine that measured them, and checks the
// cost model against a measured multi-process run on that machine.
//
// The model is deliberately simple: every cost is CPU nanoseconds per unit
// of work (a relayed frame, a published-and-delivered message, a log
// record), measured as the CPU time of whole process trees divided by the
// work they did, so wake-ups, syscalls and the Go runtime are included.
// A role needs max(CPU, NIC, disk) worth of nodes at a stated headroom;
// which of the three binds is reported, because that is what a person
// sizing a cluster must watch.
//
//	cost        from
//	endpoints   weir direct run, 64 B: CPU of publisher + subscriber per message
//	relay       weir relay run minus direct run, same size: the relay's CPU per frame
//	log record  weir-bench logs (cpu_ns_per_record), else logsink micro-benchmarks
//	            (encode + compress + decompress + TSV write, per record)
//
// Check compares what the model predicts for a run on this machine with
// what that run measured: the fan-out cost fitted on 1 and 4 subscribers
// extrapolated to 16, and the throughput a CPU-bound relay path would reach.
//
// Everything here is a pure function of a results.Suite.
package scaling
