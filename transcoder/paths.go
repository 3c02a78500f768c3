package transcoder

import (
	"math"
)

// PathOptions configure the greedy path search.
type PathOptions struct {
	// Depth is the most components on a path below the target; default 3.
	Depth int
	// Branch is the number of largest contributors followed from each node; default 5.
	Branch int
	// Beam is the number of paths kept at each depth (largest |attribution| first); default 20.
	Beam int
}

func (o *PathOptions) defaults() {
	if o.Depth <= 0 {
		o.Depth = 3
	}
	if o.Branch <= 0 {
		o.Branch = 5
	}
	if o.Beam <= 0 {
		o.Beam = 20
	}
}

// Path is a chain of components from the target (Nodes[0]) upstream. Nodes[i+1] writes into
// the input of Nodes[i]: a feature's encoder input (through the MLP's LayerNorm), or a head's
// value input at its source position (through its OV circuit and LayerNorm), at the prompt's
// attention pattern. Each node's Contribution is to the path's own target vector, so
// Attribution = the last node's contribution is its effect on the target through the path,
// with every intermediate feature, LayerNorm scale and attention pattern linearised at this
// input (Dunefsky et al. 2024, section 4).
type Path struct {
	Nodes       []Node  `json:"nodes"`
	Attribution float64 `json:"attribution"`
}

// Paths finds the top paths to a target greedily: at each depth, the Branch largest
// contributors of every path's last node extend it, and the Beam paths with the largest
// |attribution| are kept (and extended again at the next depth, when their last node is a
// feature, a head or a skip term). Every kept path is returned, largest |attribution| first,
// with the graph they span.
func (a *Analysis) Paths(tg Target, opt PathOptions) (*Graph, error) {
	opt.defaults()
	e, p, constant, tn, err := a.targetVector(tg)
	if err != nil {
		return nil, err
	}
	type item struct {
		path Path
		e    []float64
		p    point
		t    int
	}
	frontier := []item{{path: Path{Nodes: []Node{tn}, Attribution: tn.Contribution}, e: e, p: p, t: tg.Pos}}
	var found []Path
	for range opt.Depth {
		var cands []item
		for _, it := range frontier {
			ns := a.contributions(it.e, it.p, it.t)
			sortByMagnitude(ns)
			for _, n := range ns[:min(opt.Branch, len(ns))] {
				if n.Contribution == 0 {
					continue
				}
				nodes := append(append([]Node(nil), it.path.Nodes...), n)
				cands = append(cands, item{path: Path{Nodes: nodes, Attribution: n.Contribution}, e: it.e})
			}
		}
		sortSlice(cands, func(i, j int) bool {
			return math.Abs(cands[i].path.Attribution) > math.Abs(cands[j].path.Attribution)
		})
		cands = cands[:min(opt.Beam, len(cands))]
		frontier = frontier[:0]
		for _, c := range cands {
			found = append(found, c.path)
			last := c.path.Nodes[len(c.path.Nodes)-1]
			if next, np, nt, ok := a.expand(last, c.e); ok {
				frontier = append(frontier, item{path: c.path, e: next, p: np, t: nt})
			}
		}
		if len(frontier) == 0 {
			break
		}
	}
	sortSlice(found, func(i, j int) bool { return math.Abs(found[i].Attribution) > math.Abs(found[j].Attribution) })
	return newGraph(a, tn, tn.Contribution+constant, constant, found), nil
}
