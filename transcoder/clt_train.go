package transcoder

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/internal/ahead"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
)

// CLT training. One model run caches every layer's MLP input and output, so each training row is
// a position's L inputs and L targets. The step is one graph (loss, gradients by autodiff, Adam):
//
//	loss  = 1/N sum_n sum_m ||y_m - yhat_m||^2 + coef * S
//	S     = 1/N sum_n sum_l sum_f  f_lf ||W_dec_l[f]||                      (relu: L1)
//	      = 1/N sum_n sum_l sum_f  tanh(c f_lf ||W_dec_l[f]||)              (jumprelu: Anthropic's tanh penalty)
//	      = 0                                                              (topk)
//
// with ||W_dec_l[f]|| the norm of all of latent f's decoders (every later layer) together.
// JumpReLU's threshold learns through the straight-through estimator of Rajamanoharan et al.:
// d f / d theta = -(theta / eps) rect((pre - theta) / eps), written as f = pre H(pre - theta) +
// sg(theta) (K(sg(pre) - theta) - sg(K(...))) with K(z) = clip(z/eps + 1/2, 0, 1), whose value
// is 0 and whose derivative in theta is -rect/eps.

// CLTTrainOptions configure TrainCLT.
type CLTTrainOptions struct {
	Steps int // training steps (required)
	Batch int // rows per step; default 1024
	LR    float64
	// LREnd is the learning rate after the linear decay over the last fifth of the steps
	// (default LR/10).
	LREnd float64
	// Sparsity is the coefficient of S (relu default 5e-3, jumprelu 1e-2; topk unused); TanhScale
	// is c (default 1); Bandwidth is eps (default 0.05).
	Sparsity, TanhScale, Bandwidth float64
	// Normalize scales each layer's inputs and targets by constants so their mean norm is
	// sqrt(width) (folded into the saved weights).
	Normalize bool
	SkipBOS   bool // leave position 0 out of the rows
	SeqBatch  int  // token rows per model run; default 32
	Buffer    int  // rows in the shuffling buffer; default 16384
	// NoPrefetch runs the model only when the buffer needs rows. By default it runs in a
	// goroutine of its own, ahead of the training steps (the same rows either way).
	NoPrefetch bool
	Seed       uint64
	// OnStep, when set, is called after every step.
	OnStep func(step int, s CLTStepStats)
}

// CLTStepStats are one step's losses, averaged over its rows.
type CLTStepStats struct {
	MSE      float64 // summed over layers, in normalised units
	Sparsity float64
	L0       float64 // active latents per row and layer
	FVU      float64 // MSE over the targets' variance in the batch
}

func (o *CLTTrainOptions) defaults(a sae.Arch) {
	if o.Batch == 0 {
		o.Batch = 1024
	}
	if o.LR == 0 {
		o.LR = 1e-3
	}
	if o.LREnd == 0 {
		o.LREnd = o.LR / 10
	}
	if o.Sparsity == 0 {
		o.Sparsity = map[sae.Arch]float64{sae.ReLU: 5e-3, sae.JumpReLU: 1e-2}[a]
	}
	if o.TanhScale == 0 {
		o.TanhScale = 1
	}
	if o.Bandwidth == 0 {
		o.Bandwidth = 0.05
	}
	if o.SeqBatch == 0 {
		o.SeqBatch = 32
	}
	if o.Buffer == 0 {
		o.Buffer = 1 << 14
	}
}

// cltRows serves shuffled training rows: x [n, L, DIn] and y [n, L, D].
type cltRows struct {
	m          *model.Model
	src        sae.TokenSource
	ins, outs  []string
	dIn, dOut  int
	skipBOS    bool
	seqBatch   int
	size       int
	rng        *rand.Rand
	bx, by     []float32 // the buffer
	rx, ry     []float32 // shuffled rows ready to serve
	sIn, sOut  []float64 // per-layer scales
	tokensSeen int64
	runner     *sae.Runner
	// prefetch runs the model in a goroutine of its own, ahead of the rows served.
	prefetch bool
	ahead    ahead.Reader[cltChunk]
}

func (b *cltRows) row() (int, int) { L := len(b.ins); return L * b.dIn, L * b.dOut }

// cltChunk is the rows of one model run: per layer, the inputs and the targets.
type cltChunk struct {
	xs, ys [][]float32
	B, P   int
	err    error
}

// run runs the model (as far as the last hook) on the source's next batch. It reads only the
// source, the runner and fixed fields, so that it can run in the prefetching goroutine.
func (b *cltRows) run() cltChunk {
	rows, err := b.src.Tokens(b.seqBatch)
	if err != nil {
		return cltChunk{err: err}
	}
	tt, err := model.Tokens(rows)
	if err != nil {
		return cltChunk{err: err}
	}
	acts, err := b.runner.Run(tt)
	if err != nil {
		return cltChunk{err: err}
	}
	L := len(b.ins)
	c := cltChunk{xs: make([][]float32, L), ys: make([][]float32, L), B: len(rows), P: len(rows[0])}
	for l := range L {
		c.xs[l] = tensors.MustCopyFlatData[float32](acts[b.ins[l]])
		c.ys[l] = tensors.MustCopyFlatData[float32](acts[b.outs[l]])
	}
	return c
}

// nextChunk returns the next model run: made now, or by the prefetching goroutine (started on
// first use), which keeps up to half a buffer of runs ready in order, so the rows are the same
// either way.
func (b *cltRows) nextChunk() cltChunk {
	if b.runner == nil {
		b.runner = sae.NewRunner(b.m, append(append([]string{}, b.ins...), b.outs...)...)
	}
	if !b.prefetch {
		return b.run()
	}
	last := func(c cltChunk) bool { return c.err != nil }
	if !b.ahead.Running() {
		first := b.run()
		if last(first) {
			return first
		}
		b.ahead.Start(b.size/2/max(1, first.B*first.P), b.run, last)
		return first
	}
	return b.ahead.Next(last)
}

// close stops the prefetching goroutine; a later fill starts it again.
func (b *cltRows) close() { b.ahead.Stop() }

// fill runs the model once (or takes the prefetched run) and appends its rows to the buffer.
func (b *cltRows) fill() error {
	c := b.nextChunk()
	if c.err != nil {
		return c.err
	}
	B, P := c.B, c.P
	L := len(b.ins)
	start := 0
	if b.skipBOS {
		start = 1
	}
	if P <= start {
		return errors.New("transcoder: CLT rows: sequences of length 1 with position 0 left out give no rows")
	}
	xs, ys := c.xs, c.ys
	for i := range B {
		for p := start; p < P; p++ {
			r := i*P + p
			for l := range L {
				b.bx = append(b.bx, xs[l][r*b.dIn:(r+1)*b.dIn]...)
			}
			for l := range L {
				b.by = append(b.by, ys[l][r*b.dOut:(r+1)*b.dOut]...)
			}
		}
	}
	b.tokensSeen += int64(B * P)
	return nil
}

// next returns n rows, refilling and shuffling the buffer when half of it has been served.
func (b *cltRows) next(n int) ([]float32, []float32, error) {
	wx, wy := b.row()
	for len(b.rx) < n*wx {
		for len(b.bx) < b.size*wx {
			if err := b.fill(); err != nil {
				return nil, nil, err
			}
		}
		rows := len(b.bx) / wx
		perm := b.rng.Perm(rows)
		var keepX, keepY []float32
		for k, r := range perm {
			x, y := b.bx[r*wx:(r+1)*wx], b.by[r*wy:(r+1)*wy]
			if k < rows/2 {
				b.rx, b.ry = append(b.rx, x...), append(b.ry, y...)
			} else {
				keepX, keepY = append(keepX, x...), append(keepY, y...)
			}
		}
		b.bx, b.by = keepX, keepY
	}
	x, y := b.rx[:n*wx], b.ry[:n*wy]
	b.rx, b.ry = b.rx[n*wx:], b.ry[n*wy:]
	return scaleRows(x, b.sIn, b.dIn), scaleRows(y, b.sOut, b.dOut), nil
}

// scaleRows multiplies each layer's slice of every row by its scale.
func scaleRows(v []float32, s []float64, d int) []float32 {
	out := make([]float32, len(v))
	L := len(s)
	for i := range v {
		out[i] = float32(float64(v[i]) * s[(i/d)%L])
	}
	return out
}

// cltParamNames lists the trained tensors of layer l.
func cltParamNames(a sae.Arch, l int) []string {
	names := []string{fmt.Sprintf("W_enc_%d", l), fmt.Sprintf("b_enc_%d", l), fmt.Sprintf("W_dec_%d", l), fmt.Sprintf("b_dec_%d", l)}
	if a == sae.JumpReLU {
		names = append(names, fmt.Sprintf("threshold_%d", l))
	}
	return names
}

// cltLoss builds the loss of a batch: x [N, L, DIn], y [N, L, D], params in cltParamNames order
// over the layers. It returns the loss and the stats [4] (MSE, sparsity, L0, target variance).
func cltLoss(a sae.Arch, k int, coef *graph.Node, tanhScale, bandwidth float64, x, y *graph.Node, params []*graph.Node) (*graph.Node, *graph.Node) {
	g := x.Graph()
	dims := x.Shape().Dimensions
	N, L, DIn := dims[0], dims[1], dims[2]
	D := y.Shape().Dimensions[2]
	per := len(cltParamNames(a, 0))
	zero := graph.ScalarZero(g, dtypes.Float32)
	var recon, sparsity, l0 *graph.Node
	sparsity, l0 = zero, zero
	var bDecs []*graph.Node
	for l := range L {
		p := params[l*per : (l+1)*per]
		wEnc, bEnc, wDec, bDec := p[0], p[1], p[2], p[3] // [DIn, F], [F], [F, L-l, D], [D]
		bDecs = append(bDecs, bDec)
		xl := graph.Reshape(graph.SliceAxis(x, 1, graph.AxisRange(l, l+1)), N, DIn)
		pre := graph.Add(graph.DotGeneral(xl, []int{1}, nil, wEnc, []int{0}, nil), graph.InsertAxes(bEnc, 0)) // [N, F]
		var f, active *graph.Node
		switch a {
		case sae.ReLU:
			f = graph.Max(pre, zero)
			active = graph.StopGradient(graph.ConvertDType(graph.GreaterThan(pre, zero), dtypes.Float32))
		case sae.TopK:
			thr := graph.StopGradient(graph.MaxScalar(sae.KthLargestGraph(pre, k), math.SmallestNonzeroFloat32)) // [N, 1]
			active = graph.StopGradient(graph.ConvertDType(graph.GreaterOrEqual(pre, thr), dtypes.Float32))
			f = graph.Mul(graph.Max(pre, zero), active)
		case sae.JumpReLU:
			theta := graph.InsertAxes(graph.MaxScalar(p[4], 0.0), 0) // [1, F]
			active = graph.StopGradient(graph.ConvertDType(graph.GreaterThan(pre, theta), dtypes.Float32))
			z := graph.Sub(graph.StopGradient(pre), theta)
			kz := graph.MinScalar(graph.MaxScalar(graph.AddScalar(graph.DivScalar(z, bandwidth), 0.5), 0.0), 1.0)
			ste := graph.Sub(kz, graph.StopGradient(kz)) // value 0, d/dtheta = -rect/eps
			f = graph.Add(graph.Mul(pre, active), graph.Mul(graph.StopGradient(theta), ste))
		default:
			panic(fmt.Sprintf("transcoder: CLT architecture %q", a))
		}
		l0 = graph.Add(l0, graph.DivScalar(graph.ReduceAllSum(active), float64(N*L)))
		contrib := graph.DotGeneral(f, []int{1}, nil, wDec, []int{0}, nil) // [N, L-l, D]
		if l > 0 {
			contrib = graph.Concatenate([]*graph.Node{graph.Zeros(g, shapes.Make(dtypes.Float32, N, l, D)), contrib}, 1)
		}
		if recon == nil {
			recon = contrib
		} else {
			recon = graph.Add(recon, contrib)
		}
		if a != sae.TopK {
			norms := graph.Sqrt(graph.ReduceSum(graph.Square(wDec), 1, 2)) // [F]
			fn := graph.Mul(f, graph.InsertAxes(norms, 0))                 // [N, F]
			if a == sae.JumpReLU {
				fn = graph.Tanh(graph.MulScalar(fn, tanhScale))
			}
			sparsity = graph.Add(sparsity, graph.DivScalar(graph.ReduceAllSum(fn), float64(N)))
		}
	}
	recon = graph.Add(recon, graph.InsertAxes(graph.Stack(bDecs, 0), 0)) // [N, L, D]
	mse := graph.DivScalar(graph.ReduceAllSum(graph.Square(graph.Sub(recon, y))), float64(N))
	mean := graph.ReduceAndKeep(y, graph.ReduceMean, 0)
	variance := graph.DivScalar(graph.ReduceAllSum(graph.Square(graph.Sub(y, mean))), float64(N))
	loss := mse
	if a != sae.TopK {
		loss = graph.Add(loss, graph.Mul(coef, sparsity))
	}
	return loss, graph.Stack([]*graph.Node{mse, sparsity, l0, variance}, 0)
}

// TrainCLT trains a cross-layer transcoder for every layer of m on activations of src.
func TrainCLT(m *model.Model, src sae.TokenSource, spec CLTSpec, opt CLTTrainOptions) (*CLT, []CLTStepStats, error) {
	opt.defaults(spec.Arch)
	if opt.Steps <= 0 || opt.Batch <= 0 || opt.LR <= 0 || opt.Sparsity < 0 || opt.Bandwidth <= 0 {
		return nil, nil, fmt.Errorf("transcoder: CLT training: bad options (steps %d, batch %d, lr %g, sparsity %g, bandwidth %g)",
			opt.Steps, opt.Batch, opt.LR, opt.Sparsity, opt.Bandwidth)
	}
	if opt.Buffer < 2*opt.Batch {
		opt.Buffer = 2 * opt.Batch
	}
	init, err := NewRandomCLT(m.Config, spec, m.Backend, opt.Seed)
	if err != nil {
		return nil, nil, err
	}
	c0 := init.Config()
	L := init.NLayers()
	rows := &cltRows{m: m, src: src, dIn: c0.DIn, dOut: c0.Out(), skipBOS: opt.SkipBOS, seqBatch: opt.SeqBatch,
		size: opt.Buffer, rng: rand.New(rand.NewPCG(opt.Seed, 0xc17b)), sIn: ones(L), sOut: ones(L), prefetch: !opt.NoPrefetch}
	defer rows.close()
	for _, s := range init.Layers {
		rows.ins, rows.outs = append(rows.ins, s.Config.Site.Hook), append(rows.outs, s.Config.TargetSite().Hook)
	}
	if opt.Normalize {
		for len(rows.bx) < opt.Buffer*L*c0.DIn {
			if err := rows.fill(); err != nil {
				return nil, nil, err
			}
		}
		for l := range L {
			rows.sIn[l] = math.Sqrt(float64(c0.DIn)) / layerNorm(rows.bx, l, L, c0.DIn)
			rows.sOut[l] = math.Sqrt(float64(c0.Out())) / layerNorm(rows.by, l, L, c0.Out())
			if math.IsInf(rows.sIn[l], 0) || math.IsInf(rows.sOut[l], 0) || math.IsNaN(rows.sIn[l]) || math.IsNaN(rows.sOut[l]) {
				return nil, nil, fmt.Errorf("transcoder: CLT training: layer %d activations are all zero; cannot normalise them", l)
			}
		}
	}
	// Parameters, in cltParamNames order.
	var params []*tensors.Tensor
	for l, s := range init.Layers {
		F, D := c0.DSAE, c0.Out()
		params = append(params, s.Params["W_enc"], s.Params["b_enc"], tensors.FromFlatDataAndDimensions(init.Dec[l], F, L-l, D), s.Params["b_dec"])
		if spec.Arch == sae.JumpReLU {
			params = append(params, s.Params["threshold"])
		}
	}
	ms, vs := zerosLike(params), zerosLike(params)
	const beta1, beta2, eps = 0.9, 0.999, 1e-8
	np := len(params)
	exec, err := graph.NewExec(m.Backend, func(in []*graph.Node) []*graph.Node {
		x, y, lrStep, invSqrtBC2, coef := in[0], in[1], in[2], in[3], in[4]
		p, mm, vv := in[5:5+np], in[5+np:5+2*np], in[5+2*np:5+3*np]
		loss, stats := cltLoss(spec.Arch, spec.K, coef, opt.TanhScale, opt.Bandwidth, x, y, p)
		grads := graph.Gradient(loss, p...)
		newP, newM, newV := make([]*graph.Node, np), make([]*graph.Node, np), make([]*graph.Node, np)
		for j := range p {
			newM[j] = graph.Add(graph.MulScalar(mm[j], beta1), graph.MulScalar(grads[j], 1-beta1))
			newV[j] = graph.Add(graph.MulScalar(vv[j], beta2), graph.MulScalar(graph.Square(grads[j]), 1-beta2))
			newP[j] = graph.Sub(p[j], graph.Mul(lrStep, graph.Div(newM[j], graph.AddScalar(graph.Mul(graph.Sqrt(newV[j]), invSqrtBC2), eps))))
		}
		return append(append(append(newP, newM...), newV...), stats)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("transcoder: CLT training step: %w", err)
	}
	var log []CLTStepStats
	decayFrom := opt.Steps - opt.Steps/5
	for step := 1; step <= opt.Steps; step++ {
		x, y, err := rows.next(opt.Batch)
		if err != nil {
			return nil, nil, err
		}
		if step == 1 { // b_dec starts at the first batch's mean target
			for l := range L {
				params[l*len(cltParamNames(spec.Arch, l))+3] = tensors.FromFlatDataAndDimensions(layerMean(y, l, L, c0.Out()), c0.Out())
			}
		}
		lr := opt.LR
		if step > decayFrom {
			lr = opt.LR + (opt.LREnd-opt.LR)*float64(step-decayFrom)/float64(opt.Steps-decayFrom)
		}
		args := []any{tensors.FromFlatDataAndDimensions(x, opt.Batch, L, c0.DIn), tensors.FromFlatDataAndDimensions(y, opt.Batch, L, c0.Out()),
			float32(lr / (1 - math.Pow(beta1, float64(step)))), float32(1 / math.Sqrt(1-math.Pow(beta2, float64(step)))), float32(opt.Sparsity)}
		for _, group := range [][]*tensors.Tensor{params, ms, vs} {
			for _, t := range group {
				args = append(args, t)
			}
		}
		var out []*tensors.Tensor
		if err := model.Catch(func() { out = exec.MustExec(args...) }); err != nil {
			return nil, nil, fmt.Errorf("transcoder: CLT training step %d: %w", step, err)
		}
		params, ms, vs = out[:np], out[np:2*np], out[2*np:3*np]
		st := tensors.MustCopyFlatData[float32](out[3*np])
		s := CLTStepStats{MSE: float64(st[0]), Sparsity: float64(st[1]), L0: float64(st[2]), FVU: float64(st[0] / st[3])}
		if math.IsNaN(s.MSE) || math.IsInf(s.MSE, 0) {
			return nil, nil, fmt.Errorf("transcoder: CLT training diverged at step %d (loss %g); lower the learning rate", step, s.MSE)
		}
		log = append(log, s)
		if opt.OnStep != nil {
			opt.OnStep(step, s)
		}
	}
	clt, err := foldCLT(init, params, spec.Arch, rows.sIn, rows.sOut, m.Backend)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range clt.Layers {
		s.Config.Meta.DatasetPath = src.Name()
	}
	return clt, log, nil
}

// foldCLT builds the trained CLT in the model's units: with inputs scaled by s_l and targets by
// t_m, W_enc_l *= s_l, and every decoder into layer m and b_dec_m are divided by t_m.
func foldCLT(init *CLT, params []*tensors.Tensor, a sae.Arch, sIn, sOut []float64, b backends.Backend) (*CLT, error) {
	c0 := init.Config()
	L, F, D, DIn := init.NLayers(), c0.DSAE, c0.Out(), c0.DIn
	per := len(cltParamNames(a, 0))
	var layers []*sae.SAE
	var dec [][]float32
	for l := range L {
		p := params[l*per : (l+1)*per]
		enc := tensors.MustCopyFlatData[float32](p[0])
		for i := range enc {
			enc[i] = float32(float64(enc[i]) * sIn[l])
		}
		d := tensors.MustCopyFlatData[float32](p[2]) // [F, L-l, D]
		for f := range F {
			for j := range L - l {
				for k := range D {
					d[(f*(L-l)+j)*D+k] = float32(float64(d[(f*(L-l)+j)*D+k]) / sOut[l+j])
				}
			}
		}
		bd := tensors.MustCopyFlatData[float32](p[3])
		for k := range bd {
			bd[k] = float32(float64(bd[k]) / sOut[l])
		}
		ps := map[string]*tensors.Tensor{"W_enc": tensors.FromFlatDataAndDimensions(enc, DIn, F), "b_enc": p[1],
			"W_dec": tensors.FromFlatDataAndDimensions(make([]float32, F*D), F, D), "b_dec": tensors.FromFlatDataAndDimensions(bd, D)}
		if a == sae.JumpReLU {
			ps["threshold"] = p[4]
		}
		s, err := sae.New(init.Layers[l].Config, ps, b)
		if err != nil {
			return nil, err
		}
		layers = append(layers, s)
		dec = append(dec, d)
	}
	return NewCLT(layers, dec)
}

func ones(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = 1
	}
	return out
}

func zerosLike(ts []*tensors.Tensor) []*tensors.Tensor {
	out := make([]*tensors.Tensor, len(ts))
	for i, t := range ts {
		out[i] = tensors.FromShape(t.Shape())
	}
	return out
}

// layerNorm is the mean norm of layer l's slices of rows [n, L, d].
func layerNorm(v []float32, l, L, d int) float64 {
	n := len(v) / (L * d)
	var total float64
	for r := range n {
		var ss float64
		for _, x := range v[(r*L+l)*d : (r*L+l+1)*d] {
			ss += float64(x) * float64(x)
		}
		total += math.Sqrt(ss)
	}
	return total / float64(n)
}

// layerMean is the mean of layer l's slices of rows [n, L, d].
func layerMean(v []float32, l, L, d int) []float32 {
	n := len(v) / (L * d)
	sum := make([]float64, d)
	for r := range n {
		for k, x := range v[(r*L+l)*d : (r*L+l+1)*d] {
			sum[k] += float64(x)
		}
	}
	out := make([]float32, d)
	for k := range out {
		out[k] = float32(sum[k] / float64(n))
	}
	return out
}
