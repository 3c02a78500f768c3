package tokenizer

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTrainBPE(t *testing.T) {
	text := strings.Repeat("The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs!\n\n", 20) +
		"Numbers 12345 and unicode: naïve café — ok?\n"
	data, err := TrainBPE(text, 300)
	if err != nil {
		t.Fatal(err)
	}
	again, err := TrainBPE(text, 300)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, again) {
		t.Error("two trainings on the same text differ")
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := FromTokenizerJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 300 {
		t.Errorf("vocabulary %d, want 300", tok.VocabSize())
	}
	ids, err := tok.Encode(text)
	if err != nil {
		t.Fatal(err)
	}
	back, err := tok.Decode(ids)
	if err != nil {
		t.Fatal(err)
	}
	if back != text {
		t.Errorf("decode(encode(text)) differs from text")
	}
	// 43 merges learned on a text this repetitive must compress it well below one token a byte.
	if len(ids) > len(text)/3 {
		t.Errorf("%d tokens for %d bytes: the merges do not compress", len(ids), len(text))
	}
	eot, err := SingleToken(tok, EndOfText)
	if err != nil || eot != 299 {
		t.Errorf("%s is id %d (%v), want the last id 299", EndOfText, eot, err)
	}
	// Text the trainer never saw still encodes (bytes are always in the vocabulary).
	unseen := "Zebras 😀 eat\tkiwis."
	ids, err = tok.Encode(unseen)
	if err != nil {
		t.Fatal(err)
	}
	if back, _ := tok.Decode(ids); back != unseen {
		t.Errorf("unseen text round trip: %q", back)
	}
	if _, err := TrainBPE(text, 100); err == nil || !strings.Contains(err.Error(), "at least 258") {
		t.Errorf("vocab 100: err %v", err)
	}
}
