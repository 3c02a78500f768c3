package circuits

import (
	"fmt"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
)

// planted-ioi: a 3-layer attention-only model (no LayerNorm, learned positions, separate
// unembedding) that solves the toy IOI task of package tasks ("ioi": its word-level vocabulary of
// 89 ids, the BABA/ABBA templates, answer = the name that appears once) with the circuit of Wang
// et al. in miniature: a duplicate-token head (0.1), an S-inhibition head (1.2) and two name
// movers (2.0, and a weaker backup 2.3), among eight distractors. With N names (30) and n_ctx 32
// the residual stream (d_model 171) is a sum of subspaces:
//
//	name    [0, N)          one-hot name identity (W_E of name tokens)
//	isName  N               1 on name tokens
//	bos     N+1             1 on <|endoftext|> (the BOS)
//	pos     [N+2, N+34)     one-hot position
//	dup     N+34            "my name appeared before", written by the duplicate-token head
//	dupName [N+35, 2N+35)   the duplicated name, written by the duplicate-token head
//	inhib   [2N+35, 3N+35)  the name to avoid, moved to every later position by S-inhibition
//	out     [3N+35, 4N+35)  the predicted name, written by the name movers; W_U reads only it
//	scratch [4N+35, 4N+51)  written and read only by distractors
//
// The circuit (d_head 64; scores in pre-softmax logit units):
//
//	0.1 DUPLICATE TOKEN: a name attends to an earlier copy of itself (score 16, its own position
//	    -16, BOS 8); OV: isName -> 4 dup, name n -> 4 dupName n. At S2 it writes dup ~ 4 and S.
//	1.2 S-INHIBITION: every position attends to where dup is high (score 10 x dup/4, BOS 3);
//	    OV: dupName n -> inhib n / 4. At the end it carries S.
//	2.0 NAME MOVER: attends to names (score 6) except the inhibited one (-12 x inhib n on name
//	    n), BOS 2; OV: name n -> out n. 2.3 is the same head with half the OV gain.
//
// W_U maps out n to name n's token with gain 2.5, so the clean logit difference IO - S is
// about 3.6 (GPT-2 small's is 3.55). On the ABC prompts (three different names) nothing is
// duplicated and the name movers spread over the three names. Distractors, whose outputs
// depend only on positions and on where the names are (the template), not on which names:
// 0.0 previous-token head copying "the previous token is a name" into scratch; 0.2, 1.1 and
// 2.1 attend to BOS; 0.3 and 1.0 attend uniformly (scratch only); 1.3 attends to itself and
// copies its position into scratch; 2.2 attends uniformly and adds 0.05 x the share of names
// it sees to every name's logit (an effect on the logits, none on the logit difference).
const (
	ioiCtx, ioiDHead, ioiHeads, ioiScratchDims = 32, 64, 4, 16

	ioiGain    = 2.5  // W_U gain on the out subspace
	ioiLittle  = 0.05 // OV gain of distractor 2.2 into out
	ioiDupGain = 4.0  // OV gain of the duplicate-token head (S-inhibition reads it at 1/4)
)

// ioiLayout holds the offsets of the planted-ioi residual subspaces.
type ioiLayout struct {
	n                                                int // names
	name, isName, bos, pos, dup, dupName, inhib, out int
	scratch, dModel                                  int
	nameTokens                                       []int // token id of each name
}

func newIOILayout() (*ioiLayout, error) {
	tok := tasks.IOITokenizer()
	l := &ioiLayout{n: len(tasks.ToyIOINames)}
	for _, name := range tasks.ToyIOINames {
		ids, err := tok.Encode(" " + name)
		if err != nil || len(ids) != 1 || ids[0] == tasks.IOIUnknown {
			return nil, fmt.Errorf("circuits: planted-ioi: name %q is not one token of the toy IOI vocabulary", name)
		}
		l.nameTokens = append(l.nameTokens, ids[0])
	}
	n := l.n
	l.name, l.isName, l.bos, l.pos = 0, n, n+1, n+2
	l.dup = l.pos + ioiCtx
	l.dupName = l.dup + 1
	l.inhib = l.dupName + n
	l.out = l.inhib + n
	l.scratch = l.out + n
	l.dModel = l.scratch + ioiScratchDims
	if n+ioiCtx+1 > ioiDHead {
		return nil, fmt.Errorf("circuits: planted-ioi: %d names and %d positions do not fit d_head %d", n, ioiCtx, ioiDHead)
	}
	return l, nil
}

func plantedIOI() *Planted {
	e, dt, si, nm, nm2 := EmbedNode(), HeadNode(0, 1), HeadNode(1, 2), HeadNode(2, 0), HeadNode(2, 3)
	return &Planted{
		Name:  "planted-ioi",
		About: "3-layer attention-only IOI model with hand-set weights: duplicate-token 0.1, S-inhibition 1.2, name movers 2.0 and 2.3 among 8 distractors (circuits/)",
		Task:  "ioi",
		Circuit: Circuit{
			Nodes: []Node{dt, si, nm, nm2},
			Edges: []Edge{
				{From: e, To: dt, Input: InQ}, {From: e, To: dt, Input: InK}, {From: e, To: dt, Input: InV},
				{From: dt, To: si, Input: InK}, {From: dt, To: si, Input: InV},
				{From: si, To: nm, Input: InQ}, {From: e, To: nm, Input: InK}, {From: e, To: nm, Input: InV},
				{From: si, To: nm2, Input: InQ}, {From: e, To: nm2, Input: InK}, {From: e, To: nm2, Input: InV},
				{From: nm, To: LogitsNode()}, {From: nm2, To: LogitsNode()},
			},
		},
		Build: func() (*model.Weights, error) { return buildPlantedIOI(false) },
	}
}

// plantedIOICopy is planted-ioi with the distractors that head overlap finds hard: 0.0 (the
// previous-token head), 0.3 (uniform attention) and 1.3 (attending to itself) copy name identity
// instead of "is a name" or positions into scratch, so their outputs, and the later distractors
// that mix scratch, change with the names of the prompt (which the ABC corruption replaces)
// without any effect on the logits. The circuit is the same.
func plantedIOICopy() *Planted {
	p := plantedIOI()
	p.Name = "planted-ioi-copy"
	p.About = "planted-ioi whose distractors 0.0, 0.3 and 1.3 copy name identity into a scratch space (content-dependent, no effect on the logits; circuits/)"
	p.Build = func() (*model.Weights, error) { return buildPlantedIOI(true) }
	return p
}

// buildPlantedIOI sets the weights; tokenCopy makes distractors 0.0, 0.3 and 1.3 copy names.
func buildPlantedIOI(tokenCopy bool) (*model.Weights, error) {
	lay, err := newIOILayout()
	if err != nil {
		return nil, err
	}
	vocab := tasks.IOITokenizer().VocabSize()
	c := model.AttnOnlyToy(3, ioiHeads, lay.dModel, vocab, ioiCtx)
	c.Task = "ioi"
	c.DHead = ioiDHead
	b, err := newWeightBuilder(c)
	if err != nil {
		return nil, err
	}
	n := lay.n
	s := func(score float64) float64 { return scoreScale(score, ioiDHead) }

	// Embeddings and unembedding.
	b.set("embed.W_E", 1, tasks.IOIEndOfText, lay.bos)
	for i, id := range lay.nameTokens {
		b.set("embed.W_E", 1, id, lay.name+i)
		b.set("embed.W_E", 1, id, lay.isName)
		b.set("unembed.W_U", ioiGain, lay.out+i, id)
	}
	for p := range ioiCtx {
		b.set("pos_embed.W_pos", 1, p, lay.pos+p)
	}

	// attendBOS: every query scores `score` on the BOS token, through d_head index k.
	attendBOS := func(l, h, k int, score float64) {
		b.set(attn(l, "b_Q"), s(score), h, k)
		b.set(attn(l, "W_K"), 1, h, lay.bos, k)
	}
	// attendOffset: the query at position p scores `score` on key position p-offset.
	attendOffset := func(l, h, offset int, score float64) {
		for p := 0; p+offset < ioiCtx; p++ {
			b.set(attn(l, "W_Q"), s(score), h, lay.pos+p+offset, p+offset)
			b.set(attn(l, "W_K"), 1, h, lay.pos+p, p+offset)
		}
	}
	// move: OV maps subspace [from, from+k) to dst(i) with gain.
	move := func(l, h, from, k int, dst func(i int) int, gain float64) {
		for i := range k {
			b.set(attn(l, "W_V"), 1, h, from+i, i)
			b.set(attn(l, "W_O"), gain, h, i, dst(i))
		}
	}
	scratch := func(f func(i int) int) func(int) int {
		return func(i int) int { return lay.scratch + f(i)%ioiScratchDims }
	}
	nameMover := func(l, h int, gain float64) {
		attendBOS(l, h, n+1, 2)
		b.set(attn(l, "b_Q"), s(6), h, n) // attend to names ...
		b.set(attn(l, "W_K"), 1, h, lay.isName, n)
		for i := range n { // ... except the inhibited one
			b.set(attn(l, "W_Q"), s(-12), h, lay.inhib+i, i)
			b.set(attn(l, "W_K"), 1, h, lay.name+i, i)
		}
		move(l, h, lay.name, n, func(i int) int { return lay.out + i }, gain)
	}

	// Layer 0.
	attendOffset(0, 0, 1, 10)
	if tokenCopy {
		move(0, 0, lay.name, n, scratch(func(i int) int { return i }), 0.5)
	} else {
		move(0, 0, lay.isName, 1, scratch(func(int) int { return 0 }), 0.5)
	}
	// 0.1 duplicate-token head.
	for i := range n {
		b.set(attn(0, "W_Q"), s(16), 1, lay.name+i, i)
		b.set(attn(0, "W_K"), 1, 1, lay.name+i, i)
	}
	for p := range ioiCtx { // not itself
		b.set(attn(0, "W_Q"), s(16), 1, lay.pos+p, n+p)
		b.set(attn(0, "W_K"), -1, 1, lay.pos+p, n+p)
	}
	attendBOS(0, 1, n+ioiCtx, 8)
	b.set(attn(0, "W_V"), 1, 1, lay.isName, 0)
	b.set(attn(0, "W_O"), ioiDupGain, 1, 0, lay.dup)
	for i := range n {
		b.set(attn(0, "W_V"), 1, 1, lay.name+i, 1+i)
		b.set(attn(0, "W_O"), ioiDupGain, 1, 1+i, lay.dupName+i)
	}
	attendBOS(0, 2, 0, 8)
	move(0, 2, lay.isName, 1, scratch(func(int) int { return 3 }), 0.3)
	if tokenCopy {
		move(0, 3, lay.name, n, scratch(func(i int) int { return 3*i + 5 }), 0.3)
	} else {
		move(0, 3, lay.isName, 1, scratch(func(int) int { return 1 }), 0.3)
	}

	// Layer 1.
	move(1, 0, lay.scratch, ioiScratchDims, scratch(func(i int) int { return i + 1 }), 0.5)
	attendBOS(1, 1, 0, 8)
	move(1, 1, lay.scratch, ioiScratchDims, scratch(func(i int) int { return i + 5 }), 0.5)
	// 1.2 S-inhibition head.
	b.set(attn(1, "b_Q"), s(10), 2, 0)
	b.set(attn(1, "W_K"), 1/ioiDupGain, 2, lay.dup, 0)
	attendBOS(1, 2, 1, 3)
	move(1, 2, lay.dupName, n, func(i int) int { return lay.inhib + i }, 1/ioiDupGain)
	attendOffset(1, 3, 0, 10)
	if tokenCopy {
		move(1, 3, lay.name, n, scratch(func(i int) int { return 3*i + 7 }), 0.5)
	} else {
		move(1, 3, lay.pos, ioiCtx, scratch(func(p int) int { return 3*p + 7 }), 0.5)
	}

	// Layer 2.
	nameMover(2, 0, 1)
	attendBOS(2, 1, 0, 8)
	move(2, 1, lay.scratch, ioiScratchDims, scratch(func(i int) int { return i + 9 }), 0.5)
	b.set(attn(2, "W_V"), 1, 2, lay.isName, 0) // every name's logit alike: no logit difference
	for i := range n {
		b.set(attn(2, "W_O"), ioiLittle, 2, 0, lay.out+i)
	}
	nameMover(2, 3, 0.5)
	return b.weights()
}
