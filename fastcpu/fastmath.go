package fastcpu

import "math"

// Float32 transcendental kernels. Computing exp and tanh through math.Exp/math.Tanh in float64
// costs 10-20 ns an element, which dominated softmax and GELU; these float32 versions are
// branch-light polynomials the compiler keeps in registers (about 1-2 ns an element), with
// relative error within a few float32 ulps (tested against math in fastmath_test.go).

const (
	expHi = 88.72283905206835 // exp overflows float32 above this
	expLo = -103.97207708     // and underflows to 0 below this
	log2e = 1.44269504088896341
	ln2Hi = 0.693359375
	ln2Lo = -2.12194440e-4
	expC1 = 1.9875691500e-4 // Cephes expf polynomial
	expC2 = 1.3981999507e-3
	expC3 = 8.3334519073e-3
	expC4 = 4.1665795894e-2
	expC5 = 1.6666665459e-1
	expC6 = 5.0000001201e-1
)

// expF32 is exp(x) for float32 (Cephes expf: Cody-Waite reduction and a degree-6 polynomial).
func expF32(x float32) float32 {
	if x > expHi {
		return float32(math.Inf(1))
	}
	if x < expLo {
		return 0
	}
	if x != x {
		return x
	}
	// Round x*log2(e) to the nearest integer by adding and subtracting 1.5*2^23 (Go does not
	// reassociate float arithmetic, so this is exact round-to-nearest-even).
	fx := (x*log2e + 12582912) - 12582912
	r := x - fx*ln2Hi - fx*ln2Lo
	z := r * r
	p := ((((expC1*r+expC2)*r+expC3)*r+expC4)*r+expC5)*r + expC6
	p = p*z + r + 1
	n := int32(fx)
	// Scale by 2^n in two steps so results in the subnormal range stay accurate.
	if n < -126 {
		return p * math.Float32frombits(uint32(n+127+64)<<23) * math.Float32frombits(uint32(127-64)<<23)
	}
	if n > 127 {
		return p * math.Float32frombits(uint32(254)<<23) * math.Float32frombits(uint32(n)<<23)
	}
	return p * math.Float32frombits(uint32(n+127)<<23)
}

// tanhF32 is tanh(x) for float32: the branch-free rational approximation Eigen (and so XLA and
// PyTorch's vectorised CPU kernels) use: x clamped to +-7.9053, then p(x)/q(x) with an odd
// degree-13 numerator and even degree-6 denominator. No exp, no calls, one division.
func tanhF32(x float32) float32 {
	const clamp = 7.90531110763549805
	if x > clamp {
		x = clamp
	} else if x < -clamp {
		x = -clamp
	}
	if x != x {
		return x
	}
	if x < 0.0004 && x > -0.0004 {
		return x
	}
	x2 := x * x
	p := x2*-2.76076847742355e-16 + 2.00018790482477e-13
	p = x2*p + -8.60467152213735e-11
	p = x2*p + 5.12229709037114e-08
	p = x2*p + 1.48572235717979e-05
	p = x2*p + 6.37261928875436e-04
	p = x2*p + 4.89352455891786e-03
	p = x * p
	q := x2*1.19825839466702e-06 + 1.18534705686654e-04
	q = x2*q + 2.26843463243900e-03
	q = x2*q + 4.89352518554385e-03
	return p / q
}
