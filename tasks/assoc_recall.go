package tasks

import (
	"math/rand/v2"
	"slices"
)

// assocRecall is in-context associative recall:
//
//	[BOS, k1, v1, k2, v2, .., kn, vn, q, v_q]
//
// Keys come from [1, 1+K) and values from [1+K, Vocab), K = (Vocab-1)/2,
// so the two ranges are disjoint. The n keys of a sequence are distinct, the
// values are drawn with replacement, and the query q is one of the keys;
// n = min((SeqLen-3)/2, K), P = 2n+3. Only the prediction of v_q from the
// query's position counts in the loss.
type assocRecall struct {
	vocab, keys, n int
}

func newAssocRecall(opt Options) (Task, error) {
	vocab, seqLen, err := syntheticSizes(opt, 5, 5)
	if err != nil {
		return nil, err
	}
	keys := (vocab - 1) / 2
	return &assocRecall{vocab: vocab, keys: keys, n: min((seqLen-3)/2, keys)}, nil
}

func (t *assocRecall) Name() string { return "assoc-recall" }

// sequence returns [BOS, k1, v1, .., kn, vn, q] and the index of the queried
// pair.
func (t *assocRecall) sequence(rng *rand.Rand) (s []int, queried int) {
	s = make([]int, 0, 2*t.n+3)
	s = append(s, BOS)
	for _, k := range rng.Perm(t.keys)[:t.n] {
		s = append(s, 1+k, randIn(rng, 1+t.keys, t.vocab))
	}
	queried = rng.IntN(t.n)
	return append(s, s[1+2*queried]), queried
}

func (t *assocRecall) Batch(rng *rand.Rand, batch int) Batch {
	b := Batch{Tokens: make([][]int, batch), LossMask: make([][]bool, batch)}
	for i := range b.Tokens {
		s, q := t.sequence(rng)
		s = append(s, s[2+2*q])
		b.Tokens[i] = s
		b.LossMask[i] = maskAt(len(s), len(s)-2)
	}
	return b
}

// Pairs: clean is [BOS, k1, v1, .., kn, vn, q] and Pos its last position (the
// query), Answer the queried key's value. Corrupted gives the queried key a
// different value earlier in the sequence (one not used by any other pair
// when the vocabulary allows), which is Wrong: the answer the corrupted
// context supports.
func (t *assocRecall) Pairs(seed uint64, n int) (*Pairs, error) {
	if err := checkPairsN("assoc-recall", n); err != nil {
		return nil, err
	}
	rng := seededRand(seed)
	p := newPairs(n)
	for i := range n {
		clean, q := t.sequence(rng)
		at := 2 + 2*q // position of the queried value
		var unused []int
		for v := 1 + t.keys; v < t.vocab; v++ {
			if !slices.Contains(clean, v) {
				unused = append(unused, v)
			}
		}
		var wrong int
		if len(unused) > 0 {
			wrong = unused[rng.IntN(len(unused))]
		} else {
			wrong = randOtherThan(rng, 1+t.keys, t.vocab, clean[at])
		}
		corrupted := slices.Clone(clean)
		corrupted[at] = wrong
		p.Clean[i], p.Corrupted[i] = clean, corrupted
		p.Pos[i] = len(clean) - 1
		p.Answer[i], p.Wrong[i] = clean[at], wrong
	}
	return p, nil
}
