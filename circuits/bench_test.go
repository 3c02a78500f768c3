package circuits

import (
	"testing"

	"github.com/interp-dev/interp/tasks"
)

// BenchmarkDiscover times each method on planted-ioi (20 pairs; head overlap its 10), the
// comparison of the speed item: go test ./circuits/ -run '^$' -bench Discover -benchtime=3x
func BenchmarkDiscover(b *testing.B) {
	w := builtinModel(b, "planted-ioi")
	task, err := tasks.New("ioi", tasks.Options{Vocab: w.Config.DVocab, SeqLen: w.Config.NCtx})
	if err != nil {
		b.Fatal(err)
	}
	for _, meth := range Methods() {
		b.Run(string(meth), func(b *testing.B) {
			for b.Loop() {
				if _, err := Discover(w, "planted-ioi", task, Options{Method: meth}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
