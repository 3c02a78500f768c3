package tasks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/interp-dev/interp/tokenizer"
)

// JSONRow is one row of a user's task file:
//
//	[{"prompt": "When Mary and John went to the store, John gave a drink to",
//	  "answer": " Mary", "wrong": " John",
//	  "corrupted": "When Alice and Bob went to the store, Carol gave a drink to"}]
//
// Answer and Wrong must each be one token (mind GPT-2's leading space).
// Corrupted is optional, but Pairs needs it on every row.
type JSONRow struct {
	Prompt    string  `json:"prompt"`
	Answer    string  `json:"answer"`
	Wrong     string  `json:"wrong"`
	Corrupted *string `json:"corrupted,omitempty"`
}

// jsonTask serves the prompts of a user's file, tokenized with
// Options.Tokenizer (with its "<|endoftext|>" as BOS unless Options.NoBOS).
// All prompts, clean and corrupted, must have the same number of tokens:
// rows are not padded, and a row of another length is an error naming it.
// Pairs returns the file's first n rows in order (all of them if n is
// larger); the seed is not used. Batch rows are a random prompt followed by
// its answer, with only the answer's prediction in the loss.
type jsonTask struct {
	name             string
	clean, corrupted [][]int // corrupted[i] nil when row i has none
	answer, wrong    []int
	text             []string
}

func newJSONTask(name, path string, opt Options) (Task, error) {
	if path == "" {
		return nil, errors.New("no file: use json:PATH")
	}
	tok := opt.Tokenizer
	if tok == nil {
		return nil, errors.New("a JSON task needs a tokenizer (the model's)")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var rows []JSONRow
	if err := dec.Decode(&rows); err != nil {
		return nil, fmt.Errorf("want a JSON array of {\"prompt\", \"answer\", \"wrong\", \"corrupted\"}: %w", err)
	}
	if len(rows) == 0 {
		return nil, errors.New("the file has no rows")
	}
	bos, _ := bosAndPad(tok, opt.NoBOS)
	encode := func(i int, field, text string) ([]int, error) {
		if text == "" {
			return nil, fmt.Errorf("row %d: %q is empty", i, field)
		}
		ids, err := tok.Encode(text)
		if err != nil {
			return nil, fmt.Errorf("row %d: %s: %w", i, field, err)
		}
		if bos >= 0 {
			ids = append([]int{bos}, ids...)
		}
		return ids, nil
	}
	single := func(i int, field, text string) (int, error) {
		id, err := tokenizer.SingleToken(tok, text)
		if err != nil {
			return 0, fmt.Errorf("row %d: %s %q must be one token: %w", i, field, text, err)
		}
		return id, nil
	}
	t := &jsonTask{name: name}
	for i, r := range rows {
		clean, err := encode(i, "prompt", r.Prompt)
		if err != nil {
			return nil, err
		}
		answer, err := single(i, "answer", r.Answer)
		if err != nil {
			return nil, err
		}
		wrong, err := single(i, "wrong", r.Wrong)
		if err != nil {
			return nil, err
		}
		if answer == wrong {
			return nil, fmt.Errorf("row %d: answer and wrong are the same token %q", i, r.Answer)
		}
		if i > 0 && len(clean) != len(t.clean[0]) {
			return nil, fmt.Errorf("row %d: prompt is %d tokens but row 0's is %d; all prompts must have the same token length", i, len(clean), len(t.clean[0]))
		}
		var corrupted []int
		if r.Corrupted != nil {
			if corrupted, err = encode(i, "corrupted", *r.Corrupted); err != nil {
				return nil, err
			}
			if len(corrupted) != len(clean) {
				return nil, fmt.Errorf("row %d: corrupted prompt is %d tokens but the prompt is %d; they must have the same token length", i, len(corrupted), len(clean))
			}
		}
		t.clean = append(t.clean, clean)
		t.corrupted = append(t.corrupted, corrupted)
		t.answer = append(t.answer, answer)
		t.wrong = append(t.wrong, wrong)
		t.text = append(t.text, r.Prompt)
	}
	if err := checkTextSizes(tok, opt, len(t.clean[0])+1); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *jsonTask) Name() string { return t.name }

func (t *jsonTask) Batch(rng *rand.Rand, batch int) Batch {
	b := Batch{Tokens: make([][]int, batch), LossMask: make([][]bool, batch)}
	for i := range b.Tokens {
		r := rng.IntN(len(t.clean))
		ids := append(append([]int(nil), t.clean[r]...), t.answer[r])
		b.Tokens[i], b.LossMask[i] = ids, maskAt(len(ids), len(ids)-2)
	}
	return b
}

func (t *jsonTask) Pairs(seed uint64, n int) (*Pairs, error) {
	if err := checkPairsN(t.name, n); err != nil {
		return nil, err
	}
	n = min(n, len(t.clean))
	p := newPairs(n)
	p.Text = make([]string, n)
	for i := range n {
		if t.corrupted[i] == nil {
			return nil, fmt.Errorf("tasks: %s: row %d has no \"corrupted\" prompt; patching needs one on every row", t.name, i)
		}
		p.Clean[i] = append([]int(nil), t.clean[i]...)
		p.Corrupted[i] = append([]int(nil), t.corrupted[i]...)
		p.Pos[i] = len(t.clean[i]) - 1
		p.Answer[i], p.Wrong[i] = t.answer[i], t.wrong[i]
		p.Text[i] = t.text[i]
	}
	return p, nil
}
