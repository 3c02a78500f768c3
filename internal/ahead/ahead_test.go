package ahead

import (
	"slices"
	"testing"
)

// TestReader: the items come in the producer's order, the stream ends at the item last marks
// (the reader is then stopped), Stop ends a running producer, and a later Start begins afresh.
func TestReader(t *testing.T) {
	n := 0
	produce := func() int { n++; return n }
	last := func(i int) bool { return i == 5 }
	var r Reader[int]
	if r.Running() {
		t.Fatal("the zero Reader runs")
	}
	r.Start(2, produce, last)
	var got []int
	for r.Running() {
		got = append(got, r.Next(last))
	}
	if !slices.Equal(got, []int{1, 2, 3, 4, 5}) {
		t.Fatalf("items %v, want 1..5", got)
	}
	n = 10
	r.Start(1, produce, func(int) bool { return false })
	if a, b := r.Next(last), r.Next(last); a != 11 || b != 12 {
		t.Fatalf("after a restart: %d, %d, want 11, 12", a, b)
	}
	r.Stop()
	if r.Running() {
		t.Fatal("running after Stop")
	}
	r.Stop() // a second Stop is a no-op
}
