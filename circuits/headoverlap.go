package circuits

import (
	"fmt"
	"math"
	"sort"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/internal/progress"
	"github.com/interp-dev/interp/sae"
)

// Head overlap (O'Neill & Bui 2024, circuit identification with discrete sparse-autoencoder
// codes): which heads behave differently on prompts the model solves than on prompts it cannot.
//
//  1. Each head's output (hook_result) averaged over positions, for every positive and negative
//     prompt: rows [prompt x head, d_model].
//  2. One small SAE shared by all heads is trained on the rows of the first SAE-examples pairs
//     (10; ReLU, 200 latents, L1 0.02, Adam lr 1e-3, 500 full-batch epochs, b_dec subtracted
//     from the input (tied pre-encoder bias, started at the data mean where the reference takes
//     the geometric median), and the reference's ConstrainedUnitNormLinear weights: every
//     encoder column and every decoder column (an output's weights over the latents) at unit
//     norm, with a plain L1 penalty; FreeEncoder trains interp's usual SAE instead).
//     The L1 coefficient is in the reference's units: its loss is mean((xhat - x)^2) over rows
//     and dimensions plus L1 * mean over rows of ||f||_1; package sae's trainer sums the squared
//     error over the d_model dimensions, so it is given L1 * d_model (the same minimiser).
//  3. Every prompt of the experiment (all its pairs, not only the SAE's) is coded: the code of
//     (prompt, head) is the SAE's most active latent (-1, "silent", when none is active).
//  4. Edge score of the head pair (h1, h2): the number of code pairs (code_h1, code_h2) seen
//     together on a positive prompt and never on a negative one (the reported edge scores are the
//     pairs with h1 in an earlier layer).
//  5. Node score, by default the paper's edge method (the reference's edge.py,
//     edge_circuit_prediction): the ordered head pairs h1 != h2 sorted by edge score, highest
//     first (ties by pair index), are unrolled into a list of heads (h1, h2, h1', h2', ...); a
//     head's score is how often it appears among the first k = (heads^2)/2 of that list, then a
//     softmax over heads. With NodeMethod "codes" (the paper's node method): the number of codes
//     h takes on positive prompts and never on negative ones (the raw count; optionally divided
//     by the number of distinct codes h takes at all), then a softmax.
//  6. The chosen circuit, for both, is the heads with at least one code unique to the positives
//     (the reference picks its circuits at the max-F1 threshold, which needs the ground truth;
//     among the top pairs nearly every head appears, so they cannot choose it).
//
// Head overlap scores heads only, so its ground-truth evaluation runs over heads (an MLP it
// cannot score would otherwise count as a correctly rejected negative).
//
// Positives are the clean prompts the model gets right (logit difference > 0); negatives the
// corrupted prompts (IOI: the ABC prompts, whose names make the answer unpredictable).

// HeadOverlapOptions configure head overlap; zero values take the paper's defaults.
type HeadOverlapOptions struct {
	Examples int     // clean/corrupted pairs the SAE is trained on (default 10; codes are counted over all of the experiment's pairs)
	Latents  int     // SAE width (default 200)
	L1       float64 // L1 coefficient in the reference's units (default 0.02; see the package comment above)
	LR       float64 // Adam learning rate (default 1e-3)
	Epochs   int     // full-batch training steps (default 500)
	Seed     uint64  // SAE initialisation
	// Normalize divides a head's count of unique positive codes by its number of distinct codes
	// (the default is the paper's raw count); for the edge method, each head pair's count by the
	// pair's distinct code pairs on positives and negatives (edge.py's normalise).
	Normalize bool
	// NodeMethod turns codes into node scores: "edge" (default: the top-scoring head pairs, the
	// paper's better method) or "codes" (unique positive codes per head).
	NodeMethod string
	// FreeEncoder trains interp's usual SAE (free encoder, unit-norm decoder rows, L1 scaled by
	// decoder norms) instead of the reference's (sae.TrainOptions.ConstrainUnitNormBoth: unit-norm
	// encoder and decoder columns, plain L1).
	FreeEncoder bool
}

// The node methods of head overlap.
const (
	NodeFromEdges = "edge"
	NodeFromCodes = "codes"
)

func (o *HeadOverlapOptions) defaults() {
	if o.Examples == 0 {
		o.Examples = 10
	}
	if o.Latents == 0 {
		o.Latents = 200
	}
	if o.L1 == 0 {
		o.L1 = 0.02
	}
	if o.LR == 0 {
		o.LR = 1e-3
	}
	if o.Epochs == 0 {
		o.Epochs = 500
	}
	if o.NodeMethod == "" {
		o.NodeMethod = NodeFromEdges
	}
}

type headOverlapResult struct {
	nodeScores, edgeScores map[string]float64
	chosen                 []Node // heads with at least one code unique to the positives
	settings               map[string]any
}

func (e *experiment) headOverlap(opt HeadOverlapOptions) (*headOverlapResult, error) {
	opt.defaults()
	if opt.NodeMethod != NodeFromEdges && opt.NodeMethod != NodeFromCodes {
		return nil, fmt.Errorf("circuits: head overlap: node method %q (want %s or %s)", opt.NodeMethod, NodeFromEdges, NodeFromCodes)
	}
	c := e.m.Config
	var pos []int
	for i, v := range e.cleanLD {
		if v > 0 {
			pos = append(pos, i)
		}
	}
	if len(pos) == 0 {
		return nil, fmt.Errorf("circuits: head overlap: the model solves none of the %d clean prompts (logit difference > 0)", e.n)
	}
	nh := c.NLayers * c.NHeads
	// The SAE trains on the first opt.Examples pairs (their positives and negatives) and codes
	// every pair.
	nTrain := min(opt.Examples, e.n)
	var trainPos []int
	for _, i := range pos {
		if i < nTrain {
			trainPos = append(trainPos, i)
		}
	}
	train := append(meanHeadOutputs(e.cleanOut.result, trainPos), meanHeadOutputs(e.corrOut.result, seq(nTrain))...)
	posRows := meanHeadOutputs(e.cleanOut.result, pos)                  // [len(pos) * nh * D]
	negRows := meanHeadOutputs(e.corrOut.result, seq(e.n))              // [N * nh * D]
	rows := append(append([]float32(nil), posRows...), negRows...)      // coded rows
	codes, err := trainAndCode(train, rows, c.DModel, opt, e.m.Backend) // [rows]
	if err != nil {
		return nil, err
	}
	posCodes, negCodes := codes[:len(pos)*nh], codes[len(pos)*nh:]
	heads := e.g.Heads()
	raw := make([]float64, nh)
	for k := range heads {
		neg := map[int]bool{}
		all := map[int]bool{}
		for i := range e.n {
			neg[negCodes[i*nh+k]] = true
			all[negCodes[i*nh+k]] = true
		}
		uniq := map[int]bool{}
		for i := range pos {
			code := posCodes[i*nh+k]
			all[code] = true
			if !neg[code] {
				uniq[code] = true
			}
		}
		raw[k] = float64(len(uniq))
		if opt.Normalize {
			raw[k] /= float64(len(all))
		}
	}
	res := &headOverlapResult{nodeScores: map[string]float64{}, edgeScores: map[string]float64{},
		settings: map[string]any{"examples": e.n, "sae_examples": nTrain, "positives": len(pos), "latents": opt.Latents,
			"l1": opt.L1, "l1_trainer_units": opt.L1 * float64(c.DModel), "lr": opt.LR, "epochs": opt.Epochs, "normalised": opt.Normalize,
			"node_method": opt.NodeMethod, "free_encoder": opt.FreeEncoder}}
	pair := uniquePairs(posCodes, negCodes, len(pos), e.n, nh, opt.Normalize) // [nh * nh], ordered pairs
	for a := range heads {
		for b := range heads {
			if heads[a].Layer < heads[b].Layer {
				res.edgeScores[Edge{From: heads[a], To: heads[b]}.String()] = pair[a*nh+b]
			}
		}
	}
	for k := range heads {
		if raw[k] > 0 {
			res.chosen = append(res.chosen, heads[k])
		}
	}
	if opt.NodeMethod == NodeFromEdges {
		raw = edgeToNode(pair, nh)
		res.settings["k"] = nh * nh / 2
	}
	for k, p := range softmax(raw) {
		res.nodeScores[heads[k].String()] = p
	}
	return res, nil
}

// uniquePairs counts, for every ordered head pair (a, b), a != b, the code pairs (code_a, code_b)
// seen on a positive prompt and never on a negative one (edge.py's unique_co_occurrences). With
// normalise, the count is divided by the number of distinct code pairs seen on positives plus
// those seen on negatives (edge.py normalises the co-occurrence matrices first, which keeps which
// entries are nonzero).
func uniquePairs(posCodes, negCodes []int, nPos, nNeg, nh int, normalise bool) []float64 {
	out := make([]float64, nh*nh)
	for a := range nh {
		for b := range nh {
			if a == b {
				continue
			}
			neg := map[[2]int]bool{}
			for i := range nNeg {
				neg[[2]int{negCodes[i*nh+a], negCodes[i*nh+b]}] = true
			}
			seen := map[[2]int]bool{}
			uniq := 0
			for i := range nPos {
				pr := [2]int{posCodes[i*nh+a], posCodes[i*nh+b]}
				if seen[pr] {
					continue
				}
				seen[pr] = true
				if !neg[pr] {
					uniq++
				}
			}
			out[a*nh+b] = float64(uniq)
			if normalise && len(seen)+len(neg) > 0 {
				out[a*nh+b] /= float64(len(seen) + len(neg))
			}
		}
	}
	return out
}

// edgeToNode is edge.py's edge_circuit_prediction: the ordered pairs sorted by score (highest
// first; ties by pair index, where numpy's unstable argsort leaves them in no set order), unrolled
// into heads, and each head counted over the first nh*nh/2 entries.
func edgeToNode(pair []float64, nh int) []float64 {
	idx := make([]int, len(pair))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(x, y int) bool { return pair[idx[x]] > pair[idx[y]] })
	k := nh * nh / 2
	count := make([]float64, nh)
	for j := range k {
		p := idx[j/2]
		h := p / nh // the pair's first head, then its second
		if j%2 == 1 {
			h = p % nh
		}
		count[h]++
	}
	return count
}

// meanHeadOutputs returns, for the given rows of hook_result tensors (one per layer, [N, P, H,
// D]), every head's output averaged over positions: [len(rows) * L*H * D], heads in layer order.
func meanHeadOutputs(result []*tensors.Tensor, rows []int) []float32 {
	dims := result[0].Shape().Dimensions
	P, H, D := dims[1], dims[2], dims[3]
	L := len(result)
	out := make([]float32, len(rows)*L*H*D)
	for l, t := range result {
		flat := tensors.MustCopyFlatData[float32](t)
		for i, r := range rows {
			for h := range H {
				dst := out[((i*L+l)*H+h)*D : ((i*L+l)*H+h+1)*D]
				for p := range P {
					src := flat[((r*P+p)*H+h)*D:]
					for d := range D {
						dst[d] += src[d] / float32(P)
					}
				}
			}
		}
	}
	return out
}

// trainAndCode trains the shared SAE on train [m * d] and returns the code of each row of rows
// [n * d].
func trainAndCode(train, rows []float32, d int, opt HeadOverlapOptions, b backends.Backend) ([]int, error) {
	m := len(train) / d
	cfg := sae.Config{Arch: sae.ReLU, DIn: d, DSAE: opt.Latents, ApplyBDecToInput: true}
	tr, err := sae.NewTrainer(cfg, b, sae.TrainOptions{Steps: opt.Epochs, Batch: m, LR: opt.LR, Sparsity: opt.L1 * float64(d),
		UnitNormDecoder: opt.FreeEncoder, ConstrainUnitNormBoth: !opt.FreeEncoder, InitBDecMean: true,
		Init: sae.InitOptions{Seed: opt.Seed}, DeadWindow: math.MaxInt64})
	if err != nil {
		return nil, fmt.Errorf("circuits: head overlap: %w", err)
	}
	bar := progress.New(opt.Epochs, "head-overlap SAE")
	for range opt.Epochs {
		st, err := tr.Step(train, nil)
		if err != nil {
			bar.Finish()
			return nil, fmt.Errorf("circuits: head overlap: %w", err)
		}
		bar.Add(1, fmt.Sprintf("mse %.4g, L0 %.1f", st.MSE, st.L0))
	}
	bar.Finish()
	n := len(rows) / d
	f, err := tr.SAE().Encode(tensors.FromFlatDataAndDimensions(rows, n, d))
	if err != nil {
		return nil, fmt.Errorf("circuits: head overlap: %w", err)
	}
	acts := tensors.MustCopyFlatData[float32](f)
	codes := make([]int, n)
	for i := range n {
		row := acts[i*opt.Latents : (i+1)*opt.Latents]
		codes[i] = -1
		best := float32(0)
		for j, v := range row {
			if v > best {
				best, codes[i] = v, j
			}
		}
	}
	return codes, nil
}

// softmax of xs.
func softmax(xs []float64) []float64 {
	mx := math.Inf(-1)
	for _, x := range xs {
		mx = math.Max(mx, x)
	}
	out := make([]float64, len(xs))
	var z float64
	for i, x := range xs {
		out[i] = math.Exp(x - mx)
		z += out[i]
	}
	for i := range out {
		out[i] /= z
	}
	return out
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
