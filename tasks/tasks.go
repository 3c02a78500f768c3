package tasks

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/interp-dev/interp/tokenizer"
)

// Options configure a task. The zero value gives each task its defaults.
type Options struct {
	// Vocab and SeqLen come from the model config (DVocab, and NCtx or
	// less). Zero means the task's default: for the synthetic tasks a
	// vocabulary of 64 ids and sequences of 64 positions; for the text
	// tasks the tokenizer's vocabulary and the prompts' own length. A text
	// task whose ids or prompt length do not fit is an error in New.
	Vocab, SeqLen int

	// Tokenizer is used by the text tasks (ioi-gpt2, greater-than,
	// json:PATH, and ioi when set). Nil means the task's own: GPT-2 for
	// ioi-gpt2 and greater-than, IOITokenizer for ioi; json:PATH needs one.
	Tokenizer tokenizer.Tokenizer

	// Template, for ioi and ioi-gpt2, makes Pairs use only BABA template
	// number Template (1..15, in the order of Wang et al.) and its ABBA
	// form. Zero uses every template whose prompt has the most common token
	// length, so that all rows of one Pairs call have equal length.
	Template int

	// NoBOS stops the text tasks from prepending the tokenizer's
	// "<|endoftext|>" token (TransformerLens's prepend_bos). Tokenizers
	// without that token never get a BOS.
	NoBOS bool
}

// Batch is a batch of training sequences.
type Batch struct {
	Tokens [][]int // [B][P]
	// LossMask [B][P-1] is true where predicting token p+1 from position p
	// counts in the loss; nil means every position counts.
	LossMask [][]bool
}

// Pairs are clean/corrupted prompts for activation patching and circuit
// discovery. The metric at row i is scored on the logits at position Pos[i]:
// the logit difference is logit[Answer[i]] - logit[Wrong[i]].
type Pairs struct {
	Clean, Corrupted [][]int // [N][P], all rows of equal length
	Answer, Wrong    []int   // [N] correct and wrong next token at Pos
	Pos              []int   // [N] the position whose logits are scored
	// AnswerSets and WrongSets [N][...] list every correct and every wrong
	// token when there are many (greater-than: years > YY and <= YY); nil
	// for the other tasks.
	AnswerSets, WrongSets [][]int
	Text                  []string // [N] readable clean prompts; nil for the synthetic tasks
}

// Task makes training batches and clean/corrupted pairs.
type Task interface {
	// Name is the name New was called with.
	Name() string
	// Batch draws a training batch of batch rows. It depends only on the
	// state of rng, so the same seed gives the same batches.
	Batch(rng *rand.Rand, batch int) Batch
	// Pairs makes n clean/corrupted pairs, determined by seed.
	Pairs(seed uint64, n int) (*Pairs, error)
}

// Synthetic task defaults.
const (
	DefaultVocab  = 64
	DefaultSeqLen = 64
	// BOS is the id placed at position 0 of every synthetic sequence; no
	// other position uses it.
	BOS = 0
)

// ErrUnknown is wrapped by New's error for a name it does not know.
var ErrUnknown = errors.New("unknown task")

// JSONPrefix starts the name of a task read from a user's JSON file.
const JSONPrefix = "json:"

// Names lists the task names New accepts; "json:PATH" stands for any path.
func Names() []string {
	return []string{"induction", InductionFresh, InductionNgram, "assoc-recall", ICLClassify, "ioi", "ioi-gpt2", "greater-than", ColoredObjects, JSONPrefix + "PATH", TextPrefix + "DIR", MixPrefix + "A,B"}
}

// Known reports whether New knows the name (json:PATH for any path).
func Known(name string) bool {
	if strings.HasPrefix(name, JSONPrefix) || strings.HasPrefix(name, TextPrefix) || strings.HasPrefix(name, MixPrefix) || isICLClassify(name) || isColoredObjects(name) || isIOI(name) {
		return true
	}
	for _, n := range Names() {
		if n == name {
			return true
		}
	}
	return false
}

// New returns the task called name (see Names), configured by opt.
func New(name string, opt Options) (Task, error) {
	var (
		t   Task
		err error
	)
	switch {
	case name == "induction":
		t, err = newInduction(opt)
	case name == InductionNgram:
		t, err = newInductionNgram(opt)
	case name == InductionFresh:
		t, err = newInductionFresh(opt)
	case name == "assoc-recall":
		t, err = newAssocRecall(opt)
	case isICLClassify(name):
		t, err = newICLClassify(name, opt)
	case isIOI(name):
		t, err = newIOI(name, opt, false)
	case name == "ioi-gpt2":
		t, err = newIOI(name, opt, true)
	case name == "greater-than":
		t, err = newGreaterThan(opt)
	case isColoredObjects(name):
		t, err = newColoredObjects(name, opt)
	case strings.HasPrefix(name, MixPrefix):
		t, err = newMix(name, strings.TrimPrefix(name, MixPrefix), opt)
	case strings.HasPrefix(name, TextPrefix):
		t, err = newTextTask(name, strings.TrimPrefix(name, TextPrefix), opt)
	case strings.HasPrefix(name, JSONPrefix):
		t, err = newJSONTask(name, strings.TrimPrefix(name, JSONPrefix), opt)
	default:
		return nil, fmt.Errorf("tasks: %w %q (known: %s)", ErrUnknown, name, strings.Join(Names(), ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("tasks: %s: %w", name, err)
	}
	return t, nil
}

// taskParams parses the parameters of a task name "task:k=v,k=v" (none for plain "task"), each
// key one of known; a key given twice keeps its last value. usage ("labels=K") is what an
// unknown parameter's error names as known.
func taskParams(name, task, usage string, known ...string) (map[string]string, error) {
	params := map[string]string{}
	list, ok := strings.CutPrefix(name, task+":")
	if !ok {
		return params, nil
	}
	for _, kv := range strings.Split(list, ",") {
		k, v, _ := strings.Cut(kv, "=")
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("unknown parameter %q (known: %s)", kv, usage)
		}
		params[k] = v
	}
	return params, nil
}

// seededRand returns the generator that Pairs(seed, ...) draws from.
func seededRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x7461736b73)) // "tasks"
}

// syntheticSizes applies the defaults of the synthetic tasks and checks
// that the vocabulary and length fit the task's minimum.
func syntheticSizes(opt Options, minVocab, minSeqLen int) (vocab, seqLen int, err error) {
	vocab, seqLen = opt.Vocab, opt.SeqLen
	if vocab == 0 {
		vocab = DefaultVocab
	}
	if seqLen == 0 {
		seqLen = DefaultSeqLen
	}
	if vocab < minVocab {
		return 0, 0, fmt.Errorf("vocabulary of %d ids is too small, need at least %d", vocab, minVocab)
	}
	if seqLen < minSeqLen {
		return 0, 0, fmt.Errorf("sequence length %d is too short, need at least %d", seqLen, minSeqLen)
	}
	return vocab, seqLen, nil
}

// checkPairsN rejects a non-positive number of pairs.
func checkPairsN(task string, n int) error {
	if n <= 0 {
		return fmt.Errorf("tasks: %s: number of pairs must be positive, got %d", task, n)
	}
	return nil
}

// newPairs allocates the per-row slices of n pairs.
func newPairs(n int) *Pairs {
	return &Pairs{
		Clean:     make([][]int, n),
		Corrupted: make([][]int, n),
		Answer:    make([]int, n),
		Wrong:     make([]int, n),
		Pos:       make([]int, n),
	}
}

// maskAt returns a [P-1] loss mask that is true only at the given positions.
func maskAt(p int, positions ...int) []bool {
	m := make([]bool, p-1)
	for _, i := range positions {
		m[i] = true
	}
	return m
}

// randIn returns a uniform id in [lo, hi).
func randIn(rng *rand.Rand, lo, hi int) int { return lo + rng.IntN(hi-lo) }

// randOtherThan returns a uniform id in [lo, hi) different from not.
func randOtherThan(rng *rand.Rand, lo, hi, not int) int {
	for {
		if v := randIn(rng, lo, hi); v != not {
			return v
		}
	}
}
