package compare

import (
	"math"
	"strings"
	"testing"

	"github.com/weirio/weir/perf/internal/results"
	"github.com/weirio/weir/perf/internal/results/resultstest"
)

func TestScenarios(t *testing.T) {
	old, cur := resultstest.Suite(1, true), resultstest.Suite(0.8, false)
	rows := Scenarios(old, cur, []string{results.MsgsPerSec})
	var relay64 []Row
	for _, r := range rows {
		if r.Metric != results.MsgsPerSec {
			t.Fatalf("metric filter let %s through", r.Metric)
		}
		if r.Key.Group == results.GroupLogs {
			t.Errorf("logs row without logs in the new run: %+v", r)
		}
		if r.Key == (results.Key{Group: results.GroupPubSub, Scenario: "relay", Size: 64}) {
			relay64 = append(relay64, r)
		}
	}
	if len(relay64) != 2 || relay64[0].System != results.Weir || relay64[1].System != results.NATS {
		t.Fatalf("relay 64 rows %+v", relay64)
	}
	if d := relay64[0].Delta(); math.Abs(d+0.2) > 1e-9 {
		t.Errorf("weir relay delta %v, want -0.2", d)
	}
	if len(Scenarios(old, cur, nil)) <= len(rows) {
		t.Error("nil metrics did not compare every metric")
	}
}

func TestMicroSignificance(t *testing.T) {
	old, cur := resultstest.Suite(1, true), resultstest.Suite(0.8, true)
	rows := Micro(old, cur)
	got := map[string]MicroRow{}
	for _, r := range rows {
		got[r.ID+" "+r.Unit] = r
	}
	pick := got["hrw.Pick/members=16 ns/op"]
	if !pick.Significant() || math.Abs(pick.Delta()-0.25) > 1e-9 {
		t.Errorf("Pick: p %v delta %v, want significant +25%%", pick.P, pick.Delta())
	}
	match := got["router.Match/cached ns/op"]
	if match.Significant() || match.P != 1 || match.Delta() != 0 {
		t.Errorf("Match: identical samples, p %v delta %v", match.P, match.Delta())
	}
	// Three samples a side can never be significant (p ≥ 0.1).
	if c := got["logsink.Codec/s2/compress ns/op"]; c.Significant() {
		t.Errorf("3 vs 3 called significant: p %v", c.P)
	}
}

func TestWrite(t *testing.T) {
	old, cur := resultstest.Suite(1, true), resultstest.Suite(0.8, true)
	cur.Meta.Quick = false
	var b strings.Builder
	if err := Write(&b, old, cur, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"WARNING: one run is quick and one full",
		"| pubsub relay size=64 | msgs_per_sec | 707,000 | 565,600 | -20.0% (worse) | 353,500 | 282,800 | -20.0% (worse) | 2/2 |",
		"| pubsub relay size=64 | cpu_ns_per_msg | 909 | 1,136 | +25.0% (worse) | 2,525 | 3,156 | +25.0% (worse) | 2/2 |",
		"| pubsub direct size=64 | msgs_per_sec | 1,010,000 | 808,000 | -20.0% (worse) | — | — | — | 2/2 |",
		"| hrw.Pick/members=16 | ns/op | 46.2 ±2% | 57.8 ±2% | +25.0% (worse) | 0.008 | 5/5 |",
		"| router.Match/cached | ns/op | 24.1 ±2% | 24.1 ±2% | ~ | 1.000 | 5/5 |",
		"| logs batch=400 codec=zstd | records_per_sec | 175,000 | 140,000 | -20.0% (worse) | — | — | — | 2/2 |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "| allocs/op |") || strings.Contains(out, "per_sub_msgs_per_sec") || strings.Contains(out, "| pubsub relay size=64 | mb_per_sec") {
		t.Error("non-headline metric without --all")
	}
	b.Reset()
	_ = Write(&b, old, cur, true)
	if !strings.Contains(b.String(), "| pubsub relay size=64 | mb_per_sec") ||
		!strings.Contains(b.String(), "| router.Match/cached | allocs/op | 0 ±0% | 0 ±0% | ~ | 1.000 | 5/5 |") {
		t.Error("--all left out a metric")
	}
}

func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		d      float64
		metric string
		sig    bool
		want   string
	}{
		{0.1, results.MsgsPerSec, true, "+10.0% (better)"},
		{0.1, results.P99, true, "+10.0% (worse)"},
		{-0.1, "ns/op", true, "-10.0% (better)"},
		{0.1, "B/sub", true, "+10.0% (worse)"},
		{0.1, "inuse-B/sub", true, "+10.0% (worse)"},
		{-0.1, "ns/op", false, "~"},
		{math.NaN(), "ns/op", true, "—"},
		{math.NaN(), "ns/op", false, "~"},
	} {
		if got := verdict(tc.d, tc.metric, tc.sig); got != tc.want {
			t.Errorf("verdict(%v, %s, %v) = %q, want %q", tc.d, tc.metric, tc.sig, got, tc.want)
		}
	}
}
