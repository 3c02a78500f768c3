//go:build cgo

package fastcpu

/*
#cgo CFLAGS: -O3
#cgo LDFLAGS: -lm

#include <stdint.h>
#include <string.h>
#include <math.h>

// No user-visible floating-point traps: lets gcc if-convert the selects of exp_poly and tanh_rat
// (speculating both sides) so that the loops vectorise for AVX2 too, not only with AVX-512's
// masks. Results are unchanged; only the FP exception flags, which nothing reads, may differ.
// (A pragma, since cgo refuses -fno-trapping-math in CFLAGS.)
// No contraction of a*b+c into FMA either: every clone (and the Go fallbacks) rounds each
// product and sum on its own, so that results do not depend on the CPU's instruction set.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math", "fp-contract=off")
#endif

// Vectorisable float32 kernels. gcc compiles each for AVX-512, AVX2 and baseline x86-64 and
// picks at load time (target_clones); the loops are branch-free so they vectorise. The
// polynomials are the same as fastmath.go's scalar Go versions.

#if defined(__x86_64__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

// FMA_CLONES are for kernels that call fmaf: clones for x86-64-v4 and -v3 (AVX2 with FMA), where
// fmaf is one instruction, and a baseline one, where it is the C library's. fmaf is correctly
// rounded on every path, so all clones give the same bits.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#define FMA_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FMA_CLONES CLONES
#endif

// exp_parts splits e^x for x in the clamped range: *fx = round(x / ln 2), and the result is the
// Cephes polynomial for e^(x - fx ln 2) (ln 2 in two parts).
static inline float exp_parts(float x, float *fx_out) {
	float fx = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
	float r = x - fx * 0.693359375f - fx * -2.12194440e-4f;
	float z = r * r;
	float p = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
		1.6666665459e-1f) * r + 5.0000001201e-1f;
	*fx_out = fx;
	return p * z + r + 1.0f;
}

// pow2i is 2^n as a float, for n in [-126, 127].
static inline float pow2i(int32_t n) {
	int32_t bits = (n + 127) << 23;
	float scale;
	memcpy(&scale, &bits, 4);
	return scale;
}

static inline float exp_poly(float x0) {
	float x = x0 > 88.72283905206835f ? 88.72283905206835f : x0;
	x = x < -87.3365447505531f ? -87.3365447505531f : x;
	float fx;
	float p = exp_parts(x, &fx);
	int32_t n = (int32_t)fx;
	float extra = n > 127 ? 2.0f : 1.0f; // 2^128 is not a float: scale by 2^127 * 2
	n = n > 127 ? 127 : n;
	float res = p * pow2i(n) * extra;
	res = x0 < -87.3365447505531f ? 0.0f : res;
	res = x0 > 88.72283905206835f ? __builtin_inff() : res;
	return x0 != x0 ? x0 : res;
}

// exp_nonpos is exp_poly for x0 <= 0 or NaN (softmax's x - max), without the branches that only
// x0 > 0 can take (the upper clamp, 2^128, +inf); it gives the same bits there
// (TestExpNonPosMatchesExp).
static inline float exp_nonpos(float x0) {
	float x = x0 < -87.3365447505531f ? -87.3365447505531f : x0;
	float fx;
	float res = exp_parts(x, &fx) * pow2i((int32_t)fx);
	res = x0 < -87.3365447505531f ? 0.0f : res;
	return x0 != x0 ? x0 : res;
}

// exp_fma_nonpos is exp_nonpos's reduction and polynomial evaluated with fused multiply-adds: about
// a fifth faster where FMA is an instruction, and not bit-equal to exp_nonpos. It is for kernels
// whose results are not the unfused ops' bits anyway (the inference softmax, the fused attention).
// Over every float32 in [-87.34, 0] with a normal result it is within 1.26 ulp of exp
// (TestExpFMANonPos checks a sweep against 4e-7, as exp's test does).
static inline float exp_fma_nonpos(float x0) {
	float x = x0 < -87.3365447505531f ? -87.3365447505531f : x0;
	float fx = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
	float r = fmaf(fx, -0.693359375f, x);
	r = fmaf(fx, 2.12194440e-4f, r);
	float z = r * r;
	float p = fmaf(fmaf(fmaf(fmaf(fmaf(1.9875691500e-4f, r, 1.3981999507e-3f), r, 8.3334519073e-3f), r,
		4.1665795894e-2f), r, 1.6666665459e-1f), r, 5.0000001201e-1f);
	float res = fmaf(p, z, r + 1.0f) * pow2i((int32_t)fx);
	res = x0 < -87.3365447505531f ? 0.0f : res;
	return x0 != x0 ? x0 : res;
}

FMA_CLONES void interp_vexp_fma_nonpos(const float *x, float *y, int64_t n) {
	for (int64_t i = 0; i < n; i++) y[i] = exp_fma_nonpos(x[i]);
}

CLONES void interp_vexp_nonpos(const float *x, float *y, int64_t n) {
	for (int64_t i = 0; i < n; i++) y[i] = exp_nonpos(x[i]);
}

CLONES void interp_vexp(const float *x, float *y, int64_t n) {
	for (int64_t i = 0; i < n; i++) y[i] = exp_poly(x[i]);
}

static inline float tanh_rat(float x) {
	const float c = 7.90531110763549805f;
	x = x > c ? c : x;
	x = x < -c ? -c : x;
	float x2 = x * x;
	float p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
	p = x2 * p + -8.60467152213735e-11f;
	p = x2 * p + 5.12229709037114e-08f;
	p = x2 * p + 1.48572235717979e-05f;
	p = x2 * p + 6.37261928875436e-04f;
	p = x2 * p + 4.89352455891786e-03f;
	p = x * p;
	float q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
	q = x2 * q + 2.26843463243900e-03f;
	q = x2 * q + 4.89352518554385e-03f;
	return p / q;
}

CLONES void interp_vtanh(const float *x, float *y, int64_t n) {
	for (int64_t i = 0; i < n; i++) {
		float v = x[i];
		float t = tanh_rat(v);
		y[i] = (v < 0.0004f && v > -0.0004f) ? v : t;
	}
}

// lane_max and lane_sum reduce a run with 16 independent lanes, so that gcc vectorises them
// without -ffast-math (a single running max or sum is a serial dependency chain and stays scalar);
// they are inlined into each clone of their callers.
static inline float lane_max(const float *x, int64_t n) {
	float acc[16];
	int64_t i = 0;
	if (n >= 16) {
		for (int j = 0; j < 16; j++) acc[j] = x[j];
		for (i = 16; i + 16 <= n; i += 16)
			for (int j = 0; j < 16; j++) acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];
	} else {
		for (int j = 0; j < 16; j++) acc[j] = x[0];
	}
	float m = acc[0];
	for (int j = 1; j < 16; j++) m = acc[j] > m ? acc[j] : m;
	for (; i < n; i++) m = x[i] > m ? x[i] : m;
	return m;
}

static inline float lane_sum(const float *x, int64_t n) {
	float acc[16] = {0};
	int64_t i = 0;
	for (; i + 16 <= n; i += 16)
		for (int j = 0; j < 16; j++) acc[j] += x[i + j];
	float s = 0.0f;
	for (int j = 0; j < 16; j++) s += acc[j];
	for (; i < n; i++) s += x[i];
	return s;
}

// Softmax of each row: the max, exp(x - max) written out (exp_fma_nonpos), its sum, the scale;
// each loop vectorises.
FMA_CLONES void interp_softmax_rows(const float *x, float *y, int64_t rows, int64_t n) {
	for (int64_t r = 0; r < rows; r++) {
		const float *xr = x + r * n;
		float *yr = y + r * n;
		float m = lane_max(xr, n);
		for (int64_t i = 0; i < n; i++) yr[i] = exp_fma_nonpos(xr[i] - m);
		float inv = 1.0f / lane_sum(yr, n);
		for (int64_t i = 0; i < n; i++) yr[i] *= inv;
	}
}
// exp(t - rowmax(t)) of each row of t = x * c + mask (each part optional: scaled, masked): the
// exp of a softmax whose exp and sum the gradient reads (training graphs), with the attention's
// scale and mask folded in. mask is [pq, n]; row r reads mask row (r0 + r) % pq, r0 being the
// first row's index in the whole tensor. The max is the row's
// largest value, or NaN when the row holds a NaN, as the unfused ReduceMax gives it; the exp is
// exp_nonpos, the general exp's bits for t - max <= 0. t is built in y.
CLONES void interp_exp_sub_rowmax(const float *x, float *y, int64_t rows, int64_t n, float c, int scaled,
		const float *mask, int64_t pq, int64_t r0) {
	for (int64_t r = 0; r < rows; r++) {
		const float *xr = x + r * n;
		float *yr = y + r * n;
		if (scaled || mask) {
			const float *mr = mask ? mask + ((r0 + r) % pq) * n : 0;
			if (scaled && mask)
				for (int64_t i = 0; i < n; i++) yr[i] = xr[i] * c + mr[i];
			else if (scaled)
				for (int64_t i = 0; i < n; i++) yr[i] = xr[i] * c;
			else
				for (int64_t i = 0; i < n; i++) yr[i] = xr[i] + mr[i];
			xr = yr;
		}
		float m = lane_max(xr, n);
		int nan = 0;
		for (int64_t i = 0; i < n; i++) nan |= xr[i] != xr[i];
		if (nan) m = __builtin_nanf("");
		for (int64_t i = 0; i < n; i++) yr[i] = exp_nonpos(xr[i] - m);
	}
}

// The softmax gradient of each row (fuseSoftmaxGrad): with den = s[r] and sq = den*den,
// t = float32(sum_j float64(-(g_j * (e_j / sq)))) summed in order in float64, then
// out_j = (g_j / den + t) * e_j, times c when scaled. The row of out holds the terms of the sum
// first, so that the divisions and products run as vectors and only the float64 sum is serial.
CLONES void interp_softmax_grad_rows(float *out, const float *g, const float *e, const float *s, int64_t rows,
		int64_t n, float c, int scaled) {
	for (int64_t r = 0; r < rows; r++) {
		const float *gr = g + r * n, *er = e + r * n;
		float *or = out + r * n;
		const float den = s[r], sq = den * den;
		for (int64_t j = 0; j < n; j++) or[j] = -(gr[j] * (er[j] / sq));
		double acc = 0;
		for (int64_t j = 0; j < n; j++) acc += (double)or[j];
		const float t = (float)acc;
		if (scaled)
			for (int64_t j = 0; j < n; j++) or[j] = ((gr[j] / den + t) * er[j]) * c;
		else
			for (int64_t j = 0; j < n; j++) or[j] = (gr[j] / den + t) * er[j];
	}
}

static inline float lane_dot(const float *a, const float *b, int64_t n) {
	float acc[16] = {0};
	int64_t i = 0;
	for (; i + 16 <= n; i += 16)
		for (int j = 0; j < 16; j++) acc[j] += a[i + j] * b[i + j];
	float s = 0.0f;
	for (int j = 0; j < 16; j++) s += acc[j];
	for (; i < n; i++) s += a[i] * b[i];
	return s;
}

// pv_rows: z[0..dk) = sum_j p[j] v[j*vs + 0..dk), accumulated key by key with the head
// dimension innermost; dk is one of 8, 16, 32, 64, each branch a compile-time constant so that
// the inner loop is whole vectors without a tail.
static inline void pv_rows_k(const float *p, const float *v, int64_t vs, float *z, int64_t n, const int dk) {
	float acc[64];
	for (int d = 0; d < dk; d++) acc[d] = 0.0f;
	for (int64_t j = 0; j < n; j++) {
		const float pj = p[j];
		const float *vj = v + j * vs;
		for (int d = 0; d < dk; d++) acc[d] += pj * vj[d];
	}
	for (int d = 0; d < dk; d++) z[d] = acc[d];
}

static inline void pv_rows(const float *p, const float *v, int64_t vs, float *z, int64_t n, int64_t dk) {
	switch (dk) {
	case 8: pv_rows_k(p, v, vs, z, n, 8); break;
	case 16: pv_rows_k(p, v, vs, z, n, 16); break;
	case 32: pv_rows_k(p, v, vs, z, n, 32); break;
	default: pv_rows_k(p, v, vs, z, n, 64); break;
	}
}

// One (batch, head) block of attention, fused: scores = (q k^T) * scale + mask, row softmax,
// z = pattern v, without writing the scores or the pattern out. q is [pq, dk] with row stride qs,
// k and v [pk, dk] with row strides ks and vs, mask [pq, pk] (0 or -inf), z [pq, dk] dense.
// kt and vt (dk*pk floats each) and s (pk floats) are scratch. k is transposed first, so that a
// query row's scores accumulate over d with the keys innermost. For head sizes 8, 16, 32 and 64
// the output accumulates key by key over whole vectors of v's rows (pv_rows); for the others v
// is transposed too, and each output is one lane-reduced dot product over the keys. Only the keys from a row's first visible one to its
// last (rounded up to a multiple of 16) are computed: the rest of the row's pattern is exactly
// 0. A row with no visible key gives NaN, as softmax over -inf alone does.
CLONES void interp_attention_block(const float *q, const float *k, const float *v, const float *mask, float *z,
		float *kt, float *vt, float *s, int64_t pq, int64_t pk, int64_t dk, int64_t qs, int64_t ks, int64_t vs,
		float scale, int scaled) {
	// Head sizes 8-64 take pv_rows, which reads v in place; only the others need v transposed.
	const int fixed = dk == 8 || dk == 16 || dk == 32 || dk == 64;
	for (int64_t j = 0; j < pk; j++)
		for (int64_t d = 0; d < dk; d++) kt[d * pk + j] = k[j * ks + d];
	if (!fixed)
		for (int64_t j = 0; j < pk; j++)
			for (int64_t d = 0; d < dk; d++) vt[d * pk + j] = v[j * vs + d];
	for (int64_t i = 0; i < pq; i++) {
		const float *qi = q + i * qs;
		const float *mi = mask + i * pk;
		float *zi = z + i * dk;
		int64_t lo = 0, hi = pk;
		while (lo < hi && mi[lo] == -__builtin_inff()) lo++;
		while (hi > lo && mi[hi - 1] == -__builtin_inff()) hi--;
		if (lo == hi) {
			for (int64_t d = 0; d < dk; d++) zi[d] = __builtin_nanf("");
			continue;
		}
		// Round the range up to whole 16-lane groups with masked keys after hi (they score -inf,
		// so their pattern is exactly 0), so that the lane reductions have no scalar tail.
		int64_t n = (hi - lo + 15) & ~(int64_t)15;
		if (lo + n > pk) n = pk - lo;
		for (int64_t j = 0; j < n; j++) s[j] = 0.0f;
		for (int64_t d = 0; d < dk; d++) {
			const float a = qi[d];
			const float *kd = kt + d * pk + lo;
			for (int64_t j = 0; j < n; j++) s[j] += a * kd[j];
		}
		if (scaled)
			for (int64_t j = 0; j < n; j++) s[j] = s[j] * scale + mi[lo + j];
		else
			for (int64_t j = 0; j < n; j++) s[j] = s[j] + mi[lo + j];
		float m = lane_max(s, n);
		for (int64_t j = 0; j < n; j++) s[j] = exp_nonpos(s[j] - m);
		float inv = 1.0f / lane_sum(s, n);
		for (int64_t j = 0; j < n; j++) s[j] *= inv;
		if (fixed)
			pv_rows(s, v + lo * vs, vs, zi, n, dk);
		else
			for (int64_t d = 0; d < dk; d++) zi[d] = lane_dot(s, vt + d * pk + lo, n);
	}
}

// One (batch, head) block of the attention's backward pass (fuseAttentionGrad): from the output's
// gradient dz and the forward's q, k, v (rows of kd floats with row stride hs), pattern p, exp e
// ([pq, pk], dense) and row sums den [pq], it computes, without writing any [pq, pk] tensor,
//
//	g  = dz v^T                          the pattern's gradient, one row at a time (row[j] over d)
//	ds = softmax gradient of g           interp_softmax_grad_rows's arithmetic on the row (its float64
//	                                     sum in 4 lanes), times c when scaled
//	dq = ds k,  dk = ds^T q,  dv = p^T dz
//
// dq, dk and dv are written as rows with stride hs. vt (kd*pk), g and ds (pk each) are scratch.
// dk and dv accumulate query row by query row (i = 0, 1, ...), dq key by key, g over d in order.
//
// Keys outside a row's span of nonzero e (the mask's -inf, exactly 0 after the exp) add exact
// zeros to every sum: ds and p are 0 there. They are skipped when that is exact, i.e. when
// nothing in the block can make a 0 product non-zero or NaN: q, k, v and dz finite, every den
// finite and >= 1 (a softmax's row sum holds exp(0) = 1), and kd*pk*max|dz|*max|v| below
// FLT_MAX / 4, so that g, g/den and t are finite too. Otherwise (a NaN or an overflow that the
// unfused graph would spread) every key is computed.
// Eight floats as one GCC vector (unaligned loads and stores): the same IEEE operations per lane
// as scalar code, in whatever width the clone has.
// (Macros, not functions: a function taking or returning a 32-byte vector draws gcc's ABI warning
// in the baseline clone.)
typedef float v8f __attribute__((vector_size(32)));
#define ld8(p) ({ v8f v_; __builtin_memcpy(&v_, (p), sizeof v_); v_; })
#define st8(p, x) do { v8f t_ = (x); __builtin_memcpy((p), &t_, sizeof t_); } while (0)

// zero8 reports whether 8 words are all zero.
static inline __attribute__((always_inline)) int zero8(const uint32_t *w) {
	uint64_t a[4];
	__builtin_memcpy(a, w, sizeof a);
	return (a[0] | a[1] | a[2] | a[3]) == 0;
}

// always_inline: a helper left out of line would be compiled for baseline x86-64, not for the
// clone that calls it.
static inline __attribute__((always_inline)) int finite_block(const float *x, int64_t rows, int64_t kd, int64_t hs, float *maxabs) {
	float m = 0.0f;
	int ok = 1;
	for (int64_t r = 0; r < rows; r++)
		for (int64_t d = 0; d < kd; d++) {
			float a = x[r * hs + d];
			a = a < 0 ? -a : a;
			ok &= a <= 3.4e38f; // false for inf and NaN
			m = a > m ? a : m;
		}
	*maxabs = m;
	return ok;
}

static inline __attribute__((always_inline)) void attention_grad_block_k(const float *restrict q, const float *restrict k, const float *restrict v,
		const float *restrict dz, const float *restrict p, const float *restrict e, const float *restrict den,
		float *restrict dq, float *restrict dk, float *restrict dv, float *restrict vt, float *restrict g,
		float *restrict ds, int64_t pq, int64_t pk, const int64_t kd, int64_t hs, float c, int scaled) {
	for (int64_t j = 0; j < pk; j++)
		for (int64_t d = 0; d < kd; d++) {
			vt[d * pk + j] = v[j * hs + d];
			dk[j * hs + d] = 0.0f;
			dv[j * hs + d] = 0.0f;
		}
	float mq, mk, mv, mz;
	int skip = finite_block(q, pq, kd, hs, &mq) & finite_block(k, pk, kd, hs, &mk) & finite_block(v, pk, kd, hs, &mv) &
		finite_block(dz, pq, kd, hs, &mz);
	for (int64_t i = 0; i < pq; i++) skip &= den[i] >= 1.0f && den[i] <= 3.4e38f;
	skip &= (double)kd * (double)pk * (double)mz * (double)mv < 3.4e38 / 4;
	for (int64_t i = 0; i < pq; i++) {
		const float *dzi = dz + i * hs, *qi = q + i * hs, *ei = e + i * pk, *pi = p + i * pk;
		int64_t lo = 0, hi = pk;
		if (skip) { // +0.0 is all zero bits: an integer scan, 8 floats at a time (exp gives no -0)
			const uint32_t *eb = (const uint32_t *)ei;
			while (lo + 8 <= hi && zero8(eb + lo)) lo += 8;
			while (lo < hi && eb[lo] == 0) lo++;
			while (hi - 8 >= lo && zero8(eb + hi - 8)) hi -= 8;
			while (hi > lo && eb[hi - 1] == 0) hi--;
		}
		float *dqi = dq + i * hs;
		float acc[512]; // kd <= 512 (fuseAttentionGrad)
		for (int64_t d = 0; d < kd; d++) acc[d] = 0.0f;
		if (lo < hi) {
			for (int64_t j = lo; j < hi; j++) g[j] = 0.0f;
			for (int64_t d = 0; d < kd; d++) {
				const float a = dzi[d];
				const float *vd = vt + d * pk;
				for (int64_t j = lo; j < hi; j++) g[j] += a * vd[j];
			}
			const float dn = den[i], sq = dn * dn;
			for (int64_t j = lo; j < hi; j++) ds[j] = -(g[j] * (ei[j] / sq));
			// The row's sum in float64 over 4 interleaved lanes (j mod 4), added lane 0 to 3: four
			// chains instead of one serial one.
			double l4[4] = {0, 0, 0, 0};
			int64_t j4 = lo;
			for (; j4 + 4 <= hi; j4 += 4)
				for (int r = 0; r < 4; r++) l4[r] += (double)ds[j4 + r];
			for (int r = 0; j4 < hi; j4++, r++) l4[r] += (double)ds[j4];
			const float t = (float)(((l4[0] + l4[1]) + l4[2]) + l4[3]);
			if (scaled)
				for (int64_t j = lo; j < hi; j++) ds[j] = ((g[j] / dn + t) * ei[j]) * c;
			else
				for (int64_t j = lo; j < hi; j++) ds[j] = (g[j] / dn + t) * ei[j];
			if (kd % 8 == 0) { // whole 8-float vectors (gcc leaves the plain loops scalar)
				for (int64_t c8 = 0; c8 < kd; c8 += 8) {
					v8f a = ld8(acc + c8);
					const v8f qv = ld8(qi + c8), zv = ld8(dzi + c8);
					for (int64_t j = lo; j < hi; j++) {
						const float sj = ds[j], pj = pi[j];
						a += sj * ld8(k + j * hs + c8);
						st8(dk + j * hs + c8, ld8(dk + j * hs + c8) + sj * qv);
						st8(dv + j * hs + c8, ld8(dv + j * hs + c8) + pj * zv);
					}
					st8(acc + c8, a);
				}
			} else {
				for (int64_t j = lo; j < hi; j++) {
					const float sj = ds[j], pj = pi[j];
					const float *kj = k + j * hs;
					float *dkj = dk + j * hs, *dvj = dv + j * hs;
					for (int64_t d = 0; d < kd; d++) {
						acc[d] += sj * kj[d];
						dkj[d] += sj * qi[d];
						dvj[d] += pj * dzi[d];
					}
				}
			}
		}
		for (int64_t d = 0; d < kd; d++) dqi[d] = acc[d];
	}
}

CLONES void interp_attention_grad_block(const float *q, const float *k, const float *v, const float *dz,
		const float *p, const float *e, const float *den, float *dq, float *dk, float *dv,
		float *vt, float *g, float *ds, int64_t pq, int64_t pk, int64_t kd, int64_t hs, float c, int scaled) {
	switch (kd) { // compile-time head sizes: the d loops are whole vectors
	case 8: attention_grad_block_k(q, k, v, dz, p, e, den, dq, dk, dv, vt, g, ds, pq, pk, 8, hs, c, scaled); break;
	case 16: attention_grad_block_k(q, k, v, dz, p, e, den, dq, dk, dv, vt, g, ds, pq, pk, 16, hs, c, scaled); break;
	case 32: attention_grad_block_k(q, k, v, dz, p, e, den, dq, dk, dv, vt, g, ds, pq, pk, 32, hs, c, scaled); break;
	case 64: attention_grad_block_k(q, k, v, dz, p, e, den, dq, dk, dv, vt, g, ds, pq, pk, 64, hs, c, scaled); break;
	default: attention_grad_block_k(q, k, v, dz, p, e, den, dq, dk, dv, vt, g, ds, pq, pk, kd, hs, c, scaled); break;
	}
}

// Binary float32 ops on runs: mode 0: y = a op b (both contiguous); mode 1: y = a op b[0];
// mode 2: y = a[0] op b. op: 0 add, 1 sub, 2 mul, 3 div.
CLONES void interp_vbinary(int op, int mode, const float *a, const float *b, float *y, int64_t n) {
	if (mode == 0) {
		switch (op) {
		case 0: for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i]; break;
		case 1: for (int64_t i = 0; i < n; i++) y[i] = a[i] - b[i]; break;
		case 2: for (int64_t i = 0; i < n; i++) y[i] = a[i] * b[i]; break;
		case 3: for (int64_t i = 0; i < n; i++) y[i] = a[i] / b[i]; break;
		}
	} else if (mode == 1) {
		float v = b[0];
		switch (op) {
		case 0: for (int64_t i = 0; i < n; i++) y[i] = a[i] + v; break;
		case 1: for (int64_t i = 0; i < n; i++) y[i] = a[i] - v; break;
		case 2: for (int64_t i = 0; i < n; i++) y[i] = a[i] * v; break;
		case 3: for (int64_t i = 0; i < n; i++) y[i] = a[i] / v; break;
		}
	} else {
		float v = a[0];
		switch (op) {
		case 0: for (int64_t i = 0; i < n; i++) y[i] = v + b[i]; break;
		case 1: for (int64_t i = 0; i < n; i++) y[i] = v - b[i]; break;
		case 2: for (int64_t i = 0; i < n; i++) y[i] = v * b[i]; break;
		case 3: for (int64_t i = 0; i < n; i++) y[i] = v / b[i]; break;
		}
	}
}
*/
import "C"

import "unsafe"

// exp_poly flushes results below 2^-126 (x < -87.34) to 0 where expF32 computes subnormals.

const haveVMath = true

func vexp(x, y []float32) {
	if len(x) == 0 {
		return
	}
	C.interp_vexp((*C.float)(unsafe.Pointer(&x[0])), (*C.float)(unsafe.Pointer(&y[0])), C.int64_t(len(x)))
}

func vtanh(x, y []float32) {
	if len(x) == 0 {
		return
	}
	C.interp_vtanh((*C.float)(unsafe.Pointer(&x[0])), (*C.float)(unsafe.Pointer(&y[0])), C.int64_t(len(x)))
}

// attentionBlock runs interp_attention_block (see there); kt and s are scratch.
func attentionBlock(q, k, v, mask, z, kt, vt, s []float32, pq, pk, dk, qs, ks, vs int, scale float32, scaled bool) {
	sc := C.int(0)
	if scaled {
		sc = 1
	}
	C.interp_attention_block((*C.float)(unsafe.Pointer(&q[0])), (*C.float)(unsafe.Pointer(&k[0])), (*C.float)(unsafe.Pointer(&v[0])),
		(*C.float)(unsafe.Pointer(&mask[0])), (*C.float)(unsafe.Pointer(&z[0])), (*C.float)(unsafe.Pointer(&kt[0])),
		(*C.float)(unsafe.Pointer(&vt[0])), (*C.float)(unsafe.Pointer(&s[0])), C.int64_t(pq), C.int64_t(pk), C.int64_t(dk), C.int64_t(qs), C.int64_t(ks), C.int64_t(vs),
		C.float(scale), sc)
}

// attentionGradBlock is interp_attention_grad_block (see attentionGradBlockGo).
func attentionGradBlock(q, k, v, dz, p, e, den, dq, dk, dv, vt, g, ds []float32, pq, pk, kd, hs int, c float32, scaled bool) {
	sc := C.int(0)
	if scaled {
		sc = 1
	}
	f := func(x []float32) *C.float { return (*C.float)(unsafe.Pointer(&x[0])) }
	C.interp_attention_grad_block(f(q), f(k), f(v), f(dz), f(p), f(e), f(den), f(dq), f(dk), f(dv), f(vt), f(g), f(ds),
		C.int64_t(pq), C.int64_t(pk), C.int64_t(kd), C.int64_t(hs), C.float(c), sc)
}

// vexpNonPos is vexp for inputs <= 0 (or NaN); tests check it against vexp.
func vexpNonPos(x, y []float32) {
	if len(y) == 0 {
		return
	}
	C.interp_vexp_nonpos((*C.float)(unsafe.Pointer(&x[0])), (*C.float)(unsafe.Pointer(&y[0])), C.int64_t(len(y)))
}

// vexpFMANonPos is exp_fma_nonpos on each element, for inputs <= 0 (or NaN); for tests.
func vexpFMANonPos(x, y []float32) {
	if len(y) == 0 {
		return
	}
	C.interp_vexp_fma_nonpos((*C.float)(unsafe.Pointer(&x[0])), (*C.float)(unsafe.Pointer(&y[0])), C.int64_t(len(y)))
}

// vsoftmaxGradRows is interp_softmax_grad_rows over rows of length n (see softmaxGradRowsGo).
func vsoftmaxGradRows(out, g, e, s []float32, n int, c float32, scaled bool) {
	if len(out) == 0 {
		return
	}
	sc := C.int(0)
	if scaled {
		sc = 1
	}
	C.interp_softmax_grad_rows((*C.float)(unsafe.Pointer(&out[0])), (*C.float)(unsafe.Pointer(&g[0])), (*C.float)(unsafe.Pointer(&e[0])),
		(*C.float)(unsafe.Pointer(&s[0])), C.int64_t(len(out)/n), C.int64_t(n), C.float(c), sc)
}

// vexpSubRowMax is interp_exp_sub_rowmax over rows of length n (see expSubRowMaxGo).
func vexpSubRowMax(x, y []float32, n int, c float32, scaled bool, mask []float32, pq, r0 int) {
	if len(x) == 0 {
		return
	}
	sc := C.int(0)
	if scaled {
		sc = 1
	}
	var mp *C.float
	if mask != nil {
		mp = (*C.float)(unsafe.Pointer(&mask[0]))
	}
	C.interp_exp_sub_rowmax((*C.float)(unsafe.Pointer(&x[0])), (*C.float)(unsafe.Pointer(&y[0])), C.int64_t(len(x)/n), C.int64_t(n),
		C.float(c), sc, mp, C.int64_t(pq), C.int64_t(r0))
}

func vsoftmaxRows(x, y []float32, n int) {
	if len(x) == 0 {
		return
	}
	C.interp_softmax_rows((*C.float)(unsafe.Pointer(&x[0])), (*C.float)(unsafe.Pointer(&y[0])), C.int64_t(len(x)/n), C.int64_t(n))
}

// vbinary applies op (0 add, 1 sub, 2 mul, 3 div) on a run; mode as in interp_vbinary.
func vbinary(op, mode int, a, b, y []float32) {
	if len(y) == 0 {
		return
	}
	C.interp_vbinary(C.int(op), C.int(mode), (*C.float)(unsafe.Pointer(&a[0])), (*C.float)(unsafe.Pointer(&b[0])),
		(*C.float)(unsafe.Pointer(&y[0])), C.int64_t(len(y)))
}
