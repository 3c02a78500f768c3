package tokenizer

import (
	"cmp"
	"slices"
	"strings"
)

// addedTokens matches special/added tokens (such as "<|endoftext|>")
// literally in the input, before pre-tokenization, like Hugging Face
// tokenizers do: leftmost match first, the longest token on ties.
type addedTokens struct {
	tokens []addedToken // longest first
}

type addedToken struct {
	content string
	id      int
}

func newAddedTokens(m map[string]int) addedTokens {
	var a addedTokens
	for content, id := range m {
		if content != "" {
			a.tokens = append(a.tokens, addedToken{content, id})
		}
	}
	slices.SortFunc(a.tokens, func(x, y addedToken) int {
		if c := cmp.Compare(len(y.content), len(x.content)); c != 0 {
			return c
		}
		return strings.Compare(x.content, y.content)
	})
	return a
}

// split calls fn for each piece of text in order: fn(segment, -1) for text
// between added tokens and fn("", id) for each added token.
func (a addedTokens) split(text string, fn func(seg string, id int) error) error {
	for text != "" {
		at, tok := -1, addedToken{}
		for _, t := range a.tokens {
			// Only the part of text before the best match so far can hold an
			// earlier match; tokens are longest first, so ties keep the longest.
			limit := len(text)
			if at >= 0 {
				limit = min(len(text), at+len(t.content)-1)
			}
			if i := strings.Index(text[:limit], t.content); i >= 0 && (at < 0 || i < at) {
				at, tok = i, t
			}
		}
		if at < 0 {
			return fn(text, -1)
		}
		if at > 0 {
			if err := fn(text[:at], -1); err != nil {
				return err
			}
		}
		if err := fn("", tok.id); err != nil {
			return err
		}
		text = text[at+len(tok.content):]
	}
	return nil
}
