// Package autodiff patches two problems that block training/backpropagation through GPT-2-sized models
// with GoMLX v0.26.0 on its pure-Go backend ("go", package backends/simplego):
//
//  1. GoMLX's DotGeneral gradient materialises a batch·M·K·N tensor. Register replaces it with an
//     efficient VJP built from two DotGenerals.
//  2. The simplego parallel executor can deadlock once a graph has enough DotGenerals ready at the same
//     time -- which the efficient VJP makes common in backward passes. SafeGoBackendConfig returns a
//     backend configuration that cannot deadlock.
//
// # API
//
//   - Register(): installs DotGeneralVJP as graph.VJPRegistration[graph.NodeTypeDotGeneral]. Idempotent
//     (sync.Once); call it from init() or at the start of main, before building gradients.
//   - DotGeneralVJP: the VJP itself (signature graph.VJP); StockDotGeneralVJP(): GoMLX's original one.
//   - ReadDotGeneralParams(node): the axis parameters of a DotGeneral node.
//   - SafeGoBackendConfig() = "go:parallelism=-1" (fastest safe), LowMemorySafeGoBackendConfig() =
//     "go:ops_sequential" (lowest memory), NewSafeGoBackend(), IsSafeGoBackendConfig(config), and
//     GuardGoBackendConfig(config), which makes a user-given "go..." config safe (e.g. "go" ->
//     "go:parallelism=-1", "go:parallelism=4" -> "go:parallelism=4,ops_sequential").
//
// # The DotGeneral VJP
//
// DotGeneral(lhs, rhs) pairs lhs and rhs axes into batch axes B (lhsBatchAxes[i] with rhsBatchAxes[i])
// and contracting axes C (lhsContractingAxes[i] with rhsContractingAxes[i]); the remaining "cross" axes,
// L of lhs and R of rhs, are kept in increasing axis order. The output is laid out as [B..., L..., R...]:
//
//	out[b, l, r] = Σ_c lhs[b, l, c] · rhs[b, r, c]
//
// Given v = ∂loss/∂out (shaped like out), the gradients are again contractions:
//
//	∂loss/∂lhs[b, l, c] = Σ_r v[b, l, r] · rhs[b, r, c]
//	∂loss/∂rhs[b, r, c] = Σ_l v[b, l, r] · lhs[b, l, c]
//
// so grad_lhs = DotGeneral(v, rhs) contracting v's R axes with rhs's cross axes and batching v's leading
// B axes with rhs's batch axes. Its output is [B..., L..., C'...], where C' are rhs's contracting axes in
// increasing rhs-axis order (each one pairs with an lhs contracting axis); a TransposeAllAxes maps it back
// to lhs's axis order (perm[lhsAxis] = position in the result). grad_rhs is symmetric (contract v's L axes
// with lhs's cross axes). Each gradient can also be computed with the operands swapped --
// DotGeneral(rhs, v), output [B..., C'..., L...] -- and the order that needs no transpose is chosen: for a
// plain matmul [M,K]·[K,N], grad_lhs = v·rhsᵀ and grad_rhs = lhsᵀ·v come out directly in [M,K] and [K,N]
// and the backward pass has no Transpose node at all.
//
// Cost: each gradient is one DotGeneral with the forward's FLOPs (2·|B|·|L|·|R|·|C|) and memory of the
// size of the operand. The stock GoMLX VJP (dotGeneralVJP in pkg/core/graph/ops_helpers.go) instead
// broadcasts v and the other operand to [B, L, R, C], multiplies and ReduceSums: for a GPT-2-small MLP
// matmul [1024,768]·[768,3072] that is a 2.4G-element (9.7 GB in float32) intermediate per gradient.
// Like the stock VJP, no complex conjugation is applied (GoMLX only differentiates real scalar losses).
// All axis layouts are handled: batch axes anywhere and in any order, several contracting axes paired in
// any order, no cross axes (dot products, batch-only/elementwise), no contracting axes (outer products),
// rank-0 operands; any dtype DotGeneral accepts. The gradient shape is checked against the operand.
//
// The axis parameters live in GoMLX's unexported graph.nodeInputsDotGeneral (fields lhs,
// lhsContractingAxes, lhsBatchAxes, rhs, rhsContractingAxes, rhsBatchAxes), behind the unexported field
// graph.Node.inputs. ReadDotGeneralParams reads them with reflect (Len/Index/Int on the slices; the *Node
// fields are only compared by address with node.Inputs()), after validating the field names, order and
// types. If that fails it falls back to parsing node.String() (and warns once on stderr); the result is
// always cross-checked against the node's output shape, and it panics with a clear message if neither
// works. TestInternalLayout fails if a GoMLX upgrade changes the layout or the String() format.
//
// # The simplego deadlock
//
// Pool. simplego's workersPool (backends/simplego/workerspool.go) is a counting semaphore: numRunning
// slots are in use and it is full when numRunning >= 2·maxParallelism + extraParallelism, where
// maxParallelism defaults to runtime.NumCPU() (not GOMAXPROCS; the "parallelism=N" config overrides it).
// WaitToStart(task) blocks in cond.Wait() until the pool is not full, then takes a slot and runs the
// task in a new goroutine; the slot is given back (numRunning--, cond.Signal()) only when the task
// returns. StartIfAvailable is the non-blocking variant. On a 2-core machine the pool has 4 slots.
//
// Outer acquisition. The parallel ops executor (Executable.executeParallel in exec.go -- used with
// "ops_parallel", and by default whenever the execution is the only live one) runs in the caller's
// goroutine and calls workers.WaitToStart(nodeExecFn) for every op that becomes ready: each executing op
// holds one slot for its whole duration.
//
// Inner acquisition. The DotGeneral kernels use the same pool: execDotGeneralLarge (dotgeneral_large.go)
// and execDotGeneralSmall (dotgeneral_small.go) call backend.workers.WaitToStart(batchSplitFn) for each
// chunk of the batch -- at least once, even for batch size 1 -- and then wg.Wait(), while their goroutine
// still holds the slot the executor gave it. (execErfGeneric in exec_unary.go does the same for inputs
// of more than 4096 elements.) That is hold-and-wait on a bounded resource.
//
// Deadlock. When 2·P DotGenerals are ready at the same time, the executor starts all of them, filling the
// pool (numRunning == 2·P) before any reaches its inner WaitToStart -- the large kernel first packs lhs
// and rhs into blocks, so this is the usual interleaving. Each of the 2·P goroutines then waits in
// WaitToStart → cond.Wait() for numRunning to drop, which only happens when a slot holder returns; but
// every slot holder is one of those waiting goroutines, so nobody ever calls cond.Signal(). The executor
// goroutine waits forever on its readyToExecute channel (or in WaitToStart for the next op). The
// pool's escape hatch, WorkerIsAsleep (extraParallelism++), is only used by the contracting-axis split
// inside the large kernel, after the inner acquisition succeeded, and does not signal the cond anyway.
// Go's runtime deadlock detector does not fire because other goroutines (timers, the test harness) are
// alive: the process just hangs at 0% CPU. Goroutine dump of the reproducer (go:parallelism=2):
//
//	4 × [sync.Cond.Wait] workersPool.WaitToStart ← execDotGeneralLarge ← execDotGeneral ←
//	    Executable.executeNode ← executeParallel.func3 ← workersPool.lockedRunTaskInGoroutine.func1
//	1 × [chan receive] Executable.executeParallel ← Executable.Execute ← graph.(*Graph).Run
//
// Why it showed up with the efficient VJP. The stock VJP's backward has no DotGenerals (Mul+ReduceSum),
// so at most the forward's few independent matmuls (e.g. q, k, v: 3 < 4) run at once. The efficient VJP
// turns every forward DotGeneral into two backward DotGenerals that become ready together; e.g. the
// gradients wrt x and wrt Wq, Wk, Wv of the attention projections are ≥ 4 concurrently-ready DotGenerals.
// On a 2-core machine (4 slots) that is enough; on bigger machines 2·NumCPU is larger, which is why it
// was first seen on 2 cores -- "go:parallelism=2" reproduces it on any machine. Measured: 8 independent
// 512×512 matmuls in one graph deadlock within a few runs under "go" or "go:parallelism=2" (3 never do:
// fewer ops than slots); a toy transformer block training step (gradients wrt x and all weights)
// deadlocked on its first run under "go" on the 2-core machine, a GPT-2-small-sized one on its third
// (the interleaving is a race: the more concurrently-ready DotGenerals, the likelier).
//
// Which configurations are safe:
//
//   - "go:ops_sequential": ops run one at a time on the caller's goroutine, which holds no slot. The only
//     blocking acquirers (DotGeneral's / Erf's WaitToStart) therefore never hold a slot, and slot holders
//     (batch chunks, the recursive block splits) only use the non-blocking StartIfAvailable and wait only
//     on goroutines that are already running -- no hold-and-wait cycle exists, whatever the graph or the
//     number of concurrent executions. Intra-op parallelism (both cores for matmuls) is kept.
//   - "go:parallelism=-1": unbounded pool; WaitToStart never blocks (go task()). Safe, but every ready op
//     runs concurrently (higher peak memory) and goroutines are unbounded.
//   - "go:parallelism=0": no pool at all, everything inline on one core. Safe, ~2× slower on 2 cores.
//   - the default / "ops_parallel" with any finite parallelism P > 0: can deadlock whenever 2·P or more
//     DotGenerals (or large Erfs) are ready at the same time. Not safe.
//
// Recommendation: SafeGoBackendConfig() = "go:parallelism=-1", the fastest deadlock-free configuration
// measured; LowMemorySafeGoBackendConfig() = "go:ops_sequential" when peak memory, a clean stdout or
// `go test -race` matter more than 5-10% (simplego's parallel ops executor, used by the default and by
// parallelism=-1, has data races of its own -- an unsynchronised read of numUsed/owned in executeNode
// that decides in-place buffer reuse -- which -race reports; ops_sequential never runs two ops at once). Measured on the 2-core AMD EPYC development machine (shared with other jobs:
// each number is the minimum over repeated runs, each configuration in its own process, rounds
// interleaved; peak RSS of that process), with the efficient VJP registered:
//
//	workload (float32)                          go (default)  ops_sequential  parallelism=-1  -1,ops_seq  parallelism=0
//	matmul [1024,768]x[768,3072] fwd+bwd         1424 ms       1453 ms         1354 ms         1417 ms     2723 ms
//	   peak RSS                                   124 MiB        88 MiB         127-139 MiB      92 MiB     102 MiB
//	GPT-2 MLP x[1024,768]·W1→tanh→·W2 fwd+bwd    3173 ms       2893 ms         2873 ms         2915 ms     5621 ms
//	   peak RSS                                   160 MiB       113 MiB         152 MiB         118 MiB     128 MiB
//	GPT-2-small block train step (8x128 tokens,  deadlock      4785 ms         4503 ms         4708 ms     -
//	   d=768, 12 heads, MLP 3072), peak RSS                     247-256 MiB     321-356 MiB     236-291 MiB
//	toy block train step (4x128, d=256)          deadlock       333 ms          301 ms          324 ms     573 ms
//
// On matmul-dominated graphs the safe configurations are within noise of each other and of the default
// (~10 GFLOP/s: DotGeneral already uses both cores inside each op); parallelism=-1 is 5-10% faster on
// transformer blocks because simplego's many single-threaded ops (elementwise, softmax, reductions) then
// overlap with each other and with matmuls, at the price of ~30% more peak memory (concurrent temporaries)
// and unbounded goroutines. parallelism=0 is ~2x slower. Note that simplego prints
// "SimpleGo backend: parallelism set to N" on stdout whenever a "parallelism=" option is given.
//
// Reproduce: INTERP_REPRO_DEADLOCK=1 go test ./autodiff/ -run TestReproDeadlock -v (passes when the
// deadlock is reproduced and logs the stuck goroutines); regression tests: TestSafeConfigNoDeadlock and
// TestSafeConfigToyTransformerStep (60 s timeout each); benchmarks: go test ./autodiff/ -run XXX -bench .
package autodiff
