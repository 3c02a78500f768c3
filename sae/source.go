package sae

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// TokenSource yields batches of token rows for the activation store and the evaluations.
type TokenSource interface {
	// Tokens returns batch rows of token ids, all of one length.
	Tokens(batch int) ([][]int, error)
	// Name describes the data (written to cfg.json as dataset_path).
	Name() string
}

// FuncSource adapts a generator, e.g. a task's Batch method, to a TokenSource.
type FuncSource struct {
	Label string
	Fn    func(batch int) [][]int
}

// Tokens calls Fn.
func (f FuncSource) Tokens(batch int) ([][]int, error) {
	rows := f.Fn(batch)
	if len(rows) == 0 {
		return nil, fmt.Errorf("sae: token source %s returned no rows", f.Label)
	}
	return rows, nil
}

// Name is Label.
func (f FuncSource) Name() string { return f.Label }

// RowsSource cycles through fixed rows (e.g. model.ReadTokensFile), in a fresh random order each
// pass, deterministically from seed.
func RowsSource(label string, rows [][]int, seed uint64) (TokenSource, error) {
	if len(rows) == 0 {
		return nil, fmt.Errorf("sae: %s: no token rows", label)
	}
	for i, r := range rows {
		if len(r) != len(rows[0]) {
			return nil, fmt.Errorf("sae: %s: row %d has %d tokens, row 0 has %d", label, i, len(r), len(rows[0]))
		}
	}
	return &rowsSource{label: label, rows: rows, rng: rand.New(rand.NewPCG(seed, 0x70c))}, nil
}

type rowsSource struct {
	label string
	rows  [][]int
	order []int
	next  int
	rng   *rand.Rand
}

func (s *rowsSource) Name() string { return s.label }

func (s *rowsSource) Tokens(batch int) ([][]int, error) {
	out := make([][]int, 0, batch)
	for len(out) < batch {
		if s.next == len(s.order) {
			s.order = s.rng.Perm(len(s.rows))
			s.next = 0
		}
		out = append(out, s.rows[s.order[s.next]])
		s.next++
	}
	return out, nil
}

// SiteWidth returns the width of the SAE rows a site of a model gives, checking that the hook
// exists and that its head mode fits its shape.
func SiteWidth(c model.Config, s Site) (int, error) {
	var spec *hooks.Spec
	for _, h := range model.HookPoints(c, 1, 1) {
		if h.Name == s.Hook {
			spec = &h
			break
		}
	}
	if spec == nil {
		return 0, fmt.Errorf("sae: hook %q does not exist in this model (see interp info)", s.Hook)
	}
	last := spec.Dims[len(spec.Dims)-1]
	if last == "key_pos" || last == "1" {
		return 0, fmt.Errorf("sae: hook %q has shape %v: no feature axis to train an SAE on", s.Hook, spec.Dims)
	}
	hasHead := slices.Contains(spec.Dims, "head")
	switch s.Heads {
	case NoHeads:
		if hasHead {
			return 0, fmt.Errorf("sae: hook %q has a head axis %v: choose a head mode (concat, per_head or a single head)", s.Hook, spec.Dims)
		}
		return spec.Shape[2], nil
	case HeadsConcat, HeadsPerHead, HeadsSingle:
		if !hasHead {
			return 0, fmt.Errorf("sae: hook %q has no head axis %v: head mode %q does not apply", s.Hook, spec.Dims, s.Heads)
		}
		if s.Heads == HeadsConcat {
			return spec.Shape[2] * spec.Shape[3], nil
		}
		if s.Heads == HeadsSingle && (s.Head < 0 || s.Head >= spec.Shape[2]) {
			return 0, fmt.Errorf("sae: hook %q: head %d out of range [0, %d)", s.Hook, s.Head, spec.Shape[2])
		}
		return spec.Shape[3], nil
	}
	return 0, fmt.Errorf("sae: unknown head mode %q", s.Heads)
}

// siteRows appends the SAE rows of a site taken from an activation act (flat, dims [B, P, ...])
// to dst. With skipBOS, position 0 of every sequence is left out.
func siteRows(dst []float32, s Site, dims []int, act []float32, skipBOS bool) []float32 {
	B, P := dims[0], dims[1]
	inner := 1
	for _, d := range dims[2:] {
		inner *= d
	}
	p0 := 0
	if skipBOS {
		p0 = 1
	}
	for b := range B {
		for p := p0; p < P; p++ {
			base := (b*P + p) * inner
			if s.Heads == HeadsSingle {
				x := dims[3]
				dst = append(dst, act[base+s.Head*x:base+(s.Head+1)*x]...)
			} else {
				dst = append(dst, act[base:base+inner]...)
			}
		}
	}
	return dst
}

var errNoRows = errors.New("sae: the token source gave no rows after skipping BOS (sequences of length 1?)")

// MaskedSource is a token source that also says which next-token predictions count (a task's
// loss mask): Evaluate scores the CE loss and KL only there.
type MaskedSource interface {
	TokenSource
	// Masked returns batch rows of tokens [B][P] and the mask [B][P-1] (true where predicting
	// token p+1 from position p counts; nil: every position).
	Masked(batch int) (rows [][]int, mask [][]bool, err error)
}

// TaskSource adapts a generator of masked batches, e.g. a task's Batch method, to a MaskedSource.
type TaskSource struct {
	Label string
	Fn    func(batch int) (rows [][]int, mask [][]bool)
}

// Name is Label.
func (s TaskSource) Name() string { return s.Label }

// Tokens returns the rows of a batch.
func (s TaskSource) Tokens(batch int) ([][]int, error) {
	rows, _ := s.Fn(batch)
	return rows, nil
}

// Masked returns a batch with its loss mask.
func (s TaskSource) Masked(batch int) ([][]int, [][]bool, error) {
	rows, mask := s.Fn(batch)
	return rows, mask, nil
}

// NextBatch reads a batch and, from a MaskedSource, its mask (nil otherwise).
func NextBatch(src TokenSource, n int) ([][]int, [][]bool, error) {
	if ms, ok := src.(MaskedSource); ok {
		return ms.Masked(n)
	}
	rows, err := src.Tokens(n)
	return rows, nil, err
}
