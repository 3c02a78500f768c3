package heads

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

func TestRepeatedDistinct(t *testing.T) {
	rows, err := RepeatedDistinct(1, 5, 12, 64)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if len(r) != 25 || r[0] != 0 || !slices.Equal(r[1:13], r[13:]) {
			t.Fatalf("row %v: want BOS + 12 tokens + the same 12", r)
		}
		seen := map[int]bool{}
		for _, id := range r[1:13] {
			if id < 1 || id >= 64 || seen[id] {
				t.Fatalf("row %v: want 12 distinct ids in [1, 64)", r)
			}
			seen[id] = true
		}
	}
	if _, err := RepeatedDistinct(1, 1, 12, 10); err == nil || !strings.Contains(err.Error(), "12 distinct tokens") {
		t.Errorf("12 distinct tokens in a vocabulary of 10: err %v", err)
	}
}

// TestSharpnessPerfectAndUniform: perfect previous-token and induction heads score 1 on their
// target; a causal-uniform head scores the mean of 1/(p+1) over the queries.
func TestSharpnessPerfectAndUniform(t *testing.T) {
	const n = 12
	rows, err := RepeatedDistinct(2, 3, n, 64)
	if err != nil {
		t.Fatal(err)
	}
	perfect := perfectPatterns(rows) // heads: previous-token, duplicate-token, induction
	p := 2*n + 1
	uniform := make([]float32, 3*p*p)
	for b := range 3 {
		for i := range p {
			for j := 0; j <= i; j++ {
				uniform[(b*p+i)*p+j] = 1 / float32(i+1)
			}
		}
	}
	s, err := SharpnessFromPatterns([]*tensors.Tensor{perfect, tensors.FromFlatDataAndDimensions(uniform, 3, 1, p, p)}, n)
	if err != nil {
		t.Fatal(err)
	}
	var wantPrev, wantInd float64
	for i := 1; i < p; i++ {
		wantPrev += 1 / float64(i+1) / float64(p-1)
	}
	for i := n + 1; i <= 2*n; i++ {
		wantInd += 1 / float64(i+1) / n
	}
	// Sums of at most 3*24 float32 terms of size <= 1, each rounded once: 1e-5 is ~100 ulps.
	const tol = 1e-5
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"prev-token head, previous token", s.PrevToken[0][0], 1},
		{"induction head, induction target", s.Induction[0][2], 1},
		{"prev-token head, induction target", s.Induction[0][0], 0},
		// The duplicate head attends to BOS where the token is new: the previous token only at p = 1.
		{"duplicate head, previous token", s.PrevToken[0][1], 1 / float64(p-1)},
		{"uniform head, previous token", s.PrevToken[1][0], wantPrev},
		{"uniform head, induction target", s.Induction[1][0], wantInd},
	} {
		if math.Abs(c.got-c.want) > tol {
			t.Errorf("%s: %.6f, want %.6f", c.name, c.got, c.want)
		}
	}
	if h, v := Best(s.Induction[0]); h != 2 || math.Abs(v-1) > tol {
		t.Errorf("Best(layer 0 induction) = H%d %.4f, want H2 1", h, v)
	}
	if _, err := SharpnessFromPatterns([]*tensors.Tensor{perfect}, n+1); err == nil || !strings.Contains(err.Error(), "pattern shape") {
		t.Errorf("wrong n: err %v", err)
	}
}
