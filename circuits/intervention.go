package circuits

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// The interventions EAP scores edges against (hannamw/EAP-IG get_scores_eap): the sender's
// output moves from its clean value to
//
//	patching         its value on the paired corrupted prompt (default);
//	zero             zero;
//	mean             its mean over the corrupted prompts and positions;
//	mean-positional  its mean over the corrupted prompts, position by position.
//
// The corrupted prompts stand in for the reference's intervention dataset.
const (
	InterventionPatching       = "patching"
	InterventionZero           = "zero"
	InterventionMean           = "mean"
	InterventionMeanPositional = "mean-positional"
)

// interventionActs returns the sender outputs an intervention moves towards.
func (e *experiment) interventionActs(kind string) (*senderActs, error) {
	switch kind {
	case InterventionPatching, "":
		return e.corrOut, nil
	case InterventionZero, InterventionMean, InterventionMeanPositional:
	default:
		return nil, fmt.Errorf("circuits: intervention %q (want %s, %s, %s or %s)", kind, InterventionPatching, InterventionZero,
			InterventionMean, InterventionMeanPositional)
	}
	// Every sender output is [N, P, X...]: average over N (and P), broadcast back.
	f := func(t *tensors.Tensor) *tensors.Tensor {
		dims := t.Shape().Dimensions
		data := tensors.MustCopyFlatData[float32](t)
		out := make([]float32, len(data))
		if kind == InterventionZero {
			return tensors.FromFlatDataAndDimensions(out, dims...)
		}
		N, P := dims[0], dims[1]
		inner := len(data) / (N * P)
		groups := N * P // rows averaged together
		if kind == InterventionMeanPositional {
			groups = N
		}
		mean := make([]float64, len(data)/groups)
		for n := range N {
			for p := range P {
				row := data[(n*P+p)*inner : (n*P+p+1)*inner]
				off := 0
				if kind == InterventionMeanPositional {
					off = p * inner
				}
				for i, v := range row {
					mean[off+i] += float64(v) / float64(groups)
				}
			}
		}
		for n := range N {
			for p := range P {
				off := 0
				if kind == InterventionMeanPositional {
					off = p * inner
				}
				for i := range inner {
					out[(n*P+p)*inner+i] = float32(mean[off+i])
				}
			}
		}
		return tensors.FromFlatDataAndDimensions(out, dims...)
	}
	c := e.corrOut
	out := &senderActs{embed: f(c.embed)}
	for _, t := range c.result {
		out.result = append(out.result, f(t))
	}
	for _, t := range c.mlp {
		out.mlp = append(out.mlp, f(t))
	}
	return out, nil
}
