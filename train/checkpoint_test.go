package train

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

func requireSameWeights(t *testing.T, want, got *model.Weights) {
	t.Helper()
	for _, sp := range model.ParamSpecs(want.Config) {
		require.Equal(t, want.Flat(sp.Name), got.Flat(sp.Name), "%s differs", sp.Name)
	}
}

// TestResumeIsExact interrupts a run (by cancelling its context) after its second checkpoint,
// resumes it from a fresh model, and gets the weights, optimizer trajectory and metrics of an
// uninterrupted run bit for bit; then the same from checkpoint.old alone (a crash in the middle of
// the checkpoint swap).
func TestResumeIsExact(t *testing.T) {
	task := inductionTask(t, 16, 15)
	clamp := Clamp{Hook: hooks.Pattern(0), Heads: []int{1}, Value: PrevToken()}
	cfg := tinyConfig(20)
	cfg.CheckpointEvery, cfg.EvalEvery = 6, 5

	cfg.OutDir = t.TempDir()
	full, err := Run(context.Background(), tinyModel(t, 1), task, cfg, clamp)
	require.NoError(t, err)
	fullMetrics, err := ReadMetrics(filepath.Join(cfg.OutDir, metricsFile))
	require.NoError(t, err)
	saved, err := model.Load(CheckpointPath(cfg.OutDir))
	require.NoError(t, err)
	requireSameWeights(t, full.Weights, saved)

	for _, crashInSwap := range []bool{false, true} {
		cfg.OutDir = t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		part, err := Run(ctx, tinyModel(t, 1), &cancelAfter{Task: task, n: 14, cancel: cancel}, cfg, clamp)
		require.True(t, errors.Is(err, context.Canceled), "got %v", err)
		require.Equal(t, 15, part.Steps)
		if crashInSwap {
			ck := CheckpointPath(cfg.OutDir)
			require.NoError(t, os.Rename(ck, ck+oldSuffix))
			require.NoError(t, os.MkdirAll(filepath.Join(cfg.OutDir, tmpPrefix+"123"), 0o755))
		}
		res, err := Run(context.Background(), tinyModel(t, 99), task, cfg, clamp) // initial weights unused
		require.NoError(t, err)
		require.Equal(t, 12, res.ResumedFrom)
		require.Equal(t, 20, res.Steps)
		requireSameWeights(t, full.Weights, res.Weights)
		require.Equal(t, full.Loss, res.Loss)

		got, err := ReadMetrics(filepath.Join(cfg.OutDir, metricsFile))
		require.NoError(t, err)
		require.Len(t, got, len(fullMetrics))
		for i := range got {
			got[i].ElapsedS, fullMetrics[i].ElapsedS = 0, 0
			require.Equal(t, fullMetrics[i], got[i])
		}
		_, err = os.Stat(filepath.Join(cfg.OutDir, tmpPrefix+"123"))
		require.True(t, os.IsNotExist(err), "stale temporary checkpoint left behind")
	}
}

func TestResumeRefusesChanges(t *testing.T) {
	task := inductionTask(t, 16, 15)
	cfg := tinyConfig(3)
	cfg.OutDir = t.TempDir()
	_, err := Run(context.Background(), tinyModel(t, 1), task, cfg)
	require.NoError(t, err)

	lr := cfg
	lr.LR = 0.02
	_, err = Run(context.Background(), tinyModel(t, 1), task, lr)
	require.ErrorContains(t, err, "lr (checkpoint 0.01, now 0.02)")

	_, err = Run(context.Background(), tinyModel(t, 1), task, cfg, Clamp{Hook: hooks.Pattern(0), Value: Uniform()})
	require.ErrorContains(t, err, "clamps")

	_, err = Run(context.Background(), tinyModel(t, 1), inductionTask(t, 16, 13), cfg)
	require.Error(t, err)

	// Changing only how often to evaluate or checkpoint is fine.
	ev := cfg
	ev.EvalEvery = 1
	_, err = Run(context.Background(), tinyModel(t, 1), task, ev)
	require.NoError(t, err)
}

// TestExtend trains a finished run further: a rerun with more steps is refused (it would change
// the learning-rate schedule of the steps already taken), Extend continues it with the schedule
// kept and the extra steps at the final learning rate, and the result equals one uninterrupted
// run of the extended config.
func TestExtend(t *testing.T) {
	task := inductionTask(t, 16, 15)
	cfg := tinyConfig(8)
	cfg.CheckpointEvery, cfg.EvalEvery = 4, 4
	cfg.OutDir = t.TempDir()
	_, err := Run(context.Background(), tinyModel(t, 1), task, cfg)
	require.NoError(t, err)

	longer := cfg
	longer.Steps = 12
	_, err = Run(context.Background(), tinyModel(t, 1), task, longer)
	require.ErrorContains(t, err, "--resume --steps N")

	_, _, err = Extend(cfg.OutDir, 5)
	require.ErrorContains(t, err, "is at step 8 already")
	ext, state, err := Extend(cfg.OutDir, 12)
	require.NoError(t, err)
	require.Equal(t, 8, state.Step)
	require.Equal(t, 12, ext.Steps)
	require.Equal(t, 8, ext.Schedule())
	require.Equal(t, cfg.LR*cfg.MinLR, ext.LRAt(7), "the schedule's last step")
	for s := 8; s < 12; s++ {
		require.Equal(t, cfg.LR*cfg.MinLR, ext.LRAt(s), "step %d holds the final learning rate", s)
	}
	res, err := Run(context.Background(), tinyModel(t, 99), task, ext)
	require.NoError(t, err)
	require.Equal(t, 8, res.ResumedFrom)
	require.Equal(t, 12, res.Steps)
	require.Len(t, res.Evals, 3)

	// The same extended config run from scratch in one go ends with the same weights.
	ext.OutDir = t.TempDir()
	once, err := Run(context.Background(), tinyModel(t, 1), task, ext)
	require.NoError(t, err)
	requireSameWeights(t, once.Weights, res.Weights)

	_, err = ReadState(t.TempDir())
	require.ErrorContains(t, err, "holds no checkpoint to resume")
}

// Snapshots are kept at step 0, every SnapshotEvery steps and at the end, as loadable model
// folders; the last holds the run's final weights bit for bit, the first the initial ones, and
// a resumed run adds the later ones.
func TestSnapshots(t *testing.T) {
	task := inductionTask(t, 16, 15)
	cfg := tinyConfig(10)
	cfg.CheckpointEvery, cfg.EvalEvery, cfg.SnapshotEvery = 4, 4, 4
	cfg.OutDir = t.TempDir()
	init := tinyModel(t, 1)
	initW := map[string][]float32{}
	for name, ten := range init.Weights.Tensors {
		initW[name] = tensors.MustCopyFlatData[float32](ten)
	}
	short := cfg
	short.Steps = 6 // interrupted: the schedule is the 10-step run's
	short.ScheduleSteps = 10
	_, err := Run(context.Background(), init, task, short)
	require.NoError(t, err)
	_, steps, err := Snapshots(cfg.OutDir)
	require.NoError(t, err)
	require.Equal(t, []int{0, 4, 6}, steps)
	res, err := Run(context.Background(), tinyModel(t, 1), task, cfg)
	require.NoError(t, err)
	dirs, steps, err := Snapshots(cfg.OutDir)
	require.NoError(t, err)
	require.Equal(t, []int{0, 4, 6, 8, 10}, steps)
	first, err := model.Load(dirs[0])
	require.NoError(t, err)
	for name, want := range initW {
		require.Equal(t, want, tensors.MustCopyFlatData[float32](first.Tensors[name]), "step 0: %s", name)
	}
	last, err := model.Load(dirs[len(dirs)-1])
	require.NoError(t, err)
	for name, ten := range res.Weights.Tensors {
		require.Equal(t, tensors.MustCopyFlatData[float32](ten), tensors.MustCopyFlatData[float32](last.Tensors[name]), "final: %s", name)
	}
}
