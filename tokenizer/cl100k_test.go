package tokenizer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	tiktoken "github.com/tiktoken-go/tokenizer"
)

// cl100kPattern is the pre-tokenizer regex of tiktoken's cl100k_base, which Llama 3's
// tokenizer.json carries unchanged in its Split step.
const cl100kPattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// cl100kSize is the number of mergeable tokens of cl100k_base (ids 0..100255): the first 100256
// tokens of Llama 3's vocabulary.
const cl100kSize = 100256

// TestTokenizerJSONMatchesCl100k checks the Llama 3 / Qwen tokenizer.json path (Split(Regex,
// Isolated) + ByteLevel + BPE with ignore_merges) against a published vocabulary and an
// independent encoder: a tokenizer.json in Llama 3's layout is written from tiktoken's
// cl100k_base (the 100256 tokens Llama 3's vocabulary starts with, its merges recovered from the
// ranks), and every text must encode to tiktoken-go's cl100k_base ids, token for token.
//
// One difference is allowed, and counted: tiktoken-go's splitter (regexp2/v2) cuts a run of
// whitespace holding two or more line breaks ("\r\n    \r\n") in two, where the pattern as
// Python's regex module (and Oniguruma, which Hugging Face's tokenizers use) reads it matches the
// whole run (TestRegexSplitMatchesPython has such runs). Texts with such a run are compared piece
// by piece on this package's pieces: a whitespace run of that kind must be its own vocabulary token,
// and every other piece must encode as tiktoken-go encodes it.
func TestTokenizerJSONMatchesCl100k(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 100k-token tokenizer.json")
	}
	codec, err := tiktoken.Get(tiktoken.Cl100kBase)
	if err != nil {
		t.Fatal(err)
	}
	codec.SetErrorMode(tiktoken.ErrorModeNone) // Decode returns raw token bytes
	texts := make([]string, cl100kSize)
	ranks := make(map[string]int, cl100kSize)
	for id := range cl100kSize {
		s, err := codec.Decode([]uint{uint(id)})
		if err != nil {
			t.Fatalf("cl100k_base has no token %d: %v", id, err)
		}
		texts[id], ranks[s] = s, id
	}
	if len(ranks) != cl100kSize {
		t.Fatalf("cl100k_base has %d distinct tokens, want %d", len(ranks), cl100kSize)
	}
	vocab, merges, err := vocabMergesFromRanks("cl100k_base", texts, ranks)
	if err != nil {
		t.Fatal(err)
	}
	mergeStrings := make([]string, len(merges))
	for i, m := range merges {
		mergeStrings[i] = m[0] + " " + m[1]
	}
	doc := map[string]any{
		"version":      "1.0",
		"added_tokens": []any{},
		"normalizer":   nil,
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": cl100kPattern}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		}},
		"decoder": map[string]any{"type": "ByteLevel"},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": true,
			"vocab": vocab, "merges": mergeStrings},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := FromTokenizerJSON(path)
	if err != nil {
		t.Fatal(err)
	}

	all := append(crossCheckTexts(), randomTexts(5, 2000, "'S'LL")...)
	for id := 0; id < cl100kSize; id += 7 { // a seventh of the tokens' own texts
		if s := texts[id]; utf8.ValidString(s) && !strings.ContainsRune(s, 0x7f) {
			all = append(all, s)
		}
	}
	sp, err := newRegexSplitter(cl100kPattern)
	if err != nil {
		t.Fatal(err)
	}
	encode := func(text string) []int {
		ids, _, err := codec.Encode(text)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]int, len(ids))
		for i, id := range ids {
			out[i] = int(id)
		}
		return out
	}
	var tokens, runs int
	for _, text := range all {
		text = strings.ReplaceAll(text, EndOfTextToken, "") // no special tokens here
		got, err := tok.Encode(text)
		if err != nil {
			t.Fatalf("Encode(%.40q): %v", text, err)
		}
		want := encode(text)
		tokens += len(want)
		if !slices.Equal(got, want) {
			pieces, err := sp.split(text, nil)
			if err != nil {
				t.Fatal(err)
			}
			var joined []int
			ok := true
			for _, p := range pieces {
				mine, err := tok.Encode(p)
				if err != nil {
					t.Fatal(err)
				}
				ref := encode(p)
				if !slices.Equal(mine, ref) {
					id, inVocab := ranks[p]
					if !newlineRun(p) || !inVocab || !slices.Equal(mine, []int{id}) {
						ok = false
					}
					runs++
				}
				joined = append(joined, mine...)
			}
			if ok && slices.Equal(joined, got) {
				continue
			}
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			t.Errorf("Encode(%.40q...) differs from cl100k_base at token %d: got %v, want %v", text, i,
				got[i:min(i+5, len(got))], want[i:min(i+5, len(want))])
		}
	}
	t.Logf("%d texts, %d tokens agree with tiktoken's cl100k_base; %d whitespace runs with line breaks kept whole (tiktoken-go cuts them)",
		len(all), tokens, runs)
}

// newlineRun reports whether p is whitespace only with at least two line breaks.
func newlineRun(p string) bool {
	breaks := 0
	for _, r := range p {
		if !unicode.IsSpace(r) {
			return false
		}
		if r == '\n' || r == '\r' {
			breaks++
		}
	}
	return breaks >= 2
}
