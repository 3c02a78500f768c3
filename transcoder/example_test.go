package transcoder_test

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
	"github.com/interp-dev/interp/transcoder"
)

// Replace both MLPs of the embedded ioi-toy model by (untrained) skip transcoders, check that
// adding the error term back restores the model, and decompose a logit difference into
// transcoder features, attention heads, embeddings and error terms.
func Example() {
	w, _, _ := model.LoadAny("ioi-toy")
	b, name := model.MustNewBackend("")
	m, _ := model.New(w, b, name)
	var ts []*sae.SAE
	for l := range m.Config.NLayers {
		c, _ := transcoder.NewConfig(m.Config, transcoder.Spec{Layer: l, Arch: sae.ReLU, DSAE: 256, Skip: true})
		s, _ := sae.NewRandom(c, b, sae.InitOptions{Seed: uint64(l)})
		ts = append(ts, s)
	}
	prompt := []int{0, 5, 17, 23, 40, 8, 12, 30, 2, 11}
	tokens, _ := model.Tokens([][]int{prompt})
	clean := tensors.MustCopyFlatData[float32](m.MustRun(tokens, nil).Logits)
	set := hooks.New()
	_ = transcoder.Replace(set, m.Config, ts, true)
	withErr := tensors.MustCopyFlatData[float32](m.MustRun(tokens, set).Logits)
	var diff float64
	for i := range clean {
		diff = max(diff, math.Abs(float64(clean[i]-withErr[i])))
	}
	fmt.Println("replaced with the error term, logits unchanged:", diff < 1e-4)

	a, _ := transcoder.NewAnalysis(m, ts, prompt)
	att, _ := a.Attribute(transcoder.LogitTarget(9, 17, 23))
	sum := att.Constant
	kinds := map[transcoder.NodeKind]bool{}
	for _, n := range att.Nodes {
		sum += n.Contribution
		kinds[n.Kind] = true
	}
	fmt.Println("contributions + constant = logit difference:", math.Abs(sum-att.Value) < 1e-4)
	fmt.Println("features, heads, embeddings, errors:", kinds[transcoder.KindFeature], kinds[transcoder.KindHead],
		kinds[transcoder.KindEmbed], kinds[transcoder.KindError])
	// Output:
	// replaced with the error term, logits unchanged: true
	// contributions + constant = logit difference: true
	// features, heads, embeddings, errors: true true true true
}
