package train

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
)

const python = "/usr/bin/python3"

// fixedBatch is a task that returns the same batch every step.
type fixedBatch tasks.Batch

func (fixedBatch) Name() string                        { return "fixed" }
func (f fixedBatch) Batch(*rand.Rand, int) tasks.Batch { return tasks.Batch(f) }

// TestMatchesPyTorch trains a small model with LayerNorm and MLPs for 6 AdamW steps (warmup,
// cosine decay, clipping active, weight decay) on one masked batch, and compares the losses,
// gradient norms and final weights with train/testdata/adamw_ref.py (torch.optim.AdamW,
// clip_grad_norm_, float64).
//
// Weights are compared entry by entry within a bound derived from AdamW's arithmetic
// (adamTolerances), so the test holds whichever BLAS kernels the CPU picks.
func TestMatchesPyTorch(t *testing.T) {
	if _, err := os.Stat(python); err != nil {
		t.Skipf("PyTorch reference skipped: %s not found", python)
	}
	if err := exec.Command(python, "-c", "import torch, numpy").Run(); err != nil {
		t.Skipf("PyTorch reference skipped: %s cannot import torch and numpy (install python3-torch)", python)
	}
	c := model.Config{NLayers: 2, DModel: 32, NHeads: 4, DHead: 8, DMLP: 64, NCtx: 16, DVocab: 16,
		Act: model.GeluNew, Normalization: model.LayerNorm, PositionalEmbeddings: true, LNEps: 1e-5}
	w, err := model.NewRandomWeights(c, 5)
	require.NoError(t, err)
	// Non-trivial LayerNorm parameters and biases, so their (undecayed) updates are exercised.
	rng := rand.New(rand.NewPCG(9, 9))
	for _, sp := range model.ParamSpecs(c) {
		if sp.Init <= 0 {
			data := w.Flat(sp.Name)
			for i := range data {
				data[i] += float32(0.1 * rng.NormFloat64())
			}
			w.Tensors[sp.Name] = tensors.FromFlatDataAndDimensions(data, sp.Shape...)
		}
	}
	b, name := model.MustNewBackend("")
	m, err := model.New(w, b, name)
	require.NoError(t, err)

	batch := tasks.Batch{Tokens: make([][]int, 4), LossMask: make([][]bool, 4)}
	for i := range batch.Tokens {
		for p := range 12 {
			batch.Tokens[i] = append(batch.Tokens[i], rng.IntN(16))
			if p < 11 {
				batch.LossMask[i] = append(batch.LossMask[i], rng.IntN(4) != 0)
			}
		}
	}
	cfg := Config{Steps: 6, Batch: 4, SeqLen: 12, LR: 3e-2, WarmupSteps: 2, MinLR: 0.2, WeightDecay: 0.1,
		Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, GradClip: 0.5, Seed: 1, EvalEvery: 1}
	res, err := Run(context.Background(), m, fixedBatch(batch), cfg)
	require.NoError(t, err)

	dir := t.TempDir()
	require.NoError(t, model.WriteHFConfig(c, filepath.Join(dir, "config.json")))
	require.NoError(t, model.WriteSafetensors(filepath.Join(dir, "init.safetensors"), w.Tensors, nil))
	mask := make([][]int, len(batch.LossMask))
	for i, r := range batch.LossMask {
		for _, v := range r {
			mask[i] = append(mask[i], map[bool]int{false: 0, true: 1}[v])
		}
	}
	writeTestJSON(t, filepath.Join(dir, "batch.json"), map[string]any{"tokens": batch.Tokens, "mask": mask})
	writeTestJSON(t, filepath.Join(dir, "run.json"), cfg)
	out, err := exec.Command(python, "testdata/adamw_ref.py", dir).CombinedOutput()
	require.NoError(t, err, "%s", out)
	ref, _, err := model.ReadSafetensors(filepath.Join(dir, "ref.safetensors"))
	require.NoError(t, err)

	losses := toF64(tensors.MustCopyFlatData[float32](ref["losses"])) // written as F64, read as float32
	norms := toF64(tensors.MustCopyFlatData[float32](ref["grad_norms"]))
	require.Len(t, res.Evals, cfg.Steps)
	clipped := 0
	for s, e := range res.Evals {
		require.InDelta(t, losses[s], e.Loss, 2e-5*losses[s], "loss at step %d", s+1)
		require.InDelta(t, norms[s], e.GradNorm, 1e-4*norms[s], "gradient norm at step %d", s+1)
		if norms[s] > cfg.GradClip {
			clipped++
		}
		t.Logf("step %d: loss go %.6f torch %.6f, grad norm go %.6f torch %.6f", s+1, e.Loss, losses[s], e.GradNorm, norms[s])
	}
	require.Positive(t, clipped, "clipping never triggered; the test would not exercise it")
	tols := adamTolerances(t, c, cfg, ref, norms)
	for _, sp := range model.ParamSpecs(c) {
		want := tensors.MustCopyFlatData[float32](ref[sp.Name])
		got := res.Weights.Flat(sp.Name)
		tol := tols[sp.Name]
		worst, worstAt, moved := 0.0, 0, 0.0
		init := w.Flat(sp.Name)
		for i := range want {
			d := math.Abs(float64(want[i] - got[i]))
			if d > tol[i] {
				t.Errorf("%s[%d]: go %.7g torch %.7g, |diff| %.3g > bound %.3g", sp.Name, i, got[i], want[i], d, tol[i])
			}
			if d > worst {
				worst, worstAt = d, i
			}
			moved = math.Max(moved, math.Abs(float64(want[i]-init[i])))
		}
		sorted := slices.Sorted(slices.Values(tol))
		median := sorted[len(sorted)/2]
		t.Logf("%s: max |go - torch| %.3g (bound there %.3g), median bound %.3g, largest %.3g, moved %.3g",
			sp.Name, worst, tol[worstAt], median, sorted[len(sorted)-1], moved)
		// The bounds are loose only where a gradient is rounding noise; for most entries they are
		// far below the distance the weights moved, or the comparison would say nothing.
		if filepath.Ext(sp.Name) != ".b_K" {
			require.Greater(t, moved, 10*median, "%s: the median bound is near the distance moved; the comparison would be vacuous", sp.Name)
		}
	}
}

// adamTolerances bounds, entry by entry, how far float32 AdamW can drift from the float64
// reference, from the arithmetic of the update rather than from one machine's rounding.
//
// The float32 gradient of an entry carries an absolute rounding error of about
// kappa*eps*G_s, where G_s is the largest gradient of the tensor at step s (a gradient entry is a
// sum over the batch's B*P positions of products of the tensor's gradient scale, reached through
// the backward pass's reductions over d_model, d_mlp and positions in each layer and over the
// vocabulary at the loss: kappa = B*P + layers*(D + M + P) + V, the standard n*eps bound summed
// along that chain). Adam's step is scale-free: m/(sqrt(v)+eps) moves by
// about 2*e/sqrt(v) when every gradient in its history moves by e, and by at most twice its own
// bound when e is as large as the gradient itself (entries whose true gradient is ~0, such as
// b_K's, or the QK weights at init, are pure rounding noise that Adam normalises to full-size
// steps; b_K's true gradient is exactly zero, since a key bias shifts all of a query's scores
// equally, so its every step is such noise). Summed over steps with the learning rate, plus the float32 rounding of the weights.
func adamTolerances(t *testing.T, c model.Config, cfg Config, ref map[string]*tensors.Tensor, norms []float64) map[string][]float64 {
	t.Helper()
	const eps32 = 0x1p-23
	kappa := float64(cfg.Batch*cfg.SeqLen + c.NLayers*(c.DModel+c.DMLP+cfg.SeqLen) + c.DVocab)
	out := map[string][]float64{}
	for _, sp := range model.ParamSpecs(c) {
		gt, ok := ref["grad."+sp.Name]
		require.True(t, ok, "reference has no gradients for %s", sp.Name)
		g := toF64(tensors.MustCopyFlatData[float32](gt)) // [steps, n]
		w := toF64(tensors.MustCopyFlatData[float32](ref[sp.Name]))
		n := len(g) / cfg.Steps
		m, v := make([]float64, n), make([]float64, n)
		tol := make([]float64, n)
		for i := range n {
			tol[i] = 4 * eps32 * math.Abs(w[i]) * float64(cfg.Steps)
		}
		for s := range cfg.Steps {
			scale := math.Min(1, cfg.GradClip/norms[s])
			gs := g[s*n : (s+1)*n]
			big := 0.0
			for _, x := range gs {
				big = math.Max(big, math.Abs(x))
			}
			e := kappa * eps32 * big * scale
			if filepath.Ext(sp.Name) == ".b_K" {
				e = math.Inf(1) // its true gradient is exactly zero: every float32 step is noise
			}
			b1t, b2t := 1-math.Pow(cfg.Beta1, float64(s+1)), 1-math.Pow(cfg.Beta2, float64(s+1))
			capStep := 2 * math.Sqrt(float64(s+1)) // |m^/sqrt(v^)| <= sqrt(t) for any history
			for i := range n {
				x := gs[i] * scale
				m[i] = cfg.Beta1*m[i] + (1-cfg.Beta1)*x
				v[i] = cfg.Beta2*v[i] + (1-cfg.Beta2)*x*x
				rms := math.Sqrt(v[i] / b2t)
				tol[i] += cfg.LRAt(s) * math.Min(capStep, 2*e/(b1t*(rms+cfg.Eps))*b1t)
			}
		}
		out[sp.Name] = tol
	}
	return out
}

func writeTestJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o644))
}
