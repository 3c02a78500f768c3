package tokenizer

import (
	"fmt"
	"time"

	"github.com/dlclark/regexp2"
)

// regexSplitter is Hugging Face's Split pre-tokenizer with a Regex pattern and behavior
// "Isolated" (invert false), as Llama 3 and Qwen 2/3 use it before a ByteLevel step without its
// own regex: every match is a piece, and so is every stretch of text between matches. The
// patterns use lookahead (\s+(?!\S)), which Go's regexp lacks; github.com/dlclark/regexp2 has
// it, with the same \p{L}/\p{N} classes and (?i:...) groups as the Rust tokenizers' engine. It
// runs in its default syntax, where \s is Unicode whitespace (no-break space, ideographic space)
// as in Oniguruma and Python's regex module; its RE2 mode would make \s ASCII only.
type regexSplitter struct {
	pattern string
	re      *regexp2.Regexp
}

func newRegexSplitter(pattern string) (*regexSplitter, error) {
	re, err := regexp2.Compile(pattern, regexp2.Unicode)
	if err != nil {
		return nil, fmt.Errorf("Split pattern %q: %v", pattern, err)
	}
	re.MatchTimeout = 10 * time.Second
	return &regexSplitter{pattern: pattern, re: re}, nil
}

// split appends the pieces of s to dst: matches and the gaps between them, in order.
func (r *regexSplitter) split(s string, dst []string) ([]string, error) {
	runes := []rune(s)
	m, err := r.re.FindRunesMatch(runes)
	prev := 0
	for ; m != nil && err == nil; m, err = r.re.FindNextMatch(m) {
		if m.Index > prev {
			dst = append(dst, string(runes[prev:m.Index]))
		}
		if m.Length > 0 {
			dst = append(dst, string(runes[m.Index:m.Index+m.Length]))
		}
		prev = m.Index + m.Length
	}
	if err != nil {
		return dst, fmt.Errorf("Split pattern %q: %v", r.pattern, err)
	}
	if prev < len(runes) {
		dst = append(dst, string(runes[prev:]))
	}
	return dst, nil
}
