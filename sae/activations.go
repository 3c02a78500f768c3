package sae

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // graph code reads best unqualified
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// activationRunner runs a model only as far as the hook points it caches: its graph returns the
// cached activations and not the logits, so the backend drops what they do not depend on (the
// layers after the last hook and the unembedding, which for a 50257-token vocabulary is most
// of a small model's cost). If the graph cannot be built or run on the model's backend it falls
// back to model.Run.
type activationRunner struct {
	m        *model.Model
	set      *hooks.Set
	exec     *Exec
	outs     hooks.Outputs
	fallback bool
}

func newActivationRunner(m *model.Model, names ...string) *activationRunner {
	r := &activationRunner{m: m, set: hooks.New().Cache(names...)}
	specs := model.ParamSpecs(m.Config)
	exec, err := newExec(m.Backend, func(in []*Node) []*Node {
		p := make(model.Params, len(specs))
		for i, s := range specs {
			p[s.Name] = in[1+i]
		}
		hk := r.set.Activate(nil)
		r.outs = hk.Finish(model.Forward(m.Config, p, in[0], hk))
		return r.outs.Nodes
	})
	if err != nil {
		r.fallback = true
	}
	r.exec = exec
	return r
}

// run returns the cached activations of tokens [B, P] by hook name.
func (r *activationRunner) run(tokens *tensors.Tensor) (map[string]*tensors.Tensor, error) {
	if err := r.m.CheckTokens(tokens); err != nil {
		return nil, err
	}
	if !r.fallback {
		args := []any{tokens}
		for _, s := range model.ParamSpecs(r.m.Config) {
			args = append(args, r.m.Weights.Tensors[s.Name])
		}
		out, err := execute(r.exec, args...)
		if err == nil {
			acts := make(map[string]*tensors.Tensor, len(out))
			for i, name := range r.outs.CacheNames {
				acts[name] = out[i]
			}
			return acts, nil
		}
		r.fallback = true // e.g. an op the backend lacks: model.Run has a fallback backend
	}
	out, err := r.m.Run(tokens, r.set)
	if err != nil {
		return nil, fmt.Errorf("sae: activations: %w", err)
	}
	acts := map[string]*tensors.Tensor{}
	for _, name := range out.Cache.Names() {
		acts[name] = out.Cache.MustGet(name)
	}
	return acts, nil
}

// Runner runs a model only as far as the hook points it caches, as the SAE training store does
// (its graph returns the cached activations, not the logits, so the layers after the last hook
// and the unembedding are not computed). Other dictionaries' training loops (cross-layer
// transcoders) use it.
type Runner struct{ r *activationRunner }

// NewRunner compiles the truncated forward pass of m that caches the named hooks.
func NewRunner(m *model.Model, names ...string) *Runner {
	return &Runner{newActivationRunner(m, names...)}
}

// Run returns the cached activations of tokens [B, P] by hook name.
func (r *Runner) Run(tokens *tensors.Tensor) (map[string]*tensors.Tensor, error) {
	return r.r.run(tokens)
}
