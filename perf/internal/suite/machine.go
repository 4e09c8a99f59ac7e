package suite

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"github.com/weirio/weir/perf/internal/results"
)

// readMachine describes this host from /proc; fields it cannot read stay
// empty (or runtime's view, for the core count).
func readMachine() results.Machine {
	m := results.Machine{Cores: runtime.NumCPU()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel, m.Cores = parseCPUInfo(string(b), m.Cores)
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemBytes = parseMemTotal(string(b))
	}
	return m
}

// parseCPUInfo returns the first "model name" and the number of
// "processor" entries (fallback when there are none).
func parseCPUInfo(s string, fallback int) (model string, cores int) {
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "processor":
			cores++
		case "model name":
			if model == "" {
				model = strings.TrimSpace(v)
			}
		}
	}
	if cores == 0 {
		cores = fallback
	}
	return model, cores
}

// parseMemTotal returns MemTotal from /proc/meminfo in bytes.
func parseMemTotal(s string) uint64 {
	for line := range strings.Lines(s) {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// loadAvg returns the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// gitInfo returns HEAD's hash, its short form, and whether the work tree
// has uncommitted changes; "unknown" when git cannot tell.
func gitInfo(ctx context.Context, root string) (commit, short string, dirty bool) {
	git := func(args ...string) string {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = root
		out, err := cmd.Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	commit, short = git("rev-parse", "HEAD"), git("rev-parse", "--short", "HEAD")
	if commit == "" {
		return "unknown", "unknown", false
	}
	return commit, short, git("status", "--porcelain", "--untracked-files=no") != ""
}
