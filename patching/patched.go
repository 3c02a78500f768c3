package patching

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best dot-imported.
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
)

// PatchedLogits reruns one cell of a Patch sweep, the variant v of setter s at layer l of
// component comp, as a plain forward pass of the target run with that one patch applied, and
// returns each prompt's logits [N][V] at its scored position: what the patched model predicts
// there, to show beside the cell's score. Variants are numbered row-major over the setter's
// axes, as in Result.Scores (for a layer x head x pos result, v = head*P + pos).
func (e *Experiment) PatchedLogits(comp Component, s Setter, l, v int) ([][]float32, error) {
	c := e.Model.Config
	if err := comp.CheckModel(c); err != nil {
		return nil, err
	}
	if s.Layout != comp.layout() {
		return nil, fmt.Errorf("patching: setter %q applies to %s activations, component %s is %s", s.Name, s.Layout, comp, comp.layout())
	}
	if l < 0 || l >= c.NLayers {
		return nil, fmt.Errorf("patching: layer %d out of range [0, %d)", l, c.NLayers)
	}
	target := e.target()
	first, err := e.acts(target, comp.Hook(l))
	if err != nil {
		return nil, err
	}
	act := first[0].Shape().Dimensions[1:]
	if nv := s.variants(act); v < 0 || v >= nv {
		return nil, fmt.Errorf("patching: variant %d out of range [0, %d) for %s at layer %d", v, nv, s.Name, l)
	}
	src, err := e.source(comp.Hook(l))
	if err != nil {
		return nil, err
	}
	ms := s.maskShape(act)
	size := 1
	for _, d := range ms {
		size *= d
	}
	mask := make([]float32, size)
	s.setMask(mask, act, v)
	N := e.Prompts.N()
	set := hooks.New().Func(comp.Hook(l), "patched-cell", func(x *Node, in []*Node) *Node {
		return blend(x, in[0], in[1], 1, N)
	}, src, tensors.FromFlatDataAndDimensions(mask, append([]int{1}, ms...)...))
	out, err := e.Model.Run(e.runs[target].tokens, set)
	if err != nil {
		return nil, fmt.Errorf("patching: patched run: %w", err)
	}
	logits := tensors.MustCopyFlatData[float32](out.Logits)
	P, V := e.Prompts.Len(), c.DVocab
	res := make([][]float32, N)
	for n := range N {
		p := e.Prompts.Pos[n]
		res[n] = logits[(n*P+p)*V : (n*P+p+1)*V]
	}
	return res, nil
}
