package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SentencePiece-style BPE from a tokenizer.json (Llama 1/2, TinyLlama, Mistral 7B v0.1, Gemma):
// not byte-level. The text (between added tokens) has its spaces replaced by "▁" and, as the
// normalizer or the Metaspace pre-tokenizer says, "▁" prepended; the initial symbols are its
// characters, merged lowest rank first; a character without a token falls back to its UTF-8
// bytes as <0xXX> tokens (byte_fallback), else to unk_token (consecutive unks fused into one
// with fuse_unk).

const spSpace = "▁"

type spTokenizer struct {
	name  string
	bpe   *bpeModel
	added addedTokens
	texts idTable

	prepend      bool // prepend "▁" to the text
	prependFirst bool // only to the first segment (Metaspace prepend_scheme "first")
	split        bool // Metaspace split: a piece starts at each "▁"
	byteFallback bool
	byteTok      [256]int // id of <0xXX>, -1 if none
	fuseUnk      bool
}

// spComponent is a normalizer or pre-tokenizer of the SentencePiece style.
type spComponent struct {
	Type          string            `json:"type"`
	Content       string            `json:"content"`
	Prepend       string            `json:"prepend"`
	Pattern       *hfPattern        `json:"pattern"`
	Replacement   string            `json:"replacement"`
	PrependScheme string            `json:"prepend_scheme"`
	AddPrefix     *bool             `json:"add_prefix_space"`
	Split         *bool             `json:"split"`
	Normalizers   []json.RawMessage `json:"normalizers"`
}

// spFromHF builds a SentencePiece-style tokenizer. ok is false when the file is not of that
// style (a byte-level one), so the caller tries the byte-level reader.
func spFromHF(path string, f *hfFile, m *hfModel, added map[string]int) (tok Tokenizer, ok bool, err error) {
	t := &spTokenizer{name: "sentencepiece-bpe:" + path, byteFallback: m.ByteFallback}
	// Which style: a byte-level file has a ByteLevel pre-tokenizer (alone or in a Sequence); a
	// SentencePiece-style one has none (its normalizer replaces spaces) or Metaspace.
	var pre spComponent
	if !isNull(f.PreTokenizer) {
		if err := json.Unmarshal(f.PreTokenizer, &pre); err != nil {
			return nil, true, fmt.Errorf("pre_tokenizer: %w", err)
		}
		if pre.Type != "Metaspace" {
			return nil, false, nil
		}
	}
	// Normalizer: null, or Prepend("▁") and Replace(" " -> "▁"), alone or in a Sequence.
	var norms []spComponent
	if !isNull(f.Normalizer) {
		var n spComponent
		if err := json.Unmarshal(f.Normalizer, &n); err != nil {
			return nil, true, fmt.Errorf("normalizer: %w", err)
		}
		if n.Type == "Sequence" {
			for _, raw := range n.Normalizers {
				var sub spComponent
				if err := json.Unmarshal(raw, &sub); err != nil {
					return nil, true, fmt.Errorf("normalizer: %w", err)
				}
				norms = append(norms, sub)
			}
		} else {
			norms = append(norms, n)
		}
	}
	replaced := false
	for _, n := range norms {
		switch {
		case n.Type == "Prepend" && n.Prepend == spSpace:
			t.prepend = true
		case n.Type == "Replace" && n.Pattern != nil && n.Pattern.String != nil && *n.Pattern.String == " " && n.Content == spSpace:
			replaced = true
		default:
			return nil, true, fmt.Errorf("normalizer %q is not supported for SentencePiece-style BPE, want Prepend(▁) and Replace(' ' -> ▁) (%s)", n.Type, hfHint)
		}
	}
	// Pre-tokenizer: null (the normalizer did the work) or Metaspace.
	switch {
	case isNull(f.PreTokenizer):
		if !replaced {
			return nil, true, fmt.Errorf("a BPE model without a pre-tokenizer needs a normalizer replacing spaces with ▁ (%s)", hfHint)
		}
	default:
		p := pre
		if p.Replacement != "" && p.Replacement != spSpace {
			return nil, true, fmt.Errorf("pre_tokenizer: Metaspace replacement %q is not supported (want ▁)", p.Replacement)
		}
		switch p.PrependScheme {
		case "always":
			t.prepend = true
		case "first":
			t.prepend, t.prependFirst = true, true
		case "never":
		case "":
			t.prepend = p.AddPrefix == nil || *p.AddPrefix // older files: add_prefix_space
		default:
			return nil, true, fmt.Errorf("pre_tokenizer: Metaspace prepend_scheme %q is not supported", p.PrependScheme)
		}
		t.split = p.Split == nil || *p.Split
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" || m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return nil, true, fmt.Errorf("model: continuing_subword_prefix and end_of_word_suffix are not supported (%s)", hfHint)
	}
	merges := make([][2]string, len(m.Merges))
	for i, raw := range m.Merges {
		if merges[i], err = parseMerge(raw); err != nil {
			return nil, true, fmt.Errorf("model.merges[%d]: %w", i, err)
		}
	}
	unk := -1
	if m.UnkToken != nil && *m.UnkToken != "" {
		id, ok := m.Vocab[*m.UnkToken]
		if !ok {
			return nil, true, fmt.Errorf("model.unk_token %q is not in model.vocab", *m.UnkToken)
		}
		unk = id
	}
	if t.bpe, err = newBPEModel(m.Vocab, merges, func(i int) string { return fmt.Sprintf("model.merges[%d]", i) }, unk, m.IgnoreMerges); err != nil {
		return nil, true, err
	}
	t.fuseUnk = m.FuseUnk
	size := 0
	for _, id := range m.Vocab {
		size = max(size, id+1)
	}
	for content, id := range added {
		if id < 0 || id >= maxTokenID {
			return nil, true, fmt.Errorf("added token %q has id %d, out of range [0, %d)", content, id, maxTokenID)
		}
		size = max(size, id+1)
	}
	t.texts = make(idTable, size)
	for b := range 256 {
		t.byteTok[b] = -1
	}
	for tokStr, id := range m.Vocab {
		if len(tokStr) == 6 && strings.HasPrefix(tokStr, "<0x") && strings.HasSuffix(tokStr, ">") {
			if b, err := strconv.ParseUint(tokStr[3:5], 16, 8); err == nil {
				t.byteTok[b] = id
				t.texts[id] = string([]byte{byte(b)})
				continue
			}
		}
		t.texts[id] = strings.ReplaceAll(tokStr, spSpace, " ")
	}
	for content, id := range added {
		t.texts[id] = content
	}
	t.added = newAddedTokens(added)
	return t, true, nil
}

func (t *spTokenizer) Encode(text string) ([]int, error) {
	text = strings.ToValidUTF8(text, "\uFFFD")
	var ids []int
	first := true
	err := t.added.split(text, func(seg string, special int) error {
		if special >= 0 {
			ids = append(ids, special)
			first = false
			return nil
		}
		seg = strings.ReplaceAll(seg, " ", spSpace)
		if t.prepend && (first || !t.prependFirst) && !strings.HasPrefix(seg, spSpace) {
			seg = spSpace + seg
		}
		first = false
		for _, piece := range t.pieces(seg) {
			var err error
			if ids, err = t.encodePiece(piece, ids); err != nil {
				return fmt.Errorf("tokenizer: %s: encode %q: %w", t.name, piece, err)
			}
		}
		return nil
	})
	return ids, err
}

// pieces splits before each "▁" when the Metaspace pre-tokenizer splits (MergedWithNext).
func (t *spTokenizer) pieces(s string) []string {
	if !t.split {
		return []string{s}
	}
	var out []string
	start := 0
	for i := range s {
		if i > start && strings.HasPrefix(s[i:], spSpace) {
			out = append(out, s[start:i])
			start = i
		}
	}
	return append(out, s[start:])
}

// encodePiece maps the piece's characters to tokens (bytes or unk for those without one), then
// merges.
func (t *spTokenizer) encodePiece(piece string, dst []int) ([]int, error) {
	if t.bpe.ignoreMerges {
		if id, ok := t.bpe.vocab[piece]; ok {
			return append(dst, id), nil
		}
	}
	var syms []int
	for _, r := range piece {
		if id, ok := t.bpe.vocab[string(r)]; ok {
			syms = append(syms, id)
			continue
		}
		if t.byteFallback {
			b := []byte(string(r))
			all := true
			for _, x := range b {
				all = all && t.byteTok[x] >= 0
			}
			if all {
				for _, x := range b {
					syms = append(syms, t.byteTok[x])
				}
				continue
			}
		}
		if t.bpe.unk < 0 {
			return dst, errors.New("character " + strconv.QuoteRune(r) + " has no token, no byte tokens and there is no unk_token")
		}
		if t.fuseUnk && len(syms) > 0 && syms[len(syms)-1] == t.bpe.unk {
			continue
		}
		syms = append(syms, t.bpe.unk)
	}
	return t.bpe.mergeSymbols(syms, dst), nil
}

func (t *spTokenizer) Decode(ids []int) (string, error) { return t.texts.decode(ids, "") }
func (t *spTokenizer) VocabSize() int                   { return len(t.texts) }
func (t *spTokenizer) Name() string                     { return t.name }
func (t *spTokenizer) TokenString(id int) string        { return t.texts.tokenString(id) }
