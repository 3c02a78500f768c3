package patching

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// Direction says which run is patched and which supplies the patched-in values.
type Direction int

const (
	// Denoise patches clean activations into the corrupted run: a high (normalised) score means
	// the component carries enough of the clean information to restore the behaviour.
	Denoise Direction = iota
	// Noise patches corrupted activations into the clean run: a low score means the behaviour
	// needs the component.
	Noise
)

func (d Direction) String() string {
	if d == Noise {
		return "noise"
	}
	return "denoise"
}

// Ablation replaces the source of patched-in values. With an ablation the clean run is the
// target and the corrupted prompts serve only the baseline (and, by default, as the reference).
type Ablation int

const (
	// NoAblation patches between the clean and the corrupted run (see Direction).
	NoAblation Ablation = iota
	// ZeroAblation patches in zeros.
	ZeroAblation
	// MeanAblation patches in the activation's mean over the reference prompts.
	MeanAblation
	// ResampleAblation patches in the activation of a reference prompt drawn at random (with
	// Options.Seed) for each row, the same draw for every component and layer.
	ResampleAblation
)

func (a Ablation) String() string {
	return [...]string{"none", "zero", "mean", "resample"}[a]
}

// Options tune an Experiment. The zero value denoises with a 512 MiB memory budget.
type Options struct {
	Direction Direction
	Ablation  Ablation
	// Reference prompts for mean and resample ablation, rows of the prompts' length
	// (default: the corrupted prompts).
	Reference [][]int
	// Seed draws the resample-ablation rows.
	Seed uint64
	// MaxRows bounds the rows (patch variant x prompt) of one batched forward pass; 0 derives it
	// from MemoryBudget.
	MaxRows int
	// MemoryBudget is the approximate memory, in bytes, one batched forward may use (default 512 MiB).
	MemoryBudget int64
	// Progress, if set, is called after each batched forward with the variants done and the total.
	Progress func(done, total int)
}

// Experiment is one patching setup: a model, the prompt pairs, a metric and options. It runs the
// clean and corrupted prompts once, caches the activations its sweeps need (one run with a full
// cache of each side supplies every source activation), and keeps the compiled graphs, so the
// sweeps that follow compile once per layer and only feed values. Not safe for concurrent use.
type Experiment struct {
	Model   *model.Model
	Prompts *Prompts
	Metric  Metric
	Options Options

	// Clean and Corrupted are the metric on the unpatched clean and corrupted runs (raw, mean
	// over prompts).
	Clean, Corrupted float64

	runs      map[run]*runState
	cleanLP   []float32 // [N, V] log-probabilities of the clean run at the scored positions
	fixed     []*tensors.Tensor
	execs     map[string]*graph.Exec
	resampled []int // per prompt, the reference row a resample ablation uses
}

type run int

const (
	runClean run = iota
	runCorrupted
	runReference
)

func (r run) String() string { return [...]string{"clean", "corrupted", "reference"}[r] }

type runState struct {
	tokens *tensors.Tensor
	cache  *hooks.Cache
}

// NewExperiment validates the prompts against the model, runs the clean and corrupted prompts
// and scores them with the metric.
func NewExperiment(m *model.Model, p *Prompts, metric Metric, opt Options) (*Experiment, error) {
	if err := p.Validate(m.Config); err != nil {
		return nil, err
	}
	if metric.Values == nil && metric.Host == nil {
		return nil, fmt.Errorf("patching: metric %q has neither Values nor Host", metric.Name)
	}
	e := &Experiment{Model: m, Prompts: p, Metric: metric, Options: opt, runs: map[run]*runState{}, execs: map[string]*graph.Exec{}}
	for r, rows := range map[run][][]int{runClean: p.Clean, runCorrupted: p.Corrupted} {
		t, err := model.Tokens(rows)
		if err != nil {
			return nil, err
		}
		e.runs[r] = &runState{tokens: t, cache: hooks.NewCache()}
	}
	if opt.Ablation == MeanAblation || opt.Ablation == ResampleAblation {
		ref := opt.Reference
		if ref == nil {
			ref = p.Corrupted
		}
		for i, row := range ref {
			if len(row) != p.Len() {
				return nil, fmt.Errorf("patching: reference row %d has %d tokens, the prompts have %d", i, len(row), p.Len())
			}
		}
		t, err := model.Tokens(ref)
		if err != nil {
			return nil, fmt.Errorf("patching: reference prompts: %w", err)
		}
		if err := m.CheckTokens(t); err != nil {
			return nil, fmt.Errorf("patching: reference prompts: %w", err)
		}
		e.runs[runReference] = &runState{tokens: t, cache: hooks.NewCache()}
		rng := rand.New(rand.NewPCG(opt.Seed, 0x5eed))
		e.resampled = make([]int, p.N())
		for i := range e.resampled {
			e.resampled[i] = rng.IntN(len(ref))
		}
	}
	if err := e.initTargets(); err != nil {
		return nil, err
	}
	var err error
	if e.Clean, err = e.baseline(runClean); err != nil {
		return nil, err
	}
	if e.Corrupted, err = e.baseline(runCorrupted); err != nil {
		return nil, err
	}
	if metric.Normalized && !(math.Abs(e.Clean-e.Corrupted) > 1e-9*math.Max(1, math.Abs(e.Clean))) {
		return nil, fmt.Errorf("patching: metric %s: the clean and corrupted runs score the same (%g, %g), so the normalised metric is undefined",
			metric.Name, e.Clean, e.Corrupted)
	}
	return e, nil
}

// target is the run that sweeps patch.
func (e *Experiment) target() run {
	if e.Options.Ablation == NoAblation && e.Options.Direction == Denoise {
		return runCorrupted
	}
	return runClean
}

// sourceName says what is patched in.
func (e *Experiment) sourceName() string {
	switch {
	case e.Options.Ablation != NoAblation:
		return e.Options.Ablation.String()
	case e.Options.Direction == Denoise:
		return "clean"
	}
	return "corrupted"
}

// Target is the metric on the unpatched target run (Corrupted when denoising, Clean otherwise).
func (e *Experiment) Target() float64 {
	if e.target() == runCorrupted {
		return e.Corrupted
	}
	return e.Clean
}

// initTargets builds the metric's fixed inputs: the scored positions, the answer and wrong token
// masks, and the clean run's log-probabilities at the scored positions.
func (e *Experiment) initTargets() error {
	p, c := e.Prompts, e.Model.Config
	N, V := p.N(), c.DVocab
	out, err := e.Model.Run(e.runs[runClean].tokens, nil)
	if err != nil {
		return err
	}
	logits := tensors.MustCopyFlatData[float32](out.Logits) // [N, P, V]
	P := p.Len()
	e.cleanLP = make([]float32, N*V)
	for i := range N {
		row := logits[(i*P+p.Pos[i])*V : (i*P+p.Pos[i]+1)*V]
		logSoftmax(e.cleanLP[i*V:(i+1)*V], row)
	}
	pos := make([]int32, N)
	ans, wrong := make([]float32, N*V), make([]float32, N*V)
	for i := range N {
		pos[i] = int32(p.Pos[i])
		if p.hasSets() {
			for _, t := range p.AnswerSets[i] {
				ans[i*V+t] = 1
			}
			for _, t := range p.WrongSets[i] {
				wrong[i*V+t] = 1
			}
		} else {
			ans[i*V+p.Answer[i]] = 1
			wrong[i*V+p.Wrong[i]] = 1
		}
	}
	e.fixed = []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(pos, N),
		tensors.FromFlatDataAndDimensions(ans, N, V),
		tensors.FromFlatDataAndDimensions(wrong, N, V),
		tensors.FromFlatDataAndDimensions(e.cleanLP, N, V),
	}
	return nil
}

// logSoftmax writes log softmax(x) into dst, accumulating in float64.
func logSoftmax(dst, x []float32) {
	top := math.Inf(-1)
	for _, v := range x {
		top = math.Max(top, float64(v))
	}
	var sum float64
	for _, v := range x {
		sum += math.Exp(float64(v) - top)
	}
	lse := top + math.Log(sum)
	for i, v := range x {
		dst[i] = float32(float64(v) - lse)
	}
}

// acts returns the named activations of a run, running the model once for those not cached yet.
func (e *Experiment) acts(r run, names ...string) ([]*tensors.Tensor, error) {
	st := e.runs[r]
	var missing []string
	for _, n := range names {
		if _, ok := st.cache.Get(n); !ok && !slices.Contains(missing, n) {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		out, err := e.Model.Run(st.tokens, hooks.New().Cache(missing...))
		if err != nil {
			return nil, fmt.Errorf("patching: %s run: %w", r, err)
		}
		for _, n := range missing {
			st.cache.Set(n, out.Cache.MustGet(n))
		}
	}
	ts := make([]*tensors.Tensor, len(names))
	for i, n := range names {
		ts[i] = st.cache.MustGet(n)
	}
	return ts, nil
}

// Cache returns the clean and corrupted runs' activation at a hook point (running the model for
// it if needed).
func (e *Experiment) Cache(name string) (clean, corrupted *tensors.Tensor, err error) {
	if !model.HasHook(e.Model.Config, name) {
		return nil, nil, &hooks.UnknownHookError{Name: name}
	}
	c, err := e.acts(runClean, name)
	if err != nil {
		return nil, nil, err
	}
	k, err := e.acts(runCorrupted, name)
	if err != nil {
		return nil, nil, err
	}
	return c[0], k[0], nil
}

// source returns the values patched in at a hook point, [N, ...] like the activation.
func (e *Experiment) source(name string) (*tensors.Tensor, error) {
	switch e.Options.Ablation {
	case NoAblation:
		r := runClean
		if e.Options.Direction == Noise {
			r = runCorrupted
		}
		ts, err := e.acts(r, name)
		if err != nil {
			return nil, err
		}
		return ts[0], nil
	case ZeroAblation:
		ts, err := e.acts(e.target(), name)
		if err != nil {
			return nil, err
		}
		return tensors.FromShape(ts[0].Shape()), nil
	}
	ts, err := e.acts(runReference, name)
	if err != nil {
		return nil, err
	}
	ref := tensors.MustCopyFlatData[float32](ts[0])
	dims := ts[0].Shape().Dimensions
	M, size := dims[0], len(ref)/dims[0]
	N := e.Prompts.N()
	out := make([]float32, N*size)
	if e.Options.Ablation == MeanAblation {
		mean := make([]float64, size)
		for m := range M {
			for j, v := range ref[m*size : (m+1)*size] {
				mean[j] += float64(v)
			}
		}
		for n := range N {
			for j := range size {
				out[n*size+j] = float32(mean[j] / float64(M))
			}
		}
	} else {
		for n, m := range e.resampled {
			copy(out[n*size:(n+1)*size], ref[m*size:(m+1)*size])
		}
	}
	return tensors.FromFlatDataAndDimensions(out, append([]int{N}, dims[1:]...)...), nil
}

// baseline scores the unpatched run r.
func (e *Experiment) baseline(r run) (float64, error) {
	resid, err := e.acts(r, hooks.ResidPre(0))
	if err != nil {
		return 0, err
	}
	vals, err := e.runSuffix(plainPlan(), resid[0], []*tensors.Tensor{tensors.FromFlatDataAndDimensions([]float32{0}, 1)})
	if err != nil {
		return 0, err
	}
	return mean(vals[0]), nil
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// layersOrAll returns layers, or every layer when none are given, after checking the range.
func (e *Experiment) layersOrAll(layers []int) ([]int, error) {
	L := e.Model.Config.NLayers
	if len(layers) == 0 {
		for l := range L {
			layers = append(layers, l)
		}
	}
	for _, l := range layers {
		if l < 0 || l >= L {
			return nil, fmt.Errorf("patching: layer %d outside [0, %d)", l, L)
		}
	}
	return layers, nil
}

// MemoryEstimate is roughly the memory, in bytes, an experiment of n prompt pairs of P tokens
// needs: the clean and the corrupted run's cached activations (every hook point), plus one batched
// sweep pass, which Options bounds (MaxRows rows, else MemoryBudget, default 512 MiB).
func MemoryEstimate(c model.Config, n, P int, opt Options) float64 {
	pass := float64(opt.MemoryBudget)
	if opt.MaxRows > 0 {
		pass = c.ActivationBytes(opt.MaxRows, P)
	} else if pass <= 0 {
		pass = 512 << 20
	}
	return 2*c.ActivationBytes(n, P) + pass
}

// rowsPerForward is how many (variant, prompt) rows one batched forward pass may hold.
func (e *Experiment) rowsPerForward(comp Component) int {
	if e.Options.MaxRows > 0 {
		return e.Options.MaxRows
	}
	budget := e.Options.MemoryBudget
	if budget <= 0 {
		budget = 512 << 20
	}
	c, P := e.Model.Config, e.Prompts.Len()
	// Live float32 activations per row, roughly: the residual stream and LayerNorm temporaries,
	// q/k/v/z, scores and pattern, the MLP hidden layer, the scored logits and their softmax.
	perPos := 12*c.DModel + 4*c.NHeads*c.DHead + 4*c.NHeads*P
	if c.HasMLP() {
		perPos += 3 * c.DMLP
	}
	if comp == HeadResult {
		perPos += 2 * c.NHeads * c.DModel
	}
	perRow := int64(4 * (P*perPos + 3*c.DVocab))
	return int(max(1, budget/perRow))
}

// chunking splits n variants into chunks of at most maxGroups, as even as possible: it returns
// the chunk size G (the last chunk is padded to G with no-op variants).
func chunking(n, maxGroups int) int {
	maxGroups = max(1, min(maxGroups, n))
	chunks := (n + maxGroups - 1) / maxGroups
	return (n + chunks - 1) / chunks
}
