//go:build hftokenizers

package tokenizer

import (
	"io"
	"slices"
	"testing"
)

// TestHFTokenizersMatchesGPT2 needs libtokenizers.a at link time:
//
//	CGO_LDFLAGS=-L/path/to/lib go test -tags hftokenizers ./tokenizer/
func TestHFTokenizersMatchesGPT2(t *testing.T) {
	ref := mustGPT2(t)
	tok, err := FromHFTokenizersFile(writeGPT2TokenizerJSON(t))
	if err != nil {
		t.Fatal(err)
	}
	defer tok.(io.Closer).Close()
	if tok.VocabSize() != GPT2VocabSize {
		t.Errorf("VocabSize() = %d, want %d", tok.VocabSize(), GPT2VocabSize)
	}
	for _, text := range crossCheckTexts() {
		want, _ := ref.Encode(text)
		if got, err := tok.Encode(text); err != nil || !slices.Equal(got, want) {
			t.Errorf("Encode(%.40q...) = %v, %v; GPT2() gives %v", text, got, err, want)
		}
	}
	if got := tok.TokenString(5335); got != " Mary" {
		t.Errorf("TokenString(5335) = %q, want \" Mary\"", got)
	}
}
