package model

import (
	"math"
	"os"
	"testing"

	"github.com/interp-dev/interp/tokenizer"
)

// TestEmbeddedText4L: the embedded text-4l predicts held-out English better than any model that
// ignores context could: its loss on an excerpt of the corpus's held-out documents
// (testdata/python-docs-heldout.txt, from Debian's python3.11-doc, PSF License; never trained
// on) is below the entropy of the excerpt's own unigram distribution, the best a context-free
// predictor fitted to the excerpt itself can do.
func TestEmbeddedText4L(t *testing.T) {
	w, dir, err := LoadAny("text-4l")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.FromTokenizerJSON(dir + "/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != w.Config.DVocab {
		t.Fatalf("tokenizer of %d tokens, model vocabulary %d", tok.VocabSize(), w.Config.DVocab)
	}
	data, err := os.ReadFile("testdata/python-docs-heldout.txt")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := tok.Encode(string(data))
	if err != nil {
		t.Fatal(err)
	}
	if back, _ := tok.Decode(ids); back != string(data) {
		t.Fatal("the tokenizer does not round-trip the excerpt")
	}
	bos, err := tokenizer.SingleToken(tok, tokenizer.EndOfText)
	if err != nil {
		t.Fatal(err)
	}
	p := w.Config.NCtx
	var rows [][]int
	counts := map[int]float64{}
	n := 0.0
	for off := 0; off+p-1 <= len(ids); off += p - 1 {
		rows = append(rows, append([]int{bos}, ids[off:off+p-1]...))
		for _, id := range ids[off : off+p-1] {
			counts[id]++
			n++
		}
	}
	var unigram float64
	for _, c := range counts {
		unigram -= c / n * math.Log(c/n)
	}
	b, bn := MustNewBackend("")
	m, err := New(w, b, bn)
	if err != nil {
		t.Fatal(err)
	}
	l, err := m.Loss(rows, 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("text-4l on %d held-out tokens: loss %.3f nats (perplexity %.1f); the excerpt's unigram entropy %.3f; ln V %.3f",
		l.Tokens, l.Loss, l.Perplexity(), unigram, math.Log(float64(w.Config.DVocab)))
	if l.Loss >= unigram {
		t.Errorf("loss %.3f is not below the excerpt's unigram entropy %.3f", l.Loss, unigram)
	}
}
