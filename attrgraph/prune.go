package attrgraph

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Influence and pruning, as circuit-tracer defines them (see doc.go, "Pruning"). With Â the
// adjacency with each row's absolute values normalised to sum 1, a node's influence on the
// logits is the logit-probability-weighted sum over all paths into the logits:
//
//	influence = w Â + w Â^2 + w Â^3 + ...      (w: the logit probabilities on the logit nodes)
//
// The graph is acyclic (a node's row holds only earlier nodes), so the series ends after at most
// depth terms and is summed exactly.

// normalized returns |A| (rows of n columns) with each row divided by its sum (rows summing to
// less than clamp divided by clamp).
func normalized(a []float32, n int, clamp float64) []float32 {
	out := make([]float32, len(a))
	for i := range len(a) / n {
		row := a[i*n : (i+1)*n]
		var s float64
		for _, v := range row {
			s += math.Abs(float64(v))
		}
		s = math.Max(s, clamp)
		for j, v := range row {
			out[i*n+j] = float32(math.Abs(float64(v)) / s)
		}
	}
	return out
}

// influence returns w Â + w Â^2 + ... for the normalised adjacency an [n, n].
func influence(an []float32, n int, w []float64) ([]float64, error) {
	step := func(x []float64) ([]float64, bool) {
		out := make([]float64, n)
		nonzero := false
		for i, xi := range x {
			if xi == 0 {
				continue
			}
			for j, v := range an[i*n : (i+1)*n] {
				if v != 0 {
					out[j] += xi * float64(v)
					nonzero = true
				}
			}
		}
		return out, nonzero
	}
	cur, more := step(w)
	total := append([]float64(nil), cur...)
	for it := 0; more; it++ {
		if it >= n+1 {
			return nil, errors.New("attrgraph: influence did not converge: the graph has a cycle")
		}
		cur, more = step(cur)
		for j, v := range cur {
			total[j] += v
		}
	}
	return total, nil
}

// threshold returns the score at which the largest scores reach fraction of their sum.
func threshold(scores []float64, fraction float64) float64 {
	s := append([]float64(nil), scores...)
	sort.Sort(sort.Reverse(sort.Float64Slice(s)))
	var total float64
	for _, v := range s {
		total += v
	}
	var cum float64
	for i, v := range s {
		cum += v
		if cum/total >= fraction {
			return s[i]
		}
	}
	return s[len(s)-1]
}

// Pruned is a pruned graph: the nodes and edges kept, and each node's cumulative influence
// (the share of total influence held by the nodes at least as influential as it).
type Pruned struct {
	Nodes      []bool    // [N]
	Edges      []bool    // [N*N], row = target
	Cumulative []float64 // [N]
	Influence  []float64 // [N] node influence on the logits
	EdgeScore  []float64 // [N*N] edge influence
}

// Prune keeps the nodes holding nodeThreshold of the total influence on the logits (tokens and
// logits always), then the edges holding edgeThreshold of the total edge influence among them,
// and drops feature and error nodes left without outgoing edges and features left without
// incoming ones (circuit-tracer's prune_graph; defaults 0.8 and 0.98).
func (g *Graph) Prune(nodeThreshold, edgeThreshold float64) (*Pruned, error) {
	if nodeThreshold < 0 || nodeThreshold > 1 || edgeThreshold < 0 || edgeThreshold > 1 {
		return nil, fmt.Errorf("attrgraph: thresholds %g, %g outside [0, 1]", nodeThreshold, edgeThreshold)
	}
	n, nF := g.N, len(g.Features)
	w := g.logitWeights()
	nodeInf, err := influence(normalized(g.Adj, n, 1e-10), n, w)
	if err != nil {
		return nil, err
	}
	nodes := make([]bool, n)
	th := threshold(nodeInf, nodeThreshold)
	fixed := g.TokenNode(0) // tokens and logits are always kept
	for i := range n {
		nodes[i] = nodeInf[i] >= th || i >= fixed
	}
	pruned := make([]float32, len(g.Adj))
	for i := range n {
		if !nodes[i] {
			continue
		}
		for j := range n {
			if nodes[j] {
				pruned[i*n+j] = g.Adj[i*n+j]
			}
		}
	}
	pn := normalized(pruned, n, 1e-10)
	pInf, err := influence(pn, n, w)
	if err != nil {
		return nil, err
	}
	scores := make([]float64, n*n)
	for i := range n {
		for j := range n {
			scores[i*n+j] = float64(pn[i*n+j]) * (pInf[i] + w[i])
		}
	}
	eth := threshold(scores, edgeThreshold)
	edges := make([]bool, n*n)
	for k, s := range scores {
		edges[k] = s >= eth
	}
	// Features and errors need an outgoing edge, features an incoming one; repeat until stable.
	for {
		changed := false
		for j := range fixed {
			if !nodes[j] {
				continue
			}
			out := false
			for i := range n {
				if edges[i*n+j] {
					out = true
					break
				}
			}
			in := j >= nF
			for k := 0; !in && k < n; k++ {
				in = edges[j*n+k]
			}
			if !out || !in {
				nodes[j], changed = false, true
			}
		}
		if !changed {
			break
		}
		for i := range n {
			for j := range n {
				if !nodes[i] || !nodes[j] {
					edges[i*n+j] = false
				}
			}
		}
	}
	return &Pruned{Nodes: nodes, Edges: edges, Cumulative: cumulative(nodeInf), Influence: nodeInf, EdgeScore: scores}, nil
}

// cumulative maps each score to the share of the total held by the scores at least as large.
func cumulative(scores []float64) []float64 {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	var total float64
	for _, v := range scores {
		total += v
	}
	out := make([]float64, len(scores))
	var cum float64
	for _, i := range idx {
		cum += scores[i]
		out[i] = cum / total
	}
	return out
}

// Scores returns the graph's replacement and completeness scores (circuit-tracer's
// compute_graph_scores). Replacement: the share of the tokens' and errors' influence on the
// logits that starts at tokens. Completeness: the influence-weighted share of every node's
// normalised input that does not come from error nodes.
func (g *Graph) Scores() (replacement, completeness float64, err error) {
	n := g.N
	w := g.logitWeights()
	an := normalized(g.Adj, n, 1e-10)
	inf, err := influence(an, n, w)
	if err != nil {
		return 0, 0, err
	}
	e0, t0 := g.ErrorNode(0, 0), g.TokenNode(0)
	var tokInf, errInf float64
	for i := e0; i < t0; i++ {
		errInf += inf[i]
	}
	for t := range g.P {
		tokInf += inf[g.TokenNode(t)]
	}
	replacement = tokInf / (tokInf + errInf)
	var num, den float64
	for i := range n {
		var fromErr float64
		for j := e0; j < t0; j++ {
			fromErr += float64(an[i*n+j])
		}
		out := inf[i] + w[i]
		num += (1 - fromErr) * out
		den += out
	}
	return replacement, num / den, nil
}

// partialInfluence estimates the active features' influence on the logits from the rows computed
// so far (rowNode: -1-i for logit i, else the active feature's index; columns: the active features,
// errors, tokens), circuit-tracer's compute_partial_influences.
func partialInfluence(rows [][]float32, rowNode []int, logits []Logit, nAct int) []float64 {
	if len(rows) == 0 {
		return make([]float64, nAct)
	}
	nSrc := len(rows[0])
	norm := make([][]float32, len(rows))
	for i, r := range rows {
		norm[i] = normalized(r, len(r), 1e-8)
	}
	// prod lives on the nodes: sources [0, nSrc), then the logits.
	prod := make([]float64, nSrc+len(logits))
	for i, l := range logits {
		prod[nSrc+i] = l.Prob
	}
	inf := make([]float64, nSrc+len(logits))
	for it := 0; it < 128; it++ {
		next := make([]float64, len(prod))
		nonzero := false
		for i, r := range norm {
			node := rowNode[i]
			if node < 0 {
				node = nSrc - 1 - node
			}
			x := prod[node]
			if x == 0 {
				continue
			}
			for j, v := range r {
				if v != 0 {
					next[j] += x * float64(v)
					nonzero = true
				}
			}
		}
		if !nonzero {
			break
		}
		for j, v := range next {
			inf[j] += v
		}
		prod = next
	}
	return inf[:nAct]
}
