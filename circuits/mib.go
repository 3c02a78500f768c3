package circuits

import (
	"fmt"
	"math"
)

// MIBPercents are the circuit sizes of MIB's circuit-localisation curve, in percent of the
// graph's edges: {0.1 ... 50}% as the benchmark reports them, and 100% (the whole graph), which
// MIB's evaluation code also scores and integrates over.
var MIBPercents = []float64{0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100}

// MIBCurve is MIB's circuit-localisation summary of one method's ranking (Mueller et al. 2025,
// the circuit track): at each size, the top int(pct/100 * |E|) edges by score, pruned to those on
// a path embed -> logits, are kept and every other edge ablated; faithfulness is
// (m(C) - m(∅)) / (m(N) - m(∅)) on the logit difference. CPR is the area under the curve and CMD
// the area between it and 1, by trapezoids over the sizes as fractions (0.001 .. 1, linear x, as
// MIB's code does by default): CPR higher is better, CMD lower is better.
type MIBCurve struct {
	Percents     []float64 `json:"percents"`
	Edges        []int     `json:"edges"` // edges kept at each size, after pruning
	Faithfulness []float64 `json:"faithfulness"`
	CPR          float64   `json:"cpr"`
	CMD          float64   `json:"cmd"`
	// Ranking says what ordered the edges: "edges" (the method's own edge scores) or "nodes"
	// (node-level methods: an edge scores as its weaker endpoint, embed and logits counting as
	// infinite, so each size keeps the edges among the top-ranked nodes).
	Ranking  string   `json:"ranking"`
	Ablation Ablation `json:"ablation"`
}

// mibEdgeScores returns the scores that order the edges for the curve: a q/k/v edge method's
// own, or, for node-level methods, the weaker endpoint's node score.
func mibEdgeScores(g *Graph, res *Result) (map[string]float64, string) {
	if res.EdgeLevel == "q/k/v" && len(res.EdgeScores) > 0 {
		return res.EdgeScores, "edges"
	}
	node := func(n Node) float64 {
		if n.Kind == Embed || n.Kind == Logits {
			return math.Inf(1)
		}
		return res.NodeScores[n.String()]
	}
	s := make(map[string]float64, len(g.Edges))
	for _, x := range g.Edges {
		s[x.String()] = math.Min(node(x.From), node(x.To))
	}
	return s, "nodes"
}

// mibCurve measures the curve of a ranking (edge name -> score, higher first).
func (e *experiment) mibCurve(scores map[string]float64, ranking string, a Ablation) (*MIBCurve, error) {
	src, err := e.ablationSource(a)
	if err != nil {
		return nil, err
	}
	run := func(in map[string]bool) (float64, error) {
		ld, err := e.edgeAblatedLD(src, func(x Edge) bool { return !in[x.String()] })
		return mean(ld), err
	}
	full := mean(e.cleanLD)
	empty, err := run(nil)
	if err != nil {
		return nil, err
	}
	if d := full - empty; math.Abs(d) <= 1e-9*math.Max(1, math.Abs(full)) {
		return nil, fmt.Errorf("circuits: MIB curve: the full model (%.6g) and the all-ablated one (%.6g) have the same logit difference, so faithfulness is undefined", full, empty)
	}
	c := &MIBCurve{Ranking: ranking, Ablation: a}
	ranked := rankedEdges(e.g, scores)
	for _, pct := range MIBPercents {
		n := int(pct / 100 * float64(len(ranked)))
		kept := pruneEdges(ranked[:n])
		in := make(map[string]bool, len(kept))
		for _, x := range kept {
			in[x.String()] = true
		}
		m := empty
		if len(kept) > 0 {
			if m, err = run(in); err != nil {
				return nil, err
			}
		}
		c.Percents = append(c.Percents, pct)
		c.Edges = append(c.Edges, len(kept))
		c.Faithfulness = append(c.Faithfulness, (m-empty)/(full-empty))
	}
	c.CPR, c.CMD = mibAreas(c.Percents, c.Faithfulness)
	return c, nil
}

// mibAreas integrates a faithfulness curve by trapezoids over the sizes as fractions: the area
// under it (CPR) and the area between it and 1 (CMD).
func mibAreas(percents, f []float64) (cpr, cmd float64) {
	for i := 0; i+1 < len(f); i++ {
		dx := (percents[i+1] - percents[i]) / 100
		cpr += dx * (f[i] + f[i+1]) / 2
		cmd += dx * (math.Abs(1-f[i]) + math.Abs(1-f[i+1])) / 2
	}
	return cpr, cmd
}
