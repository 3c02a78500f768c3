package tasks

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/interp-dev/interp/tokenizer"
)

// TestColoredObjects reads every pair back as words: the answer is the color written just before
// the object asked about (just after it with color=after), Wrong the color of another listed
// object, and the corrupted prompt differs from the clean one only in the object asked about,
// which is that other object.
func TestColoredObjects(t *testing.T) {
	for _, name := range []string{ColoredObjects, ColoredObjects + ":color=before", ColoredObjects + ":color=after",
		ColoredObjects + ":questions=3", ColoredObjects + ":color=after,questions=12", ColoredObjects + ":color=bare",
		ColoredObjects + ":color=bare,questions=8", ColoredObjects + ":color=bare,pairs=3",
		ColoredObjects + ":color=bare,pairs=12,questions=4", ColoredObjects + ":color=bare,pairs=12,colors=3"} {
		after := strings.Contains(name, "after") || strings.Contains(name, "bare")
		t.Run(name, func(t *testing.T) { testColoredObjects(t, name, after) })
	}
	for name, want := range map[string]string{
		ColoredObjects + ":color=left":          "color=left: want before, after or bare",
		ColoredObjects + ":colour=after":        `unknown parameter "colour=after"`,
		ColoredObjects + ":questions=0":         "questions=0: want a whole number from 1 to 16",
		ColoredObjects + ":questions=x":         "questions=x: want a whole number from 1 to 16",
		ColoredObjects + ":pairs=12":            "pairs=12: only color=bare lists a chosen number of pairs",
		ColoredObjects + ":color=bare,pairs=2":  "pairs=2: want a whole number from 3 to 32",
		ColoredObjects + ":color=bare,pairs=33": "pairs=33: want a whole number from 3 to 32",
		ColoredObjects + ":colors=2":            "colors=2: want a whole number from 3 to 12",
	} {
		if _, err := New(name, Options{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(%q): error %v, want one containing %q", name, err, want)
		}
	}
}

func testColoredObjects(t *testing.T, name string, after bool) {
	task := newTask(t, name, Options{})
	param := func(key string, def int) int {
		_, v, ok := strings.Cut(name, key+"=")
		if !ok {
			return def
		}
		v, _, _ = strings.Cut(v, ",")
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	questions, pairs, palette := param("questions", 1), param("pairs", 0), param("colors", len(ToyColors))
	tok := ToyTokenizer()
	word := func(id int) string { return tok.TokenString(id) }
	// colorOf maps each listed object to the color next to it (before it, or after it).
	colorOf := func(s []int) map[string]string {
		m := map[string]string{}
		for j := 1; j < len(s); j++ {
			obj, col := word(s[j]), word(s[j-1])
			if after {
				obj, col = col, obj
			}
			if slices.Contains(ToyColoredObjects, obj) && slices.Contains(ToyColors, col) {
				m[obj] = col
			}
		}
		return m
	}
	p, err := task.Pairs(5, 64)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Clean {
		c, x := p.Clean[i], p.Corrupted[i]
		colors := colorOf(c)
		if len(colors) != 3 {
			t.Fatalf("row %d %q: %d colored objects, want 3", i, p.Text[i], len(colors))
		}
		for _, col := range colors {
			if !slices.Contains(ToyColors[:palette], col) {
				t.Fatalf("row %d %q: color %q is not among the first %d", i, p.Text[i], col, palette)
			}
		}
		// "... What color is the O": the object asked about is last.
		asked, other := word(c[len(c)-1]), word(x[len(x)-1])
		if word(c[len(c)-3]) != "is" || word(c[len(c)-2]) != "the" {
			t.Fatalf("row %d %q: not a question ending at the answer", i, p.Text[i])
		}
		if colors[asked] != word(p.Answer[i]) || colors[other] != word(p.Wrong[i]) || asked == other {
			t.Fatalf("row %d %q: asked %s (%s), corrupted asks %s (%s); Answer %s Wrong %s",
				i, p.Text[i], asked, colors[asked], other, colors[other], word(p.Answer[i]), word(p.Wrong[i]))
		}
		if n := strings.Count(p.Text[i], "What color is the"); n != questions {
			t.Fatalf("row %d %q: %d questions, want %d", i, p.Text[i], n, questions)
		}
		if pairs > 0 { // the list: pairs object-color pairs right after BOS, then "."
			if word(c[2*pairs+1]) != "." || !slices.Contains(ToyColoredObjects, word(c[2*pairs-1])) {
				t.Fatalf("row %d %q: want a list of %d pairs", i, p.Text[i], pairs)
			}
		}
		if diff := differing(c, x); diff != 1 {
			t.Fatalf("row %d: clean and corrupted differ at %d positions, want 1", i, diff)
		}
	}
	b := task.Batch(seededRand(2), 16)
	for i, s := range b.Tokens {
		n := len(s)
		colors := colorOf(s[:n-1])
		if want := colors[word(s[n-2])]; word(s[n-1]) != want {
			t.Fatalf("row %d: answer %q, want the color %q of %q", i, word(s[n-1]), want, word(s[n-2]))
		}
		// The answered questions' colors are scored too: each masked position is an asked object
		// right after "the", followed by its color.
		var masked []int
		for j, m := range b.LossMask[i] {
			if m {
				masked = append(masked, j)
			}
		}
		if len(masked) != pairs+questions || masked[len(masked)-1] != n-2 {
			t.Fatalf("row %d: loss at %v, want %d positions ending at the answer's prediction %d", i, masked, pairs+questions, n-2)
		}
		// With pairs=M every listed color is scored: the objects at 1, 3, 5, ...
		for k, j := range masked[:pairs] {
			if j != 2*k+1 || colors[word(s[j])] != word(s[j+1]) {
				t.Fatalf("row %d: loss at %d predicts %q after %q, want listed pair %d", i, j, word(s[j+1]), word(s[j]), k)
			}
		}
		for _, j := range masked[pairs : pairs+questions-1] {
			if word(s[j-1]) != "the" || colors[word(s[j])] != word(s[j+1]) {
				t.Fatalf("row %d: loss at %d predicts %q after %q %q, want an answered question's color", i, j, word(s[j+1]), word(s[j-1]), word(s[j]))
			}
		}
	}
}

// TestToyTokenizer: the toy vocabulary keeps every IOI id, and its tokenizer.json reads back.
func TestToyTokenizer(t *testing.T) {
	ioi, toy := IOITokenizer(), ToyTokenizer()
	if toy.VocabSize() <= ioi.VocabSize() {
		t.Fatalf("toy vocabulary %d ids, IOI %d", toy.VocabSize(), ioi.VocabSize())
	}
	for id := range ioi.VocabSize() {
		if toy.TokenString(id) != ioi.TokenString(id) {
			t.Fatalf("id %d: %q in the toy vocabulary, %q in IOI's", id, toy.TokenString(id), ioi.TokenString(id))
		}
	}
	dir := t.TempDir()
	if err := WriteToyTokenizer(dir); err != nil {
		t.Fatal(err)
	}
	got, err := tokenizer.FromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := newTask(t, ColoredObjects, Options{}).Pairs(1, 8)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range append(p.Text, "When Mary and John went to the store, John gave a drink to") {
		a, _ := toy.Encode(text)
		b, err := got.Encode(text)
		if err != nil || !slices.Equal(a, b) || slices.Contains(a, IOIUnknown) {
			t.Fatalf("Encode(%q): %v written, %v %v read back", text, a, b, err)
		}
	}
}

// TestMix: rows come from both tasks, padded after the row's end outside the loss, in the shared
// vocabulary; the IOI rows are the IOI task's own rows (same ids as its own tokenizer gives).
// TestSplitMixList: a key=value item continues the previous task's parameters, so that a task
// with several parameters fits in a mixture.
func TestSplitMixList(t *testing.T) {
	for list, want := range map[string][]string{
		"ioi,colored-objects":                                         {"ioi", "colored-objects"},
		"colored-objects:color=after,questions=8,induction":           {"colored-objects:color=after,questions=8", "induction"},
		"ioi,colored-objects:color=after,questions=3,induction-ngram": {"ioi", "colored-objects:color=after,questions=3", "induction-ngram"},
		"icl-classify:labels=4,colored-objects:questions=2":           {"icl-classify:labels=4", "colored-objects:questions=2"},
		"ioi,questions=2": {"ioi", "questions=2"}, // no parameters to continue: New refuses it
	} {
		if got := splitMixList(list); !slices.Equal(got, want) {
			t.Errorf("splitMixList(%q) = %q, want %q", list, got, want)
		}
	}
	m := newTask(t, MixPrefix+"colored-objects:color=after,questions=3,induction", Options{})
	if m.Name() == "" {
		t.Fatal("no name")
	}
}

func TestMix(t *testing.T) {
	m := newTask(t, MixPrefix+"ioi,"+ColoredObjects, Options{})
	tok := ToyTokenizer()
	b := m.Batch(seededRand(3), 64)
	colorRows, ioiRows := 0, 0
	for i, s := range b.Tokens {
		if len(s) != len(b.Tokens[0]) || len(b.LossMask[i]) != len(s)-1 {
			t.Fatalf("row %d: %d tokens, %d mask entries; row 0 has %d tokens", i, len(s), len(b.LossMask[i]), len(b.Tokens[0]))
		}
		at := slices.Index(b.LossMask[i], true)
		if at < 0 || slices.Contains(b.LossMask[i][at+1:], true) {
			t.Fatalf("row %d: loss mask %v, want one answer", i, b.LossMask[i])
		}
		for _, id := range s[at+2:] {
			if id != IOIEndOfText {
				t.Fatalf("row %d: %v padded with %d after the answer", i, s, id)
			}
		}
		switch answer := tok.TokenString(s[at+1]); {
		case slices.Contains(ToyColors, answer):
			colorRows++
		case slices.Contains(ToyIOINames, answer):
			ioiRows++
		default:
			t.Fatalf("row %d: answer %q is neither a color nor a name", i, answer)
		}
	}
	if colorRows < 16 || ioiRows < 16 {
		t.Fatalf("%d colored-objects rows and %d IOI rows of 64", colorRows, ioiRows)
	}
	// IOI's pairs in the toy vocabulary are IOI's own.
	own, err := newTask(t, "ioi", Options{}).Pairs(9, 16)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := newTask(t, "ioi", Options{Tokenizer: tok}).Pairs(9, 16)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(own.Clean, shared.Clean, slices.Equal) || !slices.Equal(own.Answer, shared.Answer) {
		t.Error("IOI pairs differ between the IOI and the toy vocabulary")
	}
}

// TestMixForModel: a mixture's synthetic tasks are sized to the model's context (not the
// synthetic default of 64, which would not fit), and every row is padded to the longest task's.
func TestMixForModel(t *testing.T) {
	task, err := ForModel(MixPrefix+"ioi,"+ColoredObjects+","+InductionNgram, Model{Vocab: 127, NCtx: 32}, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := task.Batch(seededRand(5), 32)
	own, err := New(InductionNgram, Options{Vocab: 127, SeqLen: 32})
	if err != nil {
		t.Fatal(err)
	}
	want := len(own.Batch(seededRand(5), 1).Tokens[0]) // longer than the IOI and colored-objects rows
	for i, row := range b.Tokens {
		if len(row) != want || want > 32 || want <= 26 {
			t.Fatalf("row %d has %d tokens, want %d (induction-ngram's in 32 positions)", i, len(row), want)
		}
	}
	if len(Parts(task)) != 3 {
		t.Fatalf("Parts: %d tasks, want 3", len(Parts(task)))
	}
	if _, err := ForModel(MixPrefix+"ioi,"+ColoredObjects, Model{Vocab: 127, NCtx: 32}, 16); err == nil {
		t.Error("a --seq-len for a mixture was accepted")
	}
}

// TestColoredObjectsNames: words=names lists first names with surnames in the objects' and
// colors' places, in ToySurnameTokenizer's vocabulary, and colors=K takes the first K surnames.
func TestColoredObjectsNames(t *testing.T) {
	task := newTask(t, "colored-objects:color=bare,pairs=12,words=names,colors=3", Options{}).(*coloredObjects)
	tok := ToySurnameTokenizer()
	if task.tok.Name() != tok.Name() {
		t.Fatalf("tokenizer %s, want %s", task.tok.Name(), tok.Name())
	}
	p, err := task.Pairs(1, 20)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Clean {
		words := strings.Fields(p.Text[i])
		for k := 0; k < 24; k += 2 { // 12 pairs: a first name, then one of the first 3 surnames
			if !slices.Contains(ToyIOINames, words[k]) || !slices.Contains(ToySurnames[:3], words[k+1]) {
				t.Fatalf("row %d %q: pair %d is %q %q, want a first name and one of %v", i, p.Text[i], k/2, words[k], words[k+1], ToySurnames[:3])
			}
		}
		if a := strings.TrimSpace(tok.TokenString(p.Answer[i])); !slices.Contains(ToySurnames[:3], a) {
			t.Fatalf("row %d: answer %q is not a listed surname", i, a)
		}
	}
	for _, bad := range []string{"colored-objects:words=people", "colored-objects:words=names,colors=21", "colored-objects:colors=13"} {
		if _, err := New(bad, Options{}); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	if _, err := New("colored-objects:words=names,colors=20", Options{}); err != nil {
		t.Errorf("colors=20 with words=names: %v", err)
	}
}
