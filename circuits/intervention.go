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
	case InterventionZero:
		return e.ablationSource(Zero)
	case InterventionMeanPositional:
		return mapActs(e.corrOut, meanOverRows), nil
	case InterventionMean:
		return mapActs(e.corrOut, meanOverRowsAndPositions), nil
	}
	return nil, fmt.Errorf("circuits: intervention %q (want %s, %s, %s or %s)", kind, InterventionPatching, InterventionZero,
		InterventionMean, InterventionMeanPositional)
}

// meanOverRowsAndPositions replaces every [N, P, ...] entry by its mean over the first two axes.
func meanOverRowsAndPositions(t *tensors.Tensor) *tensors.Tensor {
	dims := t.Shape().Dimensions
	flat := tensors.MustCopyFlatData[float32](t)
	merged := append([]int{dims[0] * dims[1]}, dims[2:]...)
	m := tensors.MustCopyFlatData[float32](meanOverRows(tensors.FromFlatDataAndDimensions(flat, merged...)))
	return tensors.FromFlatDataAndDimensions(m, dims...)
}
