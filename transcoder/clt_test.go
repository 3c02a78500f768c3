package transcoder

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
)

const eps32 = 1.0 / (1 << 23)

func randFloats(rng *rand.Rand, n int, scale float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64() * scale)
	}
	return out
}

// The loss and its gradients (autodiff, with the JumpReLU straight-through estimator written as
// a value-zero term) equal an independent PyTorch reference in float64, for every architecture.
func TestCLTLossMatchesPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the PyTorch reference under -short")
	}
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import torch").Run(); err != nil {
		t.Skipf("skipping: %s cannot import torch (%v); install Debian's python3-torch", python, err)
	}
	const N, L, DIn, F, D, K = 64, 3, 8, 16, 6, 4
	const coef, tanhScale, bandwidth = 0.3, 2.0, 0.5
	b, _ := model.MustNewBackend("")
	for _, arch := range []sae.Arch{sae.ReLU, sae.JumpReLU, sae.TopK} {
		t.Run(string(arch), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(9, uint64(len(arch))))
			in := map[string]*tensors.Tensor{
				"x": tensors.FromFlatDataAndDimensions(randFloats(rng, N*L*DIn, 1), N, L, DIn),
				"y": tensors.FromFlatDataAndDimensions(randFloats(rng, N*L*D, 1), N, L, D),
			}
			var names []string
			var params []*tensors.Tensor
			for l := range L {
				for _, n := range cltParamNames(arch, l) {
					var v *tensors.Tensor
					switch {
					case strings.HasPrefix(n, "W_enc"):
						v = tensors.FromFlatDataAndDimensions(randFloats(rng, DIn*F, 0.4), DIn, F)
					case strings.HasPrefix(n, "b_enc"):
						v = tensors.FromFlatDataAndDimensions(randFloats(rng, F, 0.2), F)
					case strings.HasPrefix(n, "W_dec"):
						v = tensors.FromFlatDataAndDimensions(randFloats(rng, F*(L-l)*D, 0.3), F, L-l, D)
					case strings.HasPrefix(n, "b_dec"):
						v = tensors.FromFlatDataAndDimensions(randFloats(rng, D, 0.2), D)
					default: // thresholds within reach of the pre-activations
						th := make([]float32, F)
						for i := range th {
							th[i] = float32(0.2 + 0.6*rng.Float64())
						}
						v = tensors.FromFlatDataAndDimensions(th, F)
					}
					names, params = append(names, n), append(params, v)
					in[n] = v
				}
			}
			dir := t.TempDir()
			cfg, _ := json.Marshal(map[string]any{"arch": arch, "k": K, "coef": coef, "tanh_scale": tanhScale, "bandwidth": bandwidth})
			if err := model.WriteSafetensors(filepath.Join(dir, "in.safetensors"), in, map[string]string{"cfg": string(cfg)}); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(python, "testdata/torch_clt_ref.py", filepath.Join(dir, "in.safetensors"), filepath.Join(dir, "out.safetensors"))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("torch reference failed: %v\n%s", err, out)
			}
			ref, _, err := model.ReadSafetensors(filepath.Join(dir, "out.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			np := len(params)
			ex, err := graph.NewExec(b, func(in []*graph.Node) []*graph.Node {
				c := graph.Const(in[0].Graph(), float32(coef))
				loss, _ := cltLoss(arch, K, c, tanhScale, bandwidth, in[0], in[1], in[2:])
				return append([]*graph.Node{loss}, graph.Gradient(loss, in[2:]...)...)
			})
			if err != nil {
				t.Fatal(err)
			}
			args := []any{in["x"], in["y"]}
			for _, p := range params {
				args = append(args, p)
			}
			out := ex.MustExec(args...)
			// Every value is a sum over the N rows of products through chains of at most
			// DIn + F*L + L*D multiply-adds: the float32 rounding is within that many epsilons
			// of the largest entry.
			chain := float64(DIn + F*L + L*D)
			check := func(what string, got []float32, want []float32) {
				var scale, worst float64
				for i := range want {
					scale = math.Max(scale, math.Abs(float64(want[i])))
					worst = math.Max(worst, math.Abs(float64(got[i])-float64(want[i])))
				}
				tol := 8 * chain * eps32 * (scale + 1)
				if worst > tol {
					t.Errorf("%s: differs from PyTorch by %g (tolerance %g, largest |value| %g)", what, worst, tol, scale)
				}
				if scale == 0 {
					t.Errorf("%s: the reference is all zero; the check is empty", what)
				}
			}
			check("loss", tensors.MustCopyFlatData[float32](out[0]), tensors.MustCopyFlatData[float32](ref["loss"]))
			for i := range np {
				check("gradient of "+names[i], tensors.MustCopyFlatData[float32](out[1+i]), tensors.MustCopyFlatData[float32](ref["grad_"+names[i]]))
			}
		})
	}
}

// A CLT round-trips through circuit-tracer's layout exactly, with the tensors named and shaped
// as circuit-tracer reads them, and the loader refuses a missing, mis-shaped or unknown tensor
// and a CLT of another model's depth.
func TestCLTFiles(t *testing.T) {
	p := newPlanted(t)
	c := p.m.Config
	for _, arch := range []sae.Arch{sae.JumpReLU, sae.TopK} {
		clt, err := NewRandomCLT(c, CLTSpec{Arch: arch, DSAE: 12, K: 3}, p.m.Backend, 4)
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "clt")
		if err := SaveCLT(clt, dir, sae.Meta{ModelName: "planted", DatasetPath: "random"}); err != nil {
			t.Fatal(err)
		}
		if !IsCLTDir(dir) {
			t.Fatal("IsCLTDir: false for a saved CLT")
		}
		got, meta, err := LoadCLT(dir, c, p.m.Backend)
		if err != nil {
			t.Fatal(err)
		}
		if meta.ModelName != "planted" || meta.DatasetPath != "random" || got.Config().Arch != arch || got.Config().K != clt.Config().K {
			t.Errorf("%s: read back %+v, arch %s k %d", arch, meta, got.Config().Arch, got.Config().K)
		}
		for l := range c.NLayers {
			for name, want := range clt.Layers[l].Params {
				if !slices.Equal(got.Layers[l].Flat(name), tensors.MustCopyFlatData[float32](want)) {
					t.Errorf("%s layer %d %s differs after the round trip", arch, l, name)
				}
			}
			if !slices.Equal(got.Dec[l], clt.Dec[l]) {
				t.Errorf("%s layer %d decoders differ after the round trip", arch, l)
			}
		}
		// circuit-tracer's names and shapes: W_enc_l [F, D], W_dec_l [F, L-l, D].
		enc, _, err := model.ReadSafetensors(filepath.Join(dir, "W_enc_1.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		if dims := enc["W_enc_1"].Shape().Dimensions; dims[0] != 12 || dims[1] != c.DModel {
			t.Errorf("W_enc_1 has shape %v, want [12 %d]", dims, c.DModel)
		}
		if _, ok := enc["threshold_1"]; ok != (arch == sae.JumpReLU) {
			t.Errorf("%s: threshold_1 present = %v", arch, ok)
		}
		dec, _, err := model.ReadSafetensors(filepath.Join(dir, "W_dec_0.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		if dims := dec["W_dec_0"].Shape().Dimensions; len(dims) != 3 || dims[0] != 12 || dims[1] != c.NLayers || dims[2] != c.DModel {
			t.Errorf("W_dec_0 has shape %v, want [12 %d %d]", dims, c.NLayers, c.DModel)
		}
		yml, _ := os.ReadFile(filepath.Join(dir, CLTConfigFile))
		for _, want := range []string{"model_kind: cross_layer_transcoder", "feature_input_hook: ln2.hook_normalized", "feature_output_hook: hook_mlp_out"} {
			if !strings.Contains(string(yml), want) {
				t.Errorf("config.yaml lacks %q:\n%s", want, yml)
			}
		}
	}

	// Bad folders.
	clt, _ := NewRandomCLT(c, CLTSpec{Arch: sae.ReLU, DSAE: 12}, p.m.Backend, 5)
	bad := func(name string, edit func(dir string), want string) {
		t.Helper()
		dir := filepath.Join(t.TempDir(), name)
		if err := SaveCLT(clt, dir, sae.Meta{}); err != nil {
			t.Fatal(err)
		}
		edit(dir)
		if _, _, err := LoadCLT(dir, c, p.m.Backend); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", name, err, want)
		}
	}
	rewrite := func(dir, file string, edit func(map[string]*tensors.Tensor)) {
		ts, _, err := model.ReadSafetensors(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		edit(ts)
		if err := model.WriteSafetensors(filepath.Join(dir, file), ts, nil); err != nil {
			t.Fatal(err)
		}
	}
	bad("missing", func(dir string) {
		rewrite(dir, "W_enc_1.safetensors", func(ts map[string]*tensors.Tensor) { delete(ts, "b_enc_1") })
	}, "missing tensor b_enc_1")
	bad("shape", func(dir string) {
		rewrite(dir, "W_dec_1.safetensors", func(ts map[string]*tensors.Tensor) {
			ts["W_dec_1"] = tensors.FromFlatDataAndDimensions(make([]float32, 12*2*c.DModel), 12, 2, c.DModel)
		})
	}, "W_dec_1 has shape [12 2 32], want [12 1 32]")
	bad("unknown", func(dir string) {
		rewrite(dir, "W_enc_0.safetensors", func(ts map[string]*tensors.Tensor) {
			ts["W_skip_0"] = tensors.FromFlatDataAndDimensions(make([]float32, 4), 4)
		})
	}, "unexpected tensor W_skip_0")
	bad("deeper", func(dir string) {
		for _, f := range []string{"W_enc", "W_dec"} {
			data, _ := os.ReadFile(filepath.Join(dir, f+"_1.safetensors"))
			os.WriteFile(filepath.Join(dir, f+"_2.safetensors"), data, 0o644)
		}
	}, "W_enc_2.safetensors: the model has 2 layers")
	bad("width", func(dir string) {
		rewrite(dir, "W_enc_0.safetensors", func(ts map[string]*tensors.Tensor) {
			ts["W_enc_0"] = tensors.FromFlatDataAndDimensions(make([]float32, 12*7), 12, 7)
		})
	}, "W_enc_0 reads 7 values")
}

// Trained on the planted model, a CLT reconstructs both MLP outputs (fraction of variance
// unexplained under 0.1 on fresh rows, measured in the model's units after folding the
// normalisation into the weights), and its decoders into layer 1 from layer-0 latents carry
// part of layer 1's output.
func TestTrainCLTOnPlanted(t *testing.T) {
	p := newPlanted(t)
	clt, log, err := TrainCLT(p.m, randomTokens(5, plCtx), CLTSpec{Arch: sae.JumpReLU, DSAE: 4 * plM},
		CLTTrainOptions{Steps: 300, Batch: 512, LR: 3e-3, Normalize: true, SeqBatch: 64, Buffer: 4096})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first step %+v, last %+v", log[0], log[len(log)-1])
	if last := log[len(log)-1]; last.FVU > 0.1 || last.L0 > float64(4*plM)/2 {
		t.Errorf("after 300 steps: FVU %.3f, L0 %.1f", last.FVU, last.L0)
	}
	// Fresh rows, raw units.
	rows := &cltRows{m: p.m, src: randomTokens(99, plCtx), ins: []string{clt.Layers[0].Config.Site.Hook, clt.Layers[1].Config.Site.Hook},
		outs: []string{"blocks.0.hook_mlp_out", "blocks.1.hook_mlp_out"}, dIn: plD, dOut: plD, seqBatch: 64}
	if err := rows.fill(); err != nil {
		t.Fatal(err)
	}
	n := len(rows.bx) / (2 * plD)
	for m := range 2 {
		lat := make([][]float32, 2)
		for l := 0; l <= m; l++ {
			x := make([]float32, 0, n*plD)
			for r := range n {
				x = append(x, rows.bx[(r*2+l)*plD:(r*2+l+1)*plD]...)
			}
			f, err := clt.Layers[l].Encode(tensors.FromFlatDataAndDimensions(x, n, plD))
			if err != nil {
				t.Fatal(err)
			}
			lat[l] = tensors.MustCopyFlatData[float32](f)
		}
		recon := clt.Reconstruct(m, lat, n)
		var se, tot float64
		mean := layerMean(rows.by, m, 2, plD)
		for r := range n {
			for d := range plD {
				y := float64(rows.by[(r*2+m)*plD+d])
				se += math.Pow(float64(recon[r*plD+d])-y, 2)
				tot += math.Pow(y-float64(mean[d]), 2)
			}
		}
		t.Logf("layer %d: FVU %.4f on %d fresh rows", m, se/tot, n)
		if se/tot > 0.15 {
			t.Errorf("layer %d: FVU %.3f on fresh rows", m, se/tot)
		}
	}
}

// With the CLT in place of the MLPs, each MLP output of the run is the CLT's reconstruction from
// that run's own MLP inputs, computed on the host.
func TestReplaceCLT(t *testing.T) {
	p := newPlanted(t)
	c := p.m.Config
	for _, arch := range []sae.Arch{sae.ReLU, sae.TopK} {
		clt, err := NewRandomCLT(c, CLTSpec{Arch: arch, DSAE: 20, K: 5}, p.m.Backend, 6)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range clt.Layers { // biases that leave some latents active
			s.Params["b_enc"] = tensors.FromFlatDataAndDimensions(randFloats(rand.New(rand.NewPCG(1, 2)), 20, 0.1), 20)
		}
		set := hooks.New()
		if err := ReplaceCLT(set, c, clt); err != nil {
			t.Fatal(err)
		}
		var names []string
		for l := range c.NLayers {
			names = append(names, clt.Layers[l].Config.Site.Hook, hooks.MLPOut(l))
		}
		toks := [][]int{{1, 5, 9, 13, 2, 7}}
		tt, _ := model.Tokens(toks)
		out, err := p.m.Run(tt, set.Cache(names...))
		if err != nil {
			t.Fatal(err)
		}
		P := len(toks[0])
		lat := make([][]float32, c.NLayers)
		active := 0
		for l := range c.NLayers {
			x := out.Cache.MustGet(clt.Layers[l].Config.Site.Hook)
			f, err := clt.Layers[l].Encode(tensors.FromFlatDataAndDimensions(tensors.MustCopyFlatData[float32](x), P, c.DModel))
			if err != nil {
				t.Fatal(err)
			}
			lat[l] = tensors.MustCopyFlatData[float32](f)
			for _, v := range lat[l] {
				if v != 0 {
					active++
				}
			}
		}
		if active < 5 {
			t.Fatalf("%s: only %d latents active", arch, active)
		}
		for m := range c.NLayers {
			want := clt.Reconstruct(m, lat, P)
			got := tensors.MustCopyFlatData[float32](out.Cache.MustGet(hooks.MLPOut(m)))
			var worst, scale float64
			for i := range want {
				worst = math.Max(worst, math.Abs(float64(want[i]-got[i])))
				scale = math.Max(scale, math.Abs(float64(want[i])))
			}
			// Sums of at most F*(m+1) products of terms up to the largest output.
			if tol := 4 * float64(20*(m+1)+c.DModel) * eps32 * (1 + scale); worst > tol {
				t.Errorf("%s layer %d: replaced output differs from the host reconstruction by %g (tolerance %g)", arch, m, worst, tol)
			}
		}
	}
}

// A CLT whose latents write only into their own layer is a set of per-layer transcoders:
// EvaluateCLT gives what Evaluate gives for its layers. With cross-layer decoders the metrics
// differ, and adding the error back restores the clean loss.
func TestEvaluateCLT(t *testing.T) {
	p := newPlanted(t)
	c := p.m.Config
	clt, err := NewRandomCLT(c, CLTSpec{Arch: sae.ReLU, DSAE: 16}, p.m.Backend, 8)
	if err != nil {
		t.Fatal(err)
	}
	F, D, L := 16, c.DModel, c.NLayers
	for l, s := range clt.Layers { // encoders and decoders of norm about 1, so latents fire and matter
		enc := s.Flat("W_enc")
		for i := range enc {
			enc[i] *= 10
		}
		s.Params["W_enc"] = tensors.FromFlatDataAndDimensions(enc, D, F)
		for i := range clt.Dec[l] {
			clt.Dec[l][i] *= 10
		}
	}
	if clt, err = NewCLT(clt.Layers, clt.Dec); err != nil {
		t.Fatal(err)
	}
	own := make([][]float32, L)
	for l := range L {
		own[l] = slices.Clone(clt.Dec[l])
		for f := range F {
			for j := 1; j < L-l; j++ {
				clear(own[l][(f*(L-l)+j)*D : (f*(L-l)+j+1)*D])
			}
		}
	}
	local, err := NewCLT(clt.Layers, own)
	if err != nil {
		t.Fatal(err)
	}
	opt := EvalOptions{Batches: 2, SeqBatch: 8, SkipBOS: true}
	want, err := Evaluate(p.m, local.Layers, randomTokens(3, plCtx), opt)
	if err != nil {
		t.Fatal(err)
	}
	got, err := EvaluateCLT(p.m, local, randomTokens(3, plCtx), opt)
	if err != nil {
		t.Fatal(err)
	}
	near := func(what string, a, b float64) {
		t.Helper()
		// Two float32 runs of the same arithmetic in different graphs: a few epsilons of the
		// summed terms (losses of a few nats, FVUs of order 1).
		if math.Abs(a-b) > 1e-4*(1+math.Abs(b)) {
			t.Errorf("%s: CLT %g, per-layer %g", what, a, b)
		}
	}
	for l := range L {
		near(fmt.Sprintf("layer %d FVU", l), got.Layers[l].FVU, want.Layers[l].FVU)
		near(fmt.Sprintf("layer %d L0", l), got.Layers[l].L0, want.Layers[l].L0)
		near(fmt.Sprintf("layer %d CE alone", l), got.Layers[l].Alone.CE, want.Layers[l].Alone.CE)
	}
	near("CE all replaced", got.All.CE, want.All.CE)
	near("KL all replaced", got.All.KL, want.All.KL)
	near("CE zero-ablated", got.All.CEZero, want.All.CEZero)

	full, err := EvaluateCLT(p.m, clt, randomTokens(3, plCtx), opt)
	if err != nil {
		t.Fatal(err)
	}
	near("clean CE", full.CEClean, want.CEClean)
	near("CE with the error term", full.All.CEWithError, full.CEClean)
	t.Logf("layer 1 FVU %.4f with the decoders from layer 0, %.4f without; L0 %.2f", full.Layers[1].FVU, got.Layers[1].FVU, full.Layers[0].L0)
	if math.Abs(full.Layers[1].FVU-got.Layers[1].FVU) < 0.05 {
		t.Errorf("layer 1 FVU %g with cross-layer decoders, %g without: the decoders from layer 0 are not read", full.Layers[1].FVU, got.Layers[1].FVU)
	}
}

// LoadCLT never panics on a config.yaml, whatever it holds: it loads or says what is wrong.
func FuzzLoadCLTConfig(f *testing.F) {
	p := newPlanted(f)
	clt, err := NewRandomCLT(p.m.Config, CLTSpec{Arch: sae.JumpReLU, DSAE: 6}, p.m.Backend, 1)
	if err != nil {
		f.Fatal(err)
	}
	base := filepath.Join(f.TempDir(), "clt")
	if err := SaveCLT(clt, base, sae.Meta{ModelName: "planted"}); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(base, CLTConfigFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("model_kind: cross_layer_transcoder\nactivation: topk\nk: -3\n"))
	f.Add([]byte("model_kind: cross_layer_transcoder\nfeature_input_hook: hook_nowhere\n"))
	f.Add([]byte("model_kind: [1, 2\n"))
	f.Add([]byte("n_layers: 99\nmodel_kind: cross_layer_transcoder\n"))
	f.Fuzz(func(t *testing.T, cfg []byte) {
		if err := os.WriteFile(filepath.Join(base, CLTConfigFile), cfg, 0o644); err != nil {
			t.Fatal(err)
		}
		c, _, err := LoadCLT(base, p.m.Config, p.m.Backend)
		if err == nil && c.NLayers() != p.m.Config.NLayers {
			t.Fatalf("loaded a CLT of %d layers for a %d-layer model", c.NLayers(), p.m.Config.NLayers)
		}
	})
}

// TestCLTRowsPrefetch: the rows come from the truncated forward pass, equal to model.Run's cache
// bit for bit, and training with the model running ahead in its own goroutine gives the same CLT,
// bit for bit, as running it only when the buffer needs rows.
func TestCLTRowsPrefetch(t *testing.T) {
	p := newPlanted(t)
	ins := []string{"blocks.0.ln2.hook_normalized", "blocks.1.ln2.hook_normalized"}
	outs := []string{"blocks.0.hook_mlp_out", "blocks.1.hook_mlp_out"}
	rows := &cltRows{m: p.m, src: randomTokens(7, plCtx), ins: ins, outs: outs, dIn: plD, dOut: plD, seqBatch: 8}
	if err := rows.fill(); err != nil {
		t.Fatal(err)
	}
	src := randomTokens(7, plCtx)
	batch, err := src.Tokens(8)
	if err != nil {
		t.Fatal(err)
	}
	tt, err := model.Tokens(batch)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.m.Run(tt, hooks.New().Cache(append(append([]string{}, ins...), outs...)...))
	if err != nil {
		t.Fatal(err)
	}
	for l := range 2 {
		x := tensors.MustCopyFlatData[float32](out.Cache.MustGet(ins[l]))
		y := tensors.MustCopyFlatData[float32](out.Cache.MustGet(outs[l]))
		for r := range len(x) / plD {
			for d := range plD {
				if rows.bx[(r*2+l)*plD+d] != x[r*plD+d] || rows.by[(r*2+l)*plD+d] != y[r*plD+d] {
					t.Fatalf("layer %d row %d dim %d: CLT rows %g %g, model.Run %g %g", l, r, d,
						rows.bx[(r*2+l)*plD+d], rows.by[(r*2+l)*plD+d], x[r*plD+d], y[r*plD+d])
				}
			}
		}
	}
	train := func(noPrefetch bool) *CLT {
		clt, _, err := TrainCLT(p.m, randomTokens(5, plCtx), CLTSpec{Arch: sae.ReLU, DSAE: 2 * plM},
			CLTTrainOptions{Steps: 12, Batch: 128, LR: 3e-3, Normalize: true, SeqBatch: 8, Buffer: 512, NoPrefetch: noPrefetch})
		if err != nil {
			t.Fatal(err)
		}
		return clt
	}
	a, b := train(false), train(true)
	for l := range a.Layers {
		if !slices.Equal(a.Dec[l], b.Dec[l]) {
			t.Fatalf("layer %d: the decoders differ with and without prefetching", l)
		}
		for name, w := range a.Layers[l].Params {
			if !slices.Equal(tensors.MustCopyFlatData[float32](w), tensors.MustCopyFlatData[float32](b.Layers[l].Params[name])) {
				t.Fatalf("layer %d %s differs with and without prefetching", l, name)
			}
		}
	}
}
