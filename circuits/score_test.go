package circuits

import (
	"fmt"
	"math"
	"testing"

	"github.com/interp-dev/interp/model"
)

func TestROCAUCHandComputed(t *testing.T) {
	T, F := true, false
	for _, tc := range []struct {
		name   string
		scores []float64
		truth  []bool
		want   float64
	}{
		// Pairs (member, non-member): (.9,.8) (.9,.6) (.7,.8) (.7,.6) -> 3 of 4 ordered.
		{"one inversion", []float64{0.9, 0.8, 0.7, 0.6}, []bool{T, F, T, F}, 0.75},
		// (1,1) tie 1/2, (1,0) 1, (0,1) 0, (0,0) tie 1/2 -> 2/4.
		{"ties count half", []float64{1, 1, 0, 0}, []bool{T, F, T, F}, 0.5},
		{"perfect", []float64{3, 2, 1}, []bool{T, T, F}, 1},
		{"reversed", []float64{1, 2, 3}, []bool{T, T, F}, 0},
		{"all tied", []float64{0.5, 0.5, 0.5}, []bool{T, F, F}, 0.5},
		// Members 5, 3; non-members 4, 3, 1: (5>all) 3, (3>4) 0, (3=3) 1/2, (3>1) 1 -> 4.5/6.
		{"tie across classes", []float64{5, 4, 3, 3, 1}, []bool{T, F, T, F, F}, 0.75},
	} {
		got, err := ROCAUC(tc.scores, tc.truth)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: ROC AUC = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestMaxF1HandComputed(t *testing.T) {
	T, F := true, false
	for _, tc := range []struct {
		name                string
		scores              []float64
		truth               []bool
		p, r, f1, threshold float64
	}{
		// t=.9: F1 2/3; t=.8: 1/2; t=.7: TP 2 FP 1 -> 4/5; t=.6: 4/6.
		{"one inversion", []float64{0.9, 0.8, 0.7, 0.6}, []bool{T, F, T, F}, 2.0 / 3, 1, 0.8, 0.7},
		// t=1: TP 1 FP 1 FN 1 -> 1/2; t=0: TP 2 FP 2 -> 2/3.
		{"ties", []float64{1, 1, 0, 0}, []bool{T, F, T, F}, 0.5, 1, 2.0 / 3, 0},
		// t=3: TP 1 FN 1 -> 2/3; t=2: TP 2 -> 1 (highest threshold of the maximum).
		{"perfect", []float64{3, 2, 1}, []bool{T, T, F}, 1, 1, 1, 2},
	} {
		p, r, f1, th, err := MaxF1(tc.scores, tc.truth)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, c := range []struct {
			what      string
			got, want float64
		}{{"precision", p, tc.p}, {"recall", r, tc.r}, {"F1", f1, tc.f1}, {"threshold", th, tc.threshold}} {
			if math.Abs(c.got-c.want) > 1e-12 {
				t.Errorf("%s: %s = %v, want %v", tc.name, c.what, c.got, c.want)
			}
		}
	}
}

func TestScoringRejectsBadInput(t *testing.T) {
	if _, err := ROCAUC([]float64{1, math.NaN()}, []bool{true, false}); err == nil {
		t.Error("NaN score: no error")
	}
	if _, err := ROCAUC([]float64{1, 2}, []bool{true, true}); err == nil {
		t.Error("no non-members: no error")
	}
	if _, err := Evaluate([]float64{1}, []bool{true, false}); err == nil {
		t.Error("length mismatch: no error")
	}
}

func TestEvaluateNodesAndEdges(t *testing.T) {
	g := NewGraph(model.AttnOnlyToy(2, 2, 8, 10, 8))
	truth := Circuit{
		Nodes: []Node{HeadNode(0, 1), HeadNode(1, 0)},
		Edges: []Edge{{From: HeadNode(0, 1), To: HeadNode(1, 0), Input: InK}, {From: HeadNode(1, 0), To: LogitsNode()}},
	}
	// Nodes 0.0, 0.1, 1.0, 1.1: members 0.1 (0.9) and 1.0 (0.2); non-members 0.0 (0.5), 1.1 (0).
	// Pairs: (.9>.5) (.9>0) (.2<.5) (.2>0) -> 3/4; max F1 at t=.2: TP 2 FP 1 -> 4/5.
	gt, err := EvaluateNodes(g, map[string]float64{"0.1": 0.9, "1.0": 0.2, "0.0": 0.5}, truth)
	if err != nil {
		t.Fatal(err)
	}
	if gt.ROCAUC != 0.75 || math.Abs(gt.F1-0.8) > 1e-12 || gt.Positives != 2 || gt.Negatives != 2 {
		t.Errorf("nodes: got %+v, want AUC 0.75, F1 0.8, 2 positives, 2 negatives", gt)
	}
	// Edges: 2 members score highest -> AUC 1 over every edge of the graph.
	gt, err = EvaluateEdges(g, map[string]float64{"0.1->1.0.k": 3, "1.0->logits": 2, "0.0->1.0.q": 1}, truth, false)
	if err != nil {
		t.Fatal(err)
	}
	if gt.ROCAUC != 1 || gt.Positives != 2 || gt.Positives+gt.Negatives != len(g.Edges) {
		t.Errorf("edges: got %+v, want AUC 1 over %d edges", gt, len(g.Edges))
	}
	// Pairs of components: 0.0->1.0, 0.0->1.1, 0.1->1.0 (member), 0.1->1.1.
	gt, err = EvaluateEdges(g, map[string]float64{"0.1->1.0": 3, "0.0->1.0": 5}, truth, true)
	if err != nil {
		t.Fatal(err)
	}
	// The member (3) beats two non-members (0) and loses to 0.0->1.0 (5): AUC 2/3.
	if gt.Positives != 1 || gt.Negatives != 3 || math.Abs(gt.ROCAUC-2.0/3) > 1e-12 {
		t.Errorf("pairs: got %+v, want 1 positive, 3 negatives, AUC 2/3", gt)
	}
}

// TestHeadOverlapEdgeToNode works edge.py's edge method through by hand on three heads: the
// ordered pairs' unique positive code pairs, then the heads counted over the first 9/2 = 4 entries
// of the pairs sorted by that count.
func TestHeadOverlapEdgeToNode(t *testing.T) {
	pos := []int{1, 2, 3, 1, 2, 4} // two positive prompts x three heads
	neg := []int{1, 5, 3}          // one negative prompt
	pair := uniquePairs(pos, neg, 2, 1, 3, false)
	want := []float64{0, 1, 1, 1, 0, 2, 1, 2, 0} // [a*3+b]
	if fmt.Sprint(pair) != fmt.Sprint(want) {
		t.Fatalf("unique pairs %v, want %v", pair, want)
	}
	// Pairs (1,2) and (2,1) score 2 and come first: heads 1, 2, 2, 1.
	if got := edgeToNode(pair, 3); fmt.Sprint(got) != "[0 2 2]" {
		t.Errorf("edge-to-node counts %v, want [0 2 2]", got)
	}
	norm := uniquePairs(pos, neg, 2, 1, 3, true)
	if math.Abs(norm[1]-0.5) > 1e-15 || math.Abs(norm[5]-2.0/3) > 1e-15 {
		t.Errorf("normalised (0,1) %g, want 1/2; (1,2) %g, want 2/3", norm[1], norm[5])
	}
}
