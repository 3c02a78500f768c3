package sae

import (
	"errors"
	"fmt"
)

// Arch names an SAE architecture.
type Arch string

const (
	// ReLU is SAELens's "standard" SAE: f = ReLU(pre), trained with an L1 penalty on f scaled by
	// the decoder row norms.
	ReLU Arch = "relu"
	// TopK keeps the K largest pre-activations of each row (and drops negative ones).
	TopK Arch = "topk"
	// BatchTopK keeps the K*N largest activations of a training batch of N rows; at inference it
	// is a JumpReLU with one threshold for every latent (and is saved as "jumprelu", as SAELens does).
	BatchTopK Arch = "batchtopk"
	// JumpReLU is f = pre * H(pre - theta) with a learned threshold per latent, trained with an L0
	// penalty through a straight-through estimator.
	JumpReLU Arch = "jumprelu"
	// Gated is the Gated SAE of Rajamanoharan et al. 2024 (SAELens "gated"): a gate
	// pi = (x - b_dec) W_enc + b_gate decides which latents fire, and a magnitude path sharing
	// W_enc, rescaled per latent by exp(r_mag), sets their values: f = 1[pi > 0] ReLU((x - b_dec)
	// (W_enc * exp(r_mag)) + b_mag). Trained with L1 on ReLU(pi) scaled by decoder norms and an
	// auxiliary reconstruction from ReLU(pi) through the frozen decoder. No b_enc.
	Gated Arch = "gated"
)

// Archs lists the architectures in CLI order.
func Archs() []Arch { return []Arch{ReLU, TopK, BatchTopK, JumpReLU, Gated} }

// ParseArch reads an architecture name; "standard" (SAELens) is accepted for ReLU.
func ParseArch(s string) (Arch, error) {
	switch s {
	case "relu", "standard":
		return ReLU, nil
	case "topk":
		return TopK, nil
	case "batchtopk":
		return BatchTopK, nil
	case "jumprelu":
		return JumpReLU, nil
	case "gated":
		return Gated, nil
	}
	return "", fmt.Errorf("sae: unknown architecture %q (known: relu, topk, batchtopk, jumprelu, gated)", s)
}

// HeadMode says how a hook with a head axis ([B, P, H, X]: hook_q/k/v/z, hook_result) becomes
// rows of SAE input.
type HeadMode string

const (
	// NoHeads: the hook has no head axis ([B, P, X]); each (batch, pos) is a row.
	NoHeads HeadMode = ""
	// HeadsConcat concatenates the heads: rows [B*P, H*X] (SAELens reshape_activations "hook_z").
	HeadsConcat HeadMode = "concat"
	// HeadsPerHead makes each (batch, pos, head) a row [B*P*H, X]: one SAE shared by every head
	// (as for per-head codes in circuit discovery).
	HeadsPerHead HeadMode = "per_head"
	// HeadsSingle reads only head Site.Head: rows [B*P, X] (SAELens hook_head_index).
	HeadsSingle HeadMode = "single"
)

// Site is where an SAE reads activations, and where a spliced SAE writes its reconstruction.
type Site struct {
	Hook  string   // TransformerLens hook name, e.g. blocks.0.hook_resid_post
	Heads HeadMode // for hooks with a head axis; NoHeads otherwise
	Head  int      // the head, when Heads is HeadsSingle
}

func (s Site) String() string {
	switch s.Heads {
	case HeadsSingle:
		return fmt.Sprintf("%s[head %d]", s.Hook, s.Head)
	case HeadsConcat, HeadsPerHead:
		return fmt.Sprintf("%s[%s]", s.Hook, s.Heads)
	}
	return s.Hook
}

// Config is the shape and inference behaviour of an SAE. An SAE maps input rows x [N, DIn] to
// latents f [N, DSAE] and reconstructs a target [N, DOut]; DOut = DIn for an SAE (a transcoder
// differs in its target hook and an optional skip term).
type Config struct {
	Arch Arch
	DIn  int
	DSAE int
	// DOut is the reconstruction's width; 0 means DIn.
	DOut int
	// K is the number of active latents per row (TopK) or per row on average (BatchTopK).
	K int
	// ApplyBDecToInput subtracts b_dec from x before encoding: the pre-encoder bias tied to the
	// decoder bias (SAELens apply_b_dec_to_input). Only for DOut = DIn.
	ApplyBDecToInput bool
	// Skip adds a linear skip term x W_skip^T to the reconstruction (skip transcoders), with
	// W_skip [DOut, DIn] as SAELens stores it.
	Skip bool

	// RuntimeNorm is SAELens's run-time input normalisation (normalize_activations):
	// "" (none), NormConstant ("constant_norm_rescale": each row scaled to norm sqrt(d_in), the
	// reconstruction scaled back) or NormLayer ("layer_norm": each row centred and divided by its
	// standard deviation (n-1) + 1e-5, the reconstruction multiplied back and re-centred). The
	// encoder sees the normalised row; the skip term (skip transcoders) reads the raw one.
	RuntimeNorm string

	// Site is the input hook point; Target the reconstruction's hook point when it differs
	// (transcoders; zero value = Site).
	Site   Site
	Target Site
	// Meta describes where the SAE came from (written to and read from cfg.json).
	Meta Meta
}

// SAELens's run-time normalisations (Config.RuntimeNorm).
const (
	NormConstant = "constant_norm_rescale"
	NormLayer    = "layer_norm"
)

// CheckLinear refuses an SAE whose latents are not a fixed affine function of its input row
// followed by the activation: one with a run-time normalisation (each row rescaled by its own
// norm), for the analyses that need that form (steering deltas, weight-based circuits,
// attribution graphs, training). what names the analysis.
func (c Config) CheckLinear(what string) error {
	if c.Arch == Gated {
		return fmt.Errorf("sae: %s: a gated SAE's latents are a gated magnitude, not its pre-activations through an activation, which %s does not support", what, what)
	}
	if c.RuntimeNorm != "" {
		return fmt.Errorf("sae: %s: the SAE rescales each input row by its own statistics (normalize_activations %s), which %s does not support", what, c.RuntimeNorm, what)
	}
	return nil
}

// Meta is descriptive metadata kept in cfg.json.
type Meta struct {
	ModelName   string
	DatasetPath string // the task or token file the SAE was trained on
	ContextSize int
	PrependBOS  bool
	// NormScale is the activation scaling factor used in training (SAELens
	// expected_average_only_in), already folded into the weights; 0 when none was used.
	NormScale float64
	// Extra holds metadata fields this package does not interpret, kept for round trips.
	Extra map[string]any
}

// Out returns the reconstruction width (DOut, or DIn when DOut is 0).
func (c Config) Out() int {
	if c.DOut == 0 {
		return c.DIn
	}
	return c.DOut
}

// TargetSite returns the hook point the reconstruction is compared with (and written to).
func (c Config) TargetSite() Site {
	if c.Target.Hook == "" {
		return c.Site
	}
	return c.Target
}

// HasThreshold reports whether the architecture carries a per-latent threshold tensor.
func (c Config) HasThreshold() bool { return c.Arch == JumpReLU || c.Arch == BatchTopK }

// Validate checks the configuration.
func (c Config) Validate() error {
	if _, err := ParseArch(string(c.Arch)); err != nil {
		return err
	}
	if c.DIn <= 0 || c.DSAE <= 0 || c.DOut < 0 {
		return fmt.Errorf("sae: config: d_in %d, d_sae %d, d_out %d must be positive", c.DIn, c.DSAE, c.DOut)
	}
	if c.Arch == TopK || c.Arch == BatchTopK {
		if c.K <= 0 || c.K > c.DSAE {
			return fmt.Errorf("sae: config: k = %d must be in [1, d_sae = %d] for %s", c.K, c.DSAE, c.Arch)
		}
	}
	if c.Arch == Gated && (c.Target.Hook != "" || c.Out() != c.DIn || c.Skip) {
		return errors.New("sae: config: gated transcoders are not supported (SAELens has none)")
	}
	switch c.RuntimeNorm {
	case "", NormConstant, NormLayer:
	default:
		return fmt.Errorf("sae: config: run-time normalisation %q (known: %s, %s)", c.RuntimeNorm, NormConstant, NormLayer)
	}
	if c.ApplyBDecToInput && c.Out() != c.DIn {
		return errors.New("sae: config: apply_b_dec_to_input needs d_out = d_in (b_dec lives in the output space)")
	}
	switch c.Site.Heads {
	case NoHeads, HeadsConcat, HeadsPerHead:
	case HeadsSingle:
		if c.Site.Head < 0 {
			return fmt.Errorf("sae: config: head %d must be >= 0", c.Site.Head)
		}
	default:
		return fmt.Errorf("sae: config: unknown head mode %q (known: concat, per_head, single)", c.Site.Heads)
	}
	return nil
}

// ParamSpec names one SAE tensor and its shape.
type ParamSpec struct {
	Name  string
	Shape []int
}

// ParamSpecs lists the SAE's tensors in a fixed order under their SAELens names:
//
//	W_enc [DIn, DSAE], b_enc [DSAE], W_dec [DSAE, DOut], b_dec [DOut],
//	threshold [DSAE] (JumpReLU, BatchTopK), W_skip [DOut, DIn] (Skip).
func ParamSpecs(c Config) []ParamSpec {
	bias := "b_enc"
	if c.Arch == Gated {
		bias = "b_gate" // the gate's bias takes b_enc's place
	}
	specs := []ParamSpec{
		{"W_enc", []int{c.DIn, c.DSAE}},
		{bias, []int{c.DSAE}},
		{"W_dec", []int{c.DSAE, c.Out()}},
		{"b_dec", []int{c.Out()}},
	}
	if c.Arch == Gated {
		specs = append(specs, ParamSpec{"r_mag", []int{c.DSAE}}, ParamSpec{"b_mag", []int{c.DSAE}})
	}
	if c.HasThreshold() {
		specs = append(specs, ParamSpec{"threshold", []int{c.DSAE}})
	}
	if c.Skip {
		specs = append(specs, ParamSpec{"W_skip", []int{c.Out(), c.DIn}})
	}
	return specs
}
