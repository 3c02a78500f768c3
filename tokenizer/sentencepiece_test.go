package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

// spTokenizerJSON is a tiny Llama 2 style tokenizer.json; pre and norm are spliced in.
func spTokenizerJSON(norm, pre string) string {
	return `{"added_tokens": [{"id": 1, "content": "<s>", "special": true}], "normalizer": ` + norm + `,
  "pre_tokenizer": ` + pre + `,
  "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": true, "fuse_unk": true,
    "vocab": {"<unk>": 0, "<s>": 1, "▁": 2, "h": 3, "e": 4, "l": 5, "o": 6, "▁h": 7, "ll": 8, "▁he": 9,
              "llo": 10, "▁hello": 11, "<0xE2>": 12, "<0x82>": 13, "<0xAC>": 14},
    "merges": ["▁ h", "l l", "▁h e", "ll o", "▁he llo"]}}`
}

// TestSentencePieceBPE: "hello €" -> "▁hello▁€" -> ▁hello ▁ and the euro sign's three UTF-8 bytes
// as <0xXX> tokens (it has no token of its own), worked out by hand from the merges (lowest rank
// first: ▁h, ll, ▁he, llo, ▁hello); "q" and "z" have neither a token nor byte tokens, so they
// become one fused <unk>. The same with the normaliser (Llama 2's legacy file) and with Metaspace.
func TestSentencePieceBPE(t *testing.T) {
	legacy := spTokenizerJSON(`{"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
    {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]}`, `null`)
	metaspace := spTokenizerJSON(`null`, `{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}`)
	for name, file := range map[string]string{"normalizer": legacy, "metaspace": metaspace} {
		t.Run(name, func(t *testing.T) {
			tok := mustFromDir(t, writeFiles(t, map[string]string{TokenizerJSONFile: file}))
			if !strings.HasPrefix(tok.Name(), "sentencepiece-bpe:") {
				t.Fatalf("read as %s", tok.Name())
			}
			for text, want := range map[string][]int{
				"hello €":    {11, 2, 12, 13, 14},
				"hello qz":   {11, 2, 0},
				"<s>hello":   {1, 3, 4, 10}, // Metaspace "first": no ▁ after a special token (h e llo)
				"hell":       {9, 8},
				"hello hell": {11, 9, 8},
			} {
				if name == "normalizer" && text == "<s>hello" {
					want = []int{1, 11} // the legacy normaliser prepends ▁ to every segment, after <s> too
				}
				got, err := tok.Encode(text)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("Encode(%q) = %v, want %v", text, got, want)
				}
			}
			s, err := tok.Decode([]int{11, 2, 12, 13, 14})
			if err != nil || s != " hello €" {
				t.Errorf("Decode = %q, %v", s, err)
			}
		})
	}
}
