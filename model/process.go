package model

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TransformerLens's optional weight processing (HookedTransformer.from_pretrained's fold_ln,
// center_writing_weights, center_unembed, fold_value_biases). Each step rewrites the weights so
// the model computes the same function -- the same logits, or for center_unembed the same
// log-probabilities -- with a simpler parameterisation; hooks inside change meaning as in
// TransformerLens (after fold_ln, ln*.hook_normalized is the normalised input before any gain).
// The default is none of them: the checkpoint's raw computation.

// Processing steps, by their TransformerLens names.
const (
	FoldLN               = "fold_ln"
	CenterWritingWeights = "center_writing_weights"
	CenterUnembed        = "center_unembed"
	FoldValueBiases      = "fold_value_biases"
)

// ProcessSteps lists the processing steps in the order Process applies them (TransformerLens's).
func ProcessSteps() []string {
	return []string{FoldLN, CenterWritingWeights, CenterUnembed, FoldValueBiases}
}

// ParseProcess parses a comma-separated list of steps ("" or "none": no processing).
func ParseProcess(spec string) ([]string, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" || spec == "none" {
		return nil, nil
	}
	var steps []string
	for _, s := range strings.Split(spec, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(ProcessSteps(), s) {
			return nil, fmt.Errorf("unknown processing step %q (want %s, or none)", s, strings.Join(ProcessSteps(), ", "))
		}
		if !slices.Contains(steps, s) {
			steps = append(steps, s)
		}
	}
	return steps, nil
}

// Process returns a copy of w with the given steps applied, in TransformerLens's order:
//
//   - fold_ln: each pre-norm's gain (and LayerNorm bias) is folded into the weights that read it
//     (W_Q, W_K, W_V and their biases; W_in, W_gate and b_in; the unembedding, which becomes
//     untied, with a bias b_U for a LayerNorm's bias), and the norm's gain set to 1 and bias to 0.
//     Query/key norms and the norms after sublayers (Gemma, OLMo 2) are not folded: nothing
//     linear reads them. A gated MLP after a LayerNorm with bias is refused (its gate has no bias
//     to receive the fold), and so is a shortformer model (W_pos joins the queries and keys after
//     ln1).
//   - center_writing_weights: every weight writing to the residual stream (W_E, W_pos, W_O, b_O,
//     W_out, b_out; W_pos not in a shortformer model, where it writes only to the queries and keys)
//     is centred over d_model; only with LayerNorm (which removes the mean) and no
//     norms after the sublayers.
//   - center_unembed: W_U (and b_U) centred over the vocabulary; the logits change by a constant
//     per position, the log-probabilities not at all; refused with final-logit soft-capping.
//   - fold_value_biases: b_O += sum_h b_V[kv(h)] W_O[h] and b_V = 0 (each attention row sums to 1).
func Process(w *Weights, steps []string) (*Weights, error) {
	for _, s := range steps {
		if !slices.Contains(ProcessSteps(), s) {
			return nil, fmt.Errorf("model: process: unknown step %q", s)
		}
	}
	out := w.Clone()
	for _, s := range ProcessSteps() {
		if !slices.Contains(steps, s) {
			continue
		}
		var err error
		switch s {
		case FoldLN:
			err = foldLN(out)
		case CenterWritingWeights:
			err = centerWriting(out)
		case CenterUnembed:
			err = centerUnembed(out)
		case FoldValueBiases:
			foldValueBiases(out)
		}
		if err != nil {
			return nil, fmt.Errorf("model: process %s: %w", s, err)
		}
	}
	if err := out.Check(); err != nil {
		return nil, fmt.Errorf("model: process: %w", err)
	}
	return out, nil
}

// flat returns the tensor's data for in-place edits (Clone made every tensor w's own).
func (w *Weights) flat(name string) []float32 {
	var out []float32
	tensors.MustMutableFlatData(w.Tensors[name], func(f []float32) { out = f })
	return out
}

// foldInto folds a norm (gain g [D], bias b [D] or nil) into a weight W [..., D, N] read as x W
// (the D axis second to last, rows of N) and its bias [..., N]: W' = diag(g) W, bias' = bias + b W.
func foldInto(W, bias []float32, g, b []float32, groups, D, N int) {
	for grp := range groups {
		Wg := W[grp*D*N : (grp+1)*D*N]
		var bg []float32
		if bias != nil {
			bg = bias[grp*N : (grp+1)*N]
		}
		for d := range D {
			row := Wg[d*N : (d+1)*N]
			if b != nil && bg != nil {
				for n := range N {
					bg[n] += b[d] * row[n]
				}
			}
			for n := range N {
				row[n] *= g[d]
			}
		}
	}
}

func foldLN(w *Weights) error {
	c := w.Config
	if !c.PreNorms() {
		return nil // no pre-norms (none, or OLMo 2's post-norms only): nothing to fold
	}
	if c.HasLN() && c.GatedMLP {
		return fmt.Errorf("a gated MLP after a LayerNorm with bias cannot take the fold (its gate has no bias)")
	}
	if c.Shortformer {
		return fmt.Errorf("a shortformer model adds W_pos to the queries' and keys' inputs after ln1, so ln1's gain cannot move into W_Q and W_K (W_pos is shared by every layer)")
	}
	D, H, Hkv, K, M, V := c.DModel, c.NHeads, c.KVHeads(), c.DHead, c.DMLP, c.DVocab
	norm := func(name string) (g, b []float32) {
		g = w.flat(name + ".w")
		if c.HasLN() {
			b = w.flat(name + ".b")
		}
		return g, b
	}
	reset := func(g, b []float32) { // the folded norm's gain to 1, bias to 0
		for i := range g {
			g[i] = 1
		}
		for i := range b {
			b[i] = 0
		}
	}
	for l := range c.NLayers {
		g, b := norm(blockName(l, "ln1"))
		a := blockName(l, "attn.")
		foldInto(w.flat(a+"W_Q"), w.flat(a+"b_Q"), g, b, H, D, K)
		foldInto(w.flat(a+"W_K"), w.flat(a+"b_K"), g, b, Hkv, D, K)
		foldInto(w.flat(a+"W_V"), w.flat(a+"b_V"), g, b, Hkv, D, K)
		reset(g, b)
		if !c.HasMLP() {
			continue
		}
		g, b = norm(blockName(l, "ln2"))
		m := blockName(l, "mlp.")
		if c.GatedMLP {
			foldInto(w.flat(m+"W_gate"), nil, g, nil, 1, D, M)
		}
		foldInto(w.flat(m+"W_in"), w.flat(m+"b_in"), g, b, 1, D, M)
		reset(g, b)
	}
	// The unembedding: untie it (W_U = W_E^T), fold the final norm in, and give it a bias for a
	// LayerNorm's.
	g, b := norm("ln_final")
	if c.TiedEmbeddings {
		w.Tensors["unembed.W_U"] = tensorOf(ckptTranspose(w.Flat("embed.W_E"), V, D), D, V)
		c.TiedEmbeddings = false
	}
	var bU []float32
	if b != nil {
		if !c.UnembedBias {
			w.Tensors["unembed.b_U"] = zeros(V)
			c.UnembedBias = true
		}
		bU = w.flat("unembed.b_U")
	}
	foldInto(w.flat("unembed.W_U"), bU, g, b, 1, D, V)
	reset(g, b)
	w.Config = c
	return nil
}

// centre subtracts, from each row of n consecutive values, their mean.
func centre(x []float32, n int) {
	for r := 0; r+n <= len(x); r += n {
		var s float64
		for _, v := range x[r : r+n] {
			s += float64(v)
		}
		mean := float32(s / float64(n))
		for i := r; i < r+n; i++ {
			x[i] -= mean
		}
	}
}

func centerWriting(w *Weights) error {
	c := w.Config
	if !c.HasLN() {
		return fmt.Errorf("needs LayerNorm (it relies on the norm removing the mean; this model uses %s)", c.Normalization)
	}
	if c.PostNorms() {
		return fmt.Errorf("norms after the sublayers read the unnormalised outputs; centring them changes the model")
	}
	D := c.DModel
	if c.TiedEmbeddings {
		// W_E is also the unembedding: untie it first, so that centring the embedding leaves the
		// unembedding as it was (TransformerLens always holds W_U apart).
		w.Tensors["unembed.W_U"] = tensorOf(ckptTranspose(w.Flat("embed.W_E"), c.DVocab, D), D, c.DVocab)
		c.TiedEmbeddings = false
		w.Config = c
	}
	centre(w.flat("embed.W_E"), D)
	if c.PositionalEmbeddings && !c.Shortformer { // a shortformer's W_pos does not write to the residual stream
		centre(w.flat("pos_embed.W_pos"), D)
	}
	for l := range c.NLayers {
		centre(w.flat(blockName(l, "attn.W_O")), D)
		centre(w.flat(blockName(l, "attn.b_O")), D)
		if c.HasMLP() {
			centre(w.flat(blockName(l, "mlp.W_out")), D)
			centre(w.flat(blockName(l, "mlp.b_out")), D)
		}
	}
	return nil
}

func centerUnembed(w *Weights) error {
	c := w.Config
	if c.OutputSoftcap != 0 {
		return fmt.Errorf("final-logit soft-capping is not shift-invariant")
	}
	D, V := c.DModel, c.DVocab
	if c.TiedEmbeddings {
		w.Tensors["unembed.W_U"] = tensorOf(ckptTranspose(w.Flat("embed.W_E"), V, D), D, V)
		c.TiedEmbeddings = false
		w.Config = c
	}
	centre(w.flat("unembed.W_U"), V) // each row (a d_model direction) over the vocabulary
	if c.UnembedBias {
		centre(w.flat("unembed.b_U"), V)
	}
	return nil
}

func foldValueBiases(w *Weights) {
	c := w.Config
	D, H, K := c.DModel, c.NHeads, c.DHead
	for l := range c.NLayers {
		a := blockName(l, "attn.")
		bV, WO, bO := w.flat(a+"b_V"), w.flat(a+"W_O"), w.flat(a+"b_O")
		for h := range H {
			kv := c.KVHead(h)
			for k := range K {
				v := bV[kv*K+k]
				row := WO[(h*K+k)*D : (h*K+k+1)*D]
				for d := range D {
					bO[d] += v * row[d]
				}
			}
		}
		for i := range bV {
			bV[i] = 0
		}
	}
}
