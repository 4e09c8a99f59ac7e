package suite

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// Groups of work Run can be limited to (Options.Only).
var allParts = []string{"pubsub", "fanout", "latency", "micro", "logs", "store"}

// Options configures a run. Zero fields take the defaults in their
// comments (EnsureDefaults).
type Options struct {
	// Root is the repository root. Required.
	Root string
	// Quick selects the short plan (about 3 minutes on a 2-core VM)
	// instead of the full one (about 30).
	Quick bool
	// Runs repeats every scenario point, weir and peer interleaved.
	// Default 1 quick, 3 full.
	Runs int
	// WorkTree measures the work tree as it is; by default the run
	// measures a clean export of HEAD (in the scratch dir), so that the
	// recorded commit is exactly what ran even while files are being
	// edited.
	WorkTree bool
	// Only limits the run to these parts (pubsub, fanout, latency, micro,
	// logs, store). Default all.
	Only []string
	// ResultsDir is where run directories are created. Default
	// Root/perf/results.
	ResultsDir string
	// ScratchDir receives the tools' raw output. Default
	// Root/perf/scratch/<run directory name>.
	ScratchDir string
	// BinDir holds nats-server, nats and weir-bench. Default Root/perf/.bin.
	BinDir string
	// Command is recorded as the command line. Default os.Args.
	Command string
	// Log receives progress lines. Default os.Stderr.
	Log io.Writer
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// EnsureDefaults fills zero fields.
func (o *Options) EnsureDefaults() {
	if o.Runs == 0 {
		o.Runs = 3
		if o.Quick {
			o.Runs = 1
		}
	}
	if len(o.Only) == 0 {
		o.Only = allParts
	}
	if o.ResultsDir == "" {
		o.ResultsDir = o.Root + "/perf/results"
	}
	if o.BinDir == "" {
		o.BinDir = o.Root + "/perf/.bin"
	}
	if o.Command == "" {
		o.Command = fmt.Sprint(os.Args)
	}
	if o.Log == nil {
		o.Log = os.Stderr
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Validate reports options that cannot run.
func (o *Options) Validate() error {
	var errs []error
	if o.Root == "" {
		errs = append(errs, errors.New("perf: no repository root"))
	}
	if o.Runs < 1 || o.Runs > 20 {
		errs = append(errs, fmt.Errorf("perf: runs %d out of range [1, 20]", o.Runs))
	}
	for _, p := range o.Only {
		if !slices.Contains(allParts, p) {
			errs = append(errs, fmt.Errorf("perf: unknown part %q (want %v)", p, allParts))
		}
	}
	return errors.Join(errs...)
}

func (o *Options) wants(part string) bool { return slices.Contains(o.Only, part) }

// Plan is what a run measures and how long each measurement is.
type Plan struct {
	Sizes []int // pub/sub payload sizes; below weirMinPayload only NATS runs
	// Msgs returns the messages per pub/sub run at a size.
	Msgs        func(size int) uint64
	FanoutSubs  []int
	FanoutMsgs  uint64
	FanoutSize  int
	LatencySize int
	Rates       []float64 // offered msgs/s for the latency points
	LatencySecs int

	Micro []MicroSpec

	LogBatches []int
	LogCodecs  []string
	LogRecords int
	LogWorkers int
	LogLoggers int

	StoreClones int
	StoreOps    int

	// RunTimeout bounds one tool invocation; NATSWait bounds how long NATS
	// subscribers may lag the publisher before the run counts as failed.
	RunTimeout time.Duration
	NATSWait   time.Duration
}

// MicroSpec is one `go test -bench` invocation.
type MicroSpec struct {
	Pkg       string // "./router/"
	Bench     string // -bench regexp
	Count     int
	Benchtime string
}

// PlanFor returns the quick or the full plan.
func PlanFor(quick bool) Plan {
	p := Plan{
		Sizes:       []int{16, 24, 64, 256, 1024, 16384},
		FanoutSubs:  []int{1, 4, 16},
		FanoutSize:  64,
		LatencySize: 64,
		LogBatches:  []int{100, 400, 1600},
		LogCodecs:   []string{"s2", "zstd"},
		LogWorkers:  2,
		LogLoggers:  1,
		StoreClones: 2,
	}
	frame := "Scan|EncodeData64$|DecodeEvent5|EncodeEvent5"
	// The log pipeline's per-record pieces, which the scaling estimate
	// adds up while weir-bench logs is missing.
	// The names of both generations of logsink's benchmarks (see
	// scaling.Costs).
	logsink := "Codec|BatcherAppend|WriterTSV|CompressBatch|DecompressLogBatch|ParsePayload|ConnWriteViews"
	if quick {
		p.Msgs = func(size int) uint64 {
			switch {
			case size >= 16384:
				return 30_000
			case size >= 1024:
				return 200_000
			}
			return 400_000
		}
		p.FanoutMsgs = 150_000
		p.Rates = []float64{10_000, 50_000, 200_000}
		p.LatencySecs = 3
		p.Micro = []MicroSpec{
			{Pkg: "./frame/", Bench: "Scan|EncodeData64$", Count: 5, Benchtime: "100ms"},
			{Pkg: "./router/", Bench: "Match", Count: 5, Benchtime: "100ms"},
			{Pkg: "./hrw/", Bench: "Pick$", Count: 5, Benchtime: "100ms"},
			{Pkg: "./logsink/", Bench: logsink, Count: 5, Benchtime: "100ms"},
		}
		p.LogRecords = 200_000
		p.StoreOps = 50_000
		p.RunTimeout = 90 * time.Second
		p.NATSWait = 30 * time.Second
		return p
	}
	p.Msgs = func(size int) uint64 {
		switch {
		case size >= 16384:
			return 200_000
		case size >= 1024:
			return 1_000_000
		}
		return 2_000_000
	}
	p.FanoutMsgs = 500_000
	p.Rates = []float64{10_000, 50_000, 100_000, 200_000, 400_000}
	p.LatencySecs = 5
	p.Micro = []MicroSpec{
		{Pkg: "./frame/", Bench: frame, Count: 5, Benchtime: "1s"},
		{Pkg: "./router/", Bench: ".", Count: 5, Benchtime: "1s"},
		{Pkg: "./hrw/", Bench: ".", Count: 5, Benchtime: "1s"},
		{Pkg: "./logsink/", Bench: logsink, Count: 5, Benchtime: "1s"},
	}
	p.LogRecords = 2_000_000
	p.StoreOps = 500_000
	p.RunTimeout = 4 * time.Minute
	p.NATSWait = 90 * time.Second
	return p
}
