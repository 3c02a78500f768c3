package tokenizer

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustGPT2(t testing.TB) Tokenizer {
	t.Helper()
	tok, err := GPT2()
	if err != nil {
		t.Fatalf("GPT2(): %v", err)
	}
	return tok
}

func TestGPT2KnownIDs(t *testing.T) {
	tok := mustGPT2(t)
	tests := []struct {
		name string
		text string
		want []int
	}{
		{"hello world", "Hello world", []int{15496, 995}},
		{"single name", " Mary", []int{5335}},
		{"IOI prompt", "When Mary and John went to the store, John gave a drink to",
			[]int{2215, 5335, 290, 1757, 1816, 284, 262, 3650, 11, 1757, 2921, 257, 4144, 284}},
		{"endoftext", "<|endoftext|>", []int{GPT2EndOfText}},
		{"endoftext inside text", "Hello<|endoftext|>world", []int{15496, 50256, 6894}},
		{"two endoftext", "<|endoftext|><|endoftext|> Mary", []int{50256, 50256, 5335}},
		{"empty", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tok.Encode(tc.text)
			if err != nil {
				t.Fatalf("Encode(%q): %v", tc.text, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("Encode(%q) = %v, want %v", tc.text, got, tc.want)
			}
			back, err := tok.Decode(got)
			if err != nil {
				t.Fatalf("Decode(%v): %v", got, err)
			}
			if back != tc.text {
				t.Fatalf("Decode(Encode(%q)) = %q", tc.text, back)
			}
		})
	}
}

func TestGPT2Metadata(t *testing.T) {
	tok := mustGPT2(t)
	if got := tok.VocabSize(); got != 50257 {
		t.Errorf("VocabSize() = %d, want 50257", got)
	}
	if got := tok.Name(); got != "gpt2" {
		t.Errorf("Name() = %q, want gpt2", got)
	}
	for id, want := range map[int]string{
		5335:  " Mary",
		15496: "Hello",
		50256: "<|endoftext|>",
		198:   "\n",
		-1:    "",
		50257: "",
	} {
		if got := tok.TokenString(id); got != want {
			t.Errorf("TokenString(%d) = %q, want %q", id, got, want)
		}
	}
	// Token 447 is the first two bytes of a three-byte UTF-8 sequence.
	ids, err := tok.Encode("’") // U+2019: e2 80 99
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []int{447, 247}) {
		t.Fatalf("Encode(’) = %v, want [447 247]", ids)
	}
	if got := tok.TokenString(447); got != `\xe2\x80` {
		t.Errorf("TokenString(447) = %q, want \\xe2\\x80 escapes", got)
	}
	if _, err := tok.Decode([]int{15496, 50257}); err == nil || !strings.Contains(err.Error(), "50257") {
		t.Errorf("Decode(out of range) error = %v, want one naming id 50257", err)
	}
}

func TestGPT2InvalidUTF8(t *testing.T) {
	tok := mustGPT2(t)
	got, err := tok.Encode("a\xffb")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := tok.Encode("a\uFFFDb")
	if !slices.Equal(got, want) {
		t.Fatalf("Encode(invalid UTF-8) = %v, want %v (as U+FFFD)", got, want)
	}
}

func TestGPT2Cached(t *testing.T) {
	a := mustGPT2(t)
	start := time.Now()
	b := mustGPT2(t)
	if d := time.Since(start); d > 10*time.Millisecond {
		t.Errorf("second GPT2() call took %v, want it cached", d)
	}
	if a != b {
		t.Error("GPT2() returned different tokenizers")
	}
}

func TestSingleToken(t *testing.T) {
	tok := mustGPT2(t)
	id, err := SingleToken(tok, " Mary")
	if err != nil || id != 5335 {
		t.Fatalf("SingleToken(\" Mary\") = %d, %v; want 5335", id, err)
	}
	if _, err := SingleToken(tok, "Hello world"); err == nil || !strings.Contains(err.Error(), "2 tokens") {
		t.Fatalf("SingleToken(two tokens) error = %v", err)
	}
}

// BenchmarkNewGPT2 measures building the GPT-2 tokenizer from scratch (what
// the first GPT2() call costs; later calls reuse it).
func BenchmarkNewGPT2(b *testing.B) {
	for b.Loop() {
		if _, err := newGPT2(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGPT2Encode(b *testing.B) {
	tok := mustGPT2(b)
	text := "When Mary and John went to the store, John gave a drink to"
	for b.Loop() {
		if _, err := tok.Encode(text); err != nil {
			b.Fatal(err)
		}
	}
}

func TestConcurrentEncode(t *testing.T) {
	tok := mustGPT2(t)
	dir := writeFiles(t, map[string]string{VocabJSONFile: tinyVocabJSON, MergesTxtFile: tinyMergesTxt})
	tiny := mustFromDir(t, dir)
	want := []int{2215, 5335, 290, 1757, 1816, 284, 262, 3650, 11, 1757, 2921, 257, 4144, 284}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				got, err := tok.Encode("When Mary and John went to the store, John gave a drink to")
				if err != nil || !slices.Equal(got, want) {
					t.Errorf("concurrent Encode = %v, %v", got, err)
					return
				}
				if got, err := tiny.Encode("abcab"); err != nil || !slices.Equal(got, []int{5, 4}) {
					t.Errorf("concurrent tiny Encode = %v, %v", got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
