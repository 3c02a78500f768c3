package attrgraph

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// The backward pass of the local replacement model (see doc.go, "Edges"). With the attention
// patterns and norm scales frozen and every MLP's output a sum of sources (features, error), the
// residual stream is affine in the sources, and the gradient of a target's value with respect to
// the stream is a fixed linear map of the target's vector. For a batch of targets (layer l_b,
// position t_b, vector u_b) the graph below walks the blocks from the top down, keeping
// g [B, P, D], the gradient with respect to the residual stream at the current point:
//
//	final      g  = J_ln_final^T (u_b at t_b)                      (logit targets)
//	block k    read the sources written at mlp_out^k: a_f W_dec[f] . g[t_f], err^k[t] . g[t]
//	           g_in = (u_b at t_b, for targets at layer k) + g W_skip (skip transcoders)
//	           g   += J_ln2^T g_in                                 (into the stream the MLP reads)
//	           g   += J_ln1^T OV^T(J_ln1_post^T g)                 (attention, patterns frozen)
//	embedding  read the token nodes: embed[t] . g[t]
//
// with J^T v = center(w * v) / scale for a LayerNorm held at scale (w * v / scale for an RMSNorm)
// and OV^T(g)[s] = sum_h sum_t pattern[h, t, s] W_V[kv(h)] W_O[h] g[t]. With a parallel residual
// attention and MLP read the same resid_pre, so both terms use the g of resid_post. A read before
// a target's layer sees zero, so a feature's row holds only earlier layers' sources.

// adjoint holds one prompt's constants of the backward graph and its compiled graphs.
type adjoint struct {
	r     *Replacement
	feats []Feature // the active features, by layer, position, index
	byL   [][]int   // indices into feats per layer
	nSrc  int       // sources: features, errors (L*P), tokens (P)
	execs map[[3]int]*graph.Exec

	// shared are the large constants of every backward graph (each layer's W_O and W_V, the
	// features' decoder vectors), fed as inputs so that the compiled graphs (one per highest layer
	// and batch size) share them instead of each holding a copy; sharedAt indexes them by key.
	shared   []*tensors.Tensor
	sharedAt map[string]int
}

// share returns the index of the shared input key, making it with make on first use.
func (a *adjoint) share(key string, make func() *tensors.Tensor) int {
	if i, ok := a.sharedAt[key]; ok {
		return i
	}
	a.shared = append(a.shared, make())
	a.sharedAt[key] = len(a.shared) - 1
	return len(a.shared) - 1
}

// prepareShared makes every shared input, in a fixed order, before any graph is built: the
// model's own W_O [H, K, D] and W_V [Hkv, D, K] of each layer, and the decoder vectors a_f W_dec[f]
// that layer l's active features write into layer k's output, [n, D] (a [1, D] zero row when
// layer l has none there).
func (a *adjoint) prepareShared() {
	if a.sharedAt != nil {
		return
	}
	a.sharedAt = map[string]int{}
	r, D := a.r, a.r.cfg.DModel
	for k := range r.cfg.NLayers {
		at := fmt.Sprintf("blocks.%d.attn.", k)
		a.share(at+"W_O", func() *tensors.Tensor { return r.m.Weights.Tensors[at+"W_O"] })
		a.share(at+"W_V", func() *tensors.Tensor { return r.m.Weights.Tensors[at+"W_V"] })
	}
	for l := range r.cfg.NLayers {
		for _, k := range r.writes(l) {
			a.share(fmt.Sprintf("dec/%d/%d", l, k), func() *tensors.Tensor {
				vecs := a.decoderVecs(l, k)
				if len(vecs) == 0 {
					return tensors.FromFlatDataAndDimensions(make([]float32, D), 1, D)
				}
				return tensors.FromFlatDataAndDimensions(vecs, len(vecs)/D, D)
			})
		}
	}
}

func newAdjoint(r *Replacement, feats []Feature) *adjoint {
	a := &adjoint{r: r, feats: feats, byL: make([][]int, r.cfg.NLayers), execs: map[[3]int]*graph.Exec{}}
	for i, f := range feats {
		a.byL[f.Layer] = append(a.byL[f.Layer], i)
	}
	a.nSrc = len(feats) + (r.cfg.NLayers+1)*r.P
	return a
}

// rows returns the attribution rows [B, nSrc] of a batch of targets: layers (NLayers for a
// logit), positions and vectors [B, D] (a feature's encoder column, a logit's demeaned
// unembedding). The batch is run by the graph for its highest layer.
func (a *adjoint) rows(layers, pos []int, vecs []float32) ([]float32, error) {
	B := len(layers)
	top := 0
	tl, tp := make([]int32, B), make([]int32, B)
	for i := range B {
		top = max(top, layers[i])
		tl[i], tp[i] = int32(layers[i]), int32(pos[i])
	}
	return a.run(top, false, tl, tp, vecs)
}

// headRows returns one target's attribution rows split by the last attention head on each path
// ([1 + L*H, nSrc]): row 0 holds the paths through no head, row 1 + k*H + h those whose last
// head is (k, h). The rows sum to the target's row.
func (a *adjoint) headRows(layer, pos int, vec []float32) ([]float32, error) {
	c := a.r.cfg
	B, D := 1+c.NLayers*c.NHeads, c.DModel
	tl, tp := make([]int32, B), make([]int32, B)
	for i := range tl {
		tl[i] = -1 // only row 0 carries the target
	}
	tl[0], tp[0] = int32(layer), int32(pos)
	vecs := make([]float32, B*D)
	copy(vecs, vec)
	return a.run(layer, true, tl, tp, vecs)
}

// run executes (compiling once per highest layer, batch size and split) the backward pass.
func (a *adjoint) run(top int, split bool, tl, tp []int32, vecs []float32) ([]float32, error) {
	B, D := len(tl), a.r.cfg.DModel
	a.prepareShared()
	key := [3]int{top, B, map[bool]int{false: 0, true: 1}[split]}
	ex, ok := a.execs[key]
	if !ok {
		err := model.Catch(func() {
			var err error
			ex, err = graph.NewExec(a.r.m.Backend, func(in []*graph.Node) *graph.Node {
				return a.backward(top, split, in[0], in[1], in[2], in[3:])
			})
			if err != nil {
				panic(err)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("attrgraph: backward graph: %w", err)
		}
		a.execs[key] = ex
	}
	var out []*tensors.Tensor
	err := model.Catch(func() {
		var err error
		args := []any{tensors.FromFlatDataAndDimensions(tl, B), tensors.FromFlatDataAndDimensions(tp, B), tensors.FromFlatDataAndDimensions(vecs, B, D)}
		for _, t := range a.shared {
			args = append(args, t)
		}
		out, err = ex.Exec(args...)
		if err != nil {
			panic(err)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("attrgraph: backward pass: %w", err)
	}
	return tensors.MustCopyFlatData[float32](out[0]), nil
}

// backward builds the backward pass for targets of layers <= top: tl, tp [B] int32, tv [B, D].
// With split, row 0 is one target and the other rows are its paths by their last head: the
// attention step sends row 0's gradient through each head (k, h) into row 1 + k*H + h instead
// of back into row 0 (rows already labelled go through every head and keep their label).
func (a *adjoint) backward(top int, split bool, tl, tp, tv *graph.Node, shared []*graph.Node) *graph.Node {
	r, c := a.r, a.r.cfg
	sh := func(key string) *graph.Node { return shared[a.sharedAt[key]] }
	gg := tl.Graph()
	B, P, D, L := tv.Shape().Dimensions[0], r.P, c.DModel, c.NLayers
	w := r.m.Weights
	cst := func(flat []float32, dims ...int) *graph.Node {
		return graph.ConstTensor(gg, tensors.FromFlatDataAndDimensions(flat, dims...))
	}
	zeros := func(n int) *graph.Node { return graph.Zeros(gg, shapes.Make(dtypes.Float32, B, n)) }

	// inject is u_b placed at position t_b for the targets of layer k, zero elsewhere: [B, P, D].
	inject := func(k int) *graph.Node {
		posIota := graph.Iota(gg, shapes.Make(dtypes.Int32, B, P), 1)
		at := graph.Equal(posIota, graph.BroadcastToDims(graph.InsertAxes(tp, -1), B, P))
		mine := graph.BroadcastToDims(graph.InsertAxes(graph.Equal(tl, graph.Scalar(gg, dtypes.Int32, k)), -1), B, P)
		m := graph.ConvertDType(graph.LogicalAnd(at, mine), dtypes.Float32) // [B, P]
		return graph.Mul(graph.BroadcastToDims(graph.InsertAxes(m, -1), B, P, D), graph.BroadcastToDims(graph.InsertAxes(tv, 1), B, P, D))
	}
	// pullback is J^T v [B, P, D] for the norm name held at its scales on the prompt.
	pullback := func(name string, v *graph.Node) *graph.Node {
		y := graph.Mul(v, graph.BroadcastToDims(graph.Reshape(cst(w.Flat(name+".w"), D), 1, 1, D), B, P, D))
		if c.HasLN() {
			y = graph.Sub(y, graph.ReduceAndKeep(y, graph.ReduceMean, -1))
		}
		scale := cst(r.act(name+".hook_scale"), 1, P, 1)
		return graph.Div(y, graph.BroadcastToDims(scale, B, P, D))
	}
	pre := func(name string, v *graph.Node) *graph.Node {
		if !c.PreNorms() {
			return v
		}
		return pullback(name, v)
	}
	post := func(name string, v *graph.Node) *graph.Node {
		if !c.PostNorms() {
			return v
		}
		return pullback(name, v)
	}
	// attnT is OV^T(v) for layer k: v [B, P, D] at attn_out -> [B, P, D] at the attention's input.
	H, Hkv, K := c.NHeads, c.KVHeads(), c.DHead
	attnT := func(k int, v *graph.Node) *graph.Node {
		at := fmt.Sprintf("blocks.%d.attn.", k)
		wO, wV := sh(at+"W_O"), sh(at+"W_V")                                      // [H, K, D], [Hkv, D, K]
		pattern := cst(r.act(hooks.Pattern(k)), H, P, P)                          // [H, Pq, Pk]
		u := graph.DotGeneral(v, []int{2}, nil, wO, []int{2}, nil)                // [B, P, H, K]
		z := graph.DotGeneral(pattern, []int{1}, []int{0}, u, []int{1}, []int{2}) // [H, Pk, B, K]
		if G := H / Hkv; G > 1 {
			z = graph.ReduceSum(graph.Reshape(z, Hkv, G, P, B, K), 1) // [Hkv, Pk, B, K]
		}
		x := graph.DotGeneral(z, []int{0, 3}, nil, wV, []int{0, 2}, nil) // [Pk, B, D]
		return graph.TransposeAllAxes(x, 1, 0, 2)
	}
	// attnHeads is OV^T of each head separately for one gradient v [1, P, D]: [H, P, D].
	attnHeads := func(k int, v *graph.Node) *graph.Node {
		at := fmt.Sprintf("blocks.%d.attn.", k)
		wO := sh(at + "W_O")               // [H, K, D]
		wVkv, G := w.Flat(at+"W_V"), H/Hkv // [Hkv, D, K]
		wVh := make([]float32, 0, H*D*K)
		for h := range H {
			wVh = append(wVh, wVkv[(h/G)*D*K:(h/G+1)*D*K]...)
		}
		pattern := cst(r.act(hooks.Pattern(k)), H, P, P)                          // [H, Pq, Pk]
		u := graph.DotGeneral(v, []int{2}, nil, wO, []int{2}, nil)                // [1, P, H, K]
		z := graph.DotGeneral(pattern, []int{1}, []int{0}, u, []int{1}, []int{2}) // [H, Pk, 1, K]
		z = graph.Reshape(z, H, P, K)
		return graph.DotGeneral(z, []int{2}, []int{0}, cst(wVh, H, D, K), []int{2}, []int{0}) // [H, P, D]
	}
	// attnStep is the attention's backward step for the gradient v [B, P, D] after the post-norm.
	attnStep := func(k int, v *graph.Node) *graph.Node {
		full := attnT(k, v)
		if !split {
			return full
		}
		keep := make([]float32, B)
		for i := 1; i < B; i++ {
			keep[i] = 1
		}
		full = graph.Mul(full, graph.BroadcastToDims(cst(keep, B, 1, 1), B, P, D))
		per := attnHeads(k, graph.Slice(v, graph.AxisRange(0, 1)))
		parts := []*graph.Node{graph.Zeros(gg, shapes.Make(dtypes.Float32, 1+k*H, P, D)), per}
		if rest := B - 1 - (k+1)*H; rest > 0 {
			parts = append(parts, graph.Zeros(gg, shapes.Make(dtypes.Float32, rest, P, D)))
		}
		return graph.Add(full, graph.Concatenate(parts, 0))
	}
	// read dots g [B, P, D] with the vectors vecs [n, D] written at positions pos: [B, n].
	read := func(v *graph.Node, pos []int32, vecs *graph.Node) *graph.Node {
		n := len(pos)
		gathered := graph.Gather(graph.TransposeAllAxes(v, 1, 0, 2), graph.ConstTensor(gg, tensors.FromFlatDataAndDimensions(pos, n, 1))) // [n, B, D]
		out := graph.DotGeneral(gathered, []int{2}, []int{0}, vecs, []int{1}, []int{0})                                                   // [n, B]
		return graph.Transpose(out, 0, 1)
	}
	// readAll dots g with vecs [P, D], one per position: [B, P].
	readAll := func(v *graph.Node, vecs []float32) *graph.Node {
		return graph.Transpose(graph.DotGeneral(v, []int{2}, []int{1}, cst(vecs, P, D), []int{1}, []int{0}), 0, 1)
	}

	featParts, errParts := make([]*graph.Node, L), make([]*graph.Node, L)
	grad := graph.Zeros(gg, shapes.Make(dtypes.Float32, B, P, D))
	if top == L {
		grad = inject(L)
		if c.HasNorm() {
			grad = pullback("ln_final", grad)
		}
	}
	for l := range L {
		featParts[l] = zeros(len(a.byL[l]))
	}
	for k := L - 1; k >= 0; k-- {
		if top < L && k >= top { // nothing has reached this layer's output yet
			errParts[k] = zeros(P)
			if k > top {
				continue
			}
		} else {
			// Every layer whose latents write to this layer's output reads the gradient here.
			for l := 0; l <= k; l++ {
				if len(a.byL[l]) > 0 && slices.Contains(r.writes(l), k) {
					pos := a.decoderPos(l)
					featParts[l] = graph.Add(featParts[l], read(grad, pos, sh(fmt.Sprintf("dec/%d/%d", l, k))))
				}
			}
			errParts[k] = readAll(grad, r.errs[k])
		}
		// The gradient at the MLP's input: the targets of this layer, and the skip connection.
		var gin *graph.Node
		if s, ok := r.ts[k]; ok {
			gin = inject(k)
			if s.Config.Skip {
				wSkip := cst(s.Flat("W_skip"), D, s.Config.DIn)                                   // [DOut, DIn]
				gin = graph.Add(gin, graph.DotGeneral(grad, []int{2}, nil, wSkip, []int{0}, nil)) // [B, P, DIn]
			}
			gin = pre(fmt.Sprintf("blocks.%d.ln2", k), gin)
		}
		ln1, ln1Post := fmt.Sprintf("blocks.%d.ln1", k), fmt.Sprintf("blocks.%d.ln1_post", k)
		if c.ParallelResidual {
			next := graph.Add(grad, pre(ln1, attnStep(k, post(ln1Post, grad))))
			if gin != nil {
				next = graph.Add(next, gin)
			}
			grad = next
			continue
		}
		if gin != nil {
			grad = graph.Add(grad, gin) // the gradient at resid_mid
		}
		grad = graph.Add(grad, pre(ln1, attnStep(k, post(ln1Post, grad))))
	}
	parts := append(featParts, errParts...)
	parts = append(parts, readAll(grad, r.embed))
	var keep []*graph.Node
	for _, p := range parts {
		if p.Shape().Dimensions[1] > 0 {
			keep = append(keep, p)
		}
	}
	return graph.Concatenate(keep, 1) // [B, nSrc]
}

// decoderPos returns the positions of layer l's active features, in feature order.
func (a *adjoint) decoderPos(l int) []int32 {
	pos := make([]int32, len(a.byL[l]))
	for i, fi := range a.byL[l] {
		pos[i] = int32(a.feats[fi].Pos)
	}
	return pos
}

// decoderVecs returns the vectors a_f W_dec[f] [n, D] that layer l's active features write to
// layer k's output, in feature order (their positions: decoderPos).
func (a *adjoint) decoderVecs(l, k int) []float32 {
	D := a.r.cfg.DModel
	vecs := make([]float32, 0, len(a.byL[l])*D)
	for _, fi := range a.byL[l] {
		f := a.feats[fi]
		for _, x := range a.r.decoderRow(l, f.Index, k) {
			vecs = append(vecs, f.Act*x)
		}
	}
	return vecs
}
