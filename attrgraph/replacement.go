package attrgraph

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
	"github.com/interp-dev/interp/transcoder"
)

// Replacement is the local replacement model of one prompt (see doc.go): the model's run on the
// prompt with every MLP's output split into its transcoder's active features and an error node,
// and the attention patterns and norm scales of that run, on the host.
type Replacement struct {
	m      *model.Model
	cfg    model.Config
	Tokens []int
	P      int
	ts     map[int]*sae.SAE // at most one transcoder per layer (a CLT's encoders); a layer without one is all error
	clt    *transcoder.CLT  // the cross-layer transcoder, or nil for per-layer transcoders

	cache  *hooks.Cache
	logits []float32   // [P, V]
	lat    [][]float32 // [L][P*F] latents (nil without a transcoder)
	errs   [][]float32 // [L][P*D] mlp_out - reconstruction
	embed  []float32   // [P*D] token (+ positional) embedding entering block 0
}

// NewReplacement runs m on one prompt (token ids) and encodes each MLP's input with the layer's
// transcoder (at most one per layer; each must read its layer's MLP input, transcoder.InputHook,
// and reconstruct its hook_mlp_out). A layer without a transcoder keeps its whole MLP output as
// its error nodes.
func NewReplacement(m *model.Model, ts []*sae.SAE, tokens []int) (*Replacement, error) {
	if len(ts) == 0 {
		return nil, errors.New("attrgraph: no transcoders")
	}
	bl := map[int]*sae.SAE{}
	for _, s := range ts {
		if err := transcoder.Check(m.Config, s); err != nil {
			return nil, fmt.Errorf("attrgraph: %w", err)
		}
		if err := s.Config.CheckLinear("attribution graph"); err != nil {
			return nil, fmt.Errorf("attrgraph: %w", err)
		}
		l := transcoder.Layer(s)
		if _, dup := bl[l]; dup {
			return nil, fmt.Errorf("attrgraph: two transcoders for layer %d", l)
		}
		bl[l] = s
	}
	return newReplacement(m, bl, nil, tokens)
}

// NewReplacementCLT is NewReplacement over a cross-layer transcoder: layer m's error node is its
// MLP output minus the CLT's reconstruction from the latents of every layer <= m.
func NewReplacementCLT(m *model.Model, clt *transcoder.CLT, tokens []int) (*Replacement, error) {
	if err := transcoder.CheckCLT(m.Config, clt); err != nil {
		return nil, fmt.Errorf("attrgraph: %w", err)
	}
	bl := map[int]*sae.SAE{}
	for l, s := range clt.Layers {
		bl[l] = s
	}
	return newReplacement(m, bl, clt, tokens)
}

func newReplacement(m *model.Model, bl map[int]*sae.SAE, clt *transcoder.CLT, tokens []int) (*Replacement, error) {
	c := m.Config
	if !c.HasMLP() {
		return nil, errors.New("attrgraph: the model has no MLPs to replace (attention-only)")
	}
	if len(tokens) == 0 {
		return nil, errors.New("attrgraph: empty prompt")
	}
	for l, s := range bl {
		if in, out := s.Config.Site.Hook, s.Config.TargetSite().Hook; in != transcoder.InputHook(c, l) || out != transcoder.TargetHook(l) {
			return nil, fmt.Errorf("attrgraph: the layer %d transcoder maps %s -> %s; an attribution graph needs %s -> %s",
				l, in, out, transcoder.InputHook(c, l), transcoder.TargetHook(l))
		}
	}
	tt, err := model.Tokens([][]int{tokens})
	if err != nil {
		return nil, err
	}
	if err := m.CheckTokens(tt); err != nil {
		return nil, err
	}
	out, err := m.Run(tt, hooks.New().CacheAll())
	if err != nil {
		return nil, err
	}
	P := len(tokens)
	r := &Replacement{m: m, cfg: c, Tokens: slices.Clone(tokens), P: P, ts: bl, clt: clt, cache: out.Cache,
		logits: tensors.MustCopyFlatData[float32](out.Logits), lat: make([][]float32, c.NLayers), errs: make([][]float32, c.NLayers)}
	r.embed = r.act(hooks.Embed)
	if c.PositionalEmbeddings {
		for i, v := range r.act(hooks.PosEmbed) {
			r.embed[i] += v
		}
	}
	for l, s := range bl {
		xt := tensors.FromFlatDataAndDimensions(r.act(s.Config.Site.Hook), P, s.Config.DIn)
		f, err := s.Encode(xt)
		if err != nil {
			return nil, fmt.Errorf("attrgraph: layer %d transcoder: %w", l, err)
		}
		r.lat[l] = tensors.MustCopyFlatData[float32](f)
	}
	for l := range c.NLayers {
		y := r.act(hooks.MLPOut(l))
		var rc []float32
		switch s, ok := bl[l]; {
		case clt != nil:
			rc = clt.Reconstruct(l, r.lat, P)
		case ok:
			xt := tensors.FromFlatDataAndDimensions(r.act(s.Config.Site.Hook), P, s.Config.DIn)
			recon, err := s.Decode(tensors.FromFlatDataAndDimensions(slices.Clone(r.lat[l]), P, s.Config.DSAE), xt)
			if err != nil {
				return nil, fmt.Errorf("attrgraph: layer %d transcoder: %w", l, err)
			}
			rc = tensors.MustCopyFlatData[float32](recon)
		}
		for i := range rc {
			y[i] -= rc[i]
		}
		r.errs[l] = y
	}
	return r, nil
}

// decoderRow returns the decoder vector of latent f of layer l into layer m's output ([D]), read
// from the dictionary's tensor without copying the rest of it.
func (r *Replacement) decoderRow(l, f, m int) []float32 {
	if r.clt != nil {
		return r.clt.Decoder(l, f, m)
	}
	D := r.cfg.DModel
	var row []float32
	tensors.MustConstFlatData(r.ts[l].Params["W_dec"], func(dec []float32) { row = slices.Clone(dec[f*D : (f+1)*D]) })
	return row
}

// decoderTensor returns the decoders of layer l's latents into layer m's output, [F, D].
func (r *Replacement) decoderTensor(l, m int) *tensors.Tensor {
	if r.clt != nil {
		return tensors.FromFlatDataAndDimensions(r.clt.DecoderInto(l, m), r.clt.Config().DSAE, r.cfg.DModel)
	}
	return r.ts[l].Params["W_dec"]
}

// writes lists the layers whose outputs layer l's latents write to.
func (r *Replacement) writes(l int) []int {
	if r.clt == nil {
		return []int{l}
	}
	var out []int
	for m := l; m < r.cfg.NLayers; m++ {
		out = append(out, m)
	}
	return out
}

// CLT returns the cross-layer transcoder (nil for per-layer transcoders).
func (r *Replacement) CLT() *transcoder.CLT { return r.clt }

// act returns a host copy of the cached activation name (row 0).
func (r *Replacement) act(name string) []float32 {
	return tensors.MustCopyFlatData[float32](r.cache.MustGet(name))
}

// Config is the model's configuration.
func (r *Replacement) Config() model.Config { return r.cfg }

// Logits returns the model's logits at position t ([V]).
func (r *Replacement) Logits(t int) []float32 {
	V := r.cfg.DVocab
	return r.logits[t*V : (t+1)*V]
}

// Transcoder returns layer l's transcoder (nil without one).
func (r *Replacement) Transcoder(l int) *sae.SAE { return r.ts[l] }

// Latents returns layer l's latents at position t ([F]; nil without a transcoder).
func (r *Replacement) Latents(l, t int) []float32 {
	s, ok := r.ts[l]
	if !ok {
		return nil
	}
	F := s.Config.DSAE
	return r.lat[l][t*F : (t+1)*F]
}

// Error returns layer l's error node at position t: its MLP output minus the transcoder's
// reconstruction ([D]; the whole MLP output without a transcoder).
func (r *Replacement) Error(l, t int) []float32 {
	D := r.cfg.DModel
	return r.errs[l][t*D : (t+1)*D]
}

// transcoders lists the transcoders by layer.
func (r *Replacement) transcoders() []*sae.SAE {
	var out []*sae.SAE
	for l := range r.cfg.NLayers {
		if s, ok := r.ts[l]; ok {
			out = append(out, s)
		}
	}
	return out
}

// scaleNames lists the norm scales a frozen run holds at the prompt's values: every block norm
// and the final norm (the query/key norms only feed the frozen patterns).
func (r *Replacement) scaleNames() []string {
	c := r.cfg
	if !c.HasNorm() {
		return nil
	}
	var names []string
	for l := range c.NLayers {
		if c.PreNorms() {
			names = append(names, hooks.LN1Scale(l), hooks.LN2Scale(l))
		}
		if c.PostNorms() {
			names = append(names, fmt.Sprintf("blocks.%d.ln1_post.hook_scale", l), fmt.Sprintf("blocks.%d.ln2_post.hook_scale", l))
		}
	}
	return append(names, "ln_final.hook_scale")
}

// Freeze adds to set the hooks that hold the attention patterns and the norm scales at their
// values on the prompt (a run of the same tokens, batch 1).
func (r *Replacement) Freeze(set *hooks.Set) {
	for _, n := range r.scaleNames() {
		set.Replace(n, r.cache.MustGet(n))
	}
	for l := range r.cfg.NLayers {
		set.Replace(hooks.Pattern(l), r.cache.MustGet(hooks.Pattern(l)))
	}
}

// Hooks adds to set the local replacement model: each transcoder replaces its MLP, with the
// error node added back as a constant (a layer without a transcoder is all error: its MLP's
// output is held at its value on the prompt); with frozen, attention patterns and norm scales are
// held at the prompt's values (Freeze). On the prompt itself it reproduces the model's logits.
func (r *Replacement) Hooks(set *hooks.Set, frozen bool) error {
	if r.clt != nil {
		if err := transcoder.ReplaceCLT(set, r.cfg, r.clt); err != nil {
			return err
		}
	} else if err := transcoder.Replace(set, r.cfg, r.transcoders(), false); err != nil {
		return err
	}
	D := r.cfg.DModel
	for l := range r.cfg.NLayers {
		if _, ok := r.ts[l]; ok {
			set.Add(hooks.MLPOut(l), tensors.FromFlatDataAndDimensions(slices.Clone(r.errs[l]), 1, r.P, D))
		} else {
			set.Replace(hooks.MLPOut(l), r.cache.MustGet(hooks.MLPOut(l))) // all error: held
		}
	}
	if frozen {
		r.Freeze(set)
	}
	return nil
}

// Run runs the prompt through the model with set's hooks (the replacement's, and any others).
func (r *Replacement) Run(set *hooks.Set) (*model.Output, error) {
	tt, err := model.Tokens([][]int{r.Tokens})
	if err != nil {
		return nil, err
	}
	return r.m.Run(tt, set)
}
