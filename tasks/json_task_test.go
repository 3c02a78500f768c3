package tasks

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/interp-dev/interp/tokenizer"
)

func writeJSON(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "task.json")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestJSONTask(t *testing.T) {
	gpt2, _ := tokenizer.GPT2()
	path := writeJSON(t, `[
 {"prompt": "When Mary and John went to the store, John gave a drink to", "answer": " Mary", "wrong": " John",
  "corrupted": "When Alice and Bob went to the store, Carl gave a drink to"},
 {"prompt": "When Tom and James went to the park, James gave a ball to", "answer": " Tom", "wrong": " James",
  "corrupted": "When Alice and Bob went to the park, Carl gave a ball to"},
 {"prompt": "When Tom and James went to the park, James gave a bone to", "answer": " Tom", "wrong": " James"}]`)
	task := newTask(t, JSONPrefix+path, Options{Tokenizer: gpt2, Vocab: 50257, SeqLen: 1024})
	p, err := task.Pairs(0, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []int{tokenizer.GPT2EndOfText, 2215, 5335, 290, 1757, 1816, 284, 262, 3650, 11, 1757, 2921, 257, 4144, 284}
	if len(p.Clean) != 2 || !slices.Equal(p.Clean[0], want) || p.Answer[0] != 5335 || p.Wrong[0] != 1757 || p.Pos[0] != len(want)-1 {
		t.Fatalf("row 0: clean %v answer %d wrong %d pos %d; want %v, 5335, 1757, %d", p.Clean[0], p.Answer[0], p.Wrong[0], p.Pos[0], want, len(want)-1)
	}
	if p.Text[1] != "When Tom and James went to the park, James gave a ball to" {
		t.Fatalf("Text[1] = %q", p.Text[1])
	}
	if _, err := task.Pairs(0, 3); err == nil || !strings.Contains(err.Error(), `row 2 has no "corrupted" prompt`) {
		t.Fatalf("Pairs over a row without corrupted: %v", err)
	}
	tom, _ := tokenizer.SingleToken(gpt2, " Tom")
	b := task.Batch(seededRand(1), 8)
	for i, row := range b.Tokens {
		last := row[len(row)-1]
		if len(row) != len(want)+1 || (last != 5335 && last != tom) || !b.LossMask[i][len(row)-2] {
			t.Fatalf("batch row %d = %v", i, row)
		}
	}
}

func TestJSONTaskErrors(t *testing.T) {
	gpt2, _ := tokenizer.GPT2()
	row := func(prompt, answer, wrong string) string {
		return `{"prompt": "` + prompt + `", "answer": "` + answer + `", "wrong": "` + wrong + `"}`
	}
	ok := row("When Mary and John went to the store, John gave a drink to", " Mary", " John")
	for _, tc := range []struct {
		name, file string
		opt        Options
		want       string
	}{
		{"no tokenizer", "[" + ok + "]", Options{}, "needs a tokenizer"},
		{"not an array", `{"prompt": "x"}`, Options{Tokenizer: gpt2}, "want a JSON array"},
		{"unknown field", `[{"prompt": "a b", "answer": " a", "wrong": " b", "promt": "x"}]`, Options{Tokenizer: gpt2}, `unknown field "promt"`},
		{"empty", `[]`, Options{Tokenizer: gpt2}, "no rows"},
		{"long answer", "[" + ok + "," + row("When Mary and John went to the store, John gave a drink to", " Bartholomew", " John") + "]",
			Options{Tokenizer: gpt2}, `row 1: answer " Bartholomew" must be one token`},
		{"same answer", "[" + row("a b c", " Mary", " Mary") + "]", Options{Tokenizer: gpt2}, "row 0: answer and wrong are the same token"},
		{"empty prompt", "[" + row("", " Mary", " John") + "]", Options{Tokenizer: gpt2}, `row 0: "prompt" is empty`},
		{"lengths", "[" + ok + "," + row("When Mary and John went to the store, John gave a big drink to", " Mary", " John") + "]",
			Options{Tokenizer: gpt2}, "row 1: prompt is 16 tokens but row 0's is 15"},
		{"corrupted length", `[{"prompt": "a b", "answer": " a", "wrong": " b", "corrupted": "a b c"}]`,
			Options{Tokenizer: gpt2}, "row 0: corrupted prompt is 4 tokens but the prompt is 3"},
		{"seq len", "[" + ok + "]", Options{Tokenizer: gpt2, SeqLen: 15}, "sequences of 16 tokens do not fit the model's 15 positions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeJSON(t, tc.file)
			_, err := New(JSONPrefix+path, tc.opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("New = %v, want an error naming %s and containing %q", err, path, tc.want)
			}
		})
	}
	if _, err := New(JSONPrefix+"/nonexistent/task.json", Options{Tokenizer: gpt2}); err == nil || !strings.Contains(err.Error(), "/nonexistent/task.json") {
		t.Errorf("missing file: %v", err)
	}
}
