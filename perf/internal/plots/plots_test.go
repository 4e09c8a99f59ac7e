package plots

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weirio/weir/perf/internal/results/resultstest"
)

// svgInfo parses an SVG file fully and returns its root element's name
// and every text it draws.
func svgInfo(t *testing.T, path string) (root string, texts string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	var sb strings.Builder
	inText := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", path, err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
			inText = tok.Name.Local == "text"
		case xml.CharData:
			if inText {
				sb.Write(tok)
				sb.WriteByte('|')
			}
		case xml.EndElement:
			inText = false
		}
	}
	return root, sb.String()
}

func TestDraw(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "plots")
	if err := Draw(resultstest.Suite(1, true), dir); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"throughput.svg": {"Throughput vs message size", "16 KiB", "weir relay", "NATS", "quick run"},
		"latency.svg":    {"weir p99", "NATS p50", "200k"},
		"fanout.svg":     {"subscribers", "16"},
		"logs.svg":       {"weir, s2", "weir, zstd", "1600"},
	}
	for _, f := range Files {
		root, texts := svgInfo(t, filepath.Join(dir, f))
		if root != "svg" {
			t.Errorf("%s: root element %q", f, root)
		}
		for _, w := range want[f] {
			if !strings.Contains(texts, w) {
				t.Errorf("%s lacks text %q; has %s", f, w, texts)
			}
		}
	}
}

func TestDrawWithoutData(t *testing.T) {
	dir := t.TempDir()
	s := resultstest.Suite(1, false)
	s.Samples = nil
	if err := Draw(s, dir); err != nil {
		t.Fatal(err)
	}
	_, texts := svgInfo(t, filepath.Join(dir, "logs.svg"))
	if !strings.Contains(texts, "not available in this build") {
		t.Errorf("logs plot does not say why it is empty: %s", texts)
	}
	_, texts = svgInfo(t, filepath.Join(dir, "throughput.svg"))
	if !strings.Contains(texts, "no pub/sub data") {
		t.Errorf("throughput plot does not say why it is empty: %s", texts)
	}
}

func TestLogTicks(t *testing.T) {
	var labels []string
	for _, tk := range (logTicks{}).Ticks(30_000, 2_500_000) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
		if tk.Value < 30_000*0.999 || tk.Value > 2_500_000*1.001 {
			t.Errorf("tick %v outside the range", tk.Value)
		}
	}
	if got := strings.Join(labels, " "); got != "50k 100k 200k 500k 1M 2M" {
		t.Errorf("labels %q", got)
	}
	if short(1500) != "1.5k" || short(64) != "64" {
		t.Errorf("short: %q %q", short(1500), short(64))
	}
}
