package hooks

import (
	"fmt"
	"slices"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Cache holds cached activations by hook name (TransformerLens's ActivationCache) and the
// analyses built on them: the logit lens (AccumulatedResid), the residual decomposition
// (DecomposeResid), per-head results (StackHeadResults) and direct logit attribution
// (ApplyLNToStack + LogitAttrs). Analyses run on the host in float32.
type Cache struct {
	acts map[string]*tensors.Tensor
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{acts: map[string]*tensors.Tensor{}} }

// Set stores an activation.
func (c *Cache) Set(name string, t *tensors.Tensor) { c.acts[name] = t }

// Get returns the activation cached under name.
func (c *Cache) Get(name string) (*tensors.Tensor, bool) {
	t, ok := c.acts[name]
	return t, ok
}

// MustGet returns the activation cached under name, panicking if it was not cached.
func (c *Cache) MustGet(name string) *tensors.Tensor {
	t, ok := c.acts[name]
	if !ok {
		panic(fmt.Sprintf("hooks: activation %q is not in the cache", name))
	}
	return t
}

// Names lists the cached hook names, sorted.
func (c *Cache) Names() []string {
	out := make([]string, 0, len(c.acts))
	for n := range c.acts {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Len is the number of cached activations.
func (c *Cache) Len() int { return len(c.acts) }

// Stack is a stack of residual-stream components [C, B, P, D] with a label per component.
type Stack struct {
	Labels []string
	// Dims is [C, B, P, D].
	Dims []int
	Data []float32
}

// At returns the vector stack[c, b, p, :].
func (s *Stack) At(c, b, p int) []float32 {
	D := s.Dims[3]
	off := ((c*s.Dims[1]+b)*s.Dims[2] + p) * D
	return s.Data[off : off+D]
}

func (c *Cache) floats(name string) ([]float32, []int, error) {
	t, ok := c.acts[name]
	if !ok {
		return nil, nil, fmt.Errorf("hooks: cache: activation %q was not cached", name)
	}
	return tensors.MustCopyFlatData[float32](t), slices.Clone(t.Shape().Dimensions), nil
}

func (c *Cache) stack(labels, names []string) (*Stack, error) {
	s := &Stack{Labels: labels}
	for i, n := range names {
		data, dims, err := c.floats(n)
		if err != nil {
			return nil, err
		}
		if len(dims) != 3 {
			return nil, fmt.Errorf("hooks: cache: %q has shape %v, want [batch, pos, d_model]", n, dims)
		}
		if i == 0 {
			s.Dims = append([]int{len(names)}, dims...)
		} else if !slices.Equal(dims, s.Dims[1:]) {
			return nil, fmt.Errorf("hooks: cache: %q has shape %v, others %v", n, dims, s.Dims[1:])
		}
		s.Data = append(s.Data, data...)
	}
	return s, nil
}

// AccumulatedResid stacks the residual stream before each of the first `layers` blocks
// (and, with inclMid, in the middle of each), then the stream after block layers-1
// ("final_post" when layers is the model depth). It is the logit lens's input.
// Labels follow TransformerLens: "0_pre", "0_mid", ..., "final_post" / "L_pre".
func (c *Cache) AccumulatedResid(layers, nLayers int, inclMid bool) (*Stack, error) {
	var labels, names []string
	for l := range layers {
		labels, names = append(labels, fmt.Sprintf("%d_pre", l)), append(names, ResidPre(l))
		if inclMid {
			labels, names = append(labels, fmt.Sprintf("%d_mid", l)), append(names, ResidMid(l))
		}
	}
	if layers == nLayers {
		labels, names = append(labels, "final_post"), append(names, ResidPost(nLayers-1))
	} else {
		labels, names = append(labels, fmt.Sprintf("%d_pre", layers)), append(names, ResidPre(layers))
	}
	return c.stack(labels, names)
}

// DecomposeResid splits the residual stream before block `layers` into the embeddings and each
// earlier block's attention and MLP outputs ("embed", "pos_embed", "0_attn_out", "0_mlp_out", ...).
// Their sum is the residual stream. hasPos and hasMLP describe the model.
func (c *Cache) DecomposeResid(layers int, hasPos, hasMLP bool) (*Stack, error) {
	labels, names := []string{"embed"}, []string{Embed}
	if hasPos {
		labels, names = append(labels, "pos_embed"), append(names, PosEmbed)
	}
	for l := range layers {
		labels, names = append(labels, fmt.Sprintf("%d_attn_out", l)), append(names, AttnOut(l))
		if hasMLP {
			labels, names = append(labels, fmt.Sprintf("%d_mlp_out", l)), append(names, MLPOut(l))
		}
	}
	return c.stack(labels, names)
}

// StackHeadResults stacks every head's output (hook_result) of the first `layers` blocks as
// components labelled "L0H0", "L0H1", ... Their sum plus the attention biases b_O is the total
// attention output.
func (c *Cache) StackHeadResults(layers int) (*Stack, error) {
	s := &Stack{}
	for l := range layers {
		data, dims, err := c.floats(Result(l))
		if err != nil {
			return nil, err
		}
		B, P, H, D := dims[0], dims[1], dims[2], dims[3]
		if s.Dims == nil {
			s.Dims = []int{0, B, P, D}
		}
		for h := range H {
			s.Labels = append(s.Labels, fmt.Sprintf("L%dH%d", l, h))
			for b := range B {
				for p := range P {
					off := ((b*P+p)*H + h) * D
					s.Data = append(s.Data, data[off:off+D]...)
				}
			}
		}
		s.Dims[0] += H
	}
	return s, nil
}

// ApplyLNToStack applies the final LayerNorm's centring and cached scale (ln_final.hook_scale)
// to every component, so components add up to the normalised stream before its learned scale
// and bias. For models without LayerNorm (hasLN false) it returns the stack unchanged.
func (c *Cache) ApplyLNToStack(s *Stack, hasLN bool) (*Stack, error) {
	if !hasLN {
		return s, nil
	}
	scale, dims, err := c.floats(LNFinalScale)
	if err != nil {
		return nil, err
	}
	if dims[0] != s.Dims[1] || dims[1] != s.Dims[2] {
		return nil, fmt.Errorf("hooks: cache: %s has shape %v, stack is %v", LNFinalScale, dims, s.Dims)
	}
	out := &Stack{Labels: s.Labels, Dims: s.Dims, Data: make([]float32, len(s.Data))}
	C, B, P, D := s.Dims[0], s.Dims[1], s.Dims[2], s.Dims[3]
	for ci := range C {
		for b := range B {
			for p := range P {
				v := s.At(ci, b, p)
				var mean float64
				for _, x := range v {
					mean += float64(x)
				}
				mean /= float64(D)
				sc := float64(scale[b*P+p])
				o := out.At(ci, b, p)
				for i, x := range v {
					o[i] = float32((float64(x) - mean) / sc)
				}
			}
		}
	}
	return out, nil
}

// LogitAttrs projects each component of an LN-applied stack onto a residual direction [D]
// (for a logit difference: the final LayerNorm weight times W_U[:, a] - W_U[:, b], see
// model.LogitDiffDirection) at position pos (negative counts from the end). It returns
// [C][B] attributions: direct logit attribution.
func LogitAttrs(s *Stack, dir []float32, pos int) ([][]float64, error) {
	C, B, P, D := s.Dims[0], s.Dims[1], s.Dims[2], s.Dims[3]
	if len(dir) != D {
		return nil, fmt.Errorf("hooks: logit attrs: direction has %d entries, d_model is %d", len(dir), D)
	}
	if pos < 0 {
		pos += P
	}
	if pos < 0 || pos >= P {
		return nil, fmt.Errorf("hooks: logit attrs: position %d out of range [0, %d)", pos, P)
	}
	out := make([][]float64, C)
	for ci := range C {
		out[ci] = make([]float64, B)
		for b := range B {
			var dot float64
			for i, x := range s.At(ci, b, pos) {
				dot += float64(x) * float64(dir[i])
			}
			out[ci][b] = dot
		}
	}
	return out, nil
}
