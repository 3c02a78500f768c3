package patching

import (
	"fmt"
	"strings"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// Component names a patchable activation kind, by its TransformerLens hook.
type Component string

// The components. The first five are [B, P, D] residual-stream writes, patched by (layer,
// position); the per-head ones are [B, P, H, K] (z, q, k, v) or [B, P, H, D] (result), and the
// attention pattern is [B, H, Pq, Pk].
const (
	ResidPre   Component = "resid_pre"
	ResidMid   Component = "resid_mid"
	ResidPost  Component = "resid_post"
	AttnOut    Component = "attn_out"
	MLPOut     Component = "mlp_out"
	Z          Component = "z"
	Q          Component = "q"
	K          Component = "k"
	V          Component = "v"
	HeadResult Component = "result"
	Pattern    Component = "pattern"
)

// Components lists every component in CLI order.
func Components() []Component {
	return []Component{ResidPre, ResidMid, ResidPost, AttnOut, MLPOut, Z, Q, K, V, HeadResult, Pattern}
}

// ParseComponent returns the component called name.
func ParseComponent(name string) (Component, error) {
	for _, c := range Components() {
		if string(c) == name {
			return c, nil
		}
	}
	var names []string
	for _, c := range Components() {
		names = append(names, string(c))
	}
	return "", fmt.Errorf("patching: unknown component %q (known: %s)", name, strings.Join(names, ", "))
}

// Hook is the component's hook point in block l.
func (c Component) Hook(l int) string {
	switch c {
	case ResidPre:
		return hooks.ResidPre(l)
	case ResidMid:
		return hooks.ResidMid(l)
	case ResidPost:
		return hooks.ResidPost(l)
	case AttnOut:
		return hooks.AttnOut(l)
	case MLPOut:
		return hooks.MLPOut(l)
	case Z:
		return hooks.Z(l)
	case Q:
		return hooks.Q(l)
	case K:
		return hooks.K(l)
	case V:
		return hooks.V(l)
	case HeadResult:
		return hooks.Result(l)
	case Pattern:
		return hooks.Pattern(l)
	}
	panic(fmt.Sprintf("patching: unknown component %q", string(c)))
}

// layout is the component's per-prompt activation layout (batch axis dropped).
func (c Component) layout() layout {
	switch c {
	case ResidPre, ResidMid, ResidPost, AttnOut, MLPOut:
		return layoutPosVector
	case Z, Q, K, V, HeadResult:
		return layoutPosHeadVector
	case Pattern:
		return layoutPattern
	}
	panic(fmt.Sprintf("patching: unknown component %q", string(c)))
}

// CheckModel reports whether a model with config cfg has the component.
func (c Component) CheckModel(cfg model.Config) error {
	if _, err := ParseComponent(string(c)); err != nil {
		return err
	}
	if (c == ResidMid || c == MLPOut) && !cfg.HasMLP() {
		return fmt.Errorf("patching: component %s: the model is attention-only (no MLP)", c)
	}
	if c == ResidMid && !cfg.HasResidMid() {
		return fmt.Errorf("patching: component %s: the model's residual is parallel (attention and MLP read resid_pre; no resid_mid)", c)
	}
	return nil
}

// layout names the axes of a per-prompt activation.
type layout string

const (
	layoutPosVector     layout = "[pos, d]"                  // resid_*, attn_out, mlp_out
	layoutPosHeadVector layout = "[pos, head, d]"            // z, q, k, v, result
	layoutPattern       layout = "[head, dest_pos, src_pos]" // pattern
)

// A Setter says where one patch variant goes in an activation, as TransformerLens's patch
// setters do: it names the activation axes a sweep indexes (besides the layer) and patches every
// other axis whole. The variants of a sweep are every combination of indices along its axes; a
// variant takes the source run's values at those indices and the target run's elsewhere.
// There is one setter per activation layout and indexing; Patch is the one routine using them.
type Setter struct {
	// Name identifies the setter in results ("pos", "head_pos", ...).
	Name string
	// Layout is the per-prompt activation layout the setter applies to.
	Layout layout
	// Index lists the indexed axes, in the order of the result's axes after "layer".
	Index []IndexAxis
}

// IndexAxis is one indexed axis of a Setter.
type IndexAxis struct {
	// Name labels the result axis: "pos", "head", "dest_pos" or "src_pos".
	Name string
	// Dim is the activation axis it indexes, batch dropped ([pos, d]: pos is 0).
	Dim int
}

// The setters, one per activation layout and indexing.
var (
	// LayerPosSetter patches a [B, P, D] activation at one position (layer_pos_patch_setter).
	LayerPosSetter = Setter{"pos", layoutPosVector, []IndexAxis{{"pos", 0}}}
	// LayerHeadSetter patches one head of a [B, P, H, X] activation at every position
	// (layer_head_vector_patch_setter).
	LayerHeadSetter = Setter{"head", layoutPosHeadVector, []IndexAxis{{"head", 1}}}
	// LayerHeadPosSetter patches one head of a [B, P, H, X] activation at one position
	// (layer_pos_head_vector_patch_setter).
	LayerHeadPosSetter = Setter{"head_pos", layoutPosHeadVector, []IndexAxis{{"head", 1}, {"pos", 0}}}
	// PatternHeadSetter patches one head's whole attention pattern (layer_head_pattern_patch_setter).
	PatternHeadSetter = Setter{"pattern_head", layoutPattern, []IndexAxis{{"head", 0}}}
	// PatternHeadDestSetter patches one head's pattern row for one destination position
	// (layer_head_pos_pattern_patch_setter).
	PatternHeadDestSetter = Setter{"pattern_head_dest", layoutPattern, []IndexAxis{{"head", 0}, {"dest_pos", 1}}}
	// PatternHeadDestSrcSetter patches one head's attention from one destination to one source
	// position (layer_head_dest_src_pos_pattern_patch_setter).
	PatternHeadDestSrcSetter = Setter{"pattern_head_dest_src", layoutPattern, []IndexAxis{{"head", 0}, {"dest_pos", 1}, {"src_pos", 2}}}
)

// sizes returns the length of each indexed axis for a per-prompt activation shape.
func (s Setter) sizes(act []int) []int {
	out := make([]int, len(s.Index))
	for i, a := range s.Index {
		out[i] = act[a.Dim]
	}
	return out
}

// maskShape is the per-prompt activation shape with every axis the setter does not index set to 1.
func (s Setter) maskShape(act []int) []int {
	out := make([]int, len(act))
	for i := range out {
		out[i] = 1
	}
	for _, a := range s.Index {
		out[a.Dim] = act[a.Dim]
	}
	return out
}

// variants is the number of patch variants per layer.
func (s Setter) variants(act []int) int {
	n := 1
	for _, d := range s.sizes(act) {
		n *= d
	}
	return n
}

// setMask writes 1 into mask (of maskShape) at the element variant v selects; variants are
// numbered row-major over the indexed axes.
func (s Setter) setMask(mask []float32, act []int, v int) {
	ms := s.maskShape(act)
	sizes := s.sizes(act)
	coord := make([]int, len(ms))
	for i := len(sizes) - 1; i >= 0; i-- {
		coord[s.Index[i].Dim] = v % sizes[i]
		v /= sizes[i]
	}
	off := 0
	for i, c := range coord {
		off = off*ms[i] + c
	}
	mask[off] = 1
}

// SetterFor returns the setter TransformerLens uses for a component: by position for the
// residual-stream writes, and for per-head components by head (byPos false) or by (head,
// position); for the pattern by head or by (head, destination position).
func SetterFor(c Component, byPos bool) Setter {
	switch c.layout() {
	case layoutPosVector:
		return LayerPosSetter
	case layoutPosHeadVector:
		if byPos {
			return LayerHeadPosSetter
		}
		return LayerHeadSetter
	}
	if byPos {
		return PatternHeadDestSetter
	}
	return PatternHeadSetter
}
