package train

import (
	"fmt"
	"math"
	"reflect"
)

// Config is one training run's hyperparameters. The defaults (DefaultConfig) suit the 2-layer
// attention-only induction model (d_model 64, 8 heads, vocab 64) on repeated random tokens.
//
// Every field but OutDir, EvalEvery, CheckpointEvery and SnapshotEvery shapes the trajectory of the weights, so a
// run resumed from a checkpoint must agree with the checkpoint on all of them (see Run).
type Config struct {
	// Steps is the number of optimizer steps.
	Steps int `json:"steps"`
	// ScheduleSteps is the length of the warmup + cosine learning-rate schedule; 0 means Steps.
	// Extend sets it when a run is trained past its original end: the schedule is not
	// restarted or stretched, the extra steps hold the final learning rate MinLR*LR, so the
	// steps already taken keep the learning rates they were taken with.
	ScheduleSteps int `json:"schedule_steps,omitempty"`
	// Batch is the number of sequences per step. SeqLen is the sequence length the task is made
	// for (tasks.Options.SeqLen; <= the model's n_ctx): Run takes the actual length from the
	// task's batches (the induction task's [BOS, L tokens, the same L] has 2L+1 <= SeqLen).
	Batch  int `json:"batch"`
	SeqLen int `json:"seq_len"`

	// LR is the peak learning rate, reached after WarmupSteps of linear warmup from LR/WarmupSteps;
	// it then follows a cosine from LR down to MinLR*LR at the last step.
	LR          float64 `json:"lr"`
	WarmupSteps int     `json:"warmup_steps"`
	// MinLR is the final learning rate as a fraction of LR (0.1: decay to a tenth).
	MinLR float64 `json:"min_lr"`

	// WeightDecay is AdamW's decoupled decay (w -= lr*wd*w), applied to weight matrices and
	// embeddings (names W_*), not to biases or LayerNorm parameters.
	WeightDecay float64 `json:"weight_decay"`
	Beta1       float64 `json:"beta1"`
	Beta2       float64 `json:"beta2"`
	Eps         float64 `json:"eps"`
	// GradClip scales the gradients down so their global L2 norm is at most GradClip (0: off), as
	// torch.nn.utils.clip_grad_norm_ does.
	GradClip float64 `json:"grad_clip"`

	// Seed fixes the data: step s trains on the task's batch drawn from PCG(Seed, s), so a resumed
	// run sees the same batches. It also seeds the evaluation batch and random initial weights.
	Seed uint64 `json:"seed"`

	// CheckpointEvery writes a checkpoint into OutDir every this many steps (0: only at the end).
	CheckpointEvery int `json:"checkpoint_every"`
	// SnapshotEvery keeps the model's weights every this many steps, and at step 0 and the end,
	// in OutDir/snapshots/step-NNNNNN (config.json, model.safetensors, a loadable model folder);
	// 0: none. Graphs and analyses over training read them (interp graph evolve).
	SnapshotEvery int `json:"snapshot_every,omitempty"`
	// EvalEvery logs the progress measures every this many steps (0: only at the end).
	EvalEvery int `json:"eval_every"`
	// OutDir receives checkpoints, metrics.jsonl, summary.json and progress.png. Empty: nothing is
	// written and the run cannot be resumed (tests, notebooks).
	OutDir string `json:"out_dir"`
	// TokenizerFrom is a model folder whose tokenizer files (tokenizer.json, or vocab.json and
	// merges.txt) every checkpoint and snapshot carries when the task writes no tokenizer of its
	// own: a run that starts from a model (interp train --init) or resumes reads its vocabulary
	// from that model, and the trained model keeps it. Empty, or a folder with none: nothing.
	TokenizerFrom string `json:"-"`
}

// DefaultConfig returns the defaults for the 2-layer attention-only induction model (d_model 64,
// 8 heads, vocab 64, no LayerNorm) on repeated random tokens: AdamW with betas (0.9, 0.99), LR
// 1e-2 after 100 warmup steps, cosine decay to a tenth, weight decay 0.01, gradient clipping at
// 1, batch 32 x 64 tokens, 2000 steps.
//
// The LR is high because this model has no LayerNorm and starts with tiny (std 0.02) weights: at
// seed 0, LR 1e-2 gives a sharp phase change at step ~310 (repeated-half loss 4.14 -> 0.001 by
// step 450), LR 3e-3 a gradual one over steps ~700-1500, and LR 1e-3 none within 3000 steps
// (repeated-half loss still 3.98).
func DefaultConfig() Config {
	return Config{
		Steps: 2000, Batch: 32, SeqLen: 64,
		LR: 1e-2, WarmupSteps: 100, MinLR: 0.1,
		WeightDecay: 0.01, Beta1: 0.9, Beta2: 0.99, Eps: 1e-8, GradClip: 1,
		CheckpointEvery: 500, EvalEvery: 25,
	}
}

// Validate checks the configuration for impossible values; the error names the field.
func (c Config) Validate() error {
	switch {
	case c.Steps <= 0:
		return fmt.Errorf("train: config: steps must be positive, got %d", c.Steps)
	case c.Batch <= 0:
		return fmt.Errorf("train: config: batch must be positive, got %d", c.Batch)
	case c.SeqLen < 2:
		return fmt.Errorf("train: config: seq_len must be at least 2, got %d", c.SeqLen)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("train: config: lr must be positive, got %g", c.LR)
	case c.WarmupSteps < 0:
		return fmt.Errorf("train: config: warmup_steps must be >= 0, got %d", c.WarmupSteps)
	case c.MinLR < 0 || c.MinLR > 1:
		return fmt.Errorf("train: config: min_lr is a fraction of lr in [0, 1], got %g", c.MinLR)
	case c.WeightDecay < 0:
		return fmt.Errorf("train: config: weight_decay must be >= 0, got %g", c.WeightDecay)
	case c.Beta1 < 0 || c.Beta1 >= 1:
		return fmt.Errorf("train: config: beta1 must be in [0, 1), got %g", c.Beta1)
	case c.Beta2 < 0 || c.Beta2 >= 1:
		return fmt.Errorf("train: config: beta2 must be in [0, 1), got %g", c.Beta2)
	case !(c.Eps > 0):
		return fmt.Errorf("train: config: eps must be positive, got %g", c.Eps)
	case c.GradClip < 0:
		return fmt.Errorf("train: config: grad_clip must be >= 0 (0 = off), got %g", c.GradClip)
	case c.ScheduleSteps < 0:
		return fmt.Errorf("train: config: schedule_steps must be >= 0, got %d", c.ScheduleSteps)
	case c.CheckpointEvery < 0:
		return fmt.Errorf("train: config: checkpoint_every must be >= 0, got %d", c.CheckpointEvery)
	case c.EvalEvery < 0:
		return fmt.Errorf("train: config: eval_every must be >= 0, got %d", c.EvalEvery)
	case c.SnapshotEvery < 0:
		return fmt.Errorf("train: config: snapshot_every must be >= 0, got %d", c.SnapshotEvery)
	}
	return nil
}

// LRAt is the learning rate of step s (0-based): linear warmup over WarmupSteps (step s uses
// LR*(s+1)/WarmupSteps), then a cosine from LR at the end of warmup down to MinLR*LR at the
// last step.
func (c Config) LRAt(s int) float64 {
	if s < c.WarmupSteps {
		return c.LR * float64(s+1) / float64(c.WarmupSteps)
	}
	decay := c.Schedule() - 1 - c.WarmupSteps
	if decay <= 0 {
		return c.LR
	}
	frac := float64(s-c.WarmupSteps) / float64(decay) // 0 -> 1
	cos := 0.5 * (1 + math.Cos(math.Pi*min(frac, 1)))
	return c.LR * (c.MinLR + (1-c.MinLR)*cos)
}

// Schedule is the length of the learning-rate schedule: ScheduleSteps, or Steps when it is 0.
// Steps past it hold the final learning rate.
func (c Config) Schedule() int {
	if c.ScheduleSteps > 0 {
		return c.ScheduleSteps
	}
	return c.Steps
}

// trajectoryDiff names the first field that differs between two configs and changes the weights'
// trajectory (everything but OutDir, EvalEvery, CheckpointEvery and SnapshotEvery), or "" when none does.
func trajectoryDiff(a, b Config) string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	t := va.Type()
	for i := range t.NumField() {
		switch t.Field(i).Name {
		case "OutDir", "EvalEvery", "CheckpointEvery", "SnapshotEvery", "TokenizerFrom":
			continue
		case "Steps", "ScheduleSteps": // how far to train is free; the schedule is not
			if a.Schedule() != b.Schedule() {
				return fmt.Sprintf("steps (the checkpoint's learning-rate schedule has %d steps, now %d; to train a run longer, extend it: interp train --resume --steps N)",
					a.Schedule(), b.Schedule())
			}
			continue
		}
		if va.Field(i).Interface() != vb.Field(i).Interface() {
			tag := t.Field(i).Tag.Get("json")
			return fmt.Sprintf("%s (checkpoint %v, now %v)", tag, va.Field(i).Interface(), vb.Field(i).Interface())
		}
	}
	return ""
}
