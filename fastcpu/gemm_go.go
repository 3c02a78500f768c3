package fastcpu

// Pure-Go GEMM: GotoBLAS-style cache blocking with packed A and B panels and a
// register-tiled micro-kernel. The driver is generic; micro-kernels are
// per-type (scalar ones here, SIMD ones in gemm_simd_amd64.go when built with
// GOEXPERIMENT=simd).
//
// Loop structure for one problem (or one stripe of C handled by one goroutine):
//
//	for jc over n in steps of nc:          // B block kc×nc lives in L2/L3
//	  for pc over k in steps of kc:
//	    pack B[pc:pc+kc, jc:jc+nc] into nr-wide column panels
//	    for ic over m in steps of mc:      // A block mc×kc lives in L2
//	      pack A[ic:ic+mc, pc:pc+kc] into mr-tall row panels
//	      for each nr-wide panel jr, mr-tall panel ir:
//	        micro-kernel: C[ir:ir+mr, jr:jr+nr] (=|+=) Apanel · Bpanel
//
// Parallelism (gemmParallel): problems of a batch, or row/column stripes of C
// when the batch is small, are spread over goroutines; each goroutine packs its
// own panels.

import (
	"runtime"
	"sync"
)

type gemmFloat interface{ float32 | float64 }

// gemmMicroKernel computes the mr×nr tile C = Ap·Bp (accumulate=false) or
// C += Ap·Bp (accumulate=true), where Ap is kc×mr (mr values per k step) and
// Bp is kc×nr, and C has row stride ldc.
type gemmMicroKernel[T gemmFloat] func(kc int, ap, bp []T, c []T, ldc int, accumulate bool)

// gemmKernel describes a micro-kernel and its blocking parameters.
type gemmKernel[T gemmFloat] struct {
	name       string
	mr, nr     int
	kc, mc, nc int // mc multiple of mr, nc multiple of nr.
	kern       gemmMicroKernel[T]
}

// gemmProblem is one (sub)problem: C (m×n, row stride ldc) = op(A)·op(B).
// A(i,p) = a[i*ars + p*acs], B(p,j) = b[p*brs + j*bcs].
type gemmProblem[T gemmFloat] struct {
	m, n, k  int
	a        []T
	ars, acs int
	b        []T
	brs, bcs int
	c        []T
	ldc      int
}

// gemmBuffers holds one goroutine's packing buffers.
type gemmBuffers[T gemmFloat] struct {
	ap, bp []T
	tile   []T
}

// gemmBufCache keeps packing buffers between calls. Not a sync.Pool: the pool
// is emptied at every GC, and freshly allocated buffers are expensive (first
// touch page faults, very slow in a VM: measured 1.5-2x slower GEMMs).
// At most GOMAXPROCS buffers (a few MiB each) are kept per element type.
type gemmBufCache[T gemmFloat] struct {
	mu   sync.Mutex
	free []*gemmBuffers[T]
}

var (
	gemmBufCache32 gemmBufCache[float32]
	gemmBufCache64 gemmBufCache[float64]
)

func gemmBufCacheFor[T gemmFloat]() *gemmBufCache[T] {
	var zero T
	if _, ok := any(zero).(float32); ok {
		return any(&gemmBufCache32).(*gemmBufCache[T])
	}
	return any(&gemmBufCache64).(*gemmBufCache[T])
}

// gemmGetBuffers returns packing buffers large enough for an m×n×k problem.
func gemmGetBuffers[T gemmFloat](kr *gemmKernel[T], m, n, k int) *gemmBuffers[T] {
	cache := gemmBufCacheFor[T]()
	var bufs *gemmBuffers[T]
	cache.mu.Lock()
	if l := len(cache.free); l > 0 {
		bufs = cache.free[l-1]
		cache.free = cache.free[:l-1]
	}
	cache.mu.Unlock()
	if bufs == nil {
		bufs = &gemmBuffers[T]{}
	}
	kc := min(k, kr.kc)
	mc := min(gemmRoundUp(m, kr.mr), kr.mc)
	nc := min(gemmRoundUp(n, kr.nr), kr.nc)
	if cap(bufs.ap) < mc*kc {
		bufs.ap = make([]T, mc*kc)
	}
	if cap(bufs.bp) < nc*kc {
		bufs.bp = make([]T, nc*kc)
	}
	if cap(bufs.tile) < kr.mr*kr.nr {
		bufs.tile = make([]T, kr.mr*kr.nr)
	}
	return bufs
}

// gemmPutBuffers returns buffers to the cache.
func gemmPutBuffers[T gemmFloat](bufs *gemmBuffers[T]) {
	cache := gemmBufCacheFor[T]()
	cache.mu.Lock()
	if len(cache.free) < runtime.GOMAXPROCS(0) {
		cache.free = append(cache.free, bufs)
	}
	cache.mu.Unlock()
}

func gemmRoundUp(x, m int) int { return (x + m - 1) / m * m }

// gemmGo is the pure-Go batched GEMM (see Gemm for the arguments).
func gemmGo[T gemmFloat](batch, m, n, k int, a []T, aStride int, transA bool, b []T, bStride int, transB bool, c []T) {
	kr := gemmGoKernel[T](n)
	base := gemmProblem[T]{m: m, n: n, k: k, ldc: n}
	if transA {
		base.ars, base.acs = 1, m
	} else {
		base.ars, base.acs = k, 1
	}
	if transB {
		base.brs, base.bcs = 1, k
	} else {
		base.brs, base.bcs = n, 1
	}
	if m*n*k <= gemmDirectMaxMNK {
		// Tiny problems: no packing, no goroutines.
		for i := range batch {
			p := base
			p.a, p.b, p.c = a[i*aStride:], b[i*bStride:], c[i*m*n:]
			gemmDirect(p)
		}
		return
	}
	// Per-worker packing buffers, allocated on first use.
	plan := newGemmPlan(batch, m, n, k, kr.mr, kr.nr, runtime.GOMAXPROCS(0))
	bufs := make([]*gemmBuffers[T], plan.nw)
	gemmParallel(plan, batch, m, n, func(w int, t gemmTask) {
		p := base
		p.a = a[t.b*aStride+t.i0*p.ars:]
		p.b = b[t.b*bStride+t.j0*p.bcs:]
		p.c = c[t.b*m*n+t.i0*n+t.j0:]
		p.m, p.n = t.i1-t.i0, t.j1-t.j0
		if bufs[w] == nil {
			bufs[w] = gemmGetBuffers(kr, m, n, k)
		}
		gemmBlocked(kr, bufs[w], p)
	})
	for _, buf := range bufs {
		if buf != nil {
			gemmPutBuffers(buf)
		}
	}
}

// gemmBlocked computes one problem single-threaded.
func gemmBlocked[T gemmFloat](kr *gemmKernel[T], bufs *gemmBuffers[T], p gemmProblem[T]) {
	mr, nr := kr.mr, kr.nr
	for jc := 0; jc < p.n; jc += kr.nc {
		nc := min(kr.nc, p.n-jc)
		for pc := 0; pc < p.k; pc += kr.kc {
			kc := min(kr.kc, p.k-pc)
			bp := bufs.bp[:gemmRoundUp(nc, nr)*kc]
			gemmPackB(bp, p, pc, kc, jc, nc, nr)
			accumulate := pc > 0
			for ic := 0; ic < p.m; ic += kr.mc {
				mc := min(kr.mc, p.m-ic)
				ap := bufs.ap[:gemmRoundUp(mc, mr)*kc]
				gemmPackA(ap, p, ic, mc, pc, kc, mr)
				for jr := 0; jr < nc; jr += nr {
					bPanel := bp[jr*kc : (jr+nr)*kc]
					nn := min(nr, nc-jr)
					for ir := 0; ir < mc; ir += mr {
						aPanel := ap[ir*kc : (ir+mr)*kc]
						mm := min(mr, mc-ir)
						cOff := (ic+ir)*p.ldc + jc + jr
						if mm == mr && nn == nr {
							kr.kern(kc, aPanel, bPanel, p.c[cOff:], p.ldc, accumulate)
							continue
						}
						// Edge tile: compute into a scratch tile, copy the valid part.
						tile := bufs.tile[:mr*nr]
						kr.kern(kc, aPanel, bPanel, tile, nr, false)
						for r := range mm {
							dst := p.c[cOff+r*p.ldc : cOff+r*p.ldc+nn]
							src := tile[r*nr : r*nr+nn]
							if accumulate {
								for j := range dst {
									dst[j] += src[j]
								}
							} else {
								copy(dst, src)
							}
						}
					}
				}
			}
		}
	}
}

// gemmPackA packs A[ic:ic+mc, pc:pc+kc] into panels of mr rows: panel q holds, for
// each p in [0,kc), the mr values A[ic+q*mr+r, pc+p] (zero-padded past mc).
func gemmPackA[T gemmFloat](dst []T, p gemmProblem[T], ic, mc, pc, kc, mr int) {
	for ir := 0; ir < mc; ir += mr {
		panel := dst[ir*kc : (ir+mr)*kc]
		rows := min(mr, mc-ir)
		if p.acs == 1 {
			// A row-major (not transposed): rows are contiguous in k.
			for r := range rows {
				src := p.a[(ic+ir+r)*p.ars+pc:]
				src = src[:kc]
				for q, v := range src {
					panel[q*mr+r] = v
				}
			}
		} else {
			// A transposed: for fixed p, consecutive rows i are contiguous.
			for q := range kc {
				src := p.a[(pc+q)*p.acs+(ic+ir):]
				src = src[:rows]
				copy(panel[q*mr:q*mr+rows], src)
			}
		}
		if rows < mr {
			for q := range kc {
				clear(panel[q*mr+rows : q*mr+mr])
			}
		}
	}
}

// gemmPackB packs B[pc:pc+kc, jc:jc+nc] into panels of nr columns: panel q holds,
// for each p in [0,kc), the nr values B[pc+p, jc+q*nr+j] (zero-padded past nc).
func gemmPackB[T gemmFloat](dst []T, p gemmProblem[T], pc, kc, jc, nc, nr int) {
	for jr := 0; jr < nc; jr += nr {
		panel := dst[jr*kc : (jr+nr)*kc]
		cols := min(nr, nc-jr)
		if p.bcs == 1 {
			// B row-major (not transposed): for fixed p, columns are contiguous.
			for q := range kc {
				src := p.b[(pc+q)*p.brs+jc+jr:]
				src = src[:cols]
				copy(panel[q*nr:q*nr+cols], src)
			}
		} else {
			// B transposed (stored n×k): column j is contiguous in p.
			for j := range cols {
				src := p.b[(jc+jr+j)*p.bcs+pc:]
				src = src[:kc]
				for q, v := range src {
					panel[q*nr+j] = v
				}
			}
		}
		if cols < nr {
			for q := range kc {
				clear(panel[q*nr+cols : q*nr+nr])
			}
		}
	}
}

// Problems with m·n·k up to this size are computed by gemmDirect.
const gemmDirectMaxMNK = 384

// gemmDirect computes a tiny problem without packing, four columns of C at a
// time with the sums in registers.
func gemmDirect[T gemmFloat](p gemmProblem[T]) {
	for i := range p.m {
		ci := p.c[i*p.ldc : i*p.ldc+p.n]
		ai := p.a[i*p.ars:]
		j := 0
		for ; j+4 <= p.n; j += 4 {
			var s0, s1, s2, s3 T
			bj := p.b[j*p.bcs:]
			for q := range p.k {
				x := ai[q*p.acs]
				o := q * p.brs
				s0 += x * bj[o]
				s1 += x * bj[o+p.bcs]
				s2 += x * bj[o+2*p.bcs]
				s3 += x * bj[o+3*p.bcs]
			}
			ci[j], ci[j+1], ci[j+2], ci[j+3] = s0, s1, s2, s3
		}
		for ; j < p.n; j++ {
			var s0 T
			bj := p.b[j*p.bcs:]
			for q := range p.k {
				s0 += ai[q*p.acs] * bj[q*p.brs]
			}
			ci[j] = s0
		}
	}
}
