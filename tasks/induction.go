package tasks

import "math/rand/v2"

// induction is the repeated-random-tokens task of Olsson et al. (2022). Training rows are
//
//	[BOS, f1 .. fm, t1 .. tL, t1 .. tL],  f_i, t_i uniform in [1, Vocab)
//
// of fixed length P = 2*half+1 (half = (SeqLen-1)/2), with the repeated segment's length L drawn
// per row from [max(2, half/4), half] and m = P-1-2L filler tokens before it. The offset of the
// repeat varies from row to row on purpose: with a fixed offset (always L = half) a model with
// learned positional embeddings solves the task with one positional head (attend to position
// p-L+1 and copy) and never needs previous-token or induction heads (seen in our first study
// runs: a model with layer 0 zeroed still "learned induction"). Every position counts in the
// loss; the filler and the first copy are unpredictable, the second copy is predictable by an
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

// trainingSequence returns [BOS, filler.., segment.., segment..] with a random segment length.
func (t *induction) trainingSequence(rng *rand.Rand) []int {
	p := 2*t.half + 1
	lo := max(2, t.half/4)
	l := lo + rng.IntN(t.half-lo+1)
	s := make([]int, p)
	s[0] = BOS
	start := p - 2*l
	for i := 1; i < start; i++ {
		s[i] = randIn(rng, 1, t.vocab)
	}
	for i := range l {
		s[start+i] = randIn(rng, 1, t.vocab)
		s[start+l+i] = s[start+i]
	}
	return s
}

// sequence returns [BOS, first.., first..] with a fresh random first half (the layout of
// Pairs and of the head detector's input).
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
		b.Tokens[i] = t.trainingSequence(rng)
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
