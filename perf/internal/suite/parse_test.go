package suite

import (
	"archive/tar"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/weirio/weir/perf/internal/results"
)

const weirJSON = `{
  "scenario": "fanout", "size": 64, "msgs": 2000000, "pubs": 1, "subs": 4, "rate": 0,
  "sub": {"expected": 8000000, "received": 8000000, "lost": 0, "duplicates": 0, "reordered": 0, "bad": 0,
          "msgs_per_sec": 3445651.5, "mb_per_sec": 220.5, "per_sub_msgs_per_sec": 862108.75},
  "pub": {"sent": 2000000, "msgs_per_sec": 867165.9, "mb_per_sec": 55.5, "dropped": 0, "errors": 0, "window_timeouts": 0},
  "latency": {"count": 8000000, "p50_us": 7229.4, "p90_us": 13983.7, "p99_us": 23363.5, "p99_9_us": 31473.6,
              "max_us": 39780.3, "mean_us": 8031.5},
  "relay": {"received": 2001961, "forwarded": 8001964, "duplicates": 0, "dropped": 0},
  "sub_results": [], "pub_results": []
}`

func TestParseWeirPubSub(t *testing.T) {
	m, err := parseWeirPubSub([]byte(weirJSON), 4)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		results.MsgsPerSec: 3445651.5, results.PerSubMsgsPerSec: 862108.75, results.MBPerSec: 220.5,
		results.P50: 7229.4, results.P999: 31473.6, "cpu_sec": 4,
		results.CPUNsPerMsg: 2000, results.CPUNsPerDelivery: 500, "lost": 0, "dropped": 0,
	}
	for k, v := range want {
		if math.Abs(m[k]-v) > 1e-9 {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}

	unclean := strings.Replace(weirJSON, `"dropped": 0}`, `"dropped": 7}`, 1)
	m, err = parseWeirPubSub([]byte(unclean), 1)
	if err == nil || m == nil || m["dropped"] != 7 || !strings.Contains(err.Error(), "dropped 7") {
		t.Errorf("relay drops: metrics %v, err %v", m, err)
	}
	if m, err := parseWeirPubSub([]byte("weir-bench: cannot listen"), 1); err == nil || m != nil {
		t.Errorf("garbage: %v, %v", m, err)
	}
	if _, err := parseWeirPubSub([]byte(`{"sub": {}, "pub": {}}`), 1); err == nil {
		t.Error("empty report accepted")
	}
}

func TestParseNATSBenchSub(t *testing.T) {
	one := `05:17:41 Starting Core NATS subscriber benchmark [clients=1, msg-size=1.0 KiB, msgs=1,000,000]
05:17:41 [1] Starting Core NATS subscriber, expecting 1,000,000 messages

NATS Core NATS subscriber stats: 178,236 msgs/sec ~ 174 MiB/sec
`
	r, err := parseNATSBenchSub(one)
	if err != nil || r.MsgsPerSec != 178236 || r.PerSubMsgsPerSec != 178236 {
		t.Errorf("one client: %+v, %v", r, err)
	}
	four := `  [1] 67,612 msgs/sec ~ 4.1 MiB/sec (2,000,000 msgs)
  [2] 62,127 msgs/sec ~ 3.8 MiB/sec (2,000,000 msgs)

 NATS Core NATS subscriber aggregated stats: 244,754 msgs/sec ~ 15 MiB/sec
 message rates min 61,208 | avg 63,185 | max 67,612 | stddev 2,576 msgs
`
	r, err = parseNATSBenchSub(four)
	if err != nil || r.MsgsPerSec != 244754 || r.PerSubMsgsPerSec != 63185 {
		t.Errorf("four clients: %+v, %v", r, err)
	}
	if _, err := parseNATSBenchSub("nats: error: no servers available"); err == nil {
		t.Error("error output accepted")
	}
}

func TestParseNATSLatency(t *testing.T) {
	out := `05:36:18 Message Payload: 64B
05:36:18 Target Msgs/Sec: 100000
05:36:24 HDR Percentiles:
05:36:24 10:       1.438ms
05:36:24 50:       244.128ms
05:36:24 75:       385.669ms
05:36:24 90:       660.348ms
05:36:24 99:       2.473869s
05:36:24 99.9:     2.79724s
05:36:24 99.99:    2.797322s
05:36:24 100:      54µs
05:36:24 Actual Msgs/Sec: 88204
`
	l, err := parseNATSLatency(out)
	if err != nil {
		t.Fatal(err)
	}
	if l.P50 != 244128 || l.P90 != 660348 || l.P99 != 2473869 || l.P999 != 2797240 || l.ActualRate != 88204 {
		t.Errorf("got %+v", l)
	}
	if _, err := parseNATSLatency("05:36:24 50:       244.128ms\n"); err == nil {
		t.Error("missing percentiles accepted")
	}
}

func TestFlattenJSON(t *testing.T) {
	nums, strs, err := flattenJSON([]byte(`{"records":1000,"records_per_sec":2.5e5,"codec":"s2","ok":true,
		"lat":{"p50_us":12},"list":[1,2]}`))
	if err != nil {
		t.Fatal(err)
	}
	if nums["records"] != 1000 || nums["records_per_sec"] != 250000 || nums["ok"] != 1 || nums["lat.p50_us"] != 12 || len(nums) != 4 {
		t.Errorf("numbers %v", nums)
	}
	if strs["codec"] != "s2" {
		t.Errorf("strings %v", strs)
	}
	if _, _, err := flattenJSON([]byte("usage: weir-bench pubsub [flags]")); err == nil {
		t.Error("usage text accepted")
	}
	if err := checkLogs(map[string]float64{"records_per_sec": 10, "lost": 1}); err == nil {
		t.Error("lost records accepted")
	}
	if err := checkLogs(map[string]float64{"records_per_sec": 10}); err != nil {
		t.Error(err)
	}
}

func TestHasSubcommand(t *testing.T) {
	old := "usage: weir-bench pubsub [flags]\n\nPublish/subscribe throughput\n"
	if hasSubcommand(old, "records", "codec") {
		t.Error("the pubsub-only usage counts as having logs")
	}
	help := "Usage of weir-bench logs:\n  -batch int\n  -codec string\n  -records int\n"
	if !hasSubcommand(help, "records", "codec", "batch") {
		t.Error("logs help not recognized")
	}
}

func TestParseProcAndMachine(t *testing.T) {
	stat := "1234 (nats server) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 8 0 100 0 0"
	d, err := parseStatCPU(stat)
	if err != nil || d != 3250*time.Millisecond {
		t.Errorf("stat: %v, %v", d, err)
	}
	if _, err := parseStatCPU("garbage"); err == nil {
		t.Error("garbage stat accepted")
	}
	model, cores := parseCPUInfo("processor\t: 0\nmodel name\t: AMD EPYC\n\nprocessor\t: 1\nmodel name\t: AMD EPYC\n", 9)
	if model != "AMD EPYC" || cores != 2 {
		t.Errorf("cpuinfo: %q %d", model, cores)
	}
	if mem := parseMemTotal("MemTotal:       24576000 kB\nMemFree: 1 kB\n"); mem != 24576000*1024 {
		t.Errorf("meminfo: %d", mem)
	}
}

func TestOptionsAndPlans(t *testing.T) {
	o := Options{Root: "/r", Quick: true}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil || o.Runs != 1 || o.ResultsDir != "/r/perf/results" || !o.wants("logs") {
		t.Errorf("quick defaults: %+v, %v", o, err)
	}
	bad := Options{Root: "/r", Only: []string{"pubsub", "nope"}}
	bad.EnsureDefaults()
	if err := bad.Validate(); err == nil {
		t.Error("unknown part accepted")
	}
	q, f := PlanFor(true), PlanFor(false)
	if len(q.Sizes) != 6 || len(q.FanoutSubs) != 3 || len(q.Rates) < 2 || len(q.LogBatches)*len(q.LogCodecs) != 6 {
		t.Errorf("quick plan misses points: %+v", q)
	}
	for _, size := range q.Sizes {
		if q.Msgs(size) >= f.Msgs(size) {
			t.Errorf("size %d: quick sends %d, full %d", size, q.Msgs(size), f.Msgs(size))
		}
	}
}

func TestUniqueDir(t *testing.T) {
	parent := t.TempDir()
	a, err := uniqueDir(parent, "2026-11-26-abc")
	if err != nil {
		t.Fatal(err)
	}
	b, err := uniqueDir(parent, "2026-11-26-abc")
	if err != nil || b != a+"-2" {
		t.Errorf("second dir %q (%v), want %q", b, err, a+"-2")
	}
}

// tarWith returns a tar archive with one regular file.
func tarWith(t *testing.T, name, body string) string {
	t.Helper()
	var b strings.Builder
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
