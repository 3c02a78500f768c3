package train

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// clampPlan is what a set of clamps needs from the host, worked out once before compiling: the
// extra graph inputs (constant values, reference weights), the reference rows appended to every
// batch (MeanRef) and the hook specs. forward builds the clamped forward pass from it.
type clampPlan struct {
	cfg    model.Config
	clamps []Clamp
	specs  []hooks.Spec

	// inputs are fed after the training inputs, in this order; inputAt[source] is the first index.
	inputs  []*tensors.Tensor
	inputAt map[Source]int
	grafts  []*graftSource // distinct reference models, in input order

	// refRows are appended to every batch; refAt[source] is the first appended row of a MeanRef.
	refRows [][]int
	refAt   map[Source]int
}

func newClampPlan(cfg model.Config, seqLen int, clamps []Clamp) (*clampPlan, error) {
	clamps = slices.Clone(clamps)
	pl := &clampPlan{cfg: cfg, clamps: clamps, inputAt: map[Source]int{}, refAt: map[Source]int{}}
	graftOf := map[*model.Weights]*graftSource{}
	for i, c := range clamps {
		if err := c.Check(cfg, seqLen); err != nil {
			return nil, err
		}
		spec, _ := hookSpec(cfg, c.Hook, seqLen)
		pl.specs = append(pl.specs, spec)
		switch s := c.Value.(type) {
		case *constSource:
			if _, ok := pl.inputAt[s]; !ok {
				pl.inputAt[s] = len(pl.inputs)
				pl.inputs = append(pl.inputs, s.t)
			}
		case *graftSource:
			// One reference forward per reference model, however many clamps use it.
			if g, ok := graftOf[s.w]; ok {
				clamps[i].Value = g
				continue
			}
			graftOf[s.w] = s
			pl.inputAt[s] = len(pl.inputs)
			pl.grafts = append(pl.grafts, s)
			for _, ps := range model.ParamSpecs(s.w.Config) {
				pl.inputs = append(pl.inputs, s.w.Tensors[ps.Name])
			}
		case *meanRefSource:
			if _, ok := pl.refAt[s]; !ok {
				pl.refAt[s] = len(pl.refRows)
				pl.refRows = append(pl.refRows, s.rows...)
			}
		}
	}
	return pl, nil
}

// withRefRows appends the reference rows to a batch's token rows.
func (pl *clampPlan) withRefRows(rows [][]int) [][]int {
	if len(pl.refRows) == 0 {
		return rows
	}
	out := make([][]int, 0, len(rows)+len(pl.refRows))
	return append(append(out, rows...), pl.refRows...)
}

// forwardArgs lays out the inputs of a compiled clamped forward pass: the tokens, the params (in
// ParamSpecs order), then the plan's inputs. forwardInputs reads them back in the graph.
func (pl *clampPlan) forwardArgs(tokens *tensors.Tensor, params []*tensors.Tensor) []any {
	args := make([]any, 0, 1+len(params)+len(pl.inputs))
	args = append(args, tokens)
	for _, p := range params {
		args = append(args, p)
	}
	for _, x := range pl.inputs {
		args = append(args, x)
	}
	return args
}

// forwardInputs is forward on graph inputs laid out by forwardArgs.
func (pl *clampPlan) forwardInputs(in []*graph.Node, rows int, cache ...string) (*graph.Node, hooks.Outputs) {
	specs := model.ParamSpecs(pl.cfg)
	p := model.Params{}
	for i, sp := range specs {
		p[sp.Name] = in[1+i]
	}
	return pl.forward(p, in[0], rows, in[1+len(specs):], cache...)
}

// forward builds the clamped forward pass on tokens [N, P], whose first `rows` rows are the batch
// and the rest the reference rows, with the plan's inputs bound to extra (in plan.inputs order).
// It caches the names in cache and returns the logits [N, P, V] and the hooks' outputs.
func (pl *clampPlan) forward(p model.Params, tokens *graph.Node, rows int, extra []*graph.Node, cache ...string) (*graph.Node, hooks.Outputs) {
	bc := &buildCtx{plan: pl, tokens: tokens, rows: rows, extra: extra, graftActs: map[*graftSource]map[string]*graph.Node{}}
	// Reference forward passes first, so grafted activations exist when the clamps need them.
	for _, g := range pl.grafts {
		var names []string
		for _, c := range pl.clamps {
			if c.Value == Source(g) {
				names = append(names, c.Hook)
			}
		}
		at := pl.inputAt[g]
		rp := model.Params{}
		for i, ps := range model.ParamSpecs(g.w.Config) {
			rp[ps.Name] = extra[at+i]
		}
		ra := hooks.New().Cache(names...).Activate(nil)
		outs := ra.Finish(model.Forward(g.w.Config, rp, tokens, ra))
		acts := map[string]*graph.Node{}
		for i, n := range outs.CacheNames {
			acts[n] = graph.StopGradient(outs.Nodes[i])
		}
		bc.graftActs[g] = acts
	}
	set := hooks.New().Cache(cache...)
	for i, c := range pl.clamps {
		spec := pl.specs[i]
		set.Func(c.Hook, fmt.Sprintf("clamp%d", i), func(x *graph.Node, _ []*graph.Node) *graph.Node { return bc.apply(c, spec, x) })
	}
	hk := set.Activate(nil)
	logits := model.Forward(pl.cfg, p, tokens, hk)
	return logits, hk.Finish(logits)
}

type buildCtx struct {
	plan      *clampPlan
	tokens    *graph.Node // [N, P] int32
	rows      int         // rows [0, rows) are the batch; the rest are reference rows
	extra     []*graph.Node
	graftActs map[*graftSource]map[string]*graph.Node
}

// apply replaces the selected entries of activation x with the clamp's stop-gradient value.
func (bc *buildCtx) apply(c Clamp, spec hooks.Spec, x *graph.Node) *graph.Node {
	value := graph.StopGradient(bc.value(c, x))
	if !value.Shape().Equal(x.Shape()) {
		panic(fmt.Sprintf("train: clamp %s: value has shape %s, activation %s", c.Hook, value.Shape(), x.Shape()))
	}
	if len(c.Heads) == 0 && len(c.Positions) == 0 {
		return value
	}
	return graph.Where(selectMask(x, spec, c.Heads, c.Positions), value, x)
}

// selectMask is a boolean constant, true where the clamp applies: the chosen heads on the head
// axis and positions on the (query) position axis, broadcast to x's shape.
func selectMask(x *graph.Node, spec hooks.Spec, heads, positions []int) *graph.Node {
	dims := x.Shape().Dimensions
	mdims := make([]int, len(dims))
	for i := range mdims {
		mdims[i] = 1
	}
	hAxis, pAxis := axis(spec, "head"), posAxis(spec)
	want := func(axisDim int, list []int) []bool {
		sel := make([]bool, axisDim)
		for _, i := range list {
			sel[i] = true
		}
		if len(list) == 0 {
			for i := range sel {
				sel[i] = true
			}
		}
		return sel
	}
	var hSel, pSel []bool
	if len(heads) > 0 {
		mdims[hAxis] = dims[hAxis]
		hSel = want(dims[hAxis], heads)
	}
	if len(positions) > 0 {
		mdims[pAxis] = dims[pAxis]
		pSel = want(dims[pAxis], positions)
	}
	n := 1
	for _, d := range mdims {
		n *= d
	}
	flat := make([]bool, n)
	for i := range flat {
		// Unravel i over mdims; only the head and position axes are larger than 1.
		ok, rem := true, i
		for a := len(mdims) - 1; a >= 0; a-- {
			idx := rem % mdims[a]
			rem /= mdims[a]
			if a == hAxis && hSel != nil && !hSel[idx] || a == pAxis && pSel != nil && !pSel[idx] {
				ok = false
			}
		}
		flat[i] = ok
	}
	mask := graph.ConstTensor(x.Graph(), tensors.FromFlatDataAndDimensions(flat, mdims...))
	return graph.BroadcastToDims(mask, dims...)
}

// value builds the clamp's value with x's shape.
func (bc *buildCtx) value(c Clamp, x *graph.Node) *graph.Node {
	dims := x.Shape().Dimensions
	switch s := c.Value.(type) {
	case *zeroSource:
		return graph.ZerosLike(x)
	case *meanBatchSource:
		return graph.BroadcastToDims(rowMean(x, 0, bc.rows), dims...)
	case *meanRefSource:
		at := bc.rows + bc.plan.refAt[s]
		return graph.BroadcastToDims(rowMean(x, at, at+len(s.rows)), dims...)
	case *constSource:
		v := bc.extra[bc.plan.inputAt[s]]
		if v.Rank() == x.Rank()-1 {
			v = graph.InsertAxes(v, 0)
		}
		return graph.BroadcastToDims(graph.ConvertDType(v, x.DType()), dims...)
	case *graftSource:
		return bc.graftActs[s][c.Hook]
	case *patternSource:
		return bc.pattern(s.kind, x)
	case *funcSource:
		return s.fn(x, nil)
	}
	panic(fmt.Sprintf("train: clamp %s: unknown source %T", c.Hook, c.Value))
}

// rowMean is the mean of x over batch rows [from, to), keeping a batch axis of 1.
func rowMean(x *graph.Node, from, to int) *graph.Node {
	if from != 0 || to != x.Shape().Dimensions[0] {
		x = graph.SliceAxis(x, 0, graph.AxisRange(from, to))
	}
	return graph.ReduceAndKeep(x, graph.ReduceMean, 0)
}

// pattern builds a prescribed attention pattern [N, H, P, P] for x = hook_pattern.
func (bc *buildCtx) pattern(kind string, x *graph.Node) *graph.Node {
	g, dt := x.Graph(), x.DType()
	dims := x.Shape().Dimensions // [N, H, P, P]
	P := dims[2]
	var pat *graph.Node // [1, 1, P, P] or [N, 1, P, P]
	switch kind {
	case "prev-token", "uniform":
		flat := make([]float32, P*P)
		for i := range P {
			if kind == "prev-token" {
				flat[i*P+max(i-1, 0)] = 1
				continue
			}
			for j := 0; j <= i; j++ {
				flat[i*P+j] = 1 / float32(i+1)
			}
		}
		pat = graph.ConvertDType(graph.ConstTensor(g, tensors.FromFlatDataAndDimensions(flat, 1, 1, P, P)), dt)
	case "induction":
		pat = graph.InsertAxes(inductionPattern(bc.tokens, dt), 1)
	default:
		panic("train: unknown pattern " + kind)
	}
	return graph.BroadcastToDims(pat, dims...)
}

// inductionPattern is the perfect induction pattern [N, P, P] of tokens [N, P]: row i is one-hot
// at 1 + the last j < i with tokens[j] == tokens[i], or at 0 when there is none.
func inductionPattern(tokens *graph.Node, dt dtypes.DType) *graph.Node {
	g := tokens.Graph()
	N, P := tokens.Shape().Dimensions[0], tokens.Shape().Dimensions[1]
	same := graph.Equal(graph.BroadcastToDims(graph.InsertAxes(tokens, -1), N, P, P), graph.BroadcastToDims(graph.InsertAxes(tokens, 1), N, P, P)) // [N, Pq, Pk]
	qi := graph.Iota(g, shapes.Make(dtypes.Float32, 1, P, P), 1)                                                                                   // query index
	kj := graph.Iota(g, shapes.Make(dtypes.Float32, 1, P, P), 2)                                                                                   // key index
	earlier := graph.BroadcastToDims(graph.LessThan(kj, qi), N, P, P)
	cand := graph.Where(graph.LogicalAnd(same, earlier), graph.BroadcastToDims(kj, N, P, P), graph.BroadcastToDims(graph.Scalar(g, dtypes.Float32, -1), N, P, P))
	last := graph.ReduceAndKeep(cand, graph.ReduceMax, 2) // [N, P, 1]: -1 when none
	target := graph.AddScalar(last, 1)                    // j+1, or 0 when none
	return graph.ConvertDType(graph.Equal(graph.BroadcastToDims(kj, N, P, P), graph.BroadcastToDims(target, N, P, P)), dt)
}

// moveTo replaces plan inputs that live on another backend by host copies (GoMLX tensors cannot
// move between backends; a Graft's reference model usually has its own).
func (pl *clampPlan) moveTo(b backends.Backend) error {
	for i, t := range pl.inputs {
		if tb, err := t.Backend(); err == nil && tb != nil && tb != b {
			c, err := t.LocalClone()
			if err != nil {
				return fmt.Errorf("train: clamp input: %w", err)
			}
			pl.inputs[i] = c
		}
	}
	return nil
}
