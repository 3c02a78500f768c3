package hooks

import (
	"fmt"
	"slices"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// Active applies a Set while one graph is built: the model's forward pass calls Point at every
// hook point. A nil *Active applies nothing (the plain forward pass).
type Active struct {
	set          *Set
	hookInputs   [][]*graph.Node
	metricInputs []*graph.Node
	seen         map[string]*graph.Node
	order        []string
}

// Activate binds the set's fed tensors to graph nodes (in Set.Inputs order) for one graph build.
func (s *Set) Activate(inputs []*graph.Node) *Active {
	a := &Active{set: s, seen: map[string]*graph.Node{}}
	i := 0
	for _, h := range s.hooks {
		a.hookInputs = append(a.hookInputs, inputs[i:i+len(h.inputs)])
		i += len(h.inputs)
	}
	a.metricInputs = inputs[i : i+len(s.metricIn)]
	if i+len(s.metricIn) != len(inputs) {
		panic(fmt.Sprintf("hooks: Activate got %d inputs, the set feeds %d", len(inputs), i+len(s.metricIn)))
	}
	return a
}

// Point is the hook point `name` on activation x: it applies the set's hooks for name, records
// the result for caching and gradients, and returns what flows on through the model.
func (a *Active) Point(name string, x *graph.Node) *graph.Node {
	if a == nil {
		return x
	}
	if _, dup := a.seen[name]; dup {
		panic(fmt.Sprintf("hooks: hook point %q visited twice in one forward pass", name))
	}
	for i, h := range a.set.hooks {
		if h.name != name {
			continue
		}
		in := a.hookInputs[i]
		switch h.kind {
		case kindReplace, kindAdd:
			value := broadcastTo(in[0], x)
			if value == nil {
				panic(fmt.Sprintf("hooks: %s at %q: value has shape %s, activation has shape %s (a value must have its shape or broadcast to it)",
					h.kind, name, in[0].Shape(), x.Shape()))
			}
			if h.kind == kindReplace {
				x = value
			} else {
				x = graph.Add(x, value)
			}
		case kindZero:
			x = graph.ZerosLike(x)
		case kindFunc:
			y := h.fn(x, in)
			if y == nil || !y.Shape().Equal(x.Shape()) {
				got := "nil"
				if y != nil {
					got = y.Shape().String()
				}
				panic(fmt.Sprintf("hooks: function hook at %q returned shape %s, want %s", name, got, x.Shape()))
			}
			x = y
		}
	}
	a.seen[name] = x
	a.order = append(a.order, name)
	return x
}

// broadcastTo returns value broadcast to x's shape: value itself when the shapes are equal, or,
// when value has x's dtype, no more axes, and each of its axes (aligned on the right) equals x's
// or is 1, value repeated along the missing ones (a [D] direction added at every position). It
// returns nil otherwise.
func broadcastTo(value, x *graph.Node) *graph.Node {
	vs, xs := value.Shape(), x.Shape()
	if vs.Equal(xs) {
		return value
	}
	if vs.DType != xs.DType || vs.Rank() > xs.Rank() {
		return nil
	}
	off := xs.Rank() - vs.Rank()
	for i, d := range vs.Dimensions {
		if d != 1 && d != xs.Dimensions[off+i] {
			return nil
		}
	}
	return graph.BroadcastToDims(graph.ExpandLeftToRank(value, xs.Rank()), xs.Dimensions...)
}

// Wants reports whether the set touches name (hooks, cache or gradient), for activations the
// model only computes on demand (per-head hook_result).
func (a *Active) Wants(name string) bool {
	if a == nil {
		return false
	}
	s := a.set
	if s.cache[name] || (s.cacheFilter != nil && s.cacheFilter(name)) || slices.Contains(s.gradNames, name) {
		return true
	}
	for _, h := range s.hooks {
		if h.name == name {
			return true
		}
	}
	return false
}

// Outputs are the extra graph outputs a set asks for, in a fixed order.
type Outputs struct {
	// CacheNames[i] is the hook name of Nodes[i] for i < len(CacheNames).
	CacheNames []string
	// GradNames[j] is the hook name of Nodes[len(CacheNames)+j]; the metric follows them when
	// HasMetric.
	GradNames []string
	HasMetric bool
	Nodes     []*graph.Node
}

// Finish checks that every hook point the set names exists in the model, and returns the
// cached activations, the gradients of the metric and the metric itself as graph outputs.
func (a *Active) Finish(logits *graph.Node) Outputs {
	var out Outputs
	if a == nil {
		return out
	}
	for _, n := range a.set.Names() {
		if _, ok := a.seen[n]; !ok {
			panic(&UnknownHookError{Name: n, Close: a.closeNames(n)})
		}
	}
	for _, n := range a.order {
		if a.set.cache[n] || (a.set.cacheFilter != nil && a.set.cacheFilter(n)) {
			out.CacheNames = append(out.CacheNames, n)
			out.Nodes = append(out.Nodes, a.seen[n])
		}
	}
	if a.set.metric != nil {
		m := a.set.metric(logits, a.metricInputs)
		if !m.Shape().IsScalar() {
			panic(fmt.Sprintf("hooks: gradient metric must be a scalar, got shape %s", m.Shape()))
		}
		var wrt []*graph.Node
		for _, n := range a.set.gradNames {
			out.GradNames = append(out.GradNames, n)
			wrt = append(wrt, a.seen[n])
		}
		if len(wrt) > 0 {
			out.Nodes = append(out.Nodes, graph.Gradient(m, wrt...)...)
		}
		out.Nodes = append(out.Nodes, m)
		out.HasMetric = true
	}
	return out
}

// Seen lists the hook points visited so far, in forward order.
func (a *Active) Seen() []string { return slices.Clone(a.order) }

func (a *Active) closeNames(name string) []string {
	names := make([]string, 0, len(a.seen))
	for n := range a.seen {
		names = append(names, n)
	}
	return CloseNames(name, names)
}

// CloseNames lists the names within edit distance 3 of name, closest first (ties by name): the
// "did you mean" list of UnknownHookError.
func CloseNames(name string, names []string) []string {
	type cand struct {
		n string
		d int
	}
	var cs []cand
	for _, n := range names {
		if d := editDistance(n, name); d <= 3 {
			cs = append(cs, cand{n, d})
		}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].d < cs[j].d || (cs[i].d == cs[j].d && cs[i].n < cs[j].n) })
	var out []string
	for _, c := range cs {
		out = append(out, c.n)
	}
	return out
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
