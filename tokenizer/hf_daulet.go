//go:build hftokenizers

package tokenizer

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	hf "github.com/daulet/tokenizers"
)

// FromHFTokenizersFile loads any Hugging Face tokenizer.json with the Rust
// tokenizers library, through github.com/daulet/tokenizers. It is only
// built with -tags hftokenizers, and linking needs that library's prebuilt
// libtokenizers.a on the linker path (e.g. CGO_LDFLAGS=-L/path/to/lib).
//
// Encode adds no special tokens (add_special_tokens=False) and Decode keeps
// them. The text crosses to C as a NUL-terminated string, so Encode ignores
// everything from the first NUL byte on. The returned tokenizer also
// implements io.Closer to free the Rust object early; otherwise it is freed
// when garbage collected.
func FromHFTokenizersFile(path string) (Tokenizer, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	tk, err := hf.FromFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: load %s: %w", path, err)
	}
	h := &hfHandle{tk: tk}
	t := &hfTokenizer{h: h, name: "hf:" + path, vocabSize: int(tk.VocabSize())}
	runtime.AddCleanup(t, func(h *hfHandle) { h.close() }, h)
	return t, nil
}

// hfHandle owns the Rust tokenizer; it is separate from hfTokenizer so the
// cleanup attached to hfTokenizer can free it.
type hfHandle struct {
	once sync.Once
	tk   *hf.Tokenizer
}

func (h *hfHandle) close() { h.once.Do(func() { h.tk.Close() }) }

type hfTokenizer struct {
	h         *hfHandle
	name      string
	vocabSize int
}

func (t *hfTokenizer) Encode(text string) ([]int, error) {
	ids, _ := t.h.tk.Encode(strings.ToValidUTF8(text, "\uFFFD"), false)
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = int(id)
	}
	runtime.KeepAlive(t)
	return out, nil
}

func (t *hfTokenizer) Decode(ids []int) (string, error) {
	u := make([]uint32, len(ids))
	for i, id := range ids {
		if id < 0 || id >= t.vocabSize {
			return "", fmt.Errorf("tokenizer: decode: token id %d (at position %d) is not in the vocabulary of size %d", id, i, t.vocabSize)
		}
		u[i] = uint32(id)
	}
	s := t.h.tk.Decode(u, false)
	runtime.KeepAlive(t)
	return s, nil
}

func (t *hfTokenizer) TokenString(id int) string {
	if id < 0 || id >= t.vocabSize {
		return ""
	}
	s := t.h.tk.Decode([]uint32{uint32(id)}, false)
	runtime.KeepAlive(t)
	return printable(s)
}

func (t *hfTokenizer) VocabSize() int { return t.vocabSize }
func (t *hfTokenizer) Name() string   { return t.name }

// Close frees the Rust tokenizer. The tokenizer must not be used afterwards.
func (t *hfTokenizer) Close() error {
	t.h.close()
	return nil
}
