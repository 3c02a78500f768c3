package tokenizer

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestRegexSplitMatchesPython: the Llama 3 and Qwen 2 pre-tokenizer patterns split like Python's
// regex module does (testdata/make_split_cases.py): contractions, digit runs, runs of spaces before
// a word, newlines, tabs, accents, CJK, emoji, \r\n.
func TestRegexSplitMatchesPython(t *testing.T) {
	raw, err := os.ReadFile("testdata/split_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]struct {
		Pattern string
		Cases   []struct {
			Text   string
			Pieces []string
		}
	}
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	for name, set := range all {
		sp, err := newRegexSplitter(set.Pattern)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, c := range set.Cases {
			got, err := sp.split(c.Text, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.Pieces) && !(len(got) == 0 && len(c.Pieces) == 0) {
				t.Errorf("%s: split(%q)\n got  %q\n want %q", name, c.Text, got, c.Pieces)
			}
			if strings.Join(got, "") != c.Text {
				t.Errorf("%s: the pieces of %q do not rebuild it", name, c.Text)
			}
		}
	}
}

// TestTokenizerJSONSplitRegex: a Llama 3 style tokenizer.json ([Split(Regex, Isolated),
// ByteLevel(use_regex false)]) encodes each piece separately: "12345" is split into 123 + 45 by
// the pattern, so the merge "3 4" that would cross the pieces never applies.
func TestTokenizerJSONSplitRegex(t *testing.T) {
	raw, err := os.ReadFile("testdata/split_cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]struct{ Pattern string }
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	pat, _ := json.Marshal(all["llama3"].Pattern)
	file := `{"added_tokens": [], "normalizer": null,
  "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": ` + string(pat) + `}, "behavior": "Isolated", "invert": false},
    {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]},
  "model": {"type": "BPE", "ignore_merges": true,
    "vocab": {"1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "12": 5, "34": 6, "123": 7, "45": 8},
    "merges": ["1 2", "3 4", "12 3", "4 5"]}}`
	dir := writeFiles(t, map[string]string{TokenizerJSONFile: file})
	tok := mustFromDir(t, dir)
	got, err := tok.Encode("12345")
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{7, 8}; !slices.Equal(got, want) { // 123 | 45, not 12 | 34 | 5
		t.Errorf("Encode(12345) = %v, want %v", got, want)
	}
	bad := strings.Replace(file, `"use_regex": false`, `"use_regex": true`, 1)
	if _, err := FromDir(writeFiles(t, map[string]string{TokenizerJSONFile: bad})); err == nil || !strings.Contains(err.Error(), "use_regex false") {
		t.Errorf("ByteLevel with its own regex after a Split: got %v", err)
	}
}
