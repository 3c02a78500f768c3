package circuits

import (
	"math"
	"sort"
	"strconv"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/model"
)

// Planted is a model with hand-set weights whose circuit is known by construction: the ground
// truth that discovery methods are scored against.
type Planted struct {
	// Name is the built-in model name (model.LoadAny accepts it anywhere a model is accepted).
	Name  string
	About string
	// Task is the task (tasks.New name) the model solves and its circuit is defined on.
	Task string
	// Circuit is the ground truth: the heads that implement the task and the edges between them
	// (and from the embeddings and to the logits) that carry the information the task's
	// clean/corrupted pairs differ in.
	Circuit Circuit
	// Build constructs the weights.
	Build func() (*model.Weights, error)
}

// planted lists the planted-circuit models; init registers them as built-in models.
var planted = []*Planted{plantedInduction(), plantedInductionCopy(), plantedIOI(), plantedIOICopy()}

func init() {
	for _, p := range planted {
		model.RegisterBuiltin(p.Name, p.About, p.Build)
	}
}

// PlantedModels lists the planted-circuit models by name.
func PlantedModels() []*Planted {
	out := append([]*Planted(nil), planted...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupPlanted returns the planted model called name, if it is one.
func LookupPlanted(name string) (*Planted, bool) {
	for _, p := range planted {
		if p.Name == name {
			return p, true
		}
	}
	return nil, false
}

// weightBuilder sets single entries of zero-initialised weights: the planted models are written
// entry by entry, each one a statement about a subspace of the residual stream.
type weightBuilder struct {
	w    *model.Weights
	data map[string][]float32
	dims map[string][]int
}

func newWeightBuilder(c model.Config) (*weightBuilder, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	b := &weightBuilder{w: &model.Weights{Config: c, Tensors: map[string]*tensors.Tensor{}},
		data: map[string][]float32{}, dims: map[string][]int{}}
	for _, s := range model.ParamSpecs(c) {
		n := 1
		for _, d := range s.Shape {
			n *= d
		}
		b.data[s.Name] = make([]float32, n)
		b.dims[s.Name] = s.Shape
		if s.Init == -1 { // LayerNorm scales
			for i := range b.data[s.Name] {
				b.data[s.Name][i] = 1
			}
		}
	}
	return b, nil
}

// set writes v at index idx of the named tensor; it panics on a bad name or index (a bug in a
// planted model's construction, caught by its tests).
func (b *weightBuilder) set(name string, v float64, idx ...int) {
	dims, ok := b.dims[name]
	if !ok || len(idx) != len(dims) {
		panic("circuits: planted weights: no tensor " + name + " of that rank")
	}
	off := 0
	for i, x := range idx {
		if x < 0 || x >= dims[i] {
			panic("circuits: planted weights: index out of range in " + name)
		}
		off = off*dims[i] + x
	}
	b.data[name][off] = float32(v)
}

func (b *weightBuilder) weights() (*model.Weights, error) {
	for name, d := range b.data {
		b.w.Tensors[name] = tensors.FromFlatDataAndDimensions(d, b.dims[name]...)
	}
	if err := b.w.Check(); err != nil {
		return nil, err
	}
	return b.w, nil
}

// attn returns the name of layer l's attention weight (W_Q, b_Q, ...).
func attn(l int, w string) string { return "blocks." + strconv.Itoa(l) + ".attn." + w }

// scoreScale turns a wanted attention score s into the QK weight that gives it: scores are
// q.k / sqrt(K).
func scoreScale(s float64, dHead int) float64 { return s * math.Sqrt(float64(dHead)) }
