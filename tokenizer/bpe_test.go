package tokenizer

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Tiny byte-level BPE: 'Ġ' is the space byte in GPT-2's byte-to-rune table.
const (
	tinyVocabJSON = `{"a": 0, "b": 1, "c": 2, "Ġ": 3, "ab": 4, "abc": 5, "Ġa": 6, "Ġab": 7, "<|endoftext|>": 8}`
	// (a b) has priority over (Ġ a), so " ab" becomes Ġ + ab, then Ġab.
	tinyMergesTxt = "#version: 0.2\na b\nab c\nĠ ab\nĠ a\n"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustFromDir(t *testing.T, dir string) Tokenizer {
	t.Helper()
	tok, err := FromDir(dir)
	if err != nil {
		t.Fatalf("FromDir: %v", err)
	}
	return tok
}

// tinyEncodeTests hold for the tiny vocabulary whatever file format holds it.
var tinyEncodeTests = []struct {
	text string
	want []int
}{
	{"abc", []int{5}},
	{"abcab", []int{5, 4}}, // a b c a b -> ab c ab -> abc ab
	{"cab", []int{2, 4}},
	{"ba", []int{1, 0}},
	{" ab", []int{7}},           // Ġ a b -> Ġ ab -> Ġab
	{" a", []int{6}},            // Ġ a -> Ġa
	{"ab ab", []int{4, 7}},      // pre-tokenized into "ab", " ab"
	{"a  b", []int{0, 3, 3, 1}}, // "a", " ", " b"; no (Ġ b) merge
	{"ab<|endoftext|>c", []int{4, 8, 2}},
	{"", nil},
}

func checkEncodes(t *testing.T, tok Tokenizer) {
	t.Helper()
	for _, tc := range tinyEncodeTests {
		got, err := tok.Encode(tc.text)
		if err != nil {
			t.Errorf("Encode(%q): %v", tc.text, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Encode(%q) = %v, want %v", tc.text, got, tc.want)
		}
		back, err := tok.Decode(got)
		if err != nil || back != tc.text {
			t.Errorf("Decode(%v) = %q, %v; want %q", got, back, err, tc.text)
		}
	}
}

func TestFromDirVocabMerges(t *testing.T) {
	dir := writeFiles(t, map[string]string{VocabJSONFile: tinyVocabJSON, MergesTxtFile: tinyMergesTxt})
	tok := mustFromDir(t, dir)
	checkEncodes(t, tok)
	if got := tok.VocabSize(); got != 9 {
		t.Errorf("VocabSize() = %d, want 9", got)
	}
	if got := tok.TokenString(7); got != " ab" {
		t.Errorf("TokenString(7) = %q, want \" ab\"", got)
	}
	if got := tok.Name(); got != "bpe:"+dir {
		t.Errorf("Name() = %q", got)
	}
	_, err := tok.Encode("abd")
	if err == nil || !strings.Contains(err.Error(), "byte 0x64") {
		t.Errorf("Encode with a byte missing from the vocabulary: error = %v, want one naming byte 0x64", err)
	}
	if _, err := tok.Decode([]int{0, 9}); err == nil {
		t.Error("Decode(id 9) succeeded, want out-of-range error")
	}
}

func TestFromDirAddedTokensJSON(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		VocabJSONFile:       tinyVocabJSON,
		MergesTxtFile:       tinyMergesTxt,
		"added_tokens.json": `{"<pad>": 9}`,
	})
	tok := mustFromDir(t, dir)
	got, err := tok.Encode("c<pad> a")
	if err != nil || !slices.Equal(got, []int{2, 9, 6}) {
		t.Fatalf("Encode = %v, %v; want [2 9 6]", got, err)
	}
	if tok.VocabSize() != 10 || tok.TokenString(9) != "<pad>" {
		t.Errorf("VocabSize() = %d, TokenString(9) = %q", tok.VocabSize(), tok.TokenString(9))
	}
}

func TestFromDirErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string // substrings of the error
	}{
		{"no files", map[string]string{"config.json": "{}"},
			[]string{"has no tokenizer (vocab.json+merges.txt or tokenizer.json)"}},
		{"no merges", map[string]string{VocabJSONFile: tinyVocabJSON},
			[]string{"has vocab.json but no merges.txt"}},
		{"no vocab", map[string]string{MergesTxtFile: tinyMergesTxt},
			[]string{"has merges.txt but no vocab.json"}},
		{"bad vocab JSON", map[string]string{VocabJSONFile: `{"a": 0,`, MergesTxtFile: tinyMergesTxt},
			[]string{VocabJSONFile, "invalid JSON"}},
		{"duplicate id", map[string]string{VocabJSONFile: `{"a": 0, "b": 0}`, MergesTxtFile: ""},
			[]string{VocabJSONFile, `"a" and "b" have the same id 0`}},
		{"merge of unknown token", map[string]string{VocabJSONFile: tinyVocabJSON, MergesTxtFile: "#version: 0.2\na b\nab x\n"},
			[]string{MergesTxtFile + `:3: merge "ab" "x" references unknown token "x"`}},
		{"merge result not in vocab", map[string]string{VocabJSONFile: tinyVocabJSON, MergesTxtFile: "b a\n"},
			[]string{MergesTxtFile + `:1: merge "b" "a" produces "ba", which is not in the vocabulary`}},
		{"malformed merge line", map[string]string{VocabJSONFile: tinyVocabJSON, MergesTxtFile: "#version: 0.2\na b\nabc\n"},
			[]string{MergesTxtFile + ":3", "want two tokens"}},
		{"bad tokenizer.json", map[string]string{TokenizerJSONFile: "not json"},
			[]string{TokenizerJSONFile, "invalid JSON"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			tok, err := FromDir(dir)
			if err == nil {
				t.Fatalf("FromDir succeeded (%s), want an error", tok.Name())
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
	if _, err := FromDir(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("FromDir(missing dir) error = %v, want os.ErrNotExist", err)
	}
}

func TestForModel(t *testing.T) {
	empty := t.TempDir()
	_, err := ForModel(empty, "")
	want := "model dir " + empty + " has no tokenizer (vocab.json+merges.txt or tokenizer.json)"
	if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrNoTokenizer) {
		t.Fatalf("ForModel(empty dir) error = %v, want %q wrapping ErrNoTokenizer", err, want)
	}
	for _, name := range []string{"gpt2", "GPT2", "gpt2-medium"} {
		tok, err := ForModel(empty, name)
		if err != nil || tok.Name() != "gpt2" {
			t.Errorf("ForModel(%q) = %v, %v; want GPT2()", name, tok, err)
		}
	}
	dir := writeFiles(t, map[string]string{VocabJSONFile: tinyVocabJSON, MergesTxtFile: tinyMergesTxt})
	for _, name := range []string{"", "dir"} {
		tok, err := ForModel(dir, name)
		if err != nil {
			t.Fatalf("ForModel(dir, %q): %v", name, err)
		}
		checkEncodes(t, tok)
	}
	if _, err := ForModel(dir, "llama"); err == nil || !strings.Contains(err.Error(), `unknown tokenizer name "llama"`) {
		t.Errorf("ForModel(unknown name) error = %v", err)
	}
}

func TestBPEMergePriority(t *testing.T) {
	// With (Ġ a) before (a b), " ab" becomes Ġa + b: merge ranks, not token
	// ids, decide.
	dir := writeFiles(t, map[string]string{
		VocabJSONFile: tinyVocabJSON,
		MergesTxtFile: "Ġ a\na b\nab c\nĠ ab\n",
	})
	tok := mustFromDir(t, dir)
	got, err := tok.Encode(" abc")
	if err != nil || !slices.Equal(got, []int{6, 1, 2}) {
		t.Fatalf("Encode(\" abc\") = %v, %v; want [6 1 2]", got, err)
	}
}

func TestBPELongPiece(t *testing.T) {
	// A long run exercises the merge queue: "ab" repeated, one word.
	dir := writeFiles(t, map[string]string{VocabJSONFile: tinyVocabJSON, MergesTxtFile: tinyMergesTxt})
	tok := mustFromDir(t, dir)
	got, err := tok.Encode(strings.Repeat("ab", 5000) + "c")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5000 || got[0] != 4 || got[4999] != 5 {
		t.Fatalf("Encode(long) = %d ids, first %d last %d; want 5000 ids, 4 ... 5", len(got), got[0], got[len(got)-1])
	}
}
