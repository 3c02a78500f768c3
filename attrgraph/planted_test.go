package attrgraph

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
	"github.com/interp-dev/interp/transcoder"
)

// The planted model: 2 layers, attention switched off (W_O = 0, b_O = 0), ReLU MLPs computing
// known sparse features of their LayerNorm'd input, mlp_out^l = sum_j ReLU(2 u_j^l . x - 2) 3 w_j^l,
// with exact transcoders (the MLPs' own weights, zero error). Layer 1's feature 0 reads layer 0's
// feature 0 output (u_0^1 = w_0^0), and the answer token's unembedding reads layer 1's feature 0
// output (W_U[:, ans] = 20 w_0^1). The planted path: the last token's embedding -> L0 f0 ->
// L1 f0 -> logit(ans).
func TestPlantedPathIsTheTopOfTheGraph(t *testing.T) {
	const D, V, M, ans = 32, 64, 8, 7
	c := model.Config{NLayers: 2, DModel: D, NHeads: 2, DHead: 4, DMLP: M, NCtx: 8, DVocab: V,
		Act: model.Relu, Normalization: model.LayerNorm, LNEps: 1e-5}
	w, err := model.NewRandomWeights(c, 7)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	unit := func() []float64 {
		v := make([]float64, D)
		var mean, n float64
		for i := range v {
			v[i] = rng.NormFloat64()
			mean += v[i] / D
		}
		for i := range v {
			v[i] -= mean
			n += v[i] * v[i]
		}
		for i := range v {
			v[i] /= math.Sqrt(n)
		}
		return v
	}
	set := func(name string, v []float32) {
		w.Tensors[name] = tensors.FromFlatDataAndDimensions(v, w.Tensors[name].Shape().Dimensions...)
	}
	emb := make([]float32, V*D)
	for v := range V {
		for i, x := range unit() {
			emb[v*D+i] = float32(x * math.Sqrt(D))
		}
	}
	set("embed.W_E", emb)
	var u, wo [2][][]float64
	for l := range 2 {
		set(fmt.Sprintf("blocks.%d.attn.W_O", l), make([]float32, c.NHeads*c.DHead*D))
		set(fmt.Sprintf("blocks.%d.attn.b_O", l), make([]float32, D))
		win, bin, wout := make([]float32, D*M), make([]float32, M), make([]float32, M*D)
		for j := range M {
			uj := unit()
			if l == 1 && j == 0 {
				uj = wo[0][0]
			}
			wj := unit()
			u[l], wo[l] = append(u[l], uj), append(wo[l], wj)
			for i := range D {
				win[i*M+j] = float32(2 * uj[i])
				wout[j*D+i] = float32(3 * wj[i])
			}
			bin[j] = -2
		}
		set(fmt.Sprintf("blocks.%d.mlp.W_in", l), win)
		set(fmt.Sprintf("blocks.%d.mlp.b_in", l), bin)
		set(fmt.Sprintf("blocks.%d.mlp.W_out", l), wout)
		set(fmt.Sprintf("blocks.%d.mlp.b_out", l), make([]float32, D))
	}
	wu := make([]float32, D*V)
	for i := range wu {
		wu[i] = float32(0.05 * rng.NormFloat64())
	}
	for i := range D {
		wu[i*V+ans] = float32(20 * wo[1][0][i])
	}
	set("unembed.W_U", wu)
	b, name := model.MustNewBackend("")
	m, err := model.New(w, b, name)
	if err != nil {
		t.Fatal(err)
	}
	var ts []*sae.SAE
	for l := range 2 {
		sc, err := transcoder.NewConfig(c, transcoder.Spec{Layer: l, Arch: sae.ReLU, DSAE: M})
		if err != nil {
			t.Fatal(err)
		}
		ps := map[string]*tensors.Tensor{}
		for _, spec := range sae.ParamSpecs(sc) {
			src := map[string]string{"W_enc": "mlp.W_in", "b_enc": "mlp.b_in", "W_dec": "mlp.W_out", "b_dec": "mlp.b_out"}[spec.Name]
			ps[spec.Name] = tensors.FromFlatDataAndDimensions(m.Weights.Flat(fmt.Sprintf("blocks.%d.%s", l, src)), spec.Shape...)
		}
		s, err := sae.New(sc, ps, b)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, s)
	}
	// The driving token: the one whose embedding reads most along u_0^0.
	drive, best := 0, math.Inf(-1)
	for v := range V {
		var s float64
		for i := range D {
			s += float64(emb[v*D+i]) * u[0][0][i]
		}
		if s > best {
			drive, best = v, s
		}
	}
	prompt := []int{(drive + 1) % V, (drive + 2) % V, (drive + 3) % V, drive}
	g, err := Build(m, ts, prompt, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if g.Logits[0].Token != ans {
		t.Fatalf("top logit %d, want the planted answer %d", g.Logits[0].Token, ans)
	}
	// Exact transcoders leave only rounding in the error nodes: both scores are 1.
	rep, comp, err := g.Scores()
	if err != nil {
		t.Fatal(err)
	}
	if rep < 0.999 || comp < 0.999 {
		t.Errorf("replacement %g, completeness %g with exact transcoders", rep, comp)
	}
	p, err := g.Prune(0.8, 0.98)
	if err != nil {
		t.Fatal(err)
	}
	node := func(l, j int) int {
		for i, f := range g.Features {
			if f.Layer == l && f.Pos == 3 && f.Index == j {
				return i
			}
		}
		t.Fatalf("feature L%d/%d at the last position is not active", l, j)
		return -1
	}
	f0, f1 := node(0, 0), node(1, 0)
	want := map[[2]int]bool{{f0, g.TokenNode(3)}: true, {f1, f0}: true, {g.LogitNode(0), f1}: true}
	type edge struct {
		t, s  int
		score float64
	}
	var es []edge
	for i := range g.N {
		for j := range g.N {
			if p.Edges[i*g.N+j] {
				es = append(es, edge{i, j, p.EdgeScore[i*g.N+j]})
			}
		}
	}
	sort.Slice(es, func(a, b int) bool { return es[a].score > es[b].score })
	if len(es) < 3 {
		t.Fatalf("pruned graph has %d edges", len(es))
	}
	for _, e := range es[:3] {
		if !want[[2]int{e.t, e.s}] {
			t.Errorf("top edge %d -> %d (score %.3g) is not on the planted path", e.s, e.t, e.score)
		}
	}
	for k := range want {
		if !p.Nodes[k[0]] || !p.Nodes[k[1]] {
			t.Errorf("planted node pruned: %v", k)
		}
	}
}
