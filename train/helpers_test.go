package train

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
)

// tinyModel is a 2-layer attention-only model small enough for unit tests (d_model 32, 4 heads,
// vocab 16, n_ctx 16) with seeded random weights, on the default backend.
func tinyModel(t testing.TB, seed uint64) *model.Model {
	t.Helper()
	w, err := model.NewRandomWeights(model.AttnOnlyToy(2, 4, 32, 16, 16), seed)
	require.NoError(t, err)
	b, name := model.MustNewBackend("")
	m, err := model.New(w, b, name)
	require.NoError(t, err)
	return m
}

func inductionTask(t testing.TB, vocab, seqLen int) tasks.Task {
	t.Helper()
	task, err := tasks.New("induction", tasks.Options{Vocab: vocab, SeqLen: seqLen})
	require.NoError(t, err)
	return task
}

// tinyConfig trains the tiny model for a few steps without writing files.
func tinyConfig(steps int) Config {
	cfg := DefaultConfig()
	cfg.Steps, cfg.Batch, cfg.SeqLen = steps, 8, 15
	cfg.WarmupSteps, cfg.EvalEvery, cfg.CheckpointEvery = 2, 5, 0
	cfg.LR = 1e-2
	return cfg
}

// cancelAfter wraps a task and cancels ctx when the batch of step n (0-based) is requested.
type cancelAfter struct {
	Task
	calls, n int
	cancel   func()
}

func (c *cancelAfter) Batch(rng *rand.Rand, batch int) tasks.Batch {
	// checkedBatch draws step 0's batch once more before training, to learn the sequence length.
	c.calls++
	if c.calls == c.n+2 {
		c.cancel()
	}
	return c.Task.Batch(rng, batch)
}

// clampedRun runs the clamped forward pass of m on rows (the plan's reference rows appended) and
// returns the named activations of the batch rows and the logits, as float32 host slices.
func clampedRun(t testing.TB, m *model.Model, rows [][]int, clamps []Clamp, names ...string) (map[string][]float32, []float32) {
	t.Helper()
	plan, err := newClampPlan(m.Config, len(rows[0]), clamps)
	require.NoError(t, err)
	require.NoError(t, plan.moveTo(m.Backend))
	specs := model.ParamSpecs(m.Config)
	exec, err := graph.NewExec(m.Backend, func(in []*graph.Node) []*graph.Node {
		p := model.Params{}
		for i, sp := range specs {
			p[sp.Name] = in[1+i]
		}
		logits, outs := plan.forward(p, in[0], len(rows), in[1+len(specs):], names...)
		res := []*graph.Node{graph.SliceAxis(logits, 0, graph.AxisRange(0, len(rows)))}
		for _, n := range outs.Nodes {
			res = append(res, graph.SliceAxis(n, 0, graph.AxisRange(0, len(rows))))
		}
		return res
	})
	require.NoError(t, err)
	tok, err := model.Tokens(plan.withRefRows(rows))
	require.NoError(t, err)
	args := []any{tok}
	for _, sp := range specs {
		args = append(args, m.Weights.Tensors[sp.Name])
	}
	for _, x := range plan.inputs {
		args = append(args, x)
	}
	outs, err := exec.Exec(args...)
	require.NoError(t, err)
	got := map[string][]float32{}
	for i, n := range names {
		got[n] = tensors.MustCopyFlatData[float32](outs[1+i])
	}
	return got, tensors.MustCopyFlatData[float32](outs[0])
}

// testRows are fixed token rows with repeats (for the induction pattern).
func testRows() [][]int {
	return [][]int{
		{0, 3, 5, 7, 3, 5, 9, 9, 2},
		{0, 1, 2, 3, 4, 5, 6, 7, 8},
		{0, 4, 4, 4, 6, 4, 6, 1, 6},
	}
}
