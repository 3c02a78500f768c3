package sae

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/model"
)

// The PyTorch reference (testdata/torch_sae_ref.py) implements SAELens's losses with autograd
// and torch.optim.Adam; these tests hold the hand-written gradients and the file format to it.

const python = "/usr/bin/python3"

func needTorch(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping the PyTorch reference under -short")
	}
	if err := exec.Command(python, "-c", "import torch").Run(); err != nil {
		t.Skipf("skipping: %s cannot import torch (%v); install Debian's python3-torch", python, err)
	}
}

func runRef(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(python, append([]string{"testdata/torch_sae_ref.py"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("torch reference failed: %v\n%s", err, out)
	}
}

func randFlat(rng *rand.Rand, n int, scale float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64() * scale)
	}
	return out
}

func maxAbsDiff(a, b []float32) (diff, scale float64) {
	for i := range a {
		diff = max(diff, math.Abs(float64(a[i])-float64(b[i])))
		scale = max(scale, math.Abs(float64(b[i])))
	}
	return diff, scale
}

// TestTrainStepMatchesPyTorch runs three Adam steps of every architecture here and in PyTorch
// from the same tensors and batches (with dead latents for AuxK, the straight-through JumpReLU
// threshold, the norm-scaled L1 and the unit-norm decoder) and compares the tensors.
func TestTrainStepMatchesPyTorch(t *testing.T) {
	needTorch(t)
	for _, arch := range Archs() {
		t.Run(string(arch), func(t *testing.T) {
			c := Config{Arch: arch, DIn: 16, DSAE: 64, K: 4, ApplyBDecToInput: true, Site: Site{Hook: "x"}}
			compareSteps(t, c, arch == TopK || arch == BatchTopK, false)
		})
	}
	// The reference head-overlap SAE (ConstrainUnitNormBoth): plain L1, unit-norm encoder and
	// decoder columns.
	t.Run("relu-unit-norm-both", func(t *testing.T) {
		compareSteps(t, Config{Arch: ReLU, DIn: 16, DSAE: 64, ApplyBDecToInput: true, Site: Site{Hook: "x"}}, false, true)
	})
	// A Matryoshka BatchTopK SAE: prefixes of 16 and 40 of the 64 latents reconstruct on their own.
	t.Run("matryoshka-batchtopk", func(t *testing.T) {
		compareStepsWith(t, Config{Arch: BatchTopK, DIn: 16, DSAE: 64, K: 4, ApplyBDecToInput: true, Site: Site{Hook: "x"}}, true, false, []int{16, 40})
	})
}

// TestTranscoderStepMatchesPyTorch does the same for a skip transcoder (a target of another
// width, no tied b_dec, a trained W_skip).
func TestTranscoderStepMatchesPyTorch(t *testing.T) {
	needTorch(t)
	for _, arch := range []Arch{ReLU, TopK} {
		t.Run(string(arch), func(t *testing.T) {
			c := Config{Arch: arch, DIn: 16, DOut: 10, DSAE: 64, K: 4, Skip: true, Site: Site{Hook: "in"}, Target: Site{Hook: "out"}}
			compareSteps(t, c, false, false)
		})
	}
}

func compareSteps(t *testing.T, c Config, unit, refNorm bool) {
	compareStepsWith(t, c, unit, refNorm, nil)
}

func compareStepsWith(t *testing.T, c Config, unit, refNorm bool, matryoshka []int) {
	b, _ := model.MustNewBackend("")
	const n, steps, window = 128, 3, 1000
	din, dsae, dout := c.DIn, c.DSAE, c.Out()
	arch := c.Arch
	rng := rand.New(rand.NewPCG(7, uint64(len(arch))))
	coef := map[Arch]float64{ReLU: 0.1, JumpReLU: 0.5, TopK: 1, BatchTopK: 1, Gated: 0.1}[arch]
	opt := TrainOptions{Steps: steps, Batch: n, LR: 3e-3, WarmupSteps: steps, Sparsity: coef, Bandwidth: 0.2,
		DeadWindow: window, UnitNormDecoder: unit, ConstrainUnitNormBoth: refNorm, MatryoshkaWidths: matryoshka, AuxKCoef: 0.5, Init: InitOptions{Seed: 3, Threshold: 0.02}}
	tr, err := NewTrainer(c, b, opt)
	if err != nil {
		t.Fatal(err)
	}
	// Non-trivial biases and skip, and 40 latents dead from the start.
	if arch == Gated {
		tr.setParam("b_gate", tensors.FromFlatDataAndDimensions(randFlat(rng, dsae, 0.05), dsae))
		tr.setParam("r_mag", tensors.FromFlatDataAndDimensions(randFlat(rng, dsae, 0.2), dsae))
		tr.setParam("b_mag", tensors.FromFlatDataAndDimensions(randFlat(rng, dsae, 0.05), dsae))
	} else {
		tr.setParam("b_enc", tensors.FromFlatDataAndDimensions(randFlat(rng, dsae, 0.05), dsae))
	}
	tr.setParam("b_dec", tensors.FromFlatDataAndDimensions(randFlat(rng, dout, 0.1), dout))
	if c.Skip {
		tr.setParam("W_skip", tensors.FromFlatDataAndDimensions(randFlat(rng, dout*din, 0.1), dout, din))
	}
	since := make([]int64, dsae)
	for j := range 40 {
		since[j] = window
	}
	copy(tr.sinceFire, since)
	init := map[string]*tensors.Tensor{}
	for i, s := range tr.spec {
		init[s.Name] = tensors.FromFlatDataAndDimensions(tensors.MustCopyFlatData[float32](tr.params[i]), s.Shape...)
	}
	data := NewSynthetic(din, 48, 3, 5)
	mix := randFlat(rng, din*dout, 0.3) // targets: a fixed linear map of the inputs
	var xs, ys []float32
	for range steps {
		x, _, _ := data.Next(n)
		var y []float32
		if c.Skip {
			y = make([]float32, n*dout)
			for r := range n {
				for o := range dout {
					for i := range din {
						y[r*dout+o] += x[r*din+i] * mix[i*dout+o]
					}
				}
			}
		}
		if _, err := tr.Step(x, y); err != nil {
			t.Fatal(err)
		}
		xs, ys = append(xs, x...), append(ys, y...)
	}

	dir := t.TempDir()
	in := filepath.Join(dir, "in.safetensors")
	var lrs []float64
	for s := range steps {
		lrs = append(lrs, tr.lr(s))
	}
	archName := string(arch)
	if arch == ReLU {
		archName = "standard"
	}
	o, _ := json.Marshal(map[string]any{"architecture": archName, "k": c.K, "apply_b_dec_to_input": c.ApplyBDecToInput,
		"lr": lrs, "coef": coef, "bandwidth": opt.Bandwidth, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
		"aux_coef": opt.AuxKCoef, "dead_window": window, "unit_norm": unit, "ref_norm": refNorm, "matryoshka": matryoshka})
	init["x"] = tensors.FromFlatDataAndDimensions(xs, steps, n, din)
	if c.Skip {
		init["y"] = tensors.FromFlatDataAndDimensions(ys, steps, n, dout)
	}
	init["since_fire"] = tensors.FromFlatDataAndDimensions(since, dsae)
	if err := model.WriteSafetensors(in, init, map[string]string{"cfg": string(o)}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.safetensors")
	runRef(t, "step", in, out)
	want, _, err := model.ReadSafetensors(out)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range tr.spec {
		got := tensors.MustCopyFlatData[float32](tr.params[i])
		w := tensors.MustCopyFlatData[float32](want[s.Name])
		moved, _ := maxAbsDiff(tensors.MustCopyFlatData[float32](init[s.Name]), w)
		diff, scale := maxAbsDiff(got, w)
		t.Logf("%s: max |go - torch| %.2g (max |torch| %.2g, moved %.2g)", s.Name, diff, scale, moved)
		if diff > 1e-5*max(1, scale) {
			t.Errorf("%s differs from PyTorch by %.3g", s.Name, diff)
		}
		if moved == 0 {
			t.Errorf("%s did not move in three steps: the comparison exercises nothing", s.Name)
		}
	}
}

// TestEncodeFromFilesMatchesPyTorch saves every architecture in the SAELens layout and has the
// PyTorch reference load the files and encode/decode the same rows.
func TestEncodeFromFilesMatchesPyTorch(t *testing.T) {
	needTorch(t)
	b, _ := model.MustNewBackend("")
	rng := rand.New(rand.NewPCG(11, 11))
	for _, arch := range Archs() {
		t.Run(string(arch), func(t *testing.T) {
			c := Config{Arch: arch, DIn: 12, DSAE: 40, K: 6, ApplyBDecToInput: arch != JumpReLU, Site: Site{Hook: "blocks.0.hook_resid_post"}}
			s, err := NewRandom(c, b, InitOptions{Seed: 6, DecoderNorm: 1})
			if err != nil {
				t.Fatal(err)
			}
			if arch == Gated {
				s.Params["b_gate"] = tensors.FromFlatDataAndDimensions(randFlat(rng, 40, 0.2), 40)
				s.Params["r_mag"] = tensors.FromFlatDataAndDimensions(randFlat(rng, 40, 0.3), 40)
				s.Params["b_mag"] = tensors.FromFlatDataAndDimensions(randFlat(rng, 40, 0.2), 40)
			} else {
				s.Params["b_enc"] = tensors.FromFlatDataAndDimensions(randFlat(rng, 40, 0.2), 40)
			}
			s.Params["b_dec"] = tensors.FromFlatDataAndDimensions(randFlat(rng, 12, 0.2), 12)
			if c.HasThreshold() {
				s.Params["threshold"] = tensors.FromFlatDataAndDimensions(randFlat(rng, 40, 0.4), 40)
			}
			dir := t.TempDir()
			if err := Save(s, filepath.Join(dir, "sae")); err != nil {
				t.Fatal(err)
			}
			const n = 50
			xs := randFlat(rng, n*12, 1)
			x := tensors.FromFlatDataAndDimensions(xs, n, 12)
			in, out := filepath.Join(dir, "x.safetensors"), filepath.Join(dir, "out.safetensors")
			if err := model.WriteSafetensors(in, map[string]*tensors.Tensor{"x": x}, nil); err != nil {
				t.Fatal(err)
			}
			runRef(t, "encode", filepath.Join(dir, "sae"), in, out)
			want, _, err := model.ReadSafetensors(out)
			if err != nil {
				t.Fatal(err)
			}
			loaded, err := Load(filepath.Join(dir, "sae"), b)
			if err != nil {
				t.Fatal(err)
			}
			f, err := loaded.Encode(x)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := loaded.Reconstruct(x)
			if err != nil {
				t.Fatal(err)
			}
			active := 0
			for _, v := range tensors.MustCopyFlatData[float32](want["f"]) {
				if v > 0 {
					active++
				}
			}
			if active == 0 {
				t.Fatal("no latent is active in the reference: the test exercises nothing")
			}
			for name, got := range map[string]*tensors.Tensor{"f": f, "recon": rec} {
				d, scale := maxAbsDiff(tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](want[name]))
				if d > 1e-5*max(1, scale) {
					t.Errorf("%s differs from PyTorch by %.3g (scale %.3g)", name, d, scale)
				}
			}
		})
	}
}
