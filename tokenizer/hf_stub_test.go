//go:build !hftokenizers

package tokenizer

import (
	"errors"
	"testing"
)

func TestFromHFTokenizersFileNotBuilt(t *testing.T) {
	_, err := FromHFTokenizersFile("tokenizer.json")
	if !errors.Is(err, ErrHFTokenizersNotBuilt) {
		t.Fatalf("FromHFTokenizersFile error = %v, want ErrHFTokenizersNotBuilt", err)
	}
}
