package heads_test

import (
	"fmt"

	"github.com/interp-dev/interp/heads"
)

// The detection patterns of a short sequence with a repeat: "7 8 9 7 8". Row i is the query
// position, column j the key position.
func ExampleDetectionPattern() {
	tokens := []int{7, 8, 9, 7, 8}
	for _, k := range heads.Kinds {
		fmt.Println(k)
		for _, row := range heads.DetectionPattern(k, tokens) {
			fmt.Println(row)
		}
	}
	// Output:
	// previous_token_head
	// [0 0 0 0 0]
	// [1 0 0 0 0]
	// [0 1 0 0 0]
	// [0 0 1 0 0]
	// [0 0 0 1 0]
	// duplicate_token_head
	// [0 0 0 0 0]
	// [0 0 0 0 0]
	// [0 0 0 0 0]
	// [1 0 0 0 0]
	// [0 1 0 0 0]
	// induction_head
	// [0 0 0 0 0]
	// [0 0 0 0 0]
	// [0 0 0 0 0]
	// [0 1 0 0 0]
	// [0 0 1 0 0]
}
