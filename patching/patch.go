package patching

import (
	"fmt"
	"strconv"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best dot-imported.
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// Patch is the one generic patch routine (TransformerLens's generic_activation_patch). For each
// layer (all when none are given) and each variant of the setter, it runs the target run with the
// component's source values patched in where the variant says, and scores the metric (mean over
// prompts, normalised if the metric is).
//
// It is batched: the variants of a layer are stacked along the batch axis (one row per variant
// and prompt), as many rows per forward pass as Options allow, and each forward pass starts from
// the target run's cached hook_resid_pre of the patched layer, so the blocks before the patch are
// never recomputed and only the scored position is unembedded. Each layer compiles one graph; the
// masks and source values are fed.
func (e *Experiment) Patch(comp Component, s Setter, layers ...int) (*Result, error) {
	c := e.Model.Config
	if err := comp.CheckModel(c); err != nil {
		return nil, err
	}
	if s.Layout != comp.layout() {
		return nil, fmt.Errorf("patching: setter %q applies to %s activations, component %s is %s", s.Name, s.Layout, comp, comp.layout())
	}
	layers, err := e.layersOrAll(layers)
	if err != nil {
		return nil, err
	}
	target := e.target()
	var names []string
	for _, l := range layers {
		names = append(names, hooks.ResidPre(l), comp.Hook(l))
	}
	if _, err := e.acts(target, names...); err != nil {
		return nil, err
	}
	first, _ := e.acts(target, comp.Hook(layers[0]))
	act := first[0].Shape().Dimensions[1:] // per-prompt shape
	nv := s.variants(act)
	N := e.Prompts.N()
	G := chunking(nv, e.rowsPerForward(comp)/N)
	ms := s.maskShape(act)
	maskSize := 1
	for _, d := range ms {
		maskSize *= d
	}

	res := e.newResult("exact", comp, s, layers, act)
	total, done := nv*len(layers), 0
	for li, l := range layers {
		acts, err := e.acts(target, hooks.ResidPre(l))
		if err != nil {
			return nil, err
		}
		src, err := e.source(comp.Hook(l))
		if err != nil {
			return nil, err
		}
		pl := patchPlan(comp.Hook(l), l)
		for v0 := 0; v0 < nv; v0 += G {
			mask := make([]float32, G*maskSize)
			for g := range G {
				if v0+g < nv {
					s.setMask(mask[g*maskSize:(g+1)*maskSize], act, v0+g)
				}
			}
			vals, err := e.runSuffix(pl, acts[0], []*tensors.Tensor{
				tensors.FromFlatDataAndDimensions(mask, append([]int{G}, ms...)...), src})
			if err != nil {
				return nil, fmt.Errorf("patching: %s at layer %d: %w", comp, l, err)
			}
			for g := range G {
				if v0+g < nv {
					res.Scores[li*nv+v0+g] = normalise(mean(vals[g]), e.Clean, e.Corrupted, e.Metric.Normalized)
				}
			}
			done += min(G, nv-v0)
			if e.Options.Progress != nil {
				e.Options.Progress(done, total)
			}
		}
	}
	return res, nil
}

// patchPlan blends the fed source values into hook point name where the fed mask is 1. Inputs:
// mask [G, mS...], source [N, S...].
func patchPlan(name string, start int) plan {
	return plan{key: "patch:" + name, start: start, build: func(c model.Config, p model.Params, resid *Node, in []*Node, G, N int) *Node {
		mask, src := in[0], in[1]
		hk := patchHooks(map[string]hooks.Fn{name: func(x *Node, _ []*Node) *Node { return blend(x, src, mask, G, N) }})
		out := model.Blocks(c, p, resid, start, c.NLayers, hk)
		hk.Finish(nil)
		return out
	}}
}

// newResult lays out the axes of a sweep: layer, then the setter's axes.
func (e *Experiment) newResult(method string, comp Component, s Setter, layers []int, act []int) *Result {
	lay := Axis{Name: "layer"}
	for _, l := range layers {
		lay.Labels = append(lay.Labels, strconv.Itoa(l))
	}
	axes := []Axis{lay}
	for i, a := range s.Index {
		axes = append(axes, numberedAxis(a.Name, s.sizes(act)[i]))
	}
	return &Result{
		Scores: make([]float64, len(layers)*s.variants(act)), Axes: axes,
		Metric: e.Metric.Name, Normalized: e.Metric.Normalized, Method: method, Component: string(comp),
		Setter: s.Name, Source: e.sourceName(), Clean: e.Clean, Corrupted: e.Corrupted,
	}
}
