package sae

import (
	"math"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // graph code reads best unqualified
)

// gatedStepGraph is the training step of a gated SAE (SAELens GatedTrainingSAE), with the
// gradients by autodiff: the gate's step has no derivative, so the loss is
//
//	L = MSE + lambda/N sum_n sum_j ReLU(pi_nj) ||W_dec[j]||
//	      + 1/N sum_n ||ReLU(pi_n) sg(W_dec) + sg(b_dec) - x_n||^2
//
// with pi = (x - b_dec) W_enc + b_gate, f = sg(1[pi > 0]) ReLU((x - b_dec)(W_enc exp(r_mag)) +
// b_mag), sg the stop-gradient: the magnitude path trains through the reconstruction, the gate
// through the L1 and auxiliary terms. Its inputs are laid out as stepGraph's for a ReLU SAE
// (x, pre, mask, params, m, v, lrStep, invSqrtBC2, coef); pre and mask are not read.
func gatedStepGraph(c Config, k stepKey) func(in []*Node) []*Node {
	return func(in []*Node) []*Node {
		x := in[0]
		specs := trainable(c)
		np := len(specs)
		params, m, v := in[3:3+np], in[3+np:3+2*np], in[3+2*np:3+3*np]
		lrStep, invSqrtBC2, coef := in[3+3*np], in[4+3*np], in[5+3*np]
		p := nodesByName(specs, params)
		n := float64(x.Shape().Dimensions[0])
		zero := ScalarZero(x.Graph(), x.DType())

		xin := x
		if c.ApplyBDecToInput {
			xin = Sub(x, row(p.BDec))
		}
		pi := Add(matmul(xin, p.WEnc), row(p.BEnc))                                    // [N, F]
		piAct := Max(pi, zero)                                                         // [N, F]
		mag := Max(Add(matmul(xin, Mul(p.WEnc, row(Exp(p.RMag)))), row(p.BMag)), zero) // [N, F]
		gate := StopGradient(ConvertDType(GreaterThan(pi, zero), x.DType()))
		f := Mul(gate, mag)
		recon := Add(matmul(f, p.WDec), row(p.BDec))
		mse := DivScalar(ReduceAllSum(Square(Sub(recon, x))), n)
		norms := Sqrt(ReduceSum(Square(p.WDec), 1)) // [F]
		l1 := Mul(DivScalar(coef, n), ReduceAllSum(Mul(piAct, row(norms))))
		viaGate := Add(matmul(piAct, StopGradient(p.WDec)), row(StopGradient(p.BDec)))
		aux := DivScalar(ReduceAllSum(Square(Sub(viaGate, x))), n)
		loss := Add(Add(mse, l1), aux)
		grads := Gradient(loss, params...)

		newP, newM, newV := make([]*Node, np), make([]*Node, np), make([]*Node, np)
		for j := range specs {
			gr := grads[j]
			newM[j] = Add(MulScalar(m[j], k.beta1), MulScalar(gr, 1-k.beta1))
			newV[j] = Add(MulScalar(v[j], k.beta2), MulScalar(Square(gr), 1-k.beta2))
			denom := AddScalar(Mul(Sqrt(newV[j]), invSqrtBC2), k.eps)
			newP[j] = Sub(params[j], Mul(lrStep, Div(newM[j], denom)))
		}
		stats := Stack([]*Node{mse, l1, aux, zero}, 0) // [4]
		return append(append(append(newP, newM...), newV...), stats)
	}
}

// gatedActive writes the mask of a gated SAE's active latents, 1[pi > 0] and a positive
// magnitude (pre - b_gate) exp(r_mag) + b_mag > 0, from the gate pre-activations pre [n, F], and
// returns each latent's fire count.
func gatedActive(pre []float32, n, F int, bGate, rMag, bMag, mask []float32) []float32 {
	fires := make([]float32, F)
	for r := range n {
		for j := range F {
			g := pre[r*F+j]
			a := float32(0)
			if g > 0 && (float64(g)-float64(bGate[j]))*math.Exp(float64(rMag[j]))+float64(bMag[j]) > 0 {
				a = 1
			}
			mask[r*F+j] = a
			fires[j] += a
		}
	}
	return fires
}
