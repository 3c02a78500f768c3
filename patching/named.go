package patching

import "fmt"

// The named sweeps of TransformerLens's patching.py, each one Patch call. Scores are layer-major:
// [layer, pos], [layer, head], [layer, head, pos], [layer, head, dest_pos(, src_pos)].

// ResidPreByPos patches hook_resid_pre by (layer, position) (get_act_patch_resid_pre).
func (e *Experiment) ResidPreByPos() (*Result, error) { return e.Patch(ResidPre, LayerPosSetter) }

// ResidMidByPos patches hook_resid_mid by (layer, position) (get_act_patch_resid_mid).
func (e *Experiment) ResidMidByPos() (*Result, error) { return e.Patch(ResidMid, LayerPosSetter) }

// ResidPostByPos patches hook_resid_post by (layer, position).
func (e *Experiment) ResidPostByPos() (*Result, error) { return e.Patch(ResidPost, LayerPosSetter) }

// AttnOutByPos patches each block's attention output by (layer, position) (get_act_patch_attn_out).
func (e *Experiment) AttnOutByPos() (*Result, error) { return e.Patch(AttnOut, LayerPosSetter) }

// MLPOutByPos patches each block's MLP output by (layer, position) (get_act_patch_mlp_out).
func (e *Experiment) MLPOutByPos() (*Result, error) { return e.Patch(MLPOut, LayerPosSetter) }

// HeadOutAllPos patches each head's output (hook_z) at every position
// (get_act_patch_attn_head_out_all_pos). [layer, head]
func (e *Experiment) HeadOutAllPos() (*Result, error) { return e.Patch(Z, LayerHeadSetter) }

// HeadOutByPos patches each head's output (hook_z) at one position
// (get_act_patch_attn_head_out_by_pos). [layer, head, pos]
func (e *Experiment) HeadOutByPos() (*Result, error) { return e.Patch(Z, LayerHeadPosSetter) }

// HeadQAllPos patches each head's queries at every position (get_act_patch_attn_head_q_all_pos).
func (e *Experiment) HeadQAllPos() (*Result, error) { return e.Patch(Q, LayerHeadSetter) }

// HeadQByPos patches each head's query at one position (get_act_patch_attn_head_q_by_pos).
func (e *Experiment) HeadQByPos() (*Result, error) { return e.Patch(Q, LayerHeadPosSetter) }

// HeadKAllPos patches each head's keys at every position (get_act_patch_attn_head_k_all_pos).
func (e *Experiment) HeadKAllPos() (*Result, error) { return e.Patch(K, LayerHeadSetter) }

// HeadKByPos patches each head's key at one position (get_act_patch_attn_head_k_by_pos).
func (e *Experiment) HeadKByPos() (*Result, error) { return e.Patch(K, LayerHeadPosSetter) }

// HeadVAllPos patches each head's values at every position (get_act_patch_attn_head_v_all_pos).
func (e *Experiment) HeadVAllPos() (*Result, error) { return e.Patch(V, LayerHeadSetter) }

// HeadVByPos patches each head's value at one position (get_act_patch_attn_head_v_by_pos).
func (e *Experiment) HeadVByPos() (*Result, error) { return e.Patch(V, LayerHeadPosSetter) }

// HeadResultAllPos patches each head's result (z @ W_O, hook_result) at every position.
func (e *Experiment) HeadResultAllPos() (*Result, error) { return e.Patch(HeadResult, LayerHeadSetter) }

// HeadResultByPos patches each head's result at one position.
func (e *Experiment) HeadResultByPos() (*Result, error) {
	return e.Patch(HeadResult, LayerHeadPosSetter)
}

// HeadPatternAllPos patches each head's whole attention pattern
// (get_act_patch_attn_head_pattern_all_pos). [layer, head]
func (e *Experiment) HeadPatternAllPos() (*Result, error) { return e.Patch(Pattern, PatternHeadSetter) }

// HeadPatternByPos patches one destination row of each head's pattern
// (get_act_patch_attn_head_pattern_by_pos). [layer, head, dest_pos]
func (e *Experiment) HeadPatternByPos() (*Result, error) {
	return e.Patch(Pattern, PatternHeadDestSetter)
}

// HeadPatternDestSrc patches one (destination, source) entry of each head's pattern
// (get_act_patch_attn_head_pattern_dest_src_pos). [layer, head, dest_pos, src_pos]
func (e *Experiment) HeadPatternDestSrc() (*Result, error) {
	return e.Patch(Pattern, PatternHeadDestSrcSetter)
}

// BlockEvery patches resid_pre, attn_out and mlp_out (attention-only models: the first two) by
// (layer, position) (get_act_patch_block_every). [component, layer, pos]
func (e *Experiment) BlockEvery() (*Result, error) {
	comps := []Component{ResidPre, AttnOut, MLPOut}
	if !e.Model.Config.HasMLP() {
		comps = comps[:2]
	}
	var parts []*Result
	for _, c := range comps {
		r, err := e.Patch(c, LayerPosSetter)
		if err != nil {
			return nil, err
		}
		parts = append(parts, r)
	}
	return stack(parts)
}

// HeadAllPosEvery patches each head's output, queries, keys, values and pattern at every
// position (get_act_patch_attn_head_all_pos_every). [component, layer, head]
func (e *Experiment) HeadAllPosEvery() (*Result, error) {
	var parts []*Result
	for _, c := range []Component{Z, Q, K, V, Pattern} {
		r, err := e.Patch(c, SetterFor(c, false))
		if err != nil {
			return nil, err
		}
		parts = append(parts, r)
	}
	return stack(parts)
}

// HeadByPosEvery patches each head's output, query, key and value at one position and its
// pattern at one destination position (get_act_patch_attn_head_by_pos_every).
// [component, layer, head, pos]
func (e *Experiment) HeadByPosEvery() (*Result, error) {
	var parts []*Result
	for _, c := range []Component{Z, Q, K, V, Pattern} {
		r, err := e.Patch(c, SetterFor(c, true))
		if err != nil {
			return nil, err
		}
		parts = append(parts, r)
	}
	return stack(parts)
}

// stack joins results of equal dims along a new leading "component" axis.
func stack(parts []*Result) (*Result, error) {
	out := *parts[0]
	comp := Axis{Name: "component"}
	out.Scores = nil
	for _, r := range parts {
		if fmt.Sprint(r.Dims()) != fmt.Sprint(parts[0].Dims()) {
			return nil, fmt.Errorf("patching: cannot stack %s scores %v with %s scores %v", r.Component, r.Dims(), parts[0].Component, parts[0].Dims())
		}
		comp.Labels = append(comp.Labels, r.Component)
		out.Scores = append(out.Scores, r.Scores...)
	}
	out.Axes = append([]Axis{comp}, parts[0].Axes...)
	out.Component, out.Setter = "every", "every"
	return &out, nil
}
