package plots

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/interp-dev/interp/internal/atomicfile"
)

// Series is one line of a line chart.
type Series struct {
	Name string
	X, Y []float64
}

// Mark is a labelled vertical line on a line chart (e.g. the phase-change step).
type Mark struct {
	X     float64
	Label string
}

// Lines writes a line chart of series to path (.png or .svg).
func Lines(path, title, xlabel, ylabel string, series []Series, marks ...Mark) error {
	p, err := linePlot(path, Panel{Title: title, XLabel: xlabel, YLabel: ylabel, Series: series, Marks: marks}, 250)
	if err != nil {
		return err
	}
	return save(p, path, 7*vg.Inch, 4.5*vg.Inch)
}

// Panel is one line chart of a figure of several (LinePanels).
type Panel struct {
	Title, XLabel, YLabel string
	Series                []Series
	Marks                 []Mark
	// LogX draws the x axis on a log scale (every x must be positive).
	LogX bool
}

// LinePanels writes line charts one above the other to path (.png or .svg), each as Lines draws
// it, 7 x 3.6 inches a panel.
func LinePanels(path string, panels []Panel) error {
	if len(panels) == 0 {
		return fmt.Errorf("plots: %s: no panels", path)
	}
	plots := make([][]*plot.Plot, len(panels))
	for i, pn := range panels {
		p, err := linePlot(path, pn, 180)
		if err != nil {
			return err
		}
		plots[i] = []*plot.Plot{p}
	}
	w, h := 7*vg.Inch, vg.Length(len(panels))*3.6*vg.Inch
	c, err := canvas(path, w, h)
	if err != nil {
		return err
	}
	m := vg.Points(10)
	dc := draw.Crop(draw.New(c), m, -m, m, -m)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadY: vg.Points(14)}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	return writeCanvas(c, path)
}

// linePlot builds one line chart (the plot of Lines); area is the height in points of its
// plotting area, which sets the headroom the legend needs.
func linePlot(path string, pn Panel, area float64) (*plot.Plot, error) {
	title, xlabel, ylabel, series, marks := pn.Title, pn.XLabel, pn.YLabel, pn.Series, pn.Marks
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xlabel, ylabel
	p.Add(plotter.NewGrid())
	if pn.LogX {
		for _, s := range series {
			for _, x := range s.X {
				if !(x > 0) {
					return nil, fmt.Errorf("plots: %s: series %q has x = %g on a log axis", path, s.Name, x)
				}
			}
		}
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = logTicks(series)
	}
	ymin, ymax := math.Inf(1), math.Inf(-1)
	entries := 0 // legend rows
	for i, s := range series {
		if len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("plots: %s: series %q has %d x and %d y values", path, s.Name, len(s.X), len(s.Y))
		}
		pts := make(plotter.XYs, 0, len(s.X))
		for j := range s.X {
			if math.IsNaN(s.Y[j]) || math.IsInf(s.Y[j], 0) {
				continue
			}
			pts = append(pts, plotter.XY{X: s.X[j], Y: s.Y[j]})
			ymin, ymax = math.Min(ymin, s.Y[j]), math.Max(ymax, s.Y[j])
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, fmt.Errorf("plots: %s: series %q: %w", path, s.Name, err)
		}
		l.Color = plotutil.Color(i)
		l.Dashes = plotutil.Dashes(i / len(plotutil.DefaultColors)) // solid first, then dashed
		l.Width = vg.Points(1.5)
		p.Add(l)
		if s.Name != "" {
			p.Legend.Add(s.Name, l)
			entries++
		}
	}
	if ymin > ymax {
		ymin, ymax = 0, 1
	}
	for _, m := range marks {
		l, err := plotter.NewLine(plotter.XYs{{X: m.X, Y: ymin}, {X: m.X, Y: ymax}})
		if err != nil {
			return nil, err
		}
		l.Color = color.Gray{Y: 90}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		if m.Label != "" {
			p.Legend.Add(m.Label, l)
			entries++
		}
	}
	p.Legend.Top = true
	// Headroom above the data for the legend (top right), so it never covers a curve: the legend's
	// rows take about 14 pt each of the plotting area.
	if n := entries; n > 0 && ymax > ymin {
		frac := math.Min((float64(n)*14+12)/area, 0.7)
		p.Y.Min = ymin
		p.Y.Max = ymax + (ymax-ymin)*frac/(1-frac)
	}
	return p, nil
}

// Heatmap writes z [rows][cols] as a heatmap to path (.png or .svg): row 0 at the top, a
// blue-white-red colour map symmetric around 0 and a colour bar. rowLabels and colLabels label
// every row and column (nil: their indices).
func Heatmap(path, title string, z [][]float64, rowLabels, colLabels []string, xlabel, ylabel string) error {
	rows := len(z)
	if rows == 0 || len(z[0]) == 0 {
		return fmt.Errorf("plots: %s: empty heatmap", path)
	}
	cols := len(z[0])
	for r := range z {
		if len(z[r]) != cols {
			return fmt.Errorf("plots: %s: heatmap row %d has %d values, row 0 has %d", path, r, len(z[r]), cols)
		}
	}
	if rowLabels == nil {
		rowLabels = indexLabels(rows)
	}
	if colLabels == nil {
		colLabels = indexLabels(cols)
	}
	if len(rowLabels) != rows || len(colLabels) != cols {
		return fmt.Errorf("plots: %s: %d row labels and %d column labels for a %dx%d heatmap", path, len(rowLabels), len(colLabels), rows, cols)
	}
	limit := 0.0
	for _, row := range z {
		for _, v := range row {
			if !math.IsNaN(v) {
				limit = math.Max(limit, math.Abs(v))
			}
		}
	}
	if limit == 0 {
		limit = 1
	}
	limit = niceCeil(limit) // the colour bar ends on a round number above the largest |value|
	cmap := moreland.SmoothBlueRed()
	cmap.SetMin(-limit)
	cmap.SetMax(limit)
	hm := plotter.NewHeatMap(grid(z), cmap.Palette(255))
	hm.Min, hm.Max = -limit, limit
	hm.NaN = color.Gray{Y: 200}
	pal := cmap.Palette(255).Colors()
	hm.Underflow, hm.Overflow = pal[0], pal[len(pal)-1] // never drop a cell to rounding at the limit

	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xlabel, ylabel
	p.Add(hm)
	p.X.Tick.Marker = labelTicks(colLabels, func(i int) float64 { return float64(i) })
	p.Y.Tick.Marker = labelTicks(rowLabels, func(i int) float64 { return -float64(i) })
	if cols > 12 {
		p.X.Tick.Label.Rotation = math.Pi / 2.5
		p.X.Tick.Label.XAlign = draw.XRight
		p.X.Tick.Label.YAlign = draw.YCenter
	}

	bar := plot.New()
	bar.HideX()
	bar.Y.Padding = 0
	bar.Title.Text = " "
	bar.Add(&plotter.ColorBar{ColorMap: cmap, Vertical: true})

	// Wide enough for the columns and for the title (about 0.08 inch a character).
	w := vg.Length(math.Min(math.Max(math.Max(float64(cols)*0.45+2.5, 5), float64(len(title))*0.08+2), 16)) * vg.Inch
	h := vg.Length(math.Min(math.Max(float64(rows)*0.35+2, 3.5), 14)) * vg.Inch
	c, err := canvas(path, w, h)
	if err != nil {
		return err
	}
	margin := vg.Points(10) // as in save
	dc := draw.Crop(draw.New(c), margin, -margin, margin, -margin)
	w -= 2 * margin
	barW := vg.Inch * 0.9
	left := draw.Crop(dc, 0, -barW, 0, 0)
	right := draw.Crop(dc, w-barW, 0, 0, 0)
	p.Draw(left)
	bar.Draw(right)
	return writeCanvas(c, path)
}

// logTicks are the ticks of a log x axis (gonum's own are too few over a few decades): 1, 2 and 5
// times the powers of ten within the series' x range, or the first series' x values where fewer
// than two of those fall inside.
func logTicks(series []Series) plot.ConstantTicks {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, x := range s.X {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
	}
	var ticks plot.ConstantTicks
	if lo <= hi {
		for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
			for _, m := range []float64{1, 2, 5} {
				// The value as 'g' prints it (m*10^e in float64 is not always the shortest).
				v, _ := strconv.ParseFloat(strconv.FormatFloat(m*math.Pow(10, e), 'g', 6, 64), 64)
				if v >= lo*(1-1e-12) && v <= hi*(1+1e-12) {
					ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
				}
			}
		}
	}
	if len(ticks) >= 2 || len(series) == 0 {
		return ticks
	}
	ticks = ticks[:0]
	for _, x := range series[0].X {
		ticks = append(ticks, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'g', -1, 64)})
	}
	return ticks
}

// niceCeil rounds v > 0 up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*e*(1+1e-12) {
			return m * e
		}
	}
	return 10 * e
}

// Histogram writes a histogram of values with the given number of bins to path.
func Histogram(path, title, xlabel string, values []float64, bins int) error {
	var finite plotter.Values
	for _, v := range values {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			finite = append(finite, v)
		}
	}
	if len(finite) == 0 {
		return fmt.Errorf("plots: %s: no finite values to histogram", path)
	}
	h, err := plotter.NewHist(finite, bins)
	if err != nil {
		return fmt.Errorf("plots: %s: %w", path, err)
	}
	h.FillColor = plotutil.Color(0)
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xlabel, "count"
	p.Add(h)
	return save(p, path, 6*vg.Inch, 4*vg.Inch)
}

// Bars writes a bar chart, one labelled bar per value, to path.
func Bars(path, title, ylabel string, labels []string, values []float64) error {
	if len(labels) != len(values) || len(values) == 0 {
		return fmt.Errorf("plots: %s: %d labels for %d values", path, len(labels), len(values))
	}
	b, err := plotter.NewBarChart(plotter.Values(values), vg.Points(14))
	if err != nil {
		return fmt.Errorf("plots: %s: %w", path, err)
	}
	b.Color = plotutil.Color(0)
	p := plot.New()
	p.Title.Text, p.Y.Label.Text = title, ylabel
	p.Add(b)
	p.NominalX(labels...)
	if len(labels) > 10 {
		p.X.Tick.Label.Rotation = math.Pi / 2.5
		p.X.Tick.Label.XAlign = draw.XRight
	}
	w := vg.Length(math.Min(math.Max(float64(len(values))*0.3+2, 5), 16)) * vg.Inch
	return save(p, path, w, 4*vg.Inch)
}

// grid adapts [rows][cols] values to plotter.GridXYZ: column c at x = c, row r at y = -r.
type grid [][]float64

func (g grid) Dims() (c, r int)   { return len(g[0]), len(g) }
func (g grid) Z(c, r int) float64 { return g[r][c] }
func (g grid) X(c int) float64    { return float64(c) }
func (g grid) Y(r int) float64    { return -float64(r) }

// labelTicks puts labels[i] at at(i), thinning them to at most 40 visible labels.
func labelTicks(labels []string, at func(int) float64) plot.ConstantTicks {
	step := (len(labels) + 39) / 40
	ticks := make(plot.ConstantTicks, 0, len(labels))
	for i, l := range labels {
		if i%step != 0 {
			l = ""
		}
		ticks = append(ticks, plot.Tick{Value: at(i), Label: l})
	}
	return ticks
}

func indexLabels(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(i)
	}
	return out
}

func format(path string) (string, error) {
	switch ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), ".")); ext {
	case "png", "svg":
		return ext, nil
	default:
		return "", fmt.Errorf("plots: %s: unsupported image format %q (use .png or .svg)", path, ext)
	}
}

func save(p *plot.Plot, path string, w, h vg.Length) error {
	c, err := canvas(path, w, h)
	if err != nil {
		return err
	}
	m := vg.Points(10) // keeps the title and the outer labels off the image's edge
	p.Draw(draw.Crop(draw.New(c), m, -m, m, -m))
	return writeCanvas(c, path)
}

func canvas(path string, w, h vg.Length) (vg.CanvasWriterTo, error) {
	f, err := format(path)
	if err != nil {
		return nil, err
	}
	return draw.NewFormattedCanvas(w, h, f)
}

// writeCanvas writes the image atomically (see package atomicfile).
func writeCanvas(c vg.CanvasWriterTo, path string) error {
	if err := atomicfile.Write(path, func(w io.Writer) error { _, err := c.WriteTo(w); return err }); err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	return nil
}
