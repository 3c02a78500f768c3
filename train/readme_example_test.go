package train_test

import (
	"context"
	"fmt"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
	"github.com/interp-dev/interp/train"
)

// Example_readme is the Go API snippet of README.md, compiled and run, so that it cannot drift:
// run the embedded default model with a cache and a zero-ablation, then train a fresh 2-layer
// attention-only model with layer 0's heads 0 and 1 clamped to previous-token patterns.
func Example_readme() {
	w, _, err := model.LoadAny("ioi-toy") // a built-in name, or a Hugging Face GPT-2 folder
	if err != nil {
		panic(err)
	}
	backend, name, err := model.NewBackend("") // XLA if installed, else fastcpu
	if err != nil {
		panic(err)
	}
	m, err := model.New(w, backend, name)
	if err != nil {
		panic(err)
	}
	tok := tasks.IOITokenizer() // ioi-toy's word-level vocabulary
	ids, err := tok.Encode("When Mary and John went to the store , John gave a drink to")
	if err != nil {
		panic(err)
	}
	tokens, _ := model.Tokens([][]int{ids})
	out, err := m.Run(tokens, hooks.New().
		Cache(hooks.Pattern(0), hooks.ResidPost(1)).
		Zero(hooks.AttnOut(0)))
	if err != nil {
		panic(err)
	}
	pattern := out.Cache.MustGet(hooks.Pattern(0)) // [batch, head, query_pos, key_pos]
	fmt.Println("pattern:", pattern.Shape().Dimensions)

	// Clamped training: layer 0's heads 0 and 1 held to a perfect previous-token pattern at every step.
	toy, err := model.NewRandomWeights(model.AttnOnlyToy(2, 8, 64, 64, 64), 0) // layers, heads, d_model, vocab, n_ctx
	if err != nil {
		panic(err)
	}
	fresh, err := model.New(toy, backend, name)
	if err != nil {
		panic(err)
	}
	task, err := tasks.New("induction", tasks.Options{Vocab: 64, SeqLen: 64})
	if err != nil {
		panic(err)
	}
	prev, err := train.ParseClamp("blocks.0.attn.hook_pattern[head=0,1]=prev-token") // or train.Clamp{...}
	if err != nil {
		panic(err)
	}
	cfg := train.DefaultConfig()
	cfg.Steps, cfg.EvalEvery = 10, 5                                    // the default is 2000 steps
	res, err := train.Run(context.Background(), fresh, task, cfg, prev) // res.PhaseChange, res.Evals, res.Weights
	if err != nil {
		panic(err)
	}
	fmt.Println("steps:", res.Steps, "evaluations:", len(res.Evals))
	// Output:
	// pattern: [1 4 14 14]
	// steps: 10 evaluations: 2
}
