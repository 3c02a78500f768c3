package circuits

import (
	"math"
	"testing"

	"github.com/interp-dev/interp/tasks"
)

func TestMIBAreas(t *testing.T) {
	one := make([]float64, len(MIBPercents))
	zero := make([]float64, len(MIBPercents))
	for i := range one {
		one[i] = 1
	}
	span := (MIBPercents[len(MIBPercents)-1] - MIBPercents[0]) / 100 // 0.999
	for _, c := range []struct {
		name     string
		f        []float64
		cpr, cmd float64
	}{
		{"faithful everywhere", one, span, 0},
		{"never faithful", zero, 0, span},
		// A step from 0 to 1 between 10% and 20%: CPR = 0.05 (that trapezoid) + 0.8 (20%..100%).
		{"step at 10-20%", []float64{0, 0, 0, 0, 0, 0, 0, 1, 1, 1}, 0.85, span - 0.85},
	} {
		cpr, cmd := mibAreas(MIBPercents, c.f)
		if math.Abs(cpr-c.cpr) > 1e-12 || math.Abs(cmd-c.cmd) > 1e-12 {
			t.Errorf("%s: CPR %.6f CMD %.6f, want %.6f %.6f", c.name, cpr, cmd, c.cpr, c.cmd)
		}
	}
}

// TestMIBCurveOnPlantedInduction: the whole graph (100%) is the model (faithfulness 1), a size
// with no edge is the all-ablated model (0), and EAP's ranking recovers the planted circuit by
// 10% of the edges, as the discovery table says; the node-ranked patching curve keeps the edges
// among the top nodes.
func TestMIBCurveOnPlantedInduction(t *testing.T) {
	m := builtinModel(t, "planted-induction")
	task, err := tasks.New(tasks.InductionFresh, tasks.Options{Vocab: m.Config.DVocab, SeqLen: m.Config.NCtx})
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []Method{EAP, Patching} {
		res, err := Discover(m, "planted-induction", task, Options{Method: method, Examples: 8, MIB: true})
		if err != nil {
			t.Fatal(err)
		}
		c := res.MIB
		if c == nil || len(c.Faithfulness) != len(MIBPercents) {
			t.Fatalf("%s: MIB curve %+v, want %d points", method, c, len(MIBPercents))
		}
		t.Logf("%s (%s): faithfulness %v, edges %v, CPR %.3f, CMD %.3f", method, c.Ranking, c.Faithfulness, c.Edges, c.CPR, c.CMD)
		last := len(c.Faithfulness) - 1
		if c.Edges[last] != len(NewGraph(m.Config).Edges) || math.Abs(c.Faithfulness[last]-1) > 1e-5 {
			t.Errorf("%s: 100%% keeps %d edges with faithfulness %.6f, want all %d and 1", method, c.Edges[last], c.Faithfulness[last], len(NewGraph(m.Config).Edges))
		}
		if c.Edges[0] != 0 || c.Faithfulness[0] != 0 {
			t.Errorf("%s: 0.1%% keeps %d edges with faithfulness %.6f, want none and 0", method, c.Edges[0], c.Faithfulness[0])
		}
		want := map[Method]string{EAP: "edges", Patching: "nodes"}[method]
		if c.Ranking != want {
			t.Errorf("%s: ranking %q, want %q", method, c.Ranking, want)
		}
		if i := 6; method == EAP && c.Faithfulness[i] < 0.99 { // 10% of the edges
			t.Errorf("EAP: faithfulness %.3f at %g%% of the edges, want the planted circuit (>= 0.99)", c.Faithfulness[i], MIBPercents[i])
		}
		if cpr, cmd := mibAreas(c.Percents, c.Faithfulness); cpr != c.CPR || cmd != c.CMD {
			t.Errorf("%s: CPR/CMD %.4f/%.4f do not integrate the curve (%.4f/%.4f)", method, c.CPR, c.CMD, cpr, cmd)
		}
	}
}
