package tasks

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/interp-dev/interp/tokenizer"
)

// GreaterThanNouns are the nouns of Hanna et al. (2023) (the list of the
// ACDC code); the task uses those that are one token with a leading space.
var GreaterThanNouns = []string{
	"abduction", "accord", "affair", "agreement", "appraisal", "assaults", "assessment", "attack", "attempts",
	"campaign", "captivity", "case", "challenge", "chaos", "clash", "collaboration", "coma", "competition",
	"confrontation", "consequence", "conspiracy", "construction", "consultation", "contact", "contract",
	"convention", "cooperation", "custody", "deal", "decline", "decrease", "demonstrations", "development",
	"disagreement", "disorder", "dispute", "domination", "dynasty", "effect", "effort", "employment", "endeavor",
	"engagement", "epidemic", "evaluation", "exchange", "existence", "expansion", "expedition", "experiments",
	"fall", "fame", "flights", "friendship", "growth", "hardship", "hostility", "illness", "impact",
	"imprisonment", "improvement", "incarceration", "increase", "insurgency", "invasion", "investigation",
	"journey", "kingdom", "marriage", "modernization", "negotiation", "notoriety", "obstruction", "operation",
	"order", "outbreak", "outcome", "overhaul", "patrols", "pilgrimage", "plague", "plan", "practice", "process",
	"program", "progress", "project", "pursuit", "quest", "raids", "reforms", "reign", "relationship",
	"retaliation", "riot", "rise", "rivalry", "romance", "rule", "sanctions", "shift", "siege", "slump",
	"stature", "stint", "strikes", "study", "test", "testing", "tests", "therapy", "tour", "tradition", "treaty",
	"trial", "trip", "unemployment", "voyage", "warfare", "work",
}

// greaterThan is the year-span task of Hanna et al. (2023):
//
//	[BOS] "The <noun> lasted from the year 17YY to the year 17"
//
// in which " 17YY" is the two tokens " 17" and "YY". Only the YY in 02..98
// for which that holds are used (with GPT-2 all of them). The corrupted
// prompt has YY = 01. AnswerSets are the two-digit tokens YY+1..99 and
// WrongSets 00..YY; the single pair is Answer = YY+1, Wrong = YY-1 (the
// nearest years on each side of the boundary that are not YY itself).
//
// Note: Hanna et al.'s code ends the prompt "... 17YY to 17"; we use the
// paper's wording "... to the year 17".
type greaterThan struct {
	tok      tokenizer.Tokenizer
	bos, pad int
	nouns    []string
	years    []int // usable YY
	yy       [100]int
	p        int // prompt length, BOS included
}

func newGreaterThan(opt Options) (Task, error) {
	t := &greaterThan{tok: opt.Tokenizer}
	if t.tok == nil {
		tok, err := tokenizer.GPT2()
		if err != nil {
			return nil, err
		}
		t.tok = tok
	}
	for i := range 100 {
		id, err := tokenizer.SingleToken(t.tok, fmt.Sprintf("%02d", i))
		if err != nil {
			return nil, fmt.Errorf("two-digit year %02d: %w", i, err)
		}
		t.yy[i] = id
	}
	c17, err := tokenizer.SingleToken(t.tok, " 17")
	if err != nil {
		return nil, err
	}
	for yy := 1; yy <= 98; yy++ {
		ids, err := t.tok.Encode(fmt.Sprintf(" 17%02d", yy))
		if err != nil {
			return nil, err
		}
		ok := slices.Equal(ids, []int{c17, t.yy[yy]})
		if yy == 1 && !ok {
			return nil, fmt.Errorf("the corrupted year \" 1701\" is not \" 17\" \"01\" with %s (ids %v)", t.tok.Name(), ids)
		}
		if yy >= 2 && ok {
			t.years = append(t.years, yy)
		}
	}
	if len(t.years) == 0 {
		return nil, fmt.Errorf("no year 1702..1798 is \" 17\" + \"YY\" with %s", t.tok.Name())
	}
	if t.nouns, err = singleTokenWords(t.tok, GreaterThanNouns, "nouns", 1); err != nil {
		return nil, err
	}
	t.bos, t.pad = bosAndPad(t.tok, opt.NoBOS)
	lens := map[int]bool{}
	for _, noun := range t.nouns {
		for _, yy := range []int{1, t.years[0]} {
			ids, err := encodeBOS(t.tok, t.bos, t.text(noun, yy))
			if err != nil {
				return nil, err
			}
			lens[len(ids)] = true
			t.p = len(ids)
		}
	}
	if len(lens) != 1 {
		return nil, fmt.Errorf("prompts differ in token length with %s: %v", t.tok.Name(), lens)
	}
	if err := checkTextSizes(t.tok, opt, t.p+1); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *greaterThan) Name() string { return "greater-than" }

func (t *greaterThan) text(noun string, yy int) string {
	return fmt.Sprintf("The %s lasted from the year 17%02d to the year 17", noun, yy)
}

// mustEncode encodes a prompt whose length newGreaterThan checked.
func (t *greaterThan) mustEncode(text string) []int {
	return mustEncodeLen("greater-than", t.tok, t.bos, text, t.p)
}

// Batch rows are a prompt followed by a year drawn uniformly from YY+1..99;
// only that year's prediction counts in the loss.
func (t *greaterThan) Batch(rng *rand.Rand, batch int) Batch {
	b := Batch{Tokens: make([][]int, batch), LossMask: make([][]bool, batch)}
	for i := range b.Tokens {
		noun, yy := t.nouns[rng.IntN(len(t.nouns))], t.years[rng.IntN(len(t.years))]
		ids := append(t.mustEncode(t.text(noun, yy)), t.yy[randIn(rng, yy+1, 100)])
		b.Tokens[i], b.LossMask[i] = ids, maskAt(len(ids), len(ids)-2)
	}
	return b
}

func (t *greaterThan) Pairs(seed uint64, n int) (*Pairs, error) {
	if err := checkPairsN("greater-than", n); err != nil {
		return nil, err
	}
	rng := seededRand(seed)
	p := newPairs(n)
	p.Text = make([]string, n)
	p.AnswerSets, p.WrongSets = make([][]int, n), make([][]int, n)
	for i := range n {
		noun, yy := t.nouns[rng.IntN(len(t.nouns))], t.years[rng.IntN(len(t.years))]
		p.Text[i] = t.text(noun, yy)
		p.Clean[i] = t.mustEncode(p.Text[i])
		p.Corrupted[i] = t.mustEncode(t.text(noun, 1))
		p.Pos[i] = t.p - 1
		p.Answer[i], p.Wrong[i] = t.yy[yy+1], t.yy[yy-1]
		p.AnswerSets[i] = slices.Clone(t.yy[yy+1:])
		p.WrongSets[i] = slices.Clone(t.yy[:yy+1])
	}
	return p, nil
}
