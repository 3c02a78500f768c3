package transcoder

import (
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
)

// Analysis holds one prompt's run of a model with the latents of its transcoders, on the host,
// for attributing a feature's pre-activation or a logit to everything upstream (see doc.go,
// "Circuit analysis"). Shapes: P positions, D d_model, H heads, K d_head, F latents.
type Analysis struct {
	cfg    model.Config
	Tokens []int
	P      int
	ts     map[int]*sae.SAE
	w      map[string][]float32 // model weights by name
	act    map[string][]float32 // cached activations of row 0, by hook name
	lat    map[int][]float32    // [P, F] latents per transcoder layer
	pre    map[int][]float32    // [P, F] pre-activations
	recon  map[int][]float32    // [P, D] transcoder outputs
	skip   map[int][]float32    // [P, D] skip terms (skip transcoders)
	logits []float32            // [P, V]
	tc     map[int]*tcWeights
}

// tcWeights are a transcoder's tensors on the host.
type tcWeights struct {
	c                    sae.Config
	enc, dec, bEnc, bDec []float32 // [DIn, F], [F, D], [F], [D]
	skip                 []float32 // [D, DIn] or nil
	encBias              []float64 // [F] the constant part of each pre-activation (see constant)
}

// NewAnalysis runs m on one prompt (token ids) with every hook cached and encodes the MLP
// inputs with the transcoders (at most one per layer; each must read its layer's MLP input and
// reconstruct its hook_mlp_out). MLPs without a transcoder stay whole nodes in the attribution.
func NewAnalysis(m *model.Model, ts []*sae.SAE, tokens []int) (*Analysis, error) {
	c := m.Config
	if !c.HasMLP() {
		return nil, errors.New("transcoder: analysis: the model has no MLPs")
	}
	for _, s := range ts {
		if err := s.Config.CheckLinear("transcoder: weight-based analysis"); err != nil {
			return nil, err
		}
	}
	if len(tokens) == 0 {
		return nil, errors.New("transcoder: analysis: empty prompt")
	}
	bl, err := byLayer(c, ts)
	if err != nil {
		return nil, err
	}
	for l, s := range bl {
		if s.Config.Site.Hook != InputHook(c, l) || s.Config.TargetSite().Hook != TargetHook(l) {
			return nil, fmt.Errorf("transcoder: analysis: the layer %d transcoder maps %s -> %s; attribution needs %s -> %s",
				l, s.Config.Site.Hook, s.Config.TargetSite().Hook, InputHook(c, l), TargetHook(l))
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
	a := &Analysis{cfg: c, Tokens: tokens, P: len(tokens), ts: bl, w: map[string][]float32{}, act: map[string][]float32{},
		lat: map[int][]float32{}, pre: map[int][]float32{}, recon: map[int][]float32{}, skip: map[int][]float32{},
		tc: map[int]*tcWeights{}, logits: tensors.MustCopyFlatData[float32](out.Logits)}
	for name, t := range m.Weights.Tensors {
		a.w[name] = tensors.MustCopyFlatData[float32](t)
	}
	for _, name := range out.Cache.Names() {
		a.act[name] = tensors.MustCopyFlatData[float32](out.Cache.MustGet(name))
	}
	D := c.DModel
	for l, s := range bl {
		sc := s.Config
		tw := &tcWeights{c: sc, enc: s.Flat("W_enc"), dec: s.Flat("W_dec"), bEnc: s.Flat("b_enc"), bDec: s.Flat("b_dec")}
		if sc.Skip {
			tw.skip = s.Flat("W_skip")
		}
		a.tc[l] = tw
		x := a.act[sc.Site.Hook] // [P, DIn]
		F := sc.DSAE
		pre := make([]float32, a.P*F)
		for t := range a.P {
			for j := range F {
				v := float64(tw.bEnc[j])
				for i := range sc.DIn {
					xi := float64(x[t*sc.DIn+i])
					if sc.ApplyBDecToInput {
						xi -= float64(tw.bDec[i])
					}
					v += xi * float64(tw.enc[i*F+j])
				}
				pre[t*F+j] = float32(v)
			}
		}
		a.pre[l] = pre
		xt := tensors.FromFlatDataAndDimensions(x, a.P, sc.DIn)
		f, err := s.Encode(xt)
		if err != nil {
			return nil, err
		}
		rt, err := s.Decode(f, xt)
		if err != nil {
			return nil, err
		}
		a.lat[l], a.recon[l] = tensors.MustCopyFlatData[float32](f), tensors.MustCopyFlatData[float32](rt)
		if sc.Skip {
			sk := make([]float32, a.P*D)
			for t := range a.P {
				for o := range D {
					var v float64
					for i := range sc.DIn {
						v += float64(tw.skip[o*sc.DIn+i]) * float64(x[t*sc.DIn+i])
					}
					sk[t*D+o] = float32(v)
				}
			}
			a.skip[l] = sk
		}
		tw.encBias = make([]float64, F)
		for j := range F {
			tw.encBias[j] = a.encConstant(l, tw, j)
		}
	}
	return a, nil
}

// encConstant is the part of latent j's pre-activation that no residual component moves: the
// LayerNorm bias read by the encoder, b_enc, and -b_dec W_enc with ApplyBDecToInput.
func (a *Analysis) encConstant(l int, tw *tcWeights, j int) float64 {
	F := tw.c.DSAE
	v := float64(tw.bEnc[j])
	var lnB []float32
	if a.cfg.HasLN() && a.cfg.PreNorms() {
		lnB = a.w[fmt.Sprintf("blocks.%d.ln2.b", l)]
	}
	for i := range tw.c.DIn {
		var x float64
		if lnB != nil {
			x = float64(lnB[i])
		}
		if tw.c.ApplyBDecToInput {
			x -= float64(tw.bDec[i])
		}
		v += x * float64(tw.enc[i*F+j])
	}
	return v
}

// Latents returns the latents of layer l's transcoder at position t ([F]; nil without one).
func (a *Analysis) Latents(l, t int) []float32 {
	lat, ok := a.lat[l]
	if !ok {
		return nil
	}
	F := a.tc[l].c.DSAE
	return lat[t*F : (t+1)*F]
}

// point is where a target vector reads the residual stream: entering block layer's attention
// (resid_pre) or, with mid, its MLP (resid_mid). layer = NLayers is the final stream. With a
// parallel residual an MLP reads its layer's resid_pre: its point has mid false.
type point struct {
	layer int
	mid   bool
}

// mlpPoint is where layer l's MLP reads the residual stream.
func (a *Analysis) mlpPoint(l int) point { return point{l, !a.cfg.ParallelResidual} }

// lnPullback turns a direction v read after a norm (at position t; name its hooks and weights)
// into the direction in the residual stream before it, the norm's scale held at its value on this
// input: center(w . v) / scale for a LayerNorm, (w . v) / scale for an RMSNorm. Without the norm
// (none, or blocks without pre-norms for ln1/ln2) it is v.
func (a *Analysis) lnPullback(name string, t int, v []float64) []float64 {
	c := a.cfg
	if !c.HasNorm() || (name != "ln_final" && !c.PreNorms()) {
		return v
	}
	return a.pullback(name, t, v)
}

// pullback is v through the norm name at position t with its scale held (lnPullback).
func (a *Analysis) pullback(name string, t int, v []float64) []float64 {
	c := a.cfg
	w := a.w[name+".w"]
	scale := float64(a.act[name+".hook_scale"][t])
	out := make([]float64, len(v))
	var mean float64
	for i := range v {
		out[i] = v[i] * float64(w[i])
		mean += out[i]
	}
	if !c.HasLN() {
		mean = 0 // RMSNorm does not centre
	}
	mean /= float64(len(v))
	for i := range out {
		out[i] = (out[i] - mean) / scale
	}
	return out
}

// attnPullback turns a direction e read from layer l's attention output (hook_attn_out at
// position t) into the direction the heads' summed output (before the norm after attention,
// ln1_post) is read in, that norm's scale held at its value on this input: center(w . e) / scale
// as lnPullback. Without a norm after attention it is e.
func (a *Analysis) attnPullback(l, t int, e []float64) []float64 {
	if !a.cfg.PostNorms() {
		return e
	}
	return a.pullback(fmt.Sprintf("blocks.%d.ln1_post", l), t, e)
}

func dot32(a []float32, b []float64) float64 {
	var s float64
	for i, x := range a {
		s += float64(x) * b[i]
	}
	return s
}

// contributions lists every component written into the residual stream before p at position t,
// with its contribution to the stream's dot product with e: their sum is resid[t] . e exactly.
func (a *Analysis) contributions(e []float64, p point, t int) []Node {
	c := a.cfg
	D, H, Hkv, K := c.DModel, c.NHeads, c.KVHeads(), c.DHead
	P := a.P
	var out []Node
	leaf := func(n Node, v float64) {
		n.Contribution, n.Act, n.Weight = v, 1, v
		out = append(out, n)
	}
	leaf(Node{Kind: KindEmbed, Layer: -1, Pos: t, Token: a.Tokens[t]}, dot32(a.act[hooks.Embed][t*D:(t+1)*D], e))
	if c.PositionalEmbeddings {
		leaf(Node{Kind: KindPosEmbed, Layer: -1, Pos: t, Token: a.Tokens[t]}, dot32(a.act[hooks.PosEmbed][t*D:(t+1)*D], e))
	}
	last := p.layer - 1
	if p.mid {
		last = p.layer
	}
	for k := 0; k <= last; k++ {
		bp := fmt.Sprintf("blocks.%d.attn.", k)
		wO, v, pat := a.w[bp+"W_O"], a.act[hooks.V(k)], a.act[hooks.Pattern(k)]
		ea := a.attnPullback(k, t, e) // e as the heads' summed output is read
		for h := range H {
			u := make([]float64, K) // W_O[h] ea
			for kk := range K {
				u[kk] = dot32(wO[(h*K+kk)*D:(h*K+kk+1)*D], ea)
			}
			kv := c.KVHead(h) // hook_v has the key/value heads
			for s := 0; s <= t; s++ {
				w := dot32(v[(s*Hkv+kv)*K:(s*Hkv+kv+1)*K], u)
				pa := float64(pat[(h*P+t)*P+s])
				out = append(out, Node{Kind: KindHead, Layer: k, Head: h, Pos: t, Src: s, Token: a.Tokens[s],
					Contribution: pa * w, Act: pa, Weight: w})
			}
		}
		bias := dot32(a.w[bp+"b_O"], ea)
		if c.PostNorms() && c.HasLN() {
			bias += dot32(a.w[fmt.Sprintf("blocks.%d.ln1_post.b", k)], e)
		}
		leaf(Node{Kind: KindAttnBias, Layer: k, Pos: t}, bias)
		if k == p.layer {
			break // the MLP of layer p.layer comes after a mid point
		}
		mlpOut := a.act[hooks.MLPOut(k)][t*D : (t+1)*D]
		tw, ok := a.tc[k]
		if !ok {
			leaf(Node{Kind: KindMLP, Layer: k, Pos: t}, dot32(mlpOut, e))
			continue
		}
		F := tw.c.DSAE
		for i, z := range a.lat[k][t*F : (t+1)*F] {
			if z == 0 {
				continue
			}
			w := dot32(tw.dec[i*D:(i+1)*D], e)
			out = append(out, Node{Kind: KindFeature, Layer: k, Latent: i, Pos: t, Contribution: float64(z) * w,
				Act: float64(z), Weight: w})
		}
		leaf(Node{Kind: KindTCBias, Layer: k, Pos: t}, dot32(tw.bDec, e))
		if tw.c.Skip {
			leaf(Node{Kind: KindSkip, Layer: k, Pos: t}, dot32(a.skip[k][t*D:(t+1)*D], e))
		}
		rec := a.recon[k][t*D : (t+1)*D]
		errV := make([]float32, D)
		for i := range D {
			errV[i] = mlpOut[i] - rec[i]
		}
		leaf(Node{Kind: KindError, Layer: k, Pos: t}, dot32(errV, e))
	}
	for i := range out {
		out[i].Token = a.Tokens[out[i].tokenPos()]
	}
	return out
}

// expand returns the target vector, read point and position that continue a path through n
// (scaled so that a component's contribution to it is its contribution to the path's target),
// or ok false for a leaf.
func (a *Analysis) expand(n Node, e []float64) (next []float64, p point, t int, ok bool) {
	c := a.cfg
	D, K := c.DModel, c.DHead
	switch n.Kind {
	case KindFeature:
		tw := a.tc[n.Layer]
		F := tw.c.DSAE
		v := make([]float64, tw.c.DIn)
		for i := range v {
			v[i] = n.Weight * float64(tw.enc[i*F+n.Latent])
		}
		return a.lnPullback(fmt.Sprintf("blocks.%d.ln2", n.Layer), n.Pos, v), a.mlpPoint(n.Layer), n.Pos, true
	case KindSkip:
		tw := a.tc[n.Layer]
		v := make([]float64, tw.c.DIn)
		for o := range D {
			for i := range v {
				v[i] += float64(tw.skip[o*tw.c.DIn+i]) * e[o]
			}
		}
		return a.lnPullback(fmt.Sprintf("blocks.%d.ln2", n.Layer), n.Pos, v), a.mlpPoint(n.Layer), n.Pos, true
	case KindHead:
		bp := fmt.Sprintf("blocks.%d.attn.", n.Layer)
		wO, wV := a.w[bp+"W_O"], a.w[bp+"W_V"]
		h, kv := n.Head, c.KVHead(n.Head)
		ea := a.attnPullback(n.Layer, n.Pos, e)
		u := make([]float64, K)
		for kk := range K {
			u[kk] = n.Act * dot32(wO[(h*K+kk)*D:(h*K+kk+1)*D], ea)
		}
		v := make([]float64, D) // W_V[kv(h)] u
		for d := range D {
			v[d] = dot32(wV[(kv*D+d)*K:(kv*D+d+1)*K], u)
		}
		return a.lnPullback(fmt.Sprintf("blocks.%d.ln1", n.Layer), n.Src, v), point{n.Layer, false}, n.Src, true
	}
	return nil, point{}, 0, false
}

// Target is what an attribution explains: a transcoder latent's pre-activation at a position,
// or a logit (or logit difference) at a position.
type Target struct {
	// Feature targets: the transcoder's layer and latent.
	Layer, Latent int
	// Logit targets (Logit true): logit[Token] - logit[Wrong] (Wrong < 0: logit[Token] alone).
	Logit        bool
	Token, Wrong int
	Pos          int
}

// FeatureTarget is latent of layer's transcoder at position pos.
func FeatureTarget(layer, latent, pos int) Target {
	return Target{Layer: layer, Latent: latent, Pos: pos}
}

// LogitTarget is logit[token] - logit[wrong] at position pos (wrong < 0: logit[token]).
func LogitTarget(pos, token, wrong int) Target {
	return Target{Logit: true, Token: token, Wrong: wrong, Pos: pos}
}

// targetVector returns the residual-stream direction e whose dot product with the stream at p
// is the target minus const, the target's value, and the node that represents it.
func (a *Analysis) targetVector(tg Target) (e []float64, p point, constant float64, n Node, err error) {
	c := a.cfg
	if tg.Pos < 0 || tg.Pos >= a.P {
		return nil, p, 0, n, fmt.Errorf("transcoder: target position %d out of range [0, %d)", tg.Pos, a.P)
	}
	D := c.DModel
	if tg.Logit {
		V := c.DVocab
		if tg.Token < 0 || tg.Token >= V || tg.Wrong >= V {
			return nil, p, 0, n, fmt.Errorf("transcoder: logit target: token %d or %d out of range [0, %d)", tg.Token, tg.Wrong, V)
		}
		dir := make([]float64, D)
		for d := range D {
			dir[d] = a.unembed(d, tg.Token)
			if tg.Wrong >= 0 {
				dir[d] -= a.unembed(d, tg.Wrong)
			}
		}
		if c.HasLN() {
			constant = dot32(a.w["ln_final.b"], dir)
		}
		if c.UnembedBias {
			bU := a.w["unembed.b_U"]
			constant += float64(bU[tg.Token])
			if tg.Wrong >= 0 {
				constant -= float64(bU[tg.Wrong])
			}
		}
		e = a.lnPullback("ln_final", tg.Pos, dir)
		val := a.logit(tg.Pos, tg.Token)
		if tg.Wrong >= 0 {
			val -= a.logit(tg.Pos, tg.Wrong)
		}
		n = Node{Kind: KindLogit, Layer: c.NLayers, Pos: tg.Pos, Token: tg.Token, Wrong: tg.Wrong, Act: val,
			Contribution: val - constant, Weight: 1}
		return e, point{c.NLayers, false}, constant, n, nil
	}
	tw, ok := a.tc[tg.Layer]
	if !ok {
		return nil, p, 0, n, fmt.Errorf("transcoder: no transcoder for layer %d", tg.Layer)
	}
	F := tw.c.DSAE
	if tg.Latent < 0 || tg.Latent >= F {
		return nil, p, 0, n, fmt.Errorf("transcoder: latent %d out of range [0, %d) of the layer %d transcoder", tg.Latent, F, tg.Layer)
	}
	v := make([]float64, tw.c.DIn)
	for i := range v {
		v[i] = float64(tw.enc[i*F+tg.Latent])
	}
	e = a.lnPullback(fmt.Sprintf("blocks.%d.ln2", tg.Layer), tg.Pos, v)
	constant = tw.encBias[tg.Latent]
	pre := float64(a.pre[tg.Layer][tg.Pos*F+tg.Latent])
	n = Node{Kind: KindFeature, Layer: tg.Layer, Latent: tg.Latent, Pos: tg.Pos, Token: a.Tokens[tg.Pos],
		Act: float64(a.lat[tg.Layer][tg.Pos*F+tg.Latent]), Contribution: pre - constant, Weight: 1}
	return e, a.mlpPoint(tg.Layer), constant, n, nil
}

// logit is the logit of token v at position t before any soft-cap (Gemma 2's final cap is monotone
// in it; circuit-tracer and attrgraph attribute the same quantity): the forward pass's logit, or
// with a cap the final normalised stream times the unembedding (+ b_U).
func (a *Analysis) logit(t, v int) float64 {
	c := a.cfg
	if c.OutputSoftcap == 0 {
		return float64(a.logits[t*c.DVocab+v])
	}
	x := a.act[hooks.ResidPost(c.NLayers-1)]
	if c.HasNorm() {
		x = a.act["ln_final.hook_normalized"]
	}
	D := c.DModel
	var val float64
	for d := range D {
		val += float64(x[t*D+d]) * a.unembed(d, v)
	}
	if c.UnembedBias {
		val += float64(a.w["unembed.b_U"][v])
	}
	return val
}

// unembed is W_U[d, v] (W_E[v, d] for tied embeddings).
func (a *Analysis) unembed(d, v int) float64 {
	c := a.cfg
	if c.TiedEmbeddings {
		return float64(a.w["embed.W_E"][v*c.DModel+d])
	}
	return float64(a.w["unembed.W_U"][d*c.DVocab+v])
}

// Attribution is a target's direct decomposition.
type Attribution struct {
	Target Node `json:"target"`
	// Value is the target's pre-activation (or logit difference); Constant the part no
	// component moves (biases read through LayerNorm); Value = Constant + sum of the
	// contributions.
	Value    float64 `json:"value"`
	Constant float64 `json:"constant"`
	// Nodes are every upstream component's contribution, largest magnitude first.
	Nodes []Node `json:"nodes"`
}

// Attribute decomposes a target into the direct contributions of every upstream component:
// transcoder features (activation x decoder . encoder), attention heads per source position
// (pattern x OV), token and positional embeddings, biases, skip terms and the transcoders'
// errors. The LayerNorm scales are held at their values on this prompt, so the sum is exact.
func (a *Analysis) Attribute(tg Target) (*Attribution, error) {
	e, p, constant, n, err := a.targetVector(tg)
	if err != nil {
		return nil, err
	}
	nodes := a.contributions(e, p, tg.Pos)
	sortByMagnitude(nodes)
	return &Attribution{Target: n, Value: n.Contribution + constant, Constant: constant, Nodes: nodes}, nil
}

func sortByMagnitude(ns []Node) {
	sortSlice(ns, func(i, j int) bool { return math.Abs(ns[i].Contribution) > math.Abs(ns[j].Contribution) })
}
