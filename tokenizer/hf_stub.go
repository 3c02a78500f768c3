//go:build !hftokenizers

package tokenizer

import "fmt"

// FromHFTokenizersFile needs the Rust tokenizers library; in builds without
// -tags hftokenizers it returns an error wrapping [ErrHFTokenizersNotBuilt].
// Use [FromTokenizerJSON] for GPT-2 style BPE and WordLevel tokenizers.
func FromHFTokenizersFile(path string) (Tokenizer, error) {
	return nil, fmt.Errorf("tokenizer: load %s: %w", path, ErrHFTokenizersNotBuilt)
}
