package hooks

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Fn transforms the activation x at a hook point inside the graph. inputs holds the graph
// nodes of the tensors given with the hook (fed as Exec inputs, so one compiled graph serves
// many values). It must return a node of x's shape and dtype.
type Fn func(x *graph.Node, inputs []*graph.Node) *graph.Node

// Metric maps the model's logits [B, P, V] (and the tensors given with it, as graph nodes) to
// a scalar whose gradient Set.Grad asks for.
type Metric func(logits *graph.Node, inputs []*graph.Node) *graph.Node

type kind int

const (
	kindFunc kind = iota
	kindReplace
	kindAdd
	kindZero
)

func (k kind) String() string {
	return [...]string{"func", "replace", "add", "zero"}[k]
}

type hook struct {
	name   string
	kind   kind
	fn     Fn
	key    string // for kindFunc: identifies fn for graph caching; "" = never cached
	inputs []*tensors.Tensor
}

// Set is the collection of hooks for one run (or one compiled runner). A model holds no hook
// state: every run takes its Set. The zero value is not usable; start with New().
//
// Hooks on the same point apply in the order they were added. A cached activation is the
// value after the point's hooks, i.e. what flows on through the model.
type Set struct {
	hooks       []hook
	cache       map[string]bool
	cacheFilter func(name string) bool
	cacheKey    string

	metric      Metric
	metricKey   string
	metricIn    []*tensors.Tensor
	gradNames   []string
	gradWeights bool
}

// New returns an empty hook set.
func New() *Set { return &Set{cache: map[string]bool{}} }

// Cache records the named activations (run_with_cache with names_filter as a list).
func (s *Set) Cache(names ...string) *Set {
	for _, n := range names {
		s.cache[n] = true
	}
	return s
}

// CacheFilter records every activation whose name passes filter. key identifies the filter for
// graph caching (two filters with the same key must select the same names).
func (s *Set) CacheFilter(key string, filter func(name string) bool) *Set {
	s.cacheFilter = filter
	s.cacheKey = key
	return s
}

// CacheAll records every hook point (run_with_cache with no filter).
func (s *Set) CacheAll() *Set {
	return s.CacheFilter("all", func(string) bool { return true })
}

// Replace sets the activation at name to value, which must have the activation's shape or
// broadcast to it (its axes, aligned on the right, equal to the activation's or 1). The value
// enters the graph as an input, so runs differing only in value share one graph.
func (s *Set) Replace(name string, value *tensors.Tensor) *Set {
	s.hooks = append(s.hooks, hook{name: name, kind: kindReplace, inputs: []*tensors.Tensor{value}})
	return s
}

// Add adds value to the activation at name (steering): a tensor of the activation's shape, or
// one that broadcasts to it, such as a [D] direction added at every position.
func (s *Set) Add(name string, value *tensors.Tensor) *Set {
	s.hooks = append(s.hooks, hook{name: name, kind: kindAdd, inputs: []*tensors.Tensor{value}})
	return s
}

// Zero zero-ablates the activation at name.
func (s *Set) Zero(name string) *Set {
	s.hooks = append(s.hooks, hook{name: name, kind: kindZero})
	return s
}

// Func applies fn to the activation at name; inputs are fed to the graph and passed to fn as
// nodes. key names fn for graph caching: runs whose hook sets have equal keys (and input
// shapes) reuse one compiled graph, so two different functions must never share a key. With an
// empty key the set is compiled afresh for each run.
func (s *Set) Func(name, key string, fn Fn, inputs ...*tensors.Tensor) *Set {
	s.hooks = append(s.hooks, hook{name: name, kind: kindFunc, fn: fn, key: key, inputs: inputs})
	return s
}

// Grad asks for the gradient of metric (a scalar of the logits) with respect to the activation
// at each named hook point (the value after that point's hooks). key names metric for graph
// caching, as in Func.
func (s *Set) Grad(key string, metric Metric, names []string, inputs ...*tensors.Tensor) *Set {
	s.metric = metric
	s.metricKey = key
	s.metricIn = inputs
	s.gradNames = append(s.gradNames, names...)
	return s
}

// GradNames lists the hook points whose gradients were asked for.
func (s *Set) GradNames() []string { return slices.Clone(s.gradNames) }

// HasMetric reports whether a metric was set with Grad.
func (s *Set) HasMetric() bool { return s.metric != nil }

// Inputs returns every tensor the set feeds to the graph, in the order the graph reads them.
func (s *Set) Inputs() []*tensors.Tensor {
	var out []*tensors.Tensor
	for _, h := range s.hooks {
		out = append(out, h.inputs...)
	}
	out = append(out, s.metricIn...)
	return out
}

// Key identifies the graph this set builds, or "" when it cannot be shared between runs
// (a Func or metric without a key). Input values do not enter the key; their shapes do.
func (s *Set) Key() string {
	if s == nil {
		return "none"
	}
	var b strings.Builder
	shape := func(ts []*tensors.Tensor) {
		for _, t := range ts {
			fmt.Fprintf(&b, "%s;", t.Shape())
		}
	}
	for _, h := range s.hooks {
		if h.kind == kindFunc && h.key == "" {
			return ""
		}
		fmt.Fprintf(&b, "%s:%s:%s(", h.name, h.kind, h.key)
		shape(h.inputs)
		b.WriteString(")|")
	}
	names := make([]string, 0, len(s.cache))
	for n := range s.cache {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(&b, "cache%v|", names)
	if s.cacheFilter != nil {
		if s.cacheKey == "" {
			return ""
		}
		fmt.Fprintf(&b, "filter:%s|", s.cacheKey)
	}
	if s.metric != nil {
		if s.metricKey == "" {
			return ""
		}
		fmt.Fprintf(&b, "metric:%s(", s.metricKey)
		shape(s.metricIn)
		fmt.Fprintf(&b, ")%v", s.gradNames)
	}
	return b.String()
}

// Names lists every hook point the set refers to (hooks, explicit cache names and gradients).
func (s *Set) Names() []string {
	seen := map[string]bool{}
	for _, h := range s.hooks {
		seen[h.name] = true
	}
	for n := range s.cache {
		seen[n] = true
	}
	for _, n := range s.gradNames {
		seen[n] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Records reports whether the set caches activations or asks for gradients: outputs a run
// returns besides the logits.
func (s *Set) Records() bool {
	return len(s.cache) > 0 || s.cacheFilter != nil || s.metric != nil
}
