package transcoder

import (
	"errors"
	"fmt"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
)

// Training is the SAE trainer's (package sae): the activation store serves input rows from the
// transcoder's input hook and target rows from its target hook of the same positions, and the
// step minimises ||f(x) W_dec + b_dec (+ x W_skip^T) - y||^2 plus the architecture's sparsity
// term. Only the encoder bias differs from an SAE: b_dec is not subtracted from the input
// (ApplyBDecToInput is off, the input and output spaces differ).

// Job is a transcoder training run: the spec of the transcoder and the sae.Job options (its
// Config is filled from Spec).
type Job struct {
	Spec Spec
	sae.Job
}

// RunJob trains a transcoder on m's activations with token batches from src and writes it to
// job.Out in the SAELens layout (sae.RunJob).
func RunJob(m *model.Model, src sae.TokenSource, modelName string, job Job) (*sae.SAE, []sae.StepStats, error) {
	c, err := NewConfig(m.Config, job.Spec)
	if err != nil {
		return nil, nil, err
	}
	if job.Out == "" {
		return nil, nil, errors.New("transcoder: job: no output directory")
	}
	c.Meta = job.Config.Meta
	job.Config = c
	s, log, err := sae.RunJob(m, src, modelName, job.Job)
	if err != nil {
		return nil, nil, fmt.Errorf("transcoder: layer %d: %w", job.Spec.Layer, err)
	}
	return s, log, nil
}
