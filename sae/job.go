package sae

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/interp-dev/interp/model"
)

// Job is a whole training run on a model's activations: what `interp sae train` does.
type Job struct {
	// Config is the SAE to train: Arch, DSAE, K, ApplyBDecToInput, Site, and for transcoders
	// Target and Skip (DIn and DOut are taken from the model; Meta.ModelName, DatasetPath and
	// ContextSize are filled in).
	Config Config
	Train  TrainOptions
	Store  StoreOptions // its Site is Config.Site
	Seed   uint64
	// Out is the output directory: cfg.json and sae_weights.safetensors (SAELens layout),
	// training_log.json, and checkpoint.safetensors while training.
	Out string
	// Resume continues from Out/checkpoint.safetensors when it exists.
	Resume bool
}

// CheckpointFile and LogFile are the names RunJob writes in the output directory.
const (
	CheckpointFile = "checkpoint.safetensors"
	LogFile        = "training_log.json"
)

// RunJob trains an SAE on activations of m at job.Config.Site, with token batches from src,
// writes it to job.Out and returns it with its training log.
func RunJob(m *model.Model, src TokenSource, modelName string, job Job) (*SAE, []StepStats, error) {
	c := job.Config
	din, err := SiteWidth(m.Config, c.Site)
	if err != nil {
		return nil, nil, err
	}
	c.DIn = din
	if c.Target.Hook != "" {
		if c.DOut, err = SiteWidth(m.Config, c.Target); err != nil {
			return nil, nil, err
		}
	}
	if c.DSAE == 0 {
		return nil, nil, errors.New("sae: job: d_sae is 0")
	}
	c.Meta.ModelName = modelName
	c.Meta.DatasetPath = src.Name()
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	if job.Out == "" {
		return nil, nil, errors.New("sae: job: no output directory")
	}
	if err := os.MkdirAll(job.Out, 0o755); err != nil {
		return nil, nil, fmt.Errorf("sae: job: %w", err)
	}
	ckpt := filepath.Join(job.Out, CheckpointFile)
	job.Train.Checkpoint = ckpt
	job.Train.Init.Seed = job.Seed
	st := job.Store
	st.Site, st.Target = c.Site, c.Target
	st.Prefetch = true // the model runs ahead while the dictionary trains
	var tr *Trainer
	resume := false
	if job.Resume {
		if _, err := os.Stat(ckpt); err == nil {
			resume = true
		}
	}
	if resume {
		info, err := ReadCheckpointInfo(ckpt)
		if err != nil {
			return nil, nil, err
		}
		if d := info.Config; d.Arch != c.Arch || d.DIn != c.DIn || d.DSAE != c.DSAE || d.K != c.K || d.Site != c.Site {
			return nil, nil, fmt.Errorf("sae: job: checkpoint %s is a %s SAE %d -> %d (k %d) at %s; the job asks for %s %d -> %d (k %d) at %s",
				ckpt, d.Arch, d.DIn, d.DSAE, d.K, d.Site, c.Arch, c.DIn, c.DSAE, c.K, c.Site)
		}
		st.ScaleIn, st.ScaleOut = info.ScaleIn, info.ScaleOut
		if tr, err = ResumeTrainer(ckpt, m.Backend, job.Train); err != nil {
			return nil, nil, err
		}
	} else if tr, err = NewTrainer(c, m.Backend, job.Train); err != nil {
		return nil, nil, err
	}
	store, err := NewActivationStore(m, src, job.Seed+uint64(tr.StepCount()), st)
	if err != nil {
		return nil, nil, err
	}
	defer store.Close()
	if err := tr.Train(store); err != nil {
		return nil, nil, err
	}
	s := tr.SAE()
	if store.seqLen > 0 {
		s.Config.Meta.ContextSize = store.seqLen
	}
	if err := Save(s, job.Out); err != nil {
		return nil, nil, err
	}
	data, err := json.MarshalIndent(map[string]any{"steps": tr.Log, "scale_in": store.scaleIn, "tokens": store.Tokens}, "", "  ")
	if err != nil {
		return nil, nil, err
	}
	if err := writeFileAtomic(filepath.Join(job.Out, LogFile), append(data, '\n')); err != nil {
		return nil, nil, err
	}
	return s, tr.Log, nil
}
