package circuits

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/tasks"
)

// TestACDCDirectEdgeIsTheCorruptedInput checks what ablating a head's direct edge means: with
// every sender edge into its query ablated (resample: each sender's output from the paired
// corrupted prompt), the logits must be those of a plain run with that head's hook_q replaced by
// the corrupted run's, as the reference's hook_q_input -> hook_q edge does. Tolerance: the two
// runs compute the same sums in different orders (the query rebuilt from D-long sums of sender
// outputs), so they agree to float32 rounding over d_model terms of the logits' size.
func TestACDCDirectEdgeIsTheCorruptedInput(t *testing.T) {
	for _, name := range []string{"toy-gpt2", "planted-ioi"} {
		m := testModel(t, name)
		var pairs *tasks.Pairs
		if name == "planted-ioi" {
			task, err := tasks.New("ioi", tasks.Options{Vocab: m.Config.DVocab, SeqLen: m.Config.NCtx})
			if err != nil {
				t.Fatal(err)
			}
			if pairs, err = task.Pairs(3, 4); err != nil {
				t.Fatal(err)
			}
		} else {
			pairs = randomPairs(5, 4, 8, m.Config.DVocab)
		}
		e, err := newExperiment(m, pairs)
		if err != nil {
			t.Fatal(err)
		}
		l, h := m.Config.NLayers-1, 0 // planted-ioi: the name mover 2.0, whose query finds the names
		r := HeadNode(l, h)
		masks := e.g.newEdgeMasks(func(x Edge) bool { return x.To == r && x.Input == InQ })
		got, err := e.runEdgeAblation(e.clean, masks, e.corrOut)
		if err != nil {
			t.Fatal(err)
		}
		corrQ := m.MustRun(e.corr, hooks.New().Cache(hooks.Q(l))).Cache.MustGet(hooks.Q(l)) // [N, P, H, K]
		cleanQ := m.MustRun(e.clean, hooks.New().Cache(hooks.Q(l))).Cache.MustGet(hooks.Q(l))
		q := tensors.MustCopyFlatData[float32](cleanQ)
		cq := tensors.MustCopyFlatData[float32](corrQ)
		dims := cleanQ.Shape().Dimensions
		K := dims[3]
		for i := 0; i < len(q); i += K {
			if (i/K)%dims[2] == h {
				copy(q[i:i+K], cq[i:i+K])
			}
		}
		want := m.MustRun(e.clean, hooks.New().Replace(hooks.Q(l), tensors.FromFlatDataAndDimensions(q, dims...))).Logits
		g, w := tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](want)
		if len(g) != len(w) {
			t.Fatalf("%s: logits of %d and %d values", name, len(g), len(w))
		}
		maxAbs := 0.0
		for _, v := range w {
			maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
		}
		tol := 8 * float64(m.Config.DModel) * 0x1p-23 * (1 + maxAbs) * float64(m.Config.NLayers)
		moved := 0.0
		plain := tensors.MustCopyFlatData[float32](m.MustRun(e.clean, nil).Logits)
		for i := range g {
			if d := math.Abs(float64(g[i] - w[i])); d > tol {
				t.Fatalf("%s: logit %d: direct-edge ablation %g, corrupted hook_q %g (|diff| %.3g > %.3g)", name, i, g[i], w[i], d, tol)
			}
			moved = math.Max(moved, math.Abs(float64(w[i]-plain[i])))
		}
		if moved < 10*tol {
			t.Errorf("%s: replacing the query moved the logits by only %.3g: the check means nothing", name, moved)
		} else {
			t.Logf("%s: the corrupted query moves the logits by up to %.3g; the two runs agree within %.3g", name, moved, tol)
		}
	}
}

// TestACDCOrderAndThresholds: with tau below every change nothing is removed and every direct edge
// stays; with a huge tau everything goes; the reverse and random sender orders run and record the
// order; the abs-value threshold keeps edges whose removal helps a lot.
func TestACDCOrderAndThresholds(t *testing.T) {
	m := builtinModel(t, "planted-ioi")
	task, err := tasks.New("ioi", tasks.Options{Vocab: m.Config.DVocab, SeqLen: m.Config.NCtx})
	if err != nil {
		t.Fatal(err)
	}
	pairs, err := task.Pairs(2, 6)
	if err != nil {
		t.Fatal(err)
	}
	e, err := newExperiment(m, pairs)
	if err != nil {
		t.Fatal(err)
	}
	all, err := e.acdc(acdcOptions{metric: KL, tau: math.Inf(-1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.kept) != len(e.g.Edges) || len(all.directKept) != len(all.direct) || len(all.direct) != 3*12 {
		t.Errorf("tau -inf: kept %d of %d edges, %d of %d direct edges (want all, 36 direct)", len(all.kept), len(e.g.Edges), len(all.directKept), len(all.direct))
	}
	none, err := e.acdc(acdcOptions{metric: KL, tau: math.Inf(1)})
	if err != nil {
		t.Fatal(err)
	}
	if len(none.kept) != 0 {
		t.Errorf("tau +inf: kept %d edges, want 0", len(none.kept))
	}
	for _, order := range []string{OrderNormal, OrderReverse, OrderRandom} {
		r, err := e.acdc(acdcOptions{metric: KL, tau: 0.01, order: order, seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		nodes := map[string]bool{}
		for _, n := range NodesOfEdges(r.kept) {
			nodes[n.String()] = true
		}
		for _, want := range []string{"0.1", "1.2", "2.0", "2.3"} {
			if !nodes[want] {
				t.Errorf("order %s: the planted head %s is missing from %v", order, want, NodesOfEdges(r.kept))
			}
		}
	}
	if _, err := e.acdc(acdcOptions{metric: KL, tau: 0.01, order: "sideways"}); err == nil {
		t.Error("unknown order accepted")
	}
}

func TestSweepAUC(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	// Points (0, 0.5) and (0.5, 1): area 0.5*(0+... ) = trapezoids (0,0)-(0,.5)-(.5,1)-(1,1): 0 + 0.375 + 0.5.
	got := sweepAUC([]TauPoint{{FPR: f(0.5), TPR: f(1)}, {FPR: f(0), TPR: f(0.5)}})
	if math.Abs(got-0.875) > 1e-15 {
		t.Errorf("sweep AUC %g, want 0.875", got)
	}
	if got := sweepAUC(nil); got != 0.5 {
		t.Errorf("empty sweep AUC %g, want the diagonal's 0.5", got)
	}
}
