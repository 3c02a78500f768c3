package circuits

import (
	"math"
	"strings"
	"testing"

	"github.com/interp-dev/interp/patching"
	"github.com/interp-dev/interp/tasks"
)

// Every method on every planted model, scored against the planted circuit. The figures the
// tests hold were measured with these settings (8 pairs, seed 0; head overlap counting over 20
// pairs, its SAE trained on the first 10).
//
// Head overlap is judged by its median over seeds 0-2 (pairs and SAE initialisation). Its node
// scores come from the argmax codes of an SAE whose L0 is about 0.1, so which few rows get a code
// at all flips with the last bits of the training arithmetic: on planted-ioi seed 0 gives node
// AUC 1.000 with OpenBLAS's matmul and 0.781 with the Go kernel (INTERP_NO_BLAS=1), while seeds 1
// and 2 give 1.000 on both. One seed's figure is then a property of the machine, not of the method.
// The copy variants are built to fool it (docs/CIRCUITS.md: 0.833-1.000 over 10 seeds on
// planted-induction-copy; seeds 0-2 give 0.958, 0.875, 0.833 on both kernels), so their bar is 0.8.
func TestDiscoverOnPlantedModels(t *testing.T) {
	for _, p := range PlantedModels() {
		m := builtinModel(t, p.Name)
		task, err := tasks.New(p.Task, tasks.Options{Vocab: m.Config.DVocab, SeqLen: m.Config.NCtx})
		if err != nil {
			t.Fatal(err)
		}
		for _, meth := range Methods() {
			t.Run(p.Name+"/"+string(meth), func(t *testing.T) {
				n := 8
				if meth == HeadOverlap {
					n = 20 // the reference's counting set: its SAE trains on the first 10 pairs, codes are counted over all
				}
				seeds := 1
				if meth == HeadOverlap {
					seeds = 3
				}
				var r *Result
				var nodeAUC, edgeAUC []float64
				for seed := range uint64(seeds) {
					rs, err := Discover(m, p.Name, task, Options{Method: meth, Examples: n, Truth: &p.Circuit, Seed: seed})
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("seed %d: %s", seed, rs.TableRow())
					if rs.GroundTruth == nil || (meth != Patching && rs.GroundTruth.Edges == nil) {
						t.Fatalf("seed %d: no ground-truth scores: %+v", seed, rs.GroundTruth)
					}
					nodeAUC = append(nodeAUC, rs.GroundTruth.ROCAUC)
					if meth != Patching {
						edgeAUC = append(edgeAUC, rs.GroundTruth.Edges.ROCAUC)
					}
					if seed == 0 {
						r = rs
					}
				}
				gt := r.GroundTruth
				// Node ROC AUC: head overlap at least 0.9 (the bar; 0.8 on the copy
				// variants); the others recover the planted heads exactly.
				minAUC := 0.999
				if meth == HeadOverlap {
					minAUC = 0.9
					if strings.HasSuffix(p.Name, "-copy") {
						minAUC = 0.8
					}
				}
				if med := quantile(nodeAUC, 0.5); med < minAUC {
					t.Fatalf("node ROC AUC %v (median %.3f), want a median >= %.3f", nodeAUC, med, minAUC)
				}
				if meth != Patching && quantile(edgeAUC, 0.5) < 0.8 {
					t.Errorf("edge ROC AUC %v, want a median >= 0.8", edgeAUC)
				}
				if meth == Patching && gt.Edges != nil {
					t.Errorf("patching scores no edges, got edge scores %+v", gt.Edges)
				}
				f := r.Faithfulness
				if f == nil || math.Abs(f.Full-r.CleanMetric) > 1e-9 {
					t.Fatalf("faithfulness %+v: full model metric differs from the clean metric %.4f", f, r.CleanMetric)
				}
				// The methods whose chosen circuit is the planted one are faithful.
				if len(r.Circuit.Nodes) == len(p.Circuit.Nodes) && gt.F1 == 1 && math.Abs(f.Score-1) > 0.02 {
					t.Errorf("faithfulness of the planted circuit %.4f, want 1 +- 0.02", f.Score)
				}
			})
		}
	}
}

// Patching effects on planted-ioi follow from its construction: the name movers' OV gains are 1
// and 0.5 and on the ABC prompts they write nothing the logit difference sees, so patching them
// loses 2/3 and 1/3 of the gap; without the duplicate-token or S-inhibition signal the movers
// attend to IO, S1 and S2 alike and the logit difference turns negative (effect > 1).
func TestPatchingEffectsOnPlantedIOI(t *testing.T) {
	m := builtinModel(t, "planted-ioi")
	task, err := tasks.New("ioi", tasks.Options{Vocab: m.Config.DVocab, SeqLen: m.Config.NCtx})
	if err != nil {
		t.Fatal(err)
	}
	pairs, err := task.Pairs(11, 8)
	if err != nil {
		t.Fatal(err)
	}
	e, err := newExperiment(m, pairs)
	if err != nil {
		t.Fatal(err)
	}
	eff, err := e.nodePatching()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]float64{"2.0": 2.0 / 3, "2.3": 1.0 / 3} {
		if math.Abs(eff[name]-want) > 0.01 {
			t.Errorf("effect of %s = %.4f, want %.4f", name, eff[name], want)
		}
	}
	for _, name := range []string{"0.1", "1.2"} {
		if eff[name] < 1.2 {
			t.Errorf("effect of %s = %.4f, want > 1.2 (the answer flips)", name, eff[name])
		}
	}
	for _, n := range e.g.Components() {
		if s := n.String(); !p(s, "0.1", "1.2", "2.0", "2.3") && math.Abs(eff[s]) > 0.01 {
			t.Errorf("distractor %s has effect %.4f", s, eff[s])
		}
	}
}

func p(s string, set ...string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

func TestFaithfulnessBounds(t *testing.T) {
	m := builtinModel(t, "planted-ioi")
	task, _ := tasks.New("ioi", tasks.Options{Vocab: m.Config.DVocab, SeqLen: m.Config.NCtx})
	pairs, _ := task.Pairs(2, 6)
	g := NewGraph(m.Config)
	all := Circuit{Nodes: g.Components(), Edges: g.Edges}
	for _, a := range []Ablation{Resample, Mean, Zero} {
		nodes, edges, err := CircuitFaithfulness(m, pairs, all, a)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []*Faithfulness{nodes, edges} {
			if math.Abs(f.Score-1) > 1e-5 || f.Std > 1e-5 {
				t.Errorf("%s %s: the whole model as its own circuit has faithfulness %.6f (std %.2g), want 1", a, f.Level, f.Score, f.Std)
			}
			if f.MIB == nil || math.Abs(*f.MIB-1) > 1e-5 {
				t.Errorf("%s %s: the whole model's MIB faithfulness %v, want 1", a, f.Level, f.MIB)
			}
		}
		empty, _, err := CircuitFaithfulness(m, pairs, Circuit{}, a)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(empty.Circuit-empty.Empty) > 1e-6 || math.Abs(empty.Score-empty.Empty/empty.Full) > 1e-6 {
			t.Errorf("%s: the empty circuit scores %.4f, want the all-ablated metric %.4f", a, empty.Circuit, empty.Empty)
		}
		if empty.MIB == nil || math.Abs(*empty.MIB) > 1e-5 {
			t.Errorf("%s: the empty circuit's MIB faithfulness %v, want 0", a, empty.MIB)
		}
	}
	if _, _, err := CircuitFaithfulness(m, pairs, Circuit{Nodes: []Node{HeadNode(5, 0)}}, Mean); err == nil {
		t.Error("a head outside the model: no error")
	}
	// MIB normalisation of the means: (1.5 - 0.5) / (2.5 - 0.5) = 0.5; undefined when full = empty.
	if f := faithfulness("nodes", Mean, []float64{2, 3}, []float64{1, 2}, []float64{0, 1}); f.MIB == nil || math.Abs(*f.MIB-0.5) > 1e-12 || math.Abs(f.Score-0.6) > 1e-12 {
		t.Errorf("faithfulness of means 1.5 / 2.5 over baseline 0.5: score %v, MIB %v; want 0.6 and 0.5", f.Score, f.MIB)
	}
	if f := faithfulness("nodes", Mean, []float64{2}, []float64{1}, []float64{2}); f.MIB != nil {
		t.Errorf("full = empty: MIB %v, want none", *f.MIB)
	}
	if got := quantile([]float64{4, 1, 3, 2}, 0.25); math.Abs(got-1.75) > 1e-12 {
		t.Errorf("quantile 0.25 of 1..4 = %v, want 1.75", got)
	}
}

// Node patching here and package patching's noising sweep over hook_result are independent
// implementations of the same quantity: effect_n = 1 - (normalised patched metric).
func TestNodePatchingAgreesWithPatchingPackage(t *testing.T) {
	m := builtinModel(t, "toy-gpt2") // LayerNorm and MLPs, random weights
	pairs := randomPairs(21, 4, 9, m.Config.DVocab)
	e, err := newExperiment(m, pairs)
	if err != nil {
		t.Fatal(err)
	}
	eff, err := e.nodePatching()
	if err != nil {
		t.Fatal(err)
	}
	pe, err := patching.NewExperiment(m, &patching.Prompts{Clean: pairs.Clean, Corrupted: pairs.Corrupted,
		Answer: pairs.Answer, Wrong: pairs.Wrong, Pos: pairs.Pos}, patching.NormLogitDiff(), patching.Options{Direction: patching.Noise})
	if err != nil {
		t.Fatal(err)
	}
	res, err := pe.HeadResultAllPos()
	if err != nil {
		t.Fatal(err)
	}
	big := 0.0
	for _, n := range e.g.Heads() {
		want := 1 - res.At(n.Layer, n.Head)
		big = math.Max(big, math.Abs(want))
		if got := eff[n.String()]; math.Abs(got-want) > 1e-3*math.Max(1, math.Abs(want)) {
			t.Errorf("head %s: effect %.5f, package patching %.5f", n, got, want)
		}
	}
	if big < 0.05 {
		t.Errorf("largest effect %.4f: too small for the comparison to mean anything", big)
	}
}
