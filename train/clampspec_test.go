package train

import (
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

func TestParseClamp(t *testing.T) {
	dir := t.TempDir()
	constFile := filepath.Join(dir, "c.safetensors")
	require.NoError(t, model.WriteSafetensors(constFile, map[string]*tensors.Tensor{
		"x": tensors.FromFlatDataAndDimensions(make([]float32, 4*15*15), 4, 15, 15)}, nil))
	cases := []struct {
		spec        string
		hook        string
		heads, pos  []int
		value, text string
	}{
		{"blocks.0.attn.hook_pattern[head=2]=prev-token", hooks.Pattern(0), []int{2}, nil, "prev-token", "blocks.0.attn.hook_pattern[head=2]=prev-token"},
		{"blocks.1.attn.hook_pattern[head=0,1,2]=induction", hooks.Pattern(1), []int{0, 1, 2}, nil, "induction", ""},
		{"blocks.1.attn.hook_z[head=1-3][pos=3]=zero", hooks.Z(1), []int{1, 2, 3}, []int{3}, "zero", "blocks.1.attn.hook_z[head=1,2,3][pos=3]=zero"},
		{"blocks.1.attn.hook_z[head=1,pos=3,4]=mean", hooks.Z(1), []int{1}, []int{3, 4}, "mean", ""},
		{"blocks.0.hook_attn_out=uniform", hooks.AttnOut(0), nil, nil, "uniform", ""},
		{"blocks.0.attn.hook_pattern=const:" + constFile, hooks.Pattern(0), nil, nil, "const([4 15 15], fnv:", ""},
		{"blocks.1.attn.hook_v[head=3]=graft:toy-attn-only", hooks.V(1), []int{3}, nil, "graft(fnv:", ""},
	}
	for _, tc := range cases {
		c, err := ParseClamp(tc.spec)
		require.NoError(t, err, tc.spec)
		require.Equal(t, tc.hook, c.Hook)
		require.Equal(t, tc.heads, c.Heads)
		require.Equal(t, tc.pos, c.Positions)
		require.Contains(t, c.Value.String(), tc.value)
		if tc.text != "" {
			require.Equal(t, tc.text, c.String())
		}
	}
}

func TestParseClampErrors(t *testing.T) {
	cases := map[string]string{
		"blocks.0.attn.hook_pattern":                                "missing =VALUE",
		"=zero":                                                     "want HOOK[head=...]",
		"blocks.0.attn.hook_pattern[head=2=zero":                    "missing ']'",
		"blocks.0.attn.hook_pattern[head=x]=zero":                   `bad index "x"`,
		"blocks.0.attn.hook_pattern[head=3-1]=zero":                 `bad range "3-1"`,
		"blocks.0.attn.hook_pattern[layer=1]=zero":                  `unknown selector "layer"`,
		"blocks.0.attn.hook_pattern[head=1]=perfect":                `unknown value "perfect"`,
		"blocks.0.attn.hook_pattern=graft:/nonexistent/model":       "graft: model \"/nonexistent/model\"",
		"blocks.0.attn.hook_pattern=const:/nonexistent.safetensors": "const: ",
	}
	for spec, want := range cases {
		_, err := ParseClamp(spec)
		require.Error(t, err, spec)
		require.Contains(t, err.Error(), want, spec)
		require.Contains(t, err.Error(), spec)
	}
}
