package tokenizer

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// EndOfText is the special token TrainBPE adds (GPT-2's "<|endoftext|>"), which the tasks
// prepend as BOS.
const EndOfText = "<|endoftext|>"

// TrainBPE learns a GPT-2-style byte-level BPE tokenizer of vocab tokens from text: the 256
// byte tokens (ids 0-255, in byte order), vocab-257 merges (ids 256 on) and EndOfText (the last
// id). Text is pre-tokenized with GPT-2's regex (so merges never cross a word boundary) and each
// step merges the most frequent adjacent pair over all words (weighted by their counts; ties go
// to the pair whose tokens sort first), as Hugging Face's BpeTrainer does with min_frequency 1.
// It stops early when no pair occurs twice. The result is a Hugging Face tokenizer.json (model
// BPE, pre-tokenizer and decoder ByteLevel without a prefix space) that FromTokenizerJSON and
// the tokenizers library load.
func TrainBPE(text string, vocab int) ([]byte, error) {
	if vocab < 258 {
		return nil, fmt.Errorf("tokenizer: a byte-level BPE needs at least 258 tokens (256 bytes, one merge, %s), got %d", EndOfText, vocab)
	}
	counts := map[string]int{}
	for _, w := range gpt2Split(text, nil) {
		counts[w]++
	}
	if len(counts) == 0 {
		return nil, fmt.Errorf("tokenizer: no text to train a BPE on")
	}
	// Words as symbol-id sequences, in a fixed order.
	keys := make([]string, 0, len(counts))
	for w := range counts {
		keys = append(keys, w)
	}
	sort.Strings(keys)
	syms := make([]string, 256, vocab) // id -> byte-level token text
	for b := range 256 {
		syms[b] = string(byteToRune[b])
	}
	words := make([][]int, len(keys))
	freq := make([]int, len(keys))
	for i, w := range keys {
		freq[i] = counts[w]
		for j := 0; j < len(w); j++ {
			words[i] = append(words[i], int(w[j]))
		}
	}
	type pair struct{ a, b int }
	pairCount := map[pair]int{}
	where := map[pair]map[int]bool{} // pair -> words containing it
	add := func(wi int, sign int) {
		w := words[wi]
		for j := 0; j+1 < len(w); j++ {
			p := pair{w[j], w[j+1]}
			pairCount[p] += sign * freq[wi]
			if sign > 0 {
				if where[p] == nil {
					where[p] = map[int]bool{}
				}
				where[p][wi] = true
			}
		}
	}
	for wi := range words {
		add(wi, 1)
	}
	var merges [][2]string
	for len(syms) < vocab-1 {
		var best pair
		bestN := 0
		for p, n := range pairCount {
			if n > bestN || (n == bestN && n > 0 && less(syms, p.a, p.b, best.a, best.b)) {
				best, bestN = p, n
			}
		}
		if bestN < 2 {
			break
		}
		id := len(syms)
		syms = append(syms, syms[best.a]+syms[best.b])
		merges = append(merges, [2]string{syms[best.a], syms[best.b]})
		ws := make([]int, 0, len(where[best]))
		for wi := range where[best] {
			ws = append(ws, wi)
		}
		sort.Ints(ws)
		for _, wi := range ws {
			add(wi, -1)
			w := words[wi]
			out := w[:0:0]
			for j := 0; j < len(w); j++ {
				if j+1 < len(w) && w[j] == best.a && w[j+1] == best.b {
					out = append(out, id)
					j++
				} else {
					out = append(out, w[j])
				}
			}
			words[wi] = out
			add(wi, 1)
		}
		delete(pairCount, best)
		delete(where, best)
		for p, n := range pairCount {
			if n == 0 {
				delete(pairCount, p)
				delete(where, p)
			}
		}
	}
	return bpeJSON(syms, merges)
}

// less orders pairs by their tokens' text.
func less(syms []string, a1, b1, a2, b2 int) bool {
	if syms[a1] != syms[a2] {
		return syms[a1] < syms[a2]
	}
	return syms[b1] < syms[b2]
}

// bpeJSON writes a Hugging Face tokenizer.json for byte-level BPE tokens syms (id order) and
// merges, with EndOfText as the last id.
func bpeJSON(syms []string, merges [][2]string) ([]byte, error) {
	vocab := make(map[string]int, len(syms)+1)
	for id, s := range syms {
		if _, dup := vocab[s]; dup {
			return nil, fmt.Errorf("tokenizer: BPE token %q learned twice", s)
		}
		vocab[s] = id
	}
	eot := len(syms)
	vocab[EndOfText] = eot
	ms := make([]string, len(merges))
	for i, m := range merges {
		ms[i] = m[0] + " " + m[1]
	}
	if strings.Contains(strings.Join(ms, ""), "\n") {
		return nil, fmt.Errorf("tokenizer: a merge contains a newline")
	}
	byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	f := map[string]any{
		"version":        "1.0",
		"truncation":     nil,
		"padding":        nil,
		"added_tokens":   []map[string]any{{"id": eot, "content": EndOfText, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}},
		"normalizer":     nil,
		"pre_tokenizer":  byteLevel,
		"post_processor": nil,
		"decoder":        byteLevel,
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "vocab": vocab, "merges": ms},
	}
	return json.MarshalIndent(f, "", " ")
}
