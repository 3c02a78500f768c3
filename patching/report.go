package patching

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/interp-dev/interp/internal/plots"
)

// LabelPositions labels the position axes ("pos", "dest_pos", "src_pos") with tokens, e.g.
// "5  Mary" (index, then the token as the tokenizer prints it), as TransformerLens users label
// their imshow axes with the first prompt's tokens.
func (r *Result) LabelPositions(tokens []string) {
	for i, a := range r.Axes {
		if a.Name != "pos" && a.Name != "dest_pos" && a.Name != "src_pos" {
			continue
		}
		for p := range a.Labels {
			if p < len(tokens) {
				r.Axes[i].Labels[p] = fmt.Sprintf("%d %s", p, tokens[p])
			}
		}
	}
}

// shortLabel is an axis label for plots: L3 for layers, H5 for heads, the label otherwise.
func shortLabel(axis Axis, i int) string {
	switch axis.Name {
	case "layer":
		return "L" + axis.Labels[i]
	case "head":
		return "H" + axis.Labels[i]
	case "dest_pos":
		return "dest " + axis.Labels[i]
	}
	return axis.Labels[i]
}

// Matrix flattens the scores to a table: one column per index of the last axis, one row per
// combination of the others ("L9 H6"), with axis titles for a plot.
func (r *Result) Matrix() (z [][]float64, rows, cols []string, xlabel, ylabel string) {
	last := r.Axes[len(r.Axes)-1]
	for i := range last.Labels {
		cols = append(cols, shortLabel(last, i))
	}
	lead := r.Axes[:len(r.Axes)-1]
	nRows := 1
	var names []string
	for _, a := range lead {
		nRows *= a.Size()
		names = append(names, a.Name)
	}
	for row := range nRows {
		z = append(z, r.Scores[row*last.Size():(row+1)*last.Size()])
		var parts []string
		rem := row
		idx := make([]int, len(lead))
		for i := len(lead) - 1; i >= 0; i-- {
			idx[i] = rem % lead[i].Size()
			rem /= lead[i].Size()
		}
		for i, a := range lead {
			parts = append(parts, shortLabel(a, idx[i]))
		}
		rows = append(rows, strings.Join(parts, " "))
	}
	return z, rows, cols, last.Name, strings.Join(names, ", ")
}

// Title describes the sweep in one line, e.g. "z by head: exact patching of clean values, logit_diff".
func (r *Result) Title() string {
	by := strings.ReplaceAll(strings.TrimPrefix(r.Setter, r.Component+"_"), "_", ", ") // pattern_head_dest -> head, dest
	return fmt.Sprintf("%s by %s: %s patching of %s values, %s", r.Component, by, r.Method, r.Source, r.Metric)
}

// WriteHeatmap draws the scores minus offset as a heatmap (.png or .svg, by the path's
// extension), in colours centred at 0: pass the unpatched run's raw score as offset to show each
// patch's change, 0 to show normalised scores as they are.
func (r *Result) WriteHeatmap(path, title string, offset float64) error {
	z, rows, cols, xl, yl := r.Matrix()
	if offset != 0 {
		for i, row := range z {
			z[i] = make([]float64, len(row))
			for j, v := range row {
				z[i][j] = v - offset
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return plots.Heatmap(path, title, z, rows, cols, xl, yl)
}

// Scored is one entry of Top: the labels of its indices and its score.
type Scored struct {
	Labels []string
	Score  float64
}

// Top returns the k entries whose scores lie farthest from base (the unpatched target's score
// on the result's scale), largest first.
func (r *Result) Top(k int, base float64) []Scored {
	idx := make([]int, len(r.Scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return math.Abs(r.Scores[idx[a]]-base) > math.Abs(r.Scores[idx[b]]-base) })
	var out []Scored
	for _, i := range idx[:min(k, len(idx))] {
		s := Scored{Score: r.Scores[i]}
		rem := i
		labels := make([]string, len(r.Axes))
		for a := len(r.Axes) - 1; a >= 0; a-- {
			labels[a] = shortLabel(r.Axes[a], rem%r.Axes[a].Size())
			rem /= r.Axes[a].Size()
		}
		s.Labels = labels
		out = append(out, s)
	}
	return out
}

// HTML renders a self-contained page: the heatmap inline (SVG), the run's details and a table of
// every score, coloured like the heatmap (by score - offset). svg is the heatmap's SVG text
// (WriteHeatmap to a .svg).
func (r *Result) HTML(title string, details [][2]string, svg []byte, offset float64) []byte {
	var b bytes.Buffer
	esc := html.EscapeString
	fmt.Fprintf(&b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title>\n", esc(title))
	b.WriteString(`<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:12px}` +
		`td,th{border:1px solid #ccc;padding:2px 6px;text-align:right;white-space:pre}th{background:#f4f4f4}` +
		`.meta td{text-align:left}</style></head><body>` + "\n")
	fmt.Fprintf(&b, "<h1>%s</h1>\n<table class=\"meta\">\n", esc(title))
	for _, kv := range details {
		fmt.Fprintf(&b, "<tr><th>%s</th><td>%s</td></tr>\n", esc(kv[0]), esc(kv[1]))
	}
	b.WriteString("</table>\n<h2>Heatmap</h2>\n<div>")
	b.Write(stripXMLHeader(svg))
	b.WriteString("</div>\n<h2>Scores</h2>\n<table>\n")
	z, rows, cols, xl, yl := r.Matrix()
	fmt.Fprintf(&b, "<tr><th>%s \\ %s</th>", esc(yl), esc(xl))
	for _, c := range cols {
		fmt.Fprintf(&b, "<th>%s</th>", esc(c))
	}
	b.WriteString("</tr>\n")
	scale := 0.0
	for _, v := range r.Scores {
		scale = math.Max(scale, math.Abs(v-offset))
	}
	for i, row := range z {
		fmt.Fprintf(&b, "<tr><th>%s</th>", esc(rows[i]))
		for _, v := range row {
			fmt.Fprintf(&b, "<td style=\"background:%s\">%.4g</td>", cellColour(v-offset, scale), v)
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table>\n</body></html>\n")
	return b.Bytes()
}

// cellColour is blue for negative, red for positive, white at 0 (as the heatmap).
func cellColour(v, scale float64) string {
	if scale == 0 || math.IsNaN(v) {
		return "#ffffff"
	}
	t := math.Min(1, math.Abs(v)/scale)
	fade := int(255 * (1 - 0.75*t))
	if v < 0 {
		return fmt.Sprintf("rgb(%d,%d,255)", fade, fade)
	}
	return fmt.Sprintf("rgb(255,%d,%d)", fade, fade)
}

// stripXMLHeader drops an <?xml ...?> prologue so the SVG can sit inside HTML.
func stripXMLHeader(svg []byte) []byte {
	s := bytes.TrimSpace(svg)
	if bytes.HasPrefix(s, []byte("<?xml")) {
		if i := bytes.Index(s, []byte("?>")); i >= 0 {
			s = bytes.TrimSpace(s[i+2:])
		}
	}
	return s
}
