package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

// tinyTokenizerJSON is the tiny vocabulary of bpe_test.go as a Hugging Face
// tokenizer.json; merges is spliced in as given.
func tinyTokenizerJSON(merges string) string {
	return `{
  "version": "1.0",
  "added_tokens": [{"id": 8, "content": "<|endoftext|>", "single_word": false, "lstrip": false,
                    "rstrip": false, "normalized": true, "special": true}],
  "normalizer": null,
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
  "post_processor": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
  "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
  "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": "",
            "end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false,
            "vocab": ` + tinyVocabJSON + `,
            "merges": ` + merges + `}
}`
}

func TestTokenizerJSONBPE(t *testing.T) {
	for name, merges := range map[string]string{
		"string merges": `["a b", "ab c", "Ġ ab", "Ġ a"]`,
		"array merges":  `[["a", "b"], ["ab", "c"], ["Ġ", "ab"], ["Ġ", "a"]]`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{TokenizerJSONFile: tinyTokenizerJSON(merges)})
			tok := mustFromDir(t, dir)
			checkEncodes(t, tok)
			if !strings.HasPrefix(tok.Name(), "bpe:") || tok.VocabSize() != 9 {
				t.Errorf("Name() = %q, VocabSize() = %d", tok.Name(), tok.VocabSize())
			}
		})
	}
}

func TestTokenizerJSONPreferredOverVocabMerges(t *testing.T) {
	// tokenizer.json's merges make " abc" Ġa b c; merges.txt would give Ġab c.
	dir := writeFiles(t, map[string]string{
		TokenizerJSONFile: tinyTokenizerJSON(`["Ġ a", "a b", "ab c", "Ġ ab"]`),
		VocabJSONFile:     tinyVocabJSON,
		MergesTxtFile:     tinyMergesTxt,
	})
	got, err := mustFromDir(t, dir).Encode(" abc")
	if err != nil || !slices.Equal(got, []int{6, 1, 2}) {
		t.Fatalf("Encode(\" abc\") = %v, %v; want [6 1 2] from tokenizer.json", got, err)
	}
}

func TestTokenizerJSONAddPrefixSpace(t *testing.T) {
	js := strings.Replace(tinyTokenizerJSON(`["a b", "ab c", "Ġ ab", "Ġ a"]`),
		`"add_prefix_space": false`, `"add_prefix_space": true`, 1)
	tok := mustFromDir(t, writeFiles(t, map[string]string{TokenizerJSONFile: js}))
	for text, want := range map[string][]int{"ab": {7}, " ab": {7}, "abc": {3, 5}} {
		if got, err := tok.Encode(text); err != nil || !slices.Equal(got, want) {
			t.Errorf("Encode(%q) = %v, %v; want %v", text, got, err, want)
		}
	}
}

func TestTokenizerJSONErrors(t *testing.T) {
	good := tinyTokenizerJSON(`["a b"]`)
	tests := []struct {
		name, json string
		want       []string
	}{
		{"unsupported model", `{"model": {"type": "Unigram", "vocab": [["a", 0.0]]}}`,
			[]string{`model.type "Unigram" is not supported`, "hftokenizers"}},
		{"no model", `{"added_tokens": []}`, []string{`no "model"`}},
		{"unsupported pre-tokenizer", strings.Replace(good, `"type": "ByteLevel", "add_prefix_space": false`, `"type": "Whitespace", "add_prefix_space": false`, 1),
			[]string{`pre_tokenizer "Whitespace" is not supported for BPE`}},
		{"unsupported normalizer", strings.Replace(good, `"normalizer": null`, `"normalizer": {"type": "NFD"}`, 1),
			[]string{`normalizer "NFD" is not supported for BPE, want NFC or null`}},
		{"merge of unknown token", tinyTokenizerJSON(`["a b", "ab q"]`),
			[]string{`model.merges[1]: merge "ab" "q" references unknown token "q"`}},
		{"bad merge", tinyTokenizerJSON(`["a b", ["ab"]]`),
			[]string{`model.merges[1]: want "a b" or ["a", "b"]`}},
		{"bad merge string", tinyTokenizerJSON(`["a b", "abc"]`),
			[]string{`model.merges[1]: want two tokens separated by one space, got "abc"`}},
		{"unknown unk", `{"model": {"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "[UNK]"}}`,
			[]string{`model.unk_token "[UNK]" is in neither model.vocab nor added_tokens`}},
		{"word-level unsupported pre-tokenizer", `{"pre_tokenizer": {"type": "Metaspace"}, "model": {"type": "WordLevel", "vocab": {"a": 0}}}`,
			[]string{`pre_tokenizer "Metaspace" is not supported for WordLevel`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{TokenizerJSONFile: tc.json})
			_, err := FromDir(dir)
			if err == nil {
				t.Fatal("FromDir succeeded, want an error")
			}
			if !strings.Contains(err.Error(), TokenizerJSONFile) {
				t.Errorf("error %q does not name %s", err, TokenizerJSONFile)
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
}

// ioiWordLevelJSON is a word-level tokenizer of the kind our toy IOI models use.
const ioiWordLevelJSON = `{
  "version": "1.0",
  "added_tokens": [{"id": 0, "content": "[UNK]", "special": true}, {"id": 1, "content": "<bos>", "special": true}],
  "normalizer": %NORM%,
  "pre_tokenizer": %PRE%,
  "model": {"type": "WordLevel", "vocab": {"[UNK]": 0, "<bos>": 1, "when": 2, "mary": 3, "and": 4,
            "john": 5, "went": 6, "to": 7, "the": 8, "store": 9, ",": 10, "gave": 11, "a": 12, "drink": 13},
            "unk_token": %UNK%}
}`

func wordLevelJSON(norm, pre, unk string) string {
	return strings.NewReplacer("%NORM%", norm, "%PRE%", pre, "%UNK%", unk).Replace(ioiWordLevelJSON)
}

func TestWordLevel(t *testing.T) {
	const prompt = "When Mary and John went to the store , John gave a drink to"
	ioiIDs := []int{2, 3, 4, 5, 6, 7, 8, 9, 10, 5, 11, 12, 13, 7}
	tests := []struct {
		name, norm, pre, unk string
		text                 string
		want                 []int
		decoded              string
	}{
		{"whitespace split, lowercase", `{"type": "Lowercase"}`, `{"type": "WhitespaceSplit"}`, `"[UNK]"`,
			prompt, ioiIDs, strings.ToLower(prompt)},
		{"null pre-tokenizer splits on white space", `{"type": "Sequence", "normalizers": [{"type": "Lowercase"}]}`, `null`, `"[UNK]"`,
			"<bos>When  Mary\tand\nJohn", []int{1, 2, 3, 4, 5}, "<bos> when mary and john"},
		{"unknown word", `null`, `{"type": "WhitespaceSplit"}`, `"[UNK]"`,
			"john gave Bob a drink", []int{5, 11, 0, 12, 13}, "john gave [UNK] a drink"},
		{"Whitespace splits punctuation", `null`, `{"type": "Whitespace"}`, `"[UNK]"`,
			"the store, john", []int{8, 9, 10, 5}, "the store , john"},
		{"BertPreTokenizer", `null`, `{"type": "Sequence", "pretokenizers": [{"type": "BertPreTokenizer"}]}`, `"[UNK]"`,
			"store,,john", []int{9, 10, 10, 5}, "store , , john"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{TokenizerJSONFile: wordLevelJSON(tc.norm, tc.pre, tc.unk)})
			tok := mustFromDir(t, dir)
			got, err := tok.Encode(tc.text)
			if err != nil {
				t.Fatalf("Encode(%q): %v", tc.text, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Encode(%q) = %v, want %v", tc.text, got, tc.want)
			}
			dec, err := tok.Decode(got)
			if err != nil || dec != tc.decoded {
				t.Fatalf("Decode(%v) = %q, %v; want %q", got, dec, err, tc.decoded)
			}
			if tok.VocabSize() != 14 || tok.TokenString(3) != "mary" || !strings.HasPrefix(tok.Name(), "wordlevel:") {
				t.Errorf("VocabSize() = %d, TokenString(3) = %q, Name() = %q", tok.VocabSize(), tok.TokenString(3), tok.Name())
			}
		})
	}

	t.Run("no unk token", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{TokenizerJSONFile: wordLevelJSON(`null`, `null`, `null`)})
		tok := mustFromDir(t, dir)
		if _, err := tok.Encode("john gave Bob"); err == nil || !strings.Contains(err.Error(), `word "Bob" is not in the vocabulary`) {
			t.Fatalf("Encode(unknown word) error = %v", err)
		}
		if id, err := SingleToken(tok, "mary"); err != nil || id != 3 {
			t.Fatalf("SingleToken(mary) = %d, %v", id, err)
		}
	})
}

// TestTokenizerJSONNFC: GPT-NeoX's (Pythia's) tokenizer.json NFC-normalises the text, so "e" +
// combining acute accent encodes as the precomposed "é" (bytes C3 A9, merged); without the
// normalizer it stays three byte-level tokens (e, CC, 81).
func TestTokenizerJSONNFC(t *testing.T) {
	file := func(normalizer string) string {
		return `{"added_tokens": [], "normalizer": ` + normalizer + `,
  "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
  "model": {"type": "BPE", "vocab": {"e": 0, "Ì": 1, "ģ": 2, "Ã": 3, "©": 4, "Ã©": 5}, "merges": ["Ã ©"]}}`
	}
	for _, tc := range []struct {
		normalizer string
		want       []int
	}{{`{"type": "NFC"}`, []int{5}}, {`null`, []int{0, 1, 2}}} {
		dir := writeFiles(t, map[string]string{TokenizerJSONFile: file(tc.normalizer)})
		got, err := mustFromDir(t, dir).Encode("e\u0301")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("normalizer %s: Encode(e + U+0301) = %v, want %v", tc.normalizer, got, tc.want)
		}
	}
	dir := writeFiles(t, map[string]string{TokenizerJSONFile: file(`{"type": "NFKC"}`)})
	if _, err := FromDir(dir); err == nil || !strings.Contains(err.Error(), `normalizer "NFKC" is not supported for BPE, want NFC or null`) {
		t.Errorf("NFKC: got %v", err)
	}
}
