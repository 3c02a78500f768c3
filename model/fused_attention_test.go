package model

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/fastcpu"
	"github.com/interp-dev/interp/hooks"
)

// TestFusedAttentionLeavesHookedIntermediates: on fastcpu a plain forward pass fuses every
// layer's attention (scores, mask, softmax and pattern x v in one kernel), and a hook on a value
// inside that region (hook_attn_scores, hook_pattern; cached, replaced, added to or zeroed) keeps
// its layer unfused, so that the hooked value is the one the rest of the pass uses. A hook on
// the region's inputs or output (q, k, v, z) leaves it fused.
func TestFusedAttentionLeavesHookedIntermediates(t *testing.T) {
	c := AttnOnlyToy(3, 4, 16, 23, 12)
	m := testModel(t, c, 0)
	if m.BackendName != fastcpu.BackendName {
		t.Skipf("fusion is fastcpu's; the model runs on %s", m.BackendName)
	}
	tok := randTokens(t, 2, 12, c.DVocab, 1)
	fused := func(set *hooks.Set) int64 {
		before := fastcpu.FusedAttentions()
		if _, err := m.Run(tok, set); err != nil {
			t.Fatal(err)
		}
		return fastcpu.FusedAttentions() - before
	}
	if n := fused(hooks.New().Cache("blocks.0.hook_resid_pre")); n != int64(c.NLayers) {
		t.Fatalf("a plain forward pass fused %d attention layers, want %d", n, c.NLayers)
	}
	zeros := tensors.FromShape(shapes.Make(dtypes.Float32, 2, c.NHeads, 12, 12))
	for _, tc := range []struct {
		name string
		set  *hooks.Set
		want int64
	}{
		{"cache scores", hooks.New().Cache("blocks.1.attn.hook_attn_scores"), 2},
		{"cache pattern", hooks.New().Cache("blocks.1.attn.hook_pattern"), 2},
		{"replace pattern", hooks.New().Replace("blocks.1.attn.hook_pattern", zeros), 2},
		{"add to scores", hooks.New().Add("blocks.1.attn.hook_attn_scores", zeros), 2},
		{"zero pattern", hooks.New().Zero("blocks.2.attn.hook_pattern"), 2},
		{"cache every pattern", hooks.New().Cache("blocks.0.attn.hook_pattern", "blocks.1.attn.hook_pattern", "blocks.2.attn.hook_pattern"), 0},
		{"cache q, k, v, z", hooks.New().Cache("blocks.1.attn.hook_q", "blocks.1.attn.hook_k", "blocks.1.attn.hook_v", "blocks.1.attn.hook_z"), 3},
	} {
		if n := fused(tc.set); n != tc.want {
			t.Errorf("%s: %d attention layers fused, want %d", tc.name, n, tc.want)
		}
	}
}

// TestFusedNormLeavesHookedIntermediates: a plain forward pass fuses every norm (ln1, ln2 per
// layer and ln_final; LayerNorm and RMSNorm), and a hook on a norm's scale (cached or replaced)
// keeps that norm unfused, so the hooked value is the one the pass uses. A hook on
// hook_normalized, the norm's output, leaves it fused. The hooked values agree with the fused run's
// logits: caching hook_scale does not change them.
func TestFusedNormLeavesHookedIntermediates(t *testing.T) {
	for _, c := range []Config{
		{NLayers: 2, DModel: 16, NHeads: 4, DHead: 4, DMLP: 32, NCtx: 12, DVocab: 23, Act: GeluNew, Normalization: LayerNorm,
			PositionalEmbeddings: true, LNEps: 1e-5},
		LlamaToy(2, 4, 2, 16, 23, 12),
	} {
		m := testModel(t, c, 0)
		if m.BackendName != fastcpu.BackendName {
			t.Skipf("fusion is fastcpu's; the model runs on %s", m.BackendName)
		}
		tok := randTokens(t, 2, 12, c.DVocab, 1)
		run := func(set *hooks.Set) (int64, *Output) {
			before := fastcpu.FusedNorms()
			out, err := m.Run(tok, set)
			if err != nil {
				t.Fatal(err)
			}
			return fastcpu.FusedNorms() - before, out
		}
		all := int64(2*c.NLayers + 1)
		n, plain := run(hooks.New().Cache("blocks.0.hook_resid_pre"))
		if n != all {
			t.Fatalf("%s: a plain forward pass fused %d norms, want %d", c.Normalization, n, all)
		}
		scale := tensors.FromShape(shapes.Make(dtypes.Float32, 2, 12, 1))
		for _, tc := range []struct {
			name string
			set  *hooks.Set
			want int64
		}{
			{"cache ln1 scale", hooks.New().Cache("blocks.1.ln1.hook_scale"), all - 1},
			{"cache ln2 and final scales", hooks.New().Cache("blocks.0.ln2.hook_scale", "ln_final.hook_scale"), all - 2},
			{"replace ln1 scale", hooks.New().Replace("blocks.0.ln1.hook_scale", scale), all - 1},
			{"cache normalized", hooks.New().Cache("blocks.1.ln2.hook_normalized"), all},
		} {
			n, out := run(tc.set)
			if n != tc.want {
				t.Errorf("%s, %s: %d norms fused, want %d", c.Normalization, tc.name, n, tc.want)
			}
			if tc.name == "cache ln1 scale" {
				if d := maxDiff(tensors.MustCopyFlatData[float32](out.Logits), tensors.MustCopyFlatData[float32](plain.Logits)); d != 0 {
					t.Errorf("%s: caching a scale moved the logits by %g", c.Normalization, d)
				}
			}
		}
	}
}
