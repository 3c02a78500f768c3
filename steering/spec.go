package steering

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
	"github.com/interp-dev/interp/transcoder"
)

// Steer is one steering term HOOK+=FILE*COEF: add COEF times the direction in FILE at HOOK.
type Steer struct {
	Hook string
	File string
	Coef float64
}

func (s Steer) String() string { return fmt.Sprintf("%s+=%s*%g", s.Hook, s.File, s.Coef) }

// ParseSteer reads HOOK+=FILE*COEF (COEF may be negative; "*COEF" may be left out for 1).
func ParseSteer(spec string) (Steer, error) {
	hook, rest, ok := strings.Cut(spec, "+=")
	hook = strings.TrimSpace(hook)
	if !ok || hook == "" || strings.TrimSpace(rest) == "" {
		return Steer{}, fmt.Errorf("steer %q: want HOOK+=FILE*COEF, e.g. blocks.1.hook_resid_post+=dir.safetensors*4", spec)
	}
	s := Steer{Hook: hook, File: strings.TrimSpace(rest), Coef: 1}
	if i := strings.LastIndexByte(s.File, '*'); i >= 0 {
		c, err := strconv.ParseFloat(strings.TrimSpace(s.File[i+1:]), 64)
		if err != nil {
			return Steer{}, fmt.Errorf("steer %q: coefficient %q is not a number", spec, s.File[i+1:])
		}
		s.File, s.Coef = strings.TrimSpace(s.File[:i]), c
	}
	if s.File == "" {
		return Steer{}, fmt.Errorf("steer %q: no direction file", spec)
	}
	return s, nil
}

// Apply adds Coef times d's vector at s.Hook to set.
func (s Steer) Apply(set *hooks.Set, d *Direction) {
	v := tensors.MustCopyFlatData[float32](d.Vector)
	for i := range v {
		v[i] *= float32(s.Coef)
	}
	set.Add(s.Hook, tensors.FromFlatDataAndDimensions(v, d.Vector.Shape().Dimensions...))
}

// FeatureSteer is one feature-steering term DIR:LATENT=VALUE (or *=S, +=A): change latent LATENT
// of the SAE or transcoder in DIR.
type FeatureSteer struct {
	Dir    string
	Latent int
	Op     sae.SteerOp
	Value  float64
}

func (f FeatureSteer) String() string {
	return fmt.Sprintf("%s:%d%s%g", f.Dir, f.Latent, f.Op, f.Value)
}

// ParseFeatureSteer reads DIR:LATENT=VALUE, DIR:LATENT*=S or DIR:LATENT+=A. The directory is
// everything before the last ':'.
func ParseFeatureSteer(spec string) (FeatureSteer, error) {
	usage := fmt.Errorf("feature-steer %q: want SAE_DIR:LATENT=VALUE (or *=S, +=A), e.g. out/sae:12=8", spec)
	i := strings.LastIndexByte(spec, ':')
	if i <= 0 {
		return FeatureSteer{}, usage
	}
	f := FeatureSteer{Dir: spec[:i]}
	rest := spec[i+1:]
	j := strings.IndexAny(rest, "=*+")
	if j <= 0 {
		return FeatureSteer{}, usage
	}
	latent, err := strconv.Atoi(strings.TrimSpace(rest[:j]))
	if err != nil || latent < 0 {
		return FeatureSteer{}, fmt.Errorf("feature-steer %q: latent %q is not an index", spec, rest[:j])
	}
	opEnd := j + 1
	if rest[j] != '=' {
		opEnd = j + 2
	}
	if opEnd > len(rest) {
		return FeatureSteer{}, usage
	}
	op, err := sae.ParseSteerOp(rest[j:opEnd])
	if err != nil {
		return FeatureSteer{}, fmt.Errorf("feature-steer %q: %w", spec, err)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(rest[opEnd:]), 64)
	if err != nil {
		return FeatureSteer{}, fmt.Errorf("feature-steer %q: value %q is not a number", spec, rest[opEnd:])
	}
	f.Latent, f.Op, f.Value = latent, op, v
	return f, nil
}

// Apply adds the hooks of f for the loaded dictionary s (an SAE or a transcoder of model c).
func (f FeatureSteer) Apply(set *hooks.Set, c model.Config, s *sae.SAE) error {
	if transcoder.IsTranscoder(s) {
		return transcoder.Steer(set, c, s, f.Latent, f.Op, f.Value)
	}
	d, err := sae.SiteWidth(c, s.Config.Site)
	if err != nil {
		return fmt.Errorf("feature-steer %s: %w", f.Dir, err)
	}
	if d != s.Config.DIn {
		return fmt.Errorf("feature-steer %s: the SAE reads %d values per row at %s; the model has %d", f.Dir, s.Config.DIn, s.Config.Site, d)
	}
	return sae.Steer(set, s, f.Latent, f.Op, f.Value)
}

// AblateHead adds to set a hook that zero-ablates head h of layer l (its hook_z), the head's
// whole contribution to the residual stream but for the bias b_O.
func AblateHead(set *hooks.Set, c model.Config, l, h int) error {
	if l < 0 || l >= c.NLayers || h < 0 || h >= c.NHeads {
		return fmt.Errorf("ablate head %d.%d: the model has layers [0, %d) and heads [0, %d)", l, h, c.NLayers, c.NHeads)
	}
	keep := make([]float32, c.NHeads)
	for i := range keep {
		keep[i] = 1
	}
	keep[h] = 0
	set.Func(hooks.Z(l), fmt.Sprintf("ablate-head/%d", h), func(x *graph.Node, _ []*graph.Node) *graph.Node {
		return graph.Mul(x, graph.Reshape(graph.Const(x.Graph(), keep), 1, 1, c.NHeads, 1))
	})
	return nil
}

// ParseHead reads "L.H" (layer.head).
func ParseHead(s string) (l, h int, err error) {
	a, b, ok := strings.Cut(s, ".")
	if ok {
		l, err = strconv.Atoi(a)
		if err == nil {
			h, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil {
		return 0, 0, fmt.Errorf("head %q: want LAYER.HEAD, e.g. 1.3", s)
	}
	return l, h, nil
}
