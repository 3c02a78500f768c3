package model

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/autodiff"
	"github.com/interp-dev/interp/fastcpu"
	"github.com/interp-dev/interp/hooks"
)

// Model is a loaded transformer bound to a backend. It holds weights and compiled graphs but
// no hook state: hooks come with each Run. Safe for use by one goroutine at a time.
type Model struct {
	Config  Config
	Weights *Weights
	Backend backends.Backend
	// BackendName is the backend that runs this model, as printed in every output ("go", "xla:cuda").
	BackendName string

	mu       sync.Mutex
	runners  map[string]*compiled
	decoders map[string]*decoder // generation passes (generate.go)
	fallback *Model              // the same weights on the pure-Go backend, for graphs fastcpu cannot run
}

// New binds checked weights to a backend (see NewBackend).
func New(w *Weights, backend backends.Backend, backendName string) (*Model, error) {
	if w == nil {
		return nil, errors.New("model: New: nil weights (did the load fail?)")
	}
	if backend == nil {
		return nil, errors.New("model: New: nil backend (see NewBackend)")
	}
	if err := w.Check(); err != nil {
		return nil, err
	}
	autodiff.Register()
	autodiff.RegisterSlice()
	if err := bindWeights(w, backend); err != nil {
		return nil, err
	}
	return &Model{Config: w.Config, Weights: w, Backend: backend, BackendName: backendName, runners: map[string]*compiled{}}, nil
}

// bindWeights moves the weights into the backend's memory now, where its buffers share host
// memory (fastcpu, go): each tensor's host copy is dropped as its buffer is made, as the first run
// would do, and the collector runs after every 256 MB so that the dropped copies do not pile up
// (Go's heap would otherwise grow to about twice the weights before collecting). Other backends
// copy the weights at the first run.
func bindWeights(w *Weights, backend backends.Backend) error {
	if !backend.HasSharedBuffers() {
		return nil
	}
	names := make([]string, 0, len(w.Tensors))
	for name := range w.Tensors {
		names = append(names, name)
	}
	slices.Sort(names)
	const every = 256 << 20
	freed := 0
	for _, name := range names {
		t := w.Tensors[name]
		if t.IsShared() {
			continue
		}
		if err := t.MaterializeOnDevice(backend, true, 0); err != nil {
			return fmt.Errorf("model: weight %s: %w", name, err)
		}
		if freed += int(t.Memory()); freed >= every {
			runtime.GC()
			freed = 0
		}
	}
	return nil
}

// Output is what one run returns.
type Output struct {
	// Logits [B, P, V].
	Logits *tensors.Tensor
	// Cache holds the activations the hook set cached, by hook name.
	Cache *hooks.Cache
	// Grads holds d(metric)/d(activation) for each hook point named in Set.Grad.
	Grads map[string]*tensors.Tensor
	// Metric is the value of the Set.Grad metric (NaN when none).
	Metric float64
	// Backend names the backend that ran this graph.
	Backend string
}

// Runner runs the compiled forward pass of one hook layout with one hook set. Runners of sets
// with the same layout (hooks.Set.Key) share the compiled graph, which serves every batch shape and
// every value of the fed tensors: patching sweeps compile once and call RunWith many times.
type Runner struct {
	c   *compiled
	set *hooks.Set
}

// compiled is the graph shared by the runners of one layout.
type compiled struct {
	m    *Model
	exec *graph.Exec

	mu       sync.Mutex    // serialises runs: the graph function reads building
	building *hooks.Set    // the set whose hooks build a graph for a new shape
	outs     hooks.Outputs // layout of the built graphs' extra outputs

	fallback *compiled // set when this graph needs an op the fast backend lacks
}

// Compile returns a runner for a hook set. Sets with the same Key share one compiled graph.
func (m *Model) Compile(set *hooks.Set) (*Runner, error) {
	if set == nil {
		set = hooks.New()
	}
	key := set.Key()
	m.mu.Lock()
	defer m.mu.Unlock()
	if key != "" {
		if c, ok := m.runners[key]; ok {
			return &Runner{c: c, set: set}, nil
		}
	}
	c := &compiled{m: m}
	specs := ParamSpecs(m.Config)
	exec, err := graph.NewExec(m.Backend, func(inputs []*graph.Node) []*graph.Node {
		tokens := inputs[0]
		p := make(Params, len(specs))
		for i, s := range specs {
			p[s.Name] = inputs[1+i]
		}
		hk := c.building.Activate(inputs[1+len(specs):])
		logits := Forward(m.Config, p, tokens, hk)
		c.outs = hk.Finish(logits)
		return append([]*graph.Node{logits}, c.outs.Nodes...)
	})
	if err != nil {
		return nil, fmt.Errorf("model: compile: %w", err)
	}
	exec.SetMaxCache(256)
	c.exec = exec
	if key != "" {
		if len(m.runners) > 64 {
			clear(m.runners)
		}
		m.runners[key] = c
	}
	return &Runner{c: c, set: set}, nil
}

// Run runs the model on tokens [B, P] (int32) with the given hooks (nil for none).
func (m *Model) Run(tokens *tensors.Tensor, set *hooks.Set) (*Output, error) {
	r, err := m.Compile(set)
	if err != nil {
		return nil, err
	}
	return r.Run(tokens)
}

// MustRun is Run for tests and notebooks: it panics on error.
func (m *Model) MustRun(tokens *tensors.Tensor, set *hooks.Set) *Output {
	out, err := m.Run(tokens, set)
	if err != nil {
		panic(err)
	}
	return out
}

// Run runs the compiled forward pass on tokens with the fed tensors of the runner's set.
func (r *Runner) Run(tokens *tensors.Tensor) (*Output, error) {
	return r.RunWith(tokens, r.set)
}

// RunWith runs with another set of the same layout (same Key): typically the same hooks with
// new fed values. It is how a sweep changes patch values without recompiling.
func (r *Runner) RunWith(tokens *tensors.Tensor, set *hooks.Set) (*Output, error) {
	if err := r.c.m.CheckTokens(tokens); err != nil {
		return nil, err
	}
	if set != r.set && set.Key() != r.set.Key() {
		return nil, errors.New("model: RunWith: hook set layout differs from the runner's (compile it instead)")
	}
	return r.c.run(tokens, set)
}

func (c *compiled) run(tokens *tensors.Tensor, set *hooks.Set) (*Output, error) {
	if c.fallback != nil {
		return c.fallback.run(tokens, set)
	}
	m := c.m
	args := []any{onBackend(tokens, m.Backend)}
	for _, s := range ParamSpecs(m.Config) {
		args = append(args, m.Weights.Tensors[s.Name])
	}
	for _, t := range set.Inputs() {
		args = append(args, onBackend(t, m.Backend))
	}
	var results []*tensors.Tensor
	var outs hooks.Outputs
	err := Catch(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.building = set
		var e error
		results, e = c.exec.Exec(args...)
		if e != nil {
			panic(e)
		}
		outs = c.outs
	})
	if err != nil {
		if m.canFallBack(err) {
			if fb, ferr := c.fallbackFor(set, err); ferr == nil {
				return fb.run(tokens, set)
			}
		}
		return nil, fmt.Errorf("model: run: %w", err)
	}
	out := &Output{Logits: results[0], Cache: hooks.NewCache(), Grads: map[string]*tensors.Tensor{}, Metric: math.NaN(),
		Backend: m.BackendName}
	i := 1
	for _, name := range outs.CacheNames {
		out.Cache.Set(name, results[i])
		i++
	}
	for _, name := range outs.GradNames {
		out.Grads[name] = results[i]
		i++
	}
	if outs.HasMetric {
		out.Metric = scalarValue(results[i])
	}
	return out, nil
}

// fallbackFor compiles this layout on the pure-Go backend, after the fast backend reported an op
// it does not implement, and says so once on stderr.
func (c *compiled) fallbackFor(set *hooks.Set, cause error) (*compiled, error) {
	fb, err := c.m.fallbackModel(cause)
	if err != nil {
		return nil, err
	}
	r, err := fb.Compile(set)
	if err != nil {
		return nil, err
	}
	c.fallback = r.c
	return r.c, nil
}

// fallbackModel is the same weights on the pure-Go backend, for graphs the fast backend reported
// an op it does not implement in (cause); it says so once on stderr.
func (m *Model) fallbackModel(cause error) (*Model, error) {
	m.mu.Lock()
	if m.fallback == nil {
		b, name, err := NewBackend("go")
		if err != nil {
			m.mu.Unlock()
			return nil, err
		}
		m.fallback = &Model{Config: m.Config, Weights: m.Weights.Clone(), Backend: b, BackendName: name, runners: map[string]*compiled{}}
	}
	fb := m.fallback
	m.mu.Unlock()
	fallbackWarn.Do(func() {
		fmt.Fprintf(os.Stderr, "interp: backend %s cannot run a graph (%v); running it on %s\n", m.BackendName, firstLine(cause), fb.BackendName)
	})
	return fb, nil
}

// canFallBack reports whether err is an op the fast backend lacks, so the work may be redone on
// the pure-Go backend.
func (m *Model) canFallBack(err error) bool {
	return fastcpu.IsNotImplemented(err) && strings.HasPrefix(m.BackendName, fastcpu.BackendName)
}

var fallbackWarn sync.Once

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// onBackend returns t, or a host copy of it when it already lives on another backend (GoMLX
// tensors cannot move between backends), so callers may share inputs between models.
func onBackend(t *tensors.Tensor, b backends.Backend) *tensors.Tensor {
	if tb, err := t.Backend(); err == nil && tb != nil && tb != b {
		if c, err := t.LocalClone(); err == nil {
			return c
		}
	}
	return t
}

// CheckTokens validates a token tensor: int32 [B, P], 1 <= P <= n_ctx, 0 <= id < d_vocab.
// The error names the offending row and position.
func (m *Model) CheckTokens(tokens *tensors.Tensor) error {
	if tokens == nil {
		return errors.New("model: tokens: nil tensor")
	}
	if tokens.DType() != dtypes.Int32 || tokens.Rank() != 2 {
		return fmt.Errorf("model: tokens: want int32 [batch, pos], got %s", tokens.Shape())
	}
	dims := tokens.Shape().Dimensions
	if dims[0] == 0 || dims[1] == 0 {
		return fmt.Errorf("model: tokens: empty batch or sequence (shape %v)", dims)
	}
	if dims[1] > m.Config.NCtx {
		return fmt.Errorf("model: tokens: sequence length %d exceeds n_ctx %d", dims[1], m.Config.NCtx)
	}
	var err error
	tensors.MustConstFlatData(tokens, func(flat []int32) {
		for i, id := range flat {
			if id < 0 || int(id) >= m.Config.DVocab {
				err = fmt.Errorf("model: tokens: id %d at row %d, position %d is outside the vocabulary [0, %d)",
					id, i/dims[1], i%dims[1], m.Config.DVocab)
				return
			}
		}
	})
	return err
}

// Tokens converts rows of token ids to an int32 [B, P] tensor; rows must have equal length.
func Tokens(rows [][]int) (*tensors.Tensor, error) {
	if len(rows) == 0 {
		return nil, errors.New("model: tokens: no rows")
	}
	p := len(rows[0])
	flat := make([]int32, 0, len(rows)*p)
	for i, row := range rows {
		if len(row) != p {
			return nil, fmt.Errorf("model: tokens: row %d has %d tokens, row 0 has %d (rows must have equal length)", i, len(row), p)
		}
		for _, id := range row {
			flat = append(flat, int32(id))
		}
	}
	return tensors.FromFlatDataAndDimensions(flat, len(rows), p), nil
}

// Catch runs fn and turns a panic (GoMLX's way of reporting graph errors) into an error: the
// boundary between graph-building code, which panics, and the API, which returns errors.
func Catch(fn func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			switch v := r.(type) {
			case error:
				err = v
			default:
				err = fmt.Errorf("%v", v)
			}
		}
	}()
	fn()
	return nil
}

// scalarValue reads a scalar tensor of any float dtype as float64.
func scalarValue(t *tensors.Tensor) float64 {
	switch v := t.Value().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	}
	panic(fmt.Sprintf("model: metric must be a float scalar, got %s", t.Shape()))
}
