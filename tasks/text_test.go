package tasks

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/interp-dev/interp/tokenizer"
)

// textCorpus writes a small corpus folder (train.txt, heldout.txt, tokenizer.json) and returns it.
func textCorpus(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	train := strings.Repeat("The cat sat on the mat. A dog ran in the park, and the cat slept.\n", 40)
	held := strings.Repeat("The dog sat on the cat. A park ran in the mat.\n", 10)
	tj, err := tokenizer.TrainBPE(train, 300)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"train.txt": []byte(train), "heldout.txt": []byte(held), "tokenizer.json": tj} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestTextTask(t *testing.T) {
	dir := textCorpus(t)
	tk, err := ForModel(TextPrefix+dir, Model{Vocab: 300, NCtx: 16}, 0)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.FromTokenizerJSON(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	bos, err := tokenizer.SingleToken(tok, tokenizer.EndOfText)
	if err != nil {
		t.Fatal(err)
	}
	trainData, _ := os.ReadFile(filepath.Join(dir, "train.txt"))
	ids, _ := tok.Encode(string(trainData))
	b := tk.Batch(seededRand(1), 8)
	for i, row := range b.Tokens {
		if len(row) != 16 || row[0] != bos {
			t.Fatalf("row %d = %v: want BOS (%d) then 15 tokens", i, row, bos)
		}
		found := false
		for off := 0; off+15 <= len(ids) && !found; off++ {
			found = slices.Equal(ids[off:off+15], row[1:])
		}
		if !found {
			t.Fatalf("row %d is not a window of the tokenized training text", i)
		}
	}
	tt := tk.(TextTask)
	held := tt.HeldOut(1000)
	heldData, _ := os.ReadFile(filepath.Join(dir, "heldout.txt"))
	hids, _ := tok.Encode(string(heldData))
	if len(held) != len(hids)/15 {
		t.Errorf("%d held-out rows, want %d", len(held), len(hids)/15)
	}
	if len(held) > 1 && !slices.Equal(held[1][1:], hids[15:30]) {
		t.Error("held-out rows are not consecutive windows of the held-out text")
	}
	if _, err := tk.Pairs(0, 1); err == nil {
		t.Error("a text task made pairs")
	}
	out := t.TempDir()
	if err := tt.WriteTokenizer(out); err != nil {
		t.Fatal(err)
	}
	if _, err := tokenizer.FromTokenizerJSON(filepath.Join(out, "tokenizer.json")); err != nil {
		t.Errorf("written tokenizer: %v", err)
	}
	if _, err := ForModel(TextPrefix+dir, Model{Vocab: 100, NCtx: 16}, 0); err == nil || !strings.Contains(err.Error(), "more than the model's vocabulary of 100") {
		t.Errorf("vocab 200: err %v", err)
	}
	if _, err := New(TextPrefix+filepath.Join(dir, "missing"), Options{}); err == nil || !strings.Contains(err.Error(), "text_corpus.sh") {
		t.Errorf("missing corpus: err %v", err)
	}
}
