package model

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
)

// Scope says which positions a generation's hooks apply to.
type Scope string

const (
	// ScopeAll applies the hooks at every position, prompt and generated (the default).
	ScopeAll Scope = "all"
	// ScopePrompt applies them to the prompt's positions only (the prefill).
	ScopePrompt Scope = "prompt"
	// ScopeGenerated applies them to the generated tokens' positions only. The first new token
	// is predicted at the prompt's last position, so it is not affected.
	ScopeGenerated Scope = "generated"
)

// ParseScope reads a scope name; "" is ScopeAll.
func ParseScope(s string) (Scope, error) {
	switch Scope(s) {
	case "", ScopeAll:
		return ScopeAll, nil
	case ScopePrompt, ScopeGenerated:
		return Scope(s), nil
	}
	return "", fmt.Errorf("unknown hook scope %q (want all, prompt or generated)", s)
}

// GenerateOptions configure Generate. The zero value with MaxNew set decodes greedily.
type GenerateOptions struct {
	// MaxNew is the number of tokens to generate per completion (at least 1).
	MaxNew int
	// Temperature divides the logits before sampling; 0 decodes greedily (the arg max, the
	// lowest id among ties).
	Temperature float64
	// TopK keeps the K most likely tokens (ties with the K-th kept too); 0 keeps all.
	TopK int
	// TopP keeps the most likely tokens whose probabilities first sum to at least TopP (nucleus
	// sampling, after TopK); 0 or 1 keeps all.
	TopP float64
	// Seed seeds sampling. Completion j of every prompt draws from its own stream (Seed, j), so a
	// prompt's completions do not depend on the other prompts in the batch.
	Seed uint64
	// Samples is the number of completions per prompt (0 means 1).
	Samples int
	// Stop lists token ids that end a completion; the stop token is kept as its last token.
	Stop []int
	// Pad is the token id put in padding slots (never seen by a real token; any valid id).
	Pad int
	// Hooks apply during generation (add, replace, zero, functions; no caching or gradients),
	// at the positions Scope says. Activations have the shapes of the pass: [B, P, ...] for the
	// prompts and [B, 1, ...] for each step; attention scores and patterns have the cache's slots
	// as their key axis. hooks.Set.Add takes a value that broadcasts, such as a [D] direction.
	Hooks *hooks.Set
	Scope Scope
	// NoCache recomputes the whole sequence for every new token instead of reading a key/value
	// cache: the reference the cache is checked against, and the benchmark's baseline.
	NoCache bool
	// KeepLogits keeps, for each generated token, the logits [V] it was chosen from.
	KeepLogits bool
	// Progress, if set, is called after each decoding step with the steps done and the total.
	Progress func(done, total int)
}

// Completion is one generated continuation of a prompt.
type Completion struct {
	Prompt int   // the prompt's index
	Sample int   // the sample's index among the prompt's completions
	Tokens []int // the generated tokens, the stop token included
	// Stopped reports that the completion ended on a stop token rather than at MaxNew.
	Stopped bool
	// Logits [len(Tokens)][V] are the (untempered) logits each token was chosen from, when
	// GenerateOptions.KeepLogits is set.
	Logits [][]float32
}

// Generate continues each prompt (token ids, at least one each) by up to opt.MaxNew tokens, in
// one batch: prompts of different lengths are left-padded, with padding masked out and positions
// counted from each prompt's first token, so a prompt generates what it would alone. With a
// key/value cache (the default) each new token costs one position's forward pass.
func (m *Model) Generate(prompts [][]int, opt GenerateOptions) ([]Completion, error) {
	if err := m.checkGenerate(prompts, &opt); err != nil {
		return nil, err
	}
	out, err := m.generate(prompts, opt)
	if err != nil && m.canFallBack(err) {
		// A hook uses an op the fast backend lacks: redo the whole generation on the pure-Go one.
		fb, ferr := m.fallbackModel(err)
		if ferr != nil {
			return nil, err
		}
		return fb.generate(prompts, opt)
	}
	return out, err
}

func (m *Model) generate(prompts [][]int, opt GenerateOptions) ([]Completion, error) {
	promptSet, stepSet := hooks.New(), hooks.New()
	if opt.Hooks != nil {
		if opt.Scope != ScopeGenerated {
			promptSet = opt.Hooks
		}
		if opt.Scope != ScopePrompt {
			stepSet = opt.Hooks
		}
	}
	g := newGeneration(prompts, opt)
	// Without a cache every pass is a prefill of the whole sequence so far (T = its length).
	prefill := func() (*tensors.Tensor, []*tensors.Tensor, error) {
		tok := g.tokens()
		if opt.NoCache {
			return m.decodePass(promptSet, tok, g.pad, nil, nil, tok.Shape().Dimensions[1])
		}
		return m.decodePass(promptSet, tok, g.pad, nil, nil, g.slots())
	}
	logits, kv, err := prefill()
	if err != nil {
		return nil, err
	}
	for step := 0; ; step++ {
		next := g.choose(logits)
		if opt.Progress != nil {
			opt.Progress(step+1, opt.MaxNew)
		}
		if step == opt.MaxNew-1 || g.allDone() {
			break
		}
		if opt.NoCache {
			logits, _, err = prefill()
		} else {
			start := len(g.seq[0]) - 1 // the slot of the token just chosen
			logits, kv, err = m.decodePass(stepSet, column(next), g.pad, &start, kv, g.slots())
		}
		if err != nil {
			return nil, err
		}
	}
	return g.rows, nil
}

// checkGenerate validates the prompts and options before any work, and fills defaults.
func (m *Model) checkGenerate(prompts [][]int, opt *GenerateOptions) error {
	if len(prompts) == 0 {
		return errors.New("model: generate: no prompts")
	}
	if opt.MaxNew < 1 {
		return fmt.Errorf("model: generate: max new tokens %d: must be at least 1", opt.MaxNew)
	}
	if opt.Samples == 0 {
		opt.Samples = 1
	}
	if opt.Samples < 0 {
		return fmt.Errorf("model: generate: samples %d: must be positive", opt.Samples)
	}
	if opt.Temperature < 0 || opt.TopK < 0 || opt.TopP < 0 || opt.TopP > 1 {
		return fmt.Errorf("model: generate: temperature %g, top-k %d, top-p %g: want temperature >= 0, top-k >= 0, 0 <= top-p <= 1",
			opt.Temperature, opt.TopK, opt.TopP)
	}
	if opt.Scope == "" {
		opt.Scope = ScopeAll
	}
	if _, err := ParseScope(string(opt.Scope)); err != nil {
		return fmt.Errorf("model: generate: %w", err)
	}
	if opt.NoCache && opt.Hooks != nil && opt.Scope != ScopeAll {
		return errors.New("model: generate: without a cache every pass recomputes the prompt, so hooks need scope all")
	}
	if opt.Hooks != nil && opt.Hooks.Records() {
		return errors.New("model: generate: the hooks cache activations or ask for gradients; generation only applies hooks (run the completed sequence with Run to record it)")
	}
	V := m.Config.DVocab
	check := func(id int, what string) error {
		if id < 0 || id >= V {
			return fmt.Errorf("model: generate: %s id %d is outside the vocabulary [0, %d)", what, id, V)
		}
		return nil
	}
	if err := check(opt.Pad, "pad"); err != nil {
		return err
	}
	for _, s := range opt.Stop {
		if err := check(s, "stop"); err != nil {
			return err
		}
	}
	longest := 0
	for i, p := range prompts {
		if len(p) == 0 {
			return fmt.Errorf("model: generate: prompt %d is empty (give at least one token, such as BOS)", i)
		}
		for j, id := range p {
			if err := check(id, fmt.Sprintf("prompt %d, position %d: token", i, j)); err != nil {
				return err
			}
		}
		longest = max(longest, len(p))
	}
	if need := longest + opt.MaxNew - 1; need > m.Config.NCtx {
		return fmt.Errorf("model: generate: the longest prompt (%d tokens) and %d new tokens need %d positions; the model has n_ctx %d",
			longest, opt.MaxNew, need, m.Config.NCtx)
	}
	return nil
}

// generation is the host side of a batch: the left-padded sequences and each row's sampler.
type generation struct {
	opt     GenerateOptions
	rows    []Completion
	seq     [][]int // [B][slots so far], left-padded
	pad     []int   // [B] each row's padding
	done    []bool
	rng     []*rand.Rand
	longest int
}

func newGeneration(prompts [][]int, opt GenerateOptions) *generation {
	g := &generation{opt: opt}
	for _, p := range prompts {
		g.longest = max(g.longest, len(p))
	}
	for i, p := range prompts {
		for j := range opt.Samples {
			row := make([]int, g.longest-len(p), g.longest+opt.MaxNew)
			for k := range row {
				row[k] = opt.Pad
			}
			g.seq = append(g.seq, append(row, p...))
			g.pad = append(g.pad, g.longest-len(p))
			g.rows = append(g.rows, Completion{Prompt: i, Sample: j})
			g.rng = append(g.rng, rand.New(rand.NewPCG(opt.Seed, uint64(j))))
		}
	}
	g.done = make([]bool, len(g.seq))
	return g
}

// slots is the cache's length: the longest prompt and every new token but the last, which is
// chosen and never fed back.
func (g *generation) slots() int { return g.longest + g.opt.MaxNew - 1 }

func (g *generation) tokens() *tensors.Tensor {
	t, _ := Tokens(g.seq)
	return t
}

// choose picks each row's next token from logits [B, V], records it and appends it to the row's
// sequence (finished rows get padding, which nothing reads). It returns the tokens appended.
func (g *generation) choose(logits *tensors.Tensor) []int {
	V := logits.Shape().Dimensions[1]
	next := make([]int, len(g.seq))
	tensors.MustConstFlatData(logits, func(flat []float32) {
		for b := range g.seq {
			next[b] = g.opt.Pad
			if !g.done[b] {
				row := flat[b*V : (b+1)*V]
				id := pick(row, g.opt, g.rng[b])
				r := &g.rows[b]
				r.Tokens = append(r.Tokens, id)
				if g.opt.KeepLogits {
					r.Logits = append(r.Logits, slices.Clone(row))
				}
				if slices.Contains(g.opt.Stop, id) {
					r.Stopped, g.done[b] = true, true
				}
				next[b] = id
			}
			g.seq[b] = append(g.seq[b], next[b])
		}
	})
	return next
}

func (g *generation) allDone() bool { return !slices.Contains(g.done, false) }

// column is ids as tokens [B, 1].
func column(ids []int) *tensors.Tensor {
	rows := make([][]int, len(ids))
	for i, id := range ids {
		rows[i] = []int{id}
	}
	t, _ := Tokens(rows)
	return t
}

// decoder is the compiled graph of one kind of decoding pass (prefill or step) for one hook layout
// and cache length.
type decoder struct {
	exec     *graph.Exec
	mu       sync.Mutex
	building *hooks.Set
}

// decodePass runs a prefill (start nil: tokens [B, P] into an empty cache) or a step (tokens
// [B, 1] into slot *start of cache kv) and returns the last position's logits [B, V] and the
// cache ([2L] tensors [B, T, Hkv, K]: every layer's keys, then every layer's values), T = slots
// the cache's length (>= P).
func (m *Model) decodePass(set *hooks.Set, tokens *tensors.Tensor, pad []int, start *int, kv []*tensors.Tensor, slots int) (*tensors.Tensor, []*tensors.Tensor, error) {
	d, err := m.decoder(set, slots, start != nil)
	if err != nil {
		return nil, nil, err
	}
	args := []any{onBackend(tokens, m.Backend)}
	if start != nil {
		args = append(args, int32(*start))
	}
	pads := make([]int32, len(pad))
	for i, p := range pad {
		pads[i] = int32(p)
	}
	args = append(args, tensors.FromValue(pads))
	for _, s := range ParamSpecs(m.Config) {
		args = append(args, m.Weights.Tensors[s.Name])
	}
	for _, t := range kv {
		args = append(args, t)
	}
	for _, t := range set.Inputs() {
		args = append(args, onBackend(t, m.Backend))
	}
	var results []*tensors.Tensor
	err = Catch(func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.building = set
		var e error
		if results, e = d.exec.Exec(args...); e != nil {
			panic(e)
		}
	})
	if err != nil {
		return nil, nil, fmt.Errorf("model: generate: %w", err)
	}
	return results[0], results[1:], nil
}

// decoder returns the compiled pass for a hook set, a cache of T slots and the pass's kind.
func (m *Model) decoder(set *hooks.Set, T int, step bool) (*decoder, error) {
	key := set.Key()
	if key != "" {
		key = fmt.Sprintf("step=%v|T=%d|%s", step, T, key)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if d, ok := m.decoders[key]; ok && key != "" {
		return d, nil
	}
	d := &decoder{}
	specs := ParamSpecs(m.Config)
	L := m.Config.NLayers
	exec, err := graph.NewExec(m.Backend, func(in []*graph.Node) []*graph.Node {
		tokens, in := in[0], in[1:]
		var start *graph.Node
		if step {
			start, in = in[0], in[1:]
		}
		pad, in := in[0], in[1:]
		p := make(Params, len(specs))
		for i, s := range specs {
			p[s.Name] = in[i]
		}
		in = in[len(specs):]
		var k, v []*graph.Node
		if step {
			k, v, in = in[:L], in[L:2*L], in[2*L:]
		}
		hk := d.building.Activate(in)
		dec := newDecoding(m.Config, tokens, T, start, pad, k, v, !strings.HasPrefix(m.BackendName, "go"))
		logits := forward(m.Config, p, tokens, dec, hk)
		hk.Finish(logits) // checks that every hook point the set names exists
		return append(append([]*graph.Node{logits}, dec.k...), dec.v...)
	})
	if err != nil {
		return nil, fmt.Errorf("model: generate: compile: %w", err)
	}
	exec.SetMaxCache(64)
	d.exec = exec
	if key != "" {
		if m.decoders == nil || len(m.decoders) > 512 {
			m.decoders = map[string]*decoder{}
		}
		m.decoders[key] = d
	}
	return d, nil
}
