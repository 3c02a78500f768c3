package circuits

import (
	"math"
	"sort"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
)

// Faithfulness of a circuit: the logit difference with everything outside the circuit ablated,
// over the full model's. MIB (the Mechanistic Interpretability Benchmark's circuit track) also
// subtracts the all-ablated baseline: (m(C) - m(∅)) / (m(N) - m(∅)), 0 for the empty circuit and 1 for
// the whole model whatever the baseline. Per example i, r_i = m_i(circuit) / mean_j m_j(full); the score is the
// mean of r_i (= mean circuit metric / mean full metric) and its spread across examples is their
// standard deviation and quartiles. Node level: heads and MLPs outside the circuit have their
// hook_result / hook_mlp_out replaced. Edge level: every edge outside the circuit is ablated
// (see edges.go), so a node in the circuit still loses its inputs from outside it.
type Faithfulness struct {
	// Level is "nodes" or "edges".
	Level    string   `json:"level"`
	Ablation Ablation `json:"ablation"`
	// Full, Circuit and Empty are the mean logit differences of the full model, the circuit
	// alone and of the model with every node (or edge) ablated.
	Full    float64 `json:"full"`
	Circuit float64 `json:"circuit"`
	Empty   float64 `json:"empty"`
	// Score is Circuit / Full.
	Score float64 `json:"score"`
	// MIB is (Circuit - Empty) / (Full - Empty), of the means; absent when Full and Empty are
	// equal (within 1e-9 relative), where it is undefined.
	MIB *float64 `json:"mib,omitempty"`
	// Std, Q1, Median and Q3 describe r_i = m_i(circuit) / Full across examples.
	Std    float64 `json:"std"`
	Q1     float64 `json:"q1"`
	Median float64 `json:"median"`
	Q3     float64 `json:"q3"`
	// FullStd is the same spread for the full model, m_i(full) / Full: how much of Std the
	// examples' own variety explains.
	FullStd float64 `json:"full_std"`
}

// nodeFaithfulness ablates every head and MLP outside c.
func (e *experiment) nodeFaithfulness(c Circuit, a Ablation) (*Faithfulness, error) {
	src, err := e.ablationSource(a)
	if err != nil {
		return nil, err
	}
	run := func(keep func(Node) bool) ([]float64, error) {
		masks := newNodeMasks(e.m.Config, e.n)
		for _, n := range e.g.Components() {
			if !keep(n) {
				masks.set(n, 0, e.n)
			}
		}
		logits, err := e.runNodeAblation(e.clean, masks, src)
		if err != nil {
			return nil, err
		}
		return logitDiffs(logits, e.pairs), nil
	}
	circ, err := run(c.HasNode)
	if err != nil {
		return nil, err
	}
	empty, err := run(func(Node) bool { return false })
	if err != nil {
		return nil, err
	}
	return faithfulness("nodes", a, e.cleanLD, circ, empty), nil
}

// edgeFaithfulness ablates every edge outside c.
func (e *experiment) edgeFaithfulness(c Circuit, a Ablation) (*Faithfulness, error) {
	src, err := e.ablationSource(a)
	if err != nil {
		return nil, err
	}
	in := c.EdgeSet()
	circ, err := e.edgeAblatedLD(src, func(x Edge) bool { return !in[x.String()] })
	if err != nil {
		return nil, err
	}
	empty, err := e.edgeAblatedLD(src, func(Edge) bool { return true })
	if err != nil {
		return nil, err
	}
	return faithfulness("edges", a, e.cleanLD, circ, empty), nil
}

// edgeAblatedLD runs the clean prompts with the edges for which ablated is true replaced from src
// and returns each pair's logit difference.
func (e *experiment) edgeAblatedLD(src *senderActs, ablated func(Edge) bool) ([]float64, error) {
	logits, err := e.runEdgeAblation(e.clean, e.g.newEdgeMasks(ablated), src)
	if err != nil {
		return nil, err
	}
	return logitDiffs(logits, e.pairs), nil
}

func faithfulness(level string, a Ablation, full, circ, empty []float64) *Faithfulness {
	f := &Faithfulness{Level: level, Ablation: a, Full: mean(full), Circuit: mean(circ), Empty: mean(empty)}
	r := make([]float64, len(circ))
	for i, v := range circ {
		r[i] = v / f.Full
	}
	f.Score = mean(r)
	if d := f.Full - f.Empty; math.Abs(d) > 1e-9*math.Max(1, math.Abs(f.Full)) {
		mib := (f.Circuit - f.Empty) / d
		f.MIB = &mib
	}
	f.Std = stddev(r)
	f.Q1, f.Median, f.Q3 = quantile(r, 0.25), quantile(r, 0.5), quantile(r, 0.75)
	rf := make([]float64, len(full))
	for i, v := range full {
		rf[i] = v / f.Full
	}
	f.FullStd = stddev(rf)
	return f
}

// stddev is the sample standard deviation (0 for fewer than two values).
func stddev(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	m := mean(xs)
	var ss float64
	for _, v := range xs {
		ss += (v - m) * (v - m)
	}
	return math.Sqrt(ss / float64(len(xs)-1))
}

// quantile is the q-quantile of xs with linear interpolation between order statistics (numpy's
// default).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	pos := q * float64(len(s)-1)
	i := int(math.Floor(pos))
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (pos-float64(i))*(s[i+1]-s[i])
}

// CircuitFaithfulness measures the node-level faithfulness of circuit c on m for the given pairs
// (and the edge-level one when c has edges; nil otherwise).
func CircuitFaithfulness(m *model.Model, pairs *tasks.Pairs, c Circuit, a Ablation) (nodes, edges *Faithfulness, err error) {
	e, err := newExperiment(m, pairs)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range c.Nodes {
		if err := e.g.Check(n); err != nil {
			return nil, nil, err
		}
	}
	for _, x := range c.Edges {
		if err := e.g.CheckEdge(x); err != nil {
			return nil, nil, err
		}
	}
	if nodes, err = e.nodeFaithfulness(c, a); err != nil {
		return nil, nil, err
	}
	if len(c.Edges) > 0 {
		if edges, err = e.edgeFaithfulness(c, a); err != nil {
			return nil, nil, err
		}
	}
	return nodes, edges, nil
}
