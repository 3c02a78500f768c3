package attrgraph

import (
	"fmt"
	"html"
	"io"
	"math"
	"sort"
	"strconv"
)

// WriteSVG draws the graph file's nodes and links: one column per position (prompt token
// underneath), one row per layer (embeddings at the bottom, logits at the top); features are
// circles, error nodes squares, embeddings and logits labelled boxes. A link is blue when
// positive, red when negative, its width and opacity growing with |weight|.
func (f *File) WriteSVG(w io.Writer) error {
	const colW, rowH, margin, label = 110, 70, 40, 90
	maxCtx, maxLayer := 0, 0
	layerRow := func(n FileNode) int {
		if n.Layer == "E" {
			return 0
		}
		l, _ := strconv.Atoi(n.Layer)
		if n.FeatureType == "logit" {
			return l // NLayers+1: the row above the last layer's
		}
		return l + 1
	}
	for _, n := range f.Nodes {
		maxCtx = max(maxCtx, n.CtxIdx)
		maxLayer = max(maxLayer, layerRow(n))
	}
	width := margin*2 + label + (maxCtx+1)*colW
	height := margin*2 + (maxLayer+1)*rowH + 30
	// Nodes sharing a cell are spread across it.
	type cell struct{ r, c int }
	byCell := map[cell][]int{}
	for i, n := range f.Nodes {
		k := cell{layerRow(n), n.CtxIdx}
		byCell[k] = append(byCell[k], i)
	}
	xy := make(map[string][2]float64, len(f.Nodes))
	for k, idx := range byCell {
		sort.Ints(idx)
		for j, i := range idx {
			off := (float64(j) - float64(len(idx)-1)/2) * math.Min(18, float64(colW-20)/float64(len(idx)))
			x := float64(margin+label+k.c*colW+colW/2) + off
			y := float64(height - margin - 30 - k.r*rowH - rowH/2)
			xy[f.Nodes[i].NodeID] = [2]float64{x, y}
		}
	}
	maxW := 0.0
	for _, l := range f.Links {
		maxW = math.Max(maxW, math.Abs(l.Weight))
	}
	if _, err := fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", width, height); err != nil {
		return err
	}
	fmt.Fprintf(w, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(w, `<text x="%d" y="20" font-size="13">%s</text>`+"\n", margin, html.EscapeString(f.Metadata.Slug))
	for r := 0; r <= maxLayer; r++ {
		name := "embed"
		switch {
		case r == maxLayer && r > 0:
			name = "logits"
		case r > 0:
			name = fmt.Sprintf("layer %d", r-1)
		}
		y := height - margin - 30 - r*rowH - rowH/2
		fmt.Fprintf(w, `<text x="%d" y="%d" fill="#555">%s</text>`+"\n", margin, y+4, name)
	}
	for c := 0; c <= maxCtx; c++ {
		tok := ""
		if c < len(f.Metadata.PromptTokens) {
			tok = f.Metadata.PromptTokens[c]
		}
		if len(tok) > 14 {
			tok = tok[:14] + "…"
		}
		fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="middle">%s</text>`+"\n", margin+label+c*colW+colW/2, height-margin, html.EscapeString(tok))
	}
	for _, l := range f.Links {
		a, b := xy[l.Source], xy[l.Target]
		frac := 0.0
		if maxW > 0 {
			frac = math.Abs(l.Weight) / maxW
		}
		color := "#2166ac"
		if l.Weight < 0 {
			color = "#b2182b"
		}
		fmt.Fprintf(w, `<line class="link" data-s="%s" data-t="%s" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%.2f" stroke-opacity="%.2f"><title>%s → %s: %.4g</title></line>`+"\n",
			html.EscapeString(l.Source), html.EscapeString(l.Target), a[0], a[1], b[0], b[1], color, 0.5+4*frac, 0.25+0.75*frac,
			html.EscapeString(l.Source), html.EscapeString(l.Target), l.Weight)
	}
	for _, n := range f.Nodes {
		p := xy[n.NodeID]
		id := html.EscapeString(n.NodeID)
		title := id
		if n.Clerp != "" {
			title += " " + html.EscapeString(n.Clerp)
		}
		switch n.FeatureType {
		case "mlp reconstruction error":
			fmt.Fprintf(w, `<rect class="node" data-id="%s" x="%.1f" y="%.1f" width="10" height="10" fill="#999"><title>%s</title></rect>`+"\n", id, p[0]-5, p[1]-5, title)
		case "embedding", "logit":
			fill := "#fdd49e"
			if n.FeatureType == "logit" {
				fill = "#c7e9c0"
			}
			fmt.Fprintf(w, `<rect class="node" data-id="%s" x="%.1f" y="%.1f" width="16" height="12" rx="3" fill="%s" stroke="#333"><title>%s</title></rect>`+"\n", id, p[0]-8, p[1]-6, fill, title)
		default:
			fmt.Fprintf(w, `<circle class="node" data-id="%s" cx="%.1f" cy="%.1f" r="6" fill="#6baed6" stroke="#08519c"><title>%s act %.3g</title></circle>`+"\n", id, p[0], p[1], title, deref(n.Activation))
		}
	}
	_, err := fmt.Fprintln(w, "</svg>")
	return err
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}
