package sae

import (
	"fmt"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // graph code reads best unqualified
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/model"
)

// engine compiles and runs one SAE configuration's graphs on a backend. Every graph takes the
// SAE's tensors as inputs, so a training step's new weights are fed to the same compiled graph.
type engine struct {
	cfg     Config
	backend backends.Backend

	mu    sync.Mutex
	pre   *Exec             // x, params -> pre-activations
	fwd   *Exec             // inference forward: reconstruction and latents
	steps map[stepKey]*Exec // training steps
}

func newEngine(c Config, b backends.Backend) *engine {
	return &engine{cfg: c, backend: b, steps: map[stepKey]*Exec{}}
}

func (s *SAE) engine() *engine {
	s.once.Do(func() { s.eng = newEngine(s.Config, s.Backend) })
	return s.eng
}

// hostTopK reports whether the architecture's inference activation needs thresholds found on
// the host (TopK: the k-th largest of each row).
func (c Config) hostTopK() bool { return c.Arch == TopK }

// execute runs exec, turning GoMLX panics into errors.
func execute(e *Exec, args ...any) (out []*tensors.Tensor, err error) {
	err = model.Catch(func() {
		var e2 error
		out, e2 = e.Exec(args...)
		if e2 != nil {
			panic(e2)
		}
	})
	return out, err
}

func newExec(b backends.Backend, fn func([]*Node) []*Node) (*Exec, error) {
	var e *Exec
	err := model.Catch(func() {
		var err error
		e, err = NewExec(b, fn)
		if err != nil {
			panic(err)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("sae: compile: %w", err)
	}
	e.SetMaxCache(64)
	return e, nil
}

// preActs returns the pre-activations [n, F] of rows x [n, DIn].
func (e *engine) preActs(x *tensors.Tensor, params []*tensors.Tensor) (*tensors.Tensor, error) {
	e.mu.Lock()
	if e.pre == nil {
		c := e.cfg
		ex, err := newExec(e.backend, func(in []*Node) []*Node {
			return []*Node{PreGraph(c, NodesFrom(c, in[1:]), in[0])}
		})
		if err != nil {
			e.mu.Unlock()
			return nil, err
		}
		e.pre = ex
	}
	ex := e.pre
	e.mu.Unlock()
	out, err := execute(ex, append([]any{x}, asAny(params)...)...)
	if err != nil {
		return nil, fmt.Errorf("sae: encode: %w", err)
	}
	return out[0], nil
}

// forwardOut is what the inference forward pass returns for a batch of rows.
type forwardOut struct {
	Recon *tensors.Tensor // [N, DOut]
	F     *tensors.Tensor // [N, F] latents
	L0    []float32       // [N]: active latents per row
	Fires []float32       // [F]: rows on which each latent is active
}

// forward runs the SAE on rows x [N, DIn] (TopK thresholds found on the host) and counts the
// active latents on the host.
func (e *engine) forward(x *tensors.Tensor, params []*tensors.Tensor) (*forwardOut, error) {
	c := e.cfg
	e.mu.Lock()
	ex := e.fwd
	if ex == nil {
		var err error
		ex, err = newExec(e.backend, func(in []*Node) []*Node {
			x := in[0]
			p := NodesFrom(c, in[1:])
			var f *Node
			if c.hostTopK() {
				pre, thr := in[len(in)-2], in[len(in)-1] // [N, F], [N, 1]
				f = Where(GreaterOrEqual(pre, thr), pre, ScalarZero(pre.Graph(), pre.DType()))
			} else {
				f = EncodeGraph(c, p, x) // [N, F]
			}
			return []*Node{DecodeGraph(c, p, f, x), f} // [N, DOut], [N, F]
		})
		if err != nil {
			e.mu.Unlock()
			return nil, err
		}
		e.fwd = ex
	}
	e.mu.Unlock()
	args := append([]any{x}, asAny(params)...)
	n := x.Shape().Dimensions[0]
	if c.hostTopK() {
		pre, err := e.preActs(x, params)
		if err != nil {
			return nil, err
		}
		var thr []float32
		tensors.MustConstFlatData(pre, func(v []float32) { thr = rowThresholds(v, n, c.DSAE, c.K) })
		args = append(args, pre, tensors.FromFlatDataAndDimensions(thr, n, 1))
	}
	out, err := execute(ex, args...)
	if err != nil {
		return nil, fmt.Errorf("sae: forward: %w", err)
	}
	r := &forwardOut{Recon: out[0], F: out[1], L0: make([]float32, n)}
	tensors.MustConstFlatData(r.F, func(f []float32) {
		scratch := make([]float32, len(f))
		r.Fires = activeMask(f, n, c.DSAE, maskRule{strict: true}, scratch)
		for row := range n {
			var s float32
			for _, a := range scratch[row*c.DSAE : (row+1)*c.DSAE] {
				s += a
			}
			r.L0[row] = s
		}
	})
	return r, nil
}

func asAny(ts []*tensors.Tensor) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = t
	}
	return out
}

// checkRows validates a [N, d] float32 tensor of rows.
func checkRows(x *tensors.Tensor, d int, what string) error {
	if x == nil {
		return fmt.Errorf("sae: %s: nil tensor", what)
	}
	if x.DType() != dtypes.Float32 || x.Rank() != 2 || x.Shape().Dimensions[1] != d || x.Shape().Dimensions[0] == 0 {
		return fmt.Errorf("sae: %s: want float32 [rows, %d], got %s", what, d, x.Shape())
	}
	return nil
}

// Encode returns the latents f [N, DSAE] of rows x [N, DIn].
func (s *SAE) Encode(x *tensors.Tensor) (*tensors.Tensor, error) {
	if err := checkRows(x, s.Config.DIn, "encode"); err != nil {
		return nil, err
	}
	out, err := s.engine().forward(x, s.paramList())
	if err != nil {
		return nil, err
	}
	return out.F, nil
}

// Reconstruct returns the reconstruction [N, DOut] of rows x [N, DIn]: Decode(Encode(x)).
func (s *SAE) Reconstruct(x *tensors.Tensor) (*tensors.Tensor, error) {
	if err := checkRows(x, s.Config.DIn, "reconstruct"); err != nil {
		return nil, err
	}
	out, err := s.engine().forward(x, s.paramList())
	if err != nil {
		return nil, err
	}
	return out.Recon, nil
}

// Decode returns f W_dec + b_dec [N, DOut] for latents f [N, DSAE], plus x W_skip^T for skip
// transcoders, which need x [N, DIn] (as do SAEs with a run-time normalisation, mapped back with
// each row's statistics; x is ignored otherwise and may be nil): the reconstruction, what
// SAELens's forward returns. SAELens's decode leaves the skip term out; DecodeLatents is that.
func (s *SAE) Decode(f, x *tensors.Tensor) (*tensors.Tensor, error) {
	c := s.Config
	if err := checkRows(f, c.DSAE, "decode"); err != nil {
		return nil, err
	}
	needX := c.Skip || c.RuntimeNorm != ""
	if needX {
		if err := checkRows(x, c.DIn, "decode (skip input)"); err != nil {
			return nil, err
		}
	}
	var out *tensors.Tensor
	err := model.Catch(func() {
		args := []any{f}
		if needX {
			args = append(args, x)
		}
		out = MustExecOnce(s.Backend, func(in []*Node) *Node {
			p := NodesFrom(c, in[len(args):])
			var xs *Node
			if needX {
				xs = in[1]
			}
			return DecodeGraph(c, p, in[0], xs)
		}, append(args, asAny(s.paramList())...)...)
	})
	if err != nil {
		return nil, fmt.Errorf("sae: decode: %w", err)
	}
	return out, nil
}

// DecodeLatents returns f W_dec + b_dec [N, DOut] for latents f [N, DSAE] alone: SAELens's decode,
// which leaves out a skip transcoder's x W_skip^T (SAELens adds it only in forward). Without a
// skip term it equals Decode.
func (s *SAE) DecodeLatents(f *tensors.Tensor) (*tensors.Tensor, error) {
	c := s.Config
	if c.RuntimeNorm != "" {
		return nil, fmt.Errorf("sae: decode: the SAE maps its reconstruction back with each input row's statistics (normalize_activations %s): use Decode(f, x) with the input rows", c.RuntimeNorm)
	}
	if err := checkRows(f, c.DSAE, "decode"); err != nil {
		return nil, err
	}
	var out *tensors.Tensor
	err := model.Catch(func() {
		out = MustExecOnce(s.Backend, func(in []*Node) *Node {
			noSkip := c
			noSkip.Skip = false
			return DecodeGraph(noSkip, NodesFrom(c, in[1:]), in[0], nil)
		}, append([]any{f}, asAny(s.paramList())...)...)
	})
	if err != nil {
		return nil, fmt.Errorf("sae: decode: %w", err)
	}
	return out, nil
}

// hostBuf is a float32 array the host fills and a graph then reads: on backends with shared
// buffers (fastcpu, go) it is the backend's own buffer, so feeding it copies nothing.
type hostBuf struct {
	flat []float32
	t    *tensors.Tensor
	dims []int
}

func newHostBuf(b backends.Backend, dims ...int) *hostBuf {
	h := &hostBuf{dims: dims}
	if b.HasSharedBuffers() {
		buf, flat, err := b.NewSharedBuffer(0, shapes.Make(dtypes.Float32, dims...))
		if err == nil {
			if t, err := tensors.FromBuffer(b, buf); err == nil {
				h.flat, h.t = flat.([]float32), t
				return h
			}
		}
	}
	h.flat = make([]float32, shapes.Make(dtypes.Float32, dims...).Size())
	return h
}

// tensor returns the filled array as a tensor.
func (h *hostBuf) tensor() *tensors.Tensor {
	if h.t == nil {
		h.t = tensors.FromFlatDataAndDimensions(h.flat, h.dims...)
	}
	return h.t
}
