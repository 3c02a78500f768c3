package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/internal/atomicfile"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tokenizer"
)

// A checkpoint is the folder OutDir/checkpoint:
//
//	config.json, model.safetensors   the weights, Hugging Face GPT-2 layout (model.Save; model.Load reads it)
//	optimizer.safetensors            AdamW's moments "m.<param>" and "v.<param>"
//	state.json                       step, config, clamps, task, model config, elapsed time
//
// It is written into a fresh temporary folder in OutDir, then renamed over the previous one
// (which is first renamed to checkpoint.old and removed once the new one is in place), so a crash
// at any moment leaves a complete checkpoint or checkpoint.old.
const (
	checkpointDir = "checkpoint"
	oldSuffix     = ".old"
	tmpPrefix     = ".checkpoint-tmp-"
)

// State is the state.json of a checkpoint.
type State struct {
	// Step is the number of completed steps.
	Step   int      `json:"step"`
	Config Config   `json:"config"`
	Clamps []string `json:"clamps"`
	Task   string   `json:"task"`
	// Pos is the length of the task's sequences.
	Pos   int          `json:"pos"`
	Model model.Config `json:"model"`
	// Tokens is the number of tokens trained on; ElapsedS the training time so far.
	Tokens   int64   `json:"tokens"`
	ElapsedS float64 `json:"elapsed_s"`
	// LossSum and LossSteps are the training losses of the steps since the last evaluation, summed
	// and counted, so that a resumed run's next mean_loss is the uninterrupted run's.
	LossSum   float64 `json:"loss_sum,omitempty"`
	LossSteps int     `json:"loss_steps,omitempty"`
}

// CheckpointPath is the folder of OutDir's current checkpoint (a model directory that model.Load
// and `--model` accept).
func CheckpointPath(outDir string) string { return filepath.Join(outDir, checkpointDir) }

// SnapshotsDir is the folder of a run's snapshots (Config.SnapshotEvery).
func SnapshotsDir(outDir string) string { return filepath.Join(outDir, "snapshots") }

// Snapshots lists a run's snapshot folders and their steps, in step order.
func Snapshots(outDir string) (dirs []string, steps []int, err error) {
	matches, err := filepath.Glob(filepath.Join(SnapshotsDir(outDir), "step-*"))
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(matches) // zero-padded: lexical order is step order
	for _, d := range matches {
		var step int
		if _, err := fmt.Sscanf(filepath.Base(d), "step-%d", &step); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "model.safetensors")); err != nil {
			continue // an interrupted write
		}
		dirs, steps = append(dirs, d), append(steps, step)
	}
	return dirs, steps, nil
}

// saveSnapshot writes the current weights to snapshots/step-NNNNNN (with the task's tokenizer),
// atomically: into a temporary folder, then renamed.
func saveSnapshot(outDir string, step int, c model.Config, st *adamState, task any, tok tokenizerFiles) error {
	w := &model.Weights{Config: c, Tensors: map[string]*tensors.Tensor{}}
	if t, ok := task.(interface{ Name() string }); ok {
		w.Config.Task = t.Name()
	}
	for i, sp := range model.ParamSpecs(c) {
		w.Tensors[sp.Name] = st.params[i]
	}
	dir := SnapshotsDir(outDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("train: snapshot: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, tmpPrefix)
	if err != nil {
		return fmt.Errorf("train: snapshot: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := model.Save(w, tmp); err != nil {
		return fmt.Errorf("train: snapshot: %w", err)
	}
	if err := writeTokenizer(tmp, task, tok); err != nil {
		return fmt.Errorf("train: snapshot: tokenizer: %w", err)
	}
	final := filepath.Join(dir, fmt.Sprintf("step-%06d", step))
	if err := os.RemoveAll(final); err != nil {
		return fmt.Errorf("train: snapshot: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("train: snapshot: %w", err)
	}
	return nil
}

// tokenizerFiles are the tokenizer files of Config.TokenizerFrom, by name, read when the run
// starts (a resumed run's source is its own checkpoint, which each save replaces).
type tokenizerFiles map[string][]byte

// readTokenizerFiles reads dir's tokenizer files: tokenizer.json, or vocab.json and merges.txt
// (what tokenizer.FromDir loads). A folder with neither gives none; "" gives none.
func readTokenizerFiles(dir string) (tokenizerFiles, error) {
	if dir == "" {
		return nil, nil
	}
	for _, set := range [][]string{{tokenizer.TokenizerJSONFile}, {tokenizer.VocabJSONFile, tokenizer.MergesTxtFile}} {
		files := tokenizerFiles{}
		for _, name := range set {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if errors.Is(err, os.ErrNotExist) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("train: tokenizer of %s: %w", dir, err)
			}
			files[name] = data
		}
		if len(files) == len(set) {
			return files, nil
		}
	}
	return nil, nil
}

// writeTokenizer saves the tokenizer beside the weights in dir: the task's own, when it has one
// (the toy word tasks, a text task's trained BPE), else the files of the model the run started
// from.
func writeTokenizer(dir string, task any, tok tokenizerFiles) error {
	if tw, ok := task.(interface{ WriteTokenizer(dir string) error }); ok {
		if err := tw.WriteTokenizer(dir); err != nil {
			return err
		}
	}
	for _, name := range []string{tokenizer.TokenizerJSONFile, tokenizer.VocabJSONFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return nil // the task wrote its own
		}
	}
	for name, data := range tok {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func saveCheckpoint(outDir string, c model.Config, st *adamState, state State, task any, tok tokenizerFiles) error {
	specs := model.ParamSpecs(c)
	w := &model.Weights{Config: c, Tensors: map[string]*tensors.Tensor{}}
	if t, ok := task.(interface{ Name() string }); ok {
		w.Config.Task = t.Name() // config.json's interp_task: the default task of later commands
	}
	opt := map[string]*tensors.Tensor{}
	ms, vs := st.splitMoments(st.m), st.splitMoments(st.v)
	for i, sp := range specs {
		w.Tensors[sp.Name] = st.params[i]
		opt["m."+sp.Name] = ms[i]
		opt["v."+sp.Name] = vs[i]
	}
	tmp, err := os.MkdirTemp(outDir, tmpPrefix)
	if err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := model.Save(w, tmp); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	if err := writeTokenizer(tmp, task, tok); err != nil {
		return fmt.Errorf("train: checkpoint: tokenizer: %w", err)
	}
	if err := model.WriteSafetensors(filepath.Join(tmp, "optimizer.safetensors"), opt,
		map[string]string{"format": "interp-adamw", "step": fmt.Sprint(state.Step)}); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	if err := writeJSON(filepath.Join(tmp, "state.json"), state); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	final := CheckpointPath(outDir)
	old := final + oldSuffix
	if err := os.RemoveAll(old); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	if _, err := os.Stat(final); err == nil {
		if err := os.Rename(final, old); err != nil {
			return fmt.Errorf("train: checkpoint: %w", err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	syncDir(outDir)
	return os.RemoveAll(old)
}

// loadCheckpoint reads OutDir's checkpoint (or checkpoint.old when a crash interrupted the swap).
// It returns nil, nil when there is none.
func loadCheckpoint(outDir string) (*State, *adamState, error) {
	dir := CheckpointPath(outDir)
	if _, err := os.Stat(filepath.Join(dir, "state.json")); err != nil {
		dir += oldSuffix
		if _, err := os.Stat(filepath.Join(dir, "state.json")); err != nil {
			return nil, nil, nil
		}
	}
	var state State
	data, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil {
		return nil, nil, fmt.Errorf("train: resume: %w", err)
	}
	if err := json.Unmarshal(data, &state); err != nil {
		return nil, nil, fmt.Errorf("train: resume: %s: %w", filepath.Join(dir, "state.json"), err)
	}
	w, err := model.Load(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("train: resume: %w", err)
	}
	optPath := filepath.Join(dir, "optimizer.safetensors")
	opt, _, err := model.ReadSafetensors(optPath)
	if err != nil {
		return nil, nil, fmt.Errorf("train: resume: %w", err)
	}
	st := &adamState{}
	var ms, vs []*tensors.Tensor
	for _, sp := range model.ParamSpecs(w.Config) {
		m, v := opt["m."+sp.Name], opt["v."+sp.Name]
		if m == nil || v == nil {
			return nil, nil, fmt.Errorf("train: resume: %s: missing moments of %s", optPath, sp.Name)
		}
		if !m.Shape().Equal(w.Tensors[sp.Name].Shape()) || !v.Shape().Equal(w.Tensors[sp.Name].Shape()) {
			return nil, nil, fmt.Errorf("train: resume: %s: moments of %s have shape %s, weights %s", optPath, sp.Name, m.Shape(), w.Tensors[sp.Name].Shape())
		}
		st.params = append(st.params, w.Tensors[sp.Name])
		ms, vs = append(ms, m), append(vs, v)
	}
	st.m, st.v = joinMoments(ms), joinMoments(vs)
	state.Model = w.Config // the weights' own config is authoritative
	return &state, st, nil
}

// removeStaleTemps deletes temporary checkpoint folders a crash left behind.
func removeStaleTemps(outDir string) {
	entries, _ := os.ReadDir(outDir)
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), tmpPrefix) {
			os.RemoveAll(filepath.Join(outDir, e.Name()))
		}
	}
}

// writeJSON writes v as indented JSON to path atomically (temporary file + rename).
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(data, '\n'))
}

func writeFileAtomic(path string, data []byte) error {
	return atomicfile.WriteBytes(path, data)
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// ReadState returns the state of outDir's checkpoint, or an error naming the folder when there is
// none.
func ReadState(outDir string) (*State, error) {
	dir := CheckpointPath(outDir)
	path := filepath.Join(dir, "state.json")
	if _, err := os.Stat(path); err != nil {
		path = filepath.Join(dir+oldSuffix, "state.json")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("train: %s holds no checkpoint to resume", outDir)
	}
	var state State
	if err := json.Unmarshal(data, &state); err != nil {
		return nil, fmt.Errorf("train: %s: %w", path, err)
	}
	return &state, nil
}

// Extend returns the config that continues outDir's run, finished or interrupted, to steps steps
// in all: the checkpoint's own config with Steps = steps and the learning-rate schedule kept at
// its original length (ScheduleSteps), so the steps past it hold the final learning rate
// MinLR*LR. Run with it (and the run's clamps, task and model) to train on from the checkpoint.
// The state is returned for its task, model config and clamps.
func Extend(outDir string, steps int) (Config, *State, error) {
	state, err := ReadState(outDir)
	if err != nil {
		return Config{}, nil, err
	}
	if steps < state.Step {
		return Config{}, nil, fmt.Errorf("train: %s is at step %d already; --steps %d would train backwards", outDir, state.Step, steps)
	}
	cfg := state.Config
	cfg.ScheduleSteps = cfg.Schedule()
	cfg.Steps = steps
	cfg.OutDir = outDir
	return cfg, state, nil
}
