package suite

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/weirio/weir/perf/internal/plots"
	"github.com/weirio/weir/perf/internal/results"
	"github.com/weirio/weir/perf/internal/scaling"
)

// WriteReport writes everything a run directory holds: results.json and
// the CSV files, the plots under plots/, and results.md (tables, plots,
// scaling estimate). It can be rerun on a loaded Suite to redraw.
func WriteReport(dir string, s *results.Suite) error {
	if err := results.Save(dir, s); err != nil {
		return err
	}
	if err := plots.Draw(s, filepath.Join(dir, results.PlotsSubdir)); err != nil {
		return err
	}
	var b strings.Builder
	if err := results.WriteMarkdown(&b, s); err != nil {
		return err
	}
	b.WriteString("\n## Plots\n\n")
	for _, f := range plots.Files {
		fmt.Fprintf(&b, "![%s](%s/%s)\n", strings.TrimSuffix(f, ".svg"), results.PlotsSubdir, f)
	}
	b.WriteString(scaling.Markdown(s, scaling.DefaultCluster))
	if err := os.WriteFile(filepath.Join(dir, results.MarkdownMD), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("cannot write %s: %w", results.MarkdownMD, err)
	}
	return nil
}
