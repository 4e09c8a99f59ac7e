package results

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/weirio/weir/perf/internal/stats"
)

// Metric names the suite records; the tables and plots read these.
const (
	MsgsPerSec       = "msgs_per_sec"         // pubsub, fanout: delivered at the subscribers (aggregate)
	PerSubMsgsPerSec = "per_sub_msgs_per_sec" // fanout: mean of the subscribers' own rates
	MBPerSec         = "mb_per_sec"           // payload 10^6 bytes/s at the subscribers
	CPUNsPerMsg      = "cpu_ns_per_msg"       // CPU of every process of the run, per published message
	CPUNsPerDelivery = "cpu_ns_per_delivery"  // the same per delivered message (fan-out counts each copy)
	AchievedRate     = "achieved_rate"        // latency: msgs/s actually published
	P50              = "p50_us"
	P90              = "p90_us"
	P99              = "p99_us"
	P999             = "p99_9_us"
	RecordsPerSec    = "records_per_sec"
	PutsPerSec       = "puts_per_sec"
)

// WriteMarkdown writes the run's tables: header, headline, one table per
// group, micro-benchmarks, and what was unavailable.
func WriteMarkdown(w io.Writer, s *Suite) error {
	var b strings.Builder
	pts := s.Summarize()
	m := s.Meta
	mode := "full"
	if m.Quick {
		mode = "quick"
	}
	dirty := ""
	if m.Dirty {
		dirty = " (work tree had uncommitted changes)"
	}
	fmt.Fprintf(&b, "# perf results: %s, %s%s, %s run\n\n", m.Date, m.ShortCommit, dirty, mode)
	fmt.Fprintf(&b, "- **Machine:** %s\n- **Go:** %s\n- **Command:** `%s`\n", m.Machine, m.GoVersion, m.Command)
	fmt.Fprintf(&b, "- **Built from:** %s at %s\n", m.Source, m.Commit)
	fmt.Fprintf(&b, "- **Runs per point:** %d, weir and its peer interleaved; medians of clean runs\n", m.Runs)
	fmt.Fprintf(&b, "- **Peers:** %s\n", strings.Join(m.Peers, "; "))
	fmt.Fprintf(&b, "- **Load average:** %s at start, %s at end; took %.0f s\n\n", m.LoadStart, m.LoadEnd, m.DurationSec)

	b.WriteString("## Headline\n\n")
	b.WriteString(Headline(s))
	writeGroups(&b, s, pts)
	writeMicro(&b, s)
	if len(s.Unavailable) > 0 {
		b.WriteString("\n## Not measured in this run\n\n")
		for _, u := range s.Unavailable {
			fmt.Fprintf(&b, "- **%s**: %s\n", u.What, u.Why)
		}
	}
	if len(s.Notes) > 0 {
		b.WriteString("\n## Notes\n\n")
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Headline returns a short markdown table of the figures people ask for
// first; the top-level README carries a copy.
func Headline(s *Suite) string {
	pts := s.Summarize()
	var b strings.Builder
	b.WriteString("| figure | weir | NATS | weir/NATS |\n|---|---:|---:|---:|\n")
	row := func(label string, p Point, unit string) {
		if p.WeirN == 0 && p.PeerN == 0 {
			return
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", label, Num(p.Weir)+unit, peerCell(p, unit), Ratio(p.Ratio()))
	}
	for _, size := range []int{64, 1024} {
		p, _ := Find(pts, Key{Group: GroupPubSub, Scenario: "relay", Size: size}, MsgsPerSec)
		row("pub → relay → sub, "+SizeLabel(size)+", msgs/s", p, "")
	}
	p, _ := Find(pts, Key{Group: GroupPubSub, Scenario: "direct", Size: 64}, MsgsPerSec)
	row("pub → sub direct (no broker), 64 B, msgs/s", p, "")
	fan := Select(pts, GroupFanout, MsgsPerSec)
	if len(fan) > 0 {
		p := fan[len(fan)-1]
		row(fmt.Sprintf("fan-out to %d subs, 64 B, deliveries/s", p.Key.Subs), p, "")
	}
	lat := Select(pts, GroupLatency, P99)
	if len(lat) > 0 {
		p := lat[len(lat)/2]
		row(fmt.Sprintf("p99 latency at %s msgs/s offered, µs (lower is better)", Num(p.Key.Rate)), p, "")
	}
	logs := Select(pts, GroupLogs, RecordsPerSec)
	if u, ok := s.IsUnavailable("logs"); ok && len(logs) == 0 {
		fmt.Fprintf(&b, "| log shipping, records/s | not available in this build (%s) | — | — |\n", shortWhy(u))
	} else if len(logs) > 0 {
		best := logs[0]
		for _, p := range logs {
			if p.Weir > best.Weir {
				best = p
			}
		}
		row(fmt.Sprintf("log shipping, records/s (best: %s, batch %d)", best.Key.Codec, best.Key.Batch), best, "")
	}
	store := Select(pts, GroupStore, PutsPerSec)
	if u, ok := s.IsUnavailable("store"); ok && len(store) == 0 {
		fmt.Fprintf(&b, "| store puts/s, master + clones | not available in this build (%s) | — | — |\n", shortWhy(u))
	} else if len(store) > 0 {
		row("store puts/s, master + clones", store[0], "")
	}
	return b.String()
}

// shortWhy names the missing piece: the What's parenthesis, "weir-bench
// logs" for "logs (weir-bench logs)".
func shortWhy(u Unavailable) string {
	if i := strings.IndexByte(u.What, '('); i >= 0 {
		return "no " + strings.TrimSuffix(u.What[i+1:], ")")
	}
	return u.What
}

func peerCell(p Point, unit string) string {
	if p.PeerN == 0 {
		return "—"
	}
	return Num(p.Peer) + unit
}

func writeGroups(b *strings.Builder, s *Suite, pts []Point) {
	// Throughput vs size.
	if ps := Select(pts, GroupPubSub, MsgsPerSec); len(ps) > 0 {
		b.WriteString("\n## Throughput vs message size (msgs/s delivered)\n\n")
		b.WriteString("| size | weir direct | weir relay | NATS relay | relay weir/NATS | weir relay MB/s | CPU ns/msg weir relay | CPU ns/msg NATS | CPU ns/msg weir direct |\n")
		b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, size := range sizes(ps) {
			d, _ := Find(pts, Key{Group: GroupPubSub, Scenario: "direct", Size: size}, MsgsPerSec)
			r, _ := Find(pts, Key{Group: GroupPubSub, Scenario: "relay", Size: size}, MsgsPerSec)
			mb, _ := Find(pts, Key{Group: GroupPubSub, Scenario: "relay", Size: size}, MBPerSec)
			cr, _ := Find(pts, Key{Group: GroupPubSub, Scenario: "relay", Size: size}, CPUNsPerMsg)
			cd, _ := Find(pts, Key{Group: GroupPubSub, Scenario: "direct", Size: size}, CPUNsPerMsg)
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", SizeLabel(size), Num(d.Weir), Num(r.Weir), Num(r.Peer),
				Ratio(r.Ratio()), Num(mb.Weir), Num(cr.Weir), Num(cr.Peer), Num(cd.Weir))
		}
		b.WriteString("\nCPU ns/msg: user + system CPU of every process of the run (weir: publisher, relay, subscriber and\n" +
			"the bench parent; NATS: nats-server and the `nats bench` clients), divided by the messages published.\n")
	}
	if ps := Select(pts, GroupFanout, MsgsPerSec); len(ps) > 0 {
		b.WriteString("\n## Fan-out: pub → relay/server → N subs, 64 B (aggregate deliveries/s)\n\n")
		b.WriteString("| subs | weir | NATS | weir/NATS | weir per sub | NATS per sub | CPU ns/delivery weir | CPU ns/delivery NATS |\n")
		b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, p := range ps {
			per, _ := Find(pts, p.Key, PerSubMsgsPerSec)
			c, _ := Find(pts, p.Key, CPUNsPerDelivery)
			fmt.Fprintf(b, "| %d | %s | %s | %s | %s | %s | %s | %s |\n", p.Key.Subs, Num(p.Weir), Num(p.Peer), Ratio(p.Ratio()),
				Num(per.Weir), Num(per.Peer), Num(c.Weir), Num(c.Peer))
		}
	}
	if ps := Select(pts, GroupLatency, P50); len(ps) > 0 {
		b.WriteString("\n## Latency at fixed offered rates, 64 B, pub → relay/server → sub (µs)\n\n")
		b.WriteString("| offered msgs/s | system | achieved msgs/s | p50 | p90 | p99 | p99.9 |\n|---:|---|---:|---:|---:|---:|---:|\n")
		for _, p := range ps {
			for _, sys := range []string{Weir, NATS} {
				val := func(metric string) string {
					q, _ := Find(pts, p.Key, metric)
					if sys == Weir {
						return Num(q.Weir)
					}
					return Num(q.Peer)
				}
				if (sys == Weir && p.WeirN == 0) || (sys == NATS && p.PeerN == 0) {
					continue
				}
				fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", Num(p.Key.Rate), sys, val(AchievedRate), val(P50), val(P90), val(P99), val(P999))
			}
		}
		b.WriteString("\nweir: one-way latency from the send timestamp in each payload (HdrHistogram); NATS: `nats latency`\n" +
			"(its own pacing and histogram). Comparable in intent, not identical tools.\n")
	}
	writeGeneric(b, s, pts, GroupLogs, "Log shipping (`weir-bench logs`)")
	writeGeneric(b, s, pts, GroupStore, "Stores (`weir-bench store`)")
}

// writeGeneric writes a group whose metrics are whatever the tool
// reported: one row per point, one column per metric.
func writeGeneric(b *strings.Builder, s *Suite, pts []Point, group, title string) {
	var keys []Key
	var metrics []string
	for _, p := range pts {
		if p.Key.Group != group {
			continue
		}
		if !slices.Contains(keys, p.Key) {
			keys = append(keys, p.Key)
		}
		if !slices.Contains(metrics, p.Metric) {
			metrics = append(metrics, p.Metric)
		}
	}
	fmt.Fprintf(b, "\n## %s\n\n", title)
	if len(keys) == 0 {
		if u, ok := s.IsUnavailable(group); ok {
			fmt.Fprintf(b, "Not available in this build: %s\n", u.Why)
		} else {
			b.WriteString("No clean run.\n")
		}
		return
	}
	slices.Sort(metrics)
	fmt.Fprintf(b, "| point | %s |\n|---|%s\n", strings.Join(metrics, " | "), strings.Repeat("---:|", len(metrics)))
	for _, k := range keys {
		cells := make([]string, len(metrics))
		for i, m := range metrics {
			p, _ := Find(pts, k, m)
			cells[i] = Num(p.Weir)
		}
		fmt.Fprintf(b, "| %s | %s |\n", strings.TrimPrefix(k.String(), group+" "), strings.Join(cells, " | "))
	}
}

func writeMicro(b *strings.Builder, s *Suite) {
	if len(s.Micro) == 0 {
		return
	}
	b.WriteString("\n## Micro-benchmarks (median of samples, ± largest deviation)\n\n")
	b.WriteString("| benchmark | ns/op | ± | B/op | allocs/op | other | n |\n|---|---:|---:|---:|---:|---|---:|\n")
	for _, bm := range s.Micro {
		ns := bm.Values["ns/op"]
		var other []string
		units := make([]string, 0, len(bm.Values))
		for u := range bm.Values {
			units = append(units, u)
		}
		slices.Sort(units)
		for _, u := range units {
			if u != "ns/op" && u != "B/op" && u != "allocs/op" {
				other = append(other, Num(stats.Median(bm.Values[u]))+" "+u)
			}
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %d |\n", bm.ID(), Num(stats.Median(ns)),
			fmt.Sprintf("%.0f%%", 100*stats.Spread(ns)), Num(stats.Median(bm.Values["B/op"])),
			Num(stats.Median(bm.Values["allocs/op"])), strings.Join(other, ", "), len(ns))
	}
}

// sizes returns the distinct sizes of pts, ascending.
func sizes(pts []Point) []int {
	var out []int
	for _, p := range pts {
		if !slices.Contains(out, p.Key.Size) {
			out = append(out, p.Key.Size)
		}
	}
	slices.Sort(out)
	return out
}
