package transcoder

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/backends"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
)

// A transcoder is an *sae.SAE whose Config.Site is an MLP's input and whose Config.Target is
// that MLP's output (Config.Skip adds the linear skip term). This file holds the defaults and the
// checks that tie such an SAE to one MLP sublayer of a model.

// InputHook is the default input of layer l's transcoder: what the MLP reads (its normalised
// input, for a gated MLP too), blocks.L.ln2.hook_normalized; for a model without a norm before
// the MLP, blocks.L.hook_resid_mid, or blocks.L.hook_resid_pre where the residual is parallel.
func InputHook(c model.Config, l int) string {
	switch {
	case c.PreNorms():
		return hooks.LN2Normalized(l)
	case c.ParallelResidual:
		return hooks.ResidPre(l)
	}
	return hooks.ResidMid(l)
}

// TargetHook is the default target of layer l's transcoder: the MLP's output blocks.L.hook_mlp_out.
func TargetHook(l int) string { return hooks.MLPOut(l) }

// Spec chooses a transcoder for one layer: its architecture and width, and optionally its hooks.
type Spec struct {
	Layer int
	Arch  sae.Arch
	DSAE  int
	K     int  // TopK, BatchTopK
	Skip  bool // add a linear skip connection x W_skip^T (skip transcoder)
	// Input and Target override InputHook and TargetHook.
	Input, Target string
}

// NewConfig returns the sae.Config of a transcoder for model c (widths taken from the model).
func NewConfig(c model.Config, s Spec) (sae.Config, error) {
	if !c.HasMLP() {
		return sae.Config{}, errors.New("transcoder: the model has no MLP sublayers (attention-only)")
	}
	if s.Layer < 0 || s.Layer >= c.NLayers {
		return sae.Config{}, fmt.Errorf("transcoder: layer %d out of range [0, %d)", s.Layer, c.NLayers)
	}
	in, out := s.Input, s.Target
	if in == "" {
		in = InputHook(c, s.Layer)
	}
	if out == "" {
		out = TargetHook(s.Layer)
	}
	if in == out {
		return sae.Config{}, fmt.Errorf("transcoder: input and target are both %s (that is an SAE)", in)
	}
	site, target := sae.Site{Hook: in}, sae.Site{Hook: out}
	dIn, err := sae.SiteWidth(c, site)
	if err != nil {
		return sae.Config{}, fmt.Errorf("transcoder: input: %w", err)
	}
	dOut, err := sae.SiteWidth(c, target)
	if err != nil {
		return sae.Config{}, fmt.Errorf("transcoder: target: %w", err)
	}
	if li, _ := hooks.Layer(in); li > 0 && li > layerOf(out) {
		return sae.Config{}, fmt.Errorf("transcoder: input %s comes after target %s", in, out)
	}
	sc := sae.Config{Arch: s.Arch, DIn: dIn, DSAE: s.DSAE, DOut: dOut, K: s.K, Skip: s.Skip, Site: site, Target: target}
	if err := sc.Validate(); err != nil {
		return sae.Config{}, fmt.Errorf("transcoder: %w", err)
	}
	return sc, nil
}

func layerOf(hook string) int {
	l, _ := hooks.Layer(hook)
	return l
}

// IsTranscoder reports whether s reads one hook and reconstructs another.
func IsTranscoder(s *sae.SAE) bool {
	c := s.Config
	return c.TargetSite().Hook != c.Site.Hook || c.Skip
}

// Layer returns the block whose MLP output s reconstructs (the target hook's layer).
func Layer(s *sae.SAE) int { return layerOf(s.Config.TargetSite().Hook) }

// Check verifies that s is a transcoder that fits model c: its hooks exist, read no heads, and
// have the widths s expects. The error names the hook.
func Check(c model.Config, s *sae.SAE) error {
	sc := s.Config
	if !IsTranscoder(s) {
		return fmt.Errorf("transcoder: %s reads and writes the same hook: it is an SAE, not a transcoder", sc.Site)
	}
	if sc.Site.Heads != sae.NoHeads || sc.TargetSite().Heads != sae.NoHeads {
		return fmt.Errorf("transcoder: %s -> %s: hooks with a head axis are not supported", sc.Site, sc.TargetSite())
	}
	for _, h := range []struct {
		site sae.Site
		want int
		what string
	}{{sc.Site, sc.DIn, "input"}, {sc.TargetSite(), sc.Out(), "target"}} {
		w, err := sae.SiteWidth(c, h.site)
		if err != nil {
			return fmt.Errorf("transcoder: %s: %w", h.what, err)
		}
		if w != h.want {
			return fmt.Errorf("transcoder: %s %s has width %d, the transcoder expects %d", h.what, h.site.Hook, w, h.want)
		}
	}
	if l := Layer(s); l < 0 {
		return fmt.Errorf("transcoder: target %s is not inside a block", sc.TargetSite().Hook)
	}
	return nil
}

// Load reads a transcoder saved in the SAELens layout (sae.Load; cfg.json with d_out and
// hook_name_out, W_skip [d_out, d_in] for skip transcoders) and checks that it is one.
// Save is sae.Save.
func Load(dir string, b backends.Backend) (*sae.SAE, error) {
	s, err := sae.Load(dir, b)
	if err != nil {
		return nil, err
	}
	if !IsTranscoder(s) {
		return nil, fmt.Errorf("transcoder: load %s: cfg.json describes an SAE on %s (no hook_name_out)", dir, s.Config.Site)
	}
	return s, nil
}

// byLayer orders transcoders by layer and rejects two on one MLP.
func byLayer(c model.Config, ts []*sae.SAE) (map[int]*sae.SAE, error) {
	out := map[int]*sae.SAE{}
	for _, s := range ts {
		if err := Check(c, s); err != nil {
			return nil, err
		}
		l := Layer(s)
		if _, dup := out[l]; dup {
			return nil, fmt.Errorf("transcoder: two transcoders for layer %d", l)
		}
		out[l] = s
	}
	return out, nil
}

// describe is a short label such as "relu transcoder L1 (64 -> 512 -> 64, skip)".
func describe(s *sae.SAE) string {
	c := s.Config
	var b strings.Builder
	fmt.Fprintf(&b, "%s transcoder L%d (%d -> %d -> %d", c.Arch, Layer(s), c.DIn, c.DSAE, c.Out())
	if c.Skip {
		b.WriteString(", skip")
	}
	b.WriteString(")")
	return b.String()
}
