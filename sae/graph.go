package sae

import (
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // graph code reads best unqualified
)

// Graph building blocks: the SAE forward pass as GoMLX nodes, for splicing into a model run
// and for packages built on this one (transcoders, circuit discovery). They panic on bad
// shapes, as graph builders do; exported run functions return errors.

// Nodes are an SAE's tensors as graph nodes (nil when the architecture has none).
type Nodes struct {
	WEnc, BEnc, WDec, BDec *Node // [DIn, F], [F], [F, DOut], [DOut]
	Threshold              *Node // [F] (JumpReLU, BatchTopK)
	RMag, BMag             *Node // [F] (Gated: the magnitude path's log-scale and bias; BEnc is b_gate)
	WSkip                  *Node // [DOut, DIn] (Skip)
}

// NodesFrom maps graph inputs given in ParamSpecs(c) order to Nodes.
func NodesFrom(c Config, in []*Node) Nodes {
	specs := ParamSpecs(c)
	if len(in) < len(specs) {
		panic(fmt.Sprintf("sae: %d parameter nodes for %d tensors", len(in), len(specs)))
	}
	return nodesFromSpecs(specs, in)
}

// nodesFromSpecs maps nodes given in the order of specs to Nodes by tensor name.
func nodesFromSpecs(specs []ParamSpec, in []*Node) Nodes {
	var p Nodes
	for i, s := range specs {
		switch s.Name {
		case "W_enc":
			p.WEnc = in[i]
		case "b_enc", "b_gate":
			p.BEnc = in[i]
		case "r_mag":
			p.RMag = in[i]
		case "b_mag":
			p.BMag = in[i]
		case "W_dec":
			p.WDec = in[i]
		case "b_dec":
			p.BDec = in[i]
		case "threshold":
			p.Threshold = in[i]
		case "W_skip":
			p.WSkip = in[i]
		}
	}
	return p
}

// row makes a [X] vector a [1, X] row for broadcasting against [N, X].
func row(v *Node) *Node { return InsertAxes(v, 0) }

// matmul is a [N, K] x [K, M] product.
func matmul(a, b *Node) *Node { return DotGeneral(a, []int{1}, nil, b, []int{0}, nil) }

// PreGraph returns the encoder pre-activations (x - b_dec) W_enc + b_enc [N, F] of rows x [N, DIn]
// (b_dec subtracted only with ApplyBDecToInput).
func PreGraph(c Config, p Nodes, x *Node) *Node {
	if c.RuntimeNorm != "" {
		in, _, shift := runtimeNormGraph(c, x)
		x = Div(Sub(x, shift), in)
	}
	if c.ApplyBDecToInput {
		x = Sub(x, row(p.BDec)) // [N, DIn]
	}
	return Add(matmul(x, p.WEnc), row(p.BEnc)) // [N, F]
}

// ActivateGraph applies the architecture's activation to pre-activations [N, F] (inference
// behaviour: BatchTopK uses its learned global threshold, as a JumpReLU).
func ActivateGraph(c Config, p Nodes, pre *Node) *Node {
	zero := ScalarZero(pre.Graph(), pre.DType())
	switch c.Arch {
	case ReLU:
		return Where(GreaterThan(pre, zero), pre, zero)
	case TopK:
		thr := KthLargestGraph(pre, c.K) // [N, 1]
		return Where(GreaterOrEqual(pre, MaxScalar(thr, tinyPositive)), pre, zero)
	case JumpReLU, BatchTopK:
		theta := MaxScalar(row(p.Threshold), 0.0) // [1, F]
		return Where(GreaterThan(pre, theta), pre, zero)
	case Gated:
		return Where(GreaterThan(pre, zero), Max(GatedMagnitude(p, pre), zero), zero)
	}
	panic(fmt.Sprintf("sae: unknown architecture %q", c.Arch))
}

// GatedMagnitude is a gated SAE's magnitude pre-activation from its gate pre-activation pre
// [N, F] = (x - b_dec) W_enc + b_gate: (x - b_dec) (W_enc * exp(r_mag)) + b_mag = (pre - b_gate)
// * exp(r_mag) + b_mag, since exp(r_mag) scales each latent's column of W_enc.
func GatedMagnitude(p Nodes, pre *Node) *Node {
	return Add(Mul(Sub(pre, row(p.BEnc)), row(Exp(p.RMag))), row(p.BMag))
}

// tinyPositive keeps a TopK threshold above zero, so "pre >= threshold" also means "pre > 0"
// (TopK keeps ReLU of the top k).
const tinyPositive = math.SmallestNonzeroFloat32

// EncodeGraph returns the latents f [N, F] of rows x [N, DIn].
func EncodeGraph(c Config, p Nodes, x *Node) *Node {
	return ActivateGraph(c, p, PreGraph(c, p, x))
}

// DecodeGraph returns the reconstruction f W_dec + b_dec [N, DOut] (+ x W_skip^T with Skip;
// x may be nil otherwise). With a run-time normalisation the decoded row is mapped back with the
// input row's own statistics (x required), before the skip term is added, as SAELens's decode
// and forward do.
func DecodeGraph(c Config, p Nodes, f, x *Node) *Node {
	out := Add(matmul(f, p.WDec), row(p.BDec)) // [N, DOut]
	if c.RuntimeNorm != "" {
		if x == nil {
			panic("sae: decode: a run-time normalisation needs the input rows")
		}
		_, back, shift := runtimeNormGraph(c, x)
		out = Add(Mul(out, back), shift)
	}
	if c.Skip {
		out = Add(out, DotGeneral(x, []int{1}, nil, p.WSkip, []int{1}, nil)) // [N, DOut]
	}
	return out
}

// runtimeNormGraph returns, per row of x [N, DIn], the run-time normalisation's divisor on the way
// in, its multiplier on the way out, and its shift ([N, 1] each): x_norm = (x - shift) / in, and
// back out * back + shift (SAELens's run_time_activation_norm_fn_in and _out):
//
//	constant_norm_rescale: in = back = ||x|| / sqrt(d_in), shift = 0
//	layer_norm:            in = std(x) + 1e-5, back = std(x) (n - 1 in its denominator), shift = mean(x)
func runtimeNormGraph(c Config, x *Node) (in, back, shift *Node) {
	n := float64(x.Shape().Dimensions[1])
	if c.RuntimeNorm == NormConstant {
		norm := InsertAxes(DivScalar(Sqrt(ReduceSum(Mul(x, x), 1)), math.Sqrt(n)), -1)
		return norm, norm, ZerosLike(norm)
	}
	mu := InsertAxes(DivScalar(ReduceSum(x, 1), n), -1) // [N, 1]
	d := Sub(x, mu)
	std := InsertAxes(Sqrt(DivScalar(ReduceSum(Mul(d, d), 1), n-1)), -1)
	return AddScalar(std, 1e-5), std, mu
}

// KthLargestGraph returns the k-th largest value of each row of x [N, F] as [N, 1], by k rounds
// of "take the row maximum, then mask it out". It is exact (ties at the maximum are removed
// together, so with tied values it returns a value at or below the k-th) and uses only ops every
// backend has; the training loop finds thresholds on the host instead (see rowThresholds).
func KthLargestGraph(x *Node, k int) *Node {
	g := x.Graph()
	negInf := Infinity(g, x.DType(), -1)
	cur := x
	var m *Node
	for i := range k {
		m = ReduceAndKeep(cur, ReduceMax, -1) // [N, 1]
		if i < k-1 {
			cur = Where(GreaterOrEqual(cur, m), negInf, cur)
		}
	}
	return m
}

// SiteRowsGraph maps a hook activation to SAE rows [N, X] according to the site's head mode,
// and returns the inverse map that writes rows of the same shape back into the activation.
func SiteRowsGraph(s Site, act *Node) (rows *Node, back func(rows *Node) *Node) {
	dims := act.Shape().Dimensions
	switch s.Heads {
	case NoHeads:
		x := dims[len(dims)-1]
		return Reshape(act, -1, x), func(r *Node) *Node { return Reshape(r, dims...) }
	case HeadsConcat:
		checkHeadAxis(s, dims)
		return Reshape(act, dims[0]*dims[1], dims[2]*dims[3]), func(r *Node) *Node { return Reshape(r, dims...) }
	case HeadsPerHead:
		checkHeadAxis(s, dims)
		return Reshape(act, -1, dims[3]), func(r *Node) *Node { return Reshape(r, dims...) }
	case HeadsSingle:
		checkHeadAxis(s, dims)
		h := s.Head
		if h >= dims[2] {
			panic(fmt.Sprintf("sae: site %s: head %d out of range (hook has %d heads)", s, h, dims[2]))
		}
		one := Slice(act, AxisRange(), AxisRange(), AxisRange(h, h+1), AxisRange()) // [B, P, 1, X]
		return Reshape(one, -1, dims[3]), func(r *Node) *Node {
			parts := []*Node{}
			if h > 0 {
				parts = append(parts, Slice(act, AxisRange(), AxisRange(), AxisRange(0, h), AxisRange()))
			}
			parts = append(parts, Reshape(r, dims[0], dims[1], 1, dims[3]))
			if h+1 < dims[2] {
				parts = append(parts, Slice(act, AxisRange(), AxisRange(), AxisRange(h+1, dims[2]), AxisRange()))
			}
			return Concatenate(parts, 2) // [B, P, H, X]
		}
	}
	panic(fmt.Sprintf("sae: site %s: unknown head mode %q", s, s.Heads))
}

func checkHeadAxis(s Site, dims []int) {
	if len(dims) != 4 {
		panic(fmt.Sprintf("sae: site %s: head mode %q needs a [batch, pos, head, x] hook, got shape %v", s, s.Heads, dims))
	}
}

// zeroSiteGraph zero-ablates the site's part of an activation (the whole hook, or one head).
func zeroSiteGraph(s Site, act *Node) *Node {
	rows, back := SiteRowsGraph(s, act)
	return back(ZerosLike(rows))
}
