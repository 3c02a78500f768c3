package tasks

import (
	"slices"
	"testing"
)

func TestInduction(t *testing.T) {
	for _, tc := range []struct {
		vocab, seqLen, half int
	}{{64, 64, 31}, {10, 8, 3}, {5, 5, 2}} {
		task := newTask(t, "induction", Options{Vocab: tc.vocab, SeqLen: tc.seqLen})
		if got := InductionHalf(tc.seqLen); got != tc.half {
			t.Fatalf("InductionHalf(%d) = %d, want %d", tc.seqLen, got, tc.half)
		}
		b := task.Batch(seededRand(1), 32)
		lens := map[int]int{}
		if b.LossMask != nil {
			t.Error("induction LossMask is not nil (all positions)")
		}
		for i, s := range b.Tokens {
			if len(s) != 2*tc.half+1 || s[0] != BOS {
				t.Fatalf("row %d = %v: want BOS then 2x%d tokens", i, s, tc.half)
			}
			n := len(s)
			l := repeatLen(s, max(2, tc.half/4), tc.half)
			if l == 0 {
				t.Fatalf("row %d = %v: does not end with a segment of %d..%d tokens repeated twice", i, s, max(2, tc.half/4), tc.half)
			}
			lens[l]++
			if !slices.Equal(s[n-2*l:n-l], s[n-l:]) {
				t.Fatalf("row %d = %v: second copy differs", i, s)
			}
			if slices.Contains(s[1:], BOS) {
				t.Fatalf("row %d = %v uses BOS after position 0", i, s)
			}
		}
		if tc.half >= 8 && len(lens) < 4 {
			t.Errorf("seq len %d: repeat lengths %v: the offset should vary from row to row", tc.seqLen, lens)
		}
		p, err := task.Pairs(5, 64)
		if err != nil {
			t.Fatal(err)
		}
		for i := range p.Clean {
			c, x, pos := p.Clean[i], p.Corrupted[i], p.Pos[i]
			if pos != len(c)-2 || pos <= tc.half {
				t.Fatalf("row %d: Pos %d, want P-2 = %d in the second half", i, pos, len(c)-2)
			}
			if p.Answer[i] != c[pos+1] || p.Answer[i] != c[pos+1-tc.half] {
				t.Fatalf("row %d: Answer %d is not the repeat's next token in %v", i, p.Answer[i], c)
			}
			if p.Wrong[i] != x[pos+1] {
				t.Fatalf("row %d: Wrong %d is not the corrupted next token in %v", i, p.Wrong[i], x)
			}
			if !slices.Equal(c[:tc.half+1], x[:tc.half+1]) {
				t.Fatalf("row %d: corrupted first half differs: %v vs %v", i, c, x)
			}
		}
	}
}

func TestAssocRecall(t *testing.T) {
	const vocab = 21 // keys [1, 11), values [11, 21)
	task := newTask(t, "assoc-recall", Options{Vocab: vocab, SeqLen: 64})
	isKey := func(id int) bool { return id >= 1 && id < 11 }
	isValue := func(id int) bool { return id >= 11 && id < vocab }
	// valueOf returns the value paired with key in [BOS, k1, v1, .., kn, vn, ...].
	valueOf := func(s []int, n, key int) int {
		for j := 1; j < 1+2*n; j += 2 {
			if s[j] == key {
				return s[j+1]
			}
		}
		return -1
	}
	b := task.Batch(seededRand(1), 32)
	for i, s := range b.Tokens {
		n := (len(s) - 3) / 2
		if n != 10 { // min((64-3)/2, 10 keys)
			t.Fatalf("row %d: %d pairs, want 10", i, n)
		}
		keys := map[int]bool{}
		for j := 1; j < 1+2*n; j += 2 {
			if !isKey(s[j]) || !isValue(s[j+1]) || keys[s[j]] {
				t.Fatalf("row %d = %v: bad or repeated key/value at %d", i, s, j)
			}
			keys[s[j]] = true
		}
		q, a := s[len(s)-2], s[len(s)-1]
		if valueOf(s, n, q) != a {
			t.Fatalf("row %d = %v: answer %d is not the value of query %d", i, s, a, q)
		}
		if !slices.Equal(b.LossMask[i], maskAt(len(s), len(s)-2)) {
			t.Fatalf("row %d: loss mask %v, want only the query position", i, b.LossMask[i])
		}
	}
	p, err := task.Pairs(2, 64)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Clean {
		c, x := p.Clean[i], p.Corrupted[i]
		n, q := (len(c)-2)/2, c[len(c)-1]
		if p.Pos[i] != len(c)-1 {
			t.Fatalf("row %d: Pos %d, want the query at %d", i, p.Pos[i], len(c)-1)
		}
		if valueOf(c, n, q) != p.Answer[i] || valueOf(x, n, q) != p.Wrong[i] || !isValue(p.Wrong[i]) {
			t.Fatalf("row %d: clean %v corrupted %v: Answer %d Wrong %d do not match the query's values", i, c, x, p.Answer[i], p.Wrong[i])
		}
		if diff := differing(c, x); diff != 1 {
			t.Fatalf("row %d: clean and corrupted differ at %d positions, want 1", i, diff)
		}
	}
}

func TestICLClassify(t *testing.T) {
	for _, tc := range []struct {
		name   string
		labels int
	}{{"icl-classify", ICLLabels}, {"icl-classify:labels=2", 2}, {"icl-classify:labels=8", 8}} {
		t.Run(tc.name, func(t *testing.T) { testICLClassify(t, tc.name, tc.labels) })
	}
}

func testICLClassify(t *testing.T, name string, nLabels int) {
	task := newTask(t, name, Options{})
	if task.Name() != name {
		t.Errorf("Name() = %q, want %q", task.Name(), name)
	}
	classOf := func(id int) int { return (id - 1 - nLabels) / ICLClusterSize }
	isLabel := func(id int) bool { return id >= 1 && id <= nLabels }
	// labelsOf maps each class in the context [BOS, e1, l1, ...] to its
	// label, failing if a class has two labels or two classes one label.
	labelsOf := func(t *testing.T, s []int) map[int]int {
		t.Helper()
		labels, classes := map[int]int{}, map[int]int{}
		for j := 1; j+1 < len(s); j += 2 {
			c, l := classOf(s[j]), s[j+1]
			if isLabel(s[j]) || !isLabel(l) {
				t.Fatalf("%v: exemplar %d or label %d at %d out of range", s, s[j], l, j)
			}
			if old, ok := labels[c]; ok && old != l {
				t.Fatalf("%v: class %d has labels %d and %d", s, c, old, l)
			}
			if old, ok := classes[l]; ok && old != c {
				t.Fatalf("%v: label %d names classes %d and %d", s, l, old, c)
			}
			labels[c], classes[l] = l, c
		}
		return labels
	}
	b := task.Batch(seededRand(1), 32)
	seen := map[[2]int]bool{} // (class, label) pairs across sequences
	for i, s := range b.Tokens {
		labels := labelsOf(t, s) // includes the query and its label
		if len(labels) != nLabels {
			t.Fatalf("row %d: %d classes in context, want %d", i, len(labels), nLabels)
		}
		for c, l := range labels {
			seen[[2]int{c, l}] = true
		}
		for j, m := range b.LossMask[i] {
			if m != (j%2 == 1) {
				t.Fatalf("row %d: loss mask %v, want the exemplar positions", i, b.LossMask[i])
			}
		}
	}
	// Relabelling per sequence: some class gets two different labels.
	relabelled := false
	for k := range seen {
		for l := 1; l <= nLabels; l++ {
			if l != k[1] && seen[[2]int{k[0], l}] {
				relabelled = true
			}
		}
	}
	if !relabelled {
		t.Error("no class got different labels in different sequences")
	}
	p, err := task.Pairs(3, 64)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Clean {
		c, x := p.Clean[i], p.Corrupted[i]
		q := classOf(c[len(c)-1])
		if lc, lx := labelsOf(t, c[:len(c)-1])[q], labelsOf(t, x[:len(x)-1])[q]; lc != p.Answer[i] || lx != p.Wrong[i] {
			t.Fatalf("row %d: query class %d has labels %d (clean) and %d (corrupted), want Answer %d Wrong %d", i, q, lc, lx, p.Answer[i], p.Wrong[i])
		}
		for j := 1; j < len(c); j += 2 {
			if c[j] != x[j] {
				t.Fatalf("row %d: corrupted changed exemplar %d", i, j)
			}
		}
	}
}

// repeatLen returns the largest L in [lo, hi] such that s ends with a segment of L tokens
// repeated twice, or 0.
func repeatLen(s []int, lo, hi int) int {
	n := len(s)
	for l := hi; l >= lo; l-- {
		if 2*l < n && slices.Equal(s[n-2*l:n-l], s[n-l:]) {
			return l
		}
	}
	return 0
}

// differing counts the positions where two rows of equal length differ.
func differing(a, b []int) int {
	n := 0
	for j := range a {
		if a[j] != b[j] {
			n++
		}
	}
	return n
}
