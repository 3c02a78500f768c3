package circuits_test

import (
	"fmt"

	"github.com/interp-dev/interp/circuits"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
)

// Node patching on the planted IOI model finds its four circuit heads, scored against the planted
// circuit.
func ExampleDiscover() {
	w, _, err := model.LoadAny("planted-ioi")
	if err != nil {
		panic(err)
	}
	backend, name := model.MustNewBackend("")
	m, err := model.New(w, backend, name)
	if err != nil {
		panic(err)
	}
	planted, _ := circuits.LookupPlanted("planted-ioi")
	task, err := tasks.New(planted.Task, tasks.Options{Vocab: m.Config.DVocab, SeqLen: m.Config.NCtx})
	if err != nil {
		panic(err)
	}
	res, err := circuits.Discover(m, "planted-ioi", task, circuits.Options{Method: circuits.Patching, Examples: 8, Truth: &planted.Circuit})
	if err != nil {
		panic(err)
	}
	fmt.Printf("logit difference: clean %.2f, corrupted %.2f\n", res.CleanMetric, res.CorruptedMetric)
	for _, n := range res.Circuit.Nodes {
		fmt.Printf("head %s: effect %.2f\n", n, res.NodeScores[n.String()])
	}
	gt := res.GroundTruth
	fmt.Printf("ROC AUC %.2f, F1 %.2f, faithfulness %.2f\n", gt.ROCAUC, gt.F1, res.Faithfulness.Score)
	// Output:
	// logit difference: clean 3.58, corrupted 0.00
	// head 0.1: effect 1.34
	// head 1.2: effect 1.34
	// head 2.0: effect 0.67
	// head 2.3: effect 0.33
	// ROC AUC 1.00, F1 1.00, faithfulness 1.00
}

// ROC AUC counts ties half: here the member scoring 0.5 ties with one non-member.
func ExampleROCAUC() {
	scores := []float64{0.9, 0.5, 0.5, 0.1}
	member := []bool{true, true, false, false}
	auc, _ := circuits.ROCAUC(scores, member)
	p, r, f1, t, _ := circuits.MaxF1(scores, member)
	fmt.Printf("AUC %.3f; max F1 %.3f at threshold %.1f (precision %.3f, recall %.3f)\n", auc, f1, t, p, r)
	// Output:
	// AUC 0.875; max F1 0.800 at threshold 0.5 (precision 0.667, recall 1.000)
}
