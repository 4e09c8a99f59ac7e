// Command weir-perf is the perf suite's entry point; perf/run and
// perf/compare build and call it.
//
//	weir-perf run [--quick] [--runs N] [--only pubsub,fanout,latency,micro,logs,store] [--worktree]
//	weir-perf compare [--all] OLD_DIR NEW_DIR
//	weir-perf report DIR      # redraw plots and results.md from DIR/results.json
//
// run measures weir and its peer (perf/internal/suite) and writes
// perf/results/<date>-<commit>[-quick]/; compare diffs two such
// directories (perf/internal/compare). It must run from the repository
// root, which perf/run ensures. Flags use the standard library's flag
// package: three subcommands do not need a framework.
package main
