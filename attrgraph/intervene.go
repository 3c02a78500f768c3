package attrgraph

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
)

// Intervention changes one transcoder feature at one position: its activation a becomes
// Value (Op "="), a*Value ("*=") or a+Value ("+="), and the change (a' - a) W_dec[Feature] is
// added to the layer's MLP output (circuit-tracer's feature_intervention, with scaling and
// adding besides setting).
type Intervention struct {
	Layer   int         `json:"layer"`
	Pos     int         `json:"pos"`
	Feature int         `json:"feature"`
	Op      sae.SteerOp `json:"op"`
	Value   float64     `json:"value"`
}

func (iv Intervention) String() string {
	return fmt.Sprintf("%d:%d:%d%s%g", iv.Layer, iv.Pos, iv.Feature, iv.Op, iv.Value)
}

// apply returns the new activation of a feature whose activation is a.
func (iv Intervention) apply(a float64) float64 {
	switch iv.Op {
	case sae.SteerClamp:
		return iv.Value
	case sae.SteerScale:
		return a * iv.Value
	case sae.SteerAdd:
		return a + iv.Value
	}
	panic(fmt.Sprintf("attrgraph: unknown intervention op %q", iv.Op))
}

// ParseIntervention reads "LAYER:POS:FEATURE=VALUE" (also *= and +=). POS may be negative,
// counting from the end of a prompt of P tokens (-1 is the last position).
func ParseIntervention(spec string, P int) (Intervention, error) {
	var iv Intervention
	i := strings.IndexAny(spec, "=*+")
	if i < 0 {
		return iv, fmt.Errorf("intervention %q: want LAYER:POS:FEATURE=VALUE (or *=, +=)", spec)
	}
	head, rest := spec[:i], spec[i:]
	opLen := 1
	if strings.HasPrefix(rest, "*=") || strings.HasPrefix(rest, "+=") {
		opLen = 2
	}
	op, err := sae.ParseSteerOp(rest[:opLen])
	if err != nil {
		return iv, fmt.Errorf("intervention %q: %w", spec, err)
	}
	v, err := strconv.ParseFloat(rest[opLen:], 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return iv, fmt.Errorf("intervention %q: value %q is not a finite number", spec, rest[opLen:])
	}
	parts := strings.Split(head, ":")
	if len(parts) != 3 {
		return iv, fmt.Errorf("intervention %q: want LAYER:POS:FEATURE before the operator", spec)
	}
	var nums [3]int
	for k, p := range parts {
		if nums[k], err = strconv.Atoi(p); err != nil {
			return iv, fmt.Errorf("intervention %q: %s %q is not an integer", spec, [...]string{"layer", "position", "feature"}[k], p)
		}
	}
	iv = Intervention{Layer: nums[0], Pos: nums[1], Feature: nums[2], Op: op, Value: v}
	if iv.Pos < 0 {
		iv.Pos += P
	}
	return iv, nil
}

// Mode says what an intervened run holds at its values on the prompt.
type Mode string

const (
	// FrozenAttention holds the attention patterns (circuit-tracer's default, freeze_attention):
	// norms, the real MLPs and every later feature are recomputed.
	FrozenAttention Mode = "frozen"
	// Recomputed holds nothing: the change propagates through attention, norms and MLPs.
	Recomputed Mode = "recomputed"
	// Direct holds the attention patterns, every norm scale and every MLP output (circuit-tracer's
	// constrained_layers over all layers), and writes each change from the prompt's activations:
	// the logits move by exactly the graph's direct edges times the relative changes.
	Direct Mode = "direct"
	// Linear runs the local replacement model (transcoders in place of the MLPs, error nodes,
	// patterns and norm scales held): later features respond, so the logits move as the graph's
	// paths predict while no feature crosses its threshold.
	Linear Mode = "linear"
)

// Modes lists the modes.
var Modes = []Mode{FrozenAttention, Recomputed, Direct, Linear}

// ParseMode reads a mode name.
func ParseMode(s string) (Mode, error) {
	if m := Mode(s); slices.Contains(Modes, m) {
		return m, nil
	}
	return "", fmt.Errorf("unknown intervention mode %q (want frozen, recomputed, direct or linear)", s)
}

// CheckInterventions reports an intervention that names a layer without a transcoder, a
// position outside the prompt, a latent outside the dictionary or an unknown op, and a feature
// changed twice.
func (r *Replacement) CheckInterventions(ivs []Intervention) error {
	if len(ivs) == 0 {
		return errors.New("attrgraph: no interventions")
	}
	seen := map[[3]int]bool{}
	for _, iv := range ivs {
		s, ok := r.ts[iv.Layer]
		switch {
		case iv.Layer < 0 || iv.Layer >= r.cfg.NLayers:
			return fmt.Errorf("attrgraph: intervention %s: layer %d outside the model's [0, %d)", iv, iv.Layer, r.cfg.NLayers)
		case !ok:
			return fmt.Errorf("attrgraph: intervention %s: layer %d has no transcoder", iv, iv.Layer)
		case iv.Pos < 0 || iv.Pos >= r.P:
			return fmt.Errorf("attrgraph: intervention %s: position %d outside the prompt's %d tokens", iv, iv.Pos, r.P)
		case iv.Feature < 0 || iv.Feature >= s.Config.DSAE:
			return fmt.Errorf("attrgraph: intervention %s: feature %d outside layer %d's dictionary [0, %d)", iv, iv.Feature, iv.Layer, s.Config.DSAE)
		case math.IsNaN(iv.Value) || math.IsInf(iv.Value, 0):
			return fmt.Errorf("attrgraph: intervention %s: value is not finite", iv)
		}
		if _, err := sae.ParseSteerOp(string(iv.Op)); err != nil {
			return fmt.Errorf("attrgraph: intervention %s: %w", iv, err)
		}
		k := [3]int{iv.Layer, iv.Pos, iv.Feature}
		if seen[k] {
			return fmt.Errorf("attrgraph: feature %d of layer %d at position %d is changed twice", iv.Feature, iv.Layer, iv.Pos)
		}
		seen[k] = true
	}
	return nil
}

// Intervened is the outcome of an intervened run.
type Intervened struct {
	Mode Mode
	// Logits are the last position's logits [V], before any final soft-cap (the values the
	// graph's logit nodes attribute).
	Logits []float32
	// Latents[l] are layer l's latents [P*F] as its transcoder reads them from the intervened
	// run's MLP input (nil without a transcoder): before the intervention's own change, and read
	// but not written back in Direct mode.
	Latents [][]float32
}

// Intervene runs the prompt with the interventions in the given mode (see Mode).
func (r *Replacement) Intervene(ivs []Intervention, mode Mode) (*Intervened, error) {
	if err := r.CheckInterventions(ivs); err != nil {
		return nil, err
	}
	set := hooks.New()
	switch mode {
	case FrozenAttention:
		for l := range r.cfg.NLayers {
			set.Replace(hooks.Pattern(l), r.cache.MustGet(hooks.Pattern(l)))
		}
		r.addDeltas(set, ivs)
	case Recomputed:
		r.addDeltas(set, ivs)
	case Linear:
		if err := r.Hooks(set, true); err != nil {
			return nil, err
		}
		r.addDeltas(set, ivs)
	case Direct:
		r.HoldLinear(set)
		r.addFixedDeltas(set, ivs)
	default:
		return nil, fmt.Errorf("attrgraph: unknown intervention mode %q", mode)
	}
	var inputs []string
	for _, s := range r.transcoders() {
		inputs = append(inputs, s.Config.Site.Hook)
	}
	set.Cache(inputs...)
	out, err := r.Run(set)
	if err != nil {
		return nil, err
	}
	V := r.cfg.DVocab
	all := tensors.MustCopyFlatData[float32](out.Logits)
	res := &Intervened{Mode: mode, Logits: uncap(r.cfg.OutputSoftcap, all[(r.P-1)*V:]), Latents: make([][]float32, r.cfg.NLayers)}
	for l, s := range r.ts {
		f, err := s.Encode(tensors.FromFlatDataAndDimensions(tensors.MustCopyFlatData[float32](out.Cache.MustGet(s.Config.Site.Hook)), r.P, s.Config.DIn))
		if err != nil {
			return nil, fmt.Errorf("attrgraph: layer %d transcoder: %w", l, err)
		}
		res.Latents[l] = tensors.MustCopyFlatData[float32](f)
	}
	return res, nil
}

// uncap undoes a final soft-cap c*tanh(x/c) (c = 0: none).
func uncap(c float64, x []float32) []float32 {
	out := slices.Clone(x)
	if c == 0 {
		return out
	}
	for i, v := range out {
		out[i] = float32(c * math.Atanh(float64(v)/c))
	}
	return out
}

// HoldLinear adds to set the hooks under which the model is the linear map the graph's edges
// describe: patterns and norm scales frozen, every MLP's output held at its value on the prompt
// except a skip transcoder's skip term, which follows its input.
func (r *Replacement) HoldLinear(set *hooks.Set) {
	r.Freeze(set)
	c := r.cfg
	D := c.DModel
	for l := range c.NLayers {
		y := r.cache.MustGet(hooks.MLPOut(l))
		s, ok := r.ts[l]
		if !ok || !s.Config.Skip {
			set.Replace(hooks.MLPOut(l), y)
			continue
		}
		in := s.Config.Site.Hook
		var x *graph.Node
		set.Func(in, "attrgraph-hold-input/"+in, func(a *graph.Node, _ []*graph.Node) *graph.Node { x = a; return a })
		set.Func(hooks.MLPOut(l), "attrgraph-hold-skip/"+in, func(_ *graph.Node, p []*graph.Node) *graph.Node {
			dx := graph.Sub(x, p[1])                                         // [1, P, DIn]
			skip := graph.DotGeneral(dx, []int{2}, nil, p[2], []int{1}, nil) // [1, P, DOut]
			return graph.Add(p[0], skip)
		}, y, r.cache.MustGet(in), tensors.FromFlatDataAndDimensions(s.Flat("W_skip"), D, s.Config.DIn))
	}
}

// byLayer groups interventions by layer, in layer order.
func byLayer(ivs []Intervention) map[int][]Intervention {
	out := map[int][]Intervention{}
	for _, iv := range ivs {
		out[iv.Layer] = append(out[iv.Layer], iv)
	}
	return out
}

// addFixedDeltas adds each intervention's change computed from the prompt's activations,
// (a' - a) W_dec[j] at its position, to the output of every layer its latent writes to.
func (r *Replacement) addFixedDeltas(set *hooks.Set, ivs []Intervention) {
	D := r.cfg.DModel
	delta := map[int][]float32{} // by written layer: [P*D]
	for _, iv := range ivs {
		F := r.ts[iv.Layer].Config.DSAE
		a := float64(r.lat[iv.Layer][iv.Pos*F+iv.Feature])
		da := iv.apply(a) - a
		for _, m := range r.writes(iv.Layer) {
			if delta[m] == nil {
				delta[m] = make([]float32, r.P*D)
			}
			dec := r.decoderRow(iv.Layer, iv.Feature, m)
			for d := range D {
				delta[m][iv.Pos*D+d] += float32(da * float64(dec[d]))
			}
		}
	}
	for m, v := range delta {
		set.Add(hooks.MLPOut(m), tensors.FromFlatDataAndDimensions(v, 1, r.P, D))
	}
}

// addDeltas adds the interventions' changes computed from the latents the transcoders read in
// this run. At each intervened layer's input hook, with f the latents [P, F], the change of the
// latents is df = (alpha-1)*f + beta (new = alpha*f + beta on the intervened entries, alpha-1
// and beta fed as [P, F] inputs, zero elsewhere); at each written layer m's output, df W_dec
// (into m) is added.
func (r *Replacement) addDeltas(set *hooks.Set, ivs []Intervention) {
	groups := byLayer(ivs)
	df := map[int]*graph.Node{} // by intervened layer, set while a graph is built
	into := map[int][]int{}     // written layer -> intervened layers writing to it
	for l, group := range groups {
		s := r.ts[l]
		c := s.Config
		F := c.DSAE
		am1, beta := make([]float32, r.P*F), make([]float32, r.P*F)
		for _, iv := range group {
			k := iv.Pos*F + iv.Feature
			switch iv.Op {
			case sae.SteerClamp:
				am1[k], beta[k] = -1, float32(iv.Value)
			case sae.SteerScale:
				am1[k] = float32(iv.Value - 1)
			case sae.SteerAdd:
				beta[k] = float32(iv.Value)
			}
		}
		in := c.Site.Hook
		key := fmt.Sprintf("attrgraph-intervene-latents/%s/k%d/bdec%v/%s", c.Arch, c.K, c.ApplyBDecToInput, in)
		inputs := append(s.Tensors(), tensors.FromFlatDataAndDimensions(am1, r.P, F), tensors.FromFlatDataAndDimensions(beta, r.P, F))
		set.Func(in, key, func(x *graph.Node, p []*graph.Node) *graph.Node {
			n := len(p)
			f := sae.EncodeGraph(c, sae.NodesFrom(c, p[:n-2]), graph.Reshape(x, -1, c.DIn)) // [P, F] (batch 1)
			df[l] = graph.Add(graph.Mul(p[n-2], f), p[n-1])                                 // [P, F]
			return x
		}, inputs...)
		for _, m := range r.writes(l) {
			into[m] = append(into[m], l)
		}
	}
	for m, ls := range into {
		slices.Sort(ls)
		var decs []*tensors.Tensor
		for _, l := range ls {
			decs = append(decs, r.decoderTensor(l, m))
		}
		set.Func(hooks.MLPOut(m), fmt.Sprintf("attrgraph-intervene-write/%d/%v", m, ls), func(y *graph.Node, p []*graph.Node) *graph.Node {
			out := y
			for i, l := range ls {
				delta := graph.DotGeneral(df[l], []int{1}, nil, p[i], []int{0}, nil) // [P, D]
				out = graph.Add(out, graph.Reshape(delta, y.Shape().Dimensions...))
			}
			return out
		}, decs...)
	}
}

// Prediction is the graph's linear prediction of an intervention's effect on its logit nodes'
// values (each logit minus the mean logit).
type Prediction struct {
	// Direct sums the intervened features' direct edges, each times its relative change
	// (a' - a)/a: what Direct mode measures.
	Direct []float64
	// Paths propagates the changes through every feature of the graph in layer order, each
	// responding to its inputs with slope 1 (an active ReLU, JumpReLU or TopK latent): what
	// Linear mode measures while no feature crosses its threshold.
	Paths []float64
}

// Predict returns the graph's prediction of the interventions' effect on its logit nodes. Every
// intervened feature must be a node of the graph (active on the prompt, and kept).
func (g *Graph) Predict(ivs []Intervention) (*Prediction, error) {
	node := map[[3]int]int{}
	for i, f := range g.Features {
		node[[3]int{f.Layer, f.Pos, f.Index}] = i
	}
	set := map[int]Intervention{}
	for _, iv := range ivs {
		i, ok := node[[3]int{iv.Layer, iv.Pos, iv.Feature}]
		if !ok {
			return nil, fmt.Errorf("attrgraph: feature %d of layer %d at position %d is not a node of the graph (inactive on the prompt, or beyond the feature budget); the graph predicts nothing for it",
				iv.Feature, iv.Layer, iv.Pos)
		}
		set[i] = iv
	}
	nF := len(g.Features)
	// jac is the effect of a unit change of feature s's activation on target t: A[t, s] / a_s.
	jac := func(t, s int) float64 { return float64(g.Edge(t, s)) / float64(g.Features[s].Act) }
	direct := make([]float64, nF)
	for i, iv := range set {
		a := float64(g.Features[i].Act)
		direct[i] = iv.apply(a) - a
	}
	paths := make([]float64, nF)
	for t := range nF { // features are in layer order: a row holds only earlier layers
		var in float64
		for s := range t {
			if paths[s] != 0 {
				in += jac(t, s) * paths[s]
			}
		}
		a := float64(g.Features[t].Act)
		if iv, ok := set[t]; ok {
			paths[t] = iv.apply(a+in) - a
		} else {
			paths[t] = in
		}
	}
	p := &Prediction{Direct: make([]float64, len(g.Logits)), Paths: make([]float64, len(g.Logits))}
	for i := range g.Logits {
		t := g.LogitNode(i)
		for s := range nF {
			p.Direct[i] += jac(t, s) * direct[s]
			p.Paths[i] += jac(t, s) * paths[s]
		}
	}
	return p, nil
}

// LogitEffect is an intervention's effect on one of the graph's logit nodes: the change of
// the logit minus the mean logit, predicted by the graph and measured in each mode.
type LogitEffect struct {
	Token int     `json:"token"`
	Prob  float64 `json:"prob"`
	// Direct and Paths are the graph's predictions (Prediction); nil when an intervened feature
	// is not a node of the graph.
	Direct *float64 `json:"predicted_direct"`
	Paths  *float64 `json:"predicted_paths"`
	// Measured and ProbAfter are per mode.
	Measured  map[Mode]float64 `json:"measured"`
	ProbAfter map[Mode]float64 `json:"prob_after"`
}

// Report is the outcome of interventions in several modes beside the graph's predictions.
type Report struct {
	Interventions []Intervention `json:"interventions"`
	Modes         []Mode         `json:"modes"`
	Logits        []LogitEffect  `json:"logits"`
	// Top is the most probable next token after the intervention, per mode.
	Top map[Mode]int `json:"top_token"`
	// NoPrediction says why the graph predicts nothing ("" when it does).
	NoPrediction string `json:"no_prediction,omitempty"`
}

// Report runs the interventions in each mode and sets the measured changes of g's logit nodes
// beside g's predictions. g must be the graph of r's prompt.
func (r *Replacement) Report(g *Graph, ivs []Intervention, modes []Mode) (*Report, error) {
	if !slices.Equal(g.Tokens, r.Tokens) {
		return nil, errors.New("attrgraph: the graph is of another prompt")
	}
	if err := r.CheckInterventions(ivs); err != nil {
		return nil, err
	}
	rep := &Report{Interventions: slices.Clone(ivs), Modes: slices.Clone(modes), Top: map[Mode]int{}}
	pred, err := g.Predict(ivs)
	if err != nil {
		rep.NoPrediction = err.Error()
	}
	before := uncap(r.cfg.OutputSoftcap, r.Logits(r.P-1))
	meanBefore := mean32(before)
	for i, l := range g.Logits {
		e := LogitEffect{Token: l.Token, Prob: l.Prob, Measured: map[Mode]float64{}, ProbAfter: map[Mode]float64{}}
		if pred != nil {
			e.Direct, e.Paths = &pred.Direct[i], &pred.Paths[i]
		}
		rep.Logits = append(rep.Logits, e)
	}
	for _, mode := range modes {
		res, err := r.Intervene(ivs, mode)
		if err != nil {
			return nil, err
		}
		after := res.Logits
		probs := model.Probs(capped(r.cfg.OutputSoftcap, after))
		rep.Top[mode] = argmax(probs)
		meanAfter := mean32(after)
		for i, l := range g.Logits {
			rep.Logits[i].Measured[mode] = (float64(after[l.Token]) - meanAfter) - (float64(before[l.Token]) - meanBefore)
			rep.Logits[i].ProbAfter[mode] = probs[l.Token]
		}
	}
	return rep, nil
}

// capped applies a final soft-cap c*tanh(x/c) (c = 0: none).
func capped(c float64, x []float32) []float32 {
	if c == 0 {
		return x
	}
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(c * math.Tanh(float64(v)/c))
	}
	return out
}

func mean32(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	return s / float64(len(x))
}

func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
