package patching

import (
	"fmt"
	"strconv"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best dot-imported.
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// This file runs batched suffixes: the model from a cached hook_resid_pre of block start to the
// logits at each prompt's scored position, for G groups of patch variants at once. Row r of a
// batch is variant group r / N on prompt r % N. Each plan compiles once per shape; every patch
// value enters as a fed tensor.

// plan is the patched part of one batched suffix graph.
type plan struct {
	// key identifies the graph (with start): plans with equal keys build the same graph from
	// inputs of the same shapes.
	key string
	// start is the first block run.
	start int
	// build runs the blocks from start on resid [G*N, P, D] with the plan's hooks, whose values
	// come from in (the fed plan inputs; in[0] leads with G), and returns the stream leaving the
	// last block [G*N, P, D].
	build func(c model.Config, p model.Params, resid *Node, in []*Node, G, N int) *Node
}

// plainPlan runs the model unpatched from block 0 (its one input is a [1] placeholder giving G).
func plainPlan() plan {
	return plan{key: "plain", start: 0, build: func(c model.Config, p model.Params, resid *Node, _ []*Node, _, _ int) *Node {
		return model.Blocks(c, p, resid, 0, c.NLayers, nil)
	}}
}

// runSuffix runs a plan from resid0 [N, P, D] (the target run's hook_resid_pre of plan.start)
// with the plan inputs in, and returns the metric per group and prompt [G][N].
func (e *Experiment) runSuffix(pl plan, resid0 *tensors.Tensor, in []*tensors.Tensor) ([][]float64, error) {
	m := e.Model
	key := pl.key + "@" + strconv.Itoa(pl.start)
	exec, ok := e.execs[key]
	if !ok {
		var err error
		exec, err = NewExec(m.Backend, func(inputs []*Node) []*Node { return e.suffixGraph(pl, inputs) })
		if err != nil {
			return nil, fmt.Errorf("patching: compile: %w", err)
		}
		exec.SetMaxCache(16)
		e.execs[key] = exec
	}
	specs := model.ParamSpecs(m.Config)
	args := make([]any, 0, len(specs)+1+len(e.fixed)+len(in))
	for _, s := range specs {
		args = append(args, m.Weights.Tensors[s.Name])
	}
	args = append(args, resid0)
	for _, t := range e.fixed {
		args = append(args, t)
	}
	for _, t := range in {
		args = append(args, t)
	}
	var outs []*tensors.Tensor
	err := model.Catch(func() {
		var err error
		if outs, err = exec.Exec(args...); err != nil {
			panic(err)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("patching: run: %w", err)
	}
	defer func() {
		for _, t := range outs {
			_ = t.FinalizeAll()
		}
	}()
	G, N := in[0].Shape().Dimensions[0], e.Prompts.N()
	vals := make([][]float64, G)
	if e.Metric.Values != nil {
		flat := tensors.MustCopyFlatData[float32](outs[0]) // [G, N]
		for g := range G {
			vals[g] = make([]float64, N)
			for n := range N {
				vals[g][n] = float64(flat[g*N+n])
			}
		}
		return vals, nil
	}
	V := m.Config.DVocab
	flat := tensors.MustCopyFlatData[float32](outs[0]) // [G, N, V]
	for g := range G {
		vals[g] = make([]float64, N)
		for n := range N {
			vals[g][n] = e.Metric.Host(flat[(g*N+n)*V:(g*N+n+1)*V], n, e.Prompts)
		}
	}
	return vals, nil
}

// suffixGraph builds one batched suffix. Inputs: the weights (ParamSpecs order), resid0
// [N, P, D], the fixed metric inputs (pos [N], answer and wrong masks [N, V], clean
// log-probabilities [N, V]), then the plan's inputs.
func (e *Experiment) suffixGraph(pl plan, inputs []*Node) []*Node {
	c := e.Model.Config
	specs := model.ParamSpecs(c)
	p := make(model.Params, len(specs))
	for i, s := range specs {
		p[s.Name] = inputs[i]
	}
	rest := inputs[len(specs):]
	resid0, pos, ans, wrong, cleanLP := rest[0], rest[1], rest[2], rest[3], rest[4]
	in := rest[5:]
	N := resid0.Shape().Dimensions[0]
	G := in[0].Shape().Dimensions[0]

	resid := pl.build(c, p, tile(resid0, G), in, G, N)  // [G*N, P, D]
	logits := model.LogitsAt(c, p, resid, tile(pos, G)) // [G*N, V]
	logits = Reshape(logits, G, N, c.DVocab)            // [G, N, V]
	if e.Metric.Values == nil {
		return []*Node{logits}
	}
	t := Targets{AnswerSet: InsertAxes(ans, 0), WrongSet: InsertAxes(wrong, 0), CleanLogProbs: InsertAxes(cleanLP, 0)}
	return []*Node{e.Metric.Values(logits, t)} // [G, N]
}

// tile repeats x [N, ...] G times along the batch axis: [G*N, ...], group-major.
func tile(x *Node, G int) *Node {
	if G == 1 {
		return x
	}
	dims := x.Shape().Dimensions
	b := BroadcastToDims(InsertAxes(x, 0), append([]int{G}, dims...)...) // [G, N, ...]
	return Reshape(b, append([]int{G * dims[0]}, dims[1:]...)...)
}

// blend returns x with the elements where mask is 1 taken from src, for G groups: x [G*N, S...],
// src [N, S...] (or [G*N, S...]), mask [G, mS...] where mS is S with some axes 1. It is
// x*(1-mask) + src*mask, exact for a 0/1 mask.
func blend(x, src, mask *Node, G, N int) *Node {
	dims := x.Shape().Dimensions
	S := dims[1:]
	xr := Reshape(x, append([]int{G, N}, S...)...) // [G, N, S...]
	var sr *Node
	if src.Shape().Dimensions[0] == N && G > 1 {
		sr = InsertAxes(src, 0) // [1, N, S...]
	} else {
		sr = Reshape(src, append([]int{G, N}, S...)...) // [G, N, S...]
	}
	m := InsertAxes(mask, 1) // [G, 1, mS...]
	out := Add(Mul(xr, OneMinus(m)), Mul(sr, m))
	return Reshape(out, dims...)
}

// patchHooks is a hook set that applies fn at each named point while one graph is built.
func patchHooks(fns map[string]hooks.Fn) *hooks.Active {
	set := hooks.New()
	for name, fn := range fns {
		set.Func(name, "", fn)
	}
	return set.Activate(nil)
}
