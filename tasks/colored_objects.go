package tasks

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/interp-dev/interp/tokenizer"
)

// ColoredObjects is the task name of the toy Colored Objects task (Ippolito & Callison-Burch
// 2023, in the form Merullo et al. 2024 compare with IOI). "colored-objects:color=after" writes
// each color after its object (ColoredObjectsAfterTemplates); "colored-objects:questions=N" asks
// N-1 answered questions before the last, each scored in training; "colored-objects:color=bare"
// lists the object-color pairs with no other words before the question (an ablation), and
// "colored-objects:color=bare,pairs=N" lists N pairs of the same three objects, each at least
// once, scoring every listed color as icl-classify scores every label; "colors=K" draws the
// colors from the first K of ToyColors only; "words=names" puts first names (ToyIOINames) in
// the objects' place and surnames (ToySurnames) in the colors', so "color=bare,words=names"
// lists first-name/surname pairs ("Mary Smith John Jones ..."), the look-up that
// "ioi:answer=surname" needs, in ToySurnameTokenizer's vocabulary (colors=K then takes the
// first K surnames).
const ColoredObjects = "colored-objects"

// isColoredObjects reports whether name is colored-objects, with or without parameters.
func isColoredObjects(name string) bool {
	return name == ColoredObjects || strings.HasPrefix(name, ColoredObjects+":")
}

// coloredForm is what the parameters of
// "colored-objects:color=before|after|bare,questions=N,pairs=M,colors=K" select.
type coloredForm struct {
	templates []string
	questions int  // questions per prompt; the last one is unanswered
	pairs     int  // listed pairs with pairs=M (0: the templates' three, in order)
	palette   int  // the palette's size: the first K of colorWords (0: all)
	names     bool // words=names: first names as the objects, surnames as the colors
	// colorWords and objectWords are the lists the colors and objects are drawn from: ToyColors
	// and ToyColoredObjects, or with words=names ToySurnames and ToyIOINames.
	colorWords, objectWords []string
}

// parseColoredForm parses a colored-objects task name's parameters.
func parseColoredForm(name string) (coloredForm, error) {
	f := coloredForm{questions: 1, colorWords: ToyColors, objectWords: ToyColoredObjects}
	params, err := taskParams(name, ColoredObjects,
		"color=before|after|bare, questions=1..16, pairs=3..32 (with color=bare), colors=3..12 (3..20 with words=names), words=objects|names",
		"color", "questions", "pairs", "colors", "words")
	if err != nil {
		return f, err
	}
	switch v, ok := params["words"]; {
	case !ok || v == "objects":
	case v == "names":
		f.names, f.colorWords, f.objectWords = true, ToySurnames, ToyIOINames
	default:
		return f, fmt.Errorf("words=%s: want objects or names", v)
	}
	if v, ok := params["questions"]; ok {
		if f.questions, err = strconv.Atoi(v); err != nil || f.questions < 1 || f.questions > maxColoredQuestions {
			return f, fmt.Errorf("questions=%s: want a whole number from 1 to %d", v, maxColoredQuestions)
		}
	}
	if v, ok := params["colors"]; ok {
		if f.palette, err = strconv.Atoi(v); err != nil || f.palette < coloredObjectsItems || f.palette > len(f.colorWords) {
			return f, fmt.Errorf("colors=%s: want a whole number from %d to %d", v, coloredObjectsItems, len(f.colorWords))
		}
	}
	if v, ok := params["pairs"]; ok {
		if params["color"] != "bare" {
			return f, fmt.Errorf("pairs=%s: only color=bare lists a chosen number of pairs", v)
		}
		if f.pairs, err = strconv.Atoi(v); err != nil || f.pairs < coloredObjectsItems || f.pairs > maxColoredPairs {
			return f, fmt.Errorf("pairs=%s: want a whole number from %d to %d", v, coloredObjectsItems, maxColoredPairs)
		}
		f.templates = []string{strings.Repeat("[O] [C] ", f.pairs) + ". " + coloredQuestion + "[O]"}
		return f, nil
	}
	switch v, ok := params["color"]; {
	case !ok || v == "before":
		f.templates = ColoredObjectsTemplates
	case v == "after":
		f.templates = ColoredObjectsAfterTemplates
	case v == "bare":
		f.templates = ColoredObjectsBareTemplates
	default:
		return f, fmt.Errorf("color=%s: want before, after or bare", v)
	}
	return f, nil
}

// maxColoredQuestions bounds questions=N, maxColoredPairs pairs=M.
const (
	maxColoredQuestions = 16
	maxColoredPairs     = 32
)

// coloredQuestion is the question that ends every template; with questions=N the prompt asks
// N-1 answered questions before it ("What color is the cup red ."), each about an item drawn at
// random, and training scores every answer.
const coloredQuestion = "What color is the "

// ColoredObjectsTemplates are the prompts of the colored-objects task: three colored objects
// on a surface, then the question, whose answer (the color) follows the object asked about. [S]
// is the surface, each "[C] [O]" a color and an object, and the last [O] the object asked about.
// Both templates have the same token length.
//
// Merullo et al.'s prompts put "? A:" between the object and the answer. Here the answer comes
// right after it, so the look-up is one step fewer (attend from the object to its earlier mention
// and read the color before it). Even so the 3-layer toy model of docs/STUDY_REUSE.md did not learn
// it within 6000 steps while it learnt IOI. With three colors (colors=3) and bare pairs
// (color=bare,pairs=12) in the same mixture, a 2-layer attention-only model learns all three (see
// there).
var ColoredObjectsTemplates = []string{
	"On the [S] , I see a [C] [O] , a [C] [O] and a [C] [O] . What color is the [O]",
	"I see a [C] [O] , a [C] [O] and a [C] [O] on the [S] today . What color is the [O]",
}

// ColoredObjectsAfterTemplates are the templates of "colored-objects:color=after": each color
// follows its object ("a cup red"), so the answer is the token after the earlier mention of the
// object asked about, which an induction head (previous-token head plus copy) reads directly.
var ColoredObjectsAfterTemplates = []string{
	"On the [S] , I see a [O] [C] , a [O] [C] and a [O] [C] . What color is the [O]",
	"I see a [O] [C] , a [O] [C] and a [O] [C] on the [S] today . What color is the [O]",
}

// ColoredObjectsBareTemplates are the template of "colored-objects:color=bare": the three
// object-color pairs alone, as icl-classify lists its exemplar-label pairs, then the question.
// It asks whether the template's other words keep the 2-layer toy from learning the look-up
// (docs/STUDY_REUSE.md).
var ColoredObjectsBareTemplates = []string{
	"[O] [C] [O] [C] [O] [C] . What color is the [O]",
}

// The colored-objects words (ToyTokenizer adds them after the IOI vocabulary).
var (
	ToyColors         = []string{"red", "blue", "green", "yellow", "black", "white", "brown", "orange", "purple", "pink", "gray", "silver"}
	ToyColoredObjects = []string{"cup", "ball", "pen", "hat", "key", "box", "lamp", "phone", "shoe", "bag", "plate", "clock"}
	ToySurfaces       = []string{"table", "floor", "desk", "shelf", "bed", "chair"}
)

// coloredObjectsItems is the number of colored objects in a prompt.
const coloredObjectsItems = 3

// coloredObjects: prompts are [BOS] + a template filled with three distinct objects of three
// distinct colors, ending at the object asked about; the answer is its color.
// Pairs: Answer is that color, Wrong the color of another object in the list, and the
// corrupted prompt asks about that other object (so its answer is Wrong). Batch rows are whole
// prompts with the answer, and only the answer's prediction counts in the loss.
type coloredObjects struct {
	name                     string
	tok                      tokenizer.Tokenizer
	ownTok                   bool // tok is ToyTokenizer (ToySurnameTokenizer with words=names), chosen by the task
	bos                      int
	colors, objects, surface []string
	ids                      map[string]int // word -> id of " "+word
	length                   int            // prompt length, BOS included
	coloredForm
}

func newColoredObjects(name string, opt Options) (Task, error) {
	t := &coloredObjects{name: name, tok: opt.Tokenizer}
	var err error
	if t.coloredForm, err = parseColoredForm(name); err != nil {
		return nil, err
	}
	if t.tok == nil {
		t.tok, t.ownTok = ToyTokenizer(), true
		if t.names {
			t.tok = ToySurnameTokenizer()
		}
	}
	palette := t.colorWords
	if t.palette > 0 {
		palette = palette[:t.palette]
	}
	if t.colors, err = singleTokenWords(t.tok, palette, "colors", coloredObjectsItems); err != nil {
		return nil, err
	}
	if t.objects, err = singleTokenWords(t.tok, t.objectWords, "objects", coloredObjectsItems); err != nil {
		return nil, err
	}
	if t.surface, err = singleTokenWords(t.tok, ToySurfaces, "surfaces", 1); err != nil {
		return nil, err
	}
	t.ids = map[string]int{}
	for _, w := range append(append(append([]string(nil), t.colors...), t.objects...), t.surface...) {
		t.ids[w], _ = tokenizer.SingleToken(t.tok, " "+w) // one token: checked above
	}
	t.bos, _ = bosAndPad(t.tok, opt.NoBOS)
	for i, tmpl := range t.templates {
		r := t.draw(rand.New(rand.NewPCG(0, 0)), i)
		ids, err := encodeBOS(t.tok, t.bos, r.text)
		if err != nil {
			return nil, err
		}
		if i > 0 && len(ids) != t.length {
			return nil, fmt.Errorf("template %q is %d tokens with %s, template 1 is %d: every template must have one length", tmpl, len(ids), t.tok.Name(), t.length)
		}
		t.length = len(ids)
	}
	if err := checkTextSizes(t.tok, opt, t.length+1); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *coloredObjects) Name() string { return t.name }

// coloredRow is one drawn prompt: the objects' colors, the object asked about (query) and
// another listed object (other), as indexes into the three items.
type coloredRow struct {
	colors, objects    []string
	query, other       int
	asked              []int // the items of the answered questions before the last, in order
	order              []int // the item of each listed pair, in order
	text, otherText    string
	template           int
	surface            string
	answer, wrongColor string
}

func (t *coloredObjects) draw(rng *rand.Rand, template int) coloredRow {
	r := coloredRow{template: template, surface: t.surface[rng.IntN(len(t.surface))]}
	for _, i := range rng.Perm(len(t.colors))[:coloredObjectsItems] {
		r.colors = append(r.colors, t.colors[i])
	}
	for _, i := range rng.Perm(len(t.objects))[:coloredObjectsItems] {
		r.objects = append(r.objects, t.objects[i])
	}
	r.order = []int{0, 1, 2}
	if t.pairs > 0 { // every item once, then random ones, in random order (as icl-classify's classes)
		r.order = make([]int, t.pairs)
		for k := range r.order {
			r.order[k] = k
			if k >= coloredObjectsItems {
				r.order[k] = rng.IntN(coloredObjectsItems)
			}
		}
		rng.Shuffle(len(r.order), func(i, j int) { r.order[i], r.order[j] = r.order[j], r.order[i] })
	}
	r.query = rng.IntN(coloredObjectsItems)
	r.other = (r.query + 1 + rng.IntN(coloredObjectsItems-1)) % coloredObjectsItems
	for range t.questions - 1 {
		r.asked = append(r.asked, rng.IntN(coloredObjectsItems))
	}
	r.text = t.fill(template, r, r.query)
	r.otherText = t.fill(template, r, r.other)
	r.answer, r.wrongColor = r.colors[r.query], r.colors[r.other]
	return r
}

// fill writes template's prompt for r, asking about item ask.
func (t *coloredObjects) fill(template int, r coloredRow, ask int) string {
	s := strings.ReplaceAll(t.templates[template], "[S]", r.surface)
	for _, i := range r.order {
		s = strings.Replace(s, "[C]", r.colors[i], 1)
		s = strings.Replace(s, "[O]", r.objects[i], 1)
	}
	s = strings.Replace(s, "[O]", r.objects[ask], 1)
	if len(r.asked) == 0 {
		return s
	}
	i := strings.LastIndex(s, coloredQuestion)
	var qa strings.Builder
	for _, a := range r.asked {
		qa.WriteString(coloredQuestion + r.objects[a] + " " + r.colors[a] + " . ")
	}
	return s[:i] + qa.String() + s[i:]
}

// answerPositions returns the positions, in r.text's tokens, of the objects the answered
// questions ask about: the color that follows each is a prediction training scores.
func (t *coloredObjects) answerPositions(r coloredRow) []int {
	var out []int
	from := strings.LastIndex(t.templates[r.template], coloredQuestion) // where the list ends
	for k := range r.asked {
		// The k-th answered question ends at the k+1-th coloredQuestion after the list.
		end := from
		for range k + 1 {
			end += strings.Index(r.text[end:], coloredQuestion) + len(coloredQuestion)
		}
		end += len(r.objects[r.asked[k]])
		ids, err := encodeBOS(t.tok, t.bos, r.text[:end])
		if err != nil {
			panic(fmt.Sprintf("tasks: %s: %v", t.name, err)) // the whole text encoded in newColoredObjects
		}
		out = append(out, len(ids)-1)
	}
	return out
}

// listPositions returns, with pairs=M, the positions of the listed objects in r.text's tokens:
// the color that follows each is a prediction training scores (the first mention of an object
// only as a color not listed yet, the later ones from the context).
func (t *coloredObjects) listPositions(r coloredRow) []int {
	if t.pairs == 0 {
		return nil
	}
	words := strings.Fields(r.text) // the list opens the text: object, color, object, ...
	out := make([]int, t.pairs)
	for k := range out {
		ids, err := encodeBOS(t.tok, t.bos, strings.Join(words[:2*k+1], " "))
		if err != nil {
			panic(fmt.Sprintf("tasks: %s: %v", t.name, err)) // the whole text encoded in newColoredObjects
		}
		out[k] = len(ids) - 1
	}
	return out
}

// mustEncode encodes a prompt of a template whose length newColoredObjects checked.
func (t *coloredObjects) mustEncode(text string) []int {
	return mustEncodeLen(t.name, t.tok, t.bos, text, t.length)
}

func (t *coloredObjects) Batch(rng *rand.Rand, batch int) Batch {
	b := Batch{Tokens: make([][]int, batch), LossMask: make([][]bool, batch)}
	for i := range b.Tokens {
		r := t.draw(rng, rng.IntN(len(t.templates)))
		ids := append(t.mustEncode(r.text), t.ids[r.answer])
		b.Tokens[i], b.LossMask[i] = ids, maskAt(len(ids), append(append(t.listPositions(r), t.answerPositions(r)...), len(ids)-2)...)
	}
	return b
}

func (t *coloredObjects) Pairs(seed uint64, n int) (*Pairs, error) {
	if err := checkPairsN(t.name, n); err != nil {
		return nil, err
	}
	rng := seededRand(seed)
	p := newPairs(n)
	p.Text = make([]string, n)
	for i := range n {
		r := t.draw(rng, rng.IntN(len(t.templates)))
		p.Clean[i], p.Corrupted[i] = t.mustEncode(r.text), t.mustEncode(r.otherText)
		p.Pos[i] = t.length - 1
		p.Answer[i], p.Wrong[i] = t.ids[r.answer], t.ids[r.wrongColor]
		p.Text[i] = r.text
	}
	return p, nil
}

// WriteTokenizer saves the toy word vocabulary (tokenizer.json) into a model folder when the
// task uses it.
func (t *coloredObjects) WriteTokenizer(dir string) error {
	switch {
	case !t.ownTok:
		return nil
	case t.names:
		return WriteToySurnameTokenizer(dir)
	}
	return WriteToyTokenizer(dir)
}
