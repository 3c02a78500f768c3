package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// hfFile is the subset of a Hugging Face tokenizer.json that we read.
type hfFile struct {
	AddedTokens  []hfAddedToken  `json:"added_tokens"`
	Normalizer   json.RawMessage `json:"normalizer"`
	PreTokenizer json.RawMessage `json:"pre_tokenizer"`
	Model        json.RawMessage `json:"model"`
}

type hfAddedToken struct {
	ID      int    `json:"id"`
	Content string `json:"content"`
	Special bool   `json:"special"`
}

type hfModel struct {
	Type                    string            `json:"type"`
	Vocab                   map[string]int    `json:"vocab"`
	Merges                  []json.RawMessage `json:"merges"`
	UnkToken                *string           `json:"unk_token"`
	ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
	ByteFallback            bool              `json:"byte_fallback"`
	IgnoreMerges            bool              `json:"ignore_merges"`
	FuseUnk                 bool              `json:"fuse_unk"`
}

// hfComponent is a normalizer or pre-tokenizer.
type hfComponent struct {
	Type           string            `json:"type"`
	AddPrefixSpace bool              `json:"add_prefix_space"`
	UseRegex       *bool             `json:"use_regex"`
	PreTokenizers  []json.RawMessage `json:"pretokenizers"`
	Normalizers    []json.RawMessage `json:"normalizers"`
	// Split
	Pattern  *hfPattern `json:"pattern"`
	Behavior string     `json:"behavior"`
	Invert   bool       `json:"invert"`
}

// hfPattern is a Split pattern: {"Regex": "..."} or {"String": "..."}.
type hfPattern struct {
	Regex  *string `json:"Regex"`
	String *string `json:"String"`
}

const hfHint = "the pure-Go tokenizer supports GPT-2 byte-level BPE and WordLevel; for other tokenizers build with -tags hftokenizers and use FromHFTokenizersFile"

// FromTokenizerJSON loads a Hugging Face tokenizer.json in pure Go.
//
// Two models are supported:
//
//   - "BPE" with a ByteLevel pre-tokenizer: GPT-2 style byte-level BPE
//     (GPT-2, GPT-Neo, Pythia with its NFC normalizer), or with the Llama 3 /
//     Qwen [Split(Regex, Isolated), ByteLevel] sequence. model.merges may be
//     strings "a b" or two-element arrays ["a", "b"].
//   - "BPE" of the SentencePiece style (Llama 2, TinyLlama, Gemma): spaces
//     replaced by "▁" (normalizer Replace/Prepend, or Metaspace), characters
//     merged, byte_fallback to <0xXX> tokens (sentencepiece.go).
//   - "WordLevel": one id per word, unknown words map to model.unk_token
//     (an error if it is unset). Words are split on white space, or as the
//     pre-tokenizer says for Whitespace and BertPreTokenizer; the only
//     normalizer supported is Lowercase.
//
// added_tokens (such as "<|endoftext|>") are matched literally in the text
// before pre-tokenization; their lstrip/rstrip/single_word flags are
// ignored. Post-processors are ignored: Encode adds no BOS/EOS. Other
// models, normalizers and pre-tokenizers are rejected with an error.
func FromTokenizerJSON(path string) (Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: read %s: %w", path, err)
	}
	var f hfFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: invalid JSON: %w", path, err)
	}
	if isNull(f.Model) {
		return nil, fmt.Errorf("tokenizer: %s: no \"model\" object", path)
	}
	var kind struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(f.Model, &kind); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: invalid \"model\": %w", path, err)
	}
	if kind.Type != "" && kind.Type != "BPE" && kind.Type != "WordLevel" {
		return nil, fmt.Errorf("tokenizer: %s: model.type %q is not supported (%s)", path, kind.Type, hfHint)
	}
	var m hfModel
	if err := json.Unmarshal(f.Model, &m); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: invalid \"model\" (want vocab as an object of token -> id): %w", path, err)
	}
	if m.Type == "" && m.Merges != nil {
		m.Type = "BPE" // older files omit the type
	}
	added := make(map[string]int, len(f.AddedTokens))
	for _, t := range f.AddedTokens {
		if t.Content == "" {
			return nil, fmt.Errorf("tokenizer: %s: added token %d has empty content", path, t.ID)
		}
		added[t.Content] = t.ID
	}
	var tok Tokenizer
	switch m.Type {
	case "BPE":
		var ok bool
		if tok, ok, err = spFromHF(path, &f, &m, added); !ok && err == nil {
			tok, err = bpeFromHF(path, &f, &m, added)
		}
	case "WordLevel":
		tok, err = wordLevelFromHF(path, &f, &m, added)
	default:
		err = errors.New("model.type is missing")
	}
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return tok, nil
}

func bpeFromHF(path string, f *hfFile, m *hfModel, added map[string]int) (Tokenizer, error) {
	if len(m.Vocab) == 0 {
		return nil, errors.New("model.vocab is missing or empty")
	}
	if err := checkVocab(m.Vocab); err != nil {
		return nil, fmt.Errorf("model.vocab: %w", err)
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		return nil, fmt.Errorf("model.continuing_subword_prefix %q is not supported (%s)", *m.ContinuingSubwordPrefix, hfHint)
	}
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return nil, fmt.Errorf("model.end_of_word_suffix %q is not supported (%s)", *m.EndOfWordSuffix, hfHint)
	}
	if m.ByteFallback {
		return nil, fmt.Errorf("model.byte_fallback is not supported (%s)", hfHint)
	}
	// Normalizer: none, or NFC (GPT-NeoX/Pythia's tokenizer.json), applied to the text between
	// added tokens as Hugging Face's tokenizers do.
	nfc := false
	if !isNull(f.Normalizer) {
		n, err := parseComponent(f.Normalizer)
		if err != nil {
			return nil, fmt.Errorf("normalizer: %w", err)
		}
		if n == nil || n.Type != "NFC" {
			return nil, fmt.Errorf("normalizer %s is not supported for BPE, want NFC or null (%s)", componentType(f.Normalizer), hfHint)
		}
		nfc = true
	}
	pre, err := parseComponent(f.PreTokenizer)
	if err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %w", err)
	}
	var splitter *regexSplitter
	if pre != nil && pre.Type == "Sequence" && len(pre.PreTokenizers) == 2 {
		// Llama 3, Qwen 2/3: Split(Regex, Isolated) then ByteLevel(use_regex false).
		first, err := parseComponent(pre.PreTokenizers[0])
		if err != nil {
			return nil, fmt.Errorf("pre_tokenizer: %w", err)
		}
		if first == nil || first.Type != "Split" || first.Pattern == nil || first.Pattern.Regex == nil ||
			first.Behavior != "Isolated" || first.Invert {
			return nil, fmt.Errorf("pre_tokenizer %s is not supported for BPE, want ByteLevel or [Split(Regex, Isolated), ByteLevel] (%s)",
				componentType(f.PreTokenizer), hfHint)
		}
		if splitter, err = newRegexSplitter(*first.Pattern.Regex); err != nil {
			return nil, fmt.Errorf("pre_tokenizer: %w", err)
		}
		if pre, err = parseComponent(pre.PreTokenizers[1]); err != nil {
			return nil, fmt.Errorf("pre_tokenizer: %w", err)
		}
		if pre != nil && pre.Type == "ByteLevel" && (pre.UseRegex == nil || *pre.UseRegex) {
			return nil, fmt.Errorf("pre_tokenizer: ByteLevel after a Split must have use_regex false (%s)", hfHint)
		}
	}
	if pre != nil && pre.Type == "Sequence" && len(pre.PreTokenizers) == 1 {
		if pre, err = parseComponent(pre.PreTokenizers[0]); err != nil {
			return nil, fmt.Errorf("pre_tokenizer: %w", err)
		}
	}
	if pre == nil || pre.Type != "ByteLevel" {
		return nil, fmt.Errorf("pre_tokenizer %s is not supported for BPE, want ByteLevel (%s)", componentType(f.PreTokenizer), hfHint)
	}
	merges := make([][2]string, len(m.Merges))
	for i, raw := range m.Merges {
		if merges[i], err = parseMerge(raw); err != nil {
			return nil, fmt.Errorf("model.merges[%d]: %w", i, err)
		}
	}
	unk := -1
	if m.UnkToken != nil && *m.UnkToken != "" {
		id, ok := m.Vocab[*m.UnkToken]
		if !ok {
			return nil, fmt.Errorf("model.unk_token %q is not in model.vocab", *m.UnkToken)
		}
		unk = id
	}
	where := func(i int) string { return fmt.Sprintf("model.merges[%d]", i) }
	model, err := newBPEModel(m.Vocab, merges, where, unk, m.IgnoreMerges)
	if err != nil {
		return nil, err
	}
	useRegex := pre.UseRegex == nil || *pre.UseRegex
	tok, err := newBPETokenizer("bpe:"+path, model, added, pre.AddPrefixSpace, useRegex)
	if err != nil {
		return nil, err
	}
	tok.nfc = nfc
	tok.splitter = splitter
	return tok, nil
}

func parseMerge(raw json.RawMessage) ([2]string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		a, b, ok := strings.Cut(s, " ")
		if !ok || a == "" || b == "" || strings.Contains(b, " ") {
			return [2]string{}, fmt.Errorf("want two tokens separated by one space, got %q", s)
		}
		return [2]string{a, b}, nil
	}
	var pair []string
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 || pair[0] == "" || pair[1] == "" {
		return [2]string{}, fmt.Errorf("want \"a b\" or [\"a\", \"b\"], got %s", raw)
	}
	return [2]string{pair[0], pair[1]}, nil
}

func wordLevelFromHF(path string, f *hfFile, m *hfModel, added map[string]int) (Tokenizer, error) {
	if len(m.Vocab) == 0 {
		return nil, errors.New("model.vocab is missing or empty")
	}
	if err := checkVocab(m.Vocab); err != nil {
		return nil, fmt.Errorf("model.vocab: %w", err)
	}
	t := &wordLevelTokenizer{
		name:  "wordlevel:" + path,
		vocab: m.Vocab,
		unk:   -1,
		split: splitWhitespace,
		added: newAddedTokens(added),
	}
	if m.UnkToken != nil && *m.UnkToken != "" {
		id, ok := m.Vocab[*m.UnkToken]
		if !ok {
			id, ok = added[*m.UnkToken]
		}
		if !ok {
			return nil, fmt.Errorf("model.unk_token %q is in neither model.vocab nor added_tokens", *m.UnkToken)
		}
		t.unk = id
	}

	// Normalizer: none, Lowercase, or a Sequence of Lowercase.
	norm, err := parseComponent(f.Normalizer)
	if err != nil {
		return nil, fmt.Errorf("normalizer: %w", err)
	}
	if norm != nil {
		list := []json.RawMessage{f.Normalizer}
		if norm.Type == "Sequence" {
			list = norm.Normalizers
		}
		for _, raw := range list {
			n, err := parseComponent(raw)
			if err != nil {
				return nil, fmt.Errorf("normalizer: %w", err)
			}
			if n == nil || n.Type != "Lowercase" {
				return nil, fmt.Errorf("normalizer %s is not supported for WordLevel, want Lowercase or null (%s)", componentType(raw), hfHint)
			}
			t.lower = true
		}
	}

	// Pre-tokenizer: a single splitter, possibly wrapped in a Sequence.
	pre, err := parseComponent(f.PreTokenizer)
	if err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %w", err)
	}
	if pre != nil && pre.Type == "Sequence" && len(pre.PreTokenizers) == 1 {
		if pre, err = parseComponent(pre.PreTokenizers[0]); err != nil {
			return nil, fmt.Errorf("pre_tokenizer: %w", err)
		}
	}
	if pre != nil {
		switch pre.Type {
		case "WhitespaceSplit":
			t.split = splitWhitespace
		case "Whitespace":
			t.split = splitWordsPunct
		case "BertPreTokenizer":
			t.split = splitBert
		default:
			return nil, fmt.Errorf("pre_tokenizer %s is not supported for WordLevel, want WhitespaceSplit, Whitespace, BertPreTokenizer or null (%s)", componentType(f.PreTokenizer), hfHint)
		}
	}

	size := 0
	for _, id := range m.Vocab {
		size = max(size, id+1)
	}
	for _, id := range added {
		if id < 0 || id >= maxTokenID {
			return nil, fmt.Errorf("added token id %d out of range [0, %d)", id, maxTokenID)
		}
		size = max(size, id+1)
	}
	t.texts = make(idTable, size)
	for w, id := range m.Vocab {
		t.texts[id] = w
	}
	for w, id := range added {
		t.texts[id] = w
	}
	return t, nil
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// parseComponent decodes a normalizer or pre-tokenizer; nil if it is null.
func parseComponent(raw json.RawMessage) (*hfComponent, error) {
	if isNull(raw) {
		return nil, nil
	}
	var c hfComponent
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("invalid: %w", err)
	}
	return &c, nil
}

// componentType describes a component for error messages, e.g. "Metaspace".
func componentType(raw json.RawMessage) string {
	c, err := parseComponent(raw)
	switch {
	case err != nil:
		return "(invalid)"
	case c == nil:
		return "null"
	case c.Type == "Sequence":
		var types []string
		for _, sub := range append(c.PreTokenizers, c.Normalizers...) {
			types = append(types, componentType(sub))
		}
		return fmt.Sprintf("%q [%s]", c.Type, strings.Join(types, ", "))
	default:
		return fmt.Sprintf("%q", c.Type)
	}
}
