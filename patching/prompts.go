package patching

import (
	"fmt"

	"github.com/interp-dev/interp/model"
)

// Prompts are the clean/corrupted pairs a patching experiment runs on, with the answers its
// metric scores. They mirror tasks.Pairs field for field.
type Prompts struct {
	// Clean and Corrupted are token rows [N][P]; every row has the same length P.
	Clean, Corrupted [][]int
	// Answer and Wrong are, per row, the correct and the wrong next token at Pos
	// (logit difference = logit[Answer] - logit[Wrong]).
	Answer, Wrong []int
	// Pos is, per row, the position whose logits are scored.
	Pos []int
	// AnswerSets and WrongSets optionally replace Answer and Wrong by sets of tokens
	// (greater-than: every year above YY against every year up to YY); nil otherwise.
	AnswerSets, WrongSets [][]int
}

// N is the number of prompt pairs.
func (p *Prompts) N() int { return len(p.Clean) }

// Len is the number of positions P of every row.
func (p *Prompts) Len() int { return len(p.Clean[0]) }

// Validate checks the prompts against a model config; the error names the offending row,
// position or token.
func (p *Prompts) Validate(c model.Config) error {
	if p == nil || len(p.Clean) == 0 {
		return fmt.Errorf("patching: prompts: no clean prompts")
	}
	n, P := len(p.Clean), len(p.Clean[0])
	if len(p.Corrupted) != n {
		return fmt.Errorf("patching: prompts: %d clean rows but %d corrupted rows", n, len(p.Corrupted))
	}
	if P == 0 || P > c.NCtx {
		return fmt.Errorf("patching: prompts: length %d outside [1, n_ctx=%d]", P, c.NCtx)
	}
	for name, rows := range map[string][][]int{"clean": p.Clean, "corrupted": p.Corrupted} {
		for i, r := range rows {
			if len(r) != P {
				return fmt.Errorf("patching: prompts: %s row %d has %d tokens, row 0 has %d (rows must have equal length)", name, i, len(r), P)
			}
			for j, t := range r {
				if t < 0 || t >= c.DVocab {
					return fmt.Errorf("patching: prompts: %s row %d position %d: token %d outside the vocabulary [0, %d)", name, i, j, t, c.DVocab)
				}
			}
		}
	}
	if len(p.Pos) != n {
		return fmt.Errorf("patching: prompts: %d rows but %d scored positions", n, len(p.Pos))
	}
	for i, q := range p.Pos {
		if q < 0 || q >= P {
			return fmt.Errorf("patching: prompts: row %d: scored position %d outside [0, %d)", i, q, P)
		}
	}
	checkTok := func(what string, i, t int) error {
		if t < 0 || t >= c.DVocab {
			return fmt.Errorf("patching: prompts: row %d: %s token %d outside the vocabulary [0, %d)", i, what, t, c.DVocab)
		}
		return nil
	}
	if p.AnswerSets != nil || p.WrongSets != nil {
		if len(p.AnswerSets) != n || len(p.WrongSets) != n {
			return fmt.Errorf("patching: prompts: %d rows but %d answer sets and %d wrong sets", n, len(p.AnswerSets), len(p.WrongSets))
		}
		for i := range n {
			if len(p.AnswerSets[i]) == 0 || len(p.WrongSets[i]) == 0 {
				return fmt.Errorf("patching: prompts: row %d has an empty answer or wrong set", i)
			}
			for _, t := range p.AnswerSets[i] {
				if err := checkTok("answer-set", i, t); err != nil {
					return err
				}
			}
			for _, t := range p.WrongSets[i] {
				if err := checkTok("wrong-set", i, t); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if len(p.Answer) != n || len(p.Wrong) != n {
		return fmt.Errorf("patching: prompts: %d rows but %d answers and %d wrong answers", n, len(p.Answer), len(p.Wrong))
	}
	for i := range n {
		if err := checkTok("answer", i, p.Answer[i]); err != nil {
			return err
		}
		if err := checkTok("wrong", i, p.Wrong[i]); err != nil {
			return err
		}
	}
	return nil
}

// hasSets reports whether the prompts score sets of tokens rather than single tokens.
func (p *Prompts) hasSets() bool { return p.AnswerSets != nil }
