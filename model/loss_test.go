package model

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
)

// TestLoss: with the unembedding zeroed every token has probability 1/V, so the loss is ln V
// exactly (float32 logits of 0); with the real unembedding, the loss of one row equals the mean
// of -log softmax read from the model's logits by a float64 sum written out here.
func TestLoss(t *testing.T) {
	w, _, err := LoadAny("toy-attn-only")
	if err != nil {
		t.Fatal(err)
	}
	b, bn := MustNewBackend("")
	rows := [][]int{{0, 5, 9, 5, 9, 7}, {0, 1, 2, 3, 4, 5}, {0, 8, 8, 8, 8, 8}}
	m, err := New(w, b, bn)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Loss(rows, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got.Tokens != 15 || got.Rows != 3 {
		t.Errorf("counted %d tokens in %d rows, want 15 in 3", got.Tokens, got.Rows)
	}
	tok, _ := Tokens(rows)
	out, err := m.Run(tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := out.Logits.Shape().Dimensions[2]
	flat := tensors.MustCopyFlatData[float32](out.Logits)
	var want float64
	wantPos := make([]float64, 5)
	for i, r := range rows {
		for q := 0; q+1 < len(r); q++ {
			var z float64
			for k := range v {
				z += math.Exp(float64(flat[(i*6+q)*v+k]))
			}
			nll := math.Log(z) - float64(flat[(i*6+q)*v+r[q+1]])
			want += nll / 15
			wantPos[q] += nll / 3
		}
	}
	// TokenLosses gives each of those terms: the same float32 logits and float64 log-sum-exp
	// (shifted by the row's max there, unshifted here), so agreement to ~1e-12 relative.
	per, err := m.TokenLosses(rows, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(per) != 3 {
		t.Fatalf("TokenLosses: %d rows, want 3", len(per))
	}
	for i, r := range rows {
		if len(per[i]) != 5 {
			t.Fatalf("TokenLosses row %d: %d losses, want 5", i, len(per[i]))
		}
		for q := 0; q+1 < len(r); q++ {
			var z float64
			for k := range v {
				z += math.Exp(float64(flat[(i*6+q)*v+k]))
			}
			nll := math.Log(z) - float64(flat[(i*6+q)*v+r[q+1]])
			if math.Abs(per[i][q]-nll) > 1e-9*nll {
				t.Errorf("TokenLosses row %d position %d: %.12f, want %.12f", i, q, per[i][q], nll)
			}
		}
	}
	// Same float32 logits, float64 sums in another order: agreement to ~1e-12 relative.
	if math.Abs(got.Loss-want) > 1e-9*want {
		t.Errorf("loss %.12f, want %.12f", got.Loss, want)
	}
	if len(got.ByPosition) != 5 {
		t.Fatalf("%d positions, want 5", len(got.ByPosition))
	}
	for q, w := range wantPos {
		if math.Abs(got.ByPosition[q]-w) > 1e-9*w {
			t.Errorf("position %d: loss %.12f, want %.12f", q, got.ByPosition[q], w)
		}
	}
	if s := got.InContextScore(); !math.IsNaN(s) {
		t.Errorf("in-context score %g of 6-token windows, want NaN (too short)", s)
	}
	pos := make([]float64, 40)
	for q := range pos {
		pos[q] = float64(q)
	}
	if s := (TextLoss{ByPosition: pos}).InContextScore(); s != (35.5 - 11.5) {
		t.Errorf("in-context score of losses 0..39: %g, want 35.5 - 11.5", s)
	}

	for _, name := range []string{"unembed.W_U", "unembed.b_U"} {
		x := w.Tensors[name]
		if x == nil {
			continue // no unembedding bias
		}
		w.Tensors[name] = tensors.FromFlatDataAndDimensions(make([]float32, x.Shape().Size()), x.Shape().Dimensions...)
	}
	zm, err := New(w, b, bn)
	if err != nil {
		t.Fatal(err)
	}
	z, err := zm.Loss(rows, 16)
	if err != nil {
		t.Fatal(err)
	}
	if lnV := math.Log(float64(w.Config.DVocab)); math.Abs(z.Loss-lnV) > 1e-12 {
		t.Errorf("zero unembedding: loss %.15f, want ln %d = %.15f", z.Loss, w.Config.DVocab, lnV)
	}
	if _, err := m.Loss([][]int{{0, 1, 2}, {0, 1}}, 4); err == nil || !strings.Contains(err.Error(), "row 1 has 2 tokens") {
		t.Errorf("ragged rows: err %v", err)
	}
	if _, err := m.TokenLosses([][]int{{0, 1, 2}, {0, 1}}, 4, nil); err == nil || !strings.Contains(err.Error(), "row 1 has 2 tokens") {
		t.Errorf("TokenLosses, ragged rows: err %v", err)
	}
	if _, err := m.Loss(nil, 4); err == nil || !strings.Contains(err.Error(), "no rows") {
		t.Errorf("no rows: err %v", err)
	}
}

// TestLossWithHooks: zeroing heads' hook_z in the forward pass is the same computation as
// zeroing its rows of W_O in the weights (the head's output z_h @ W_O[h] is exactly 0 either way,
// and every other term of the sum over heads is the same float32 product), so the two losses agree
// to float32 rounding of the logits. A nil set is the plain loss.
func TestLossWithHooks(t *testing.T) {
	w, _, err := LoadAny("induction-2l")
	if err != nil {
		t.Fatal(err)
	}
	b, bn := MustNewBackend("")
	m, err := New(w, b, bn)
	if err != nil {
		t.Fatal(err)
	}
	// Random tokens repeated, which the trained model's layer-1 induction heads predict.
	rows := [][]int{{0, 5, 9, 13, 30, 7, 5, 9, 13, 30, 7}, {0, 41, 2, 3, 17, 4, 41, 2, 3, 17, 4}}
	plain, err := m.Loss(rows, 2)
	if err != nil {
		t.Fatal(err)
	}
	same, err := m.LossWithHooks(rows, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if same.Loss != plain.Loss {
		t.Errorf("nil set: loss %.12f, plain %.12f", same.Loss, plain.Loss)
	}
	c := w.Config
	// Every head of the last layer but head 0.
	l, h := c.NLayers-1, 1
	keep := make([]float32, c.NHeads)
	keep[0] = 1
	set := hooks.New()
	set.Func(hooks.Z(l), "ablate", func(x *graph.Node, _ []*graph.Node) *graph.Node {
		return graph.Mul(x, graph.Reshape(graph.Const(x.Graph(), keep), 1, 1, c.NHeads, 1))
	})
	hooked, err := m.LossWithHooks(rows, 2, set)
	if err != nil {
		t.Fatal(err)
	}

	name := fmt.Sprintf("blocks.%d.attn.W_O", l)
	wo := tensors.MustCopyFlatData[float32](w.Tensors[name])
	per := len(wo) / c.NHeads // W_O is [H, K, D]
	clear(wo[h*per:])
	w.Tensors[name] = tensors.FromFlatDataAndDimensions(wo, w.Tensors[name].Shape().Dimensions...)
	zm, err := New(w, b, bn)
	if err != nil {
		t.Fatal(err)
	}
	zeroed, err := zm.Loss(rows, 2)
	if err != nil {
		t.Fatal(err)
	}
	// The logits differ at most by float32 reassociation of the d_model-term unembedding and
	// H*d_head-term output sums (~1e-6 relative); the loss is smooth in them.
	if tol := 1e-5 * zeroed.Loss; math.Abs(hooked.Loss-zeroed.Loss) > tol {
		t.Errorf("heads %d.%d-: hook_z zeroed %.9f, W_O[%d:] zeroed %.9f", l, h, hooked.Loss, h, zeroed.Loss)
	}
	if math.Abs(hooked.Loss-plain.Loss) < 1e-4 {
		t.Errorf("heads %d.%d- ablated: loss %.9f, unchanged from %.9f", l, h, hooked.Loss, plain.Loss)
	}
}
