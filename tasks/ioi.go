package tasks

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/interp-dev/interp/tokenizer"
)

// ioiTask is indirect object identification (Wang et al. 2022) on the 15
// BABA templates and their ABBA forms, for the toy word vocabulary ("ioi")
// or GPT-2's tokenizer ("ioi-gpt2"). Names, places and objects are single
// tokens with a leading space (" Mary" in GPT-2, "Mary" as a word).
//
// Prompts are [BOS] + the template up to, not including, the final IO name
// ("When Mary and John went to the store, John gave a drink to"). Pairs
// alternate BABA (even rows) and ABBA (odd rows); Answer is IO, Wrong is S,
// Pos the last position. The corrupted prompt is the ABC form: the same
// template, place and object with three distinct names X, Y, Z that are
// neither IO nor S in the three name slots. All rows of one Pairs call use
// templates of one token length (see Options.Template), so no padding is
// needed.
//
// Batch rows are whole sentences, answer included, over all 30 templates;
// only the answer's prediction counts in the loss. Rows shorter than the
// longest template are padded at the end (after the answer, where a causal
// model cannot see them) with "<|endoftext|>".
//
// "ioi:names=surname" (IOISurname) gives the two people a first name and a surname
// (ToySurnames) in the first clause and names the subject again by surname alone: "When Mary
// Smith and John Jones went to the store, Jones gave a drink to", answer Mary, wrong John. The
// answer's token then never sits next to anything that tells it from the subject's first name:
// what marks the subject is its repeated surname, one position after its first name. So a
// model needs a previous-token step (the first name moved onto the surname that follows it),
// as Colored Objects in Merullo et al.'s order ("a red cup ... What color is the cup") does.
// The corrupted prompt has three people who are neither, the third named by a third surname.
// Its vocabulary is ToySurnameTokenizer.
//
// "ioi:answer=surname" (IOISurnameAnswer) names both people in full too, but names the subject
// again by first name and asks for IO's surname: "When Mary Smith and John Jones went to the
// store, John gave a drink to", answer Smith, wrong Jones. The subject is found as in plain IOI
// (its repeated first name), and the answer is the token after the other first name, so a model
// needs a previous-token step on the key side (each first name moved onto the surname after
// it, as an induction head's keys have it). The corrupted prompt names its third person again by
// first name. Same vocabulary.
type ioiTask struct {
	name                   string
	tok                    tokenizer.Tokenizer
	ownTok                 bool // tok is ToySurnameTokenizer, chosen by the task
	bos, pad               int  // bos < 0: none
	names, places, objects []string
	surnames               []string       // with names=surname or answer=surname; nil for the plain form
	answerLast             bool           // answer=surname: the subject named again by first name, IO's surname the answer
	nameIDs                map[string]int // name -> id of " "+name
	lens                   []int          // [15] prompt length, BOS included, of each BABA template
	group                  []int          // the BABA templates Pairs draws from
	batchLen               int
}

// IOISurname is the toy IOI task with first names and surnames, the subject named again by
// surname (see ioiTask).
const IOISurname = "ioi:names=surname"

// IOISurnameAnswer is the toy IOI task with first names and surnames, the subject named again
// by first name and IO's surname the answer (see ioiTask).
const IOISurnameAnswer = "ioi:answer=surname"

// ioiParams are the parameters of the toy ioi task, as taskParams describes them.
const ioiParams = "names=first|surname, answer=first|surname"

// isIOI reports whether name is the toy ioi task, with or without parameters.
func isIOI(name string) bool { return name == "ioi" || strings.HasPrefix(name, "ioi:") }

// ioiSurnames reports whether a toy ioi task name gives its people surnames (names=surname or
// answer=surname; false for any other name, or parameters that newIOI refuses).
func ioiSurnames(name string) bool {
	params, err := taskParams(name, "ioi", ioiParams, "names", "answer")
	return isIOI(name) && err == nil && (params["names"] == "surname" || params["answer"] == "surname")
}

func newIOI(name string, opt Options, gpt2 bool) (Task, error) {
	t := &ioiTask{name: name, tok: opt.Tokenizer}
	if gpt2 {
		t.names, t.places, t.objects = IOIPaperNames, IOIPaperPlaces, IOIPaperObjects
	} else {
		t.names, t.places, t.objects = ToyIOINames, ToyIOIPlaces, ToyIOIObjects
		params, err := taskParams(name, "ioi", ioiParams, "names", "answer")
		if err != nil {
			return nil, err
		}
		switch v, ok := params["names"]; {
		case !ok || v == "first":
		case v == "surname":
			t.surnames = ToySurnames
		default:
			return nil, fmt.Errorf("names=%s: want first or surname", v)
		}
		switch v, ok := params["answer"]; {
		case !ok || v == "first":
		case v == "surname" && t.surnames != nil:
			return nil, fmt.Errorf("answer=surname with names=surname asks for the surname of a person named again by surname: plain IOI on surnames; use one of the two")
		case v == "surname":
			t.surnames, t.answerLast = ToySurnames, true
		default:
			return nil, fmt.Errorf("answer=%s: want first or surname", v)
		}
		if t.surnames != nil && t.tok == nil {
			t.tok, t.ownTok = ToySurnameTokenizer(), true
		}
	}
	if t.tok == nil {
		if gpt2 {
			tok, err := tokenizer.GPT2()
			if err != nil {
				return nil, err
			}
			t.tok = tok
		} else {
			t.tok = IOITokenizer()
		}
	}
	var err error
	if t.names, err = singleTokenWords(t.tok, t.names, "names", 5); err != nil {
		return nil, err
	}
	if t.places, err = singleTokenWords(t.tok, t.places, "places", 1); err != nil {
		return nil, err
	}
	if t.objects, err = singleTokenWords(t.tok, t.objects, "objects", 1); err != nil {
		return nil, err
	}
	if t.surnames != nil {
		if t.surnames, err = singleTokenWords(t.tok, t.surnames, "surnames", 5); err != nil {
			return nil, err
		}
	}
	t.nameIDs = map[string]int{}
	for _, w := range append(append([]string(nil), t.names...), t.surnames...) {
		t.nameIDs[w], _ = tokenizer.SingleToken(t.tok, " "+w) // one token: checked above
	}
	t.bos, t.pad = bosAndPad(t.tok, opt.NoBOS)

	// Names, places and objects are single tokens, so each template's
	// prompts all have one length; measure it with the first words.
	count := map[int]int{}
	for _, tmpl := range BABATemplates {
		ids, err := t.encode(fillIOI(tmpl, t.promptSlots(false, t.person(0), t.person(1)), t.places[0], t.objects[0]))
		if err != nil {
			return nil, err
		}
		t.lens = append(t.lens, len(ids))
		count[len(ids)]++
		t.batchLen = max(t.batchLen, len(ids)+1)
	}
	switch {
	case opt.Template < 0 || opt.Template > len(BABATemplates):
		return nil, fmt.Errorf("template %d is out of range [1, %d] (0 = all templates of the most common length)", opt.Template, len(BABATemplates))
	case opt.Template > 0:
		t.group = []int{opt.Template - 1}
	default:
		best := 0
		for l, c := range count {
			if c > count[best] || c == count[best] && l < best {
				best = l
			}
		}
		for i, l := range t.lens {
			if l == best {
				t.group = append(t.group, i)
			}
		}
	}
	if err := checkTextSizes(t.tok, opt, t.batchLen); err != nil {
		return nil, err
	}
	return t, nil
}

// singleTokenWords returns the words of list that are one token with a
// leading space under tok, and an error if fewer than need remain.
func singleTokenWords(tok tokenizer.Tokenizer, list []string, what string, need int) ([]string, error) {
	var keep []string
	for _, w := range list {
		id, err := tokenizer.SingleToken(tok, " "+w)
		// A word-level tokenizer maps unknown words to one unk token:
		// require the token to be the word itself.
		if err == nil && strings.TrimSpace(tok.TokenString(id)) == w {
			keep = append(keep, w)
		}
	}
	if len(keep) < need {
		return nil, fmt.Errorf("only %d of the %d %s are single tokens with %s, need %d", len(keep), len(list), what, tok.Name(), need)
	}
	return keep, nil
}

// bosAndPad returns the tokenizer's "<|endoftext|>" id as BOS (-1 if noBOS
// or it has none) and as the padding id (0 if it has none).
func bosAndPad(tok tokenizer.Tokenizer, noBOS bool) (bos, pad int) {
	eot, err := tokenizer.SingleToken(tok, tokenizer.EndOfTextToken)
	if err != nil {
		return -1, 0
	}
	if noBOS {
		return -1, eot
	}
	return eot, eot
}

// encodeBOS tokenizes text with tok and puts bos in front (none when bos < 0).
func encodeBOS(tok tokenizer.Tokenizer, bos int, text string) ([]int, error) {
	ids, err := tok.Encode(text)
	if err != nil {
		return nil, err
	}
	if bos >= 0 {
		ids = append([]int{bos}, ids...)
	}
	return ids, nil
}

// mustEncodeLen is encodeBOS for a prompt whose template's length the task checked when it was
// made: any other length is a bug in the task.
func mustEncodeLen(task string, tok tokenizer.Tokenizer, bos int, text string, want int) []int {
	ids, err := encodeBOS(tok, bos, text)
	if err != nil || len(ids) != want {
		panic(fmt.Sprintf("tasks: %s: prompt %q: %d tokens (want %d), %v", task, text, len(ids), want, err))
	}
	return ids
}

// checkTextSizes checks a text task's tokenizer and longest sequence
// against Options.Vocab and Options.SeqLen.
func checkTextSizes(tok tokenizer.Tokenizer, opt Options, longest int) error {
	if opt.Vocab > 0 && tok.VocabSize() > opt.Vocab {
		return fmt.Errorf("tokenizer %s has %d ids, more than the model's vocabulary of %d", tok.Name(), tok.VocabSize(), opt.Vocab)
	}
	if opt.SeqLen > 0 && longest > opt.SeqLen {
		return fmt.Errorf("sequences of %d tokens do not fit the model's %d positions", longest, opt.SeqLen)
	}
	return nil
}

// fillIOI fills a template's prompt: everything before the final " [A]",
// with names[i] in the i-th name slot ([A] or [B]) in order of appearance.
func fillIOI(tmpl string, names []string, place, object string) string {
	body := strings.TrimSuffix(tmpl, " [A]")
	body = strings.ReplaceAll(body, "[PLACE]", place)
	body = strings.ReplaceAll(body, "[OBJECT]", object)
	var sb strings.Builder
	for k := 0; ; k++ {
		a, b := strings.Index(body, "[A]"), strings.Index(body, "[B]")
		i := a
		if i < 0 || b >= 0 && b < i {
			i = b
		}
		if i < 0 {
			break
		}
		sb.WriteString(body[:i])
		sb.WriteString(names[k])
		body = body[i+3:]
	}
	sb.WriteString(body)
	return sb.String()
}

// person is one name of a prompt: a first name, and a surname with names=surname ("" otherwise).
type person struct{ first, last string }

// full is the person as the first clause names them.
func (p person) full() string {
	if p.last == "" {
		return p.first
	}
	return p.first + " " + p.last
}

// again is the person as a later mention names them: by surname when they have one, by first
// name with answer=surname.
func (t *ioiTask) again(p person) string {
	if p.last == "" || t.answerLast {
		return p.first
	}
	return p.last
}

// answerID is the token that names p as the answer: the first name, or with answer=surname the
// surname.
func (t *ioiTask) answerID(p person) int {
	if t.answerLast {
		return t.tokenID(p.last)
	}
	return t.tokenID(p.first)
}

// person returns the i-th first name, with the i-th surname in the surname form.
func (t *ioiTask) person(i int) person {
	p := person{first: t.names[i]}
	if t.surnames != nil {
		p.last = t.surnames[i]
	}
	return p
}

// nameSlots fills a template's three name slots: a and b as the first clause names them, then
// again as a later mention does (by surname with names=surname).
func (t *ioiTask) nameSlots(a, b, again person) []string {
	return []string{a.full(), b.full(), t.again(again)}
}

// promptSlots fills the name slots for io and s: S, IO, S for BABA and IO, S, S for ABBA.
func (t *ioiTask) promptSlots(abba bool, io, s person) []string {
	if abba {
		return t.nameSlots(io, s, s)
	}
	return t.nameSlots(s, io, s)
}

func (t *ioiTask) Name() string { return t.name }

// encode tokenizes text with the BOS prepended.
func (t *ioiTask) encode(text string) ([]int, error) { return encodeBOS(t.tok, t.bos, text) }

// tokenID returns the id of " "+name.
func (t *ioiTask) tokenID(name string) int { return t.nameIDs[name] }

// ioiRow is one drawn IOI example.
type ioiRow struct {
	template       int // index into BABATemplates
	abba           bool
	io, s          person
	place, object  string
	cleanText, abc string
}

func (t *ioiTask) drawRow(rng *rand.Rand, template int, abba bool) ioiRow {
	perm := rng.Perm(len(t.names))
	r := ioiRow{
		template: template,
		abba:     abba,
		io:       person{first: t.names[perm[0]]},
		s:        person{first: t.names[perm[1]]},
		place:    t.places[rng.IntN(len(t.places))],
		object:   t.objects[rng.IntN(len(t.objects))],
	}
	abc := []person{{first: t.names[perm[2]]}, {first: t.names[perm[3]]}, {first: t.names[perm[4]]}}
	if t.surnames != nil { // drawn after the plain form's draws, which stay as they were
		sp := rng.Perm(len(t.surnames))
		r.io.last, r.s.last = t.surnames[sp[0]], t.surnames[sp[1]]
		for k := range abc {
			abc[k].last = t.surnames[sp[2+k]]
		}
	}
	tmpl := BABATemplates[template]
	if abba {
		tmpl = ABBATemplate(tmpl)
	}
	r.cleanText = fillIOI(tmpl, t.promptSlots(abba, r.io, r.s), r.place, r.object)
	r.abc = fillIOI(tmpl, t.nameSlots(abc[0], abc[1], abc[2]), r.place, r.object)
	return r
}

func (t *ioiTask) Batch(rng *rand.Rand, batch int) Batch {
	b := Batch{Tokens: make([][]int, batch), LossMask: make([][]bool, batch)}
	for i := range b.Tokens {
		r := t.drawRow(rng, rng.IntN(len(BABATemplates)), rng.IntN(2) == 1)
		ids, err := t.encode(r.cleanText)
		if err != nil || len(ids) != t.lens[r.template] {
			panic(fmt.Sprintf("tasks: %s: prompt %q: %d tokens (want %d), %v", t.name, r.cleanText, len(ids), t.lens[r.template], err))
		}
		answerAt := len(ids)
		ids = append(ids, t.answerID(r.io))
		for len(ids) < t.batchLen {
			ids = append(ids, t.pad)
		}
		b.Tokens[i] = ids
		b.LossMask[i] = maskAt(t.batchLen, answerAt-1)
	}
	return b
}

func (t *ioiTask) Pairs(seed uint64, n int) (*Pairs, error) {
	if err := checkPairsN(t.name, n); err != nil {
		return nil, err
	}
	rng := seededRand(seed)
	p := newPairs(n)
	p.Text = make([]string, n)
	for i := range n {
		r := t.drawRow(rng, t.group[rng.IntN(len(t.group))], i%2 == 1)
		clean, err := t.encode(r.cleanText)
		if err != nil {
			return nil, fmt.Errorf("tasks: %s: prompt %q: %w", t.name, r.cleanText, err)
		}
		corrupted, err := t.encode(r.abc)
		if err != nil {
			return nil, fmt.Errorf("tasks: %s: prompt %q: %w", t.name, r.abc, err)
		}
		want := t.lens[t.group[0]]
		if len(clean) != want || len(corrupted) != want {
			return nil, fmt.Errorf("tasks: %s: prompts of one Pairs call differ in token length: %q is %d tokens, %q %d, want %d",
				t.name, r.cleanText, len(clean), r.abc, len(corrupted), want)
		}
		p.Clean[i], p.Corrupted[i] = clean, corrupted
		p.Pos[i] = want - 1
		p.Answer[i], p.Wrong[i] = t.answerID(r.io), t.answerID(r.s)
		p.Text[i] = r.cleanText
	}
	return p, nil
}

// WriteTokenizer saves the toy task's word-level tokenizer (tokenizer.json) into a model
// folder, so a model trained on "ioi" carries its vocabulary; for "ioi-gpt2" it does nothing
// (GPT-2's tokenizer is built in). Training calls it for every checkpoint.
func (t *ioiTask) WriteTokenizer(dir string) error {
	switch {
	case t.ownTok:
		return WriteToySurnameTokenizer(dir)
	case !isIOI(t.name):
		return nil
	}
	return WriteIOITokenizer(dir)
}
