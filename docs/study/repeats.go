//go:build ignore

// repeats measures how often and how reliably a text corpus repeats bigrams within a context
// window, the two data properties that Aoyama, Wilcox and Schneider (arXiv 2511.16893) tie to the
// formation of induction heads (issue 17 item 3; docs/MODELS.md):
//
//	go run docs/study/repeats.go [-window 256] [-windows 4000] [-seed 0] CORPUS...
//
// Each CORPUS is a folder from docs/study/text_corpus.sh (train.txt and tokenizer.json). The text is
// tokenized with the corpus's own tokenizer, and windows of -window tokens are drawn at random
// offsets. At every position i >= 1 of a window whose previous token t[i-1] occurred earlier in
// the window (latest at j < i-1), the position counts as a repeat; it is a reliable repeat when
// t[i] equals t[j+1], the token an induction head would copy. It prints, per corpus:
//   - frequency: repeats / positions;
//   - reliability: reliable repeats / repeats.
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/interp-dev/interp/tokenizer"
)

func main() {
	window := flag.Int("window", 256, "tokens per window")
	windows := flag.Int("windows", 4000, "windows drawn per corpus")
	seed := flag.Uint64("seed", 0, "seed of the window offsets")
	flag.Parse()
	if flag.NArg() == 0 || *window < 2 || *windows < 1 {
		fmt.Fprintln(os.Stderr, "usage: go run docs/study/repeats.go [-window N>=2] [-windows N>=1] [-seed S] CORPUS...")
		os.Exit(2)
	}
	for _, dir := range flag.Args() {
		n, freq, rel, err := measure(dir, *window, *windows, *seed)
		if err != nil {
			fmt.Fprintln(os.Stderr, "repeats:", err)
			os.Exit(1)
		}
		fmt.Printf("%s: %d training tokens; window %d, %d windows: bigram repeat frequency %.3f, reliability %.3f\n",
			dir, n, *window, *windows, freq, rel)
	}
}

// measure returns the number of training tokens and the repeat frequency and reliability.
func measure(dir string, window, windows int, seed uint64) (tokens int, freq, rel float64, err error) {
	tok, err := tokenizer.FromTokenizerJSON(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return 0, 0, 0, err
	}
	text, err := os.ReadFile(filepath.Join(dir, "train.txt"))
	if err != nil {
		return 0, 0, 0, err
	}
	ids, err := tok.Encode(string(text))
	if err != nil {
		return 0, 0, 0, fmt.Errorf("%s: %w", dir, err)
	}
	if len(ids) <= window {
		return 0, 0, 0, fmt.Errorf("%s: %d tokens, fewer than a window of %d", dir, len(ids), window)
	}
	r := rand.New(rand.NewPCG(seed, 0))
	var positions, repeats, reliable int
	last := map[int]int{} // token -> its latest position in the window
	for range windows {
		w := ids[r.IntN(len(ids)-window):][:window]
		clear(last)
		for i := 1; i < window; i++ {
			positions++
			if j, ok := last[w[i-1]]; ok {
				repeats++
				if w[j+1] == w[i] {
					reliable++
				}
			}
			last[w[i-1]] = i - 1
		}
	}
	return len(ids), float64(repeats) / float64(positions), float64(reliable) / float64(max(repeats, 1)), nil
}
