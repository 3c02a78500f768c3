package transcoder

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/interp-dev/interp/sae"
)

// trainPlanted trains a ReLU transcoder on layer l of the planted model.
func trainPlanted(t *testing.T, p *planted, l int, skip bool) *sae.SAE {
	t.Helper()
	job := Job{Spec: Spec{Layer: l, Arch: sae.ReLU, DSAE: 4 * plM, Skip: skip}}
	job.Out = filepath.Join(t.TempDir(), "tc")
	job.Seed = uint64(l + 1)
	job.Train = sae.TrainOptions{Steps: 400, Batch: 512, LR: 3e-3, Sparsity: 3e-1, DecaySteps: 100,
		Init: sae.InitOptions{EncoderFromDecoder: true}}
	job.Store = sae.StoreOptions{SeqBatch: 64, BufferRows: 4096}
	s, log, err := RunJob(p.m, randomTokens(uint64(l+5), plCtx), "planted", job)
	if err != nil {
		t.Fatal(err)
	}
	last := log[len(log)-1]
	t.Logf("layer %d: step %d mse %.4g l0 %.2f dead %d", l, last.Step, last.MSE, last.L0, last.Dead)
	return s
}

// A transcoder trained on the planted MLPs recovers every planted feature: for each, some
// latent's decoder row and encoder column point along the planted output and input directions.
func TestPlantedRecovery(t *testing.T) {
	p := newPlanted(t)
	var ts []*sae.SAE
	for l := range 2 {
		s := trainPlanted(t, p, l, false)
		ts = append(ts, s)
		F := s.Config.DSAE
		dec, enc := s.Flat("W_dec"), s.Flat("W_enc")
		for j := range plM {
			di, dc := bestMatch(dec, F, plD, false, p.w[l][j])
			ei, ec := bestMatch(enc, F, plD, true, p.u[l][j])
			t.Logf("L%d feature %d: decoder latent %d cos %.3f, encoder latent %d cos %.3f", l, j, di, dc, ei, ec)
			if dc < 0.9 {
				t.Errorf("L%d planted feature %d: best decoder cosine %.3f < 0.9", l, j, dc)
			}
			if ec < 0.9 {
				t.Errorf("L%d planted feature %d: best encoder cosine %.3f < 0.9", l, j, ec)
			}
		}
	}

	// The path search through the trained transcoders finds the planted path: from the L1 latent
	// that reads the planted L1 feature 0's input, through the L0 latent that writes planted L0
	// feature 0's output, to the driving token's embedding.
	a, err := NewAnalysis(p.m, ts, p.drivingPrompt())
	if err != nil {
		t.Fatal(err)
	}
	target, _ := bestMatch(ts[1].Flat("W_enc"), ts[1].Config.DSAE, plD, true, p.u[1][0])
	g, err := a.Paths(FeatureTarget(1, target, 0), PathOptions{Depth: 2, Branch: 3, Beam: 6})
	if err != nil {
		t.Fatal(err)
	}
	var best *Path
	for i := range g.Paths {
		if n := g.Paths[i].Nodes; len(n) == 3 && n[1].Kind == KindFeature {
			best = &g.Paths[i]
			break
		}
	}
	if best == nil {
		t.Fatalf("no depth-2 path through a feature: %+v", g.Paths)
	}
	mid := best.Nodes[1]
	dec := ts[0].Flat("W_dec")
	var dot, nn float64
	for i := range plD {
		x := float64(dec[mid.Latent*plD+i])
		dot += x * p.w[0][0][i]
		nn += x * x
	}
	cos := dot / math.Sqrt(nn)
	t.Logf("top path %s <- %s <- %s: %.4f (L0 latent's cosine with planted feature 0: %.3f)",
		best.Nodes[0].ID(), mid.ID(), best.Nodes[2].ID(), best.Attribution, cos)
	if mid.Layer != 0 || cos < 0.9 {
		t.Errorf("the top path goes through %s, whose decoder has cosine %.3f with planted L0 feature 0", mid.ID(), cos)
	}
	if n := best.Nodes[2]; n.Kind != KindEmbed || n.Pos != 0 {
		t.Errorf("the top path starts at %s, want embed@0", n.ID())
	}
}
