package tokenizer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Tokenizer converts between text and token ids.
//
// Implementations are safe for concurrent use by multiple goroutines.
type Tokenizer interface {
	// Encode returns the token ids of text. No BOS/EOS or other special
	// tokens are added; special tokens written literally in text (such as
	// "<|endoftext|>") are recognised and encoded as their own id. Invalid
	// UTF-8 in text is replaced by U+FFFD before encoding.
	Encode(text string) ([]int, error)

	// Decode returns the text of ids. It fails if an id is out of range.
	// For byte-level BPE tokenizers the result is the exact concatenation
	// of the tokens' bytes, which may be invalid UTF-8 if ids ends inside a
	// multi-byte character; word-level tokenizers join words with a space.
	Decode(ids []int) (string, error)

	// VocabSize is one more than the largest token id (for GPT-2, 50257).
	VocabSize() int

	// Name identifies the tokenizer, for logs and reports (e.g. "gpt2").
	Name() string

	// TokenString returns a human-readable label for a single token, e.g.
	// " Mary" for GPT-2 id 5335, suitable for plot axes. Bytes that are not
	// valid UTF-8 (a fragment of a multi-byte character) are shown as \xNN
	// escapes. It returns "" for an id that has no token.
	TokenString(id int) string
}

// ErrNoTokenizer is returned (wrapped) by [ForModel] and [FromDir] when a
// directory contains no tokenizer files.
var ErrNoTokenizer = errors.New("no tokenizer (vocab.json+merges.txt or tokenizer.json)")

// ErrHFTokenizersNotBuilt is returned (wrapped) by [FromHFTokenizersFile]
// in builds without the hftokenizers build tag.
var ErrHFTokenizersNotBuilt = errors.New("the Hugging Face tokenizers library is not built in (build with -tags hftokenizers and libtokenizers.a from github.com/daulet/tokenizers)")

// File names looked up by [FromDir].
const (
	TokenizerJSONFile = "tokenizer.json"
	VocabJSONFile     = "vocab.json"
	MergesTxtFile     = "merges.txt"
)

// gpt2Names are the names ForModel accepts for GPT-2's tokenizer. All GPT-2
// sizes (and distilgpt2) share the same vocabulary.
var gpt2Names = map[string]bool{
	"gpt2": true, "gpt2-small": true, "gpt2-medium": true, "gpt2-large": true,
	"gpt2-xl": true, "distilgpt2": true, "r50k_base": true,
	"openai-community/gpt2": true, "openai-community/gpt2-medium": true,
	"openai-community/gpt2-large": true, "openai-community/gpt2-xl": true,
}

// ForModel returns the tokenizer for a model.
//
// name "gpt2" (or another GPT-2 size such as "gpt2-medium", "distilgpt2",
// "r50k_base"; case-insensitive) returns [GPT2] and ignores dir. name "dir"
// or "" loads the tokenizer files in dir with [FromDir]; if dir has none, the
// error wraps [ErrNoTokenizer] and reads
// "model dir X has no tokenizer (vocab.json+merges.txt or tokenizer.json)".
func ForModel(dir, name string) (Tokenizer, error) {
	switch n := strings.ToLower(strings.TrimSpace(name)); {
	case gpt2Names[n]:
		return GPT2()
	case n == "dir" || n == "":
		if dir == "" {
			return nil, errors.New("tokenizer: tokenizer name is empty or \"dir\" but no model dir was given")
		}
		return FromDir(dir)
	default:
		return nil, fmt.Errorf("tokenizer: unknown tokenizer name %q (want \"gpt2\", \"dir\" or \"\")", name)
	}
}

// FromDir loads the tokenizer stored in a model directory.
//
// If dir contains tokenizer.json (Hugging Face tokenizers format) it is used
// (see [FromTokenizerJSON]); otherwise dir must contain GPT-2 style
// vocab.json and merges.txt (see [FromVocabMerges]).
func FromDir(dir string) (Tokenizer, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: model dir: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("tokenizer: model dir %s is not a directory", dir)
	}
	tj := filepath.Join(dir, TokenizerJSONFile)
	if exists(tj) {
		return FromTokenizerJSON(tj)
	}
	vocab, merges := filepath.Join(dir, VocabJSONFile), filepath.Join(dir, MergesTxtFile)
	hasVocab, hasMerges := exists(vocab), exists(merges)
	switch {
	case hasVocab && hasMerges:
		return FromVocabMerges(vocab, merges)
	case hasVocab:
		return nil, fmt.Errorf("tokenizer: model dir %s has %s but no %s", dir, VocabJSONFile, MergesTxtFile)
	case hasMerges:
		return nil, fmt.Errorf("tokenizer: model dir %s has %s but no %s", dir, MergesTxtFile, VocabJSONFile)
	default:
		return nil, fmt.Errorf("tokenizer: model dir %s has %w", dir, ErrNoTokenizer)
	}
}

// SingleToken encodes s and returns its id, or an error if s is not exactly
// one token. It is meant for interpretability prompts, where e.g. the names
// in an IOI prompt must each be one token (" Mary" in GPT-2).
func SingleToken(t Tokenizer, s string) (int, error) {
	ids, err := t.Encode(s)
	if err != nil {
		return 0, err
	}
	if len(ids) != 1 {
		return 0, fmt.Errorf("tokenizer: %q is %d tokens with %s, want exactly 1 (ids %v)", s, len(ids), t.Name(), ids)
	}
	return ids[0], nil
}

func exists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}

// idTable maps token ids to their decoded text ("" for ids with no token).
type idTable []string

func (t idTable) decode(ids []int, sep string) (string, error) {
	var sb strings.Builder
	for i, id := range ids {
		if id < 0 || id >= len(t) || t[id] == "" {
			return "", fmt.Errorf("tokenizer: decode: token id %d (at position %d) is not in the vocabulary of size %d", id, i, len(t))
		}
		if i > 0 {
			sb.WriteString(sep)
		}
		sb.WriteString(t[id])
	}
	return sb.String(), nil
}

func (t idTable) tokenString(id int) string {
	if id < 0 || id >= len(t) {
		return ""
	}
	return printable(t[id])
}

// printable returns s with bytes that are not valid UTF-8 written as \xNN.
func printable(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var sb strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			sb.WriteString(`\x`)
			if s[i] < 0x10 {
				sb.WriteByte('0')
			}
			sb.WriteString(strconv.FormatUint(uint64(s[i]), 16))
		} else {
			sb.WriteString(s[i : i+n])
		}
		i += n
	}
	return sb.String()
}
