package tasks

import (
	"errors"
	"fmt"
	"strings"

	"github.com/interp-dev/interp/tokenizer"
)

// Model is what a task needs to know of the model it feeds (model.Config's fields, and the
// model's own tokenizer).
type Model struct {
	// Vocab and NCtx are the model's d_vocab and n_ctx.
	Vocab, NCtx int
	// Task is the task recorded with the model (config.json's interp_task; "" if none).
	Task string
	// Tokenizer is the model's own tokenizer, nil if it has none.
	Tokenizer tokenizer.Tokenizer
}

// ErrNoTask is returned by ForModel when no task is named and the model records none.
var ErrNoTask = errors.New("no task given and the model records none")

// ErrSeqLen marks a sequence length that does not fit the task or the model.
var ErrSeqLen = errors.New("sequence length")

// Synthetic reports whether name is a synthetic task (random token ids, any sequence length),
// as opposed to a text task whose prompts have their own length.
func Synthetic(name string) bool {
	switch name {
	case "induction", InductionFresh, InductionNgram, "assoc-recall", ICLClassify:
		return true
	}
	return isICLClassify(name)
}

// ForModel returns the task name sized for m, the policy every command and the Go API share:
//
//   - name "" means the model's recorded task (m.Task); ErrNoTask when it has none.
//   - Synthetic tasks draw ids below m.Vocab, in sequences of seqLen positions (0: m.NCtx, so a
//     model trained on one length sees that length); seqLen over m.NCtx is an error.
//   - Text tasks keep their prompts' own length (a seqLen other than 0 is an error) and use the
//     model's tokenizer: json:PATH needs one; ioi uses its toy word vocabulary unless the model
//     has a tokenizer of its own other than GPT-2's; ioi-gpt2 and greater-than fall back to
//     GPT-2's.
func ForModel(name string, m Model, seqLen int) (Task, error) {
	if name == "" {
		if m.Task == "" {
			return nil, ErrNoTask
		}
		name = m.Task
	}
	opt := Options{Vocab: m.Vocab}
	if Windowed(name) {
		if seqLen < 0 || seqLen > m.NCtx {
			return nil, fmt.Errorf("tasks: %s: %w %d must be in [1, n_ctx = %d]", name, ErrSeqLen, seqLen, m.NCtx)
		}
		opt.SeqLen = seqLen
		if seqLen == 0 {
			opt.SeqLen = m.NCtx
		}
		return New(name, opt)
	}
	if seqLen != 0 {
		return nil, fmt.Errorf("tasks: %s: a %w applies only to the synthetic tasks (%s); a text task keeps its prompts' length",
			name, ErrSeqLen, strings.Join(syntheticNames(), ", "))
	}
	opt.Tokenizer = m.Tokenizer
	if strings.HasPrefix(name, MixPrefix) {
		opt.SeqLen = m.NCtx // the synthetic tasks of a mixture fill the model's context
	}
	if isIOI(name) && m.Tokenizer != nil && m.Tokenizer.Name() == "gpt2" {
		opt.Tokenizer = nil // the toy word vocabulary (ioi-gpt2 is the GPT-2 form)
	}
	if strings.HasPrefix(name, JSONPrefix) && m.Tokenizer == nil {
		return nil, fmt.Errorf("tasks: %s: a JSON task is tokenized with the model's tokenizer, and this model has none "+
			"(put vocab.json + merges.txt or tokenizer.json beside its weights, or set interp_tokenizer in config.json)", name)
	}
	return New(name, opt)
}

// Windowed reports whether name's rows are cut to a sequence length (--seq-len): the synthetic
// tasks and the text:DIR corpora.
func Windowed(name string) bool { return Synthetic(name) || strings.HasPrefix(name, TextPrefix) }

func syntheticNames() []string {
	var out []string
	for _, n := range Names() {
		if Synthetic(n) {
			out = append(out, n)
		}
	}
	return out
}
