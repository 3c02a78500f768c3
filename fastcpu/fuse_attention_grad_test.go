package fastcpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/autodiff"
)

// TestAttentionGradFused differentiates attention built as the model builds it (q, k, v
// [B,P,H,K]; scores scaled and masked, softmax, pattern x v, z transposed back to [B,P,H,K]) and
// checks that the backward is fused into one kernel, and that the fused and the unfused
// gradients of q, k and v are both within a rounding bound of the float64 gradient. With P the
// pattern, G = dz v^T, dS = c P (G - rowsum(P G)), dq = dS k, dk = dS^T q, dv = P^T dz, and A the
// same sums over absolute values, a sum of n rounded terms is off by at most n u A (u = 2^-24,
// first order); G's K terms and the softmax gradient's own operations put (K + 10) u on dS, and
// the pattern itself is off by eps = 2 K u |scores|max + 8 u relative (the scores' sums, the
// exp and the division), which moves every product through it. So dq's bound is
// 2 ((Pk + K + 11) u + 2 eps) sum_j |dS_ij| |k_jd| (the 2 for slack), dk's the same over i, and
// dv's 2 ((Pq + 1) u + eps) sum_i P_ij |dz_id|. A replaced pattern (a clamp) is left unfused, and
// its gradients are the unfused graph's bit for bit. A NaN in dz reaches the same elements fused
// and unfused.
func TestAttentionGradFused(t *testing.T) {
	autodiff.Register() // the model's DotGeneral gradient: one DotGeneral per operand
	be, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	// Head sizes 5 (the kernel's scalar loops), 8 and 16 (one and two 8-float vectors); 11 positions,
	// and 37 for K = 8, where rows have runs of 8 and more masked keys to skip.
	for _, kp := range [][2]int{{5, 11}, {8, 11}, {16, 11}, {8, 37}} {
		K, P := kp[0], kp[1]
		for _, c := range []struct {
			name   string
			scale  float64
			window int // 0: causal only
		}{{"scaled causal", 1 / math.Sqrt(float64(K)), 0}, {"unscaled causal", 1, 0}, {"scaled local window 4", 0.5, 4}} {
			t.Run(fmt.Sprintf("K=%d/P=%d/%s", K, P, c.name), func(t *testing.T) { testAttentionGradFused(t, be, K, P, c.scale, c.window) })
		}
	}
}

func testAttentionGradFused(t *testing.T, be backends.Backend, K, P int, scale float64, window int) {
	const B, H = 2, 3
	rng := rand.New(rand.NewPCG(7, uint64(K*100+window)))
	randn := func(n int, sd float64) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * sd)
		}
		return x
	}
	n := B * P * H * K
	q, k, v, w := randn(n, 1.5), randn(n, 1.5), randn(n, 1), randn(n, 1)
	build := func(clamp bool) func(q, k, v, w *graph.Node) []*graph.Node {
		return func(q, k, v, w *graph.Node) []*graph.Node {
			g := q.Graph()
			visible := graph.LowerTriangular(g, P)
			if window > 0 {
				qi := graph.Iota(g, shapes.Make(dtypes.Int32, P, P), 0)
				si := graph.Iota(g, shapes.Make(dtypes.Int32, P, P), 1)
				visible = graph.LogicalAnd(visible, graph.LessThan(graph.Sub(qi, si), graph.Scalar(g, dtypes.Int32, window)))
			}
			mask := graph.Where(visible, graph.BroadcastToDims(graph.ScalarZero(g, dtypes.Float32), P, P),
				graph.BroadcastToDims(graph.Infinity(g, dtypes.Float32, -1), P, P))
			scores := graph.DotGeneral(q, []int{3}, []int{0, 2}, k, []int{3}, []int{0, 2})
			if scale != 1 {
				scores = graph.MulScalar(scores, scale)
			}
			pattern := graph.Softmax(graph.Add(scores, graph.ExpandLeftToRank(mask, 4)), -1)
			if clamp { // a hook replacing the pattern: head 1 scaled by 0.5
				hm := graph.Const(g, [][][][]float32{{{{1}}, {{0.5}}, {{1}}}})
				pattern = graph.Mul(pattern, hm)
			}
			z := graph.DotGeneral(pattern, []int{3}, []int{0, 1}, v, []int{1}, []int{0, 2}) // [B,H,P,K]
			zt := graph.TransposeAllDims(z, 0, 2, 1, 3)                                     // [B,P,H,K], as the model lays it out
			loss := graph.ReduceAllSum(graph.Mul(zt, w))
			return graph.Gradient(loss, q, k, v)
		}
	}
	run := func(fused, clamp bool, w []float32) [3][]float32 {
		noAttentionGradFusion = !fused
		defer func() { noAttentionGradFusion = false }()
		e := graph.MustNewExec(be, build(clamp))
		outs := e.MustExec(tensors.FromFlatDataAndDimensions(q, B, P, H, K), tensors.FromFlatDataAndDimensions(k, B, P, H, K),
			tensors.FromFlatDataAndDimensions(v, B, P, H, K), tensors.FromFlatDataAndDimensions(w, B, P, H, K))
		var r [3][]float32
		for i := range r {
			r[i] = tensors.MustCopyFlatData[float32](outs[i])
		}
		return r
	}
	before := fusedAttentionGrads.Load()
	got := run(true, false, w)
	if fusedAttentionGrads.Load() != before+1 {
		t.Fatal("the attention backward was not fused")
	}
	before = fusedAttentionGrads.Load()
	want := run(false, false, w)
	if fusedAttentionGrads.Load() != before {
		t.Fatal("fused although INTERP_NO_ATTENTION_GRAD_FUSION's switch was set")
	}
	// A replaced pattern: nothing fused, and the same bits as with the fusion off.
	before = fusedAttentionGrads.Load()
	clamped := run(true, true, w)
	if fusedAttentionGrads.Load() != before {
		t.Fatal("the backward of a replaced pattern was fused")
	}
	clampedOff := run(false, true, w)
	for i := range clamped {
		for j := range clamped[i] {
			if math.Float32bits(clamped[i][j]) != math.Float32bits(clampedOff[i][j]) {
				t.Fatalf("replaced pattern: gradient %d element %d differs: %g and %g", i, j, clamped[i][j], clampedOff[i][j])
			}
		}
	}

	// A NaN in dz (the loss's weights): the unfused graph spreads it through every product,
	// masked keys included (0 * NaN), and so must the fused kernel (it skips no key then).
	wNaN := slices.Clone(w)
	wNaN[((1*P+3)*H+2)*K+1] = float32(math.NaN())
	nanFused, nanUnfused := run(true, false, wNaN), run(false, false, wNaN)
	for g := range 3 {
		for j := range nanFused[g] {
			if math.IsNaN(float64(nanFused[g][j])) != math.IsNaN(float64(nanUnfused[g][j])) {
				t.Fatalf("NaN in dz: gradient %d element %d is %g fused, %g unfused", g, j, nanFused[g][j], nanUnfused[g][j])
			}
		}
	}

	// The float64 gradient and its bound, block by block.
	const u = 1.0 / (1 << 24)
	at := func(x []float32, b, p, h, d int) float64 { return float64(x[((b*P+p)*H+h)*K+d]) }
	names := []string{"dq", "dk", "dv"}
	for b := range B {
		for h := range H {
			pat := make([][]float64, P)
			absG, G := make([][]float64, P), make([][]float64, P)
			eps := make([]float64, P)
			for i := range P {
				pat[i], absG[i], G[i] = make([]float64, P), make([]float64, P), make([]float64, P)
				m, maxAbs := math.Inf(-1), 0.0
				for j := range P {
					var dot, abs float64
					for d := range K {
						x := at(q, b, i, h, d) * at(k, b, j, h, d)
						dot, abs = dot+x, abs+math.Abs(x)
					}
					if j > i || (window > 0 && i-j >= window) {
						pat[i][j] = math.Inf(-1)
						continue
					}
					pat[i][j] = dot * scale
					maxAbs = max(maxAbs, abs*scale)
					m = max(m, pat[i][j])
				}
				var sum float64
				for j := range P {
					pat[i][j] = math.Exp(pat[i][j] - m)
					sum += pat[i][j]
				}
				for j := range P {
					pat[i][j] /= sum
					for d := range K {
						x := at(w, b, i, h, d) * at(v, b, j, h, d) // dz = w (the loss is sum(z w))
						G[i][j] += x
						absG[i][j] += math.Abs(x)
					}
				}
				eps[i] = 2*float64(K)*u*maxAbs + 8*u
			}
			dS, absS := make([][]float64, P), make([][]float64, P)
			for i := range P {
				var pg, pAbsG float64
				for l := range P {
					pg += pat[i][l] * G[i][l]
					pAbsG += pat[i][l] * absG[i][l]
				}
				dS[i], absS[i] = make([]float64, P), make([]float64, P)
				for j := range P {
					dS[i][j] = scale * pat[i][j] * (G[i][j] - pg)
					absS[i][j] = scale * pat[i][j] * (absG[i][j] + pAbsG)
				}
			}
			for d := range K {
				for p := range P {
					var ref, bound [3]float64
					for j := range P { // dq[p] = sum_j dS[p][j] k[j]
						ref[0] += dS[p][j] * at(k, b, j, h, d)
						bound[0] += 2 * ((float64(P+K+11))*u + 2*eps[p]) * absS[p][j] * math.Abs(at(k, b, j, h, d))
					}
					for i := range P { // dk[p] = sum_i dS[i][p] q[i]; dv[p] = sum_i P[i][p] dz[i]
						ref[1] += dS[i][p] * at(q, b, i, h, d)
						bound[1] += 2 * ((float64(P+K+11))*u + 2*eps[i]) * absS[i][p] * math.Abs(at(q, b, i, h, d))
						ref[2] += pat[i][p] * at(w, b, i, h, d)
						bound[2] += 2 * (float64(P+1)*u + eps[i]) * pat[i][p] * math.Abs(at(w, b, i, h, d))
					}
					idx := ((b*P+p)*H+h)*K + d
					for g := range 3 {
						for side, x := range [][3][]float32{got, want} {
							if diff := math.Abs(float64(x[g][idx]) - ref[g]); !(diff <= bound[g]) {
								t.Fatalf("%s[%d,%d,%d,%d] (%s): %g, float64 %g (difference %.3g, bound %.3g)",
									names[g], b, p, h, d, []string{"fused", "unfused"}[side], x[g][idx], ref[g], diff, bound[g])
							}
						}
					}
				}
			}
		}
	}
}

// TestAttentionGradBlockGoMatchesC: the Go twin of the backward kernel gives the C kernel's bits
// (with cgo; without it both are the Go twin), scaled and not, for head sizes 5, 8 and 16.
func TestAttentionGradBlockGoMatchesC(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, kd := range []int{5, 8, 16} {
		for _, scaled := range []bool{false, true} {
			const pq, pk, H = 9, 9, 2
			hs := H * kd
			randn := func(n int) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				return x
			}
			q, k, v, dz := randn(pq*hs), randn(pk*hs), randn(pk*hs), randn(pq*hs)
			e, p, den := make([]float32, pq*pk), make([]float32, pq*pk), make([]float32, pq)
			for i := range pq {
				for j := range pk {
					if j <= i { // as a softmax's: the row's largest is exp(0) = 1, so den >= 1
						e[i*pk+j] = float32(math.Exp(-math.Abs(rng.NormFloat64())))
						if j == i/2 {
							e[i*pk+j] = 1
						}
						den[i] += e[i*pk+j]
					}
				}
				for j := range pk {
					p[i*pk+j] = e[i*pk+j] / den[i]
				}
			}
			var outs [2][3][]float32
			for side, f := range []func(q, k, v, dz, p, e, den, dq, dk, dv, vt, g, ds []float32, pq, pk, kd, hs int, c float32, scaled bool){
				attentionGradBlock, attentionGradBlockGo} {
				for i := range 3 {
					outs[side][i] = make([]float32, max(pq, pk)*hs)
				}
				f(q, k, v, dz, p, e, den, outs[side][0], outs[side][1], outs[side][2], make([]float32, kd*pk), make([]float32, pk),
					make([]float32, pk), pq, pk, kd, hs, 0.37, scaled)
			}
			for i := range 3 {
				for j := range outs[0][i] {
					if j%hs >= kd {
						continue // the other head's columns: not written
					}
					if math.Float32bits(outs[0][i][j]) != math.Float32bits(outs[1][i][j]) {
						t.Fatalf("kd=%d scaled=%v output %d element %d: C %g, Go %g", kd, scaled, i, j, outs[0][i][j], outs[1][i][j])
					}
				}
			}
		}
	}
}
