package suite

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirio/weir/perf/internal/plots"
	"github.com/weirio/weir/perf/internal/results"
	"github.com/weirio/weir/perf/internal/results/resultstest"
)

func TestWriteReport(t *testing.T) {
	dir := t.TempDir()
	if err := WriteReport(dir, resultstest.Suite(1, false)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{results.JSONFile, results.SamplesCSV, results.SummaryCSV, results.MicroCSV, results.MarkdownMD} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, f := range plots.Files {
		if _, err := os.Stat(filepath.Join(dir, results.PlotsSubdir, f)); err != nil {
			t.Error(err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, results.MarkdownMD))
	for _, want := range []string{"## Headline", "![throughput](plots/throughput.svg)", "## Scaling beyond one machine, on paper",
		"logsink micro-benchmarks"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("results.md lacks %q", want)
		}
	}
	// The report can be redrawn from what it saved.
	s, err := results.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteReport(dir, s); err != nil {
		t.Fatal(err)
	}
}

func TestUntarRejectsEscapes(t *testing.T) {
	// exportHEAD's extraction must not write outside its directory.
	if err := untar(strings.NewReader(tarWith(t, "../evil", "x")), t.TempDir()); err == nil {
		t.Error("an entry leaving the directory was extracted")
	}
	dir := t.TempDir()
	if err := untar(strings.NewReader(tarWith(t, "a/b.txt", "hello")), dir); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "a", "b.txt")); err != nil || string(b) != "hello" {
		t.Errorf("extracted %q, %v", b, err)
	}
}
