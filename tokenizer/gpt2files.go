package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// GPT2VocabMerges returns GPT-2's vocabulary and merges in the form of
// Hugging Face's vocab.json (byte-level token -> id, including
// "<|endoftext|>") and merges.txt (merge pairs, highest priority first),
// rebuilt offline from the r50k_base ranks embedded in tiktoken-go.
//
// The merges are recovered from the ranks: for each token of more than one
// byte, in rank order, byte-pair encoding its bytes with only the
// lower-ranked tokens must end in exactly two parts, which form its merge.
func GPT2VocabMerges() (vocab map[string]int, merges [][2]string, err error) {
	tok, err := GPT2()
	if err != nil {
		return nil, nil, err
	}
	texts, ranks := tok.(*gpt2Tokenizer).texts, tok.(*gpt2Tokenizer).ranks
	vocab, merges, err = vocabMergesFromRanks("gpt2", texts[:GPT2EndOfText], ranks)
	if err != nil {
		return nil, nil, err
	}
	vocab[EndOfTextToken] = GPT2EndOfText
	return vocab, merges, nil
}

// vocabMergesFromRanks turns a rank-based byte-level BPE (tiktoken's form: texts[id] is token id's
// bytes, ranks its inverse) into Hugging Face's vocabulary (byte-level token -> id) and merges,
// highest priority first. name labels errors.
func vocabMergesFromRanks(name string, texts []string, ranks map[string]int) (vocab map[string]int, merges [][2]string, err error) {
	vocab = make(map[string]int, len(texts)+1)
	for id, token := range texts {
		vocab[byteLevelEncode(token)] = id
		if len(token) == 1 {
			continue
		}
		parts := splitAt(token, rankMerge(token, ranks, id, nil))
		if len(parts) != 2 {
			return nil, nil, fmt.Errorf("tokenizer: %s: cannot recover the merge of token %d %q: BPE with lower ranks gives %d parts %q", name, id, token, len(parts), parts)
		}
		merges = append(merges, [2]string{byteLevelEncode(parts[0]), byteLevelEncode(parts[1])})
	}
	return vocab, merges, nil
}

// WriteGPT2Files writes GPT-2's vocab.json and merges.txt (see
// [GPT2VocabMerges]) into dir, which must exist. [FromDir] on dir then
// tokenizes exactly like [GPT2].
func WriteGPT2Files(dir string) error {
	vocab, merges, err := GPT2VocabMerges()
	if err != nil {
		return err
	}
	var vb bytes.Buffer
	enc := json.NewEncoder(&vb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(vocab); err != nil {
		return fmt.Errorf("tokenizer: encode %s: %w", VocabJSONFile, err)
	}
	var mb bytes.Buffer
	mb.WriteString("#version: 0.2\n")
	for _, m := range merges {
		mb.WriteString(m[0])
		mb.WriteByte(' ')
		mb.WriteString(m[1])
		mb.WriteByte('\n')
	}
	for name, data := range map[string][]byte{VocabJSONFile: vb.Bytes(), MergesTxtFile: mb.Bytes()} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return fmt.Errorf("tokenizer: write %s: %w", path, err)
		}
	}
	return nil
}
