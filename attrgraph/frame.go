package attrgraph

import (
	"fmt"
	"math"
	"sort"
)

// Frame summarises one graph's top logit so that graphs of the same prompt over the snapshots of
// a training run can be compared although each snapshot has its own transcoders: feature nodes
// are not comparable across dictionaries, so their edges are summed per layer and position.
type Frame struct {
	Step         int     `json:"step"`
	Replacement  float64 `json:"replacement_score"`
	Completeness float64 `json:"completeness_score"`
	Logit        Logit   `json:"logit"`
	Active       int     `json:"active_features"`
	// Inputs are the logit's direct inputs by group: "token 'x' @p", "error L@p" and
	// "features L@p" (the sum of that layer and position's feature edges).
	Inputs map[string]float64 `json:"inputs"`
	// Heads[l][h] is what head h of layer l carries into the logit over all its inputs (the
	// last head on each path, SplitByHead).
	Heads [][]float64 `json:"heads"`
}

// Summarize makes the frame of logit node 0 of g (the graph of r's prompt); label names tokens.
func (r *Replacement) Summarize(g *Graph, step int, label func(int) string) (*Frame, error) {
	if len(g.Logits) == 0 {
		return nil, fmt.Errorf("attrgraph: the graph has no logit node")
	}
	rep, comp, err := g.Scores()
	if err != nil {
		return nil, err
	}
	target := g.LogitNode(0)
	f := &Frame{Step: step, Replacement: rep, Completeness: comp, Logit: g.Logits[0], Active: g.NActive, Inputs: map[string]float64{}}
	nF := len(g.Features)
	for j := range g.N {
		w := float64(g.Edge(target, j))
		if w == 0 {
			continue
		}
		var key string
		switch {
		case j < nF:
			ft := g.Features[j]
			key = fmt.Sprintf("features L%d@%d", ft.Layer, ft.Pos)
		case j < g.TokenNode(0):
			key = fmt.Sprintf("error L%d@%d", (j-nF)/g.P, (j-nF)%g.P)
		default:
			t := j - g.TokenNode(0)
			key = fmt.Sprintf("token %q@%d", label(g.Tokens[t]), t)
		}
		f.Inputs[key] += w
	}
	split, err := r.SplitByHead(g, target)
	if err != nil {
		return nil, err
	}
	f.Heads = make([][]float64, split.NLayers)
	for l := range split.NLayers {
		f.Heads[l] = make([]float64, split.NHeads)
		for h := range split.NHeads {
			f.Heads[l][h] = split.Carried(l, h)
		}
	}
	return f, nil
}

// TopInputs returns the n input groups with the largest |weight| in any frame, largest first.
func TopInputs(frames []*Frame, n int) []string {
	peak := map[string]float64{}
	for _, f := range frames {
		for k, v := range f.Inputs {
			peak[k] = math.Max(peak[k], math.Abs(v))
		}
	}
	keys := make([]string, 0, len(peak))
	for k := range peak {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if peak[keys[i]] != peak[keys[j]] {
			return peak[keys[i]] > peak[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys[:min(n, len(keys))]
}

// TopHeads returns the n heads (layer, head) with the largest |carried| in any frame.
func TopHeads(frames []*Frame, n int) [][2]int {
	type hk struct {
		l, h int
		v    float64
	}
	var all []hk
	if len(frames) == 0 {
		return nil
	}
	for l := range frames[0].Heads {
		for h := range frames[0].Heads[l] {
			var peak float64
			for _, f := range frames {
				peak = math.Max(peak, math.Abs(f.Heads[l][h]))
			}
			all = append(all, hk{l, h, peak})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].v > all[j].v })
	out := make([][2]int, 0, n)
	for _, x := range all[:min(n, len(all))] {
		out = append(out, [2]int{x.l, x.h})
	}
	return out
}
