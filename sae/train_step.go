package sae

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // graph code reads best unqualified
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// One training step is two graphs and a host pass: the pre-activations (graph), the active
// masks (host: TopK thresholds, the AuxK selection, the JumpReLU kernel window, per-latent fire
// counts), then forward, loss, the gradient of every trained tensor written out by hand (the loss
// is simple, and this keeps the big ops to five N x F x D matmuls, where autodiff would also form
// the gradient of the input for the tied b_dec) and the Adam update (graph). The masks enter as
// float 1/0 arrays, so the step graph has no comparisons or selects on [N, F] arrays, which are
// slow on the CPU backend. The derivation is in doc.go.

// stepKey identifies a compiled training step: everything that changes the graph's structure.
type stepKey struct {
	aux      bool // the AuxK term is present (some latents are dead)
	target   bool // a separate target y is fed (transcoders)
	unitNorm bool // decoder rows kept at unit norm
	refNorm  bool // ConstrainUnitNormBoth: plain L1, unit-norm encoder columns and decoder columns
	// matryoshka lists the Matryoshka prefix widths, comma-separated ("" for none).
	matryoshka string
	beta1      float64
	beta2      float64
	eps        float64
	bandwidth  float64 // JumpReLU straight-through window
}

// trainable lists the tensors trained by gradient (BatchTopK's threshold is a running
// estimate, not a gradient-trained tensor).
func trainable(c Config) []ParamSpec {
	var out []ParamSpec
	for _, s := range ParamSpecs(c) {
		if s.Name == "threshold" && c.Arch == BatchTopK {
			continue
		}
		out = append(out, s)
	}
	return out
}

func nodesByName(specs []ParamSpec, in []*Node) Nodes { return nodesFromSpecs(specs, in) }

// stepStats are the losses of one step, averaged over its rows.
type stepStats struct {
	MSE, Sparsity, Aux, Inner float64
}

func joinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return strings.Join(parts, ",")
}

func splitInts(s string) []int {
	if s == "" {
		return nil
	}
	var out []int
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.Atoi(p)
		if err != nil {
			panic("sae: bad Matryoshka widths " + s)
		}
		out = append(out, v)
	}
	return out
}

// stepGraph builds the training step. Inputs, in order:
//
//	x [N, DIn]; y [N, DOut] (target only); pre [N, F]; mask [N, F] (1 where active);
//	window [N, F] (JumpReLU: 1 where |pre - theta| < bandwidth/2);
//	auxMask [N, F], auxScale [] (aux only);
//	trained tensors, their Adam first moments, their second moments (trainable order);
//	lrStep = lr / (1 - beta1^t), invSqrtBC2 = 1 / sqrt(1 - beta2^t), coef (sparsity coefficient).
//
// Outputs: new tensors, new first moments, new second moments, stats [3] (MSE, sparsity loss
// for ReLU, aux loss).
func stepGraph(c Config, k stepKey) func(in []*Node) []*Node {
	if c.Arch == Gated {
		return gatedStepGraph(c, k)
	}
	return func(in []*Node) []*Node {
		i := 0
		next := func() *Node { n := in[i]; i++; return n }
		x := next() // [N, DIn]
		y := x
		if k.target {
			y = next() // [N, DOut]
		}
		pre, mask := next(), next() // [N, F], [N, F]
		var window, auxMask, auxScale *Node
		if c.Arch == JumpReLU {
			window = next() // [N, F]
		}
		if k.aux {
			auxMask, auxScale = next(), next() // [N, F], []
		}
		specs := trainable(c)
		np := len(specs)
		params, m, v := in[i:i+np], in[i+np:i+2*np], in[i+2*np:i+3*np]
		i += 3 * np
		lrStep, invSqrtBC2, coef := next(), next(), next()
		p := nodesByName(specs, params)

		g := x.Graph()
		n := float64(x.Shape().Dimensions[0])
		zero := ScalarZero(g, dtypes.Float32)

		// Forward.
		xin := x
		if c.ApplyBDecToInput {
			xin = Sub(x, row(p.BDec)) // [N, DIn]
		}
		f := Mul(pre, mask)              // [N, F]
		recon := DecodeGraph(c, p, f, x) // [N, DOut]
		e := Sub(recon, y)               // [N, DOut]
		mse := DivScalar(ReduceAllSum(Square(e)), n)
		dR := MulScalar(e, 2/n)                                    // d loss / d recon [N, DOut]
		df := DotGeneral(dR, []int{1}, nil, p.WDec, []int{1}, nil) // d loss / d f [N, F]
		dWDec := DotGeneral(f, []int{0}, nil, dR, []int{0}, nil)   // [F, DOut]

		// Sparsity penalty.
		sparsity := zero
		var dTheta *Node
		switch c.Arch {
		case ReLU:
			if k.refNorm {
				// Plain L1: coef/N sum_n sum_j f_nj.
				cn := DivScalar(coef, n)
				sparsity = Mul(cn, ReduceAllSum(f))
				df = Add(df, Mul(cn, OnesLike(df)))
				break
			}
			// L1 scaled by decoder norms: coef/N sum_n sum_j f_nj ||W_dec[j]||.
			norms := Sqrt(ReduceSum(Square(p.WDec), 1)) // [F]
			fsum := ReduceSum(f, 0)                     // [F]
			cn := DivScalar(coef, n)
			sparsity = Mul(cn, ReduceAllSum(Mul(fsum, norms)))
			df = Add(df, row(Mul(cn, norms)))                                          // [N, F]
			dWDec = Add(dWDec, Mul(InsertAxes(Mul(cn, Div(fsum, norms)), -1), p.WDec)) // [F, DOut]
		case JumpReLU:
			// L0 = coef/N sum H(pre - theta) (its value is counted on the host), with the
			// straight-through gradient for theta:
			// d/dtheta_j = -(1/eps) sum_n rect((pre_nj - theta_j)/eps) (theta_j df_nj + coef/N).
			theta := MaxScalar(row(p.Threshold), 0.0)                                 // [1, F]
			term := Mul(window, Add(Mul(df, theta), DivScalar(coef, n)))              // [N, F]
			dTheta = MulScalar(ReduceSum(term, 0), -1/k.bandwidth)                    // [F]
			dTheta = Where(GreaterThan(p.Threshold, zero), dTheta, ZerosLike(dTheta)) // through max(theta, 0)
		}
		// Matryoshka: each prefix [0, w) of the latents reconstructs y on its own.
		inner := zero
		dRsum := dR
		for _, w := range splitInts(k.matryoshka) {
			F := pre.Shape().Dimensions[1]
			prefix := make([]float32, F)
			for j := range w {
				prefix[j] = 1
			}
			pm := Const(g, prefix)                                     // [F]
			fw := Mul(f, InsertAxes(pm, 0))                            // [N, F]
			ew := Sub(Add(matmul(fw, p.WDec), row(p.BDec)), y)         // [N, DOut]
			inner = Add(inner, DivScalar(ReduceAllSum(Square(ew)), n)) // sum over dims, mean over rows
			dRw := MulScalar(ew, 2/n)
			df = Add(df, Mul(DotGeneral(dRw, []int{1}, nil, p.WDec, []int{1}, nil), InsertAxes(pm, 0)))
			dWDec = Add(dWDec, DotGeneral(fw, []int{0}, nil, dRw, []int{0}, nil))
			dRsum = Add(dRsum, dRw)
		}
		dpre := Mul(df, mask) // [N, F]

		// AuxK: the top kAux dead latents reconstruct the residual y - recon (held fixed).
		aux := zero
		if k.aux {
			auxF := Mul(pre, auxMask)              // [N, F]
			auxErr := Add(matmul(auxF, p.WDec), e) // [N, DOut]: W_dec-part minus (y - recon)
			aux = Mul(auxScale, DivScalar(ReduceAllSum(Square(auxErr)), n))
			dRa := Mul(auxErr, MulScalar(auxScale, 2/n)) // [N, DOut]
			dWDec = Add(dWDec, DotGeneral(auxF, []int{0}, nil, dRa, []int{0}, nil))
			dpre = Add(dpre, Mul(DotGeneral(dRa, []int{1}, nil, p.WDec, []int{1}, nil), auxMask))
		}

		// Gradients of the trained tensors.
		dBEnc := ReduceSum(dpre, 0) // [F]
		grads := map[string]*Node{
			"W_enc": DotGeneral(xin, []int{0}, nil, dpre, []int{0}, nil), // [DIn, F]
			"b_enc": dBEnc,
			"b_dec": ReduceSum(dRsum, 0), // [DOut]
		}
		if c.ApplyBDecToInput {
			// x - b_dec feeds the encoder: d/db_dec -= (sum_n dpre) W_enc^T.
			grads["b_dec"] = Sub(grads["b_dec"], DotGeneral(p.WEnc, []int{1}, nil, dBEnc, []int{0}, nil))
		}
		if c.Skip {
			grads["W_skip"] = DotGeneral(dR, []int{0}, nil, x, []int{0}, nil) // [DOut, DIn]
		}
		if dTheta != nil {
			grads["threshold"] = dTheta
		}
		if k.unitNorm {
			// Remove the gradient's component along each (unit) decoder row.
			unit := Div(p.WDec, InsertAxes(Sqrt(ReduceSum(Square(p.WDec), 1)), -1)) // [F, DOut]
			along := ReduceSum(Mul(dWDec, unit), 1)                                 // [F]
			dWDec = Sub(dWDec, Mul(InsertAxes(along, -1), unit))
		}
		if k.refNorm {
			// Remove each gradient's component along its unit vector: W_enc's columns (one per
			// latent, over the inputs) and W_dec's columns (one per output, over the latents).
			grads["W_enc"] = projectOutColumns(grads["W_enc"], p.WEnc)
			dWDec = projectOutColumns(dWDec, p.WDec)
		}
		grads["W_dec"] = dWDec

		// Adam (PyTorch's formulation) on every trained tensor.
		newP, newM, newV := make([]*Node, np), make([]*Node, np), make([]*Node, np)
		for j, s := range specs {
			gr := grads[s.Name]
			newM[j] = Add(MulScalar(m[j], k.beta1), MulScalar(gr, 1-k.beta1))
			newV[j] = Add(MulScalar(v[j], k.beta2), MulScalar(Square(gr), 1-k.beta2))
			denom := AddScalar(Mul(Sqrt(newV[j]), invSqrtBC2), k.eps)
			newP[j] = Sub(params[j], Mul(lrStep, Div(newM[j], denom)))
			if s.Name == "W_dec" && k.unitNorm {
				newP[j] = Div(newP[j], InsertAxes(Sqrt(ReduceSum(Square(newP[j]), 1)), -1))
			}
			if (s.Name == "W_dec" || s.Name == "W_enc") && k.refNorm {
				newP[j] = unitColumns(newP[j])
			}
		}
		stats := Stack([]*Node{mse, sparsity, aux, inner}, 0) // [4]
		return append(append(append(newP, newM...), newV...), stats)
	}
}

// unitColumns divides each column of w [R, C] by its norm.
func unitColumns(w *Node) *Node { return Div(w, InsertAxes(Sqrt(ReduceSum(Square(w), 0)), 0)) }

// projectOutColumns removes from each column of g [R, C] its component along the same column of
// w, normalised: g - (g . u) u with u = w / ||w|| per column.
func projectOutColumns(g, w *Node) *Node {
	u := unitColumns(w)
	along := ReduceSum(Mul(g, u), 0) // [C]
	return Sub(g, Mul(InsertAxes(along, 0), u))
}

// stepInputs are the per-step values fed to a step graph besides the tensors.
type stepInputs struct {
	x, y            *tensors.Tensor // rows; y nil for an SAE
	pre             *tensors.Tensor // [N, F]
	mask            *tensors.Tensor // [N, F]
	window, auxMask *tensors.Tensor // JumpReLU; AuxK
	auxScale        float64
	lrStep, invBC   float64
	coef            float64
}

// step runs one compiled training step. params, m and v are in trainable order; it returns
// their new values and the losses.
func (e *engine) step(k stepKey, in stepInputs, params, m, v []*tensors.Tensor) (newP, newM, newV []*tensors.Tensor, st stepStats, err error) {
	e.mu.Lock()
	ex := e.steps[k]
	if ex == nil {
		ex, err = newExec(e.backend, stepGraph(e.cfg, k))
		if err != nil {
			e.mu.Unlock()
			return
		}
		e.steps[k] = ex
	}
	e.mu.Unlock()
	args := []any{in.x}
	if k.target {
		args = append(args, in.y)
	}
	args = append(args, in.pre, in.mask)
	if e.cfg.Arch == JumpReLU {
		args = append(args, in.window)
	}
	if k.aux {
		args = append(args, in.auxMask, float32(in.auxScale))
	}
	args = append(args, asAny(params)...)
	args = append(args, asAny(m)...)
	args = append(args, asAny(v)...)
	args = append(args, float32(in.lrStep), float32(in.invBC), float32(in.coef))
	out, err := execute(ex, args...)
	if err != nil {
		err = fmt.Errorf("sae: training step: %w", err)
		return
	}
	np := len(params)
	newP, newM, newV = out[:np], out[np:2*np], out[2*np:3*np]
	s := tensors.MustCopyFlatData[float32](out[3*np])
	st = stepStats{MSE: float64(s[0]), Sparsity: float64(s[1]), Aux: float64(s[2]), Inner: float64(s[3])}
	finalize(out[3*np])
	return
}
