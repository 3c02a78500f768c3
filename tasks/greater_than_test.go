package tasks

import (
	"fmt"
	"slices"
	"testing"

	"github.com/interp-dev/interp/tokenizer"
)

func TestGreaterThan(t *testing.T) {
	task := newTask(t, "greater-than", Options{}).(*greaterThan)
	tok, _ := tokenizer.GPT2()
	if len(task.years) != 97 {
		t.Errorf("%d usable years, want all of 02..98 (97) with GPT-2", len(task.years))
	}
	p, err := task.Pairs(1, 50)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Clean {
		c, x := p.Clean[i], p.Corrupted[i]
		text, _ := tok.Decode(c)
		if want := tokenizer.EndOfTextToken + p.Text[i]; text != want {
			t.Fatalf("row %d decodes to %q, want %q", i, text, want)
		}
		// " 17", "YY" at positions 7, 8 after BOS; corrupted YY is "01".
		yyTok := c[8]
		yy := slices.Index(task.yy[:], yyTok)
		if tok.TokenString(c[7]) != " 17" || yy < 2 || yy > 98 || tok.TokenString(x[8]) != "01" {
			t.Fatalf("row %d: year tokens %q %q, corrupted %q", i, tok.TokenString(c[7]), tok.TokenString(c[8]), tok.TokenString(x[8]))
		}
		if p.Answer[i] != task.yy[yy+1] || p.Wrong[i] != task.yy[yy-1] {
			t.Fatalf("row %d (YY=%02d): Answer %q Wrong %q", i, yy, tok.TokenString(p.Answer[i]), tok.TokenString(p.Wrong[i]))
		}
		if len(p.AnswerSets[i])+len(p.WrongSets[i]) != 100 || len(p.WrongSets[i]) != yy+1 {
			t.Fatalf("row %d (YY=%02d): %d answers and %d wrong years, want %d and %d", i, yy, len(p.AnswerSets[i]), len(p.WrongSets[i]), 99-yy, yy+1)
		}
		for _, id := range p.AnswerSets[i] {
			var y int
			fmt.Sscanf(tok.TokenString(id), "%d", &y)
			if y <= yy || slices.Contains(p.WrongSets[i], id) {
				t.Fatalf("row %d (YY=%02d): answer year %q", i, yy, tok.TokenString(id))
			}
		}
		if !slices.Contains(p.AnswerSets[i], p.Answer[i]) || !slices.Contains(p.WrongSets[i], p.Wrong[i]) {
			t.Fatalf("row %d: Answer/Wrong are not in their sets", i)
		}
	}
	b := task.Batch(seededRand(1), 32)
	for i, row := range b.Tokens {
		yy, next := slices.Index(task.yy[:], row[8]), slices.Index(task.yy[:], row[len(row)-1])
		if next <= yy || !b.LossMask[i][len(row)-2] || slices.Contains(b.LossMask[i][:len(row)-2], true) {
			t.Fatalf("row %d: year 17%02d followed by %02d, mask %v", i, yy, next, b.LossMask[i])
		}
	}
}
