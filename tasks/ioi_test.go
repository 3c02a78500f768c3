package tasks

import (
	"slices"
	"strings"
	"testing"

	"github.com/interp-dev/interp/tokenizer"
)

func count(s []int, id int) int {
	n := 0
	for _, x := range s {
		if x == id {
			n++
		}
	}
	return n
}

// nameTokens returns the name tokens of ids, in order.
func (t *ioiTask) nameTokens(ids []int) []int {
	isName := map[int]bool{}
	for _, id := range t.nameIDs {
		isName[id] = true
	}
	var out []int
	for _, id := range ids {
		if isName[id] {
			out = append(out, id)
		}
	}
	return out
}

func TestIOIPairs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opt      Options
		plen     int
		template string // every prompt contains it, when set
	}{
		{"ioi", Options{}, 16, ""},
		{"ioi", Options{Template: 5}, 16, "had a long argument, and afterwards"},
		{"ioi-gpt2", Options{}, 16, ""},
		{"ioi-gpt2", Options{Template: 1, NoBOS: true}, 15, "went to the"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := newTask(t, tc.name, tc.opt).(*ioiTask)
			p, err := task.Pairs(1, 40)
			if err != nil {
				t.Fatal(err)
			}
			for i := range p.Clean {
				c, x := p.Clean[i], p.Corrupted[i]
				if len(c) != tc.plen || p.Pos[i] != tc.plen-1 {
					t.Fatalf("row %d: %d tokens, Pos %d; want %d tokens and Pos %d", i, len(c), p.Pos[i], tc.plen, tc.plen-1)
				}
				if (c[0] == task.bos) == tc.opt.NoBOS {
					t.Fatalf("row %d starts with %d (NoBOS %v, BOS %d)", i, c[0], tc.opt.NoBOS, task.bos)
				}
				io, s := p.Answer[i], p.Wrong[i]
				if count(c, io) != 1 || count(c, s) != 2 {
					t.Fatalf("row %d %q: IO appears %d times and S %d, want 1 and 2", i, p.Text[i], count(c, io), count(c, s))
				}
				names := task.nameTokens(c)
				// BABA (even rows): S IO S; ABBA (odd rows): IO S S.
				want := []int{s, io, s}
				if i%2 == 1 {
					want = []int{io, s, s}
				}
				if !slices.Equal(names, want) {
					t.Fatalf("row %d %q: names %v, want %v", i, p.Text[i], names, want)
				}
				abc := task.nameTokens(x)
				if len(abc) != 3 || abc[0] == abc[1] || abc[1] == abc[2] || abc[0] == abc[2] ||
					slices.Contains(abc, io) || slices.Contains(abc, s) {
					t.Fatalf("row %d: ABC names %v are not three distinct names other than IO %d and S %d", i, abc, io, s)
				}
				for j := range c {
					if c[j] != x[j] && !slices.Contains(names, c[j]) {
						t.Fatalf("row %d: clean and corrupted differ at non-name position %d", i, j)
					}
				}
				ids, err := task.tok.Encode(p.Text[i])
				if err != nil || !slices.Equal(ids, c[len(c)-len(ids):]) {
					t.Fatalf("row %d: Text %q encodes to %v, prompt is %v", i, p.Text[i], ids, c)
				}
				if !strings.Contains(p.Text[i], tc.template) {
					t.Fatalf("row %d: %q is not of template %q", i, p.Text[i], tc.template)
				}
			}
		})
	}
}

func TestIOIBatch(t *testing.T) {
	for _, name := range []string{"ioi", "ioi-gpt2"} {
		task := newTask(t, name, Options{}).(*ioiTask)
		b := task.Batch(seededRand(9), 64)
		templates := map[int]bool{}
		for i, row := range b.Tokens {
			at := slices.Index(b.LossMask[i], true) + 1 // the answer's position
			if slices.Contains(b.LossMask[i][at:], true) {
				t.Fatalf("%s row %d: loss mask %v has more than one position", name, i, b.LossMask[i])
			}
			names := task.nameTokens(row[:at])
			io := row[at]
			if len(names) != 3 || count(names, io) != 1 || names[2] == io {
				t.Fatalf("%s row %d: answer %d is not the IO of names %v", name, i, io, names)
			}
			for _, id := range row[at+1:] {
				if id != task.pad {
					t.Fatalf("%s row %d: %v is not padded after the answer with %d", name, i, row, task.pad)
				}
			}
			templates[at] = true
		}
		if len(templates) < 3 {
			t.Errorf("%s: batch answers sit at %d distinct positions; want mixed templates", name, len(templates))
		}
	}
}

func TestIOITemplates(t *testing.T) {
	if len(BABATemplates) != 15 {
		t.Fatalf("%d BABA templates, want 15", len(BABATemplates))
	}
	for _, tc := range []struct{ baba, abba string }{
		{BABATemplates[0], "Then, [A] and [B] went to the [PLACE]. [B] gave a [OBJECT] to [A]"},
		{BABATemplates[13], "The [PLACE] [A] and [B] went to had a [OBJECT]. [B] gave it to [A]"},
	} {
		if got := ABBATemplate(tc.baba); got != tc.abba {
			t.Errorf("ABBATemplate(%q) = %q, want %q", tc.baba, got, tc.abba)
		}
	}
	got := fillIOI(BABATemplates[5], []string{"John", "Mary", "John"}, "store", "drink")
	if want := "After John and Mary went to the store, John gave a drink to"; got != want {
		t.Errorf("fillIOI = %q, want %q", got, want)
	}
	gpt2 := newTask(t, "ioi-gpt2", Options{}).(*ioiTask)
	if len(gpt2.names) < 90 || len(gpt2.places) != 8 || len(gpt2.objects) != 8 {
		t.Errorf("ioi-gpt2 has %d names, %d places, %d objects; want >= 90, 8, 8", len(gpt2.names), len(gpt2.places), len(gpt2.objects))
	}
	if id := gpt2.tokenID("Mary"); id != 5335 {
		t.Errorf("ioi-gpt2 \" Mary\" = %d, want 5335", id)
	}
}

// TestIOITokenizerRoundTrip writes the toy tokenizer as tokenizer.json and
// reads it back with the repo's loader: same vocabulary, same encodings.
func TestIOITokenizerRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if err := WriteIOITokenizer(dir); err != nil {
		t.Fatal(err)
	}
	got, err := tokenizer.FromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	byName, err := tokenizer.ForModel(dir, "")
	if err != nil || byName.VocabSize() != got.VocabSize() {
		t.Fatalf("ForModel: %v", err)
	}
	want := IOITokenizer()
	if got.VocabSize() != want.VocabSize() || want.VocabSize() != 89 {
		t.Fatalf("vocab size %d read back, %d written; want 89", got.VocabSize(), want.VocabSize())
	}
	for id := range want.VocabSize() {
		if got.TokenString(id) != want.TokenString(id) {
			t.Fatalf("token %d: %q read back, %q written", id, got.TokenString(id), want.TokenString(id))
		}
	}
	if want.TokenString(IOIEndOfText) != tokenizer.EndOfTextToken || want.TokenString(IOIUnknown) != "<unk>" {
		t.Fatalf("ids 0, 1 are %q, %q", want.TokenString(0), want.TokenString(1))
	}
	task := newTask(t, "ioi", Options{})
	p, err := task.Pairs(4, 30)
	if err != nil {
		t.Fatal(err)
	}
	texts := append(p.Text, "<|endoftext|>Mary,John.went  Zebedee!", "")
	for _, text := range texts {
		a, errA := want.Encode(text)
		b, errB := got.Encode(text)
		if errA != nil || errB != nil || !slices.Equal(a, b) {
			t.Fatalf("Encode(%q): %v %v written, %v %v read back", text, a, errA, b, errB)
		}
		da, _ := want.Decode(a)
		db, _ := got.Decode(b)
		if da != db {
			t.Fatalf("Decode: %q written, %q read back", da, db)
		}
	}
	if ids, _ := want.Encode("Zebedee"); !slices.Equal(ids, []int{IOIUnknown}) {
		t.Errorf("unknown word encodes to %v, want [<unk>]", ids)
	}
	if _, err := want.Decode([]int{want.VocabSize()}); err == nil {
		t.Error("Decode of an out-of-range id did not fail")
	}
}

// TestIOISurnames: ioi:names=surname names both people in full in the first clause and the
// subject again by surname; the answer is IO's first name and the wrong one S's. Every prompt is
// read back as words, and the corrupted prompt's three people are neither IO nor S.
func TestIOISurnames(t *testing.T) {
	task := newTask(t, IOISurname, Options{}).(*ioiTask)
	tok := ToySurnameTokenizer()
	if task.tok.Name() != tok.Name() || tok.VocabSize() != ToyTokenizer().VocabSize()+len(ToySurnames) {
		t.Fatalf("tokenizer %s of %d ids, want %s of ToyTokenizer's %d + %d surnames", task.tok.Name(), task.tok.VocabSize(),
			tok.Name(), ToyTokenizer().VocabSize(), len(ToySurnames))
	}
	for id := range ToyTokenizer().VocabSize() { // ToyTokenizer's ids are unchanged
		if a, b := tok.TokenString(id), ToyTokenizer().TokenString(id); a != b {
			t.Fatalf("id %d is %q, ToyTokenizer's %q", id, a, b)
		}
	}
	words := func(ids []int) []string {
		var w []string
		for _, id := range ids {
			w = append(w, strings.TrimSpace(tok.TokenString(id)))
		}
		return w
	}
	isSurname := func(w string) bool { return slices.Contains(ToySurnames, w) }
	p, err := task.Pairs(3, 40)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Clean {
		c, x := words(p.Clean[i]), words(p.Corrupted[i])
		if len(c) != 18 || p.Pos[i] != 17 {
			t.Fatalf("row %d %q: %d tokens, Pos %d; want 18 and 17", i, p.Text[i], len(c), p.Pos[i])
		}
		io, s := tok.TokenString(p.Answer[i]), tok.TokenString(p.Wrong[i])
		// The first names in order, each followed by its surname; then the subject's surname alone.
		var firsts, lasts []string
		for j, w := range c {
			switch {
			case slices.Contains(task.names, w):
				if j+1 >= len(c) || !isSurname(c[j+1]) {
					t.Fatalf("row %d %q: first name %s is not followed by a surname", i, p.Text[i], w)
				}
				firsts = append(firsts, w)
			case isSurname(w):
				lasts = append(lasts, w)
			}
		}
		want := []string{s, io} // BABA
		if i%2 == 1 {
			want = []string{io, s}
		}
		if !slices.Equal(firsts, want) || len(lasts) != 3 {
			t.Fatalf("row %d %q: first names %v and surnames %v, want %v and three surnames", i, p.Text[i], firsts, lasts, want)
		}
		sLast := lasts[slices.Index(firsts, s)]
		if lasts[2] != sLast || lasts[0] == lasts[1] {
			t.Fatalf("row %d %q: the second mention %s is not the subject's surname %s", i, p.Text[i], lasts[2], sLast)
		}
		var xFirsts, xLasts []string
		for _, w := range x {
			if slices.Contains(task.names, w) {
				xFirsts = append(xFirsts, w)
			}
			if isSurname(w) {
				xLasts = append(xLasts, w)
			}
		}
		if len(xFirsts) != 2 || len(xLasts) != 3 || xFirsts[0] == xFirsts[1] || slices.Contains(xFirsts, io) || slices.Contains(xFirsts, s) ||
			xLasts[0] == xLasts[1] || xLasts[1] == xLasts[2] || xLasts[0] == xLasts[2] || slices.Contains(xLasts, sLast) {
			t.Fatalf("row %d: corrupted %q: first names %v and surnames %v, want two other first names and three other surnames",
				i, strings.Join(x, " "), xFirsts, xLasts)
		}
	}
	b := task.Batch(seededRand(1), 8)
	for i, row := range b.Tokens {
		at := slices.Index(b.LossMask[i], true)
		if at < 0 || !slices.Contains(task.names, strings.TrimSpace(tok.TokenString(row[at+1]))) {
			t.Fatalf("batch row %d %v: the scored token is not a first name", i, words(row))
		}
	}
	for _, bad := range []string{"ioi:names=last", "ioi:surname=1"} {
		if _, err := New(bad, Options{}); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	m, err := New("mix:"+IOISurname+",colored-objects", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := Parts(m)[1].(*coloredObjects).tok.Name(); got != tok.Name() {
		t.Errorf("mix with %s: colored-objects uses %s, want %s", IOISurname, got, tok.Name())
	}
}

// TestIOISurnameAnswer: with answer=surname both people are named in full, the subject again by
// first name, and the answer is IO's surname (wrong: S's); every batch row scores a surname. A
// mixture that lists it, or surname-name pairs (colored-objects words=names), uses
// ToySurnameTokenizer, and names=surname with answer=surname is refused.
func TestIOISurnameAnswer(t *testing.T) {
	task := newTask(t, IOISurnameAnswer, Options{}).(*ioiTask)
	tok := ToySurnameTokenizer()
	if task.tok.Name() != tok.Name() {
		t.Fatalf("tokenizer %s, want %s", task.tok.Name(), tok.Name())
	}
	word := func(id int) string { return strings.TrimSpace(tok.TokenString(id)) }
	p, err := task.Pairs(5, 40)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Clean {
		var c []string
		for _, id := range p.Clean[i] {
			c = append(c, word(id))
		}
		io, s := word(p.Answer[i]), word(p.Wrong[i])
		if !slices.Contains(ToySurnames, io) || !slices.Contains(ToySurnames, s) || io == s {
			t.Fatalf("row %d %q: answer %q and wrong %q, want two surnames", i, p.Text[i], io, s)
		}
		// The first clause: two first names, each followed by its surname; the answer's and the
		// wrong surname each once, then the subject's first name again, and no surname after it.
		var firsts []string
		lastOf := map[string]string{}
		for j, w := range c {
			if slices.Contains(task.names, w) {
				firsts = append(firsts, w)
				if j+1 < len(c) && slices.Contains(ToySurnames, c[j+1]) {
					lastOf[w] = c[j+1]
				}
			}
		}
		if len(firsts) != 3 || len(lastOf) != 2 || firsts[2] == "" || lastOf[firsts[2]] != s || firsts[0] == firsts[1] {
			t.Fatalf("row %d %q: first names %v with surnames %v; want two people in full, then the subject (surname %s) by first name",
				i, p.Text[i], firsts, lastOf, s)
		}
		ioFirst := firsts[0]
		if ioFirst == firsts[2] {
			ioFirst = firsts[1]
		}
		if lastOf[ioFirst] != io {
			t.Fatalf("row %d %q: answer %s is not the surname of %s, the person not named again", i, p.Text[i], io, ioFirst)
		}
	}
	b := task.Batch(seededRand(2), 8)
	for i, row := range b.Tokens {
		at := slices.Index(b.LossMask[i], true)
		if at < 0 || !slices.Contains(ToySurnames, word(row[at+1])) {
			t.Fatalf("batch row %d: the scored token is not a surname", i)
		}
	}
	if _, err := New("ioi:names=surname,answer=surname", Options{}); err == nil || !strings.Contains(err.Error(), "answer=surname with names=surname") {
		t.Errorf("names=surname,answer=surname: err %v", err)
	}
	if _, err := New("ioi:answer=last", Options{}); err == nil {
		t.Error("ioi:answer=last: no error")
	}
	for _, list := range []string{"mix:ioi," + IOISurnameAnswer, "mix:ioi,colored-objects:color=bare,pairs=12,words=names"} {
		m, err := New(list, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := Parts(m)[0].(*ioiTask).tok.Name(); got != tok.Name() {
			t.Errorf("%s: ioi uses %s, want %s", list, got, tok.Name())
		}
	}
}
