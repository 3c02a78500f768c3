package tokenizer

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	tiktoken "github.com/tiktoken-go/tokenizer"
)

// TestBPEMatchesGPT2 writes GPT-2's vocab.json and merges.txt (rebuilt from
// tiktoken-go's ranks) and checks that the merges-based BPE of FromDir agrees
// token for token with the rank-based GPT2() (itself checked against
// tiktoken-go's encoder by TestGPT2MatchesTiktoken).
func TestBPEMatchesGPT2(t *testing.T) {
	ref := mustGPT2(t)
	dir := t.TempDir()
	if err := WriteGPT2Files(dir); err != nil {
		t.Fatalf("WriteGPT2Files: %v", err)
	}
	merges, err := os.ReadFile(filepath.Join(dir, MergesTxtFile))
	if err != nil {
		t.Fatal(err)
	}
	// The first merges of the published GPT-2 merges.txt.
	if want := "#version: 0.2\nĠ t\nĠ a\nh e\ni n\nr e\no n\n"; !strings.HasPrefix(string(merges), want) {
		t.Errorf("merges.txt starts %q, want %q", string(merges[:len(want)]), want)
	}
	tok := mustFromDir(t, dir)
	if tok.VocabSize() != GPT2VocabSize {
		t.Errorf("VocabSize() = %d, want %d", tok.VocabSize(), GPT2VocabSize)
	}

	texts := crossCheckTexts()
	for _, text := range texts {
		want, err := ref.Encode(text)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tok.Encode(text)
		if err != nil {
			t.Fatalf("Encode(%.40q): %v", text, err)
		}
		if !slices.Equal(got, want) {
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			t.Errorf("Encode(%.40q...) differs from GPT2() at token %d: got %v, want %v", text, i,
				got[i:min(i+5, len(got))], want[i:min(i+5, len(want))])
		}
	}

	// Every token, encoded on its own, and every id's text agree too.
	for id := range GPT2VocabSize {
		s := ref.TokenString(id)
		if got := tok.TokenString(id); got != s {
			t.Fatalf("TokenString(%d) = %q, GPT2() gives %q", id, got, s)
		}
		text, _ := ref.Decode([]int{id})
		want, _ := ref.Encode(text)
		got, err := tok.Encode(text)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("Encode(token %d %q) = %v, %v; GPT2() gives %v", id, text, got, err, want)
		}
	}
}

// crossCheckTexts returns varied text to compare tokenizers on.
func crossCheckTexts() []string {
	texts := []string{
		"Hello world",
		" Mary",
		"When Mary and John went to the store, John gave a drink to",
		"The quick brown fox jumps over the lazy dog.",
		"I'm sure they'll say it's fine—won't they? \"Yes,\" she said.",
		"  indented\n\n\tcode := map[string]int{\"a\": 1} // comment\r\n",
		"Numbers: 3.14159, 1,000,000 and 2024-06-11T12:00:00Z",
		"Ünïcödé: naïve café, 日本語のテキスト, Ελληνικά, русский, العربية, 🙂👍🏽",
		"<|endoftext|>The end.<|endoftext|>",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		strings.Repeat(" ", 200) + "x" + strings.Repeat("!?", 80),
	}
	// This package's own sources: a few thousand words of varied text.
	srcs, _ := filepath.Glob("*.go")
	for _, src := range srcs {
		if b, err := os.ReadFile(src); err == nil {
			texts = append(texts, string(b))
		}
	}
	return texts
}

// randomTexts returns n strings of up to 29 runes over an alphabet that exercises the pre-tokenizer
// splitters (letters, apostrophes, Unicode spaces, line breaks, digits, punctuation, an emoji, a
// combining accent), plus extra runes, from a generator seeded with seed.
func randomTexts(seed uint64, n int, extra string) []string {
	alphabet := []rune("aZé日 '  \t\n\r\u00a0\u3000sltrevmd1٣½.,!?-_🙂\u0301" + extra)
	rng := rand.New(rand.NewPCG(seed, seed+1))
	out := make([]string, n)
	for i := range out {
		var sb strings.Builder
		for range rng.IntN(30) {
			sb.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		out[i] = sb.String()
	}
	return out
}

// TestGPT2MatchesTiktoken checks GPT2(), which splits and merges in pure Go,
// against tiktoken-go's own encoder on the same vocabulary.
func TestGPT2MatchesTiktoken(t *testing.T) {
	tok := mustGPT2(t)
	codec, err := tiktoken.Get(tiktoken.R50kBase)
	if err != nil {
		t.Fatal(err)
	}
	texts := append(crossCheckTexts(), randomTexts(3, 2000, "")...)
	// Every token's own text (tiktoken-go maps invalid UTF-8 and DEL differently).
	for id := range GPT2EndOfText {
		if s, _ := tok.Decode([]int{id}); utf8.ValidString(s) && !strings.ContainsRune(s, 0x7f) {
			texts = append(texts, s)
		}
	}
	for _, text := range texts {
		got, err := tok.Encode(text)
		if err != nil {
			t.Fatal(err)
		}
		// tiktoken-go does not treat <|endoftext|> as special.
		var want []int
		for i, part := range strings.Split(text, EndOfTextToken) {
			if i > 0 {
				want = append(want, GPT2EndOfText)
			}
			ids, _, err := codec.Encode(part)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				want = append(want, int(id))
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("Encode(%.40q...) = %v, tiktoken-go gives %v", text, got, want)
		}
	}
}

// TestGPT2DEL pins the one known divergence from tiktoken-go, whose regexp2
// engine drops U+007F: GPT-2 (Python tiktoken and Hugging Face) encodes it
// as token 221.
func TestGPT2DEL(t *testing.T) {
	tok := mustGPT2(t)
	for text, want := range map[string][]int{"\x7f": {221}, "a\x7fb": {64, 221, 65}} {
		if got, err := tok.Encode(text); err != nil || !slices.Equal(got, want) {
			t.Errorf("Encode(%q) = %v, %v; want %v", text, got, err, want)
		}
	}
}

// writeGPT2TokenizerJSON writes GPT-2 as a Hugging Face tokenizer.json (as
// tokenizers >= 0.20 saves it, with merges as pairs) and returns its path.
func writeGPT2TokenizerJSON(t *testing.T) string {
	t.Helper()
	vocab, merges, err := GPT2VocabMerges()
	if err != nil {
		t.Fatal(err)
	}
	byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	doc := map[string]any{
		"version":        "1.0",
		"truncation":     nil,
		"padding":        nil,
		"added_tokens":   []any{map[string]any{"id": GPT2EndOfText, "content": EndOfTextToken, "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true}},
		"normalizer":     nil,
		"pre_tokenizer":  byteLevel,
		"post_processor": byteLevel,
		"decoder":        byteLevel,
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": "",
			"end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": vocab, "merges": merges,
		},
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), TokenizerJSONFile)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTokenizerJSONMatchesGPT2 checks the tokenizer.json loader on GPT-2's
// full vocabulary.
func TestTokenizerJSONMatchesGPT2(t *testing.T) {
	ref := mustGPT2(t)
	tok, err := FromTokenizerJSON(writeGPT2TokenizerJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range crossCheckTexts() {
		want, _ := ref.Encode(text)
		if got, err := tok.Encode(text); err != nil || !slices.Equal(got, want) {
			t.Errorf("Encode(%.40q...) = %v, %v; GPT2() gives %v", text, got, err, want)
		}
	}
}
