package patching

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best dot-imported.
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// Head is one attention head, written "layer.head" (9.9 is head 9 of layer 9).
type Head struct{ Layer, Head int }

func (h Head) String() string { return fmt.Sprintf("%d.%d", h.Layer, h.Head) }

// ParseHeads parses a comma-separated list of heads such as "9.9,9.6,10.0" and checks each
// against the model's layers and heads.
func ParseHeads(s string, c model.Config) ([]Head, error) {
	var out []Head
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		ls, hs, ok := strings.Cut(f, ".")
		l, err1 := strconv.Atoi(ls)
		h, err2 := strconv.Atoi(hs)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("patching: head %q: want layer.head, e.g. 9.6", f)
		}
		if l < 0 || l >= c.NLayers || h < 0 || h >= c.NHeads {
			return nil, fmt.Errorf("patching: head %s out of range: the model has %d layers of %d heads", f, c.NLayers, c.NHeads)
		}
		out = append(out, Head{l, h})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("patching: no heads in %q", s)
	}
	return out, nil
}

// Receivers are where path patching measures the senders' effect: the logits, or the inputs
// (queries, keys and/or values) of some heads.
type Receivers struct {
	// Logits makes the final residual stream (read by the unembedding) the receiver.
	Logits bool
	// Heads receive the path through Inputs.
	Heads []Head
	// Inputs are among Q, K and V (default Q).
	Inputs []Component
}

func (r Receivers) String() string {
	if r.Logits {
		return "logits"
	}
	var hs, in []string
	for _, h := range r.Heads {
		hs = append(hs, h.String())
	}
	for _, c := range r.inputs() {
		in = append(in, string(c))
	}
	return strings.Join(hs, ",") + "/" + strings.Join(in, ",")
}

func (r Receivers) inputs() []Component {
	if len(r.Inputs) == 0 {
		return []Component{Q}
	}
	return r.Inputs
}

// PathOptions tune path patching.
type PathOptions struct {
	// FreezeMLPs also freezes every MLP's output at its value in the target run, so only the
	// direct sender -> receiver path counts. By default MLPs are recomputed, as in Wang et al.
	FreezeMLPs bool
}

// PathPatch is path patching (Wang et al. 2022, appendix B) with every attention head as a
// sender, one at a time. With the target run as "orig" and the source run as "new" (denoising:
// orig = corrupted, new = clean; Wang et al. noise, orig = clean, new = ABC):
//
//  1. run orig with the sender's output (hook_z) taken from new and every other head's output
//     frozen at its orig value (MLPs and LayerNorms recomputed unless FreezeMLPs), and record
//     the receivers' q/k/v inputs (or, for the logits, the final residual stream);
//  2. run orig with only the receivers' inputs replaced by those values, everything else
//     recomputed, and score the metric.
//
// Scores are [layer, head] on the metric's scale. Senders at or after every receiver's layer
// have no path and score the unpatched target. Batched like Patch: the heads of a sender layer
// run as one forward, both steps in one graph, starting from the cached orig hook_resid_pre.
func (e *Experiment) PathPatch(r Receivers, opt PathOptions) (*Result, error) {
	c := e.Model.Config
	if !r.Logits && len(r.Heads) == 0 {
		return nil, fmt.Errorf("patching: path patching needs receiver heads or the logits")
	}
	for _, h := range r.Heads {
		if h.Layer < 0 || h.Layer >= c.NLayers || h.Head < 0 || h.Head >= c.NHeads {
			return nil, fmt.Errorf("patching: receiver head %s out of range: the model has %d layers of %d heads", h, c.NLayers, c.NHeads)
		}
	}
	for _, in := range r.inputs() {
		if in != Q && in != K && in != V {
			return nil, fmt.Errorf("patching: receiver input %q: want q, k or v", in)
		}
	}
	L, H, N := c.NLayers, c.NHeads, e.Prompts.N()
	target := e.target()
	var names []string
	for l := range L {
		names = append(names, hooks.ResidPre(l), hooks.Z(l))
		if opt.FreezeMLPs && c.HasMLP() {
			names = append(names, hooks.MLPOut(l))
		}
	}
	if _, err := e.acts(target, names...); err != nil {
		return nil, err
	}
	res := &Result{
		Scores: make([]float64, L*H), Axes: []Axis{numberedAxis("layer", L), numberedAxis("head", H)},
		Metric: e.Metric.Name, Normalized: e.Metric.Normalized, Method: "path", Component: string(Z),
		Setter: "head", Source: e.sourceName(), Clean: e.Clean, Corrupted: e.Corrupted,
	}
	G := chunking(H, e.rowsPerForward(Z)/N)
	done := 0
	for ls := range L {
		pl, ok := e.pathPlan(r, opt, ls)
		if !ok { // no receiver after this layer: no path
			for h := range H {
				res.Scores[ls*H+h] = normalise(e.Target(), e.Clean, e.Corrupted, e.Metric.Normalized)
			}
			continue
		}
		in, err := e.pathInputs(r, opt, ls)
		if err != nil {
			return nil, err
		}
		resid, err := e.acts(target, hooks.ResidPre(ls))
		if err != nil {
			return nil, err
		}
		for h0 := 0; h0 < H; h0 += G {
			mask := make([]float32, G*H)
			for g := range G {
				if h0+g < H {
					mask[g*H+h0+g] = 1
				}
			}
			vals, err := e.runSuffix(pl, resid[0], append([]*tensors.Tensor{tensors.FromFlatDataAndDimensions(mask, G, 1, H, 1)}, in...))
			if err != nil {
				return nil, fmt.Errorf("patching: path patching from layer %d: %w", ls, err)
			}
			for g := range G {
				if h0+g < H {
					res.Scores[ls*H+h0+g] = normalise(mean(vals[g]), e.Clean, e.Corrupted, e.Metric.Normalized)
				}
			}
			done += min(G, H-h0)
			if e.Options.Progress != nil {
				e.Options.Progress(done, L*H)
			}
		}
	}
	return res, nil
}

// layersAfter lists the layers after ls that hold receiver heads, ascending.
func (r Receivers) layersAfter(ls int) []int {
	var out []int
	for _, h := range r.Heads {
		if h.Layer > ls && !slices.Contains(out, h.Layer) {
			out = append(out, h.Layer)
		}
	}
	slices.Sort(out)
	return out
}

// pathPlan builds the two-step graph for senders in layer ls; ok is false when no receiver lies
// after ls. Plan inputs: sender mask [G, 1, H, 1], the source z of layer ls [N, P, H, K], the
// target z of each frozen layer, the target mlp_out of each frozen MLP, then (for head
// receivers) the target hook_resid_pre [N, P, D] of the first receiver layer.
func (e *Experiment) pathPlan(r Receivers, opt PathOptions, ls int) (plan, bool) {
	c := e.Model.Config
	end := c.NLayers // step 1 runs blocks ls..end-1
	var recv []int
	if !r.Logits {
		recv = r.layersAfter(ls)
		if len(recv) == 0 {
			return plan{}, false
		}
		end = recv[len(recv)-1] + 1
	}
	freezeMLP := opt.FreezeMLPs && c.HasMLP()
	key := fmt.Sprintf("path:%s:freeze_mlp=%v", r, freezeMLP)
	build := func(c model.Config, p model.Params, resid *Node, in []*Node, G, N int) *Node {
		senders, newZ := in[0], in[1]
		in = in[2:]
		fns := map[string]hooks.Fn{hooks.Z(ls): func(x *Node, _ []*Node) *Node { return blend(x, newZ, senders, G, N) }}
		for l := ls + 1; l < end; l++ {
			frozen := in[0]
			in = in[1:]
			fns[hooks.Z(l)] = func(*Node, []*Node) *Node { return tile(frozen, G) }
		}
		if freezeMLP {
			for l := ls; l < end; l++ {
				frozen := in[0]
				in = in[1:]
				fns[hooks.MLPOut(l)] = func(*Node, []*Node) *Node { return tile(frozen, G) }
			}
		}
		captured := map[string]*Node{}
		for _, lr := range recv {
			for _, comp := range r.inputs() {
				name := comp.Hook(lr)
				fns[name] = func(x *Node, _ []*Node) *Node { captured[name] = x; return x }
			}
		}
		hk := patchHooks(fns)
		resid = model.Blocks(c, p, resid, ls, end, hk) // step 1
		hk.Finish(nil)
		if r.Logits {
			return resid
		}
		// Step 2: the target run from the first receiver layer, only the receivers' inputs replaced.
		fns2 := map[string]hooks.Fn{}
		for _, lr := range recv {
			// The mask over heads of each input: query heads for q, key/value heads for k and v,
			// so under grouped-query attention a receiver's k or v input is its key/value head's,
			// shared with the other query heads of its group.
			mask := func(comp Component) *Node {
				n := c.NHeads
				if comp == K || comp == V {
					n = c.KVHeads()
				}
				heads := make([]float32, n)
				for _, h := range r.Heads {
					if h.Layer == lr {
						if n == c.NHeads {
							heads[h.Head] = 1
						} else {
							heads[c.KVHead(h.Head)] = 1
						}
					}
				}
				return Reshape(Const(resid.Graph(), heads), 1, 1, n, 1) // [1, 1, heads, 1]
			}
			for _, comp := range r.inputs() {
				name := comp.Hook(lr)
				m := mask(comp)
				fns2[name] = func(x *Node, _ []*Node) *Node { return blend(x, captured[name], m, G, N) }
			}
		}
		hk2 := patchHooks(fns2)
		out := model.Blocks(c, p, tile(in[0], G), recv[0], c.NLayers, hk2)
		hk2.Finish(nil)
		return out
	}
	return plan{key: key, start: ls, build: build}, true
}

// pathInputs gathers the fed tensors pathPlan reads after the sender mask.
func (e *Experiment) pathInputs(r Receivers, opt PathOptions, ls int) ([]*tensors.Tensor, error) {
	c := e.Model.Config
	target := e.target()
	newZ, err := e.source(hooks.Z(ls))
	if err != nil {
		return nil, err
	}
	in := []*tensors.Tensor{newZ}
	end := c.NLayers
	var recv []int
	if !r.Logits {
		recv = r.layersAfter(ls)
		end = recv[len(recv)-1] + 1
	}
	var names []string
	for l := ls + 1; l < end; l++ {
		names = append(names, hooks.Z(l))
	}
	if opt.FreezeMLPs && c.HasMLP() {
		for l := ls; l < end; l++ {
			names = append(names, hooks.MLPOut(l))
		}
	}
	if !r.Logits {
		names = append(names, hooks.ResidPre(recv[0]))
	}
	ts, err := e.acts(target, names...)
	if err != nil {
		return nil, err
	}
	return append(in, ts...), nil
}
