package circuits

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/tasks"
)

// The metric every method uses is the logit difference at the scored position of each pair,
//
//	m_i = logit[i, Pos_i, Answer_i] - logit[i, Pos_i, Wrong_i]
//
// (with answer and wrong sets, the mean logit of each set), averaged over the pairs. ACDC can
// use the KL divergence of the clean model's next-token distribution at Pos_i to the current
// one instead.

// MetricKind names the metric ACDC prunes against.
type MetricKind string

const (
	// LogitDiff is the mean logit difference Answer - Wrong at the scored positions.
	LogitDiff MetricKind = "logit-diff"
	// KL is the mean KL divergence KL(clean || current) of the next-token distributions at the
	// scored positions.
	KL MetricKind = "kl"
)

// checkPairs validates a task's pairs against a vocabulary and context length.
func checkPairs(p *tasks.Pairs, vocab, nCtx int) error {
	n := len(p.Clean)
	switch {
	case n == 0:
		return fmt.Errorf("circuits: no clean/corrupted pairs")
	case len(p.Corrupted) != n || len(p.Pos) != n || len(p.Answer) != n || len(p.Wrong) != n:
		return fmt.Errorf("circuits: pairs: %d clean rows but %d corrupted, %d positions, %d answers, %d wrong",
			n, len(p.Corrupted), len(p.Pos), len(p.Answer), len(p.Wrong))
	}
	plen := len(p.Clean[0])
	if plen > nCtx {
		return fmt.Errorf("circuits: pairs: prompts of %d tokens exceed n_ctx %d", plen, nCtx)
	}
	for i := range n {
		if len(p.Clean[i]) != plen || len(p.Corrupted[i]) != plen {
			return fmt.Errorf("circuits: pairs: row %d: clean has %d tokens, corrupted %d, row 0 %d (want equal lengths)",
				i, len(p.Clean[i]), len(p.Corrupted[i]), plen)
		}
		if p.Pos[i] < 0 || p.Pos[i] >= plen {
			return fmt.Errorf("circuits: pairs: row %d: scored position %d outside [0, %d)", i, p.Pos[i], plen)
		}
		for _, id := range append(answers(p, i), wrongs(p, i)...) {
			if id < 0 || id >= vocab {
				return fmt.Errorf("circuits: pairs: row %d: answer or wrong token %d outside the vocabulary [0, %d)", i, id, vocab)
			}
		}
	}
	return nil
}

// answers returns row i's correct tokens (the answer set when there is one).
func answers(p *tasks.Pairs, i int) []int {
	if p.AnswerSets != nil {
		return p.AnswerSets[i]
	}
	return []int{p.Answer[i]}
}

// wrongs returns row i's wrong tokens (the wrong set when there is one).
func wrongs(p *tasks.Pairs, i int) []int {
	if p.WrongSets != nil {
		return p.WrongSets[i]
	}
	return []int{p.Wrong[i]}
}

// logitDiffs returns the logit difference of every row of logits [N, P, V].
func logitDiffs(logits *tensors.Tensor, p *tasks.Pairs) []float64 {
	dims := logits.Shape().Dimensions
	P, V := dims[1], dims[2]
	out := make([]float64, dims[0])
	tensors.MustConstFlatData(logits, func(flat []float32) {
		for i := range out {
			row := flat[(i*P+p.Pos[i%len(p.Pos)])*V:]
			out[i] = meanAt(row, answers(p, i%len(p.Pos))) - meanAt(row, wrongs(p, i%len(p.Pos)))
		}
	})
	return out
}

func meanAt(row []float32, ids []int) float64 {
	var s float64
	for _, id := range ids {
		s += float64(row[id])
	}
	return s / float64(len(ids))
}

// logProbsAt returns the next-token log-probabilities [N][V] at each row's scored position.
func logProbsAt(logits *tensors.Tensor, p *tasks.Pairs) [][]float64 {
	dims := logits.Shape().Dimensions
	P, V := dims[1], dims[2]
	out := make([][]float64, dims[0])
	tensors.MustConstFlatData(logits, func(flat []float32) {
		for i := range out {
			row := flat[(i*P+p.Pos[i%len(p.Pos)])*V : (i*P+p.Pos[i%len(p.Pos)]+1)*V]
			mx := math.Inf(-1)
			for _, v := range row {
				mx = math.Max(mx, float64(v))
			}
			var z float64
			for _, v := range row {
				z += math.Exp(float64(v) - mx)
			}
			lz := mx + math.Log(z)
			lp := make([]float64, V)
			for j, v := range row {
				lp[j] = float64(v) - lz
			}
			out[i] = lp
		}
	})
	return out
}

// klDivs returns KL(ref || cur) per row, for log-probabilities [N][V].
func klDivs(ref, cur [][]float64) []float64 {
	out := make([]float64, len(ref))
	for i := range ref {
		var s float64
		for j, lp := range ref[i] {
			s += math.Exp(lp) * (lp - cur[i][j])
		}
		out[i] = s
	}
	return out
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// metricInputs returns the tensors of the in-graph logit-difference metric for rows of length
// plen: a one-hot of the scored position [N, P] and the answer weights [N, V] (+1/(N |answers|)
// on answers, -1/(N |wrongs|) on wrong tokens), so that the metric is the mean logit difference.
func metricInputs(p *tasks.Pairs, plen, vocab int) []*tensors.Tensor {
	n := len(p.Clean)
	pos := make([]float32, n*plen)
	w := make([]float32, n*vocab)
	for i := range n {
		pos[i*plen+p.Pos[i]] = 1
		for _, a := range answers(p, i) {
			w[i*vocab+a] += 1 / float32(n*len(answers(p, i)))
		}
		for _, b := range wrongs(p, i) {
			w[i*vocab+b] -= 1 / float32(n*len(wrongs(p, i)))
		}
	}
	return []*tensors.Tensor{tensors.FromFlatDataAndDimensions(pos, n, plen), tensors.FromFlatDataAndDimensions(w, n, vocab)}
}

// logitDiffMetric is the mean logit difference as a graph metric over the inputs of
// metricInputs.
var logitDiffMetric hooks.Metric = func(logits *graph.Node, in []*graph.Node) *graph.Node {
	at := graph.DotGeneral(in[0], []int{1}, []int{0}, logits, []int{1}, []int{0}) // [N, V]: logits at Pos
	return graph.ReduceAllSum(graph.Mul(at, in[1]))
}

const logitDiffMetricKey = "circuits.logit-diff"
