package model

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best dot-imported.
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/interp-dev/interp/hooks"
)

// This file holds pieces of the forward pass for clients that run part of the model: patching
// sweeps start from a cached hook_resid_pre and score one position per row.

// Blocks runs blocks start..end-1 on resid [B, P, D], the residual stream entering block start,
// and returns the stream leaving block end-1 (hook_resid_post of end-1) [B, P, D].
func Blocks(c Config, p Params, resid *Node, start, end int, hk *hooks.Active) *Node {
	if start < 0 || end > c.NLayers || start > end {
		panic(fmt.Sprintf("model: Blocks(%d, %d) outside the %d layers", start, end, c.NLayers))
	}
	posQK := shortformerPos(c, p, resid)
	for l := start; l < end; l++ {
		resid = block(c, p, l, resid, posQK, nil, hk)
	}
	return resid
}

// LogitsAt applies the final LayerNorm and the unembedding to one position per row: resid
// [B, P, D] is the stream leaving the last block and pos [B] (int32) the position scored in each
// row. It returns logits [B, V], the same values as ForwardFrom's logits at those positions, at
// 1/P of the unembedding's cost. The ln_final hooks are not visited.
func LogitsAt(c Config, p Params, resid, pos *Node) *Node {
	dims := resid.Shape().Dimensions
	B, P := dims[0], dims[1]
	g := resid.Graph()
	positions := Iota(g, shapes.Make(dtypes.Int32, 1, P), 1)                     // [1, P]
	onehot := ConvertDType(Equal(InsertAxes(pos, -1), positions), resid.DType()) // [B, P]
	x := ReduceAndKeep(Mul(resid, InsertAxes(onehot, -1)), ReduceSum, 1)         // [B, 1, D]
	logits := unembed(c, p, norm(c, p, "ln_final", x, nil))                      // [B, 1, V]
	return Reshape(logits, B, logits.Shape().Dimensions[2])                      // [B, V]
}
