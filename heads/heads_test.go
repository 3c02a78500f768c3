package heads

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/model"
)

// perfectPatterns returns one layer [B, 3, P, P] whose heads attend exactly like a
// previous-token, a duplicate-token (uniform over earlier copies, else BOS) and an induction
// head (same, on the token after each copy).
func perfectPatterns(tokens [][]int) *tensors.Tensor {
	b, p := len(tokens), len(tokens[0])
	flat := make([]float32, b*3*p*p)
	for bi, row := range tokens {
		for hi, k := range Kinds {
			d := DetectionPattern(k, row)
			for i := range p {
				var n float32
				for j := range p {
					n += d[i][j]
				}
				for j := range p {
					v := float32(0)
					switch {
					case n > 0:
						v = d[i][j] / n
					case j == 0:
						v = 1
					}
					flat[((bi*3+hi)*p+i)*p+j] = v
				}
			}
		}
	}
	return tensors.FromFlatDataAndDimensions(flat, b, 3, p, p)
}

func TestPerfectHeads(t *testing.T) {
	half := 10
	tokens := RepeatedTokens(1, 4, half, 1000)
	p := 2*half + 1
	s, err := FromPatterns([]*tensors.Tensor{perfectPatterns(tokens)}, tokens, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Rows with a target: prev-token all but row 0; duplicate and induction the second copy
	// (with random tokens drawn from 999 ids, a repeat inside one half is possible, so allow a
	// little slack upwards).
	cases := []struct {
		kind      Kind
		head      int
		want, tol float64
	}{
		{PrevToken, 0, float64(p-1) / float64(p), 1e-6},
		{DuplicateToken, 1, float64(half) / float64(p), 0.05},
		{Induction, 2, float64(half) / float64(p), 0.05},
	}
	for _, c := range cases {
		got := s.Of(c.kind)[0][c.head]
		if math.Abs(got-c.want) > c.tol {
			t.Errorf("%s: perfect head scores %.4f, want %.4f", c.kind, got, c.want)
		}
		if top := s.Top(c.kind, 1)[0]; top.Head != c.head {
			t.Errorf("%s: top head %v, want H%d", c.kind, top, c.head)
		}
	}
}

func TestFromPatternsErrors(t *testing.T) {
	tokens := RepeatedTokens(1, 2, 3, 10)
	bad := tensors.FromFlatDataAndDimensions(make([]float32, 2*1*7*6), 2, 1, 7, 6)
	if _, err := FromPatterns([]*tensors.Tensor{bad}, tokens, Options{}); err == nil {
		t.Error("non-square pattern: no error")
	}
	if _, err := FromPatterns(nil, tokens, Options{}); err == nil {
		t.Error("no patterns: no error")
	}
}

// TestMatchesTransformerLensFormulas compares random patterns' scores with a PyTorch
// implementation of TransformerLens's detector formulas (testdata/head_detector_ref.py).
func TestMatchesTransformerLensFormulas(t *testing.T) {
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip("skipping: /usr/bin/python3 not found (the PyTorch reference)")
	}
	if err := exec.Command(python, "-c", "import torch").Run(); err != nil {
		t.Skip("skipping: PyTorch not installed for /usr/bin/python3")
	}
	c := model.AttnOnlyToy(2, 4, 32, 20, 32)
	w, err := model.NewRandomWeights(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	backend, name := model.MustNewBackend("")
	m, err := model.New(w, backend, name)
	if err != nil {
		t.Fatal(err)
	}
	tokens := RepeatedTokens(2, 3, 6, 20) // a small vocabulary: some tokens repeat inside a half
	for _, opt := range []Options{{}, {ExcludeBOS: true, ExcludeCurrentToken: true}} {
		got, err := Compute(m, tokens, opt)
		if err != nil {
			t.Fatal(err)
		}
		out := m.MustRun(mustTokens(t, tokens), cacheAllPatterns(c.NLayers))
		var pats [][][][][]float32
		for l := range c.NLayers {
			pats = append(pats, to5(out.Cache.MustGet(patternName(l))))
		}
		req, _ := json.Marshal(map[string]any{"tokens": tokens, "patterns": pats, "exclude_bos": opt.ExcludeBOS, "exclude_current_token": opt.ExcludeCurrentToken})
		cmd := exec.Command(python, "testdata/head_detector_ref.py")
		cmd.Stdin = bytes.NewReader(req)
		raw, err := cmd.Output()
		if err != nil {
			t.Fatalf("reference: %v", err)
		}
		var want Scores
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		for _, k := range Kinds {
			for l := range c.NLayers {
				for h := range c.NHeads {
					if d := math.Abs(got.Of(k)[l][h] - want.Of(k)[l][h]); d > 1e-5 {
						t.Errorf("%+v %s L%dH%d: got %.6f, reference %.6f", opt, k, l, h, got.Of(k)[l][h], want.Of(k)[l][h])
					}
				}
			}
		}
	}
}

func loadEmbedded(t *testing.T, name string) *model.Model {
	t.Helper()
	w, _, err := model.LoadAny(name)
	if err != nil {
		t.Fatal(err)
	}
	backend, bname := model.MustNewBackend("")
	m, err := model.New(w, backend, bname)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestEmbeddedInductionModel: the embedded induction-2l (trained by interp train on
// induction-ngram, docs/MODELS.md) has the textbook circuit, read from raw attention on fresh
// sequences of 12 distinct random tokens repeated twice: a layer-0 head puts at least half its
// attention on the previous token, and a layer-1 head at least half on the token after the
// earlier copy (issue 17's acceptance check). Layer 0 has no induction head.
func TestEmbeddedInductionModel(t *testing.T) {
	m := loadEmbedded(t, "induction-2l")
	for _, seed := range []uint64{0, 1} {
		s, err := ComputeSharpness(m, seed, 32, 12)
		if err != nil {
			t.Fatal(err)
		}
		ph, pv := Best(s.PrevToken[0])
		ih, iv := Best(s.Induction[1])
		t.Logf("seed %d: best previous-token L0H%d %.3f, best induction L1H%d %.3f", seed, ph, pv, ih, iv)
		if pv < 0.5 {
			t.Errorf("seed %d: best layer-0 previous-token attention L0H%d %.3f, want >= 0.5", seed, ph, pv)
		}
		if iv < 0.5 {
			t.Errorf("seed %d: best layer-1 induction attention L1H%d %.3f, want >= 0.5", seed, ih, iv)
		}
		if _, v := Best(s.Induction[0]); v > 0.2 {
			t.Errorf("seed %d: layer 0 puts %.3f on the induction target, want < 0.2 (one layer cannot)", seed, v)
		}
	}
}

// TestEmbeddedQCompModel: induction-2l-qcomp (the earlier induction-2l, trained on "induction")
// has induction heads in layer 1 on the detector's input, a duplicate-token head and no
// previous-token head in layer 0.
func TestEmbeddedQCompModel(t *testing.T) {
	m := loadEmbedded(t, "induction-2l-qcomp")
	s, err := Compute(m, RepeatedTokens(0, 8, 31, m.Config.DVocab), Options{})
	if err != nil {
		t.Fatal(err)
	}
	top := s.Top(Induction, 8)
	for _, h := range top {
		if h.Layer != 1 || h.Score < 0.15 {
			t.Errorf("induction head %v: want all 8 layer-1 heads above 0.15 (top 8: %v)", h, top)
		}
	}
	if l0 := maxOfRow(s.Induction[0]); l0 > 0.05 {
		t.Errorf("layer 0 max induction score %.3f, want < 0.05", l0)
	}
	if d := maxOfRow(s.DuplicateToken[0]); d < 0.2 {
		t.Errorf("layer 0 max duplicate-token score %.3f, want >= 0.2", d)
	}
	if p := maxOfRow(s.PrevToken[0]); p > 0.1 {
		t.Errorf("layer 0 max previous-token score %.3f, want < 0.1", p)
	}
}

func maxOfRow(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
