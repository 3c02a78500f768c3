package circuits

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/heads"
	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
)

// nextTokenLoss returns the cross-entropy of predicting rows[b][p+1] at position p, [B][P-1].
func nextTokenLoss(t *testing.T, m *model.Model, rows [][]int) [][]float64 {
	t.Helper()
	tok, err := model.Tokens(rows)
	if err != nil {
		t.Fatal(err)
	}
	out := m.MustRun(tok, nil)
	dims := out.Logits.Shape().Dimensions
	P, V := dims[1], dims[2]
	flat := tensors.MustCopyFlatData[float32](out.Logits)
	loss := make([][]float64, len(rows))
	for b := range rows {
		for p := 0; p+1 < P; p++ {
			row := flat[(b*P+p)*V : (b*P+p+1)*V]
			mx := math.Inf(-1)
			for _, v := range row {
				mx = math.Max(mx, float64(v))
			}
			var z float64
			for _, v := range row {
				z += math.Exp(float64(v) - mx)
			}
			loss[b] = append(loss[b], mx+math.Log(z)-float64(row[rows[b][p+1]]))
		}
	}
	return loss
}

func TestPlantedInductionDoesInduction(t *testing.T) {
	m := builtinModel(t, "planted-induction")
	c := m.Config
	// BOS + L random tokens + the same L again, filling the context.
	half := tasks.InductionHalf(c.NCtx)
	rows := heads.RepeatedTokens(1, 32, half, c.DVocab)
	loss := nextTokenLoss(t, m, rows)
	// The first half is random; in the repeated half, a token that occurs once in the first half
	// has one continuation, a token that occurs k times k equally likely ones (an induction head
	// splits its attention between them).
	var first, repeat, unique []float64
	for b, row := range loss {
		count := map[int]int{}
		for _, tok := range rows[b][1 : half+1] {
			count[tok]++
		}
		for p := 1; p < half; p++ { // predicting tokens 2..L
			first = append(first, row[p])
		}
		// Predicting tokens L+2..2L: the repeat (token L+1, the repeat's first, follows no earlier
		// copy of position L's token, so it is as unpredictable as the first half).
		for p := half + 1; p < 2*half; p++ {
			repeat = append(repeat, row[p])
			if count[rows[b][p]] == 1 {
				unique = append(unique, row[p])
			}
		}
	}
	logV := math.Log(float64(c.DVocab))
	t.Logf("loss: first half %.3f, repeated half %.4f (tokens unique in the first half: %.4f, %d of %d), log(vocab) %.3f",
		mean(first), mean(repeat), mean(unique), len(unique), len(repeat), logV)
	if got := mean(unique); got > 0.05 {
		t.Errorf("loss on repeated tokens that are unique in the first half = %.4f, want < 0.05", got)
	}
	if got := mean(repeat); got > 1 {
		t.Errorf("loss on the repeated half = %.4f, want < 1 (log vocab %.3f)", got, logV)
	}
	if got := mean(first); got < logV-0.2 {
		t.Errorf("loss on the first half = %.3f, want at least about log(vocab) = %.3f", got, logV)
	}

	s, err := heads.Compute(m, heads.RepeatedTokens(3, 16, half, c.DVocab), heads.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("head detector:\n%s", s.Table())
	for _, tc := range []struct {
		kind      heads.Kind
		want      heads.Head
		min, next float64 // the planted head's score at least min; every other head below next
	}{
		{heads.PrevToken, heads.Head{Layer: 0, Head: 2}, 0.95, 0.3},
		{heads.Induction, heads.Head{Layer: 1, Head: 1}, 0.45, 0.1},
	} {
		top := s.Top(tc.kind, 2)
		if top[0].Layer != tc.want.Layer || top[0].Head != tc.want.Head || top[0].Score < tc.min {
			t.Errorf("top %s head = %v, want %d.%d with score >= %.2f", tc.kind, top[0], tc.want.Layer, tc.want.Head, tc.min)
		}
		if top[1].Score >= tc.next {
			t.Errorf("second %s head %v scores >= %.2f", tc.kind, top[1], tc.next)
		}
	}
}

func TestPlantedIOISolvesIOI(t *testing.T) {
	m := builtinModel(t, "planted-ioi")
	task, err := tasks.New("ioi", tasks.Options{Vocab: m.Config.DVocab, SeqLen: m.Config.NCtx})
	if err != nil {
		t.Fatal(err)
	}
	pairs, err := task.Pairs(7, 64)
	if err != nil {
		t.Fatal(err)
	}
	clean, _ := model.Tokens(pairs.Clean)
	corr, _ := model.Tokens(pairs.Corrupted)
	ld := logitDiffs(m.MustRun(clean, nil).Logits, pairs)
	cd := logitDiffs(m.MustRun(corr, nil).Logits, pairs)
	right := 0
	for _, v := range ld {
		if v > 0 {
			right++
		}
	}
	t.Logf("logit diff clean %.3f (IO > S in %d/%d), ABC %.3f", mean(ld), right, len(ld), mean(cd))
	if got := mean(ld); got < 3 || got > 4 {
		t.Errorf("clean logit difference = %.3f, want in [3, 4]", got)
	}
	if right != len(ld) {
		t.Errorf("IO beats S in %d of %d prompts, want all", right, len(ld))
	}
	if got := mean(cd); math.Abs(got) > 0.1 {
		t.Errorf("ABC logit difference = %.3f, want about 0", got)
	}
}

// TestPlantedCopyVariants: the copy variants compute the same logits as their planted models,
// while their token-copying distractors' outputs change with the prompt's content (clean against
// corrupted), where the planted models' distractors write the same on both.
func TestPlantedCopyVariants(t *testing.T) {
	for _, tc := range []struct {
		base, copy string
		heads      [][2]int // the distractors that copy tokens
	}{
		{"planted-induction", "planted-induction-copy", [][2]int{{0, 1}, {0, 3}}},
		{"planted-ioi", "planted-ioi-copy", [][2]int{{0, 0}, {0, 3}, {1, 3}}},
	} {
		base, cp := builtinModel(t, tc.base), builtinModel(t, tc.copy)
		task, err := tasks.New(base.Config.Task, tasks.Options{Vocab: base.Config.DVocab, SeqLen: base.Config.NCtx})
		if err != nil {
			t.Fatal(err)
		}
		pairs, err := task.Pairs(3, 16)
		if err != nil {
			t.Fatal(err)
		}
		clean, _ := model.Tokens(pairs.Clean)
		corr, _ := model.Tokens(pairs.Corrupted)
		set := hooks.New().Cache(hooks.Z(0), hooks.Z(1))
		zChange := func(m *model.Model, h [2]int) float64 { // max |z(clean) - z(corrupted)| of head h
			a, b := m.MustRun(clean, set), m.MustRun(corr, set)
			za := tensors.MustCopyFlatData[float32](a.Cache.MustGet(hooks.Z(h[0])))
			zb := tensors.MustCopyFlatData[float32](b.Cache.MustGet(hooks.Z(h[0])))
			dims := a.Cache.MustGet(hooks.Z(h[0])).Shape().Dimensions // [N, P, H, dh]
			H, dh := dims[2], dims[3]
			var mx float64
			for i := range za {
				if (i/dh)%H == h[1] {
					mx = math.Max(mx, math.Abs(float64(za[i]-zb[i])))
				}
			}
			return mx
		}
		for _, h := range tc.heads {
			if d := zChange(base, h); d > 1e-6 {
				t.Errorf("%s: distractor %d.%d changes by %.3g between clean and corrupted prompts, want 0", tc.base, h[0], h[1], d)
			}
			if d := zChange(cp, h); d < 0.05 {
				t.Errorf("%s: distractor %d.%d changes by only %.3g between clean and corrupted prompts", tc.copy, h[0], h[1], d)
			}
		}
		for _, tokens := range []*tensors.Tensor{clean, corr} {
			a := tensors.MustCopyFlatData[float32](base.MustRun(tokens, nil).Logits)
			b := tensors.MustCopyFlatData[float32](cp.MustRun(tokens, nil).Logits)
			for i := range a {
				// The distractors write only into scratch, which nothing that reaches the logits
				// reads: each logit sums the same nonzero terms (the scratch terms are exact zeros).
				if a[i] != b[i] {
					t.Fatalf("%s: logit %d is %g, %s's is %g", tc.copy, i, b[i], tc.base, a[i])
				}
			}
		}
	}
}
