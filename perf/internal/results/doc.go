// Package results is the perf suite's record of one run: the machine and
// build it ran on, every measured sample (weir's and its peer's, run by
// run), the micro-benchmark samples, what could not be measured and why,
// and the summaries drawn from them (medians per point, weir/peer ratios).
//
// A run is stored in a directory (perf/results/<date>-<commit>[-quick]/):
//
//	file          contents
//	results.json  the whole Suite; the only file Load reads
//	samples.csv   one row per (point, system, run, metric): long format
//	summary.csv   one row per (point, metric): weir and peer medians, ratio
//	micro.csv     one row per (benchmark, unit, sample)
//	results.md    the tables a person reads, written by the suite
//
// The CSV files are derived from results.json and exist for spreadsheets
// and plotting tools; nothing reads them back.
//
// Samples are kept raw (no averaging across runs) so that a later compare
// can apply its own statistics. Metric names carry their unit
// ("msgs_per_sec", "p99_us", "cpu_ns_per_msg"); LowerIsBetter reads it.
//
// Nothing here does I/O beyond the run directory it is given; values are
// not safe for concurrent mutation.
package results
