package circuits

import (
	"fmt"
	"math"

	"github.com/interp-dev/interp/internal/progress"
)

// ACDC (Conmy et al. 2023): greedy edge pruning. Starting from the full graph, receivers are
// visited in reverse topological order (the logits first, then the heads and MLPs from the last
// layer down) and, for each, every incoming edge in turn is ablated (edges.go); the ablation is
// kept when the metric gets worse by less than tau:
//
//	KL:          KL(clean || current) - KL(clean || before) < tau
//	logit diff:  (m_before - m_current) / (m_clean - m_corrupted) < tau
//
// A receiver none of whose outgoing edges survived cannot affect the output, so its incoming
// edges are removed without being tested. One forward pass per tested edge, all through one
// compiled graph. An edge's score is the metric change measured when it was tested (0 when it
// was not, or when the change was negative), a node's the largest score of its outgoing edges:
// ranking by these scores approximates sweeping tau.

// acdcResult is the outcome of one ACDC run.
type acdcResult struct {
	kept   []Edge
	scores map[string]float64 // edge name -> metric change when tested
	tested int
}

func (e *experiment) acdc(metric MetricKind, tau float64, a Ablation) (*acdcResult, error) {
	src, err := e.ablationSource(a)
	if err != nil {
		return nil, err
	}
	g := e.g
	gap := mean(e.cleanLD) - mean(e.corrLD)
	if metric == LogitDiff && math.Abs(gap) < 1e-9 {
		return nil, fmt.Errorf("circuits: acdc: clean and corrupted logit differences are equal (%.4g)", mean(e.cleanLD))
	}
	ablated := map[string]bool{}
	masks := g.newEdgeMasks(func(Edge) bool { return false })
	eval := func() (float64, error) {
		logits, err := e.runEdgeAblation(e.clean, masks, src)
		if err != nil {
			return 0, err
		}
		if metric == KL {
			return mean(klDivs(e.cleanLP, logProbsAt(logits, e.pairs))), nil
		}
		return mean(logitDiffs(logits, e.pairs)), nil
	}
	// worse is how much the metric got worse from before to after (positive = worse).
	worse := func(before, after float64) float64 {
		if metric == KL {
			return after - before
		}
		return (before - after) / gap
	}
	cur, err := eval()
	if err != nil {
		return nil, err
	}
	res := &acdcResult{scores: map[string]float64{}}
	removed := 0
	bar := progress.New(len(g.Edges), "acdc")
	defer bar.Finish()
	for i := len(g.Nodes) - 1; i > 0; i-- {
		r := g.Nodes[i]
		alive := r.Kind == Logits
		for _, x := range g.Edges {
			if x.From == r && !ablated[x.String()] {
				alive = true
				break
			}
		}
		for _, in := range g.Inputs(r) {
			senders := g.Senders(r)
			for j := len(senders) - 1; j >= 0; j-- {
				edge := Edge{From: senders[j], To: r, Input: in}
				name := edge.String()
				ablated[name] = true
				masks.set(edge, 1)
				removed++
				res.scores[name] = 0
				if !alive {
					bar.Add(1, fmt.Sprintf("%d kept", len(g.Edges)-removed))
					continue
				}
				m, err := eval()
				if err != nil {
					return nil, err
				}
				res.tested++
				d := worse(cur, m)
				res.scores[name] = math.Max(d, 0)
				if d < tau {
					cur = m
				} else {
					ablated[name] = false
					masks.set(edge, 0)
					removed--
				}
				bar.Add(1, fmt.Sprintf("%d kept", len(g.Edges)-removed))
			}
		}
	}
	for _, x := range g.Edges {
		if !ablated[x.String()] {
			res.kept = append(res.kept, x)
		}
	}
	return res, nil
}
