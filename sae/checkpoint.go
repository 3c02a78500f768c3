package sae

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/model"
)

// A training checkpoint is one safetensors file (written atomically): the trained tensors under
// their names, their Adam moments as "adam_m.NAME" / "adam_v.NAME", the rows since each latent
// last fired as "since_fire" (int64 [F]), and in the metadata the SAE's cfg.json and the
// trainer's counters.

// checkpointState is the JSON in a checkpoint's metadata.
type checkpointState struct {
	Step      int     `json:"step"`
	Rows      int64   `json:"rows"`
	Threshold float64 `json:"batchtopk_threshold"`
	ScaleIn   float64 `json:"scale_in"`
	ScaleOut  float64 `json:"scale_out"`
	Log       []StepStats
}

// SaveCheckpoint writes the trainer's full state to path (atomically).
func (t *Trainer) SaveCheckpoint(path string) error {
	ts := map[string]*tensors.Tensor{}
	for i, s := range t.spec {
		ts[s.Name] = t.params[i]
		ts["adam_m."+s.Name] = t.m[i]
		ts["adam_v."+s.Name] = t.v[i]
	}
	ts["since_fire"] = tensors.FromFlatDataAndDimensions(slices.Clone(t.sinceFire), len(t.sinceFire))
	cfg, err := json.Marshal(cfgDict(t.cfg))
	if err != nil {
		return err
	}
	st, err := json.Marshal(checkpointState{Step: t.step, Rows: t.rows, Threshold: t.threshold,
		ScaleIn: t.scaleIn, ScaleOut: t.scaleOut, Log: t.Log})
	if err != nil {
		return err
	}
	if err := model.WriteSafetensors(path, ts, map[string]string{"sae_cfg": string(cfg), "trainer": string(st)}); err != nil {
		return fmt.Errorf("sae: checkpoint: %w", err)
	}
	return nil
}

// CheckpointInfo is what a checkpoint says about the run that wrote it.
type CheckpointInfo struct {
	Config            Config
	Step              int
	ScaleIn, ScaleOut float64
}

// ReadCheckpointInfo reads a checkpoint's configuration and counters without its tensors'
// Adam state (use ResumeTrainer to continue training).
func ReadCheckpointInfo(path string) (*CheckpointInfo, error) {
	_, meta, err := model.ReadSafetensors(path)
	if err != nil {
		return nil, fmt.Errorf("sae: checkpoint: %w", err)
	}
	c, st, err := parseCheckpointMeta(path, meta)
	if err != nil {
		return nil, err
	}
	return &CheckpointInfo{Config: c, Step: st.Step, ScaleIn: st.ScaleIn, ScaleOut: st.ScaleOut}, nil
}

func parseCheckpointMeta(path string, meta map[string]string) (Config, checkpointState, error) {
	var st checkpointState
	var d map[string]any
	if err := json.Unmarshal([]byte(meta["sae_cfg"]), &d); err != nil {
		return Config{}, st, fmt.Errorf("sae: checkpoint %s: no readable sae_cfg metadata: %w", path, err)
	}
	c, _, err := parseCfg(d, "")
	if err != nil {
		return Config{}, st, fmt.Errorf("sae: checkpoint %s: %w", path, err)
	}
	if err := json.Unmarshal([]byte(meta["trainer"]), &st); err != nil {
		return Config{}, st, fmt.Errorf("sae: checkpoint %s: no readable trainer metadata: %w", path, err)
	}
	return c, st, nil
}

// ResumeTrainer continues training from a checkpoint with the given options (Steps is the total,
// counting the steps already taken). The data stream is not part of the checkpoint: a resumed
// run reads fresh batches from the source it is given.
func ResumeTrainer(path string, b backends.Backend, opt TrainOptions) (*Trainer, error) {
	ts, meta, err := model.ReadSafetensors(path)
	if err != nil {
		return nil, fmt.Errorf("sae: checkpoint: %w", err)
	}
	c, st, err := parseCheckpointMeta(path, meta)
	if err != nil {
		return nil, err
	}
	opt.defaults()
	if err := opt.validate(); err != nil {
		return nil, err
	}
	p := map[string]*tensors.Tensor{}
	for _, s := range ParamSpecs(c) {
		if s.Name == "threshold" && c.Arch == BatchTopK {
			p[s.Name] = tensors.FromFlatDataAndDimensions(filled(c.DSAE, float32(st.Threshold)), c.DSAE)
			continue
		}
		p[s.Name] = ts[s.Name]
	}
	if err := checkParams(c, p, "sae: checkpoint "+path); err != nil {
		return nil, err
	}
	s, err := New(c, p, b)
	if err != nil {
		return nil, err
	}
	t := newTrainerFrom(s, opt)
	for i, sp := range t.spec {
		for _, mv := range []struct {
			prefix string
			dst    []*tensors.Tensor
		}{{"adam_m.", t.m}, {"adam_v.", t.v}} {
			x, ok := ts[mv.prefix+sp.Name]
			if !ok || !slices.Equal(x.Shape().Dimensions, sp.Shape) {
				return nil, fmt.Errorf("sae: checkpoint %s: missing or mis-shaped tensor %q (want %v)", path, mv.prefix+sp.Name, sp.Shape)
			}
			mv.dst[i] = x
		}
	}
	sf, ok := ts["since_fire"]
	if !ok || sf.Shape().Size() != c.DSAE {
		return nil, fmt.Errorf("sae: checkpoint %s: missing or mis-shaped tensor \"since_fire\" (want [%d])", path, c.DSAE)
	}
	if err := tensors.ConstFlatData(sf, func(v []int64) { copy(t.sinceFire, v) }); err != nil {
		return nil, fmt.Errorf("sae: checkpoint %s: tensor \"since_fire\": %w", path, err)
	}
	t.step, t.rows, t.threshold = st.Step, st.Rows, st.Threshold
	t.scaleIn, t.scaleOut = st.ScaleIn, st.ScaleOut
	t.Log = st.Log
	t.rng = rand.New(rand.NewPCG(opt.Init.Seed, uint64(st.Step)))
	return t, nil
}
