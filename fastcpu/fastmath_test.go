package fastcpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFastMath checks expF32 and tanhF32 against float64 math on a sweep of the whole useful range
// plus random points: relative error at most 4e-7 (about 3 float32 ulps), or absolute 1e-30 near 0.
func TestFastMath(t *testing.T) {
	check := func(name string, f func(float32) float32, ref func(float64) float64, x float32) {
		t.Helper()
		got, want := float64(f(x)), ref(float64(x))
		if math.IsInf(want, 0) || math.IsNaN(want) {
			if got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
				t.Fatalf("%s(%g) = %g, want %g", name, x, got, want)
			}
			return
		}
		want = float64(float32(want))
		if d := math.Abs(got - want); d > 4e-7*math.Abs(want) && d > 1e-30 {
			t.Fatalf("%s(%g) = %.9g, want %.9g (rel err %.3g)", name, x, got, want, d/math.Abs(want))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	xs := []float32{0, -0, 1, -1, 0.5, 0.625, -0.625, 88, -87, -100, 88.7, 89, -104, 1e-8, -1e-8, 9, 9.02, -20,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for i := range 200000 {
		xs = append(xs, float32(-110+220*float64(i)/200000), float32(rng.NormFloat64()*3))
	}
	for _, x := range xs {
		check("exp", expF32, math.Exp, x)
		check("tanh", tanhF32, math.Tanh, x)
	}
}

func BenchmarkExpF32(b *testing.B) {
	xs := make([]float32, 1<<16)
	for i := range xs {
		xs[i] = float32(i%200) - 100
	}
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			for i, x := range xs {
				xs[i] = expF32(x) * 0
			}
		}
	})
	b.Run("math", func(b *testing.B) {
		for b.Loop() {
			for i, x := range xs {
				xs[i] = float32(math.Exp(float64(x))) * 0
			}
		}
	})
}

// TestVectorKernels checks the cgo vector kernels (same polynomials as the scalar Go ones; gcc
// may fuse multiply-adds) against float64 math: relative error at most 4e-7, except that vexp
// flushes results below 2^-126 to 0.
func TestVectorKernels(t *testing.T) {
	var xs []float32
	for i := range 100001 {
		xs = append(xs, float32(-110+220*float64(i)/100000))
	}
	xs = append(xs, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 0, -0.0001, 0.0001)
	ye, yt := make([]float32, len(xs)), make([]float32, len(xs))
	vexp(xs, ye)
	vtanh(xs, yt)
	for i, x := range xs {
		for _, c := range []struct {
			name      string
			got, want float32
		}{{"exp", ye[i], float32(math.Exp(float64(x)))}, {"tanh", yt[i], float32(math.Tanh(float64(x)))}} {
			g, w := float64(c.got), float64(c.want)
			if math.IsNaN(w) && math.IsNaN(g) || g == w {
				continue
			}
			if c.name == "exp" && x < -87.33 && g == 0 && w < 1.2e-38 {
				continue
			}
			if math.Abs(g-w) > 4e-7*math.Abs(w) && math.Abs(g-w) > 1e-30 {
				t.Fatalf("%s(%g): vector %g, want %g", c.name, x, g, w)
			}
		}
	}
	// Softmax rows, including -inf entries (masked attention) which must give exact zeros.
	in := []float32{1, 2, 3, float32(math.Inf(-1)), 0, 0, 0, 0}
	out := make([]float32, len(in))
	vsoftmaxRows(in, out, 4)
	if out[3] != 0 || math.Abs(float64(out[0]+out[1]+out[2])-1) > 1e-6 || math.Abs(float64(out[4])-0.25) > 1e-7 {
		t.Fatalf("softmax rows: %v", out)
	}
}

// TestExpNonPosMatchesExp: the softmax's exp (inputs <= 0) gives exp's bits on every input it
// can see: a sweep of [-100, 0], the clamp edge, subnormal results, -0, -inf and NaN.
func TestExpNonPosMatchesExp(t *testing.T) {
	var in []float32
	for i := 0; i <= 400000; i++ {
		in = append(in, -100*float32(i)/400000)
	}
	in = append(in, -87.3365447505531, -87.33654, -87.33655, -1e-30, float32(math.Copysign(0, -1)),
		float32(math.Inf(-1)), float32(math.NaN()), -math.SmallestNonzeroFloat32, -math.MaxFloat32)
	a, b := make([]float32, len(in)), make([]float32, len(in))
	vexp(in, a)
	vexpNonPos(in, b)
	for i := range in {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("exp(%g): %g (%08x), the softmax's exp gives %g (%08x)", in[i], a[i], math.Float32bits(a[i]), b[i], math.Float32bits(b[i]))
		}
	}
}

// TestExpFMANonPos: the inference softmax's exp (fused multiply-adds, not exp's bits) is within
// 4e-7 relative of exp in float64, the bound exp's own test uses (2^-24 is 6e-8 a half ulp; the
// reduction and the polynomial add about 1 ulp, 1.26 ulp at most over every float32 in
// [-87.34, 0] with a normal result). It gives exactly 1 at 0 and 0 at -inf, and NaN at NaN.
func TestExpFMANonPos(t *testing.T) {
	if !haveVMath {
		t.Skip("built without cgo: the softmax uses the Go exp (TestFastMath and the softmax tests cover it)")
	}
	var in []float32
	for i := 0; i <= 400000; i++ {
		in = append(in, -87.3*float32(i)/400000)
	}
	for _, x := range []float32{-71.0296, -81.3948, -0.34657359, -0.34657358, -1e-30, -1e-7} {
		in = append(in, x, math.Nextafter32(x, 0), math.Nextafter32(x, -100))
	}
	got := make([]float32, len(in))
	vexpFMANonPos(in, got)
	for i, x := range in {
		w := math.Exp(float64(x))
		if w < math.SmallestNonzeroFloat32*(1<<23) { // subnormal results: absolute
			if math.Abs(float64(got[i])-w) > 1e-44 {
				t.Fatalf("exp(%g) = %g, want %g", x, got[i], w)
			}
			continue
		}
		if math.Abs(float64(got[i])-w) > 4e-7*w {
			t.Fatalf("exp(%g) = %g, want %g (relative error %.3g)", x, got[i], w, math.Abs(float64(got[i])-w)/w)
		}
	}
	edge := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(-1)), -100, float32(math.NaN())}
	out := make([]float32, len(edge))
	vexpFMANonPos(edge, out)
	if out[0] != 1 || out[1] != 1 || out[2] != 0 || out[3] != 0 || !math.IsNaN(float64(out[4])) {
		t.Fatalf("exp at 0, -0, -inf, -100, NaN: %v", out)
	}
}
