package circuits

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/internal/progress"
)

// Node-level activation patching: for every head and MLP n, the clean prompts run with n's
// output (hook_result[:, :, h] or hook_mlp_out) replaced by its output on the corrupted
// prompts. The effect of n is the share of the clean-corrupted gap that this loses:
//
//	effect_n = (m_clean - m_patched(n)) / (m_clean - m_corrupted)
//
// with m the mean logit difference; its magnitude |effect_n| is the node's score. The sweep
// is batched: one model call runs k copies of the N clean prompts, copy j with node j patched
// (node ablation masks, ablate.go), with k as large as the memory budget allows.

// patchRowBudget bounds the floats one batched patching call holds in its hook_result tensors
// and logits (128 MiB of float32).
const patchRowBudget = 1 << 25

// nodePatching returns every head's and MLP's signed effect by node name.
func (e *experiment) nodePatching() (map[string]float64, error) {
	c := e.m.Config
	nodes := e.g.Components()
	gap := mean(e.cleanLD) - mean(e.corrLD)
	if math.Abs(gap) < 1e-9 {
		return nil, fmt.Errorf("circuits: clean and corrupted logit differences are equal (%.4g): nothing to patch", mean(e.cleanLD))
	}
	perCopy := e.n * e.plen * (c.NHeads*c.DModel*c.NLayers + c.DVocab)
	k := max(1, min(len(nodes), patchRowBudget/max(1, perCopy)))
	tokens := tileRows(e.clean, k)
	src := mapActs(e.corrOut, func(t *tensors.Tensor) *tensors.Tensor { return tileRows(t, k) })
	effects := map[string]float64{}
	bar := progress.New(len(nodes), "patching")
	defer bar.Finish()
	for start := 0; start < len(nodes); start += k {
		masks := newNodeMasks(c, k*e.n)
		chunk := nodes[start:min(start+k, len(nodes))]
		for j, n := range chunk {
			masks.set(n, j*e.n, (j+1)*e.n)
		}
		logits, err := e.runNodeAblation(tokens, masks, src)
		if err != nil {
			return nil, err
		}
		ld := logitDiffs(logits, e.pairs)
		for j, n := range chunk {
			effects[n.String()] = (mean(e.cleanLD) - mean(ld[j*e.n:(j+1)*e.n])) / gap
		}
		bar.Add(len(chunk), "")
	}
	return effects, nil
}
