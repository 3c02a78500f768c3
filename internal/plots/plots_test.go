package plots

import (
	"bytes"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot"
)

func TestFigures(t *testing.T) {
	dir := t.TempDir()
	z := [][]float64{{-1, 0, 2}, {0.5, 1, -2}}
	cases := []struct {
		name string
		draw func(path string) error
	}{
		{"lines.png", func(p string) error {
			return Lines(p, "loss", "step", "nats", []Series{{"train", []float64{0, 1, 2}, []float64{3, 2, 1}}}, Mark{1, "phase change"})
		}},
		{"lines.svg", func(p string) error {
			return Lines(p, "loss", "step", "nats", []Series{{"a", []float64{0, 1}, []float64{1, 0}}, {"b", []float64{0, 1}, []float64{0, 1}}})
		}},
		{"heat.png", func(p string) error {
			return Heatmap(p, "scores", z, []string{"L0", "L1"}, []string{"a", "b", "c"}, "head", "layer")
		}},
		{"heat.svg", func(p string) error { return Heatmap(p, "scores", z, nil, nil, "pos", "layer") }},
		{"hist.png", func(p string) error { return Histogram(p, "density", "log10 freq", []float64{-3, -2, -2, -1}, 5) }},
		{"bars.svg", func(p string) error { return Bars(p, "overlap", "share", []string{"a", "b"}, []float64{0.2, 0.8}) }},
		{"panels.png", func(p string) error {
			return LinePanels(p, []Panel{
				{Title: "inputs", XLabel: "step", YLabel: "edge", Series: []Series{{"a", []float64{0, 1}, []float64{1, 0}}}},
				{Title: "heads", XLabel: "step", YLabel: "carried", Series: []Series{{"b", []float64{0, 1}, []float64{0, 2}}}},
			})
		}},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.name)
		if err := c.draw(path); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(c.name, ".png") {
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s: not a PNG: %v", c.name, err)
			}
			if b := img.Bounds(); b.Dx() < 200 || b.Dy() < 200 {
				t.Errorf("%s: image %dx%d too small", c.name, b.Dx(), b.Dy())
			}
		} else if !bytes.Contains(data, []byte("<svg")) {
			t.Errorf("%s: not an SVG", c.name)
		}
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	if err := Lines(filepath.Join(dir, "x.jpg"), "", "", "", nil); err == nil || !strings.Contains(err.Error(), "x.jpg") {
		t.Errorf("unsupported format: got %v", err)
	}
	if err := Heatmap(filepath.Join(dir, "h.png"), "", [][]float64{{1, 2}, {3}}, nil, nil, "", ""); err == nil || !strings.Contains(err.Error(), "row 1") {
		t.Errorf("ragged heatmap: got %v", err)
	}
	if err := Heatmap(filepath.Join(dir, "h.png"), "", [][]float64{{1}}, []string{"a", "b"}, nil, "", ""); err == nil {
		t.Error("label count mismatch: no error")
	}
	if err := Lines(filepath.Join(dir, "l.png"), "", "", "", []Series{{"s", []float64{1}, nil}}); err == nil {
		t.Error("x/y length mismatch: no error")
	}
}

func TestNiceCeil(t *testing.T) {
	for _, tc := range []struct{ in, want float64 }{{7.695, 10}, {1, 1}, {1.2, 2}, {0.031, 0.05}, {45, 50}, {0.2, 0.2}} {
		if got := niceCeil(tc.in); math.Abs(got-tc.want) > 1e-12*tc.want {
			t.Errorf("niceCeil(%g) = %g, want %g", tc.in, got, tc.want)
		}
	}
}

// TestHeatmapLargestCellDrawn: the cell holding the largest |value| is drawn in the colour map's
// saturated end, not clipped to the background at the colour bar's limit.
func TestHeatmapLargestCellDrawn(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.png")
	if err := Heatmap(path, "t", [][]float64{{10, 10}, {10, 10}}, nil, nil, "x", "y"); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	// The middle of the heatmap area (left of the colour bar).
	r, g, bl, _ := img.At(b.Min.X+(b.Dx()-90)/2, b.Min.Y+b.Dy()/2).RGBA()
	if !(r > 2*bl && r > 2*g) {
		t.Errorf("the cells at the maximum are drawn in (%d, %d, %d), want the red end of the map", r>>8, g>>8, bl>>8)
	}
}

// TestLogTicks: a log axis gets 1-2-5 ticks within the data's range (the MIB sweep's 0.1-50% are
// all of them), and the data's own x values where fewer than two such ticks fall inside.
func TestLogTicks(t *testing.T) {
	values := func(ts plot.ConstantTicks) []float64 {
		var v []float64
		for _, tk := range ts {
			v = append(v, tk.Value)
		}
		return v
	}
	mib := []float64{0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50}
	if got := values(logTicks([]Series{{X: mib}})); !slices.Equal(got, mib) {
		t.Errorf("0.1-50: ticks %v, want %v", got, mib)
	}
	if got := values(logTicks([]Series{{X: []float64{1.024, 3.5}}, {X: []float64{43.5}}})); !slices.Equal(got, []float64{2, 5, 10, 20}) {
		t.Errorf("1.024-43.5: ticks %v, want [2 5 10 20]", got)
	}
	if got := values(logTicks([]Series{{X: []float64{1.1, 1.5, 1.9}}})); !slices.Equal(got, []float64{1.1, 1.5, 1.9}) {
		t.Errorf("1.1-1.9 (no 1-2-5 value inside): ticks %v, want the x values", got)
	}
}
