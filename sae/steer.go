package sae

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // graph code reads best unqualified
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
)

// SteerOp is how feature steering changes a latent's activation f_i.
type SteerOp string

const (
	SteerClamp SteerOp = "="  // f_i' = value (Neuronpedia's steering: also where f_i was 0)
	SteerScale SteerOp = "*=" // f_i' = value * f_i
	SteerAdd   SteerOp = "+=" // f_i' = f_i + value
)

// Steer adds to set a hook at the SAE's site that changes latent i's activation f_i as op says
// and writes the change back through the decoder with the SAE's error term kept:
//
//	x' = x + (f_i' - f_i) W_dec[i]
//
// which is Decode(f') + (x - Decode(f)) for the latents f = Encode(x) (SAELens use_error_term):
// the activation moves only along latent i's decoder direction. value is fed as an input, so one
// compiled graph serves every value. For transcoders use transcoder.Steer.
func Steer(set *hooks.Set, s *SAE, latent int, op SteerOp, value float64) error {
	c := s.Config
	if c.TargetSite() != c.Site || c.Skip {
		return fmt.Errorf("sae: steer: %s reads one hook and writes another; steer it with the transcoder package", c.Site)
	}
	if err := CheckLatent(c, latent); err != nil {
		return err
	}
	if err := c.CheckLinear("steer"); err != nil {
		return err
	}
	key := fmt.Sprintf("sae-steer/%s/%s/k%d/bdec%v/latent%d/%s", c.Arch, c.Site, c.K, c.ApplyBDecToInput, latent, op)
	inputs := append(s.paramList(), tensors.FromScalar(float32(value)))
	set.Func(c.Site.Hook, key, func(x *Node, in []*Node) *Node {
		p := NodesFrom(c, in)
		rows, back := SiteRowsGraph(c.Site, x) // [N, DIn]
		return back(Add(rows, SteerDeltaGraph(c, p, EncodeGraph(c, p, rows), latent, op, in[len(in)-1])))
	}, inputs...)
	return nil
}

// SteerDeltaGraph is (f_i' - f_i) W_dec[i] [N, DOut] for latents f [N, F] and the scalar value.
func SteerDeltaGraph(c Config, p Nodes, f *Node, latent int, op SteerOp, value *Node) *Node {
	fi := SliceAxis(f, 1, AxisRange(latent, latent+1)) // [N, 1]
	var next *Node
	switch op {
	case SteerClamp:
		next = BroadcastToShape(value, fi.Shape())
	case SteerScale:
		next = Mul(fi, value)
	case SteerAdd:
		next = Add(fi, value)
	default:
		panic(fmt.Sprintf("sae: unknown steering op %q", op))
	}
	dir := SliceAxis(p.WDec, 0, AxisRange(latent, latent+1)) // [1, DOut]
	return Mul(Sub(next, fi), dir)                           // [N, DOut]
}

// CheckLatent reports a latent index outside the dictionary.
func CheckLatent(c Config, latent int) error {
	if latent < 0 || latent >= c.DSAE {
		return fmt.Errorf("sae: latent %d is outside the dictionary [0, %d) at %s", latent, c.DSAE, c.Site)
	}
	return nil
}

// ParseSteerOp reads "=", "*=" or "+=".
func ParseSteerOp(s string) (SteerOp, error) {
	switch op := SteerOp(s); op {
	case SteerClamp, SteerScale, SteerAdd:
		return op, nil
	}
	return "", fmt.Errorf("unknown steering op %q (want =, *= or +=)", s)
}
