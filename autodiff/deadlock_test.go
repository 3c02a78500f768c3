package autodiff

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// benchConfigs are the candidate backend configurations compared by the benchmarks. Only "go" (the
// default) can deadlock: the benchmarks only run it on graphs with at most 3 DotGenerals ready at once,
// which is safe with a pool of 2*NumCPU >= 4 slots, so it is left out on single-CPU machines.
func benchConfigs() []string {
	configs := []string{
		"go:ops_sequential",                // Ops one at a time on the caller's goroutine; intra-op parallelism.
		"go:parallelism=-1",                // Unbounded pool: WaitToStart never blocks.
		"go:parallelism=-1,ops_sequential", // Both.
		"go:parallelism=0",                 // No parallelism at all.
	}
	if runtime.NumCPU() >= 2 {
		// Default: parallel executor, pool of 2*NumCPU slots. UNSAFE in general.
		configs = append([]string{"go"}, configs...)
	}
	return configs
}

// safeBenchConfigs are the deadlock-free candidates, for graphs that deadlock the default config.
func safeBenchConfigs() []string {
	var configs []string
	for _, c := range benchConfigs() {
		if IsSafeGoBackendConfig(c) {
			configs = append(configs, c)
		}
	}
	return configs
}

// independentMatmuls builds a graph with n independent [dim,dim]x[dim,dim] DotGenerals (all ready at
// the same time, like the gradient matmuls of a backward pass) and returns a function that runs it once.
func independentMatmuls(tb testing.TB, backend backends.Backend, n, dim int) (run func(), finalize func()) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(9, 9))
	g := graph.NewGraph(backend, "independent_matmuls")
	inputs := make([]any, 2*n)
	outs := make([]*graph.Node, n)
	for i := range n {
		a := randomTensor[float32](rng, []int{dim, dim})
		b := randomTensor[float32](rng, []int{dim, dim})
		inputs[2*i], inputs[2*i+1] = a, b
		pa := graph.Parameter(g, fmt.Sprintf("a%d", i), a.Shape())
		pb := graph.Parameter(g, fmt.Sprintf("b%d", i), b.Shape())
		outs[i] = graph.ReduceAllSum(graph.DotGeneral(pa, []int{1}, nil, pb, []int{0}, nil))
	}
	g.Compile(outs...)
	run = func() {
		for _, t := range g.Run(inputs...) {
			t.FinalizeAll()
		}
	}
	return run, g.Finalize
}

// runWithTimeout runs fn in a goroutine and reports whether it finished within timeout. If it did not,
// the goroutine is leaked (a deadlocked executor can't be cancelled) and a stack dump of the simplego
// goroutines is returned.
func runWithTimeout(fn func(), timeout time.Duration) (finished bool, stacks string) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
		return true, ""
	case <-time.After(timeout):
		buf := make([]byte, 4<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var parts []string
		for _, gr := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(gr, "simplego") {
				parts = append(parts, gr)
			}
		}
		return false, strings.Join(parts, "\n\n")
	}
}

// skipParallelExecutorUnderRace skips configurations that use simplego's parallel ops executor when the
// test binary is built with -race (see race_on_test.go).
func skipParallelExecutorUnderRace(t *testing.T, config string) {
	if raceEnabled && !strings.Contains(config, "ops_sequential") {
		t.Skipf("%q uses simplego's parallel ops executor, which has its own data races: skipped under -race", config)
	}
}

// Reproducer parameters: 8 independent 512x512 matmuls. 512x512 takes the "large" DotGeneral path, whose
// operand packing takes long enough that the executor fills every pool slot with DotGeneral nodes before
// any of them reaches its nested WaitToStart -- the deadlock is then (almost) deterministic with a pool of
// 2*2 = 4 slots.
const (
	reproNumMatmuls = 8
	reproDim        = 512
)

// TestSafeConfigNoDeadlock is the regression test: the reproducer must complete under the recommended
// configuration, and under the low-memory alternative with its pool forced to parallelism=2 (4 slots, as
// on a 2-core machine, whatever the machine running the test).
func TestSafeConfigNoDeadlock(t *testing.T) {
	configs := []string{SafeGoBackendConfig(), LowMemorySafeGoBackendConfig() + ",parallelism=2"}
	for _, config := range configs {
		t.Run(config, func(t *testing.T) {
			skipParallelExecutorUnderRace(t, config)
			backend := newBackend(t, config)
			run, finalize := independentMatmuls(t, backend, reproNumMatmuls, reproDim)
			finished, stacks := runWithTimeout(func() {
				for range 5 {
					run()
				}
			}, 60*time.Second)
			if !finished {
				t.Fatalf("backend %q deadlocked (did not finish in 60s); simplego goroutines:\n%s", config, stacks)
			}
			finalize()
		})
	}
}

// TestSafeConfigToyTransformerStep runs a toy transformer training step (forward + backward with the
// efficient VJP, several DotGenerals ready at once in the backward pass) under the recommended config.
func TestSafeConfigToyTransformerStep(t *testing.T) {
	Register()
	for _, config := range []string{SafeGoBackendConfig(), LowMemorySafeGoBackendConfig() + ",parallelism=2"} {
		t.Run(config, func(t *testing.T) {
			skipParallelExecutorUnderRace(t, config)
			backend := newBackend(t, config)
			run, finalize := toyTransformerStep(t, backend, toySmall)
			finished, stacks := runWithTimeout(func() {
				for range 3 {
					run()
				}
			}, 60*time.Second)
			if !finished {
				t.Fatalf("backend %q deadlocked; simplego goroutines:\n%s", config, stacks)
			}
			finalize()
		})
	}
}

// TestReproDeadlockDefaultConfig demonstrates the deadlock of the default configuration (parallel ops
// executor); it leaks the deadlocked goroutines, so it only runs with INTERP_REPRO_DEADLOCK=1:
//
//	INTERP_REPRO_DEADLOCK=1 go test ./autodiff/ -run TestReproDeadlock -v
//
// It passes when the deadlock is reproduced (and logs the stacks of the stuck goroutines) and fails if the
// reproducer completes every attempt. "go:parallelism=2" gives the 4-slot pool of a 2-core machine on any
// machine; "go" is the plain default (on a 2-core machine it is the same pool).
func TestReproDeadlockDefaultConfig(t *testing.T) {
	if os.Getenv("INTERP_REPRO_DEADLOCK") != "1" {
		t.Skip("set INTERP_REPRO_DEADLOCK=1 to reproduce the simplego deadlock (leaks stuck goroutines)")
	}
	configs := []string{"go:parallelism=2", "go:ops_parallel,parallelism=2"}
	if runtime.NumCPU() <= 2 {
		configs = append(configs, "go")
	}
	for _, config := range configs {
		t.Run(config, func(t *testing.T) {
			backend := newBackend(t, config)
			run, _ := independentMatmuls(t, backend, reproNumMatmuls, reproDim)
			for attempt := range 10 {
				finished, stacks := runWithTimeout(run, 10*time.Second)
				if !finished {
					t.Logf("attempt %d: DEADLOCK reproduced with backend %q (no progress in 10s). Stuck simplego goroutines:\n%s",
						attempt, config, stacks)
					return
				}
			}
			t.Fatalf("backend %q: reproducer completed 10 times, deadlock not reproduced", config)
		})
	}
}

// toyConfig sizes the toy transformer block.
type toyConfig struct{ batch, seq, dModel, heads, dMLP int }

var (
	toySmall = toyConfig{batch: 2, seq: 32, dModel: 64, heads: 4, dMLP: 256}
	toyBench = toyConfig{batch: 4, seq: 128, dModel: 256, heads: 4, dMLP: 1024}
)

// toyTransformerStep builds one pre-norm-free transformer block (multi-head attention + tanh MLP) with a
// squared loss, and the gradients wrt all weights: the backward pass has many DotGenerals ready at the
// same time (the gradients of the q, k, v projections, of both operands of each matmul, ...).
func toyTransformerStep(tb testing.TB, backend backends.Backend, c toyConfig) (run func(), finalize func()) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(4, 2))
	dHead := c.dModel / c.heads
	dims := map[string][]int{
		"x":  {c.batch * c.seq, c.dModel},
		"wq": {c.dModel, c.dModel}, "wk": {c.dModel, c.dModel}, "wv": {c.dModel, c.dModel}, "wo": {c.dModel, c.dModel},
		"w1": {c.dModel, c.dMLP}, "w2": {c.dMLP, c.dModel},
	}
	names := []string{"x", "wq", "wk", "wv", "wo", "w1", "w2"}
	g := graph.NewGraph(backend, "toy_transformer_step")
	p := map[string]*graph.Node{}
	inputs := make([]any, len(names))
	for i, name := range names {
		v := randomTensor[float32](rng, dims[name])
		inputs[i] = v
		p[name] = graph.Parameter(g, name, shapes.Make(dtypes.Float32, dims[name]...))
	}
	scale := graph.Scalar(g, dtypes.Float32, 0.1)
	mm := func(a, b *graph.Node) *graph.Node { return graph.DotGeneral(a, []int{1}, nil, b, []int{0}, nil) }
	heads := func(x *graph.Node) *graph.Node { return graph.Reshape(x, c.batch, c.seq, c.heads, dHead) } // [b,t,h,d]
	x := p["x"]
	q, k, v := heads(mm(x, p["wq"])), heads(mm(x, p["wk"])), heads(mm(x, p["wv"]))
	scores := graph.DotGeneral(q, []int{3}, []int{0, 2}, k, []int{3}, []int{0, 2}) // [b,h,tq,tk]
	probs := graph.Softmax(graph.Mul(scores, scale), -1)
	attn := graph.DotGeneral(probs, []int{3}, []int{0, 1}, v, []int{1}, []int{0, 2}) // [b,h,tq,d]
	attn = graph.Reshape(graph.TransposeAllAxes(attn, 0, 2, 1, 3), c.batch*c.seq, c.dModel)
	x2 := graph.Add(x, mm(attn, p["wo"]))
	y := graph.Add(x2, mm(graph.Tanh(mm(x2, p["w1"])), p["w2"]))
	loss := graph.ReduceAllMean(graph.Square(y))
	wrt := []*graph.Node{x, p["wq"], p["wk"], p["wv"], p["wo"], p["w1"], p["w2"]}
	outs := append([]*graph.Node{loss}, graph.Gradient(loss, wrt...)...)
	g.Compile(outs...)
	run = func() {
		for _, t := range g.Run(inputs...) {
			t.FinalizeAll()
		}
	}
	return run, g.Finalize
}

// BenchmarkToyTransformerStep compares the deadlock-free configurations on a toy transformer training
// step (the default config is not run here: this graph deadlocks it).
//
//	go test ./autodiff/ -run XXX -bench ToyTransformerStep -benchtime 10x
func BenchmarkToyTransformerStep(b *testing.B) {
	Register()
	for _, config := range safeBenchConfigs() {
		// Created outside b.Run: simplego prints "parallelism set to" on stdout, garbling the result line.
		backend := newBackend(b, config)
		b.Run(config, func(b *testing.B) {
			run, finalize := toyTransformerStep(b, backend, toyBench)
			defer finalize()
			run() // Warm-up.
			b.ResetTimer()
			for range b.N {
				run()
			}
		})
	}
}

// BenchmarkGPT2BlockStep: a GPT-2-small-sized transformer block training step (8x128 tokens, d=768, 12
// heads, MLP 3072; ~5 s per step on 2 cores) under the deadlock-free configurations.
//
//	go test ./autodiff/ -run XXX -bench GPT2BlockStep -benchtime 3x
func BenchmarkGPT2BlockStep(b *testing.B) {
	Register()
	for _, config := range safeBenchConfigs() {
		if config == "go:parallelism=0" {
			continue // ~10 s per step, and known to be ~2x slower.
		}
		// Created outside b.Run: simplego prints "parallelism set to" on stdout, garbling the result line.
		backend := newBackend(b, config)
		b.Run(config, func(b *testing.B) {
			run, finalize := toyTransformerStep(b, backend, toyConfig{batch: 8, seq: 128, dModel: 768, heads: 12, dMLP: 3072})
			defer finalize()
			run() // Warm-up.
			b.ResetTimer()
			for range b.N {
				run()
			}
		})
	}
}

// BenchmarkIndependentMatmuls compares the configurations on 3 independent 512x512 matmuls (3 < 4 pool
// slots, so the default config does not deadlock and can be measured).
//
//	go test ./autodiff/ -run XXX -bench IndependentMatmuls -benchtime 20x
func BenchmarkIndependentMatmuls(b *testing.B) {
	for _, config := range benchConfigs() {
		// Created outside b.Run: simplego prints "parallelism set to" on stdout, garbling the result line.
		backend := newBackend(b, config)
		b.Run(config, func(b *testing.B) {
			run, finalize := independentMatmuls(b, backend, 3, reproDim)
			defer finalize()
			run()
			b.ResetTimer()
			for range b.N {
				run()
			}
		})
	}
}

func TestIsSafeGoBackendConfig(t *testing.T) {
	for config, want := range map[string]bool{
		SafeGoBackendConfig():                true,
		LowMemorySafeGoBackendConfig():       true,
		"go":                                 false,
		"go:":                                false,
		"go:parallelism=2":                   false,
		"go:ops_parallel":                    false,
		"go:ops_sequential,ops_parallel":     false,
		"go:ops_parallel,ops_sequential":     true,
		"go:parallelism=-1":                  true,
		"go:parallelism=0":                   true,
		"go:parallelism=-1,parallelism=4":    false,
		"go:ops_sequential,parallelism=8":    true,
		"go:dotgeneral_large,ops_sequential": true,
		"xla:cpu":                            true,
		"":                                   false,
	} {
		if got := IsSafeGoBackendConfig(config); got != want {
			t.Errorf("IsSafeGoBackendConfig(%q) = %v, want %v", config, got, want)
		}
	}
	if _, err := NewSafeGoBackend(); err != nil {
		t.Fatal(err)
	}
}

func TestGuardGoBackendConfig(t *testing.T) {
	for config, want := range map[string]string{
		"":                              "",
		"go":                            "go:parallelism=-1",
		"go:":                           "go:parallelism=-1",
		"go:dotgeneral_large":           "go:dotgeneral_large,parallelism=-1",
		"go:parallelism=4":              "go:parallelism=4,ops_sequential",
		"go:ops_sequential":             "go:ops_sequential",
		"go:parallelism=-1":             "go:parallelism=-1",
		"go:ops_parallel":               "go:ops_parallel",
		"go:ops_parallel,parallelism=2": "go:ops_parallel,parallelism=2",
		"xla:cpu":                       "xla:cpu",
	} {
		got := GuardGoBackendConfig(config)
		if got != want {
			t.Errorf("GuardGoBackendConfig(%q) = %q, want %q", config, got, want)
		}
		if want != config && !IsSafeGoBackendConfig(got) {
			t.Errorf("GuardGoBackendConfig(%q) = %q is not safe", config, got)
		}
		if strings.HasPrefix(got, "go") {
			if _, err := backends.NewWithConfig(got); err != nil {
				t.Errorf("GuardGoBackendConfig(%q) = %q: invalid config: %v", config, got, err)
			}
		}
	}
}
