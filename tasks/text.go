package tasks

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/interp-dev/interp/tokenizer"
)

// TextPrefix starts the name of a natural-text task: "text:DIR" trains on the corpus folder DIR
// that docs/study/text_corpus.sh builds:
//
//	DIR/train.txt, DIR/heldout.txt   plain text (held-out documents are never trained on)
//	DIR/tokenizer.json               the corpus's own byte-level BPE (tokenizer.TrainBPE)
//
// Batch rows are BOS ("<|endoftext|>", as TransformerLens prepends) followed by SeqLen-1 tokens
// from a uniformly random offset of the tokenized training text; every position counts in the
// loss. The task has no clean/corrupted pairs. HeldOut gives fixed windows of the held-out text,
// and the task writes its tokenizer beside every checkpoint.
const TextPrefix = "text:"

type textTask struct {
	name        string
	tokJSON     []byte
	bos         int
	seqLen      int
	train, held []int
}

// TextTask is what a natural-text task offers beyond Task.
type TextTask interface {
	Task
	// HeldOut returns up to n rows [BOS, SeqLen-1 tokens] cut one after another from the held-out
	// text (fewer when it is short).
	HeldOut(n int) [][]int
	// WriteTokenizer writes the corpus's tokenizer.json into dir.
	WriteTokenizer(dir string) error
}

func newTextTask(name, dir string, opt Options) (Task, error) {
	tokPath := filepath.Join(dir, "tokenizer.json")
	tokJSON, err := os.ReadFile(tokPath)
	if err != nil {
		return nil, fmt.Errorf("corpus %s: %w (build it with docs/study/text_corpus.sh)", dir, err)
	}
	tok, err := tokenizer.FromTokenizerJSON(tokPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tokPath, err)
	}
	if opt.Vocab > 0 && tok.VocabSize() > opt.Vocab {
		return nil, fmt.Errorf("%s has %d tokens, more than the model's vocabulary of %d", tokPath, tok.VocabSize(), opt.Vocab)
	}
	bos, err := tokenizer.SingleToken(tok, tokenizer.EndOfText)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tokPath, err)
	}
	t := &textTask{name: name, tokJSON: tokJSON, bos: bos, seqLen: opt.SeqLen}
	if t.seqLen == 0 {
		t.seqLen = DefaultSeqLen
	}
	if t.seqLen < 2 {
		return nil, fmt.Errorf("sequence length %d is too short, need at least 2", t.seqLen)
	}
	read := func(file string) ([]int, error) {
		p := filepath.Join(dir, file)
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		ids, err := tok.Encode(string(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if len(ids) < t.seqLen {
			return nil, fmt.Errorf("%s has %d tokens, fewer than one row of %d", p, len(ids), t.seqLen)
		}
		return ids, nil
	}
	if t.train, err = read("train.txt"); err != nil {
		return nil, err
	}
	if t.held, err = read("heldout.txt"); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *textTask) Name() string { return t.name }

func (t *textTask) Batch(rng *rand.Rand, batch int) Batch {
	b := Batch{Tokens: make([][]int, batch)}
	n := t.seqLen - 1
	for i := range b.Tokens {
		off := rng.IntN(len(t.train) - n + 1)
		row := make([]int, 0, t.seqLen)
		b.Tokens[i] = append(append(row, t.bos), t.train[off:off+n]...)
	}
	return b
}

func (t *textTask) Pairs(uint64, int) (*Pairs, error) {
	return nil, fmt.Errorf("tasks: %s: a text corpus has no clean/corrupted pairs (use a pairs task such as ioi or a json:FILE task)", t.name)
}

func (t *textTask) HeldOut(n int) [][]int { return Windows(t.held, t.bos, t.seqLen, n) }

// Windows cuts ids into consecutive rows of seqLen tokens, each bos followed by seqLen-1 tokens
// (seqLen tokens of ids when bos < 0), at most n rows (all when n <= 0); a short tail is dropped.
func Windows(ids []int, bos, seqLen, n int) [][]int {
	w := seqLen
	if bos >= 0 {
		w--
	}
	var rows [][]int
	for off := 0; w > 0 && off+w <= len(ids) && (n <= 0 || len(rows) < n); off += w {
		row := make([]int, 0, seqLen)
		if bos >= 0 {
			row = append(row, bos)
		}
		rows = append(rows, append(row, ids[off:off+w]...))
	}
	return rows
}

func (t *textTask) WriteTokenizer(dir string) error {
	return os.WriteFile(filepath.Join(dir, "tokenizer.json"), t.tokJSON, 0o644)
}
