package transcoder

import (
	"fmt"
	"sort"
)

// NodeKind names a component of the residual stream in an attribution.
type NodeKind string

// Node kinds.
const (
	KindFeature  NodeKind = "feature"   // a transcoder latent (Layer, Latent) at Pos
	KindHead     NodeKind = "head"      // attention head (Layer, Head) moving Src -> Pos through its OV circuit
	KindEmbed    NodeKind = "embed"     // the token embedding at Pos
	KindPosEmbed NodeKind = "pos_embed" // the positional embedding at Pos
	KindAttnBias NodeKind = "attn_bias" // b_O of Layer
	KindMLP      NodeKind = "mlp"       // a whole MLP output (a layer without a transcoder)
	KindTCBias   NodeKind = "tc_bias"   // a transcoder's b_dec
	KindSkip     NodeKind = "skip"      // a skip transcoder's linear term x W_skip^T
	KindError    NodeKind = "error"     // MLP output minus the transcoder's output
	KindLogit    NodeKind = "logit"     // a logit (difference) target
)

// Node is one component's contribution to a target vector. Contribution = Act * Weight:
// Act is the input-dependent factor (a feature's activation, a head's attention weight from Src
// to Pos; 1 for embeddings and constants) and Weight the rest (for a feature, its decoder
// row . the target direction, which for a feature target is its encoder column through the
// LayerNorm: an input-invariant weight up to the LayerNorm scale; for a head, the OV circuit
// applied to the source's value vector).
type Node struct {
	Kind   NodeKind `json:"kind"`
	Layer  int      `json:"layer"` // -1 for embeddings
	Latent int      `json:"latent"`
	Head   int      `json:"head"`
	Pos    int      `json:"pos"`
	Src    int      `json:"src"`   // heads: the source position
	Token  int      `json:"token"` // the token at Pos (heads: at Src; logits: the scored token)
	Wrong  int      `json:"wrong"` // logit targets: the subtracted token (-1: none)

	Contribution float64 `json:"contribution"`
	Act          float64 `json:"act"`
	Weight       float64 `json:"weight"`
}

// tokenPos is the position whose token labels the node.
func (n Node) tokenPos() int {
	if n.Kind == KindHead {
		return n.Src
	}
	return n.Pos
}

// ID identifies the component (not its contribution): equal for the same feature at the same
// position reached along different paths.
func (n Node) ID() string {
	switch n.Kind {
	case KindFeature:
		return fmt.Sprintf("L%d.tc%d@%d", n.Layer, n.Latent, n.Pos)
	case KindHead:
		return fmt.Sprintf("L%dH%d@%d<-%d", n.Layer, n.Head, n.Pos, n.Src)
	case KindEmbed, KindPosEmbed:
		return fmt.Sprintf("%s@%d", n.Kind, n.Pos)
	case KindLogit:
		return fmt.Sprintf("logit%d-%d@%d", n.Token, n.Wrong, n.Pos)
	}
	return fmt.Sprintf("L%d.%s@%d", n.Layer, n.Kind, n.Pos)
}

// Label is a readable name; tok renders token ids (nil: the id).
func (n Node) Label(tok func(int) string) string {
	if tok == nil {
		tok = func(id int) string { return fmt.Sprintf("#%d", id) }
	}
	switch n.Kind {
	case KindFeature:
		return fmt.Sprintf("L%d tc %d @%d %q", n.Layer, n.Latent, n.Pos, tok(n.Token))
	case KindHead:
		return fmt.Sprintf("L%dH%d %d->%d %q", n.Layer, n.Head, n.Src, n.Pos, tok(n.Token))
	case KindEmbed:
		return fmt.Sprintf("embed %q @%d", tok(n.Token), n.Pos)
	case KindPosEmbed:
		return fmt.Sprintf("pos_embed @%d", n.Pos)
	case KindLogit:
		if n.Wrong >= 0 {
			return fmt.Sprintf("logit %q - %q @%d", tok(n.Token), tok(n.Wrong), n.Pos)
		}
		return fmt.Sprintf("logit %q @%d", tok(n.Token), n.Pos)
	case KindAttnBias:
		return fmt.Sprintf("L%d attn b_O @%d", n.Layer, n.Pos)
	case KindMLP:
		return fmt.Sprintf("L%d mlp @%d", n.Layer, n.Pos)
	}
	return fmt.Sprintf("L%d tc %s @%d", n.Layer, n.Kind, n.Pos)
}

// rank orders nodes from the embeddings (0) up to the logits in the layered drawings: each layer
// has an attention row and an MLP row.
func (n Node) rank() int {
	switch n.Kind {
	case KindEmbed, KindPosEmbed:
		return 0
	case KindHead, KindAttnBias:
		return 2*n.Layer + 1
	case KindLogit:
		return 2*n.Layer + 1
	}
	return 2*n.Layer + 2
}

func sortSlice[T any](s []T, less func(i, j int) bool) { sort.SliceStable(s, less) }
