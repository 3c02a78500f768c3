package attrgraph

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/internal/progress"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
)

// Feature is one active transcoder latent: layer, position, latent index and its activation.
type Feature struct {
	Layer int     `json:"layer"`
	Pos   int     `json:"pos"`
	Index int     `json:"feature"`
	Act   float32 `json:"activation"`
}

// Logit is a logit node: a token at the last position and its probability.
type Logit struct {
	Token int     `json:"token"`
	Prob  float64 `json:"prob"`
}

// Options control Build. The zero value takes circuit-tracer's defaults.
type Options struct {
	// MaxLogits and LogitProb choose the logit nodes: the most probable tokens at the last
	// position until their probabilities sum to LogitProb, at most MaxLogits (10, 0.95).
	MaxLogits int
	LogitProb float64
	// Targets, when set, are the logit nodes' tokens instead (MaxLogits and LogitProb unused).
	Targets []int
	// MaxFeatures bounds the feature nodes (0: every active feature). Beyond it, features are
	// chosen by their influence on the logits, re-estimated every UpdateInterval batches (4).
	MaxFeatures    int
	UpdateInterval int
	// BatchSize is the number of targets per backward pass (256).
	BatchSize int
	// Progress, when set, receives the memory estimate and a progress bar.
	Progress io.Writer
}

func (o Options) withDefaults() Options {
	if o.MaxLogits == 0 {
		o.MaxLogits = 10
	}
	if o.LogitProb == 0 {
		o.LogitProb = 0.95
	}
	if o.UpdateInterval == 0 {
		o.UpdateInterval = 4
	}
	if o.BatchSize == 0 {
		o.BatchSize = 256
	}
	return o
}

// Graph is an unpruned attribution graph. Its nodes are, in order, the selected features, the
// error nodes (layer-major: N_f + l*P + t), the token embeddings (one per position) and the logits,
// circuit-tracer's order. Adj[i*N + j] is the direct effect of source j on target i; only
// feature and logit rows are filled (errors and tokens have no inputs).
type Graph struct {
	Tokens   []int
	NLayers  int
	P        int
	Features []Feature // the feature nodes (selected active features), by layer, position, index
	NActive  int       // every active feature on the prompt
	Logits   []Logit
	N        int
	Adj      []float32 // [N, N], row = target, column = source
}

// Node indices.
func (g *Graph) ErrorNode(l, t int) int { return len(g.Features) + l*g.P + t }
func (g *Graph) TokenNode(t int) int    { return len(g.Features) + g.NLayers*g.P + t }
func (g *Graph) LogitNode(i int) int    { return len(g.Features) + (g.NLayers+1)*g.P + i }

// Edge is A[target, source].
func (g *Graph) Edge(target, source int) float32 { return g.Adj[target*g.N+source] }

// logitWeights is the vector of logit probabilities on the logit nodes, zero elsewhere.
func (g *Graph) logitWeights() []float64 {
	w := make([]float64, g.N)
	for i, l := range g.Logits {
		w[g.LogitNode(i)] = l.Prob
	}
	return w
}

// Build computes the attribution graph of one prompt (token ids) over the transcoders (see
// doc.go): one forward pass, then batched backward passes of the local replacement model for
// the logit nodes and for each feature node.
func Build(m *model.Model, ts []*sae.SAE, tokens []int, opt Options) (*Graph, error) {
	opt = opt.withDefaults()
	if opt.LogitProb <= 0 || opt.LogitProb > 1 {
		return nil, fmt.Errorf("attrgraph: logit probability %g outside (0, 1]", opt.LogitProb)
	}
	if opt.MaxLogits < 0 || opt.MaxFeatures < 0 || opt.BatchSize < 0 || opt.UpdateInterval < 0 {
		return nil, errors.New("attrgraph: negative option")
	}
	r, err := NewReplacement(m, ts, tokens)
	if err != nil {
		return nil, err
	}
	return r.Graph(opt)
}

// Graph computes the attribution graph of the replacement's prompt.
func (r *Replacement) Graph(opt Options) (*Graph, error) {
	opt = opt.withDefaults()
	c := r.cfg
	L, P, D := c.NLayers, r.P, c.DModel
	logits, lvecs, err := r.logitTargets(opt)
	if err != nil {
		return nil, err
	}
	feats := r.activeFeatures()
	a := newAdjoint(r, feats)
	nAct := len(feats)
	maxF := nAct
	if opt.MaxFeatures > 0 {
		maxF = min(opt.MaxFeatures, nAct)
	}
	nL := len(logits)
	if opt.Progress != nil {
		fmt.Fprintf(opt.Progress, "attrgraph: %d tokens, %d active features (%d kept), %d logits; memory %s\n",
			P, nAct, maxF, nL, formatBytes(EstimateMemory(c, P, nAct, maxF, nL, opt.BatchSize)))
	}
	// rows[i] is the attribution row of node rowNode[i] over the sources; columns [0, nAct) are
	// the active features, then errors and tokens.
	rows := make([][]float32, 0, nL+maxF)
	rowNode := make([]int, 0, nL+maxF) // logit i: -1-i; feature: its index in feats
	bar := progress.New(nL+maxF, "attribution")
	if opt.Progress == nil {
		bar = nil
	}
	run := func(idx []int, layers, pos []int, vecs []float32) error {
		out, err := a.rows(layers, pos, vecs)
		if err != nil {
			return err
		}
		n := a.nSrc
		for i := range idx {
			rows = append(rows, out[i*n:(i+1)*n])
			rowNode = append(rowNode, idx[i])
		}
		if bar != nil {
			bar.Add(len(idx), "")
		}
		return nil
	}
	// Logit rows.
	for s := 0; s < nL; s += opt.BatchSize {
		e := min(s+opt.BatchSize, nL)
		var idx, layers, pos []int
		for i := s; i < e; i++ {
			idx, layers, pos = append(idx, -1-i), append(layers, L), append(pos, P-1)
		}
		if err := run(idx, layers, pos, lvecs[s*D:e*D]); err != nil {
			return nil, err
		}
	}
	// Feature rows, by influence when not all are kept.
	visited := make([]bool, nAct)
	nVisited := 0
	for nVisited < maxF {
		var pending []int
		if maxF == nAct {
			for i := range nAct {
				pending = append(pending, i)
			}
		} else {
			inf := partialInfluence(rows, rowNode, logits, nAct)
			order := make([]int, nAct)
			for i := range order {
				order[i] = i
			}
			sort.SliceStable(order, func(x, y int) bool { return inf[order[x]] > inf[order[y]] })
			q := min(opt.UpdateInterval*opt.BatchSize, maxF-nVisited)
			for _, i := range order {
				if len(pending) == q {
					break
				}
				if !visited[i] {
					pending = append(pending, i)
				}
			}
		}
		// Highest layers first, so that each batch's backward pass starts as low as it can.
		sort.SliceStable(pending, func(x, y int) bool { return feats[pending[x]].Layer > feats[pending[y]].Layer })
		for s := 0; s < len(pending); s += opt.BatchSize {
			batch := pending[s:min(s+opt.BatchSize, len(pending))]
			var layers, pos []int
			vecs := make([]float32, 0, len(batch)*D)
			for _, i := range batch {
				f := feats[i]
				layers, pos = append(layers, f.Layer), append(pos, f.Pos)
				vecs = append(vecs, r.encoderVec(f)...)
				visited[i] = true
			}
			if err := run(batch, layers, pos, vecs); err != nil {
				return nil, err
			}
			nVisited += len(batch)
		}
	}
	if bar != nil {
		bar.Finish()
	}
	return assemble(r, feats, visited, logits, rows, rowNode), nil
}

// assemble builds the square adjacency over the selected features, errors, tokens and logits.
func assemble(r *Replacement, feats []Feature, visited []bool, logits []Logit, rows [][]float32, rowNode []int) *Graph {
	L, P := r.cfg.NLayers, r.P
	col := make([]int, len(feats)) // active feature -> node index, -1 when not selected
	var sel []Feature
	for i, f := range feats {
		col[i] = -1
		if visited[i] {
			col[i] = len(sel)
			sel = append(sel, f)
		}
	}
	nF := len(sel)
	g := &Graph{Tokens: slices.Clone(r.Tokens), NLayers: L, P: P, Features: sel, NActive: len(feats), Logits: logits}
	g.N = nF + (L+1)*P + len(logits)
	g.Adj = make([]float32, g.N*g.N)
	for k, row := range rows {
		target := rowNode[k]
		if target < 0 {
			target = g.LogitNode(-1 - target)
		} else {
			target = col[target]
		}
		dst := g.Adj[target*g.N : (target+1)*g.N]
		for j, v := range row[:len(feats)] {
			if col[j] >= 0 {
				dst[col[j]] = v
			}
		}
		copy(dst[nF:nF+(L+1)*P], row[len(feats):])
	}
	return g
}

// activeFeatures lists every nonzero latent, by layer, position and index.
func (r *Replacement) activeFeatures() []Feature {
	var out []Feature
	for l := range r.cfg.NLayers {
		s, ok := r.ts[l]
		if !ok {
			continue
		}
		F := s.Config.DSAE
		for t := range r.P {
			for j, v := range r.lat[l][t*F : (t+1)*F] {
				if v != 0 {
					out = append(out, Feature{Layer: l, Pos: t, Index: j, Act: v})
				}
			}
		}
	}
	return out
}

// encoderVec is the direction feature f's pre-activation reads from its transcoder's input:
// W_enc[:, j] ([D]).
func (r *Replacement) encoderVec(f Feature) []float32 {
	s := r.ts[f.Layer]
	F, DIn := s.Config.DSAE, s.Config.DIn
	v := make([]float32, DIn)
	tensors.MustConstFlatData(s.Params["W_enc"], func(enc []float32) { // [DIn, F]
		for i := range DIn {
			v[i] = enc[i*F+f.Index]
		}
	})
	return v
}

// logitTargets chooses the logit nodes and returns their demeaned unembedding vectors [n, D]:
// W_U[:, v] - mean over the vocabulary of W_U (the logit minus the mean logit, as circuit-tracer
// attributes).
func (r *Replacement) logitTargets(opt Options) ([]Logit, []float32, error) {
	c := r.cfg
	V, D := c.DVocab, c.DModel
	last := r.Logits(r.P - 1)
	probs := model.Probs(last)
	var toks []int
	if len(opt.Targets) > 0 {
		for _, t := range opt.Targets {
			if t < 0 || t >= V {
				return nil, nil, fmt.Errorf("attrgraph: target token %d outside the vocabulary [0, %d)", t, V)
			}
		}
		toks = slices.Clone(opt.Targets)
	} else {
		order := make([]int, V)
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(x, y int) bool { return probs[order[x]] > probs[order[y]] })
		var cum float64
		for _, v := range order[:min(opt.MaxLogits, V)] {
			toks = append(toks, v)
			cum += probs[v]
			if cum >= opt.LogitProb {
				break
			}
		}
	}
	wU := r.unembedding() // [D, V]
	mean := make([]float64, D)
	for d := range D {
		var s float64
		for v := range V {
			s += float64(wU[d*V+v])
		}
		mean[d] = s / float64(V)
	}
	logits := make([]Logit, len(toks))
	vecs := make([]float32, 0, len(toks)*D)
	for i, v := range toks {
		logits[i] = Logit{Token: v, Prob: probs[v]}
		for d := range D {
			vecs = append(vecs, float32(float64(wU[d*V+v])-mean[d]))
		}
	}
	return logits, vecs, nil
}

// unembedding returns W_U [D, V] (W_E transposed for tied embeddings).
func (r *Replacement) unembedding() []float32 {
	c := r.cfg
	if !c.TiedEmbeddings {
		return r.m.Weights.Flat("unembed.W_U")
	}
	e := r.m.Weights.Flat("embed.W_E") // [V, D]
	V, D := c.DVocab, c.DModel
	out := make([]float32, V*D)
	for v := range V {
		for d := range D {
			out[d*V+v] = e[v*D+d]
		}
	}
	return out
}

// EstimateMemory is the host memory Build needs, in bytes: the attribution rows and the square
// adjacency (float32), and one batch's backward pass (about a dozen [B, P, D] buffers per layer
// plus the per-layer reads).
func EstimateMemory(c model.Config, P, nActive, nKept, nLogits, batch int) int64 {
	nSrc := int64(nActive + (c.NLayers+1)*P)
	rows := int64(nKept+nLogits) * nSrc * 4
	n := int64(nKept + (c.NLayers+1)*P + nLogits)
	adj := n * n * 4
	B := int64(min(batch, max(nKept, nLogits)))
	pass := B*int64(P)*int64(c.DModel)*4*12*int64(c.NLayers) + B*nSrc*4*2
	return rows + adj + pass
}

func formatBytes(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
}
