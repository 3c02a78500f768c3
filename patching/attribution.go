package patching

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best dot-imported.
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
)

// Attribute is attribution patching: the first-order estimate of what Patch measures, from one
// forward and one backward pass of the target run. For a patch that replaces the elements A of
// an activation a by the source values a',
//
//	metric(patched) ~ metric(target) + sum_{i in A} (d metric / d a_i) (a'_i - a_i)
//
// with the gradient taken on the target run (of the mean metric over prompts, so the sum also
// runs over prompts). The result has Patch's axes and scale (normalised when the metric is), so
// Correlation(attr.Scores, exact.Scores) says how well the estimate ranks components.
func (e *Experiment) Attribute(comp Component, s Setter, layers ...int) (*Result, error) {
	if e.Metric.Values == nil {
		return nil, fmt.Errorf("patching: attribution needs a graph metric; %q is a host metric without a gradient", e.Metric.Name)
	}
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
	names := make([]string, len(layers))
	for i, l := range layers {
		names[i] = comp.Hook(l)
	}
	target := e.runs[e.target()]
	key := ""
	if _, builtin := metrics[e.Metric.Name]; builtin {
		key = "patching.attribution." + e.Metric.Name
	}
	set := hooks.New().Cache(names...).Grad(key, e.gradMetric, names, e.fixed...)
	out, err := e.Model.Run(target.tokens, set)
	if err != nil {
		return nil, fmt.Errorf("patching: attribution: %w", err)
	}
	for _, n := range names {
		target.cache.Set(n, out.Cache.MustGet(n))
	}

	act := out.Cache.MustGet(names[0]).Shape().Dimensions[1:]
	nv := s.variants(act)
	res := e.newResult("attribution", comp, s, layers, act)
	for li, name := range names {
		src, err := e.source(name)
		if err != nil {
			return nil, err
		}
		g := tensors.MustCopyFlatData[float32](out.Grads[name])
		a := tensors.MustCopyFlatData[float32](out.Cache.MustGet(name))
		b := tensors.MustCopyFlatData[float32](src)
		size := len(g) / e.Prompts.N()
		attr := make([]float64, nv)
		variantOf := s.variantIndex(act)
		for n := range e.Prompts.N() {
			for j := range size {
				i := n*size + j
				attr[variantOf[j]] += float64(g[i]) * (float64(b[i]) - float64(a[i]))
			}
		}
		for v := range nv {
			res.Scores[li*nv+v] = normalise(out.Metric+attr[v], e.Clean, e.Corrupted, e.Metric.Normalized)
		}
	}
	return res, nil
}

// gradMetric is the metric of a whole run, as hooks.Set.Grad wants it: logits [N, P, V] are read
// at each prompt's scored position and the per-prompt values averaged. Inputs: e.fixed.
func (e *Experiment) gradMetric(logits *Node, in []*Node) *Node {
	pos, ans, wrong, cleanLP := in[0], in[1], in[2], in[3]
	P := logits.Shape().Dimensions[1]
	positions := Iota(logits.Graph(), shapes.Make(dtypes.Int32, 1, P), 1)         // [1, P]
	onehot := ConvertDType(Equal(InsertAxes(pos, -1), positions), logits.DType()) // [N, P]
	x := ReduceSum(Mul(logits, InsertAxes(onehot, -1)), 1)                        // [N, V]
	t := Targets{AnswerSet: InsertAxes(ans, 0), WrongSet: InsertAxes(wrong, 0), CleanLogProbs: InsertAxes(cleanLP, 0)}
	return ReduceAllMean(e.Metric.Values(InsertAxes(x, 0), t)) // scalar
}

// variantIndex maps each element of a per-prompt activation (flat, row-major) to the variant
// that patches it.
func (s Setter) variantIndex(act []int) []int {
	size := 1
	for _, d := range act {
		size *= d
	}
	sizes := s.sizes(act)
	out := make([]int, size)
	coord := make([]int, len(act))
	for j := range size {
		r := j
		for i := len(act) - 1; i >= 0; i-- {
			coord[i] = r % act[i]
			r /= act[i]
		}
		v := 0
		for i, a := range s.Index {
			v = v*sizes[i] + coord[a.Dim]
		}
		out[j] = v
	}
	return out
}
