package train

import (
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/model"
)

// stepExec is one training step compiled as a single graph:
//
//	inputs:  tokens [N, P] int32, loss mask [N, P-1] float32, decay, stepSize, sqrtBC2 (scalars),
//	         params... (ParamSpecs order), m [T], v [T], the clamps' inputs
//	outputs: loss, grad norm (before clipping), new params..., new m [T], new v [T]
//
// The optimizer works on all T parameter values at once: the gradients are flattened and
// concatenated in ParamSpecs order (as are the moments, kept flat between steps), so the
// clipping and the AdamW update are a handful of ops over one vector rather than a dozen per
// parameter tensor; the new values are sliced back into the parameters' shapes.
//
// The first `rows` token rows are the batch; the rest are MeanRef reference rows (mask 0).
type stepExec struct {
	exec  *graph.Exec
	specs []model.ParamSpec
	plan  *clampPlan
}

// decays reports whether AdamW's weight decay applies to a parameter: weight matrices and
// embeddings (W_*), not biases (b_*) or LayerNorm parameters (.w, .b).
func decays(name string) bool {
	return strings.HasPrefix(name[strings.LastIndexByte(name, '.')+1:], "W_")
}

func newStepExec(backend backends.Backend, c model.Config, cfg Config, plan *clampPlan, rows int) (*stepExec, error) {
	specs := model.ParamSpecs(c)
	n := len(specs)
	s := &stepExec{specs: specs, plan: plan}
	exec, err := graph.NewExec(backend, func(in []*graph.Node) []*graph.Node {
		tokens, mask := in[0], in[1]
		decay, stepSize, sqrtBC2 := in[2], in[3], in[4]
		params, m, v := in[5:5+n], in[5+n], in[6+n]
		extra := in[7+n:]
		p := model.Params{}
		for i, sp := range specs {
			p[sp.Name] = params[i]
		}
		logits, _ := plan.forward(p, tokens, rows, extra) // [N, P, V]
		loss := maskedCrossEntropy(logits, tokens, mask)
		g := flatten(graph.Gradient(loss, params...)) // [T]

		// Global gradient norm and clipping, as torch.nn.utils.clip_grad_norm_.
		norm := graph.Sqrt(graph.ReduceAllSum(graph.Square(g)))
		if cfg.GradClip > 0 {
			coef := graph.MinScalar(graph.Div(graph.Scalar(norm.Graph(), norm.DType(), cfg.GradClip), graph.AddScalar(norm, 1e-6)), 1.0)
			g = graph.Mul(g, coef)
		}

		// AdamW (torch.optim.AdamW): w *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
		// w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
		newM := graph.Add(graph.MulScalar(m, cfg.Beta1), graph.MulScalar(g, 1-cfg.Beta1))
		newV := graph.Add(graph.MulScalar(v, cfg.Beta2), graph.MulScalar(graph.Square(g), 1-cfg.Beta2))
		denom := graph.AddScalar(graph.Div(graph.Sqrt(newV), sqrtBC2), cfg.Eps)
		w := flatten(params)
		if cfg.WeightDecay > 0 {
			// w * decay where the parameter decays, w elsewhere: 1 + (decay-1) is decay exactly
			// (decay is in [0.5, 1], so decay-1 is exact), and w * 1 is w.
			w = graph.Mul(w, graph.OnePlus(graph.Mul(graph.AddScalar(decay, -1), graph.Const(w.Graph(), decayMask(specs)))))
		}
		newW := graph.Sub(w, graph.Mul(graph.Div(newM, denom), stepSize))
		outs := []*graph.Node{loss, norm}
		off := 0
		for i := range params {
			shape := params[i].Shape()
			size := shape.Size()
			outs = append(outs, graph.Reshape(graph.Slice(newW, graph.AxisRange(off, off+size)), shape.Dimensions...))
			off += size
		}
		return append(outs, newM, newV)
	})
	if err != nil {
		return nil, fmt.Errorf("train: compile step: %w", err)
	}
	s.exec = exec
	return s, nil
}

// flatten concatenates the nodes, each flattened, into one vector.
func flatten(xs []*graph.Node) *graph.Node {
	parts := make([]*graph.Node, len(xs))
	for i, x := range xs {
		parts[i] = graph.Reshape(x, x.Shape().Size())
	}
	return graph.Concatenate(parts, 0)
}

// decayMask is 1 over the values of the parameters that weight decay applies to and 0 elsewhere,
// in the flattened ParamSpecs order.
func decayMask(specs []model.ParamSpec) []float32 {
	var mask []float32
	for _, sp := range specs {
		size := 1
		for _, d := range sp.Shape {
			size *= d
		}
		val := float32(0)
		if decays(sp.Name) {
			val = 1
		}
		for range size {
			mask = append(mask, val)
		}
	}
	return mask
}

// maskedCrossEntropy is the mean next-token cross-entropy over the entries where mask [N, P-1]
// is 1: -sum(mask * log softmax(logits[:, :P-1])[target]) / max(sum(mask), 1).
func maskedCrossEntropy(logits, tokens, mask *graph.Node) *graph.Node {
	logp := tokenLogProbs(logits, tokens)                                         // [N, P-1]
	total := graph.MaxScalar(graph.ReduceAllSum(mask), 1.0)                       // scalar
	return graph.Div(graph.Neg(graph.ReduceAllSum(graph.Mul(logp, mask))), total) // scalar
}

// tokenLogProbs is log p(tokens[:, p+1] | tokens[:, :p+1]) for every position, [N, P-1]: the
// target's logit, gathered, less the row's log-sum-exp. Gathering keeps the loss and its gradient
// to a few passes over the [N, P-1, V] logits; a one-hot over the vocabulary cost more than the
// unembedding's matmuls at V = 4096.
func tokenLogProbs(logits, tokens *graph.Node) *graph.Node {
	dims := logits.Shape().Dimensions
	N, P, V := dims[0], dims[1], dims[2]
	M := N * (P - 1)
	pred := graph.Reshape(graph.SliceAxis(logits, 1, graph.AxisRange(0, P-1)), M, V)  // [M, V]
	target := graph.Reshape(graph.SliceAxis(tokens, 1, graph.AxisRange(1, P)), M, 1)  // [M, 1]
	rows := graph.Iota(logits.Graph(), shapes.Make(target.DType(), M, 1), 0)          // [M, 1]
	picked := graph.Gather(pred, graph.Concatenate([]*graph.Node{rows, target}, -1))  // [M]
	top := graph.StopGradient(graph.ReduceMax(pred, -1))                              // [M]
	sum := graph.ReduceSum(graph.Exp(graph.Sub(pred, graph.ExpandAxes(top, -1))), -1) // [M]
	return graph.Reshape(graph.Sub(graph.Sub(picked, top), graph.Log(sum)), N, P-1)
}

// adamState is the optimizer's state: the params on the backend, in ParamSpecs order, and the
// first and second moments of all of them, flattened and concatenated in that order.
type adamState struct {
	params []*tensors.Tensor
	m, v   *tensors.Tensor // [T]
}

// newAdamState starts from weights w with zero moments.
func newAdamState(w *model.Weights) *adamState {
	st := &adamState{}
	total := 0
	for _, sp := range model.ParamSpecs(w.Config) {
		t := w.Tensors[sp.Name]
		st.params = append(st.params, t)
		total += t.Shape().Size()
	}
	st.m, st.v = tensors.FromShape(shapes.Make(dtypes.Float32, total)), tensors.FromShape(shapes.Make(dtypes.Float32, total))
	return st
}

// splitMoments cuts a flat moment vector into tensors of the params' shapes.
func (st *adamState) splitMoments(flat *tensors.Tensor) []*tensors.Tensor {
	all := tensors.MustCopyFlatData[float32](flat)
	out := make([]*tensors.Tensor, len(st.params))
	off := 0
	for i, p := range st.params {
		size := p.Shape().Size()
		out[i] = tensors.FromFlatDataAndDimensions(all[off:off+size:off+size], p.Shape().Dimensions...)
		off += size
	}
	return out
}

// joinMoments concatenates per-parameter moments into the flat vector the step takes.
func joinMoments(parts []*tensors.Tensor) *tensors.Tensor {
	var all []float32
	for _, p := range parts {
		all = append(all, tensors.MustCopyFlatData[float32](p)...)
	}
	return tensors.FromFlatDataAndDimensions(all, len(all))
}

// run performs step t (1-based, for the bias corrections) at learning rate lr and replaces the
// state with the new one. It returns the loss and the gradient norm before clipping.
func (s *stepExec) run(st *adamState, cfg Config, t int, lr float64, tokens, mask *tensors.Tensor) (loss, norm float64, err error) {
	bc1 := 1 - math.Pow(cfg.Beta1, float64(t))
	bc2 := 1 - math.Pow(cfg.Beta2, float64(t))
	args := []any{tokens, mask,
		float32(1 - lr*cfg.WeightDecay), float32(lr / bc1), float32(math.Sqrt(bc2))}
	for _, x := range st.params {
		args = append(args, x)
	}
	args = append(args, st.m, st.v)
	for _, x := range s.plan.inputs {
		args = append(args, x)
	}
	outs, err := s.exec.Exec(args...)
	if err != nil {
		return 0, 0, fmt.Errorf("train: step %d: %w", t, err)
	}
	loss = float64(tensors.ToScalar[float32](outs[0]))
	norm = float64(tensors.ToScalar[float32](outs[1]))
	n := len(s.specs)
	oldParams, oldM, oldV := st.params, st.m, st.v
	st.params, st.m, st.v = outs[2:2+n], outs[2+n], outs[3+n]
	// Free the previous state's buffers, except the caller's initial weights.
	if t > 1 {
		for _, x := range oldParams {
			x.FinalizeAll()
		}
	}
	oldM.FinalizeAll()
	oldV.FinalizeAll()
	outs[0].FinalizeAll()
	outs[1].FinalizeAll()
	return loss, norm, nil
}

// maskTensor converts a task batch's loss mask (nil: every position) to float32 [N, P-1], with
// zeros for the extra reference rows beyond the batch.
func maskTensor(mask [][]bool, rows, total, pos int) *tensors.Tensor {
	flat := make([]float32, total*(pos-1))
	for r := range rows {
		for p := range pos - 1 {
			if mask == nil || mask[r][p] {
				flat[r*(pos-1)+p] = 1
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(flat, total, pos-1)
}
