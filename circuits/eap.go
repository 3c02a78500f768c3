package circuits

import (
	"fmt"
	"slices"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/internal/progress"
	"github.com/interp-dev/interp/model"
)

// Edge attribution patching (EAP, Syed et al. 2023) approximates the effect of ablating the edge
// s -> r with the corrupted output of s to first order:
//
//	score(s -> r) = sum_{b, p} (out_s^corrupted - out_s^clean)[b, p, :] . dm/dx_r[b, p, :]
//
// where x_r is the receiver's input before its LayerNorm (the residual stream as r reads it, per
// head and per q/k/v input) and m the mean logit difference. It takes one clean and one
// corrupted forward pass (the sender outputs) and one backward pass: hooks.Set.Grad gives dm/d
// hook_q / hook_k / hook_v / hook_mlp_pre / final hook_resid_post, and the chain rule back to x_r
// is done in a small graph per layer:
//
//	dm/dx_norm = W_Q[h] dm/dq[h]          (likewise k, v; W_in, and W_gate for gated MLPs, for MLPs)
//	dm/dx     = (g - mean(g) - xhat mean(g xhat)) / sigma,  g = w_ln * dm/dx_norm
//
// with xhat = (x - mean x) / sigma and sigma the cached hook_scale (for an RMSNorm x is not
// centred and the mean(g) term drops; identity without a pre-norm).
// EAP-IG (Hanna et al. 2024) replaces dm/dx_r by its average along the straight path between the
// corrupted and the clean token embeddings (hook_embed = e_corr + alpha (e_clean - e_corr)), one
// forward and backward pass per step, at the reference's alpha = k/steps for k = 0..steps-1 (a
// left Riemann sum from the corrupted end; get_scores_eap_ig of hannamw/EAP-IG, 30 steps by
// default) or, with IGRule "midpoint", alpha = (k + 1/2)/steps. EAP-IG-activations (method
// eap-ig-activations) instead interpolates one layer's output at a time (activationRuns).

// The EAP-IG interpolation rules.
const (
	IGLeft     = "left"
	IGMidpoint = "midpoint"
)

// igAlphas returns the interpolation points of EAP-IG.
func igAlphas(steps int, rule string) ([]float64, error) {
	if steps < 1 {
		return nil, fmt.Errorf("circuits: eap-ig: %d steps, want at least 1", steps)
	}
	off := 0.0
	switch rule {
	case IGLeft:
	case IGMidpoint:
		off = 0.5
	default:
		return nil, fmt.Errorf("circuits: eap-ig: rule %q (want %s or %s)", rule, IGLeft, IGMidpoint)
	}
	out := make([]float64, steps)
	for k := range out {
		out[k] = (float64(k) + off) / float64(steps)
	}
	return out, nil
}

// igRun sets up one gradient pass of EAP-IG: the hook replacements of that step.
type igRun func(set *hooks.Set)

// inputRuns are EAP-IG's passes (the reference's EAP-IG-inputs): the token embeddings
// interpolated from the corrupted to the clean prompts at each alpha.
func (e *experiment) inputRuns(alphas []float64) []igRun {
	var runs []igRun
	for _, a := range alphas {
		runs = append(runs, func(set *hooks.Set) {
			set.Replace(hooks.Embed, interpolate(e.corrOut.tokEmbed, e.cleanOut.tokEmbed, a))
		})
	}
	return runs
}

// activationRuns are the passes of EAP-IG-activations (the reference's get_scores_ig_activations):
// for each layer's output in turn (the embeddings, then each block's attention heads together and
// its MLP), that output interpolated from its corrupted to its clean value at alpha = k/steps,
// k = 1..steps, everything else clean.
func (e *experiment) activationRuns(steps int) []igRun {
	c := e.m.Config
	type site struct {
		hook        string
		corr, clean *tensors.Tensor
	}
	sites := []site{{hooks.ResidPre(0), e.corrOut.embed, e.cleanOut.embed}}
	for l := range c.NLayers {
		sites = append(sites, site{hooks.Result(l), e.corrOut.result[l], e.cleanOut.result[l]})
		if c.HasMLP() {
			sites = append(sites, site{hooks.MLPOut(l), e.corrOut.mlp[l], e.cleanOut.mlp[l]})
		}
	}
	var runs []igRun
	for _, st := range sites {
		for k := 1; k <= steps; k++ {
			a := float64(k) / float64(steps)
			runs = append(runs, func(set *hooks.Set) { set.Replace(st.hook, interpolate(st.corr, st.clean, a)) })
		}
	}
	return runs
}

// eapEdgeScores returns the signed score of every edge by name: the sender differences towards
// target (the corrupted run's outputs for patching, see intervention.go) dotted with each
// receiver's input gradient, averaged over the gradient passes runs (one plain clean pass, EAP,
// when there are none).
func (e *experiment) eapEdgeScores(runs []igRun, target *senderActs) (map[string]float64, error) {
	diffs := e.senderDiffs(target) // [S, N, P, D]
	acc := map[string]float64{}
	n := max(len(runs), 1)
	label := "eap"
	if len(runs) > 0 {
		label = "eap-ig"
	}
	bar := progress.New(n, label)
	defer bar.Finish()
	for k := range n {
		set := hooks.New()
		if len(runs) > 0 {
			runs[k](set)
		}
		out, err := e.receiverGrads(set)
		if err != nil {
			return nil, err
		}
		scores, err := e.edgeScoresFromGrads(out, diffs)
		if err != nil {
			return nil, err
		}
		for name, v := range scores {
			acc[name] += v / float64(n)
		}
		bar.Add(1, "")
	}
	return acc, nil
}

// receiverGradNames lists the hook points whose gradients give every receiver's input gradient.
func (e *experiment) receiverGradNames() []string {
	c := e.m.Config
	var names []string
	for l := range c.NLayers {
		names = append(names, hooks.Q(l), hooks.K(l), hooks.V(l))
		if c.HasMLP() {
			names = append(names, hooks.MLPPre(l))
			if c.GatedMLP {
				names = append(names, hooks.MLPPreLinear(l))
			}
		}
	}
	return append(names, hooks.ResidPost(c.NLayers-1))
}

// receiverGrads runs the clean prompts (with set's hooks) and returns the gradients of the mean
// logit difference at the receivers, with the LayerNorm inputs and scales cached.
func (e *experiment) receiverGrads(set *hooks.Set) (*model.Output, error) {
	c := e.m.Config
	set.Grad(logitDiffMetricKey, logitDiffMetric, e.receiverGradNames(), metricInputs(e.pairs, e.plen, c.DVocab)...)
	if c.PreNorms() {
		for l := range c.NLayers {
			set.Cache(hooks.ResidPre(l), hooks.LN1Scale(l))
			if c.HasMLP() {
				set.Cache(mlpResid(c, l), hooks.LN2Scale(l))
			}
		}
	}
	out, err := e.m.Run(e.clean, set)
	if err != nil {
		return nil, fmt.Errorf("circuits: gradient run: %w", err)
	}
	return out, nil
}

// senderDiffs stacks out^corrupted - out^clean of every sender, in sender order: [S, N, P, D].
func (e *experiment) senderDiffs(target *senderActs) *tensors.Tensor {
	var senders []Node
	for _, n := range e.g.Nodes {
		if n.Kind != Logits {
			senders = append(senders, n)
		}
	}
	N, P, D := e.n, e.plen, e.m.Config.DModel
	flat := make([]float32, 0, len(senders)*N*P*D)
	for _, s := range senders {
		a, b := target.output(s), e.cleanOut.output(s)
		for i := range a {
			flat = append(flat, a[i]-b[i])
		}
	}
	return tensors.FromFlatDataAndDimensions(flat, len(senders), N, P, D)
}

// edgeScoresFromGrads dots the sender differences with every receiver's input gradient.
func (e *experiment) edgeScoresFromGrads(out *model.Output, diffs *tensors.Tensor) (map[string]float64, error) {
	c := e.m.Config
	g := e.g
	scores := map[string]float64{}
	record := func(r Node, in Input, sh *tensors.Tensor, heads, col int) {
		flat := tensors.MustCopyFlatData[float32](sh) // [S, heads]
		for _, s := range g.Senders(r) {
			scores[Edge{From: s, To: r, Input: in}.String()] = float64(flat[g.senderIndex(s)*heads+col])
		}
	}
	norm := func(l int, resid, scale, w string) []*tensors.Tensor {
		if !c.PreNorms() {
			return nil
		}
		return []*tensors.Tensor{out.Cache.MustGet(resid), out.Cache.MustGet(scale), e.m.Weights.Tensors[blockName(l, w)]}
	}
	for l := range c.NLayers {
		ln := norm(l, hooks.ResidPre(l), hooks.LN1Scale(l), "ln1.w")
		for i, name := range []string{hooks.Q(l), hooks.K(l), hooks.V(l)} {
			w := e.m.Weights.Tensors[attn(l, [...]string{"W_Q", "W_K", "W_V"}[i])]
			sh, err := chainScores(e.m.Backend, c, out.Grads[name], w, diffs, ln)
			if err != nil {
				return nil, err
			}
			heads := g.inputHeads(i)
			for h := range c.NHeads {
				r, in := HeadNode(l, h), [...]Input{InQ, InK, InV}[i]
				if slices.Contains(g.Inputs(r), in) {
					record(r, in, sh, heads, g.inputHead(i, h))
				}
			}
		}
		if c.HasMLP() {
			// dm/dx_norm = g_pre W_in^T, or for a gated MLP g_pre W_gate^T + g_lin W_in^T: one
			// contraction over the concatenation [gate | in] of width 2M.
			gPre, win := out.Grads[hooks.MLPPre(l)], e.m.Weights.Tensors[blockName(l, "mlp.W_in")]
			if c.GatedMLP {
				gPre = concatLast(gPre, out.Grads[hooks.MLPPreLinear(l)])
				win = concatLast(e.m.Weights.Tensors[blockName(l, "mlp.W_gate")], win)
			}
			dims := gPre.Shape().Dimensions // [N, P, M'] -> [N, P, 1, M']
			sh, err := chainScores(e.m.Backend, c, reshaped(gPre, dims[0], dims[1], 1, dims[2]), reshaped(win, 1, c.DModel, dims[2]), diffs,
				norm(l, mlpResid(c, l), hooks.LN2Scale(l), "ln2.w"))
			if err != nil {
				return nil, err
			}
			record(MLPNode(l), "", sh, 1, 0)
		}
	}
	gOut := out.Grads[hooks.ResidPost(c.NLayers-1)] // [N, P, D]
	dims := gOut.Shape().Dimensions
	sh, err := chainScores(e.m.Backend, c, reshaped(gOut, dims[0], dims[1], 1, dims[2]), identity(c.DModel), diffs, nil)
	if err != nil {
		return nil, err
	}
	record(LogitsNode(), "", sh, 1, 0)
	return scores, nil
}

// chainExecs are the compiled chain-rule graphs, with and without LayerNorm, per backend.
var chainExecs sync.Map // key: backend + ln -> *graph.Exec

// chainScores computes scores [S, H] = diffs [S, N, P, D] . dm/dx [H, N, P, D], where dm/dx is
// the gradient at the receivers' inputs from the gradient at their projections g [N, P, H, K]
// through W [H, D, K] and (when ln is set: resid [N, P, D], scale [N, P, 1], w [D]) the norm:
// dm/dx = (g - mean(g) - xhat mean(g xhat)) / sigma for a LayerNorm, (g - xhat mean(g xhat)) /
// sigma for an RMSNorm (x not centred), with g = w * dm/dx_norm.
func chainScores(b backends.Backend, c model.Config, g, w, diffs *tensors.Tensor, ln []*tensors.Tensor) (*tensors.Tensor, error) {
	withLN := ln != nil
	centred := c.Normalization == model.LayerNorm // RMSNorm: no mean removed
	key := fmt.Sprintf("%p/%v/%v", b, withLN, centred)
	ex, ok := chainExecs.Load(key)
	if !ok {
		exec, err := graph.NewExec(b, func(in []*graph.Node) *graph.Node {
			gp, wt, d := in[0], in[1], in[2]
			gx := graph.DotGeneral(gp, []int{3}, []int{2}, wt, []int{2}, []int{0}) // [H, N, P, D]
			if withLN {
				dims := gx.Shape().Dimensions
				resid, scale, lnw := in[3], in[4], in[5]
				xc := resid
				if centred {
					xc = graph.Sub(resid, graph.ReduceAndKeep(resid, graph.ReduceMean, -1))
				}
				xhat := graph.BroadcastToDims(graph.InsertAxes(graph.Div(xc, scale), 0), dims...) // [H, N, P, D]
				sc := graph.BroadcastToDims(graph.InsertAxes(scale, 0), dims...)
				gy := graph.Mul(gx, graph.BroadcastToDims(graph.Reshape(lnw, 1, 1, 1, dims[3]), dims...))
				mgx := graph.BroadcastToDims(graph.ReduceAndKeep(graph.Mul(gy, xhat), graph.ReduceMean, -1), dims...)
				gx = graph.Sub(gy, graph.Mul(xhat, mgx))
				if centred {
					gx = graph.Sub(gx, graph.BroadcastToDims(graph.ReduceAndKeep(gy, graph.ReduceMean, -1), dims...))
				}
				gx = graph.Div(gx, sc)
			}
			return graph.DotGeneral(d, []int{1, 2, 3}, nil, gx, []int{1, 2, 3}, nil) // [S, H]
		})
		if err != nil {
			return nil, err
		}
		exec.SetMaxCache(256)
		ex, _ = chainExecs.LoadOrStore(key, exec)
	}
	args := []any{g, w, diffs}
	for _, t := range ln {
		args = append(args, t)
	}
	var res []*tensors.Tensor
	err := model.Catch(func() {
		var err error
		res, err = ex.(*graph.Exec).Exec(args...)
		if err != nil {
			panic(err)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("circuits: attribution scores: %w", err)
	}
	return res[0], nil
}

// interpolate returns a + alpha (b - a) for tensors of equal shape.
func interpolate(a, b *tensors.Tensor, alpha float64) *tensors.Tensor {
	x, y := tensors.MustCopyFlatData[float32](a), tensors.MustCopyFlatData[float32](b)
	for i := range x {
		x[i] += float32(alpha) * (y[i] - x[i])
	}
	return tensors.FromFlatDataAndDimensions(x, a.Shape().Dimensions...)
}

// reshaped returns a host copy of t with new dimensions.
func reshaped(t *tensors.Tensor, dims ...int) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(tensors.MustCopyFlatData[float32](t), dims...)
}

// identity is the [1, n, n] identity.
func identity(n int) *tensors.Tensor {
	flat := make([]float32, n*n)
	for i := range n {
		flat[i*n+i] = 1
	}
	return tensors.FromFlatDataAndDimensions(flat, 1, n, n)
}

// mlpResid is the residual stream layer l's MLP reads: hook_resid_mid, or hook_resid_pre with a
// parallel residual.
func mlpResid(c model.Config, l int) string {
	if c.HasResidMid() {
		return hooks.ResidMid(l)
	}
	return hooks.ResidPre(l)
}

// concatLast concatenates two host tensors along their last axis.
func concatLast(a, b *tensors.Tensor) *tensors.Tensor {
	da, db := a.Shape().Dimensions, b.Shape().Dimensions
	x, y := tensors.MustCopyFlatData[float32](a), tensors.MustCopyFlatData[float32](b)
	na, nb := da[len(da)-1], db[len(db)-1]
	rows := len(x) / na
	out := make([]float32, 0, len(x)+len(y))
	for r := range rows {
		out = append(out, x[r*na:(r+1)*na]...)
		out = append(out, y[r*nb:(r+1)*nb]...)
	}
	dims := slices.Clone(da)
	dims[len(dims)-1] = na + nb
	return tensors.FromFlatDataAndDimensions(out, dims...)
}
