package sae

import "fmt"

// Job defaults: what `interp sae train`, `interp transcoder train` and the Go API's Job share,
// resolved by ResolveJobDefaults. They differ from Train's bare SAELens-style defaults where a
// whole run needs a schedule:
//
//	DecaySteps           -1: the last 20% of the steps (linear decay to LR/10)
//	Sparsity             -1: 5 for ReLU (L1, on activations normalised to norm sqrt(d_in)), 1 for JumpReLU (L0)
//	SparsityWarmupSteps  -1: the first 5% of the steps
//	AuxKCoef              0: off (TopK, BatchTopK; the CLI's --aux-coef default is 1/32)
//	DeadWindow            0: a fifth of the training rows (Steps*Batch/5), at least one batch
//	CheckpointEvery       0: every 10% of the steps
const (
	DefaultJobDecayFrac          = 0.2
	DefaultJobSparsityWarmupFrac = 0.05
	DefaultJobCheckpointFrac     = 0.1
	DefaultJobDeadWindowFrac     = 0.2
)

// ResolveJobDefaults fills the job defaults above into o for an SAE of architecture a; o.Steps
// and o.Batch must be set. It returns an error naming a value out of range.
func ResolveJobDefaults(o TrainOptions, a Arch) (TrainOptions, error) {
	if o.Steps < 1 || o.Batch < 1 {
		return o, fmt.Errorf("sae: job: steps (%d) and batch (%d) must be positive", o.Steps, o.Batch)
	}
	if o.DecaySteps < 0 {
		o.DecaySteps = int(float64(o.Steps) * DefaultJobDecayFrac)
	}
	if o.Sparsity < 0 {
		o.Sparsity = map[Arch]float64{ReLU: 5, JumpReLU: 1, Gated: 5}[a]
	}
	if o.SparsityWarmupSteps < 0 {
		o.SparsityWarmupSteps = int(float64(o.Steps) * DefaultJobSparsityWarmupFrac)
	}
	if o.AuxKCoef == 0 {
		o.AuxKCoef = -1 // Train's "off"
	}
	if o.DeadWindow == 0 {
		o.DeadWindow = max(int64(float64(o.Steps)*float64(o.Batch)*DefaultJobDeadWindowFrac), int64(o.Batch))
	}
	if o.CheckpointEvery == 0 {
		o.CheckpointEvery = max(1, int(float64(o.Steps)*DefaultJobCheckpointFrac))
	}
	if o.DecaySteps > o.Steps {
		return o, fmt.Errorf("sae: job: decay steps %d exceed the %d steps", o.DecaySteps, o.Steps)
	}
	return o, nil
}

// JobCacheKey identifies the activations a job reads, for StoreOptions.CacheKey: the model, the
// site (and target), the data (its name and what else shapes its rows, such as a sequence
// length), the seed and whether position 0 is skipped. Activations cached under another key are
// not replayed.
func JobCacheKey(modelName string, c Config, data string, seed uint64, skipBOS bool) string {
	key := fmt.Sprintf("%s|%s|%s|seed%d|bos%v", modelName, c.Site, data, seed, skipBOS)
	if c.Target.Hook != "" {
		key += "|target " + c.Target.String()
	}
	return key
}
