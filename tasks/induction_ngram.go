package tasks

import (
	"math"
	"math/rand/v2"
)

// InductionNgram is the task name of repeated random segments inside n-gram text: the data under
// which a 2-layer attention-only model forms the textbook induction circuit (a previous-token
// head in layer 0 feeding induction heads in layer 1 by K-composition).
//
// Training rows are [BOS, f1 .. fm, t1 .. tL, t1 .. tL, g1 .. gk] of P = 2*half+1 tokens: a
// uniform random segment t of length L drawn as in "induction", repeated at once, starting at a
// uniform random position (so repeats occur early and late; on "induction" they always end the
// row, and models trained there never induct in the first half of a row), in filler f, g that
// follows a fixed random chain in which the token two back matters more than the current one:
//
//	P(f_{p+1} | f_{p-1}, f_p) = softmax(A[f_p] + B[f_{p-1}])
//
// with A and B fixed Gaussian tables (standard deviations NgramCurSD and NgramPrevSD, drawn once
// from a constant seed, so every run sees the same language). A one-layer model predicts the
// filler from the current token only; moving the previous token forward (a previous-token head)
// is worth about a nat more on every filler position, so that head forms early for its own sake,
// and the induction heads then read it by K-composition. On plain "induction" (uniform filler)
// nothing but induction rewards a previous-token head; there, models of this size learned a
// duplicate-token head in layer 0 and matched by Q-composition instead (docs/STUDY_INDUCTION.md).
// The segment stays uniform, so its repeat is predictable only in context. Pairs are those of
// "induction" (fresh repeated random tokens).
const InductionNgram = "induction-ngram"

// Standard deviations of the chain's logit tables (current token, previous token).
const (
	NgramCurSD  = 1.0
	NgramPrevSD = 3.0
)

// ngramSeed fixes the chain's tables: the same language in every run and every seed.
const ngramSeed = 0x6e6772616d // "ngram"

type inductionNgram struct {
	*induction
	// cdf[(prev*vocab+cur)*vocab + next] is the cumulative probability of next after (prev, cur),
	// over ids [1, vocab) (id 0 is BOS and never drawn; its entries are 0).
	cdf []float64
}

func newInductionNgram(opt Options) (Task, error) {
	inner, err := newInduction(opt)
	if err != nil {
		return nil, err
	}
	ind := inner.(*induction)
	return &inductionNgram{induction: ind, cdf: ngramCDF(ind.vocab)}, nil
}

// NgramLogits returns the chain's tables A (current token) and B (previous token), [vocab][vocab]
// each, row = conditioning token, column = next token; column 0 (BOS) is never drawn.
func NgramLogits(vocab int) (a, b [][]float64) {
	rng := seededRand(ngramSeed)
	draw := func(sd float64) [][]float64 {
		t := make([][]float64, vocab)
		for i := range t {
			t[i] = make([]float64, vocab)
			for j := 1; j < vocab; j++ {
				t[i][j] = sd * rng.NormFloat64()
			}
		}
		return t
	}
	a = draw(NgramCurSD)
	b = draw(NgramPrevSD)
	return a, b
}

func ngramCDF(vocab int) []float64 {
	a, b := NgramLogits(vocab)
	cdf := make([]float64, vocab*vocab*vocab)
	for prev := range vocab {
		for cur := range vocab {
			row := cdf[(prev*vocab+cur)*vocab : (prev*vocab+cur+1)*vocab]
			hi := math.Inf(-1)
			for n := 1; n < vocab; n++ {
				hi = max(hi, a[cur][n]+b[prev][n])
			}
			sum := 0.0
			for n := 1; n < vocab; n++ {
				sum += math.Exp(a[cur][n] + b[prev][n] - hi)
				row[n] = sum
			}
			for n := 1; n < vocab; n++ {
				row[n] /= sum
			}
		}
	}
	return cdf
}

// next draws the token after (prev, cur).
func (t *inductionNgram) next(rng *rand.Rand, prev, cur int) int {
	v := t.vocab
	row := t.cdf[(prev*v+cur)*v : (prev*v+cur+1)*v]
	u := rng.Float64()
	for n := 1; n < v; n++ {
		if u < row[n] {
			return n
		}
	}
	return v - 1
}

func (t *inductionNgram) Name() string { return InductionNgram }

func (t *inductionNgram) Batch(rng *rand.Rand, batch int) Batch {
	b := Batch{Tokens: make([][]int, batch)}
	p := 2*t.half + 1
	lo := max(2, t.half/4)
	for i := range b.Tokens {
		l := lo + rng.IntN(t.half-lo+1)
		start := 1 // half the rows: Olsson's layout, the repeat right after BOS
		if rng.IntN(2) == 1 {
			start += rng.IntN(p - 2*l)
		}
		s := make([]int, p)
		s[0] = BOS
		for j := range l {
			s[start+j] = randIn(rng, 1, t.vocab)
			s[start+l+j] = s[start+j]
		}
		// The filler before and after the repeat follows the chain (the token before the first
		// filler token is BOS; the chain resumes from the repeat's last two tokens).
		for q := 1; q < p; q++ {
			if q >= start && q < start+2*l {
				continue
			}
			prev := BOS
			if q >= 2 {
				prev = s[q-2]
			}
			s[q] = t.next(rng, prev, s[q-1])
		}
		b.Tokens[i] = s
	}
	return b
}
