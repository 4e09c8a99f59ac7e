package plots

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/weirio/weir/perf/internal/results"
)

// Files Draw writes.
var Files = []string{"throughput.svg", "latency.svg", "fanout.svg", "logs.svg"}

var (
	weirColor  = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	weir2Color = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	natsColor  = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	dashed     = []vg.Length{vg.Points(4), vg.Points(3)}
)

// Draw writes every figure of s into dir (created if needed).
func Draw(s *results.Suite, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot create plot dir: %w", err)
	}
	pts := s.Summarize()
	sub := subtitle(s)
	for name, build := range map[string]func([]results.Point, *results.Suite) (*plot.Plot, error){
		"throughput.svg": throughput, "latency.svg": latency, "fanout.svg": fanout, "logs.svg": logs,
	} {
		p, err := build(pts, s)
		if err != nil {
			return fmt.Errorf("cannot draw %s: %w", name, err)
		}
		p.Title.Text += "\n" + sub
		if err := p.Save(7*vg.Inch, 4.5*vg.Inch, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("cannot save %s: %w", name, err)
		}
	}
	return nil
}

func subtitle(s *results.Suite) string {
	mode := ""
	if s.Meta.Quick {
		mode = ", quick run"
	}
	date := s.Meta.Date
	if len(date) >= 10 {
		date = date[:10]
	}
	return fmt.Sprintf("%s, %s, %d cores%s", date, s.Meta.ShortCommit, s.Meta.Machine.Cores, mode)
}

// series is one line: (x, y) pairs with finite, positive values.
type series struct {
	label string
	col   color.Color
	dash  []vg.Length
	xys   plotter.XYs
}

func (s *series) add(x, y float64) {
	if x > 0 && y > 0 && !math.IsNaN(x) && !math.IsNaN(y) && !math.IsInf(y, 0) {
		s.xys = append(s.xys, plotter.XY{X: x, Y: y})
	}
}

// corner places a legend.
type corner struct{ top, left bool }

var (
	topLeft     = corner{top: true, left: true}
	bottomLeft  = corner{left: true}
	bottomRight = corner{}
)

// newPlot returns a plot with the common look: sans-serif text (closer to
// what SVG viewers substitute than Liberation Serif), a grid, the legend
// in the given corner; logX/logY select log axes with 1-2-5 ticks.
func newPlot(title, xlabel, ylabel string, logX, logY bool, legend corner) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, ts := range []*text.Style{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle,
		&p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		ts.Font.Variant = "Sans"
	}
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.Legend.Top, p.Legend.Left = legend.top, legend.left
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(6), -vg.Points(4)
	if !legend.left {
		p.Legend.XOffs = -vg.Points(6)
	}
	if !legend.top {
		p.Legend.YOffs = vg.Points(4)
	}
	p.Add(plotter.NewGrid())
	if logX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = logTicks{}
	}
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks{}
	}
	return p
}

// logTicks marks 1, 2, …, 9 × 10^k and labels 1, 2 and 5 × 10^k in short
// form ("20k", "1M"); gonum's LogTicks labels only powers of ten, which
// leaves a one-decade axis unlabelled.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for dec := math.Pow10(int(math.Floor(math.Log10(lo)))); dec <= hi; dec *= 10 {
		for i := 1; i <= 9; i++ {
			v := float64(i) * dec
			if v < lo*0.999 || v > hi*1.001 {
				continue
			}
			t := plot.Tick{Value: v}
			if i == 1 || i == 2 || i == 5 {
				t.Label = short(v)
			}
			ts = append(ts, t)
		}
	}
	return ts
}

// short formats a tick value: 500, 2k, 1.5M.
func short(v float64) string {
	for _, u := range []struct {
		div float64
		sfx string
	}{{1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if v >= u.div {
			return strconv.FormatFloat(v/u.div, 'g', 3, 64) + u.sfx
		}
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// padLog widens a log axis beyond its data, so end points and their
// labels are not drawn on the frame.
func padLog(a *plot.Axis) {
	if a.Min > 0 && a.Max > 0 {
		a.Min /= 1.4
		a.Max *= 1.4
	}
}

// addSeries draws each non-empty series as a line with points. It
// reports whether any was drawn.
func addSeries(p *plot.Plot, ss ...*series) (bool, error) {
	drawn := false
	for _, s := range ss {
		if len(s.xys) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(s.xys)
		if err != nil {
			return false, err
		}
		l.Color, pts.Color = s.col, s.col
		l.Dashes = s.dash
		l.Width = vg.Points(1.5)
		pts.Shape = draw.CircleGlyph{}
		p.Add(l, pts)
		p.Legend.Add(s.label, l, pts)
		drawn = true
	}
	return drawn, nil
}

// empty marks a plot that has no data, with the reason in its title and
// fixed axis ranges (a log axis with no data cannot be drawn).
func empty(p *plot.Plot, why string) *plot.Plot {
	p.Title.Text += "\n(" + why + ")"
	p.X.Scale, p.Y.Scale = plot.LinearScale{}, plot.LinearScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.DefaultTicks{}, plot.DefaultTicks{}
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	return p
}

// ticks returns fixed ticks at the given values, labelled by label.
func ticks(vals []float64, label func(float64) string) plot.ConstantTicks {
	var t plot.ConstantTicks
	for _, v := range vals {
		t = append(t, plot.Tick{Value: v, Label: label(v)})
	}
	return t
}

func throughput(pts []results.Point, _ *results.Suite) (*plot.Plot, error) {
	p := newPlot("Throughput vs message size (msgs/s at the subscriber)", "payload size", "msgs/s", true, true, bottomLeft)
	wr := &series{label: "weir relay (pub → relay → sub)", col: weirColor}
	wd := &series{label: "weir direct (pub → sub)", col: weir2Color, dash: dashed}
	nr := &series{label: "NATS (pub → server → sub)", col: natsColor}
	var xs []float64
	for _, pt := range results.Select(pts, results.GroupPubSub, results.MsgsPerSec) {
		x := float64(pt.Key.Size)
		if !slices.Contains(xs, x) {
			xs = append(xs, x)
		}
		switch pt.Key.Scenario {
		case "relay":
			wr.add(x, pt.Weir)
			nr.add(x, pt.Peer)
		case "direct":
			wd.add(x, pt.Weir)
		}
	}
	ok, err := addSeries(p, wr, wd, nr)
	if err != nil || !ok {
		return empty(p, "no pub/sub data in this run"), err
	}
	slices.Sort(xs)
	p.X.Tick.Marker = ticks(xs, func(v float64) string { return results.SizeLabel(int(v)) })
	padLog(&p.X)
	padLog(&p.Y)
	return p, nil
}

func latency(pts []results.Point, _ *results.Suite) (*plot.Plot, error) {
	p := newPlot("Latency vs offered rate, 64 B, pub → relay/server → sub", "offered msgs/s", "latency (µs)", true, true, topLeft)
	var ss []*series
	var xs []float64
	for _, m := range []struct {
		metric, name string
		dash         []vg.Length
	}{{results.P50, "p50", nil}, {results.P99, "p99", dashed}} {
		w := &series{label: "weir " + m.name, col: weirColor, dash: m.dash}
		n := &series{label: "NATS " + m.name, col: natsColor, dash: m.dash}
		for _, pt := range results.Select(pts, results.GroupLatency, m.metric) {
			w.add(pt.Key.Rate, pt.Weir)
			n.add(pt.Key.Rate, pt.Peer)
			if !slices.Contains(xs, pt.Key.Rate) {
				xs = append(xs, pt.Key.Rate)
			}
		}
		ss = append(ss, w, n)
	}
	ok, err := addSeries(p, ss...)
	if err != nil || !ok {
		return empty(p, "no latency data in this run"), err
	}
	slices.Sort(xs)
	p.X.Tick.Marker = ticks(xs, short)
	padLog(&p.X)
	padLog(&p.Y)
	p.Y.Max *= 6 // room for the legend above the highest line
	return p, nil
}

func fanout(pts []results.Point, _ *results.Suite) (*plot.Plot, error) {
	p := newPlot("Fan-out: pub → relay/server → N subs, 64 B", "subscribers", "deliveries/s (aggregate)", true, true, topLeft)
	w := &series{label: "weir", col: weirColor}
	n := &series{label: "NATS", col: natsColor}
	var xs []float64
	for _, pt := range results.Select(pts, results.GroupFanout, results.MsgsPerSec) {
		x := float64(pt.Key.Subs)
		w.add(x, pt.Weir)
		n.add(x, pt.Peer)
		xs = append(xs, x)
	}
	ok, err := addSeries(p, w, n)
	if err != nil || !ok {
		return empty(p, "no fan-out data in this run"), err
	}
	slices.Sort(xs)
	p.X.Tick.Marker = ticks(xs, func(v float64) string { return strconv.Itoa(int(v)) })
	padLog(&p.X)
	padLog(&p.Y)
	return p, nil
}

func logs(pts []results.Point, s *results.Suite) (*plot.Plot, error) {
	p := newPlot("Log shipping: records/s vs batch size and codec", "records per batch", "records/s", true, false, bottomRight)
	byCodec := map[string]*series{}
	var codecs []string
	var xs []float64
	cols := []color.Color{weirColor, weir2Color, natsColor}
	for _, pt := range results.Select(pts, results.GroupLogs, results.RecordsPerSec) {
		c := pt.Key.Codec
		if byCodec[c] == nil {
			byCodec[c] = &series{label: "weir, " + c, col: cols[len(codecs)%len(cols)]}
			codecs = append(codecs, c)
		}
		byCodec[c].add(float64(pt.Key.Batch), pt.Weir)
		if !slices.Contains(xs, float64(pt.Key.Batch)) {
			xs = append(xs, float64(pt.Key.Batch))
		}
	}
	ss := make([]*series, 0, len(codecs))
	for _, c := range codecs {
		ss = append(ss, byCodec[c])
	}
	ok, err := addSeries(p, ss...)
	if err != nil || !ok {
		why := "no log shipping data in this run"
		if _, un := s.IsUnavailable("logs"); un {
			why = "weir-bench logs: not available in this build"
		}
		return empty(p, why), err
	}
	slices.Sort(xs)
	p.X.Tick.Marker = ticks(xs, func(v float64) string { return strconv.Itoa(int(v)) })
	padLog(&p.X)
	p.Y.Min = 0
	return p, nil
}
