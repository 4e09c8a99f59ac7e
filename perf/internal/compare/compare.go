package compare

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/weirio/weir/perf/internal/results"
	"github.com/weirio/weir/perf/internal/stats"
)

// Row is one compared scenario figure.
type Row struct {
	Key        results.Key
	Metric     string
	System     string
	Old, New   float64
	OldN, NewN int
}

// Delta is the relative change.
func (r Row) Delta() float64 { return stats.Delta(r.Old, r.New) }

// Scenarios returns a row per (point, metric, system) that both runs have,
// in the new run's order. Only the metrics in metrics are compared (all
// when nil).
func Scenarios(old, new *results.Suite, metrics []string) []Row {
	oldPts := old.Summarize()
	var rows []Row
	for _, np := range new.Summarize() {
		if metrics != nil && !slices.Contains(metrics, np.Metric) {
			continue
		}
		op, ok := results.Find(oldPts, np.Key, np.Metric)
		if !ok {
			continue
		}
		if np.WeirN > 0 && op.WeirN > 0 {
			rows = append(rows, Row{np.Key, np.Metric, results.Weir, op.Weir, np.Weir, op.WeirN, np.WeirN})
		}
		if np.PeerN > 0 && op.PeerN > 0 {
			rows = append(rows, Row{np.Key, np.Metric, results.NATS, op.Peer, np.Peer, op.PeerN, np.PeerN})
		}
	}
	return rows
}

// MicroRow is one compared micro-benchmark unit.
type MicroRow struct {
	ID       string
	Unit     string
	Old, New []float64
	P        float64 // Mann-Whitney two-sided p-value
}

// constant reports whether every old and new sample has the same value
// (typically 0 B/op and 0 allocs/op): nothing to compare.
func (m MicroRow) constant() bool {
	for _, v := range append(slices.Clone(m.Old), m.New...) {
		if v != m.Old[0] {
			return false
		}
	}
	return true
}

// Significant reports whether the difference passes the test at α.
func (m MicroRow) Significant() bool { return m.P < stats.Alpha }

// Delta is the relative change of the medians.
func (m MicroRow) Delta() float64 { return stats.Delta(stats.Median(m.Old), stats.Median(m.New)) }

// Micro returns a row per (benchmark, unit) that both runs have, in the
// new run's order, units sorted.
func Micro(old, new *results.Suite) []MicroRow {
	var rows []MicroRow
	for _, nb := range new.Micro {
		ob, ok := old.FindMicro(nb.ID())
		if !ok {
			continue
		}
		units := make([]string, 0, len(nb.Values))
		for u := range nb.Values {
			units = append(units, u)
		}
		slices.Sort(units)
		for _, u := range units {
			o, n := ob.Values[u], nb.Values[u]
			if len(o) == 0 || len(n) == 0 {
				continue
			}
			rows = append(rows, MicroRow{ID: nb.ID(), Unit: u, Old: o, New: n, P: stats.MannWhitney(o, n)})
		}
	}
	return rows
}

// headline lists, per group, the metrics compared by default: the ones
// the tables show. Latency percentiles of max-rate runs measure queueing
// and are left out.
var headline = map[string][]string{
	results.GroupPubSub:  {results.MsgsPerSec, results.CPUNsPerMsg},
	results.GroupFanout:  {results.MsgsPerSec, results.CPUNsPerDelivery},
	results.GroupLatency: {results.P50, results.P99, results.P999},
	results.GroupLogs:    {results.RecordsPerSec, "cpu_ns_per_record", "wire_bytes_per_record"},
	results.GroupStore:   {results.PutsPerSec, "put_unique_per_sec", "gets_per_sec", "staleness_p99_us"},
}

// Write prints both comparisons. all includes every recorded metric, not
// only the headline ones.
func Write(w io.Writer, old, new *results.Suite, all bool) error {
	var b strings.Builder
	for _, r := range []struct {
		name string
		s    *results.Suite
	}{{"old", old}, {"new", new}} {
		m := r.s.Meta
		fmt.Fprintf(&b, "%s: %s %s%s (%s; load average %s at start, %s at end)\n", r.name, m.Date, m.ShortCommit, quick(r.s),
			m.Machine, m.LoadStart, m.LoadEnd)
	}
	if old.Meta.Machine != new.Meta.Machine {
		b.WriteString("WARNING: the runs were on different machines; differences may not be weir's.\n")
	}
	if old.Meta.Quick != new.Meta.Quick {
		b.WriteString("WARNING: one run is quick and one full; quick runs use fewer messages.\n")
	}
	var rows []Row
	for _, r := range Scenarios(old, new, nil) {
		if all || slices.Contains(headline[r.Key.Group], r.Metric) {
			rows = append(rows, r)
		}
	}
	b.WriteString("\n## Scenarios (medians; better/worse by the metric's direction, no significance test)\n\n")
	if len(rows) == 0 {
		b.WriteString("no scenario point in common\n")
	} else {
		b.WriteString("| point | metric | weir old | weir new | weir delta | NATS old | NATS new | NATS delta | runs old/new |\n")
		b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
		for i := 0; i < len(rows); i++ {
			r := rows[i]
			cells := [2][3]string{{"—", "—", "—"}, {"—", "—", "—"}}
			runs := fmt.Sprintf("%d/%d", r.OldN, r.NewN)
			for j := i; j < len(rows) && rows[j].Key == r.Key && rows[j].Metric == r.Metric; j++ {
				c := 0
				if rows[j].System == results.NATS {
					c = 1
				}
				cells[c] = [3]string{results.Num(rows[j].Old), results.Num(rows[j].New), verdict(rows[j].Delta(), r.Metric, true)}
				i = j
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Key, r.Metric, cells[0][0], cells[0][1], cells[0][2],
				cells[1][0], cells[1][1], cells[1][2], runs)
		}
	}
	var mrows []MicroRow
	for _, m := range Micro(old, new) {
		if all || !m.constant() {
			mrows = append(mrows, m)
		}
	}
	b.WriteString("\n## Micro-benchmarks (median ± largest deviation; Mann-Whitney U, α = 0.05)\n\n")
	if len(mrows) == 0 {
		b.WriteString("no micro-benchmark in common\n")
	} else {
		b.WriteString("| benchmark | unit | old | new | delta | p | n old/new |\n|---|---|---:|---:|---:|---:|---:|\n")
		for _, m := range mrows {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.3f | %d/%d |\n", m.ID, m.Unit, withSpread(m.Old), withSpread(m.New),
				verdict(m.Delta(), m.Unit, m.Significant()), m.P, len(m.Old), len(m.New))
		}
		b.WriteString("\n\"~\": no significant difference (p ≥ 0.05); with fewer than 4 samples per side no difference can be " +
			"significant. Units whose samples are all the same in both runs (0 allocs/op) are left out unless --all.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func quick(s *results.Suite) string {
	if s.Meta.Quick {
		return " quick"
	}
	return ""
}

func withSpread(xs []float64) string {
	return fmt.Sprintf("%s ±%.0f%%", results.Num(stats.Median(xs)), 100*stats.Spread(xs))
}

// verdict formats a change: "+12.3% (better)", "~" when not significant,
// "0.0%" when nothing moved.
func verdict(d float64, metric string, significant bool) string {
	switch {
	case !significant:
		return "~"
	case math.IsNaN(d):
		return "—"
	case d == 0:
		return "0.0%"
	}
	better := d > 0
	if results.LowerIsBetter(metric) {
		better = !better
	}
	word := "worse"
	if better {
		word = "better"
	}
	return fmt.Sprintf("%s (%s)", results.Pct(d), word)
}
