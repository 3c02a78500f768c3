package tasks

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// ICL-classify layout constants.
const (
	// ICLClassify is the task's name; "icl-classify:labels=K" sets the number of labels.
	ICLClassify = "icl-classify"
	// ICLLabels is the default number of label ids, [1, 1+ICLLabels), which is also the
	// number of classes in each sequence.
	ICLLabels = 4
	// ICLClusterSize is the number of exemplar ids per class.
	ICLClusterSize = 3
)

// isICLClassify reports whether name is icl-classify, with or without parameters.
func isICLClassify(name string) bool {
	return name == ICLClassify || strings.HasPrefix(name, ICLClassify+":")
}

// iclLabels parses the parameters of "icl-classify:labels=K" (K >= 2); plain
// "icl-classify" has ICLLabels.
func iclLabels(name string) (int, error) {
	params, err := taskParams(name, ICLClassify, "labels=K", "labels")
	if err != nil {
		return 0, err
	}
	v, ok := params["labels"]
	if !ok {
		return ICLLabels, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 2 {
		return 0, fmt.Errorf("labels=%s: want an integer >= 2", v)
	}
	return n, nil
}

// iclClassify is bursty few-shot classification in the style of Chan et al.
// (2022) and Singh et al. (2024):
//
//	[BOS, e1, l1, e2, l2, .., en, ln, q, l_q]
//
// Ids [1, 1+labels) are labels (ICLLabels unless the name sets labels=K); the
// exemplar ids after them form classes of ICLClusterSize consecutive ids. Each
// sequence picks m = min(labels, n, number of classes) classes and a random one-to-one class -> label map, so labels carry no
// information across sequences and only in-context learning predicts them.
// Every chosen class appears in the context (bursty: several exemplars per
// class, each a random member of its cluster), and the query q is a fresh
// exemplar of one of them. n = (SeqLen-3)/2, P = 2n+3.
//
// The loss counts every label prediction (from each exemplar's position,
// the query's included). The first exemplar of each class in a sequence
// cannot be predicted better than chance; later ones and the query can.
type iclClassify struct {
	name                         string
	vocab, labels, classes, n, m int
}

func newICLClassify(name string, opt Options) (Task, error) {
	labels, err := iclLabels(name)
	if err != nil {
		return nil, err
	}
	minVocab, minSeqLen := 1+labels+2*ICLClusterSize, 7
	if name != ICLClassify {
		// An explicit label count is kept: every sequence holds that many classes.
		minVocab, minSeqLen = 1+labels+labels*ICLClusterSize, 2*labels+3
	}
	vocab, seqLen, err := syntheticSizes(opt, minVocab, minSeqLen)
	if err != nil {
		return nil, err
	}
	n := (seqLen - 3) / 2
	t := &iclClassify{
		name:    name,
		vocab:   vocab,
		labels:  labels,
		classes: (vocab - 1 - labels) / ICLClusterSize,
		n:       n,
	}
	t.m = min(labels, n, t.classes)
	return t, nil
}

func (t *iclClassify) Name() string { return t.name }

// exemplar returns a random exemplar id of class c.
func (t *iclClassify) exemplar(rng *rand.Rand, c int) int {
	return 1 + t.labels + c*ICLClusterSize + rng.IntN(ICLClusterSize)
}

// sequence returns [BOS, e1, l1, .., en, ln, q], the query's class (as an
// index into the chosen classes) and the label of each chosen class.
func (t *iclClassify) sequence(rng *rand.Rand) (s []int, query int, labels []int) {
	classes := rng.Perm(t.classes)[:t.m]
	labels = rng.Perm(t.labels)[:t.m]
	for i := range labels {
		labels[i]++ // label ids start at 1
	}
	// Each chosen class once, then random ones, in random order.
	order := make([]int, t.n)
	for i := range order {
		if i < t.m {
			order[i] = i
		} else {
			order[i] = rng.IntN(t.m)
		}
	}
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	s = make([]int, 0, 2*t.n+3)
	s = append(s, BOS)
	for _, k := range order {
		s = append(s, t.exemplar(rng, classes[k]), labels[k])
	}
	query = rng.IntN(t.m)
	return append(s, t.exemplar(rng, classes[query])), query, labels
}

func (t *iclClassify) Batch(rng *rand.Rand, batch int) Batch {
	b := Batch{Tokens: make([][]int, batch), LossMask: make([][]bool, batch)}
	for i := range b.Tokens {
		s, q, labels := t.sequence(rng)
		s = append(s, labels[q])
		mask := make([]bool, len(s)-1)
		for p := 1; p < len(s); p += 2 {
			mask[p] = true // exemplar at p, label at p+1
		}
		b.Tokens[i], b.LossMask[i] = s, mask
	}
	return b
}

// Pairs: clean is [BOS, e1, l1, .., en, ln, q] and Pos its last position (the
// query); Answer is the label the context gives the query's class. Corrupted
// swaps the labels of the query's class and another class everywhere in the
// context, so the query's in-context label becomes Wrong; the exemplars are
// unchanged.
func (t *iclClassify) Pairs(seed uint64, n int) (*Pairs, error) {
	if err := checkPairsN(t.name, n); err != nil {
		return nil, err
	}
	rng := seededRand(seed)
	p := newPairs(n)
	for i := range n {
		clean, q, labels := t.sequence(rng)
		other := (q + 1 + rng.IntN(t.m-1)) % t.m
		answer, wrong := labels[q], labels[other]
		corrupted := slices.Clone(clean)
		for j := 2; j < len(corrupted); j += 2 {
			switch corrupted[j] {
			case answer:
				corrupted[j] = wrong
			case wrong:
				corrupted[j] = answer
			}
		}
		p.Clean[i], p.Corrupted[i] = clean, corrupted
		p.Pos[i] = len(clean) - 1
		p.Answer[i], p.Wrong[i] = answer, wrong
	}
	return p, nil
}
