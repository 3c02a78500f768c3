package tasks

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// InductionFresh is the task name of the repeated-random-tokens task with fully fresh corrupted
// prompts, for circuit discovery.
//
// The "induction" task corrupts only the second half of a repeated sequence, so the first half,
// and with it everything the previous-token head writes there, is the same in the clean and the
// corrupted prompt: patching from the corrupted run cannot see that head. "induction-fresh" keeps
// the clean prompts, answers and positions of "induction" and draws the whole corrupted prompt
// afresh ([BOS, 2L random tokens], the last one the Wrong token), so every edge of an induction
// circuit carries a clean/corrupted difference.
const InductionFresh = "induction-fresh"

func newInductionFresh(opt Options) (Task, error) {
	inner, err := newInduction(opt)
	if err != nil {
		return nil, err
	}
	vocab := opt.Vocab
	if vocab == 0 {
		vocab = DefaultVocab
	}
	return &inductionFresh{inner: inner, vocab: vocab}, nil
}

type inductionFresh struct {
	inner Task
	vocab int
}

func (t *inductionFresh) Name() string { return InductionFresh }

func (t *inductionFresh) Batch(rng *rand.Rand, batch int) Batch { return t.inner.Batch(rng, batch) }

func (t *inductionFresh) Pairs(seed uint64, n int) (*Pairs, error) {
	p, err := t.inner.Pairs(seed, n)
	if err != nil {
		return nil, fmt.Errorf("tasks: %s: %s", InductionFresh, strings.TrimPrefix(err.Error(), "tasks: induction: "))
	}
	rng := rand.New(rand.NewPCG(seed, 0x6672657368)) // "fresh"
	for i, row := range p.Corrupted {
		last := len(row) - 1
		for j := 1; j < last; j++ {
			row[j] = 1 + rng.IntN(t.vocab-1)
		}
		row[last] = p.Wrong[i]
	}
	return p, nil
}
