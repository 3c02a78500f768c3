package attrgraph

import (
	"fmt"
	"math"
	"testing"
)

// A frame's input groups add up to the logit's edges, its feature groups to their features'
// edges, and its heads plus the paths through no head to the same total.
func TestSummarize(t *testing.T) {
	c := testConfigs()["gpt2"]
	m := newScaledModel(t, c, 81, 4)
	r := newTestReplacement(t, m, "per-layer", 82, testPrompt(c, 6, 83))
	g, err := r.Graph(Options{MaxLogits: 1, LogitProb: 1})
	if err != nil {
		t.Fatal(err)
	}
	f, err := r.Summarize(g, 7, func(id int) string { return fmt.Sprint(id) })
	if err != nil {
		t.Fatal(err)
	}
	target := g.LogitNode(0)
	var edges, inputs, l1 float64
	groups := map[string]float64{}
	for j := range g.N {
		w := float64(g.Edge(target, j))
		edges += w
		l1 += math.Abs(w)
		if j < len(g.Features) {
			groups[fmt.Sprintf("features L%d@%d", g.Features[j].Layer, g.Features[j].Pos)] += w
		}
	}
	for k, v := range f.Inputs {
		inputs += v
		if want, ok := groups[k]; ok && math.Abs(v-want) > 1e-9*(1+l1) {
			t.Errorf("%s: %g, its features' edges sum to %g", k, v, want)
		}
	}
	if len(groups) == 0 {
		t.Fatal("no feature group")
	}
	split, err := r.SplitByHead(g, target)
	if err != nil {
		t.Fatal(err)
	}
	heads := 0.0
	for _, v := range split.Residual() {
		heads += float64(v)
	}
	for l := range f.Heads {
		for h := range f.Heads[l] {
			heads += f.Heads[l][h]
		}
	}
	// The split is another backward pass over the same terms (as TestHeadSplitSumsToTheEdges).
	tol := 2 * float64(c.NLayers+2) * float64(c.DModel+r.P+c.NHeads*c.DHead) * eps32 * (1 + l1)
	if math.Abs(inputs-edges) > tol || math.Abs(heads-edges) > tol {
		t.Errorf("inputs sum to %g, heads and residual to %g, edges to %g", inputs, heads, edges)
	}
	if f.Step != 7 || f.Logit != g.Logits[0] || f.Active != g.NActive {
		t.Errorf("frame %+v", f)
	}
	if top := TopInputs([]*Frame{f}, 3); len(top) != 3 || math.Abs(f.Inputs[top[0]]) < math.Abs(f.Inputs[top[2]]) {
		t.Errorf("TopInputs: %v", top)
	}
}
