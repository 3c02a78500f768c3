package patching

import (
	"fmt"
	"math"
	"strconv"
)

// Axis is one dimension of a Result: its name ("layer", "head", "pos", "dest_pos", "src_pos",
// "component") and a label per index.
type Axis struct {
	Name   string   `json:"name"`
	Labels []string `json:"labels"`
}

// Size is the number of indices along the axis.
func (a Axis) Size() int { return len(a.Labels) }

// numberedAxis labels indices 0..n-1.
func numberedAxis(name string, n int) Axis {
	a := Axis{Name: name, Labels: make([]string, n)}
	for i := range a.Labels {
		a.Labels[i] = strconv.Itoa(i)
	}
	return a
}

// Result holds a sweep's scores over its axes, layer-major.
type Result struct {
	// Scores are row-major over Axes (layer first): Scores[((l*H)+h)*P+p] for layer x head x pos.
	Scores []float64
	Axes   []Axis
	// Metric names the metric; Normalized says whether scores are normalised (0 = corrupted
	// run, 1 = clean run).
	Metric     string
	Normalized bool
	// Method is "exact", "attribution" or "path"; Component the patched activation; Setter the
	// indexing ("head_pos", ...); Source what was patched in ("clean", "corrupted", "zero",
	// "mean", "resample").
	Method, Component, Setter, Source string
	// Clean and Corrupted are the metric's raw values on the unpatched runs (mean over prompts).
	Clean, Corrupted float64
}

// Dims is the size of each axis.
func (r *Result) Dims() []int {
	d := make([]int, len(r.Axes))
	for i, a := range r.Axes {
		d[i] = a.Size()
	}
	return d
}

// At returns the score at one index per axis.
func (r *Result) At(idx ...int) float64 {
	if len(idx) != len(r.Axes) {
		panic(fmt.Sprintf("patching: Result.At: %d indices for %d axes", len(idx), len(r.Axes)))
	}
	off := 0
	for i, a := range r.Axes {
		if idx[i] < 0 || idx[i] >= a.Size() {
			panic(fmt.Sprintf("patching: Result.At: index %d out of range for axis %s (size %d)", idx[i], a.Name, a.Size()))
		}
		off = off*a.Size() + idx[i]
	}
	return r.Scores[off]
}

// Nested returns the scores as nested slices, one level per axis (layer-major), for JSON.
func (r *Result) Nested() any {
	var rec func(axis, off int) any
	rec = func(axis, off int) any {
		n := r.Axes[axis].Size()
		if axis == len(r.Axes)-1 {
			return append([]float64(nil), r.Scores[off*n:off*n+n]...)
		}
		out := make([]any, n)
		for i := range n {
			out[i] = rec(axis+1, off*n+i)
		}
		return out
	}
	return rec(0, 0)
}

// normalise maps a raw metric value to the result's scale.
func normalise(v, clean, corrupted float64, normalized bool) float64 {
	if !normalized {
		return v
	}
	return (v - corrupted) / (clean - corrupted)
}

// Correlation is the Pearson correlation of two equally long score lists (NaN when either is
// constant): how well attribution patching agrees with exact patching.
func Correlation(a, b []float64) float64 {
	if len(a) != len(b) || len(a) < 2 {
		return math.NaN()
	}
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var sab, saa, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	if saa == 0 || sbb == 0 {
		return math.NaN()
	}
	return sab / math.Sqrt(saa*sbb)
}
