package circuits

import (
	"fmt"
	"math"
	"sort"
)

// Scoring a method's scores against a ground-truth circuit. Every candidate (node or edge) has a
// score; the ground truth says which candidates belong to the circuit.
//
// ROC AUC is the area under the ROC curve over all thresholds, which equals the probability
// that a random circuit member scores higher than a random non-member, ties counting half
// (the Mann-Whitney U statistic over |pos| |neg|):
//
//	AUC = (sum over pairs (p, n) of [s_p > s_n] + 1/2 [s_p = s_n]) / (|pos| |neg|)
//
// Precision, recall and F1 are those of the prediction "score >= t" at the threshold t (one of
// the scores) that maximises F1 = 2 TP / (2 TP + FP + FN); among equal F1 the highest t wins.

// GroundTruth is how well scores recover a ground-truth circuit.
type GroundTruth struct {
	ROCAUC    float64 `json:"roc_auc"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	// Threshold is the max-F1 threshold (predicted members score at least this).
	Threshold float64 `json:"threshold"`
	// Positives and Negatives count the circuit members and non-members scored.
	Positives int `json:"positives"`
	Negatives int `json:"negatives"`
}

// ROCAUC returns the area under the ROC curve of scores against truth (true = member), ties
// counted half. It is an error when a score is NaN or either class is empty.
func ROCAUC(scores []float64, truth []bool) (float64, error) {
	if err := checkScored(scores, truth); err != nil {
		return math.NaN(), err
	}
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	// Midranks (1-based) of tied groups, then U = sum of positive ranks - P(P+1)/2.
	var rankSum float64
	var pos, neg int
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		mid := float64(i+j+1) / 2 // mean of ranks i+1..j
		for k := i; k < j; k++ {
			if truth[idx[k]] {
				rankSum += mid
				pos++
			} else {
				neg++
			}
		}
		i = j
	}
	u := rankSum - float64(pos)*float64(pos+1)/2
	return u / (float64(pos) * float64(neg)), nil
}

// MaxF1 returns precision, recall and F1 at the threshold that maximises F1, and the threshold.
func MaxF1(scores []float64, truth []bool) (precision, recall, f1, threshold float64, err error) {
	if err := checkScored(scores, truth); err != nil {
		return 0, 0, 0, math.NaN(), err
	}
	thresholds := append([]float64(nil), scores...)
	sort.Sort(sort.Reverse(sort.Float64Slice(thresholds)))
	f1, threshold = -1, math.NaN()
	for i, t := range thresholds {
		if i > 0 && t == thresholds[i-1] {
			continue
		}
		var tp, fp, fn float64
		for k, s := range scores {
			switch {
			case s >= t && truth[k]:
				tp++
			case s >= t:
				fp++
			case truth[k]:
				fn++
			}
		}
		if f := 2 * tp / (2*tp + fp + fn); f > f1 {
			f1, threshold = f, t
			precision, recall = tp/(tp+fp), tp/(tp+fn)
		}
	}
	return precision, recall, f1, threshold, nil
}

// Evaluate scores candidates against the ground truth: ROC AUC and the max-F1 operating point.
func Evaluate(scores []float64, truth []bool) (*GroundTruth, error) {
	auc, err := ROCAUC(scores, truth)
	if err != nil {
		return nil, err
	}
	p, r, f, t, err := MaxF1(scores, truth)
	if err != nil {
		return nil, err
	}
	g := &GroundTruth{ROCAUC: auc, Precision: p, Recall: r, F1: f, Threshold: t}
	for _, x := range truth {
		if x {
			g.Positives++
		} else {
			g.Negatives++
		}
	}
	return g, nil
}

func checkScored(scores []float64, truth []bool) error {
	if len(scores) != len(truth) {
		return fmt.Errorf("circuits: %d scores but %d ground-truth labels", len(scores), len(truth))
	}
	var pos, neg int
	for i, s := range scores {
		if math.IsNaN(s) {
			return fmt.Errorf("circuits: score %d is NaN", i)
		}
		if truth[i] {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return fmt.Errorf("circuits: ground truth has %d members and %d non-members among %d candidates; need both", pos, neg, len(scores))
	}
	return nil
}

// EvaluateNodes scores node scores (by node name; missing nodes score 0) against a ground-truth
// circuit over the graph's heads and MLPs.
func EvaluateNodes(g *Graph, scores map[string]float64, truth Circuit) (*GroundTruth, error) {
	in := truth.NodeSet()
	var s []float64
	var t []bool
	for _, n := range g.Components() {
		s = append(s, scores[n.String()])
		t = append(t, in[n.String()])
	}
	return Evaluate(s, t)
}

// EvaluateHeads is EvaluateNodes over the graph's heads only, for methods that score no MLP
// (head overlap): an MLP they cannot score would count as a correctly rejected negative, or a
// missed positive, and move the AUC for no reason.
func EvaluateHeads(g *Graph, scores map[string]float64, truth Circuit) (*GroundTruth, error) {
	in := truth.NodeSet()
	var s []float64
	var t []bool
	for _, n := range g.Heads() {
		s = append(s, scores[n.String()])
		t = append(t, in[n.String()])
	}
	return Evaluate(s, t)
}

// EvaluateEdges scores edge scores (by edge name; missing edges score 0) against the ground
// truth's edges over every edge of the graph. When pairs is set, edges are taken without their
// receiver input (q, k, v) and only between heads and MLPs (no embed or logits): candidates are
// the sender-receiver pairs of components, a pair's score the maximum over its inputs, and a
// pair is in the truth when any of its edges is. Methods that score head pairs (head overlap)
// are evaluated that way.
func EvaluateEdges(g *Graph, scores map[string]float64, truth Circuit, pairs bool) (*GroundTruth, error) {
	in := truth.EdgeSet()
	if len(in) == 0 {
		return nil, fmt.Errorf("circuits: the ground truth has no edges")
	}
	var keys []string
	best := map[string]float64{}
	member := map[string]bool{}
	for _, e := range g.Edges {
		k := e.String()
		if pairs {
			if e.From.Kind == Embed || e.To.Kind == Logits {
				continue
			}
			k = e.pair().String()
		}
		sc := scores[e.String()]
		if ps, ok := scores[k]; ok && pairs && ps > sc {
			sc = ps
		}
		if v, seen := best[k]; !seen {
			best[k] = sc
			keys = append(keys, k)
		} else if sc > v {
			best[k] = sc
		}
		member[k] = member[k] || in[e.String()]
	}
	var s []float64
	var t []bool
	for _, k := range keys {
		s = append(s, best[k])
		t = append(t, member[k])
	}
	return Evaluate(s, t)
}
