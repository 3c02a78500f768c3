package sae

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/model"
)

// TestRecoversSyntheticFeatures trains each architecture on rows built from 64 known unit
// directions in 32 dimensions (about 3 active per row, magnitudes in [0.5, 1.5]) and requires
// the mean over the true directions of the best cosine with a decoder row to be at least 0.9.
func TestRecoversSyntheticFeatures(t *testing.T) {
	b, _ := model.MustNewBackend("")
	cases := []struct {
		arch     Arch
		sparsity float64
	}{
		{ReLU, 0.5},
		{TopK, 0},
		{BatchTopK, 0},
		{JumpReLU, 0.05},
	}
	for _, tc := range cases {
		t.Run(string(tc.arch), func(t *testing.T) {
			data := NewSynthetic(32, 64, 3, 1)
			c := Config{Arch: tc.arch, DIn: 32, DSAE: 256, K: 4, ApplyBDecToInput: true, Site: Site{Hook: "synthetic"}}
			unit := tc.arch == TopK || tc.arch == BatchTopK
			tr, err := NewTrainer(c, b, TrainOptions{Steps: 600, Batch: 512, LR: 3e-3, Sparsity: tc.sparsity,
				UnitNormDecoder: unit, DeadWindow: 512 * 50, Init: InitOptions{EncoderFromDecoder: true, Seed: 2}})
			if err != nil {
				t.Fatal(err)
			}
			if err := tr.Train(data); err != nil {
				t.Fatal(err)
			}
			rec, err := data.Recovery(tr.SAE())
			if err != nil {
				t.Fatal(err)
			}
			last := tr.Log[len(tr.Log)-1]
			t.Logf("%s: mean max cosine %.4f, mse %.4f, l0 %.2f, dead %d", tc.arch, rec, last.MSE, last.L0, last.Dead)
			if rec < 0.9 {
				t.Errorf("%s recovers the true features with mean max cosine %.4f, want >= 0.9", tc.arch, rec)
			}
			if first := tr.Log[0]; last.MSE >= first.MSE {
				t.Errorf("mse did not fall: %.4f -> %.4f", first.MSE, last.MSE)
			}
		})
	}
}

func TestLearningRateAndSparsitySchedules(t *testing.T) {
	b, _ := model.MustNewBackend("")
	c := Config{Arch: ReLU, DIn: 4, DSAE: 8, Site: Site{Hook: "x"}}
	tr, err := NewTrainer(c, b, TrainOptions{Steps: 10, Batch: 2, LR: 1, LREnd: 0.1, WarmupSteps: 4, DecaySteps: 3,
		Sparsity: 2, SparsityWarmupSteps: 2})
	if err != nil {
		t.Fatal(err)
	}
	wantLR := []float64{0.25, 0.5, 0.75, 1, 1, 1, 1, 1, 0.7, 0.4}
	for s, w := range wantLR {
		if got := tr.lr(s); math.Abs(got-w) > 1e-12 {
			t.Errorf("lr(%d) = %g, want %g", s, got, w)
		}
	}
	for s, w := range []float64{1, 2, 2} {
		if got := tr.coef(s); got != w {
			t.Errorf("coef(%d) = %g, want %g", s, got, w)
		}
	}
}

func TestTrainOptionErrors(t *testing.T) {
	b, _ := model.MustNewBackend("")
	c := Config{Arch: TopK, DIn: 4, DSAE: 8, K: 2, Site: Site{Hook: "x"}}
	for _, o := range []TrainOptions{{}, {Steps: 1, LR: -1}, {Steps: 1, Sparsity: -1}, {Steps: 1, WarmupSteps: -1}} {
		if _, err := NewTrainer(c, b, o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	tr, err := NewTrainer(c, b, TrainOptions{Steps: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Step(make([]float32, 7), nil); err == nil {
		t.Error("a batch of 7 values for d_in 4 was accepted")
	}
}

// TestCheckpointResume checks that 3 steps, a checkpoint, a resumed trainer and 3 more steps
// give exactly the tensors of 6 uninterrupted steps.
func TestCheckpointResume(t *testing.T) {
	b, _ := model.MustNewBackend("")
	for _, arch := range Archs() {
		t.Run(string(arch), func(t *testing.T) {
			c := Config{Arch: arch, DIn: 16, DSAE: 32, K: 4, ApplyBDecToInput: true, Site: Site{Hook: "blocks.0.hook_resid_post"}}
			opt := TrainOptions{Steps: 6, Batch: 64, LR: 1e-2, DeadWindow: 64, Sparsity: 0.1, UnitNormDecoder: arch == TopK,
				Init: InitOptions{Seed: 4}}
			data := NewSynthetic(16, 24, 3, 9)
			var batches [][]float32
			for range 6 {
				x, _, _ := data.Next(64)
				batches = append(batches, x)
			}
			straight, err := NewTrainer(c, b, opt)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range batches {
				if _, err := straight.Step(x, nil); err != nil {
					t.Fatal(err)
				}
			}
			first, err := NewTrainer(c, b, opt)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range batches[:3] {
				if _, err := first.Step(x, nil); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(t.TempDir(), "ckpt.safetensors")
			if err := first.SaveCheckpoint(path); err != nil {
				t.Fatal(err)
			}
			resumed, err := ResumeTrainer(path, b, opt)
			if err != nil {
				t.Fatal(err)
			}
			if resumed.StepCount() != 3 {
				t.Fatalf("resumed at step %d, want 3", resumed.StepCount())
			}
			for _, x := range batches[3:] {
				if _, err := resumed.Step(x, nil); err != nil {
					t.Fatal(err)
				}
			}
			a, r := straight.SAE(), resumed.SAE()
			for name := range a.Params {
				if d, _ := maxAbsDiff(a.Flat(name), r.Flat(name)); d != 0 {
					t.Errorf("%s: resumed run differs from the straight run by %g", name, d)
				}
			}
		})
	}
}

func TestResampleReinitialisesDeadLatents(t *testing.T) {
	b, _ := model.MustNewBackend("")
	c := Config{Arch: ReLU, DIn: 16, DSAE: 32, ApplyBDecToInput: true, Site: Site{Hook: "x"}}
	tr, err := NewTrainer(c, b, TrainOptions{Steps: 10, Batch: 128, LR: 1e-3, DeadWindow: 128, ResampleRows: 512})
	if err != nil {
		t.Fatal(err)
	}
	// Kill latents 0..9: a large negative encoder bias.
	bias := make([]float32, 32)
	for j := range 10 {
		bias[j] = -100
	}
	tr.setParam("b_enc", tensors.FromFlatDataAndDimensions(bias, 32))
	data := NewSynthetic(16, 24, 3, 3)
	x, _, _ := data.Next(128)
	if _, err := tr.Step(x, nil); err != nil {
		t.Fatal(err)
	}
	dead := tr.Dead()
	for j := range 10 {
		if !dead[j] {
			t.Fatalf("latent %d not dead after a step with bias -100", j)
		}
	}
	n, err := tr.Resample(data)
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("resampled %d latents, want at least 10", n)
	}
	benc, wdec := tr.flat("b_enc"), tr.flat("W_dec")
	for j := range 10 {
		if benc[j] != 0 {
			t.Errorf("latent %d: b_enc %g after resampling, want 0", j, benc[j])
		}
		if nrm := norm(wdec[j*16 : (j+1)*16]); nrm == 0 || math.IsNaN(nrm) {
			t.Errorf("latent %d: decoder row norm %g after resampling", j, nrm)
		}
	}
	if d := tr.Dead(); d[0] {
		t.Error("resampled latent still counted as dead")
	}
	// The resampled latents fire again: each points along a poorly reconstructed input.
	more, _, _ := data.Next(512)
	f, err := tr.current().Encode(tensors.FromFlatDataAndDimensions(more, 512, 16))
	if err != nil {
		t.Fatal(err)
	}
	acts := tensors.MustCopyFlatData[float32](f)
	for j := range 10 {
		fired := 0
		for r := range 512 {
			if acts[r*32+j] > 0 {
				fired++
			}
		}
		if fired == 0 {
			t.Errorf("resampled latent %d never fires on 512 fresh rows", j)
		}
	}
}
