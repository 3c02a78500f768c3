package tokenizer

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// regexSplit splits with the real regex (lookahead and all), as tiktoken-go does.
func regexSplit(t testing.TB, re *regexp2.Regexp, text string) []string {
	var out []string
	m, err := re.FindStringMatch(text)
	for ; m != nil && err == nil; m, err = re.FindNextMatch(m) {
		out = append(out, m.String())
	}
	if err != nil {
		t.Fatalf("regexp2 on %q: %v", text, err)
	}
	return out
}

var splitCases = []struct {
	text string
	want []string
}{
	{"Hello world", []string{"Hello", " world"}},
	{"I'm here, it's John's 'til", []string{"I", "'m", " here", ",", " it", "'s", " John", "'s", " '", "til"}},
	{"they'll we've you're I'd", []string{"they", "'ll", " we", "'ve", " you", "'re", " I", "'d"}},
	{"DON'T", []string{"DON", "'", "T"}},
	{"a  b", []string{"a", " ", " b"}},
	{"a   \n\n  b  ", []string{"a", "   \n\n ", " b", "  "}},
	{"\n\nHello", []string{"\n", "\n", "Hello"}},
	{"x = 42.5e3!!", []string{"x", " =", " 42", ".", "5", "e", "3", "!!"}},
	{"  ", []string{"  "}},
	{" ", []string{" "}},
	{"über café 日本語 ١٢٣", []string{"über", " café", " 日本語", " ١٢٣"}},
	{"emoji 🙂🙂 ok", []string{"emoji", " 🙂🙂", " ok"}},
	{"a\u3000b\u00a0c", []string{"a", "\u3000", "b", "\u00a0", "c"}},
	{"tab\tsep\r\nend", []string{"tab", "\t", "sep", "\r", "\n", "end"}},
}

func TestGPT2SplitCases(t *testing.T) {
	re := regexp2.MustCompile(gpt2Pattern, regexp2.None)
	for _, tc := range splitCases {
		got := gpt2Split(tc.text, nil)
		if !slices.Equal(got, tc.want) {
			t.Errorf("gpt2Split(%q) = %q, want %q", tc.text, got, tc.want)
		}
		if ref := regexSplit(t, re, tc.text); !slices.Equal(got, ref) {
			t.Errorf("gpt2Split(%q) = %q, regexp2 gives %q", tc.text, got, ref)
		}
	}
}

// TestGPT2SplitRandom compares the hand-written splitter with the regex on
// random strings over an alphabet chosen to hit every branch.
func TestGPT2SplitRandom(t *testing.T) {
	re := regexp2.MustCompile(gpt2Pattern, regexp2.None)
	alphabet := []rune("aZé日 '  \t\n\r\u00a0\u3000\u2028sltrevmd1٣½.,!?-_🙂\u0301")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		var sb strings.Builder
		for range rng.IntN(24) {
			sb.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		text := sb.String()
		got, want := gpt2Split(text, nil), regexSplit(t, re, text)
		if !slices.Equal(got, want) {
			t.Fatalf("gpt2Split(%q) = %q, regexp2 gives %q", text, got, want)
		}
	}
}

func FuzzGPT2Split(f *testing.F) {
	for _, tc := range splitCases {
		f.Add(tc.text)
	}
	re := regexp2.MustCompile(gpt2Pattern, regexp2.None)
	f.Fuzz(func(t *testing.T, text string) {
		// regexp2 drops U+007F (see TestGPT2DEL), so it is no reference there.
		if !utf8.ValidString(text) || strings.ContainsRune(text, 0x7f) {
			t.Skip()
		}
		got, want := gpt2Split(text, nil), regexSplit(t, re, text)
		if !slices.Equal(got, want) {
			t.Fatalf("gpt2Split(%q) = %q, regexp2 gives %q", text, got, want)
		}
	})
}

func TestByteLevelTable(t *testing.T) {
	// Spot values of GPT-2's bytes_to_unicode.
	for b, want := range map[byte]rune{'!': '!', 'a': 'a', ' ': 'Ġ', '\n': 'Ċ', '\t': 'ĉ', 0: 'Ā', 0xad: 'Ń', 0xff: 'ÿ'} {
		if got := byteToRune[b]; got != want {
			t.Errorf("byteToRune[%#x] = %q, want %q", b, got, want)
		}
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	if got := byteLevelDecode(byteLevelEncode(string(all))); got != string(all) {
		t.Error("byteLevelDecode(byteLevelEncode(all bytes)) is not the identity")
	}
}
