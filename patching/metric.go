package patching

import (
	"fmt"
	"sort"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best dot-imported.
)

// Targets are what a metric compares the logits with, as graph nodes broadcastable against
// logits [G, N, V] (G groups of patch variants, N prompts, V vocabulary).
type Targets struct {
	// AnswerSet and WrongSet [1, N, V] are 1 on each row's answer tokens (one token, or the
	// prompts' AnswerSets) and wrong tokens, 0 elsewhere.
	AnswerSet, WrongSet *Node
	// CleanLogProbs [1, N, V] are the log-probabilities of the unpatched clean run at each row's
	// scored position.
	CleanLogProbs *Node
}

// A Metric scores a run from the logits at each prompt's scored position. Sweeps report the mean
// over prompts, normalised when Normalized is set.
type Metric struct {
	// Name is how the CLI and the results name it ("logit_diff", ...).
	Name string
	// Values maps logits [G, N, V] to one value per (group, prompt) [G, N] inside the graph. It
	// must be differentiable for attribution patching.
	Values func(logits *Node, t Targets) *Node
	// Host, used when Values is nil, computes the value of one prompt's row on the host from its
	// logits [V]: any Go code (a user metric). Sweeps then copy logits out of the graph, which is
	// slower for large vocabularies, and attribution patching is unavailable.
	Host func(logits []float32, prompt int, p *Prompts) float64
	// Normalized rescales scores to (score - corrupted) / (clean - corrupted): 0 is the
	// corrupted run's value, 1 the clean run's.
	Normalized bool
}

// pick is the mean of logits over each row's token set: sum(x * set) / |set|. [G, N]
func pick(x, set *Node) *Node {
	return Div(ReduceSum(Mul(x, set), -1), ReduceSum(set, -1))
}

// setLogProb is the log of the total probability of each row's token set,
// log sum_{v in set} exp(logProbs[v]), computed stably (log 0 = -inf masks the other tokens). [G, N]
func setLogProb(logProbs, set *Node) *Node {
	masked := Add(logProbs, Log(set))                             // [G, N, V], -inf off the set
	top := StopGradient(ReduceAndKeep(masked, ReduceMax, -1))     // [G, N, 1]
	sum := ReduceSum(Exp(Sub(masked, top)), -1)                   // [G, N]
	return Add(Log(sum), Reshape(top, sum.Shape().Dimensions...)) // [G, N]
}

// LogitDiff is logit[answer] - logit[wrong] (with token sets, the mean logit of the answer set
// minus that of the wrong set).
func LogitDiff() Metric {
	return Metric{Name: "logit_diff", Values: func(logits *Node, t Targets) *Node {
		return Sub(pick(logits, t.AnswerSet), pick(logits, t.WrongSet))
	}}
}

// NormLogitDiff is LogitDiff normalised so that the corrupted run scores 0 and the clean run 1.
func NormLogitDiff() Metric {
	m := LogitDiff()
	m.Name, m.Normalized = "norm_logit_diff", true
	return m
}

// AnswerProb is the probability of the answer (of the answer set, summed).
func AnswerProb() Metric {
	return Metric{Name: "prob", Values: func(logits *Node, t Targets) *Node {
		return Exp(setLogProb(LogSoftmax(logits, -1), t.AnswerSet))
	}}
}

// ProbDiff is p(answer set) - p(wrong set), the greater-than study's probability difference.
func ProbDiff() Metric {
	return Metric{Name: "prob_diff", Values: func(logits *Node, t Targets) *Node {
		lp := LogSoftmax(logits, -1)
		return Sub(Exp(setLogProb(lp, t.AnswerSet)), Exp(setLogProb(lp, t.WrongSet)))
	}}
}

// KLToClean is KL(clean || patched) = sum_v p_clean(v) (log p_clean(v) - log p(v)) at the scored
// position: 0 for the clean run.
func KLToClean() Metric {
	return Metric{Name: "kl", Values: func(logits *Node, t Targets) *Node {
		lp := LogSoftmax(logits, -1)
		return ReduceSum(Mul(Exp(t.CleanLogProbs), Sub(t.CleanLogProbs, lp)), -1)
	}}
}

// Loss is the cross-entropy of the answer at the scored position, -log p(answer) (with sets,
// -log p(answer set)).
func Loss() Metric {
	return Metric{Name: "loss", Values: func(logits *Node, t Targets) *Node {
		return Neg(setLogProb(LogSoftmax(logits, -1), t.AnswerSet))
	}}
}

var metrics = map[string]func() Metric{
	"logit_diff": LogitDiff, "norm_logit_diff": NormLogitDiff, "prob": AnswerProb,
	"prob_diff": ProbDiff, "kl": KLToClean, "loss": Loss,
}

// MetricNames lists the built-in metrics.
func MetricNames() []string {
	var out []string
	for n := range metrics {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// MetricByName returns a built-in metric.
func MetricByName(name string) (Metric, error) {
	if f, ok := metrics[name]; ok {
		return f(), nil
	}
	return Metric{}, fmt.Errorf("patching: unknown metric %q (known: %s)", name, strings.Join(MetricNames(), ", "))
}
