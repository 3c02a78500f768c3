package tokenizer

import (
	"fmt"
	"math"
	"strings"
	"sync"

	tiktoken "github.com/tiktoken-go/tokenizer"
)

// GPT-2 constants.
const (
	// GPT2VocabSize is the size of GPT-2's vocabulary (including <|endoftext|>).
	GPT2VocabSize = 50257
	// GPT2EndOfText is the id of GPT-2's only special token, "<|endoftext|>",
	// used as BOS, EOS and padding by TransformerLens.
	GPT2EndOfText = 50256
	// EndOfTextToken is the text of GPT-2's special token.
	EndOfTextToken = "<|endoftext|>"
)

var (
	gpt2Once sync.Once
	gpt2Tok  *gpt2Tokenizer
	gpt2Err  error
)

// GPT2 returns GPT-2's tokenizer: byte-level BPE with the r50k_base
// vocabulary (50257 tokens), which github.com/tiktoken-go/tokenizer compiles
// into the binary, so GPT2 needs no files and no network.
//
// Encoding follows tiktoken (and Hugging Face's GPT-2 tokenizers, which agree
// with it): GPT-2's pre-tokenization regex, then rank-based byte-pair
// merges. The splitting is done in pure Go rather than by tiktoken-go's
// regexp2 engine, which silently drops U+007F (DEL).
//
// The tokenizer is built once, on first use, and shared: later calls are
// cheap and return the same value.
func GPT2() (Tokenizer, error) {
	gpt2Once.Do(func() { gpt2Tok, gpt2Err = newGPT2() })
	if gpt2Err != nil {
		return nil, gpt2Err
	}
	return gpt2Tok, nil
}

type gpt2Tokenizer struct {
	texts idTable        // id -> token bytes
	ranks map[string]int // token bytes -> id (= BPE merge rank), without <|endoftext|>
	added addedTokens
}

func newGPT2() (*gpt2Tokenizer, error) {
	codec, err := tiktoken.Get(tiktoken.R50kBase)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: gpt2: load r50k_base: %w", err)
	}
	codec.SetErrorMode(tiktoken.ErrorModeNone) // Decode returns raw token bytes
	texts := make(idTable, GPT2VocabSize)
	ranks := make(map[string]int, GPT2EndOfText)
	for id := range GPT2EndOfText {
		s, err := codec.Decode([]uint{uint(id)})
		if err != nil {
			return nil, fmt.Errorf("tokenizer: gpt2: r50k_base has no token %d: %w", id, err)
		}
		texts[id] = s
		ranks[s] = id
	}
	if len(ranks) != GPT2EndOfText {
		return nil, fmt.Errorf("tokenizer: gpt2: r50k_base has %d distinct tokens, want %d", len(ranks), GPT2EndOfText)
	}
	for b := range 256 {
		if _, ok := ranks[string([]byte{byte(b)})]; !ok {
			return nil, fmt.Errorf("tokenizer: gpt2: r50k_base has no token for byte 0x%02x", b)
		}
	}
	texts[GPT2EndOfText] = EndOfTextToken
	return &gpt2Tokenizer{
		texts: texts,
		ranks: ranks,
		added: newAddedTokens(map[string]int{EndOfTextToken: GPT2EndOfText}),
	}, nil
}

func (t *gpt2Tokenizer) Encode(text string) ([]int, error) {
	text = strings.ToValidUTF8(text, "\uFFFD")
	var ids []int
	var pieces []string
	var bounds []int
	// The callback never fails: every byte is a token.
	_ = t.added.split(text, func(seg string, special int) error {
		if special >= 0 {
			ids = append(ids, special)
			return nil
		}
		pieces = gpt2Split(seg, pieces[:0])
		for _, p := range pieces {
			if id, ok := t.ranks[p]; ok {
				ids = append(ids, id)
				continue
			}
			bounds = rankMerge(p, t.ranks, math.MaxInt, bounds[:0])
			for i := 0; i+1 < len(bounds); i++ {
				ids = append(ids, t.ranks[p[bounds[i]:bounds[i+1]]])
			}
		}
		return nil
	})
	return ids, nil
}

func (t *gpt2Tokenizer) Decode(ids []int) (string, error) { return t.texts.decode(ids, "") }
func (t *gpt2Tokenizer) VocabSize() int                   { return GPT2VocabSize }
func (t *gpt2Tokenizer) Name() string                     { return "gpt2" }
func (t *gpt2Tokenizer) TokenString(id int) string        { return t.texts.tokenString(id) }
