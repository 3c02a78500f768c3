package tokenizer

import (
	"fmt"
	"strings"
	"unicode"
)

// wordLevelTokenizer maps each word to one id (Hugging Face's WordLevel
// model), for toy models with a word vocabulary.
type wordLevelTokenizer struct {
	name  string
	vocab map[string]int
	unk   int // id for unknown words; -1 makes them an error
	lower bool
	split func(text string, dst []string) []string
	added addedTokens
	texts idTable
}

func (t *wordLevelTokenizer) Encode(text string) ([]int, error) {
	text = strings.ToValidUTF8(text, "\uFFFD")
	var ids []int
	var words []string
	err := t.added.split(text, func(seg string, special int) error {
		if special >= 0 {
			ids = append(ids, special)
			return nil
		}
		if t.lower {
			seg = strings.ToLower(seg)
		}
		words = t.split(seg, words[:0])
		for _, w := range words {
			id, ok := t.vocab[w]
			if !ok {
				if t.unk < 0 {
					return fmt.Errorf("tokenizer: %s: encode: word %q is not in the vocabulary and the model has no unk_token", t.name, w)
				}
				id = t.unk
			}
			ids = append(ids, id)
		}
		return nil
	})
	return ids, err
}

func (t *wordLevelTokenizer) Decode(ids []int) (string, error) { return t.texts.decode(ids, " ") }
func (t *wordLevelTokenizer) VocabSize() int                   { return len(t.texts) }
func (t *wordLevelTokenizer) Name() string                     { return t.name }
func (t *wordLevelTokenizer) TokenString(id int) string        { return t.texts.tokenString(id) }

// splitWhitespace splits on runs of white space (HF WhitespaceSplit).
func splitWhitespace(text string, dst []string) []string {
	return append(dst, strings.Fields(text)...)
}

// splitWordsPunct splits into runs of word characters and runs of other
// non-space characters: the regex \w+|[^\w\s]+ (HF Whitespace).
func splitWordsPunct(text string, dst []string) []string {
	return splitRuns(text, dst, func(r rune) int {
		switch {
		case unicode.IsSpace(r):
			return 0
		case isWordRune(r):
			return 1
		default:
			return 2
		}
	}, false)
}

// splitBert splits on white space and makes every punctuation character a
// word of its own (HF BertPreTokenizer).
func splitBert(text string, dst []string) []string {
	return splitRuns(text, dst, func(r rune) int {
		switch {
		case unicode.IsSpace(r):
			return 0
		case isBertPunct(r):
			return 2
		default:
			return 1
		}
	}, true)
}

// splitRuns appends the maximal runs of runes of the same non-zero class
// (class 0 separates words and is dropped); if punctSingle, runes of
// class 2 each form a word of their own.
func splitRuns(text string, dst []string, class func(rune) int, punctSingle bool) []string {
	start, cur := 0, 0
	for i, r := range text {
		c := class(r)
		if c != cur || punctSingle && c == 2 {
			if cur != 0 {
				dst = append(dst, text[start:i])
			}
			start, cur = i, c
		}
	}
	if cur != 0 {
		dst = append(dst, text[start:])
	}
	return dst
}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || unicode.Is(unicode.Pc, r)
}

func isBertPunct(r rune) bool {
	return r >= 33 && r <= 47 || r >= 58 && r <= 64 || r >= 91 && r <= 96 || r >= 123 && r <= 126 || unicode.IsPunct(r)
}
