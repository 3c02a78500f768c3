package circuits

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/interp-dev/interp/internal/plots"
)

// Cross-task reuse (Merullo et al. 2023): how much two circuits, e.g. found for two tasks on one
// model, share. For node (or edge) sets A and B:
//
//	Jaccard = |A n B| / |A u B|,  A in B = |A n B| / |A|,  B in A = |A n B| / |B|
//
// When both circuits come from the same N candidates (the nodes or edges a discovery scored),
// the overlap is also set against chance: two random sets of sizes |A| and |B| drawn from the N
// share |A||B|/N on average, and P is the chance of sharing at least as many (the
// hypergeometric tail). Small circuits in a small model share heads by chance alone.

// Overlap compares the nodes or the edges of two circuits.
type Overlap struct {
	Level   string   `json:"level"` // "nodes" or "edges"
	A       int      `json:"a"`     // |A|
	B       int      `json:"b"`     // |B|
	Shared  int      `json:"shared"`
	Union   int      `json:"union"`
	Jaccard float64  `json:"jaccard"`
	AInB    float64  `json:"a_in_b"`
	BInA    float64  `json:"b_in_a"`
	Both    []string `json:"both"`
	OnlyA   []string `json:"only_a"`
	OnlyB   []string `json:"only_b"`
	// Candidates is N, the number of nodes or edges both circuits were chosen from (0: unknown,
	// and no chance figures); ChanceShared is |A||B|/N and PValue P(shared >= Shared) for
	// random sets of the circuits' sizes.
	Candidates   int     `json:"candidates,omitempty"`
	ChanceShared float64 `json:"chance_shared,omitempty"`
	PValue       float64 `json:"p_value,omitempty"`
}

// SetChance sets the overlap's chance figures for circuits chosen from n candidates.
func (o *Overlap) SetChance(n int) error {
	if n < o.Union {
		return fmt.Errorf("circuits: %d candidate %s, fewer than the %d in the two circuits", n, o.Level, o.Union)
	}
	o.Candidates = n
	o.ChanceShared = float64(o.A) * float64(o.B) / float64(n)
	o.PValue = hypergeomTail(n, o.A, o.B, o.Shared)
	return nil
}

// hypergeomTail is P(X >= k) for X the size of the intersection of a fixed set of a items and a
// uniformly random set of b items, both among n.
func hypergeomTail(n, a, b, k int) float64 {
	lchoose := func(n, k int) float64 {
		x, _ := math.Lgamma(float64(n + 1))
		y, _ := math.Lgamma(float64(k + 1))
		z, _ := math.Lgamma(float64(n - k + 1))
		return x - y - z
	}
	total := lchoose(n, b)
	p := 0.0
	for x := max(k, a+b-n); x <= min(a, b); x++ {
		p += math.Exp(lchoose(a, x) + lchoose(n-a, b-x) - total)
	}
	return min(p, 1)
}

// Compare returns the node overlap of a and b, and the edge overlap when both have edges (nil
// otherwise).
func Compare(a, b Circuit) (nodes, edges *Overlap) {
	nodes = overlap("nodes", a.NodeSet(), b.NodeSet())
	if len(a.Edges) > 0 && len(b.Edges) > 0 {
		edges = overlap("edges", a.EdgeSet(), b.EdgeSet())
	}
	return nodes, edges
}

func overlap(level string, a, b map[string]bool) *Overlap {
	o := &Overlap{Level: level, A: len(a), B: len(b), Both: []string{}, OnlyA: []string{}, OnlyB: []string{}}
	for k := range a {
		if b[k] {
			o.Both = append(o.Both, k)
		} else {
			o.OnlyA = append(o.OnlyA, k)
		}
	}
	for k := range b {
		if !a[k] {
			o.OnlyB = append(o.OnlyB, k)
		}
	}
	for _, s := range [][]string{o.Both, o.OnlyA, o.OnlyB} {
		sortNames(s)
	}
	o.Shared = len(o.Both)
	o.Union = o.Shared + len(o.OnlyA) + len(o.OnlyB)
	o.Jaccard, o.AInB, o.BInA = ratio(o.Shared, o.Union), ratio(o.Shared, o.A), ratio(o.Shared, o.B)
	return o
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// sortNames orders node or edge names by their place in the residual stream.
func sortNames(names []string) {
	key := func(s string) (int, int, string) {
		from, _, _ := strings.Cut(s, "->")
		n, err := ParseNode(from)
		if err != nil {
			return 1 << 30, 0, s
		}
		return n.order(), n.Head, s
	}
	sort.Slice(names, func(i, j int) bool {
		oi, hi, si := key(names[i])
		oj, hj, sj := key(names[j])
		if oi != oj {
			return oi < oj
		}
		if hi != hj {
			return hi < hj
		}
		return si < sj
	})
}

// OverlapTable formats node and edge overlaps (edges may be nil) as a text table.
func OverlapTable(nameA, nameB string, nodes, edges *Overlap) string {
	var b strings.Builder
	fmt.Fprintf(&b, "A = %s\nB = %s\n", nameA, nameB)
	fmt.Fprintf(&b, "%-6s %5s %5s %6s %5s %8s %7s %7s %6s %7s\n", "level", "|A|", "|B|", "shared", "union", "jaccard", "A in B", "B in A", "chance", "P")
	for _, o := range []*Overlap{nodes, edges} {
		if o == nil {
			continue
		}
		fmt.Fprintf(&b, "%-6s %5d %5d %6d %5d %8.3f %7.3f %7.3f", o.Level, o.A, o.B, o.Shared, o.Union, o.Jaccard, o.AInB, o.BInA)
		if o.Candidates > 0 {
			fmt.Fprintf(&b, " %6.2f %7.3g", o.ChanceShared, o.PValue)
		} else {
			fmt.Fprintf(&b, " %6s %7s", "-", "-")
		}
		b.WriteString("\n")
	}
	if nodes.Candidates > 0 {
		fmt.Fprintf(&b, "(chance: the shared count of random sets of the same sizes among the %d candidate nodes", nodes.Candidates)
		if edges != nil && edges.Candidates > 0 {
			fmt.Fprintf(&b, " and %d candidate edges", edges.Candidates)
		}
		b.WriteString("; P: the chance of sharing at least as many)\n")
	}
	fmt.Fprintf(&b, "shared nodes: %s\nonly in A:    %s\nonly in B:    %s\n",
		strings.Join(nodes.Both, " "), strings.Join(nodes.OnlyA, " "), strings.Join(nodes.OnlyB, " "))
	return b.String()
}

// PlotOverlap draws the overlap fractions as bars: Jaccard ("J"), the share of A inside B ("AinB")
// and of B inside A ("BinA"), for nodes and for edges.
func PlotOverlap(path, nameA, nameB string, nodes, edges *Overlap) error {
	var labels []string
	var values []float64
	for _, o := range []*Overlap{nodes, edges} {
		if o == nil {
			continue
		}
		l := strings.TrimSuffix(o.Level, "s")
		labels = append(labels, l+" J", l+" AinB", l+" BinA")
		values = append(values, o.Jaccard, o.AInB, o.BInA)
	}
	return plots.Bars(path, fmt.Sprintf("A = %s, B = %s", nameA, nameB), "overlap (J = shared / union)", labels, values)
}

// ReadCircuitFile reads a circuit from a JSON file: a discovery result (its "circuit"), a report
// of several methods (PATH#METHOD picks one) or a bare circuit {"nodes": [...], "edges":
// [...]}. The label names it (model, task and method, or the file name).
func ReadCircuitFile(spec string) (Circuit, string, error) {
	c, label, _, err := readCircuitSpec(spec)
	return c, label, err
}

// readCircuitSpec is ReadCircuitFile, also returning the discovery result the circuit comes from
// (nil for a bare circuit), whose node and edge scores name the candidates it was chosen from.
func readCircuitSpec(spec string) (Circuit, string, *Result, error) {
	path, method, _ := strings.Cut(spec, "#")
	data, err := os.ReadFile(path)
	if err != nil {
		return Circuit{}, "", nil, err
	}
	var probe struct {
		Result
		Results []*Result `json:"results"`
		Nodes   []string  `json:"nodes"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return Circuit{}, "", nil, fmt.Errorf("circuits: %s: %w", path, err)
	}
	label := func(r *Result) string { return fmt.Sprintf("%s/%s/%s", r.Model, r.Task, r.Method) }
	switch {
	case probe.Results != nil:
		var have []string
		for _, r := range probe.Results {
			if string(r.Method) == method {
				return r.Circuit, label(r), r, nil
			}
			have = append(have, string(r.Method))
		}
		return Circuit{}, "", nil, fmt.Errorf("circuits: %s holds the results of %s: pick one with %s#METHOD", path, strings.Join(have, ", "), path)
	case probe.Method != "":
		return probe.Circuit, label(&probe.Result), &probe.Result, nil
	case probe.Nodes != nil:
		var c Circuit
		if err := json.Unmarshal(data, &c); err != nil {
			return Circuit{}, "", nil, fmt.Errorf("circuits: %s: %w", path, err)
		}
		return c, path, nil, nil
	}
	return Circuit{}, "", nil, fmt.Errorf("circuits: %s: neither a discovery result nor a circuit (no \"circuit\", \"results\" or \"nodes\")", path)
}

// CompareFiles reads two circuits (ReadCircuitFile's specs) and returns their overlaps (Compare)
// and labels. When both are discovery results that scored the same candidates (one model's nodes,
// or edges), the overlap is also set against chance (SetChance).
func CompareFiles(specA, specB string) (nodes, edges *Overlap, labelA, labelB string, err error) {
	a, labelA, ra, err := readCircuitSpec(specA)
	if err != nil {
		return nil, nil, "", "", err
	}
	b, labelB, rb, err := readCircuitSpec(specB)
	if err != nil {
		return nil, nil, "", "", err
	}
	nodes, edges = Compare(a, b)
	if ra == nil || rb == nil {
		return nodes, edges, labelA, labelB, nil
	}
	for _, lv := range []struct {
		o      *Overlap
		sa, sb map[string]float64
	}{{nodes, ra.NodeScores, rb.NodeScores}, {edges, ra.EdgeScores, rb.EdgeScores}} {
		if lv.o == nil || len(lv.sa) == 0 || !sameKeys(lv.sa, lv.sb) {
			continue
		}
		if err := lv.o.SetChance(len(lv.sa)); err != nil {
			return nil, nil, "", "", fmt.Errorf("%s: %w", specA, err)
		}
	}
	return nodes, edges, labelA, labelB, nil
}

func sameKeys(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}
