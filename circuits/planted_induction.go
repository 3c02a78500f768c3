package circuits

import (
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
)

// planted-induction: a 2-layer attention-only model (no LayerNorm, learned positions, separate
// unembedding) with a previous-token head (0.2) and an induction head (1.1) among six distractor
// heads. The residual stream (d_model 288) is a sum of subspaces, each written by one thing:
//
//	tok     [0, 64)     one-hot token identity (W_E)
//	pos     [64, 128)   one-hot position (W_pos)
//	prev    [128, 192)  one-hot identity of the previous token, written by the previous-token head
//	out     [192, 256)  the predicted next token, written by the induction head; W_U reads only it
//	scratch [256, 288)  written and read only by distractors
//
// Heads (d_head 64; scores in units of the pre-softmax logit):
//
//	0.0 attends to BOS (score 8 on position 0), copies its token into scratch (constant output)
//	0.1 attends uniformly, copies positions into scratch
//	0.2 PREVIOUS-TOKEN HEAD: pos p queries pos p-1 (score 10); OV tok t -> prev t
//	0.3 attends to itself (score 10), copies its position into scratch
//	1.0 attends uniformly, mixes scratch into scratch
//	1.1 INDUCTION HEAD: tok t at the query matches prev t at the key (score 10), else falls back
//	    to BOS (score 4); OV tok t -> out t (t >= 1, so the BOS fallback writes nothing)
//	1.2 attends to BOS, mixes scratch into scratch
//	1.3 attends to itself and writes 0.05 x its own token into out (a small direct effect that
//	    does not depend on the repeat)
//
// Apart from 1.3, the distractors' outputs do not depend on the tokens (only on positions):
// a head whose output varies with the prompt's content gets codes unique to the positive
// prompts in head overlap whatever its role (1.3 is that case, kept small).
//
// W_U maps out t to the logit of t with gain 8. On a repeated sequence the induction head at a
// second-half position attends to the position after the earlier copy of its token, whose token
// is the next one; so the loss on the repeated half is near zero while the first half stays at
// about log(64).
const (
	indVocab, indCtx, indDHead, indHeads = 64, 64, 64, 4

	indTok, indPos, indPrev, indOut, indScratch = 0, 64, 128, 192, 256
	indScratchDims                              = 32
	indDModel                                   = indScratch + indScratchDims

	indMatchScore = 10.0 // induction and previous-token attention scores
	indSinkScore  = 4.0  // the induction head's fallback to BOS when nothing matches
	indBOSScore   = 8.0  // the BOS distractors
	indGain       = 8.0  // W_U gain on the out subspace
	indLittle     = 0.05 // OV gain of the distractors that copy tokens
)

func plantedInduction() *Planted {
	return &Planted{
		Name:  "planted-induction",
		About: "2-layer attention-only model with hand-set weights: previous-token head 0.2 and induction head 1.1 among 6 distractors (circuits/)",
		Task:  tasks.InductionFresh,
		Circuit: Circuit{
			Nodes: []Node{HeadNode(0, 2), HeadNode(1, 1)},
			Edges: []Edge{
				{From: EmbedNode(), To: HeadNode(0, 2), Input: InV},
				{From: EmbedNode(), To: HeadNode(1, 1), Input: InQ},
				{From: HeadNode(0, 2), To: HeadNode(1, 1), Input: InK},
				{From: EmbedNode(), To: HeadNode(1, 1), Input: InV},
				{From: HeadNode(1, 1), To: LogitsNode()},
			},
		},
		Build: func() (*model.Weights, error) { return buildPlantedInduction(false) },
	}
}

// plantedInductionCopy is planted-induction with the distractors that head overlap finds hard:
// 0.1 (uniform attention) and 0.3 (attending to itself) copy token identity instead of positions
// into scratch, so their outputs, and the layer-1 distractors that mix scratch, vary with the
// prompt's content without any effect on the logits. The circuit is the same.
func plantedInductionCopy() *Planted {
	p := plantedInduction()
	p.Name = "planted-induction-copy"
	p.About = "planted-induction whose distractors 0.1 and 0.3 copy token identity into a scratch space (content-dependent, no effect on the logits; circuits/)"
	p.Build = func() (*model.Weights, error) { return buildPlantedInduction(true) }
	return p
}

// buildPlantedInduction sets the weights; tokenCopy makes distractors 0.1 and 0.3 copy tokens.
func buildPlantedInduction(tokenCopy bool) (*model.Weights, error) {
	c := model.AttnOnlyToy(2, indHeads, indDModel, indVocab, indCtx)
	c.Task = tasks.InductionFresh
	c.DHead = indDHead
	b, err := newWeightBuilder(c)
	if err != nil {
		return nil, err
	}
	for t := range indVocab {
		b.set("embed.W_E", 1, t, indTok+t)
		b.set("unembed.W_U", indGain, indOut+t, t)
	}
	for p := range indCtx {
		b.set("pos_embed.W_pos", 1, p, indPos+p)
	}
	s := func(score float64) float64 { return scoreScale(score, indDHead) }

	// attendBOS: every query scores `score` on key position 0.
	attendBOS := func(l, h int, score float64) {
		b.set(attn(l, "b_Q"), s(score), h, 0)
		b.set(attn(l, "W_K"), 1, h, indPos, 0)
	}
	// attendOffset: the query at position p scores `score` on key position p-offset.
	attendOffset := func(l, h, offset int, score float64) {
		for p := range indCtx {
			if p+offset < indDHead && p+offset < indCtx {
				b.set(attn(l, "W_Q"), s(score), h, indPos+p+offset, p+offset)
				b.set(attn(l, "W_K"), 1, h, indPos+p, p+offset)
			}
		}
	}
	// copyTokens: OV maps tok t to dst(t) with gain.
	copyTokens := func(l, h int, from int, n int, dst func(t int) int, gain float64) {
		for t := range n {
			b.set(attn(l, "W_V"), 1, h, from+t, t)
			if d := dst(t); d >= 0 {
				b.set(attn(l, "W_O"), gain, h, t, d)
			}
		}
	}
	scratch := func(f func(t int) int) func(int) int {
		return func(t int) int { return indScratch + f(t)%indScratchDims }
	}

	// Layer 0.
	attendBOS(0, 0, indBOSScore)
	copyTokens(0, 0, indTok, indVocab, scratch(func(t int) int { return t }), 0.5)
	distractorSrc, distractorN := indPos, indCtx
	if tokenCopy {
		distractorSrc, distractorN = indTok, indVocab
	}
	copyTokens(0, 1, distractorSrc, distractorN, scratch(func(p int) int { return 7 * p }), 0.5)
	attendOffset(0, 2, 1, indMatchScore) // previous-token head
	copyTokens(0, 2, indTok, indVocab, func(t int) int { return indPrev + t }, 1)
	attendOffset(0, 3, 0, indMatchScore)
	copyTokens(0, 3, distractorSrc, distractorN, scratch(func(p int) int { return 3*p + 5 }), 0.5)

	// Layer 1.
	copyTokens(1, 0, indScratch, indScratchDims, scratch(func(i int) int { return i + 1 }), 0.5)
	for t := 1; t < indVocab; t++ { // induction head: tok t (query) matches prev t (key)
		b.set(attn(1, "W_Q"), s(indMatchScore), 1, indTok+t, t)
		b.set(attn(1, "W_K"), 1, 1, indPrev+t, t)
	}
	attendBOS(1, 1, indSinkScore) // d_head index 0 is free: token 0 (BOS) is never matched
	copyTokens(1, 1, indTok, indVocab, func(t int) int {
		if t == 0 {
			return -1
		}
		return indOut + t
	}, 1)
	attendBOS(1, 2, indBOSScore)
	copyTokens(1, 2, indScratch, indScratchDims, scratch(func(i int) int { return i + 5 }), 0.5)
	attendOffset(1, 3, 0, indMatchScore)
	copyTokens(1, 3, indTok, indVocab, func(t int) int { return indOut + t }, indLittle)
	return b.weights()
}
