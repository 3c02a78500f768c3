package train_test

import (
	"context"
	"fmt"
	"slices"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
	"github.com/interp-dev/interp/train"
)

// Train a tiny attention-only model on repeated random tokens for 20 steps with two clamps:
// layer 0's heads 0 and 1 forced to a perfect previous-token pattern, and layer 1's head 3
// zero-ablated. The clamped heads' query weights get no gradient.
func Example() {
	w, _ := model.NewRandomWeights(model.AttnOnlyToy(2, 4, 32, 16, 16), 1)
	backend, name := model.MustNewBackend("")
	m, _ := model.New(w, backend, name)
	task, _ := tasks.New("induction", tasks.Options{Vocab: 16, SeqLen: 15})

	prev, _ := train.ParseClamp("blocks.0.attn.hook_pattern[head=0,1]=prev-token")
	ablate := train.Clamp{Hook: hooks.Z(1), Heads: []int{3}, Value: train.Zero()}

	cfg := train.DefaultConfig()
	cfg.Steps, cfg.Batch, cfg.SeqLen, cfg.LR, cfg.WarmupSteps, cfg.EvalEvery = 20, 8, 15, 1e-2, 2, 10
	cfg.WeightDecay = 0
	res, err := train.Run(context.Background(), m, task, cfg, prev, ablate)
	if err != nil {
		panic(err)
	}
	first, last := res.Evals[0], res.Evals[len(res.Evals)-1]
	headQ := func(w *model.Weights, h int) []float32 { // W_Q of layer 0, head h: [D, K]
		n := w.Config.DModel * w.Config.DHead
		return w.Flat("blocks.0.attn.W_Q")[h*n : (h+1)*n]
	}
	fmt.Println("clamps:", prev, "and", ablate)
	fmt.Println("steps:", res.Steps, "evaluations:", len(res.Evals))
	fmt.Println("evaluation loss went down:", last.EvalLoss < first.EvalLoss)
	fmt.Println("clamped head 0 W_Q unchanged:", slices.Equal(headQ(w, 0), headQ(res.Weights, 0)))
	fmt.Println("free head 2 W_Q unchanged:", slices.Equal(headQ(w, 2), headQ(res.Weights, 2)))
	// A perfect previous-token head scores 14/15: query 0 has no previous token.
	fmt.Printf("layer 0 head 0 previous-token score: %.2f\n", last.PrevToken[0][0])
	// Output:
	// clamps: blocks.0.attn.hook_pattern[head=0,1]=prev-token and blocks.1.attn.hook_z[head=3]=zero
	// steps: 20 evaluations: 2
	// evaluation loss went down: true
	// clamped head 0 W_Q unchanged: true
	// free head 2 W_Q unchanged: false
	// layer 0 head 0 previous-token score: 0.93
}
