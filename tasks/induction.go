package tasks

import "math/rand/v2"

// induction is the repeated-random-tokens task of Olsson et al. (2022):
//
//	[BOS, t1 .. tL, t1 .. tL],  t_i uniform in [1, Vocab)
//
// P = 2L+1 with L = (SeqLen-1)/2. Every position counts in the loss; the
// first half is unpredictable, the second half is predictable by an
// induction head (in-context loss).
type induction struct {
	vocab, half int
}

func newInduction(opt Options) (Task, error) {
	vocab, seqLen, err := syntheticSizes(opt, 3, 5)
	if err != nil {
		return nil, err
	}
	return &induction{vocab: vocab, half: InductionHalf(seqLen)}, nil
}

// InductionHalf returns L, the length of each half of an induction sequence
// for a model of seqLen positions: sequences are [BOS, t1..tL, t1..tL] with
// P = 2L+1 <= seqLen. Positions 1..L hold the first half and L+1..2L the
// repeat, so the in-context (repeated-half) loss is that of predicting
// tokens L+1..2L, i.e. of the LossMask entries L..2L-1.
func InductionHalf(seqLen int) int { return (seqLen - 1) / 2 }

func (t *induction) Name() string { return "induction" }

// sequence returns [BOS, first.., first..] with a fresh random first half.
func (t *induction) sequence(rng *rand.Rand) []int {
	s := make([]int, 2*t.half+1)
	s[0] = BOS
	for i := 1; i <= t.half; i++ {
		s[i] = randIn(rng, 1, t.vocab)
		s[i+t.half] = s[i]
	}
	return s
}

func (t *induction) Batch(rng *rand.Rand, batch int) Batch {
	b := Batch{Tokens: make([][]int, batch)}
	for i := range b.Tokens {
		b.Tokens[i] = t.sequence(rng)
	}
	return b
}

// Pairs: clean is a repeated sequence; corrupted keeps the first half and
// replaces the second half by fresh random tokens, so nothing repeats. Pos
// is the last position but one (P-2, in the second half), whose next token
// P-1 exists in both sequences: Answer is the clean token at P-1 (the
// continuation of the repeat) and Wrong the corrupted token at P-1, drawn to
// differ from Answer.
func (t *induction) Pairs(seed uint64, n int) (*Pairs, error) {
	if err := checkPairsN("induction", n); err != nil {
		return nil, err
	}
	rng := seededRand(seed)
	p := newPairs(n)
	last := 2 * t.half
	for i := range n {
		clean := t.sequence(rng)
		corrupted := make([]int, len(clean))
		copy(corrupted, clean[:t.half+1])
		for j := t.half + 1; j < last; j++ {
			corrupted[j] = randIn(rng, 1, t.vocab)
		}
		corrupted[last] = randOtherThan(rng, 1, t.vocab, clean[last])
		p.Clean[i], p.Corrupted[i] = clean, corrupted
		p.Pos[i] = last - 1
		p.Answer[i], p.Wrong[i] = clean[last], corrupted[last]
	}
	return p, nil
}
