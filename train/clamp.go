package train

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// Clamp holds the activation at one hook point to a value at every training step (and in every
// evaluation), optionally only for some heads and some (query) positions. Gradient does not flow
// through a clamped entry: the value is stop-gradient and replaces the activation, so parameters
// that only feed clamped entries get zero gradient.
type Clamp struct {
	// Hook is the hook point, e.g. hooks.Pattern(0).
	Hook string
	// Heads, when set, clamps only these heads; the hook must have a head axis ([B, P, H, *] hooks
	// such as hook_z and hook_result, or [B, H, Pq, Pk] hooks such as hook_pattern).
	Heads []int
	// Positions, when set, clamps only these positions (the query position for [B, H, Pq, Pk] hooks).
	Positions []int
	// Value is where the clamped value comes from.
	Value Source
}

// String is the clamp in ParseClamp's syntax, e.g. blocks.0.attn.hook_pattern[head=2]=prev-token.
func (c Clamp) String() string {
	var b strings.Builder
	b.WriteString(c.Hook)
	list := func(key string, xs []int) {
		if len(xs) == 0 {
			return
		}
		s := make([]string, len(xs))
		for i, x := range xs {
			s[i] = strconv.Itoa(x)
		}
		fmt.Fprintf(&b, "[%s=%s]", key, strings.Join(s, ","))
	}
	list("head", c.Heads)
	list("pos", c.Positions)
	b.WriteString("=")
	if c.Value == nil {
		b.WriteString("<nil>")
	} else {
		b.WriteString(c.Value.String())
	}
	return b.String()
}

// Source is a clamp's value. The sources are Zero, MeanBatch, MeanRef, Constant, Graft, the
// attention patterns PrevToken, Induction and Uniform, and Func.
type Source interface {
	// String describes the source; it is recorded in checkpoints, and a run resumes only with
	// clamps whose descriptions match. Sources that hold data include a fingerprint of it.
	String() string
	// check validates the source for a hook of a model with config c (spec: the hook's shape at
	// batch 1 and the run's sequence length).
	check(c model.Config, spec hooks.Spec) error
}

type (
	zeroSource      struct{}
	meanBatchSource struct{}
	meanRefSource   struct {
		rows [][]int
		desc string
	}
	constSource struct {
		t    *tensors.Tensor
		desc string
	}
	graftSource struct {
		w    *model.Weights
		desc string
	}
	patternSource struct{ kind string }
	funcSource    struct {
		key string
		fn  hooks.Fn
	}
)

// Zero clamps to zero (zero ablation).
func Zero() Source { return &zeroSource{} }

// MeanBatch clamps to the activation's mean over the training batch (per position, head and
// feature), computed from the current model at each step, stop-gradient (mean ablation).
func MeanBatch() Source { return &meanBatchSource{} }

// MeanRef clamps to the activation's mean over a fixed reference set of token rows, under the
// current weights at each step. The rows are appended to every batch inside the same graph (the
// same clamped forward pass), excluded from the loss and from MeanBatch, and their mean is taken
// stop-gradient, so they cost compute but contribute no gradient. Rows must have the run's
// sequence length.
func MeanRef(rows [][]int) Source {
	rows = cloneRows(rows)
	return &meanRefSource{rows: rows, desc: fmt.Sprintf("mean-ref(%d rows, %s)", len(rows), fingerprintRows(rows))}
}

// Constant clamps to a fixed tensor of the activation's shape for one sequence: [1, ...] or the
// shape without the batch axis (e.g. [H, P, P] for hook_pattern at the run's sequence length),
// broadcast over the batch.
func Constant(t *tensors.Tensor) Source {
	return &constSource{t: t, desc: fmt.Sprintf("const(%v, %s)", t.Shape().Dimensions, fingerprintTensors(t))}
}

// Graft clamps to the activation of a reference model on the same batch: the reference forward
// pass runs in the same graph as the training step, on the same tokens, with ref's weights fed as
// (constant) inputs and its activations stop-gradient. ref needs the hook with the same shape;
// its other clamps do not apply to it (it is the plain reference model).
func Graft(ref *model.Weights) Source {
	var ts []*tensors.Tensor
	for _, s := range model.ParamSpecs(ref.Config) {
		if t, ok := ref.Tensors[s.Name]; ok {
			ts = append(ts, t)
		}
	}
	return &graftSource{w: ref, desc: "graft(" + fingerprintTensors(ts...) + ")"}
}

// PrevToken is the perfect previous-token pattern for hook_pattern: query i attends fully to
// key i-1, query 0 to itself.
func PrevToken() Source { return &patternSource{"prev-token"} }

// Induction is the perfect induction (match) pattern for hook_pattern, computed from each
// sequence's tokens: query i attends fully to the position after the most recent earlier
// occurrence of token[i] (j < i with token[j] = token[i], attend to j+1 <= i); a query whose
// token did not occur before attends to position 0.
func Induction() Source { return &patternSource{"induction"} }

// Uniform is the causal uniform pattern for hook_pattern: query i attends 1/(i+1) to each key
// 0..i.
func Uniform() Source { return &patternSource{"uniform"} }

// Func clamps to fn(activation): any function of the graph node (its value is made stop-gradient
// like every clamp value). key names fn in checkpoints; different functions need different keys.
func Func(key string, fn hooks.Fn) Source { return &funcSource{key: key, fn: fn} }

func (*zeroSource) String() string                            { return "zero" }
func (*meanBatchSource) String() string                       { return "mean" }
func (s *meanRefSource) String() string                       { return s.desc }
func (s *constSource) String() string                         { return s.desc }
func (s *graftSource) String() string                         { return s.desc }
func (s *patternSource) String() string                       { return s.kind }
func (s *funcSource) String() string                          { return "func:" + s.key }
func (*zeroSource) check(model.Config, hooks.Spec) error      { return nil }
func (*meanBatchSource) check(model.Config, hooks.Spec) error { return nil }

func (s *funcSource) check(model.Config, hooks.Spec) error {
	if s.fn == nil {
		return fmt.Errorf("func:%s: nil function", s.key)
	}
	if s.key == "" {
		return fmt.Errorf("func: empty key (name the function; checkpoints record it)")
	}
	return nil
}

func (s *meanRefSource) check(c model.Config, spec hooks.Spec) error {
	if len(s.rows) == 0 {
		return fmt.Errorf("%s: no reference rows", s.desc)
	}
	pos := posDim(spec)
	for i, r := range s.rows {
		if len(r) != pos {
			return fmt.Errorf("mean-ref: reference row %d has %d tokens, the run's sequence length is %d", i, len(r), pos)
		}
		for p, id := range r {
			if id < 0 || id >= c.DVocab {
				return fmt.Errorf("mean-ref: reference row %d, position %d: token %d outside the vocabulary [0, %d)", i, p, id, c.DVocab)
			}
		}
	}
	return nil
}

func (s *constSource) check(_ model.Config, spec hooks.Spec) error {
	got := s.t.Shape().Dimensions
	want := spec.Shape // batch 1
	if !slices.Equal(got, want) && !slices.Equal(got, want[1:]) {
		return fmt.Errorf("const: value has shape %v, want %v or %v (the activation for one sequence)", got, want, want[1:])
	}
	if !s.t.DType().IsFloat() {
		return fmt.Errorf("const: value has dtype %s, want a float tensor", s.t.DType())
	}
	return nil
}

func (s *graftSource) check(_ model.Config, spec hooks.Spec) error {
	if err := s.w.Check(); err != nil {
		return fmt.Errorf("graft: reference model: %w", err)
	}
	for _, rs := range model.HookPoints(s.w.Config, 1, posDim(spec)) {
		if rs.Name == spec.Name {
			if !slices.Equal(rs.Shape, spec.Shape) {
				return fmt.Errorf("graft: the reference model's %s has shape %v, the trained model's %v", spec.Name, rs.Shape, spec.Shape)
			}
			return nil
		}
	}
	return fmt.Errorf("graft: the reference model has no hook point %s", spec.Name)
}

func (s *patternSource) check(_ model.Config, spec hooks.Spec) error {
	if !strings.HasSuffix(spec.Name, ".attn.hook_pattern") {
		return fmt.Errorf("%s is an attention pattern: it clamps a hook_pattern hook, not %s", s.kind, spec.Name)
	}
	return nil
}

// Check validates the clamp for a model with config c trained on sequences of seqLen tokens: the
// hook exists (an unknown one is a *hooks.UnknownHookError with close names), heads and positions
// are in range and the hook has those axes, and the value fits the hook. Run checks every clamp
// before training starts.
func (c Clamp) Check(cfg model.Config, seqLen int) error {
	spec, ok := hookSpec(cfg, c.Hook, seqLen)
	if !ok {
		return &hooks.UnknownHookError{Name: c.Hook, Close: hooks.CloseNames(c.Hook, model.HookNames(cfg))}
	}
	if c.Value == nil {
		return fmt.Errorf("clamp %s: no value source", c.Hook)
	}
	if len(c.Heads) > 0 {
		if axis(spec, "head") < 0 {
			return fmt.Errorf("clamp %s: the hook has no head axis (shape %v), so [head=...] does not apply", c.Hook, spec.Dims)
		}
		for _, h := range c.Heads {
			if h < 0 || h >= cfg.NHeads {
				return fmt.Errorf("clamp %s: head %d out of range (the model has %d heads)", c.Hook, h, cfg.NHeads)
			}
		}
	}
	if len(c.Positions) > 0 {
		if posAxis(spec) < 0 {
			return fmt.Errorf("clamp %s: the hook has no position axis (shape %v)", c.Hook, spec.Dims)
		}
		for _, p := range c.Positions {
			if p < 0 || p >= seqLen {
				return fmt.Errorf("clamp %s: position %d out of range (sequence length %d)", c.Hook, p, seqLen)
			}
		}
	}
	if err := c.Value.check(cfg, spec); err != nil {
		return fmt.Errorf("clamp %s: %w", c.Hook, err)
	}
	return nil
}

// hookSpec returns the shape of hook name at batch 1 and pos seqLen.
func hookSpec(c model.Config, name string, seqLen int) (hooks.Spec, bool) {
	for _, s := range model.HookPoints(c, 1, seqLen) {
		if s.Name == name {
			return s, true
		}
	}
	return hooks.Spec{}, false
}

func axis(s hooks.Spec, dim string) int { return slices.Index(s.Dims, dim) }

// posAxis is the (query) position axis of a hook.
func posAxis(s hooks.Spec) int {
	if a := axis(s, "pos"); a >= 0 {
		return a
	}
	return axis(s, "query_pos")
}

func posDim(s hooks.Spec) int {
	if a := posAxis(s); a >= 0 {
		return s.Shape[a]
	}
	return 0
}

func cloneRows(rows [][]int) [][]int {
	out := make([][]int, len(rows))
	for i, r := range rows {
		out[i] = slices.Clone(r)
	}
	return out
}

// fingerprintRows and fingerprintTensors are short FNV-1a hashes of a source's data, so a
// checkpoint records which data a clamp used without storing it.
func fingerprintRows(rows [][]int) string {
	h := fnv.New64a()
	for _, r := range rows {
		for _, x := range r {
			fmt.Fprintf(h, "%d,", x)
		}
		h.Write([]byte{';'})
	}
	return fmt.Sprintf("fnv:%016x", h.Sum64())
}

func fingerprintTensors(ts ...*tensors.Tensor) string {
	h := fnv.New64a()
	for _, t := range ts {
		fmt.Fprintf(h, "%s;", t.Shape())
		switch t.DType().GoType().Kind().String() {
		case "float32":
			for _, x := range tensors.MustCopyFlatData[float32](t) {
				b := math.Float32bits(x)
				h.Write([]byte{byte(b), byte(b >> 8), byte(b >> 16), byte(b >> 24)})
			}
		default:
			fmt.Fprintf(h, "%v", t.Value())
		}
	}
	return fmt.Sprintf("fnv:%016x", h.Sum64())
}
