package results

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// File names inside a run directory.
const (
	JSONFile    = "results.json"
	SamplesCSV  = "samples.csv"
	SummaryCSV  = "summary.csv"
	MicroCSV    = "micro.csv"
	MarkdownMD  = "results.md"
	PlotsSubdir = "plots"
)

// Save writes results.json and the three CSV files into dir, which must
// exist. Non-finite metric values (JSON has no NaN) are dropped first.
func Save(dir string, s *Suite) error {
	s.dropNonFinite()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, JSONFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("cannot write results: %w", err)
	}
	for name, write := range map[string]func(io.Writer, *Suite) error{
		SamplesCSV: WriteSamplesCSV, SummaryCSV: WriteSummaryCSV, MicroCSV: WriteMicroCSV,
	} {
		if err := writeFile(filepath.Join(dir, name), func(w io.Writer) error { return write(w, s) }); err != nil {
			return err
		}
	}
	return nil
}

// Load reads a run directory's results.json (or the file itself, when
// path names one).
func Load(path string) (*Suite, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, JSONFile)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot load results: %w", err)
	}
	var s Suite
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("cannot load results from %s: %w", path, err)
	}
	return &s, nil
}

func writeFile(path string, write func(io.Writer) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cannot create %s: %w", path, err)
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	if err := write(f); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}

var keyHeader = []string{"group", "scenario", "size", "subs", "rate", "batch", "codec"}

func keyFields(k Key) []string {
	return []string{k.Group, k.Scenario, itoa0(k.Size), itoa0(k.Subs), ftoa0(k.Rate), itoa0(k.Batch), k.Codec}
}

func itoa0(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func ftoa0(f float64) string {
	if f == 0 {
		return ""
	}
	return ftoa(f)
}

// ftoa formats a value for CSV: shortest exact form, empty for NaN.
func ftoa(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return ""
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// WriteSamplesCSV writes one row per (sample, metric); a failed sample
// gives one row with its error and no metric.
func WriteSamplesCSV(w io.Writer, s *Suite) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(append(slices.Clone(keyHeader), "system", "run", "metric", "value", "error"))
	for _, smp := range s.Samples {
		base := append(keyFields(smp.Key), smp.System, strconv.Itoa(smp.Run))
		if len(smp.Metrics) == 0 {
			_ = cw.Write(append(slices.Clone(base), "", "", smp.Error))
			continue
		}
		names := make([]string, 0, len(smp.Metrics))
		for m := range smp.Metrics {
			names = append(names, m)
		}
		slices.Sort(names)
		for _, m := range names {
			_ = cw.Write(append(slices.Clone(base), m, ftoa(smp.Metrics[m]), smp.Error))
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteSummaryCSV writes one row per summary point.
func WriteSummaryCSV(w io.Writer, s *Suite) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(append(slices.Clone(keyHeader), "metric", "weir", "peer", "weir_over_peer", "weir_runs", "peer_runs"))
	for _, p := range s.Summarize() {
		_ = cw.Write(append(keyFields(p.Key), p.Metric, ftoa(p.Weir), ftoa(p.Peer), ftoa(p.Ratio()),
			strconv.Itoa(p.WeirN), strconv.Itoa(p.PeerN)))
	}
	cw.Flush()
	return cw.Error()
}

// WriteMicroCSV writes one row per micro-benchmark sample and unit.
func WriteMicroCSV(w io.Writer, s *Suite) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"pkg", "benchmark", "unit", "sample", "value"})
	for _, b := range s.Micro {
		units := make([]string, 0, len(b.Values))
		for u := range b.Values {
			units = append(units, u)
		}
		slices.Sort(units)
		for _, u := range units {
			for i, v := range b.Values[u] {
				_ = cw.Write([]string{b.Pkg, b.Name, u, strconv.Itoa(i + 1), ftoa(v)})
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func (s *Suite) dropNonFinite() {
	for _, smp := range s.Samples {
		for m, v := range smp.Metrics {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				delete(smp.Metrics, m)
			}
		}
	}
	for _, b := range s.Micro {
		for u, vs := range b.Values {
			b.Values[u] = slices.DeleteFunc(vs, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) })
		}
	}
}
