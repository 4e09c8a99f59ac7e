// Package compare diffs two perf runs (result directories) so that a
// regression is visible:
//
//   - scenario figures (pub/sub, fan-out, latency, logs, store): a table of
//     old median, new median and the change in percent, per point, metric
//     and system, with the change marked better or worse by the metric's
//     direction (results.LowerIsBetter). Scenario points have too few runs
//     for a significance test; the table says how many each median has.
//   - micro-benchmarks: benchstat's layout and rule. Old and new medians
//     with their spread, the change, and the p-value of a two-sided
//     Mann-Whitney U test over the samples; a change whose p ≥ 0.05 is
//     printed as "~" (no significant difference), as benchstat does.
//
// It reads results.Suite values and writes text; it holds no state.
package compare
