package circuits

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
)

// Ablation names what replaces an ablated node's or edge's output.
type Ablation string

const (
	// Resample uses the output on the paired corrupted prompt (ACDC's "random" ablation with the
	// task's corrupted distribution, e.g. IOI's ABC prompts).
	Resample Ablation = "resample"
	// Mean uses the output averaged over all corrupted prompts, per position.
	Mean Ablation = "mean"
	// Zero uses zeros.
	Zero Ablation = "zero"
)

// ParseAblation checks an ablation name.
func ParseAblation(s string) (Ablation, error) {
	switch a := Ablation(s); a {
	case Resample, Mean, Zero:
		return a, nil
	}
	return "", fmt.Errorf("circuits: unknown ablation %q (want resample, mean or zero)", s)
}

// experiment is a model with its graph and a set of clean/corrupted pairs, with the outputs of
// every sender node on both (what patching and attribution compare).
type experiment struct {
	m        *model.Model
	g        *Graph
	pairs    *tasks.Pairs
	n, plen  int
	clean    *tensors.Tensor // [N, P] int32
	corr     *tensors.Tensor // [N, P] int32
	cleanOut *senderActs
	corrOut  *senderActs
	cleanLD  []float64   // [N] clean logit differences
	corrLD   []float64   // [N] corrupted logit differences
	cleanLP  [][]float64 // [N][V] clean next-token log-probabilities at Pos
}

// senderActs are the outputs of the sender nodes on a batch: what each writes into the residual
// stream.
type senderActs struct {
	embed    *tensors.Tensor   // [N, P, D]: hook_embed + hook_pos_embed
	tokEmbed *tensors.Tensor   // [N, P, D]: hook_embed alone
	result   []*tensors.Tensor // per layer [N, P, H, D] (hook_result)
	// written is, per layer [N, P, H, D], each head's share of what attention writes into the
	// residual stream where a norm follows attention (Gemma 2/3, OLMo 2; see headShare); nil
	// elsewhere, where it is hook_result itself.
	written []*tensors.Tensor
	mlp     []*tensors.Tensor // per layer [N, P, D] (hook_mlp_out); nil without MLPs
	logits  *tensors.Tensor   // [N, P, V]
}

// headOut is layer l's head outputs as the residual stream receives them [N, P, H, D]: hook_result,
// or each head's share of the normalised sum where a norm follows attention.
func (a *senderActs) headOut(l int) *tensors.Tensor {
	if a.written != nil {
		return a.written[l]
	}
	return a.result[l]
}

// headShare is, for layouts with a norm after attention (ln1_post: Gemma 2/3, OLMo 2), each head's
// share of that norm's output: with the run's own scale s (ln1_post.hook_scale) and gain w,
//
//	share_h = w * center(result_h) / s      (center: minus the mean over d_model for a LayerNorm; none for RMSNorm)
//
// The norm is linear in its input once s is fixed, so on every run the shares of the heads plus
// w * center(b_O) / s (+ the LayerNorm bias) add up to hook_attn_out exactly, and an edge from a
// head carries its share (the norm's scale frozen at the run's value, as circuit-tracer freezes
// norm denominators). result [N, P, H, D], scale [N, P, 1], w [D].
func headShare(c model.Config, result, scale, w []float32, D int) []float32 {
	out := make([]float32, len(result))
	H := len(result) / D / len(scale)
	for r := range len(result) / D { // rows (n, p, h)
		x, y := result[r*D:(r+1)*D], out[r*D:(r+1)*D]
		var mean float32
		if c.Normalization == model.LayerNorm {
			var sum float64
			for _, v := range x {
				sum += float64(v)
			}
			mean = float32(sum / float64(D))
		}
		s := scale[r/H]
		for i, v := range x {
			y[i] = (v - mean) / s * w[i]
		}
	}
	return out
}

func newExperiment(m *model.Model, pairs *tasks.Pairs) (*experiment, error) {
	c := m.Config
	if err := checkPairs(pairs, c.DVocab, c.NCtx); err != nil {
		return nil, err
	}
	e := &experiment{m: m, g: NewGraph(c), pairs: pairs, n: len(pairs.Clean), plen: len(pairs.Clean[0])}
	var err error
	if e.clean, err = model.Tokens(pairs.Clean); err != nil {
		return nil, err
	}
	if e.corr, err = model.Tokens(pairs.Corrupted); err != nil {
		return nil, err
	}
	if e.cleanOut, err = collectSenders(m, e.clean, nil); err != nil {
		return nil, fmt.Errorf("circuits: clean run: %w", err)
	}
	if e.corrOut, err = collectSenders(m, e.corr, nil); err != nil {
		return nil, fmt.Errorf("circuits: corrupted run: %w", err)
	}
	e.cleanLD = logitDiffs(e.cleanOut.logits, pairs)
	e.corrLD = logitDiffs(e.corrOut.logits, pairs)
	e.cleanLP = logProbsAt(e.cleanOut.logits, pairs)
	return e, nil
}

// senderHooks are the hook points whose values make up the sender outputs.
func senderHooks(c model.Config) []string {
	names := []string{hooks.Embed}
	if c.PositionalEmbeddings {
		names = append(names, hooks.PosEmbed)
	}
	for l := range c.NLayers {
		names = append(names, hooks.Result(l))
		if c.PostNorms() {
			names = append(names, postScale(l))
		}
		if c.HasMLP() {
			names = append(names, hooks.MLPOut(l))
		}
	}
	return names
}

// collectSenders runs tokens through m (with extra hooks when set is not nil) and returns every
// sender's output.
func collectSenders(m *model.Model, tokens *tensors.Tensor, set *hooks.Set) (*senderActs, error) {
	if set == nil {
		set = hooks.New()
	}
	set.Cache(senderHooks(m.Config)...)
	out, err := m.Run(tokens, set)
	if err != nil {
		return nil, err
	}
	return sendersFromCache(m, out.Cache, out.Logits), nil
}

// postScale is the hook of the scale of layer l's norm after attention.
func postScale(l int) string { return blockName(l, "ln1_post.hook_scale") }

func sendersFromCache(m *model.Model, cache *hooks.Cache, logits *tensors.Tensor) *senderActs {
	c := m.Config
	a := &senderActs{logits: logits, tokEmbed: cache.MustGet(hooks.Embed)}
	emb := tensors.MustCopyFlatData[float32](cache.MustGet(hooks.Embed))
	if c.PositionalEmbeddings {
		pos := tensors.MustCopyFlatData[float32](cache.MustGet(hooks.PosEmbed))
		for i := range emb {
			emb[i] += pos[i]
		}
	}
	a.embed = tensors.FromFlatDataAndDimensions(emb, cache.MustGet(hooks.Embed).Shape().Dimensions...)
	for l := range c.NLayers {
		r := cache.MustGet(hooks.Result(l))
		a.result = append(a.result, r)
		if c.PostNorms() {
			share := headShare(c, tensors.MustCopyFlatData[float32](r), tensors.MustCopyFlatData[float32](cache.MustGet(postScale(l))),
				tensors.MustCopyFlatData[float32](m.Weights.Tensors[blockName(l, "ln1_post.w")]), c.DModel)
			a.written = append(a.written, tensors.FromFlatDataAndDimensions(share, r.Shape().Dimensions...))
		}
		if c.HasMLP() {
			a.mlp = append(a.mlp, cache.MustGet(hooks.MLPOut(l)))
		}
	}
	return a
}

// ablationSource returns the sender outputs that replace ablated ones.
func (e *experiment) ablationSource(a Ablation) (*senderActs, error) {
	switch a {
	case Resample, "":
		return e.corrOut, nil
	case Mean:
		return mapActs(e.corrOut, meanOverRows), nil
	case Zero:
		return mapActs(e.corrOut, func(t *tensors.Tensor) *tensors.Tensor {
			return tensors.FromShape(t.Shape())
		}), nil
	}
	return nil, fmt.Errorf("circuits: unknown ablation %q", a)
}

func mapActs(a *senderActs, f func(*tensors.Tensor) *tensors.Tensor) *senderActs {
	out := &senderActs{embed: f(a.embed)}
	for _, t := range a.result {
		out.result = append(out.result, f(t))
	}
	for _, t := range a.written {
		out.written = append(out.written, f(t))
	}
	for _, t := range a.mlp {
		out.mlp = append(out.mlp, f(t))
	}
	return out
}

// meanOverRows replaces every row of t [N, ...] by the mean row.
func meanOverRows(t *tensors.Tensor) *tensors.Tensor {
	dims := t.Shape().Dimensions
	flat := tensors.MustCopyFlatData[float32](t)
	n := dims[0]
	row := len(flat) / n
	m := make([]float64, row)
	for i := range n {
		for j, v := range flat[i*row : (i+1)*row] {
			m[j] += float64(v)
		}
	}
	for i := range n {
		for j := range row {
			flat[i*row+j] = float32(m[j] / float64(n))
		}
	}
	return tensors.FromFlatDataAndDimensions(flat, dims...)
}

// tileRows repeats t [N, ...] k times along the first axis ([k*N, ...], copy j at rows
// j*N..(j+1)*N-1).
func tileRows(t *tensors.Tensor, k int) *tensors.Tensor {
	if k == 1 {
		return t
	}
	dims := append([]int(nil), t.Shape().Dimensions...)
	var out *tensors.Tensor
	switch t.DType() {
	case dtypes.Int32:
		flat := tensors.MustCopyFlatData[int32](t)
		rep := make([]int32, 0, k*len(flat))
		for range k {
			rep = append(rep, flat...)
		}
		dims[0] *= k
		out = tensors.FromFlatDataAndDimensions(rep, dims...)
	default:
		flat := tensors.MustCopyFlatData[float32](t)
		rep := make([]float32, 0, k*len(flat))
		for range k {
			rep = append(rep, flat...)
		}
		dims[0] *= k
		out = tensors.FromFlatDataAndDimensions(rep, dims...)
	}
	return out
}

// headSlice returns head h's output [N*P*D] from a hook_result tensor [N, P, H, D].
func headSlice(result *tensors.Tensor, h int) []float32 {
	dims := result.Shape().Dimensions
	N, P, H, D := dims[0], dims[1], dims[2], dims[3]
	out := make([]float32, N*P*D)
	tensors.MustConstFlatData(result, func(flat []float32) {
		for r := range N * P {
			copy(out[r*D:(r+1)*D], flat[(r*H+h)*D:(r*H+h+1)*D])
		}
	})
	return out
}

// output returns a sender node's output [N*P*D].
func (a *senderActs) output(n Node) []float32 {
	switch n.Kind {
	case Embed:
		return tensors.MustCopyFlatData[float32](a.embed)
	case Head:
		return headSlice(a.headOut(n.Layer), n.Head)
	case MLP:
		return tensors.MustCopyFlatData[float32](a.mlp[n.Layer])
	}
	panic("circuits: " + n.String() + " is not a sender")
}
