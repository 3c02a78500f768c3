package heads

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// Kind is a head type of the detector.
type Kind string

const (
	PrevToken      Kind = "previous_token_head"
	DuplicateToken Kind = "duplicate_token_head"
	Induction      Kind = "induction_head"
)

// Kinds lists the head types in a fixed order.
var Kinds = []Kind{PrevToken, DuplicateToken, Induction}

// Options are detect_head's options.
type Options struct {
	ExcludeBOS          bool // zero attention to position 0 before scoring
	ExcludeCurrentToken bool // zero attention to the query's own position before scoring
}

// Scores holds every head's score per kind, indexed [layer][head].
type Scores struct {
	PrevToken      [][]float64 `json:"previous_token_head"`
	DuplicateToken [][]float64 `json:"duplicate_token_head"`
	Induction      [][]float64 `json:"induction_head"`
}

// Of returns the scores of one kind.
func (s *Scores) Of(k Kind) [][]float64 {
	switch k {
	case PrevToken:
		return s.PrevToken
	case DuplicateToken:
		return s.DuplicateToken
	case Induction:
		return s.Induction
	}
	panic("heads: unknown kind " + string(k))
}

// Head is one head and its score.
type Head struct {
	Layer, Head int
	Score       float64
}

func (h Head) String() string { return fmt.Sprintf("L%dH%d (%.3f)", h.Layer, h.Head, h.Score) }

// Top returns the n highest-scoring heads of a kind, best first.
func (s *Scores) Top(k Kind, n int) []Head {
	var all []Head
	for l, row := range s.Of(k) {
		for h, v := range row {
			all = append(all, Head{l, h, v})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Score > all[j].Score })
	return all[:min(n, len(all))]
}

// Max returns the highest score of a kind.
func (s *Scores) Max(k Kind) float64 {
	if t := s.Top(k, 1); len(t) > 0 {
		return t[0].Score
	}
	return 0
}

// Table formats the scores as a text table, one row per (layer, kind).
func (s *Scores) Table() string {
	var b strings.Builder
	heads := len(s.PrevToken[0])
	fmt.Fprintf(&b, "%-6s %-10s", "layer", "score")
	for h := range heads {
		fmt.Fprintf(&b, " %6s", fmt.Sprintf("H%d", h))
	}
	b.WriteString("\n")
	short := map[Kind]string{PrevToken: "prev-tok", DuplicateToken: "dup-tok", Induction: "induction"}
	for l := range s.PrevToken {
		for _, k := range Kinds {
			fmt.Fprintf(&b, "%-6d %-10s", l, short[k])
			for _, v := range s.Of(k)[l] {
				fmt.Fprintf(&b, " %6.3f", v)
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// DetectionPattern returns the 0/1 detection pattern [P][P] of kind k for one sequence.
func DetectionPattern(k Kind, tokens []int) [][]float32 {
	p := len(tokens)
	d := make([][]float32, p)
	for i := range d {
		d[i] = make([]float32, p)
		for j := 0; j <= i; j++ {
			var hit bool
			switch k {
			case PrevToken:
				hit = j == i-1
			case DuplicateToken:
				hit = j < i && tokens[j] == tokens[i]
			case Induction:
				hit = j >= 1 && j-1 < i && tokens[j-1] == tokens[i]
			default:
				panic("heads: unknown kind " + string(k))
			}
			if hit {
				d[i][j] = 1
			}
		}
	}
	return d
}

// FromPatterns scores every head from the attention patterns of each layer ([B, H, P, P]
// float32, blocks.L.attn.hook_pattern) of a batch of sequences tokens [B][P].
func FromPatterns(patterns []*tensors.Tensor, tokens [][]int, opt Options) (*Scores, error) {
	if len(patterns) == 0 {
		return nil, fmt.Errorf("heads: no attention patterns")
	}
	s := &Scores{}
	for l, pt := range patterns {
		dims := pt.Shape().Dimensions
		if len(dims) != 4 || dims[2] != dims[3] || dims[0] != len(tokens) {
			return nil, fmt.Errorf("heads: layer %d: pattern shape %v, want [%d, H, P, P] for %d sequences", l, dims, len(tokens), len(tokens))
		}
		b, h, p := dims[0], dims[1], dims[2]
		for i, row := range tokens {
			if len(row) != p {
				return nil, fmt.Errorf("heads: sequence %d has %d tokens, patterns have %d positions", i, len(row), p)
			}
		}
		if pt.DType() != dtypes.Float32 {
			return nil, fmt.Errorf("heads: layer %d: pattern is %s, want float32", l, pt.DType())
		}
		flat := tensors.MustCopyFlatData[float32](pt)
		det := make([][][][]float32, len(Kinds)) // [kind][b][P][P]
		for ki, k := range Kinds {
			det[ki] = make([][][]float32, b)
			for bi := range b {
				det[ki][bi] = DetectionPattern(k, tokens[bi])
			}
		}
		out := [][]float64{make([]float64, h), make([]float64, h), make([]float64, h)}
		for bi := range b {
			for hi := range h {
				a := flat[(bi*h+hi)*p*p : (bi*h+hi+1)*p*p]
				var total float64
				hits := make([]float64, len(Kinds))
				for i := range p {
					for j := range p {
						v := float64(a[i*p+j])
						if (opt.ExcludeBOS && j == 0) || (opt.ExcludeCurrentToken && j == i) {
							continue
						}
						total += v
						for ki := range Kinds {
							if det[ki][bi][i][j] != 0 {
								hits[ki] += v
							}
						}
					}
				}
				for ki := range Kinds {
					if total > 0 {
						out[ki][hi] += hits[ki] / total / float64(b)
					}
				}
			}
		}
		s.PrevToken = append(s.PrevToken, out[0])
		s.DuplicateToken = append(s.DuplicateToken, out[1])
		s.Induction = append(s.Induction, out[2])
	}
	return s, nil
}

// RepeatedTokens returns batch sequences BOS (id 0) + half random tokens from [1, vocab) + the
// same half again (length 2*half+1), deterministically from seed: the detector's input.
func RepeatedTokens(seed uint64, batch, half, vocab int) [][]int {
	rng := rand.New(rand.NewPCG(seed, 0x68656164)) // "head"
	rows := make([][]int, batch)
	for b := range rows {
		row := make([]int, 2*half+1)
		for i := 1; i <= half; i++ {
			row[i] = 1 + rng.IntN(vocab-1)
			row[i+half] = row[i]
		}
		rows[b] = row
	}
	return rows
}

// Compute runs m on tokens [B][P], caching every layer's attention pattern, and scores every
// head. Use RepeatedTokens for the standard input.
func Compute(m *model.Model, tokens [][]int, opt Options) (*Scores, error) {
	patterns, err := runPatterns(m, tokens)
	if err != nil {
		return nil, err
	}
	return FromPatterns(patterns, tokens, opt)
}

// runPatterns runs m on tokens [B][P] and returns every layer's hook_pattern [B, H, P, P].
func runPatterns(m *model.Model, tokens [][]int) ([]*tensors.Tensor, error) {
	t, err := model.Tokens(tokens)
	if err != nil {
		return nil, err
	}
	set := hooks.New()
	for l := range m.Config.NLayers {
		set.Cache(hooks.Pattern(l))
	}
	out, err := m.Run(t, set)
	if err != nil {
		return nil, err
	}
	patterns := make([]*tensors.Tensor, m.Config.NLayers)
	for l := range patterns {
		patterns[l] = out.Cache.MustGet(hooks.Pattern(l))
	}
	return patterns, nil
}
