package tasks

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"unicode"

	"github.com/interp-dev/interp/internal/atomicfile"
	"github.com/interp-dev/interp/tokenizer"
)

// Special tokens of the toy IOI vocabulary.
const (
	IOIEndOfText = 0 // "<|endoftext|>": BOS and padding
	IOIUnknown   = 1 // "<unk>": the WordLevel unk_token
)

// wordTokenizer is a toy word-level tokenizer: Hugging Face's WordLevel
// model with the Whitespace pre-tokenizer (words are the runs \w+ and
// [^\w\s]+, so "store," is "store" then ","), and "<|endoftext|>" as a
// special token. It encodes exactly like tokenizer.FromDir on the directory
// that writeTo writes.
type wordTokenizer struct {
	name  string
	words []string       // id -> word
	ids   map[string]int // word -> id
}

// add appends w to the vocabulary unless it is there.
func (t *wordTokenizer) add(w string) {
	if _, ok := t.ids[w]; !ok {
		t.ids[w] = len(t.words)
		t.words = append(t.words, w)
	}
}

// addTemplates adds the words of templates, with their [SLOT]s removed.
func (t *wordTokenizer) addTemplates(templates []string, slots ...string) {
	var pairs []string
	for _, s := range slots {
		pairs = append(pairs, s, " ")
	}
	noSlots := strings.NewReplacer(pairs...)
	for _, tmpl := range templates {
		for _, w := range splitWords(noSlots.Replace(tmpl), nil) {
			t.add(w)
		}
	}
}

// ioiWords adds the toy IOI vocabulary after the special tokens.
func (t *wordTokenizer) ioiWords() *wordTokenizer {
	t.add(tokenizer.EndOfTextToken)
	t.add("<unk>")
	t.addTemplates(BABATemplates, "[A]", "[B]", "[PLACE]", "[OBJECT]")
	for _, list := range [][]string{ToyIOINames, ToyIOIPlaces, ToyIOIObjects} {
		for _, w := range list {
			t.add(w)
		}
	}
	return t
}

var ioiTokenizer = sync.OnceValue(func() *wordTokenizer {
	return (&wordTokenizer{name: "wordlevel:ioi", ids: map[string]int{}}).ioiWords()
})

// toyWords adds the colored-objects words after the IOI vocabulary.
func (t *wordTokenizer) toyWords() *wordTokenizer {
	t.ioiWords()
	t.addTemplates(ColoredObjectsTemplates, "[S]", "[C]", "[O]")
	for _, list := range [][]string{ToyColors, ToyColoredObjects, ToySurfaces} {
		for _, w := range list {
			t.add(w)
		}
	}
	return t
}

// toyTokenizer is the IOI vocabulary (same ids) followed by the colored-objects words.
var toyTokenizer = sync.OnceValue(func() *wordTokenizer {
	return (&wordTokenizer{name: "wordlevel:toy", ids: map[string]int{}}).toyWords()
})

// toySurnameTokenizer is toyTokenizer (same ids) followed by ToySurnames.
var toySurnameTokenizer = sync.OnceValue(func() *wordTokenizer {
	t := (&wordTokenizer{name: "wordlevel:toy-surnames", ids: map[string]int{}}).toyWords()
	for _, w := range ToySurnames {
		t.add(w)
	}
	return t
})

// IOITokenizer returns the word-level tokenizer of the toy IOI task: id 0 is
// "<|endoftext|>" (BOS and padding), id 1 "<unk>", then the template words
// and punctuation, the names (ToyIOINames), places and objects. Every word
// is one token.
func IOITokenizer() tokenizer.Tokenizer { return ioiTokenizer() }

// ToyTokenizer returns the toy word vocabulary of the colored-objects task and of mixes of it
// with ioi: IOITokenizer's words with their ids, then the colored-objects template words,
// colors, objects and surfaces.
func ToyTokenizer() tokenizer.Tokenizer { return toyTokenizer() }

// WriteIOITokenizer writes the toy IOI tokenizer to dir/tokenizer.json, a
// Hugging Face tokenizer file (WordLevel model, Whitespace pre-tokenizer)
// that tokenizer.FromDir and the Python tokenizers library read. dir must
// exist; the file is written to a temporary name and renamed.
func WriteIOITokenizer(dir string) error { return ioiTokenizer().writeTo(dir) }

// WriteToyTokenizer writes ToyTokenizer to dir/tokenizer.json, as WriteIOITokenizer does.
func WriteToyTokenizer(dir string) error { return toyTokenizer().writeTo(dir) }

// ToySurnameTokenizer returns ToyTokenizer's words, with their ids, followed by ToySurnames: the
// vocabulary of "ioi:names=surname" and of mixtures that list it.
func ToySurnameTokenizer() tokenizer.Tokenizer { return toySurnameTokenizer() }

// WriteToySurnameTokenizer writes ToySurnameTokenizer to dir/tokenizer.json, as WriteIOITokenizer
// does.
func WriteToySurnameTokenizer(dir string) error { return toySurnameTokenizer().writeTo(dir) }

func (t *wordTokenizer) writeTo(dir string) error {
	type addedToken struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	file := map[string]any{
		"version":    "1.0",
		"truncation": nil,
		"padding":    nil,
		"added_tokens": []addedToken{
			{ID: IOIEndOfText, Content: t.words[IOIEndOfText], Special: true},
			{ID: IOIUnknown, Content: t.words[IOIUnknown], Special: true},
		},
		"normalizer":     nil,
		"pre_tokenizer":  map[string]string{"type": "Whitespace"},
		"post_processor": nil,
		"decoder":        nil,
		"model": map[string]any{
			"type":      "WordLevel",
			"vocab":     t.ids,
			"unk_token": t.words[IOIUnknown],
		},
	}
	data, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return fmt.Errorf("tasks: %s tokenizer: %w", t.name, err)
	}
	path := filepath.Join(dir, tokenizer.TokenizerJSONFile)
	if err := atomicfile.WriteBytes(path, append(data, '\n')); err != nil {
		return fmt.Errorf("tasks: %w", err)
	}
	return nil
}

func (t *wordTokenizer) Encode(text string) ([]int, error) {
	text = strings.ToValidUTF8(text, "\uFFFD")
	var ids []int
	for {
		seg, rest, found := strings.Cut(text, tokenizer.EndOfTextToken)
		for _, w := range splitWords(seg, nil) {
			id, ok := t.ids[w]
			if !ok {
				id = IOIUnknown
			}
			ids = append(ids, id)
		}
		if !found {
			return ids, nil
		}
		ids = append(ids, IOIEndOfText)
		text = rest
	}
}

func (t *wordTokenizer) Decode(ids []int) (string, error) {
	words := make([]string, len(ids))
	for i, id := range ids {
		if id < 0 || id >= len(t.words) {
			return "", fmt.Errorf("tasks: %s tokenizer: decode: token id %d (at position %d) is not in the vocabulary of size %d", t.name, id, i, len(t.words))
		}
		words[i] = t.words[id]
	}
	return strings.Join(words, " "), nil
}

func (t *wordTokenizer) VocabSize() int { return len(t.words) }
func (t *wordTokenizer) Name() string   { return t.name }

func (t *wordTokenizer) TokenString(id int) string {
	if id < 0 || id >= len(t.words) {
		return ""
	}
	return t.words[id]
}

// splitWords appends the words of text as Hugging Face's Whitespace
// pre-tokenizer splits it: the maximal runs of \w and of [^\w\s].
func splitWords(text string, dst []string) []string {
	class := func(r rune) int {
		switch {
		case unicode.IsSpace(r):
			return 0
		case r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || unicode.Is(unicode.Pc, r):
			return 1
		default:
			return 2
		}
	}
	start, cur := 0, 0
	for i, r := range text {
		if c := class(r); c != cur {
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
