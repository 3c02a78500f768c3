package transcoder

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// Graph is the union of a target's top paths: each node once, each edge (upstream -> downstream)
// weighted by the summed attribution of the paths that end with it.
type Graph struct {
	Target   Node    `json:"target"`
	Value    float64 `json:"value"`    // the target's pre-activation or logit difference
	Constant float64 `json:"constant"` // its part no component moves
	Tokens   []int   `json:"tokens"`
	// TokenLabels are the prompt's tokens as text (filled by SetTokenLabels).
	TokenLabels []string    `json:"token_labels,omitempty"`
	Nodes       []GraphNode `json:"nodes"`
	Edges       []Edge      `json:"edges"`
	Paths       []Path      `json:"paths"`

	tok func(int) string
}

// GraphNode is a node of the graph with its readable label.
type GraphNode struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Node
}

// Edge is a weighted connection from an upstream node to the node whose input it writes.
type Edge struct {
	From   string  `json:"from"`
	To     string  `json:"to"`
	Weight float64 `json:"weight"`
}

func newGraph(a *Analysis, target Node, value, constant float64, paths []Path) *Graph {
	g := &Graph{Target: target, Value: value, Constant: constant, Tokens: a.Tokens, Paths: paths}
	seen := map[string]int{}
	edges := map[[2]string]int{}
	add := func(n Node) string {
		id := n.ID()
		if _, ok := seen[id]; !ok {
			seen[id] = len(g.Nodes)
			g.Nodes = append(g.Nodes, GraphNode{ID: id, Node: n})
		}
		return id
	}
	add(target)
	for _, p := range paths {
		k := len(p.Nodes) - 1
		from, to := add(p.Nodes[k]), p.Nodes[k-1].ID()
		key := [2]string{from, to}
		if i, ok := edges[key]; ok {
			g.Edges[i].Weight += p.Attribution
		} else {
			edges[key] = len(g.Edges)
			g.Edges = append(g.Edges, Edge{From: from, To: to, Weight: p.Attribution})
		}
	}
	g.SetTokenLabels(nil)
	return g
}

// SetTokenLabels renders the node labels and token labels with tok (nil: token ids).
func (g *Graph) SetTokenLabels(tok func(int) string) {
	g.tok = tok
	if tok != nil {
		g.TokenLabels = make([]string, len(g.Tokens))
		for i, t := range g.Tokens {
			g.TokenLabels[i] = tok(t)
		}
	}
	for i := range g.Nodes {
		g.Nodes[i].Label = g.Nodes[i].Node.Label(tok)
	}
}

// WriteJSON writes the graph (nodes, edges and paths) as indented JSON.
func (g *Graph) WriteJSON(w io.Writer) error {
	data, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(data, '\n'))
	return err
}

// WriteDOT writes the graph in Graphviz DOT: one rank per layer row (embeddings at the bottom,
// the target on top), edges blue for positive and red for negative attributions, pen widths in
// proportion to |weight|.
func (g *Graph) WriteDOT(w io.Writer) error {
	var b strings.Builder
	b.WriteString("digraph transcoder_paths {\n  rankdir=BT;\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n")
	fmt.Fprintf(&b, "  label=%q;\n  labelloc=t;\n", fmt.Sprintf("%s = %.4g", g.Target.Label(g.tok), g.Value))
	ranks := map[int][]string{}
	for _, n := range g.Nodes {
		shape := map[NodeKind]string{KindFeature: "box", KindHead: "ellipse", KindEmbed: "note", KindLogit: "doubleoctagon"}[n.Kind]
		if shape == "" {
			shape = "plaintext"
		}
		fmt.Fprintf(&b, "  %q [label=%q, shape=%s];\n", n.ID, n.Label, shape)
		ranks[n.rank()] = append(ranks[n.rank()], n.ID)
	}
	rs := make([]int, 0, len(ranks))
	for r := range ranks {
		rs = append(rs, r)
	}
	sort.Ints(rs)
	for _, r := range rs {
		b.WriteString("  { rank=same;")
		for _, id := range ranks[r] {
			fmt.Fprintf(&b, " %q;", id)
		}
		b.WriteString(" }\n")
	}
	mx := g.maxWeight()
	for _, e := range g.Edges {
		color := "blue"
		if e.Weight < 0 {
			color = "red"
		}
		fmt.Fprintf(&b, "  %q -> %q [label=\"%.3g\", color=%s, penwidth=%.2f];\n", e.From, e.To, e.Weight, color,
			0.5+4*math.Abs(e.Weight)/mx)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func (g *Graph) maxWeight() float64 {
	mx := 1e-12
	for _, e := range g.Edges {
		mx = max(mx, math.Abs(e.Weight))
	}
	return mx
}

// WriteSVG draws the graph as a layered SVG: rows are layer parts (embeddings at the bottom,
// then each layer's attention and MLP rows, the target on top), columns are token positions,
// edges coloured by sign with widths in proportion to |weight|.
func (g *Graph) WriteSVG(w io.Writer) error {
	const colW, rowH, boxH, margin = 150.0, 90.0, 30.0, 40.0
	P := len(g.Tokens)
	maxRank := 0
	for _, n := range g.Nodes {
		maxRank = max(maxRank, n.rank())
	}
	// Several nodes can share a (rank, position) cell: spread them vertically within the row.
	type cell struct{ r, p int }
	count := map[cell]int{}
	slot := map[string]int{}
	for _, n := range g.Nodes {
		c := cell{n.rank(), n.Pos}
		slot[n.ID] = count[c]
		count[c]++
	}
	width := margin*2 + colW*float64(P)
	height := margin*2 + rowH*float64(maxRank+1) + 40
	xy := func(n GraphNode) (float64, float64) {
		c := cell{n.rank(), n.Pos}
		k := count[c]
		x := margin + colW*(float64(n.Pos)+0.5)
		y := height - margin - 40 - rowH*(float64(n.rank())+0.5)
		if k > 1 {
			y += (float64(slot[n.ID]) - float64(k-1)/2) * (rowH / float64(k))
		}
		return x, y
	}
	pos := map[string][2]float64{}
	for _, n := range g.Nodes {
		x, y := xy(n)
		pos[n.ID] = [2]float64{x, y}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="Helvetica,Arial,sans-serif" font-size="10">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="20" font-size="13">%s = %.4g (%d paths)</text>`+"\n", margin, esc(g.Target.Label(g.tok)), g.Value, len(g.Paths))
	for p := range P {
		label := fmt.Sprintf("#%d", g.Tokens[p])
		if p < len(g.TokenLabels) {
			label = g.TokenLabels[p]
		}
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="#444">%d: %s</text>`+"\n",
			margin+colW*(float64(p)+0.5), height-margin+5, p, esc(label))
	}
	mx := g.maxWeight()
	for _, e := range g.Edges {
		from, to := pos[e.From], pos[e.To]
		color := "#2b6cb0"
		if e.Weight < 0 {
			color = "#c53030"
		}
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-opacity="0.7" stroke-width="%.2f"><title>%s -> %s: %.4g</title></line>`+"\n",
			from[0], from[1]-boxH/2, to[0], to[1]+boxH/2, color, 0.5+5*math.Abs(e.Weight)/mx, esc(e.From), esc(e.To), e.Weight)
	}
	for _, n := range g.Nodes {
		x, y := pos[n.ID][0], pos[n.ID][1]
		fill := map[NodeKind]string{KindFeature: "#fefcbf", KindHead: "#e9d8fd", KindEmbed: "#c6f6d5", KindLogit: "#fed7d7"}[n.Kind]
		if fill == "" {
			fill = "#edf2f7"
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="4" fill="%s" stroke="#555"/>`+"\n",
			x-colW/2+6, y-boxH/2, colW-12, boxH, fill)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, y+3, esc(truncate(n.Label, 26)))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
