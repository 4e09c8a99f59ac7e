package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Peer versions, pinned as perf/pubsub.sh pins them.
const (
	natsServerModule = "github.com/nats-io/nats-server/v2@v2.15.2"
	natsServerVer    = "v2.15.2"
	natsCLIModule    = "github.com/nats-io/natscli/nats@v0.5.0"
	natsCLIVer       = "v0.5.0"
)

// natsServer is a nats-server this suite started on 127.0.0.1.
type natsServer struct {
	cmd    *exec.Cmd
	URL    string // nats://127.0.0.1:PORT
	MonURL string // http://127.0.0.1:PORT
	done   chan struct{}
}

// startNATS starts nats-server on random loopback ports and waits for its
// ports file.
func startNATS(ctx context.Context, bin, dir string) (*natsServer, error) {
	portsDir := filepath.Join(dir, "nats-ports")
	if err := os.MkdirAll(portsDir, 0o755); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "nats-server.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", "-1", "-m", "-1", "--ports_file_dir", portsDir)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("cannot start nats-server: %w", err)
	}
	s := &natsServer{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(s.done)
	}()
	ports := filepath.Join(portsDir, fmt.Sprintf("nats-server_%d.ports", cmd.Process.Pid))
	for range 100 {
		if b, err := os.ReadFile(ports); err == nil {
			var p struct {
				Nats       []string `json:"nats"`
				Monitoring []string `json:"monitoring"`
			}
			if json.Unmarshal(b, &p) == nil && len(p.Nats) > 0 && len(p.Monitoring) > 0 {
				s.URL, s.MonURL = p.Nats[0], p.Monitoring[0]
				return s, nil
			}
		}
		select {
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-s.done:
			return nil, errors.New("nats-server exited at start (see nats-server.log)")
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.stop()
	return nil, errors.New("nats-server wrote no ports file within 10 s")
}

// stop ends the server this suite started (by its pid) and waits for it.
func (s *natsServer) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// cpu is the server's CPU time so far.
func (s *natsServer) cpu() time.Duration {
	d, _ := procCPU(s.cmd.Process.Pid)
	return d
}

// subscriptions returns how many subscriptions on subject the server has.
func (s *natsServer) subscriptions(ctx context.Context, subject string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.MonURL+"/connz?subs=1", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	var c struct {
		Connections []struct {
			Subs []string `json:"subscriptions_list"`
		} `json:"connections"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		return 0, err
	}
	n := 0
	for _, conn := range c.Connections {
		for _, sub := range conn.Subs {
			if sub == subject {
				n++
			}
		}
	}
	return n, nil
}

// natsBenchOut is what `nats bench sub` printed that the suite reads.
type natsBenchOut struct {
	MsgsPerSec       float64 // aggregate over subscribers
	PerSubMsgsPerSec float64 // mean of the subscribers' own rates
}

var (
	reSubStats = regexp.MustCompile(`subscriber (?:aggregated )?stats: ([\d,.]+) msgs/sec`)
	reSubAvg   = regexp.MustCompile(`message rates min [\d,.]+ \| avg ([\d,.]+)`)
)

// parseNATSBenchSub reads the subscriber side of `nats bench` (natscli
// v0.5.0): one client prints "subscriber stats: N msgs/sec", several print
// "subscriber aggregated stats: N msgs/sec" and "message rates min A | avg
// B | ...".
func parseNATSBenchSub(out string) (natsBenchOut, error) {
	m := reSubStats.FindStringSubmatch(out)
	if m == nil {
		return natsBenchOut{}, errors.New("no subscriber stats line in nats bench output")
	}
	r := natsBenchOut{MsgsPerSec: parseNum(m[1])}
	r.PerSubMsgsPerSec = r.MsgsPerSec
	if a := reSubAvg.FindStringSubmatch(out); a != nil {
		r.PerSubMsgsPerSec = parseNum(a[1])
	}
	return r, nil
}

// natsLatency is what `nats latency` printed that the suite reads.
type natsLatency struct {
	P50, P90, P99, P999 float64 // µs
	ActualRate          float64 // msgs/s
}

var (
	reLatPct    = regexp.MustCompile(`(?m)^(?:\S+ )?\s*(50|90|99|99\.9):\s+(\S+)\s*$`)
	reLatActual = regexp.MustCompile(`Actual Msgs/Sec:\s+([\d,.]+)`)
)

// parseNATSLatency reads `nats latency` output: "HDR Percentiles" lines
// such as "05:36:24 50:       244.128ms" and "Actual Msgs/Sec: 88204".
func parseNATSLatency(out string) (natsLatency, error) {
	var r natsLatency
	found := 0
	for _, m := range reLatPct.FindAllStringSubmatch(out, -1) {
		d, err := time.ParseDuration(m[2])
		if err != nil {
			return r, fmt.Errorf("nats latency percentile %s: %w", m[1], err)
		}
		us := float64(d) / 1e3
		switch m[1] {
		case "50":
			r.P50 = us
		case "90":
			r.P90 = us
		case "99":
			r.P99 = us
		case "99.9":
			r.P999 = us
		}
		found++
	}
	if found < 4 {
		return r, errors.New("nats latency output lacks the 50/90/99/99.9 percentiles")
	}
	if m := reLatActual.FindStringSubmatch(out); m != nil {
		r.ActualRate = parseNum(m[1])
	}
	return r, nil
}

func parseNum(s string) float64 {
	f, _ := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
	return f
}

// toolVersion returns the first line of `bin --version` (or "" if it
// cannot run).
func toolVersion(ctx context.Context, bin string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(bytes.TrimSpace(out)), "\n")
	return line
}
