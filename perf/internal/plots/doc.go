// Package plots draws a run's figures as SVG with gonum.org/v1/plot, the
// plotting library already in go.mod (pure Go, SVG without a browser or
// cgo):
//
//	file            figure
//	throughput.svg  msgs/s vs message size: weir relay, weir direct, NATS relay
//	latency.svg     p50 and p99 latency vs offered rate: weir and NATS
//	fanout.svg      aggregate deliveries/s vs subscribers (1, 4, 16): weir and NATS
//	logs.svg        log records/s vs batch size, one line per codec
//
// Each figure reads the medians of results.Suite.Summarize. A figure whose
// data this run does not have (e.g. logs, before weir-bench logs exists)
// is still written, with the reason in its title, so documents that embed
// it never show a broken image.
//
// Draw writes files and nothing else; it is safe to call concurrently on
// different directories.
package plots
