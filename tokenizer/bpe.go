package tokenizer

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// maxTokenID bounds token ids read from files, so a corrupt file cannot make
// us allocate an enormous id table.
const maxTokenID = 1 << 24

// bpeTokenizer is a pure-Go GPT-2 style byte-level BPE tokenizer.
type bpeTokenizer struct {
	name  string
	bpe   *bpeModel
	added addedTokens
	texts idTable // id -> token bytes (added tokens: their content)

	addPrefixSpace bool // ByteLevel add_prefix_space
	useRegex       bool // ByteLevel use_regex: split with the GPT-2 regex
	nfc            bool // NFC-normalise the text between added tokens (normalizer "NFC")
	// splitter, when set, is a Split(Regex) pre-tokenizer run instead of GPT-2's regex.
	splitter *regexSplitter
}

// bpeModel holds the vocabulary and merges of a byte-level BPE model.
type bpeModel struct {
	vocab        map[string]int // byte-level (printable-rune) token -> id
	merges       map[[2]int]merge
	byteIDs      [256]int // id of each single-byte token, -1 if none
	unk          int      // id used for bytes with no token, -1 if none
	ignoreMerges bool     // if a whole word is a token, use it (HF ignore_merges)
}

type merge struct{ rank, id int }

// FromVocabMerges loads a GPT-2 style byte-level BPE tokenizer from a
// vocab.json (token -> id) and merges.txt (one "a b" merge per line, in
// priority order, optionally after a "#version" line), the files of
// Hugging Face's GPT2Tokenizer. "<|endoftext|>" is treated as a special
// token if the vocabulary has it, as are the tokens of added_tokens.json
// if that file is next to vocab.json.
func FromVocabMerges(vocabPath, mergesPath string) (Tokenizer, error) {
	vocab, err := readVocabJSON(vocabPath)
	if err != nil {
		return nil, err
	}
	merges, lines, err := readMergesTxt(mergesPath)
	if err != nil {
		return nil, err
	}
	special := map[string]int{}
	if id, ok := vocab[EndOfTextToken]; ok {
		special[EndOfTextToken] = id
	}
	if addedPath := filepath.Join(filepath.Dir(vocabPath), "added_tokens.json"); exists(addedPath) {
		added, err := readVocabJSON(addedPath)
		if err != nil {
			return nil, err
		}
		maps.Copy(special, added)
	}
	where := func(i int) string { return fmt.Sprintf("%s:%d", mergesPath, lines[i]) }
	model, err := newBPEModel(vocab, merges, where, -1, false)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	tok, err := newBPETokenizer("bpe:"+filepath.Dir(vocabPath), model, special, false, true)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", vocabPath, err)
	}
	return tok, nil
}

func newBPETokenizer(name string, model *bpeModel, special map[string]int, addPrefixSpace, useRegex bool) (*bpeTokenizer, error) {
	size := 0
	for _, id := range model.vocab {
		size = max(size, id+1)
	}
	for content, id := range special {
		if id < 0 || id >= maxTokenID {
			return nil, fmt.Errorf("added token %q has id %d, out of range [0, %d)", content, id, maxTokenID)
		}
		size = max(size, id+1)
	}
	texts := make(idTable, size)
	for tok, id := range model.vocab {
		texts[id] = byteLevelDecode(tok)
	}
	for content, id := range special {
		texts[id] = content
	}
	return &bpeTokenizer{
		name:           name,
		bpe:            model,
		added:          newAddedTokens(special),
		texts:          texts,
		addPrefixSpace: addPrefixSpace,
		useRegex:       useRegex,
	}, nil
}

func readVocabJSON(path string) (map[string]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: read %s: %w", path, err)
	}
	var vocab map[string]int
	if err := json.Unmarshal(data, &vocab); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: invalid JSON (want an object of token -> id): %w", path, err)
	}
	if len(vocab) == 0 {
		return nil, fmt.Errorf("tokenizer: %s: empty vocabulary", path)
	}
	if err := checkVocab(vocab); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return vocab, nil
}

// checkVocab checks that ids are in range and distinct and tokens non-empty.
func checkVocab(vocab map[string]int) error {
	byID := make(map[int]string, len(vocab))
	for tok, id := range vocab {
		if tok == "" {
			return fmt.Errorf("empty token (id %d)", id)
		}
		if id < 0 || id >= maxTokenID {
			return fmt.Errorf("token %q has id %d, out of range [0, %d)", tok, id, maxTokenID)
		}
		if other, dup := byID[id]; dup {
			a, b := min(tok, other), max(tok, other)
			return fmt.Errorf("tokens %q and %q have the same id %d", a, b, id)
		}
		byID[id] = tok
	}
	return nil
}

// readMergesTxt returns the merges of path and the line number of each.
func readMergesTxt(path string) ([][2]string, []int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("tokenizer: read %s: %w", path, err)
	}
	var merges [][2]string
	var lines []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), "\r")
		if text == "" || line == 1 && strings.HasPrefix(text, "#version") {
			continue
		}
		a, b, ok := strings.Cut(text, " ")
		if !ok || a == "" || b == "" || strings.Contains(b, " ") {
			return nil, nil, fmt.Errorf("tokenizer: %s:%d: want two tokens separated by one space, got %q", path, line, text)
		}
		merges = append(merges, [2]string{a, b})
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("tokenizer: read %s: %w", path, err)
	}
	return merges, lines, nil
}

// newBPEModel checks merges against vocab: both parts of every merge and
// their concatenation must be tokens. where(i) locates merge i in errors.
func newBPEModel(vocab map[string]int, merges [][2]string, where func(i int) string, unk int, ignoreMerges bool) (*bpeModel, error) {
	m := &bpeModel{
		vocab:        vocab,
		merges:       make(map[[2]int]merge, len(merges)),
		unk:          unk,
		ignoreMerges: ignoreMerges,
	}
	for b := range 256 {
		m.byteIDs[b] = -1
		if id, ok := vocab[string(byteToRune[b])]; ok {
			m.byteIDs[b] = id
		}
	}
	for rank, mg := range merges {
		a, okA := vocab[mg[0]]
		b, okB := vocab[mg[1]]
		switch {
		case !okA:
			return nil, fmt.Errorf("%s: merge %q %q references unknown token %q", where(rank), mg[0], mg[1], mg[0])
		case !okB:
			return nil, fmt.Errorf("%s: merge %q %q references unknown token %q", where(rank), mg[0], mg[1], mg[1])
		}
		id, ok := vocab[mg[0]+mg[1]]
		if !ok {
			return nil, fmt.Errorf("%s: merge %q %q produces %q, which is not in the vocabulary", where(rank), mg[0], mg[1], mg[0]+mg[1])
		}
		if _, dup := m.merges[[2]int{a, b}]; !dup { // the first (highest priority) one wins
			m.merges[[2]int{a, b}] = merge{rank, id}
		}
	}
	return m, nil
}

func (t *bpeTokenizer) Encode(text string) ([]int, error) {
	text = strings.ToValidUTF8(text, "\uFFFD")
	var ids []int
	var pieces []string
	err := t.added.split(text, func(seg string, special int) error {
		if special >= 0 {
			ids = append(ids, special)
			return nil
		}
		if t.nfc {
			seg = norm.NFC.String(seg)
		}
		if t.addPrefixSpace && !strings.HasPrefix(seg, " ") {
			seg = " " + seg
		}
		switch {
		case t.splitter != nil:
			var err error
			if pieces, err = t.splitter.split(seg, pieces[:0]); err != nil {
				return fmt.Errorf("tokenizer: %s: %w", t.name, err)
			}
		case t.useRegex:
			pieces = gpt2Split(seg, pieces[:0])
		default:
			pieces = append(pieces[:0], seg)
		}
		for _, p := range pieces {
			var err error
			if ids, err = t.bpe.encodeWord(p, ids); err != nil {
				return fmt.Errorf("tokenizer: %s: encode %q: %w", t.name, p, err)
			}
		}
		return nil
	})
	return ids, err
}

func (t *bpeTokenizer) Decode(ids []int) (string, error) { return t.texts.decode(ids, "") }
func (t *bpeTokenizer) VocabSize() int                   { return len(t.texts) }
func (t *bpeTokenizer) Name() string                     { return t.name }
func (t *bpeTokenizer) TokenString(id int) string        { return t.texts.tokenString(id) }

// encodeWord appends to dst the BPE tokens of word (raw bytes): starting
// from single bytes, it repeatedly applies the highest-priority merge
// (lowest rank, leftmost on ties) among adjacent symbols.
func (m *bpeModel) encodeWord(word string, dst []int) ([]int, error) {
	if word == "" {
		return dst, nil
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[byteLevelEncode(word)]; ok {
			return append(dst, id), nil
		}
	}
	ids := make([]int, len(word))
	for i := range len(word) {
		id := m.byteIDs[word[i]]
		if id < 0 {
			if m.unk < 0 {
				return dst, fmt.Errorf("byte 0x%02x (%q) has no token in the vocabulary and there is no unk_token", word[i], string(byteToRune[word[i]]))
			}
			id = m.unk
		}
		ids[i] = id
	}
	return m.mergeSymbols(ids, dst), nil
}

// mergeSymbols applies the merges to a word's initial symbols (token ids), lowest rank first,
// and appends the resulting ids to dst.
func (m *bpeModel) mergeSymbols(ids []int, dst []int) []int {
	if len(ids) == 0 {
		return dst
	}
	syms := make([]symbol, len(ids))
	for i, id := range ids {
		syms[i] = symbol{id: id, prev: i - 1, next: i + 1}
	}
	syms[len(syms)-1].next = -1

	var q mergeQueue
	push := func(left int) {
		right := syms[left].next
		if right < 0 {
			return
		}
		if mg, ok := m.merges[[2]int{syms[left].id, syms[right].id}]; ok {
			heap.Push(&q, candidate{rank: mg.rank, left: left, right: right, id: mg.id})
		}
	}
	for i := range syms {
		push(i)
	}
	for q.Len() > 0 {
		c := heap.Pop(&q).(candidate)
		l, r := &syms[c.left], &syms[c.right]
		// Skip stale candidates: one of the symbols was merged away since.
		if l.dead || r.dead || l.next != c.right {
			continue
		}
		if mg, ok := m.merges[[2]int{l.id, r.id}]; !ok || mg.rank != c.rank {
			continue
		}
		l.id, l.next = c.id, r.next
		r.dead = true
		if r.next >= 0 {
			syms[r.next].prev = c.left
		}
		if l.prev >= 0 {
			push(l.prev)
		}
		push(c.left)
	}
	for i := 0; i >= 0; i = syms[i].next {
		dst = append(dst, syms[i].id)
	}
	return dst
}

type symbol struct {
	id         int
	prev, next int // neighbouring live symbols, -1 at the ends
	dead       bool
}

type candidate struct {
	rank, left, right, id int
}

// mergeQueue is a min-heap of merge candidates by (rank, position).
type mergeQueue []candidate

func (q mergeQueue) Len() int { return len(q) }
func (q mergeQueue) Less(i, j int) bool {
	if q[i].rank != q[j].rank {
		return q[i].rank < q[j].rank
	}
	return q[i].left < q[j].left
}
func (q mergeQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *mergeQueue) Push(x any)   { *q = append(*q, x.(candidate)) }
func (q *mergeQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}
