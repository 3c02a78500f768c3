package circuits

import (
	"fmt"
	"testing"

	"github.com/interp-dev/interp/model"
)

// TestSelections works the reference's top-n and greedy selections through by hand on a 2-layer,
// 2-head graph. The path embed -> 0.1 -> 1.0 -> logits scores 8, 9, 10; a distractor edge
// 0.0 -> 1.1 scores 9.5 but 1.1 reaches the logits only through an edge of score 1, and nothing
// feeds 0.0 above 0.1; everything else scores below 2.
func TestSelections(t *testing.T) {
	g := NewGraph(model.AttnOnlyToy(2, 2, 8, 10, 8))
	scores := map[string]float64{}
	for i, x := range g.Edges {
		scores[x.String()] = 0.01 * float64(i%7) // small, distinct-ish background
	}
	for name, v := range map[string]float64{"1.0->logits": 10, "0.0->1.1.k": 9.5, "0.1->1.0.v": 9, "embed->0.1.v": 8,
		"embed->logits": 2, "1.1->logits": 1} {
		if _, ok := scores[name]; !ok {
			t.Fatalf("graph has no edge %s", name)
		}
		scores[name] = v
	}
	path := "[embed->0.1.v 0.1->1.0.v 1.0->logits]"
	for _, tc := range []struct {
		how  string
		n    int
		want string
	}{
		// The top 4 include the distractor, which no path from the embeddings reaches: pruned.
		{SelectTopN, 4, path},
		// The top 3 miss embed -> 0.1: nothing connects to the embeddings, so nothing is left.
		{SelectTopN, 3, "[]"},
		// Greedy from the logits: 1.0 -> logits, then 0.1 -> 1.0 (0.0 -> 1.1 is not reachable while
		// 1.1 is out), then embed -> 0.1; the distractor never becomes a candidate.
		{SelectGreedy, 3, path},
		// Its fourth edge is embed -> logits (2), the best remaining candidate into the circuit.
		{SelectGreedy, 4, "[embed->0.1.v embed->logits 0.1->1.0.v 1.0->logits]"},
	} {
		c, err := selectEdges(g, scores, tc.how, 0, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, x := range sortedByOrder(c.Edges) {
			names = append(names, x.String())
		}
		if got := fmt.Sprint(names); got != tc.want {
			t.Errorf("%s %d: %s, want %s", tc.how, tc.n, got, tc.want)
		}
	}
	if _, err := selectEdges(g, scores, SelectTopN, 0, 0); err == nil {
		t.Error("top-n with 0 edges accepted")
	}
	if _, err := selectEdges(g, scores, "best", 0.1, 3); err == nil {
		t.Error("unknown selection accepted")
	}
}

// sortedByOrder sorts edges by sender, then receiver order, for a stable printout.
func sortedByOrder(edges []Edge) []Edge {
	out := append([]Edge(nil), edges...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			a, b := out[i], out[j]
			if b.From.order() < a.From.order() || (b.From.order() == a.From.order() && b.To.order() < a.To.order()) {
				out[i], out[j] = b, a
			}
		}
	}
	return out
}
