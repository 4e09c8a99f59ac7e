package bench

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteText writes a human-readable summary of r.
func WriteText(w io.Writer, r Report) error {
	var b strings.Builder
	rate := "max"
	if r.Rate > 0 {
		rate = num(r.Rate) + " msgs/s"
	}
	fmt.Fprintf(&b, "weir pubsub %s: %d B payloads, %d msgs, %d pub, %d sub, rate %s\n",
		r.Scenario, r.Size, r.Msgs, r.Pubs, r.Subs, rate)
	fmt.Fprintf(&b, "Pub:   %12s msgs/s %9.1f MB/s  sent %d, dropped %d, errors %d\n",
		num(r.Pub.MsgsPerSec), r.Pub.MBPerSec, r.Pub.Sent, r.Pub.Dropped, r.Pub.Errors)
	if r.Relay != nil {
		fmt.Fprintf(&b, "Relay: forwarded %d, dropped %d, duplicates %d\n", r.Relay.Forwarded, r.Relay.Dropped, r.Relay.Duplicates)
	}
	fmt.Fprintf(&b, "Sub:   %12s msgs/s %9.1f MB/s  (aggregate; %s msgs/s per sub)\n",
		num(r.Sub.MsgsPerSec), r.Sub.MBPerSec, num(r.Sub.PerSubMsgsPerSec))
	fmt.Fprintf(&b, "       received %d of %d, lost %d, duplicates %d, reordered %d, bad %d\n",
		r.Sub.Received, r.Sub.Expected, r.Sub.Lost, r.Sub.Duplicates, r.Sub.Reordered, r.Sub.Bad)
	if len(r.SubResults) > 1 {
		for _, s := range r.SubResults {
			fmt.Fprintf(&b, "  [%d] %12s msgs/s %9.1f MB/s  received %d, lost %d\n", s.ID, num(s.MsgsPerSec), s.MBPerSec, s.Received, s.Lost)
		}
	}
	l := r.Latency
	fmt.Fprintf(&b, "Latency (µs): p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (%d samples)\n",
		l.P50, l.P90, l.P99, l.P999, l.Max, l.Count)
	if r.Rate == 0 {
		b.WriteString("       (at max rate latency measures queueing; use --rate or --latency)\n")
	}
	if !r.Clean() {
		b.WriteString("WARNING: messages were lost, duplicated, reordered or dropped\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// num formats a rate with thousands separators.
func num(f float64) string {
	s := strconv.FormatInt(int64(f+0.5), 10)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
