package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/weirio/weir/frame"
	"github.com/weirio/weir/internal/connlog"
	"github.com/weirio/weir/logsink"
	"github.com/weirio/weir/node"
)

// LogsConfig configures the log shipping scenario: Workers worker nodes
// (in this process) write conn.log records to Loggers logger nodes (child
// processes, or goroutines with InProcessLoggers), which write files.
type LogsConfig struct {
	Workers, Loggers int
	Writers          int    // writer goroutines per worker; default 1
	Records          uint64 // in total, split over workers
	Codec            frame.Codec
	Batch            int    // records per batch; default 400
	Window           int    // batches unacknowledged per logger; default logsink.DefaultWindow
	Dir              string // logger directories go below it; default a temp dir, removed after
	Keep             bool   // keep Dir
	// KillAt, if in (0, 1), SIGKILLs logger 0 once that fraction of the
	// records is written, and restarts it after RestartAfter on the same
	// address and directory.
	KillAt       float64
	RestartAfter time.Duration
	// Verify reads every output file afterwards and checks that each
	// record id appears exactly once. Always on with KillAt.
	Verify  bool
	Timeout time.Duration
	Log     *slog.Logger
	// Exe is the binary started for logger children ("" runs them in this
	// process, where SIGKILL is not possible).
	Exe string
	// CPUProfile, when set, writes a CPU profile of this process (the
	// workers, and the loggers too when they run in it) from the start of
	// the measured part to the end of the run to CPUProfile-workers.pprof,
	// and makes each logger child profile its whole life to
	// CPUProfile-logger<i>.pprof.
	CPUProfile string
}

// LogsResult is the scenario's outcome.
type LogsResult struct {
	Workers             int     `json:"workers"`
	Loggers             int     `json:"loggers"`
	Records             uint64  `json:"records"`
	Codec               string  `json:"codec"`
	Batch               int     `json:"batch"`
	Seconds             float64 `json:"seconds"`
	RecordsPerSec       float64 `json:"records_per_sec"`
	WireBytesPerRecord  float64 `json:"wire_bytes_per_record"`
	RawBytesPerRecord   float64 `json:"raw_bytes_per_record"`
	FileBytesPerRecord  float64 `json:"file_bytes_per_record"`
	CompressionRatio    float64 `json:"compression_ratio"`
	FileRatio           float64 `json:"file_to_wire_ratio"`
	CPUNsPerRecord      float64 `json:"cpu_ns_per_record"`
	WorkerCPUNsPerRec   float64 `json:"worker_cpu_ns_per_record"`
	LoggerCPUNsPerRec   float64 `json:"logger_cpu_ns_per_record"`
	Dropped             uint64  `json:"dropped"`
	Verified            bool    `json:"verified"`
	Lost                uint64  `json:"lost"`
	Duplicates          uint64  `json:"duplicates"`
	Killed              bool    `json:"killed"`
	RecordsAtKill       uint64  `json:"records_at_kill,omitempty"`
	ResentBatches       uint64  `json:"resent_batches"`   // after ResendAfter without an ack
	ReturnedBatches     uint64  `json:"returned_batches"` // sent again to a logger that came back
	DuplicateAcksLogger uint64  `json:"logger_duplicate_batches"`
}

// Clean reports whether nothing was lost or duplicated.
func (r *LogsResult) Clean() bool { return r.Lost == 0 && r.Duplicates == 0 && r.Dropped == 0 }

// RunLogs runs the scenario.
func RunLogs(ctx context.Context, c LogsConfig) (*LogsResult, error) {
	if c.Workers < 1 || c.Loggers < 1 || c.Records < 1 {
		return nil, errors.New("logs: workers, loggers and records must be positive")
	}
	if c.Writers < 1 {
		c.Writers = 1
	}
	if c.Batch < 1 {
		c.Batch = logsink.DefaultMaxRecords
	}
	if c.Codec == frame.CodecNone {
		c.Codec = logsink.DefaultCodec
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Minute
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if c.KillAt > 0 {
		if c.Exe == "" {
			return nil, errors.New("logs: --kill-at needs logger child processes")
		}
		c.Verify = true
		if c.RestartAfter <= 0 {
			c.RestartAfter = time.Second
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	if c.Dir == "" {
		d, err := os.MkdirTemp("", "weir-bench-logs-")
		if err != nil {
			return nil, err
		}
		c.Dir = d
		if !c.Keep {
			defer os.RemoveAll(d)
		}
	}
	res := &LogsResult{Workers: c.Workers, Loggers: c.Loggers, Records: c.Records, Codec: c.Codec.String(), Batch: c.Batch}

	loggers := make([]*loggerProc, c.Loggers)
	defer func() {
		for _, lp := range loggers {
			if lp != nil {
				lp.kill()
			}
		}
	}()
	for i := range loggers {
		lp, err := startLogger(ctx, c, i, "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		loggers[i] = lp
	}

	workers := make([]*node.Node, c.Workers)
	defer func() {
		for _, w := range workers {
			if w != nil {
				_ = w.Close()
			}
		}
	}()
	for i := range workers {
		opts := node.Options{Name: fmt.Sprintf("worker-%d", i), Role: frame.RoleWorker, Logger: c.Log}
		opts.Logs.Codec = c.Codec
		opts.Logs.Batch.MaxRecords = c.Batch
		opts.Logs.Batch.MaxBytes = max(logsink.DefaultMaxBytes, c.Batch*1024)
		opts.Logs.Ship.Window = c.Window
		w, err := node.New(opts)
		if err != nil {
			return nil, err
		}
		workers[i] = w
		for _, lp := range loggers {
			if err := w.Peer(lp.addr); err != nil {
				return nil, err
			}
		}
	}
	for _, w := range workers {
		if err := waitLoggers(ctx, w, c.Loggers); err != nil {
			return nil, err
		}
	}

	if c.CPUProfile != "" {
		stop, err := startCPUProfile(c.CPUProfile + "-workers.pprof")
		if err != nil {
			return nil, err
		}
		defer stop()
	}
	var written atomic.Uint64
	cpu0 := selfCPU()
	t0 := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, c.Workers*c.Writers)
	per := c.Records / uint64(c.Workers*c.Writers)
	for wi, w := range workers {
		st, err := w.CreateLog(connlog.Schema())
		if err != nil {
			return nil, err
		}
		for k := range c.Writers {
			first := uint64(wi*c.Writers+k) * per
			n := per
			if wi == c.Workers-1 && k == c.Writers-1 {
				n = c.Records - first
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				g := connlog.New(first + 1)
				var rec []frame.Value
				for id := first; id < first+n; id++ {
					rec = g.Next(rec, id)
					if err := st.Write(rec); err != nil {
						errs <- err
						return
					}
					if id&1023 == 0 {
						written.Add(1024)
					}
				}
			}()
		}
	}
	if c.KillAt > 0 {
		at := uint64(float64(c.Records) * c.KillAt)
		for written.Load() < at && ctx.Err() == nil {
			time.Sleep(time.Millisecond) // polling a counter, not synchronizing
		}
		res.Killed, res.RecordsAtKill = true, written.Load()
		addr := loggers[0].addr
		loggers[0].kill()
		select {
		case <-time.After(c.RestartAfter):
		case <-ctx.Done():
		}
		lp, err := startLogger(ctx, c, 0, addr)
		if err != nil {
			return nil, fmt.Errorf("cannot restart logger 0: %w", err)
		}
		loggers[0] = lp
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	for _, w := range workers {
		if err := w.FlushLogs(ctx); err != nil {
			return nil, err
		}
	}
	elapsed := time.Since(t0)
	workerCPU := selfCPU() - cpu0

	var raw, wire uint64
	for _, w := range workers {
		s := w.LogStats()
		raw += s.RawBytes
		wire += s.WireBytes
		res.Dropped += s.Dropped
		res.ResentBatches += s.Ship.Resent
		res.ReturnedBatches += s.Ship.Returned
	}
	var loggerCPU time.Duration
	for i, lp := range loggers {
		st, err := lp.stop()
		loggers[i] = nil
		if err != nil {
			return nil, err
		}
		loggerCPU += st.cpu
		res.DuplicateAcksLogger += st.duplicates
	}
	fileBytes, err := dirLogBytes(c.Dir)
	if err != nil {
		return nil, err
	}
	recs := float64(c.Records)
	res.Seconds = elapsed.Seconds()
	res.RecordsPerSec = recs / elapsed.Seconds()
	res.RawBytesPerRecord = float64(raw) / recs
	res.WireBytesPerRecord = float64(wire) / recs
	res.FileBytesPerRecord = float64(fileBytes) / recs
	if wire > 0 {
		res.CompressionRatio = float64(raw) / float64(wire)
		res.FileRatio = float64(fileBytes) / float64(wire)
	}
	res.WorkerCPUNsPerRec = float64(workerCPU.Nanoseconds()) / recs
	res.LoggerCPUNsPerRec = float64(loggerCPU.Nanoseconds()) / recs
	res.CPUNsPerRecord = res.WorkerCPUNsPerRec + res.LoggerCPUNsPerRec
	if c.Verify {
		lost, dups, err := verifyLogs(c.Dir, c.Records)
		if err != nil {
			return nil, err
		}
		res.Verified, res.Lost, res.Duplicates = true, lost, dups
	}
	return res, nil
}

func waitLoggers(ctx context.Context, w *node.Node, n int) error {
	for {
		up := 0
		for _, p := range w.Peers() {
			if p.Role == frame.RoleLogger {
				up++
			}
		}
		if up >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("logs: %s: only %d of %d loggers connected: %w", w.Name(), up, n, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// loggerProc is a logger child (or an in-process logger node).
type loggerProc struct {
	addr  string
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner
	node  *node.Node // in-process
	owner context.CancelFunc
}

type loggerStats struct {
	cpu        time.Duration
	duplicates uint64
}

func loggerDir(c LogsConfig, i int) string { return filepath.Join(c.Dir, fmt.Sprintf("logger-%d", i)) }

func startLogger(ctx context.Context, c LogsConfig, i int, listen string) (*loggerProc, error) {
	dir := loggerDir(c, i)
	name := fmt.Sprintf("logger-%d", i)
	if c.Exe == "" {
		n, addr, err := StartLoggerNode(name, listen, dir, c.Log)
		if err != nil {
			return nil, err
		}
		return &loggerProc{addr: addr, node: n}, nil
	}
	args := []string{"logs", "--role", "logger", "--name", name, "--listen", listen, "--logdir", dir}
	if c.CPUProfile != "" {
		args = append(args, "--cpuprofile", fmt.Sprintf("%s-logger%d.pprof", c.CPUProfile, i))
	}
	cmd := exec.CommandContext(ctx, c.Exe, args...)
	cmd.Stderr = os.Stderr
	setParentDeath(cmd)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start logger: %w", err)
	}
	lp := &loggerProc{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	// The port may still be held briefly after a kill: the child retries.
	if !lp.out.Scan() {
		lp.kill()
		return nil, fmt.Errorf("logger %d did not start", i)
	}
	line := lp.out.Text()
	addr, ok := strings.CutPrefix(line, "READY ")
	if !ok {
		lp.kill()
		return nil, fmt.Errorf("logger %d: %s", i, line)
	}
	lp.addr = addr
	return lp, nil
}

func (lp *loggerProc) kill() {
	if lp.node != nil {
		_ = lp.node.Close()
		return
	}
	_ = lp.cmd.Process.Signal(syscall.SIGKILL)
	_ = lp.cmd.Wait()
}

// stop ends the logger cleanly and returns its CPU time and counters.
func (lp *loggerProc) stop() (loggerStats, error) {
	var st loggerStats
	if lp.node != nil {
		st.duplicates = lp.node.LogStats().Sink.Duplicates
		return st, lp.node.Close()
	}
	_ = lp.in.Close()
	for lp.out.Scan() {
		if v, ok := strings.CutPrefix(lp.out.Text(), "DUPLICATES "); ok {
			st.duplicates, _ = strconv.ParseUint(v, 10, 64)
		}
	}
	err := lp.cmd.Wait()
	if ps := lp.cmd.ProcessState; ps != nil {
		st.cpu = ps.UserTime() + ps.SystemTime()
	}
	if err != nil {
		return st, fmt.Errorf("logger exited: %w", err)
	}
	return st, nil
}

// StartLoggerNode starts a logger node writing to dir and listening on
// listen (retrying for a few seconds while the address is still in use).
func StartLoggerNode(name, listen, dir string, log *slog.Logger) (*node.Node, string, error) {
	opts := node.Options{Name: name, Role: frame.RoleLogger, Logger: log}
	opts.Logs.Dir = dir
	opts.Logs.Rotate.Interval = -1
	n, err := node.New(opts)
	if err != nil {
		return nil, "", err
	}
	var addr net.Addr
	for try := 0; ; try++ {
		if addr, err = n.Listen(listen); err == nil || try == 100 {
			break
		}
		time.Sleep(50 * time.Millisecond) // waiting for the kernel to free the port
	}
	if err != nil {
		_ = n.Close()
		return nil, "", err
	}
	return n, addr.String(), nil
}

// ServeLogger runs a logger child: it prints "READY <addr>", serves until
// its input ends or ctx is done, then prints its counters and exits.
func ServeLogger(ctx context.Context, name, listen, dir string, in io.Reader, out io.Writer, log *slog.Logger) error {
	n, addr, err := StartLoggerNode(name, listen, dir, log)
	if err != nil {
		fmt.Fprintf(out, "ERROR %v\n", err)
		return err
	}
	fmt.Fprintf(out, "READY %s\n", addr)
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, in)
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	err = n.Close()
	fmt.Fprintf(out, "DUPLICATES %d\n", n.LogStats().Sink.Duplicates)
	return err
}

// dirLogBytes sums the sizes of the log files below dir.
func dirLogBytes(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".log") {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			total += fi.Size()
		}
		return err
	})
	return total, err
}

// verifyLogs reads every conn log file below dir and counts the record ids
// (0..records-1) missing and seen more than once.
func verifyLogs(dir string, records uint64) (lost, dups uint64, err error) {
	seen := make([]uint8, records)
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".log") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		return scanIDs(f, func(id uint64) error {
			if id >= records {
				return fmt.Errorf("%s: record id %d out of range", p, id)
			}
			if seen[id] < 255 {
				seen[id]++
			}
			return nil
		})
	})
	if err != nil {
		return 0, 0, err
	}
	for _, s := range seen {
		switch {
		case s == 0:
			lost++
		case s > 1:
			dups += uint64(s - 1)
		}
	}
	return lost, dups, nil
}

// startCPUProfile starts a CPU profile written to path; stop ends it.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cannot create CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cannot start CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// scanIDs calls fn with the record id of every record of a conn log file
// (TSV: the uid is the second field; JSON lines: the "uid" member).
func scanIDs(r io.Reader, fn func(id uint64) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		var uid string
		if line[0] == '{' {
			_, rest, ok := strings.Cut(string(line), `"uid":"`)
			if !ok {
				return fmt.Errorf("no uid in %q", line)
			}
			uid, _, _ = strings.Cut(rest, `"`)
		} else {
			f := strings.SplitN(string(line), "\t", connlog.ColUID+2)
			if len(f) <= connlog.ColUID {
				return fmt.Errorf("short line %q", line)
			}
			uid = f[connlog.ColUID]
		}
		id, ok := connlog.RecordID(uid)
		if !ok {
			return fmt.Errorf("uid %q is not a record id", uid)
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	return sc.Err()
}
