package patching

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// ScaleScore is how a model does on clean prompts with some heads' outputs multiplied by Factor.
type ScaleScore struct {
	Factor float64 `json:"factor"`
	// LogitDiff is the mean of logit[Answer] - logit[Wrong] at each row's Pos.
	LogitDiff float64 `json:"logit_diff"`
	// Accuracy is the fraction of rows whose answer logit beats the wrong one.
	Accuracy float64 `json:"accuracy"`
	// Top1 is the fraction of rows whose answer is the most likely token of the whole vocabulary.
	Top1 float64 `json:"top1"`
}

// scaleRows is how many prompts one forward pass of ScaleHeads takes.
const scaleRows = 64

// ScaleHeads runs the clean prompts with the outputs (hook_z) of heads multiplied by each factor
// in turn, as Merullo et al. (2024) boost a circuit's heads on a task where the model is weak:
// factor 1 is the plain model, 0 zero-ablates the heads, 2 doubles what they write. The hook
// takes the factors as an input, so one compiled graph serves every factor.
func ScaleHeads(m *model.Model, p *Prompts, heads []Head, factors []float64) ([]ScaleScore, error) {
	c := m.Config
	if err := p.Validate(c); err != nil {
		return nil, err
	}
	if p.AnswerSets != nil || p.WrongSets != nil {
		return nil, fmt.Errorf("patching: scale heads: the prompts score sets of answers; scaling reports one answer against one wrong token")
	}
	if len(heads) == 0 || len(factors) == 0 {
		return nil, fmt.Errorf("patching: scale heads: no heads or no factors")
	}
	layers := map[int][]int{}
	for _, h := range heads {
		if h.Layer < 0 || h.Layer >= c.NLayers || h.Head < 0 || h.Head >= c.NHeads {
			return nil, fmt.Errorf("patching: scale heads: head %d.%d out of range: the model has %d layers of %d heads", h.Layer, h.Head, c.NLayers, c.NHeads)
		}
		if slices.Contains(layers[h.Layer], h.Head) {
			return nil, fmt.Errorf("patching: scale heads: head %d.%d is listed twice", h.Layer, h.Head)
		}
		layers[h.Layer] = append(layers[h.Layer], h.Head)
	}
	out := make([]ScaleScore, len(factors))
	for fi, f := range factors {
		set := hooks.New()
		for l, hs := range layers {
			scale := make([]float32, c.NHeads)
			for h := range scale {
				scale[h] = 1
			}
			for _, h := range hs {
				scale[h] = float32(f)
			}
			set.Func(hooks.Z(l), "scale-heads", func(x *graph.Node, in []*graph.Node) *graph.Node {
				return graph.Mul(x, graph.Reshape(in[0], 1, 1, c.NHeads, 1))
			}, tensors.FromValue(scale))
		}
		s := ScaleScore{Factor: f}
		n := p.N()
		for lo := 0; lo < n; lo += scaleRows {
			hi := min(lo+scaleRows, n)
			tokens, err := model.Tokens(p.Clean[lo:hi])
			if err != nil {
				return nil, err
			}
			res, err := m.Run(tokens, set)
			if err != nil {
				return nil, err
			}
			logits := tensors.MustCopyFlatData[float32](res.Logits) // [rows, P, V]
			P, V := p.Len(), c.DVocab
			for i := lo; i < hi; i++ {
				row := logits[((i-lo)*P+p.Pos[i])*V:][:V]
				d := float64(row[p.Answer[i]]) - float64(row[p.Wrong[i]])
				s.LogitDiff += d / float64(n)
				if d > 0 {
					s.Accuracy += 1 / float64(n)
				}
				if slices.Index(row, slices.Max(row)) == p.Answer[i] {
					s.Top1 += 1 / float64(n)
				}
			}
		}
		out[fi] = s
	}
	return out, nil
}
