package fastcpu

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Benchmarks report GFLOP/s (2·batch·m·n·k per op). Shapes are written
// batch×(m×k×n). Paths:
//
//	default      Gemm as is: OpenBLAS if loaded with the automatic threading
//	             policy (see gemm.go), Go kernel for tiny problems
//	openblas     OpenBLAS single-threaded, tasks on GOMAXPROCS goroutines
//	openblas-mt  one OpenBLAS call per problem, threaded by OpenBLAS itself
//	go           the Go kernel (SIMD one when built with GOEXPERIMENT=simd)
//
// TestGemmPerfTable (gemm_perf_test.go) prints the same as a table.
//
// Run e.g.: go test -run XXX -bench Gemm -benchtime 2s ./fastcpu

type gemmBenchShape struct {
	name           string
	batch, m, k, n int
	transA, transB bool
	broadcastB     bool
}

var gemmBenchShapes = []gemmBenchShape{
	{name: "1024x768x768", batch: 1, m: 1024, k: 768, n: 768},
	{name: "1024x768x3072", batch: 1, m: 1024, k: 768, n: 3072},
	{name: "1024x3072x768", batch: 1, m: 1024, k: 3072, n: 768},
	{name: "1024x768x50257", batch: 1, m: 1024, k: 768, n: 50257},
	{name: "1024x768x50257_tB", batch: 1, m: 1024, k: 768, n: 50257, transB: true}, // tied embedding: B = Wteᵀ
	{name: "96x(128x64x128)_tB", batch: 96, m: 128, k: 64, n: 128, transB: true},   // Q·Kᵀ
	{name: "96x(128x128x64)", batch: 96, m: 128, k: 128, n: 64},                    // P·V
	{name: "256x(64x8x64)", batch: 256, m: 64, k: 8, n: 64},
	{name: "256x(64x8x64)_tB", batch: 256, m: 64, k: 8, n: 64, transB: true},
	{name: "256x(64x64x8)", batch: 256, m: 64, k: 64, n: 8},
	{name: "32x(128x768x768)_bcastB", batch: 32, m: 128, k: 768, n: 768, broadcastB: true},
	{name: "1x1x1", batch: 1, m: 1, k: 1, n: 1},
	{name: "8x8x8", batch: 1, m: 8, k: 8, n: 8},
	{name: "16x16x16", batch: 1, m: 16, k: 16, n: 16},
	{name: "32x32x32", batch: 1, m: 32, k: 32, n: 32},
	{name: "64x64x64", batch: 1, m: 64, k: 64, n: 64},
	{name: "1x768x3072", batch: 1, m: 1, k: 768, n: 3072},
}

func BenchmarkGemm(b *testing.B) {
	for _, s := range gemmBenchShapes {
		rng := rand.New(rand.NewPCG(1, 2))
		bStride := s.k * s.n
		if s.broadcastB {
			bStride = 0
		}
		a := gemmRandSlice[float32](rng, s.batch*s.m*s.k)
		bm := gemmRandSlice[float32](rng, (s.batch-1)*bStride+s.k*s.n)
		c := make([]float32, s.batch*s.m*s.n)
		flops := 2 * float64(s.batch) * float64(s.m) * float64(s.n) * float64(s.k)
		run := func(b *testing.B) {
			Gemm(s.batch, s.m, s.n, s.k, a, s.m*s.k, s.transA, bm, bStride, s.transB, c) // warm-up
			b.ResetTimer()
			for b.Loop() {
				Gemm(s.batch, s.m, s.n, s.k, a, s.m*s.k, s.transA, bm, bStride, s.transB, c)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		}
		b.Run(s.name, func(b *testing.B) {
			b.Run("default", run)
			if gemmBLAS() != nil {
				for _, p := range []struct {
					name string
					mode blasThreading
				}{{"openblas", blasGoThreads}, {"openblas-mt", blasOpenBLASThreads}} {
					b.Run(p.name, func(b *testing.B) {
						blasThreadsMode, forceBLASSmall = p.mode, true
						defer func() { blasThreadsMode, forceBLASSmall = blasAutoThreads, false }()
						run(b)
					})
				}
			}
			b.Run("go"+gemmGoKernelSuffix(), func(b *testing.B) {
				forceGoGemm = true
				defer func() { forceGoGemm = false }()
				run(b)
			})
		})
	}
}

func BenchmarkGemmF64(b *testing.B) {
	for _, s := range []gemmBenchShape{
		{name: "1024x768x768", batch: 1, m: 1024, k: 768, n: 768},
		{name: "96x(128x64x128)_tB", batch: 96, m: 128, k: 64, n: 128, transB: true},
	} {
		rng := rand.New(rand.NewPCG(1, 2))
		a := gemmRandSlice[float64](rng, s.batch*s.m*s.k)
		bm := gemmRandSlice[float64](rng, s.batch*s.k*s.n)
		c := make([]float64, s.batch*s.m*s.n)
		flops := 2 * float64(s.batch) * float64(s.m) * float64(s.n) * float64(s.k)
		run := func(b *testing.B) {
			for b.Loop() {
				Gemm(s.batch, s.m, s.n, s.k, a, s.m*s.k, s.transA, bm, s.k*s.n, s.transB, c)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		}
		b.Run(s.name, func(b *testing.B) {
			if gemmBLAS() != nil {
				b.Run("openblas", run)
			}
			b.Run("go", func(b *testing.B) {
				forceGoGemm = true
				defer func() { forceGoGemm = false }()
				run(b)
			})
		})
	}
}

// BenchmarkBLASCallOverhead measures the fixed cost of one purego sgemm_ call.
func BenchmarkBLASCallOverhead(b *testing.B) {
	lib := gemmBLAS()
	if lib == nil {
		b.Skip("no OpenBLAS")
	}
	for _, size := range []int{1, 4, 8} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			x := make([]float32, size*size)
			y := make([]float32, size*size)
			z := make([]float32, size*size)
			for b.Loop() {
				blasGemmBatch(lib, 1, size, size, size, x, 0, false, y, 0, false, z)
			}
		})
	}
}
