package tasks

import "testing"

func TestInductionFreshCorruptsEverything(t *testing.T) {
	task, err := New(InductionFresh, Options{Vocab: 20, SeqLen: 21})
	if err != nil {
		t.Fatal(err)
	}
	inner, _ := New("induction", Options{Vocab: 20, SeqLen: 21})
	want, _ := inner.Pairs(4, 50)
	p, err := task.Pairs(4, 50)
	if err != nil {
		t.Fatal(err)
	}
	half := InductionHalf(21)
	same := 0
	for i := range p.Clean {
		c, r := p.Clean[i], p.Corrupted[i]
		if len(r) != 2*half+1 || r[0] != BOS || r[len(r)-1] != p.Wrong[i] || p.Wrong[i] == p.Answer[i] {
			t.Fatalf("row %d: corrupted %v, wrong %d, answer %d", i, r, p.Wrong[i], p.Answer[i])
		}
		for j := 1; j <= half; j++ { // the first half is redrawn too
			if r[j] == c[j] {
				same++
			}
			if r[j] < 1 || r[j] >= 20 {
				t.Fatalf("row %d: token %d outside [1, 20)", i, r[j])
			}
		}
		for j := range c {
			if c[j] != want.Clean[i][j] {
				t.Fatalf("row %d: clean prompt differs from the induction task's", i)
			}
		}
	}
	// Independent draws agree with probability 1/19 per position.
	if frac := float64(same) / float64(50*half); frac > 0.12 {
		t.Errorf("%.2f of first-half tokens unchanged, want about 1/19", frac)
	}
	if _, err := New(InductionFresh, Options{Vocab: 2}); err == nil {
		t.Error("vocabulary of 2: no error")
	}
}
