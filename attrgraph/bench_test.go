package attrgraph

import (
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/internal/memstat"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
	"github.com/interp-dev/interp/transcoder"
)

// The attribution-graph benchmark of docs/PERFORMANCE.md (issue 15); bench/torch_attrgraph.py
// is the PyTorch side and bench/attrgraph.sh runs both. A GPT-2-small-shaped random model, a
// 64-token random prompt, per-layer ReLU transcoders of expansion 8 (6144 latents) on every
// layer, their encoder biases set so that benchActive latents per position are active on the
// prompt (a quantile of the pre-activations), every active feature kept (no influence
// re-ranking), the logits up to 0.95 (at most 10), batches of 256 targets.
const benchP = 64

// benchActive is the number of active latents per position and layer: 8, or
// $INTERP_BENCH_GRAPH_ACTIVE (for profiling at a smaller size).
func benchActive() int {
	if n, err := strconv.Atoi(os.Getenv("INTERP_BENCH_GRAPH_ACTIVE")); err == nil && n > 0 {
		return n
	}
	return 8
}

// benchGraphSetup builds the model, the transcoders and the prompt.
func benchGraphSetup(b *testing.B) (*model.Model, []*sae.SAE, []int) {
	c := model.GPT2Small()
	w, err := model.NewRandomWeights(c, 0)
	if err != nil {
		b.Fatal(err)
	}
	be, name := model.MustNewBackend("")
	m, err := model.New(w, be, name)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	tokens := make([]int, benchP)
	for i := range tokens {
		tokens[i] = rng.IntN(c.DVocab)
	}
	tt, _ := model.Tokens([][]int{tokens})
	var names []string
	for l := range c.NLayers {
		names = append(names, transcoder.InputHook(c, l))
	}
	out, err := m.Run(tt, hooks.New().Cache(names...))
	if err != nil {
		b.Fatal(err)
	}
	var ts []*sae.SAE
	for l := range c.NLayers {
		sc, err := transcoder.NewConfig(c, transcoder.Spec{Layer: l, Arch: sae.ReLU, DSAE: 8 * c.DModel})
		if err != nil {
			b.Fatal(err)
		}
		s, err := sae.NewRandom(sc, be, sae.InitOptions{Seed: uint64(l)})
		if err != nil {
			b.Fatal(err)
		}
		// The bias that leaves benchActive * P of the layer's P * F pre-activations positive.
		f, err := s.Encode(tensors.FromFlatDataAndDimensions(tensors.MustCopyFlatData[float32](out.Cache.MustGet(names[l])), benchP, c.DModel))
		if err != nil {
			b.Fatal(err)
		}
		pre := tensors.MustCopyFlatData[float32](f) // ReLU of the pre-activations (b_enc is 0)
		slices.Sort(pre)
		th := pre[len(pre)-benchActive()*benchP-1]
		bias := make([]float32, sc.DSAE)
		for i := range bias {
			bias[i] = -th
		}
		s.Params["b_enc"] = tensors.FromFlatDataAndDimensions(bias, sc.DSAE)
		ts = append(ts, s)
	}
	return m, ts, tokens
}

// BenchmarkGraphGPT2Small times Build (the forward pass, the logit and feature rows, the
// adjacency) on the setup above.
func BenchmarkGraphGPT2Small(b *testing.B) {
	m, ts, tokens := benchGraphSetup(b)
	var g *Graph
	for b.Loop() {
		var err error
		if g, err = Build(m, ts, tokens, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/graph")
	b.ReportMetric(float64(len(g.Features)), "features")
	b.ReportMetric(float64(len(g.Logits)), "logits")
	b.ReportMetric(memstat.PeakRSSGiB(), "peak-GiB")
}
