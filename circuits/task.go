package circuits

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/interp-dev/interp/tasks"
)

// InductionFresh is the task name of the repeated-random-tokens task with fully fresh corrupted
// prompts, defined here for circuit discovery.
//
// The "induction" task of package tasks corrupts only the second half of a repeated sequence, so
// the first half, and with it everything the previous-token head writes there, is the same in
// the clean and the corrupted prompt: patching from the corrupted run cannot see that head.
// "induction-fresh" keeps the clean prompts, answers and positions of "induction" and draws the
// whole corrupted prompt afresh ([BOS, 2L random tokens], the last one the Wrong token), so
// every edge of an induction circuit carries a clean/corrupted difference.
const InductionFresh = "induction-fresh"

// TaskNames lists the tasks NewTask accepts: package tasks' and this package's own.
func TaskNames() []string { return append(tasks.Names(), InductionFresh) }

// NewTask returns the task called name: this package's own ("induction-fresh") or one of
// package tasks.
func NewTask(name string, opt tasks.Options) (tasks.Task, error) {
	if name != InductionFresh {
		return tasks.New(name, opt)
	}
	inner, err := tasks.New("induction", opt)
	if err != nil {
		return nil, fmt.Errorf("circuits: %s: %s", name, strings.TrimPrefix(err.Error(), "tasks: induction: "))
	}
	vocab := opt.Vocab
	if vocab == 0 {
		vocab = tasks.DefaultVocab
	}
	return &inductionFresh{inner: inner, vocab: vocab}, nil
}

type inductionFresh struct {
	inner tasks.Task
	vocab int
}

func (t *inductionFresh) Name() string { return InductionFresh }

func (t *inductionFresh) Batch(rng *rand.Rand, batch int) tasks.Batch {
	return t.inner.Batch(rng, batch)
}

func (t *inductionFresh) Pairs(seed uint64, n int) (*tasks.Pairs, error) {
	p, err := t.inner.Pairs(seed, n)
	if err != nil {
		return nil, err
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
