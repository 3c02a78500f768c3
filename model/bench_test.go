package model

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/fastcpu"
	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/internal/memstat"
)

// Benchmarks for docs/PERFORMANCE.md; the PyTorch side is bench/torch_forward.py, and
// bench/run.sh runs both in one go. Each forward caches every resid hook, as the PyTorch
// reference keeps every resid tensor.

func gpt2SmallRandom(b *testing.B) *Model {
	c := GPT2Small()
	return testModel(b, c, 0)
}

func residCache(c Config) *hooks.Set {
	return hooks.New().CacheFilter("resid", func(n string) bool { return strings.Contains(n, "hook_resid_") })
}

// gpt2ForwardFLOPs counts the forward pass's matmul FLOPs, as bench/torch_forward.py does.
func forwardFLOPs(c Config, batch, pos int) float64 {
	n := float64(batch * pos)
	D, M, V, H, K := float64(c.DModel), float64(c.DMLP), float64(c.DVocab), float64(c.NHeads), float64(c.DHead)
	perLayer := 2 * n * (3*D*H*K + H*K*D)
	if c.HasMLP() {
		perLayer += 2 * n * 2 * D * M
	}
	perLayer += 2 * 2 * float64(batch) * H * float64(pos*pos) * K
	return float64(c.NLayers)*perLayer + 2*n*D*V
}

func benchForward(b *testing.B, m *Model, batch, pos int) {
	tok := randTokens(b, batch, pos, m.Config.DVocab, 1)
	set := residCache(m.Config)
	if _, err := m.Run(tok, set); err != nil { // compile outside the timer
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Run(tok, set); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(forwardFLOPs(m.Config, batch, pos)/sec/1e9, "GFLOP/s")
	b.ReportMetric(sec*1e3, "ms/forward")
}

// BenchmarkForwardGPT2Small: 12 layers, d_model 768, batch 8 x pos 128, resid cache.
func BenchmarkForwardGPT2Small(b *testing.B) {
	benchForward(b, gpt2SmallRandom(b), 8, 128)
}

// BenchmarkForwardAttnOnly2L: 2-layer attention-only d_model 64, 8 heads, vocab 512, batch 32 x pos 64.
func BenchmarkForwardAttnOnly2L(b *testing.B) {
	benchForward(b, testModel(b, AttnOnlyToy(2, 8, 64, 512, 64), 0), 32, 64)
}

// BenchmarkMatMul measures the backend's own matmul throughput on the forward pass's shapes
// ([N, D] x [D, out] with N = 8*128 tokens), the ceiling the forward pass is compared with.
func BenchmarkMatMul(b *testing.B) {
	for _, sh := range [][3]int{{1024, 768, 768}, {1024, 768, 3072}, {1024, 3072, 768}, {1024, 768, 50257}} {
		b.Run(fmt.Sprintf("%dx%dx%d", sh[0], sh[1], sh[2]), func(b *testing.B) {
			backend, _ := MustNewBackend("")
			exec := graph.MustNewExec(backend, func(x, w *graph.Node) *graph.Node {
				return graph.DotGeneral(x, []int{1}, nil, w, []int{0}, nil)
			})
			x := tensors.FromShape(shapes.Make(dtypes.Float32, sh[0], sh[1]))
			w := tensors.FromShape(shapes.Make(dtypes.Float32, sh[1], sh[2]))
			exec.MustExec(x, w)
			b.ResetTimer()
			for b.Loop() {
				exec.MustExec(x, w)
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(2*float64(sh[0]*sh[1]*sh[2])/sec/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkBackwardGPT2Small runs the gradient of a logit difference with respect to every
// resid_pre of a GPT-2-small-shaped model at batch 8 x pos 128, and reports the process's peak
// resident memory (VmHWM): the efficient DotGeneral VJP keeps it to a few GB.
func BenchmarkBackwardGPT2Small(b *testing.B) {
	m := gpt2SmallRandom(b)
	tok := randTokens(b, 8, 128, m.Config.DVocab, 1)
	var names []string
	for l := range m.Config.NLayers {
		names = append(names, hooks.ResidPre(l))
	}
	metric := func(logits *graph.Node, _ []*graph.Node) *graph.Node {
		return graph.ReduceAllSum(graph.Slice(logits, graph.AxisRange(), graph.AxisElem(-1), graph.AxisRange(0, 2)))
	}
	set := hooks.New().Grad("sum-last-2", metric, names)
	if _, err := m.Run(tok, set); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := m.Run(tok, set); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1e3, "ms/fwd+bwd")
	b.ReportMetric(memstat.PeakRSSGiB(), "peak-GiB")
}

// TestMain prints fastcpu's per-op time table after benchmarks run with INTERP_PROFILE_OPS=1.
func TestMain(m *testing.M) {
	code := m.Run()
	fastcpu.WriteOpTimes(os.Stderr)
	os.Exit(code)
}

// trainStepExec builds one SGD training step of the model as a single graph: next-token
// cross-entropy over all positions, gradients with respect to every weight, and the update.
// It returns the loss and the new weights.
func trainStepExec(b *testing.B, m *Model, lr float64) *graph.Exec {
	specs := ParamSpecs(m.Config)
	exec, err := graph.NewExec(m.Backend, func(inputs []*graph.Node) []*graph.Node {
		tokens := inputs[0]
		p := Params{}
		var ws []*graph.Node
		for i, s := range specs {
			p[s.Name] = inputs[1+i]
			ws = append(ws, inputs[1+i])
		}
		logits := Forward(m.Config, p, tokens, nil) // [B, P, V]
		dims := logits.Shape().Dimensions
		B, P, V := dims[0], dims[1], dims[2]
		pred := graph.Slice(logits, graph.AxisRange(), graph.AxisRange(0, P-1), graph.AxisRange()) // [B, P-1, V]
		target := graph.Slice(tokens, graph.AxisRange(), graph.AxisRange(1, P))                    // [B, P-1]
		logp := graph.LogSoftmax(pred, -1)                                                         // [B, P-1, V]
		onehot := graph.OneHot(target, V, logp.DType())                                            // [B, P-1, V]
		loss := graph.DivScalar(graph.Neg(graph.ReduceAllSum(graph.Mul(logp, onehot))), float64(B*(P-1)))
		grads := graph.Gradient(loss, ws...)
		outs := []*graph.Node{loss}
		for i, w := range ws {
			outs = append(outs, graph.Sub(w, graph.MulScalar(grads[i], lr)))
		}
		return outs
	})
	if err != nil {
		b.Fatal(err)
	}
	return exec
}

// BenchmarkTrainStepAttnOnly2L: one SGD step (forward, cross-entropy, backward through every
// weight, update) of the 2-layer attention-only model of the induction-head studies: d_model 64,
// 8 heads, vocab 64, batch 32 x pos 64. PyTorch side: bench/torch_train_step.py.
func BenchmarkTrainStepAttnOnly2L(b *testing.B) {
	m := testModel(b, AttnOnlyToy(2, 8, 64, 64, 64), 0)
	exec := trainStepExec(b, m, 1e-3)
	tok := randTokens(b, 32, 64, 64, 1)
	args := []any{tok}
	for _, s := range ParamSpecs(m.Config) {
		args = append(args, m.Weights.Tensors[s.Name])
	}
	if _, err := exec.Exec(args...); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		outs, err := exec.Exec(args...)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range outs {
			o.FinalizeAll()
		}
	}
	b.StopTimer()
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1e3, "ms/step")
}

// BenchmarkSoftmax: softmax over the last axis of a [32, 8, 64, 64] float32 tensor (the toy
// model's attention pattern).
func BenchmarkSoftmax(b *testing.B) {
	backend, _ := MustNewBackend("")
	exec := graph.MustNewExec(backend, func(x *graph.Node) *graph.Node { return graph.Softmax(x, -1) })
	x := tensors.FromShape(shapes.Make(dtypes.Float32, 32, 8, 64, 64))
	exec.MustExec(x)[0].FinalizeAll() // compile; steady state from here (the output's memory is reused)
	b.ResetTimer()
	for b.Loop() {
		exec.MustExec(x)[0].FinalizeAll()
	}
	b.StopTimer()
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1e3, "ms")
}
