package circuits

import (
	"fmt"
	"html"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/interp-dev/interp/internal/atomicfile"
)

// Circuit diagrams: Graphviz DOT (render with `dot -Tsvg`) and a layered SVG drawn directly, with
// layers as rows (embeddings at the bottom, logits at the top), every head and MLP as a box
// (filled when in the circuit, shaded by its score) and the circuit's edges coloured by the
// receiver's input (q blue, k green, v orange, MLP / logits grey).

var inputColour = map[Input]string{InQ: "#1f77b4", InK: "#2ca02c", InV: "#ff7f0e", "": "#555555"}

// WriteDOT writes the circuit as a Graphviz digraph, one rank per layer.
func WriteDOT(w io.Writer, g *Graph, c Circuit, title string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph circuit {\n  label=%q;\n  rankdir=BT;\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#dde8f5\"];\n", title)
	b.WriteString("  \"embed\" [shape=ellipse, fillcolor=\"#eeeeee\"];\n  \"logits\" [shape=ellipse, fillcolor=\"#eeeeee\"];\n")
	for l := range g.NLayers {
		var names []string
		for _, n := range c.Nodes {
			if n.Layer == l {
				names = append(names, fmt.Sprintf("%q", n.String()))
			}
		}
		if len(names) > 0 {
			fmt.Fprintf(&b, "  { rank=same; %s; }\n", strings.Join(names, "; "))
		}
	}
	for _, e := range c.Edges {
		fmt.Fprintf(&b, "  %q -> %q", e.From.String(), e.To.String())
		if e.Input != "" {
			fmt.Fprintf(&b, " [label=%q, color=%q]", string(e.Input), inputColour[e.Input])
		}
		b.WriteString(";\n")
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteSVG draws the layered diagram. scores (may be nil) shade the boxes.
func WriteSVG(w io.Writer, g *Graph, c Circuit, scores map[string]float64, title string) error {
	const cellW, cellH, boxW, boxH, margin = 64, 70, 50, 26, 40
	cols := g.NHeads
	if g.HasMLP {
		cols++
	}
	width := margin*2 + cols*cellW
	rows := g.NLayers + 2
	height := margin*2 + rows*cellH
	top := 0.0
	for _, v := range scores {
		top = math.Max(top, v)
	}
	// Node centres: row 0 (top) is the logits, the last row the embeddings.
	centre := func(n Node) (float64, float64) {
		row, col := 0, float64(cols-1)/2
		switch n.Kind {
		case Embed:
			row = rows - 1
		case Logits:
			row = 0
		case Head:
			row, col = rows-2-n.Layer, float64(n.Head)
		case MLP:
			row, col = rows-2-n.Layer, float64(g.NHeads)
		}
		return float64(margin + int(col*cellW) + cellW/2), float64(margin + row*cellH + cellH/2)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%d" y="20" font-size="13">%s</text>`+"\n", margin, html.EscapeString(title))
	for l := range g.NLayers {
		_, y := centre(HeadNode(l, 0))
		fmt.Fprintf(&b, `<text x="4" y="%.0f" fill="#888">L%d</text>`+"\n", y+4, l)
	}
	for _, e := range c.Edges {
		x1, y1 := centre(e.From)
		x2, y2 := centre(e.To)
		// Curve sideways by the input so q, k and v edges between one pair stay apart.
		off := map[Input]float64{InQ: -12, InK: 0, InV: 12, "": 0}[e.Input]
		fmt.Fprintf(&b, `<path d="M%.0f %.0f Q %.0f %.0f %.0f %.0f" stroke="%s" stroke-width="1.5" fill="none" opacity="0.8"/>`+"\n",
			x1, y1-boxH/2, (x1+x2)/2+off+(y1-y2)*0.1, (y1+y2)/2, x2+off/2, y2+boxH/2, inputColour[e.Input])
	}
	box := func(n Node, label string, in bool) {
		x, y := centre(n)
		fill, stroke := "#f7f7f7", "#bbbbbb"
		if in {
			fill, stroke = "#9ecae1", "#08519c"
		}
		if s, ok := scores[n.String()]; ok && top > 0 && !in {
			fill = fmt.Sprintf("rgb(%d,%d,%d)", 247-int(60*s/top), 247-int(40*s/top), 247)
		}
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%d" height="%d" rx="5" fill="%s" stroke="%s"/>`+"\n",
			x-boxW/2, y-boxH/2, boxW, boxH, fill, stroke)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">%s</text>`+"\n", x, y+4, html.EscapeString(label))
	}
	box(EmbedNode(), "embed", true)
	box(LogitsNode(), "logits", true)
	for _, n := range g.Components() {
		box(n, n.String(), c.HasNode(n))
	}
	y := height - 12
	for i, in := range []Input{InQ, InK, InV, ""} {
		name := map[Input]string{InQ: "q", InK: "k", InV: "v", "": "mlp/logits"}[in]
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s">%s</text>`+"\n", margin+i*60, y, inputColour[in], name)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteDiagram writes the circuit diagram to path: DOT for .dot, SVG for .svg; for .svg the DOT
// file is written beside it as well (same name, .dot).
func WriteDiagram(path string, g *Graph, c Circuit, scores map[string]float64, title string) error {
	ext := strings.ToLower(filepath.Ext(path))
	if ext != ".svg" && ext != ".dot" {
		return fmt.Errorf("circuits: diagram %s: want a .svg or .dot file", path)
	}
	write := atomicfile.Write
	dot := strings.TrimSuffix(path, filepath.Ext(path)) + ".dot"
	if err := write(dot, func(w io.Writer) error { return WriteDOT(w, g, c, title) }); err != nil {
		return err
	}
	if ext == ".svg" {
		return write(path, func(w io.Writer) error { return WriteSVG(w, g, c, scores, title) })
	}
	return nil
}
