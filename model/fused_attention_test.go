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
