package circuits

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/interp-dev/interp/internal/progress"
)

// ACDC (Conmy et al. 2023): greedy edge pruning, in the order of the reference implementation
// (ArthurConmy/Automatic-Circuit-Discovery, TLACDCCorrespondence.setup_from_model and
// TLACDCExperiment.step). Starting from the full graph, the receivers are visited from the output
// down: the logits, then for each layer from the last, its MLP's input, then the heads' query
// inputs (heads from the last to the first), their key inputs, their value inputs. A head's input
// is visited twice: first its direct edge (hook_q_input -> hook_q in the reference: ablating the
// whole input, every sender at once), then, if the direct edge stayed, each sender edge in turn,
// the latest sender first (OrderReverse: the earliest first; OrderRandom: shuffled). An ablation
// is kept when the metric gets worse by less than tau:
//
//	KL:          KL(clean || current) - KL(clean || before) < tau
//	logit diff:  (m_before - m_current) / (m_clean - m_corrupted) < tau
//
// (with AbsValue, |change| < tau, the reference's --abs-value-threshold). A receiver none of whose
// outgoing edges survived cannot affect the output, so its incoming edges are removed without
// being tested. One forward pass per tested edge, all through one compiled graph. An edge's score
// is the metric change measured when it was tested (0 when it was not, or when the change was
// negative; its absolute value with AbsValue), a node's the largest score of its outgoing edges:
// ranking by these scores approximates sweeping tau (ACDCOptions.TauSweep runs the real sweep).

// The sender orders of ACDC (the reference's names_mode / indices_mode).
const (
	OrderNormal  = "normal"  // the latest sender first, as the reference
	OrderReverse = "reverse" // the earliest first
	OrderRandom  = "random"  // shuffled with the experiment's seed
)

// acdcOptions configure one ACDC run.
type acdcOptions struct {
	metric   MetricKind
	tau      float64
	ablation Ablation
	absValue bool
	order    string
	seed     uint64
}

// acdcResult is the outcome of one ACDC run.
type acdcResult struct {
	kept   []Edge
	scores map[string]float64 // edge name -> metric change when tested
	// direct holds the direct edges' scores ("L.H.q") and directKept those that stayed.
	direct     map[string]float64
	directKept []string
	tested     int
}

func (e *experiment) acdc(o acdcOptions) (*acdcResult, error) {
	src, err := e.ablationSource(o.ablation)
	if err != nil {
		return nil, err
	}
	switch o.order {
	case "", OrderNormal, OrderReverse, OrderRandom:
	default:
		return nil, fmt.Errorf("circuits: acdc: order %q (want %s, %s or %s)", o.order, OrderNormal, OrderReverse, OrderRandom)
	}
	g := e.g
	gap := mean(e.cleanLD) - mean(e.corrLD)
	if o.metric == LogitDiff && math.Abs(gap) < 1e-9 {
		return nil, fmt.Errorf("circuits: acdc: clean and corrupted logit differences are equal (%.4g)", mean(e.cleanLD))
	}
	rng := rand.New(rand.NewPCG(o.seed, 0xacdc))
	ablated := map[string]bool{}
	masks := g.newEdgeMasks(func(Edge) bool { return false })
	eval := func() (float64, error) {
		logits, err := e.runEdgeAblation(e.clean, masks, src)
		if err != nil {
			return 0, err
		}
		if o.metric == KL {
			return mean(klDivs(e.cleanLP, logProbsAt(logits, e.pairs))), nil
		}
		return mean(logitDiffs(logits, e.pairs)), nil
	}
	// worse is how much the metric got worse from before to after (positive = worse).
	worse := func(before, after float64) float64 {
		d := (before - after) / gap
		if o.metric == KL {
			d = after - before
		}
		if o.absValue {
			d = math.Abs(d)
		}
		return d
	}
	cur, err := eval()
	if err != nil {
		return nil, err
	}
	res := &acdcResult{scores: map[string]float64{}, direct: map[string]float64{}}
	removed := 0
	bar := progress.New(len(g.Edges), "acdc")
	defer bar.Finish()
	alive := func(r Node) bool {
		if r.Kind == Logits {
			return true
		}
		for _, x := range g.Edges {
			if x.From == r && !ablated[x.String()] {
				return true
			}
		}
		return false
	}
	// ablate marks edges ablated (in the masks too) without testing them.
	ablate := func(edges []Edge) {
		for _, x := range edges {
			if !ablated[x.String()] {
				ablated[x.String()] = true
				masks.set(x, 1)
				removed++
				res.scores[x.String()] = 0
				bar.Add(1, fmt.Sprintf("%d kept", len(g.Edges)-removed))
			}
		}
	}
	// try ablates edges together and keeps the ablation when the metric worsens by less than tau;
	// it returns the change.
	try := func(edges []Edge) (float64, bool, error) {
		for _, x := range edges {
			masks.set(x, 1)
		}
		m, err := eval()
		if err != nil {
			return 0, false, err
		}
		res.tested++
		d := worse(cur, m)
		if d < o.tau {
			cur = m
			for _, x := range edges {
				ablated[x.String()] = true
			}
			return d, true, nil
		}
		for _, x := range edges {
			masks.set(x, 0)
		}
		return d, false, nil
	}
	incoming := func(r Node, in Input) []Edge {
		senders := g.Senders(r)
		edges := make([]Edge, 0, len(senders))
		for j := len(senders) - 1; j >= 0; j-- { // the latest sender first
			edges = append(edges, Edge{From: senders[j], To: r, Input: in})
		}
		switch o.order {
		case OrderReverse:
			slices.Reverse(edges)
		case OrderRandom:
			rng.Shuffle(len(edges), func(i, j int) { edges[i], edges[j] = edges[j], edges[i] })
		}
		return edges
	}
	// senders tests each incoming edge of (r, in) in turn.
	senders := func(r Node, in Input) error {
		edges := incoming(r, in)
		if !alive(r) {
			ablate(edges)
			return nil
		}
		for _, x := range edges {
			d, gone, err := try([]Edge{x})
			if err != nil {
				return err
			}
			res.scores[x.String()] = math.Max(d, 0)
			if gone {
				removed++
			}
			bar.Add(1, fmt.Sprintf("%d kept", len(g.Edges)-removed))
		}
		return nil
	}
	if err := senders(LogitsNode(), ""); err != nil {
		return nil, err
	}
	for l := g.NLayers - 1; l >= 0; l-- {
		if g.HasMLP {
			if err := senders(MLPNode(l), ""); err != nil {
				return nil, err
			}
		}
		for _, in := range []Input{InQ, InK, InV} {
			var heads []Node
			for h := g.NHeads - 1; h >= 0; h-- {
				if r := HeadNode(l, h); slices.Contains(g.Inputs(r), in) {
					heads = append(heads, r)
				}
			}
			// The direct edges of this input, every head, then the sender edges of those kept.
			cut := map[Node]bool{}
			for _, r := range heads {
				if !alive(r) {
					cut[r] = true
					continue
				}
				edges := incoming(r, in)
				d, gone, err := try(edges)
				if err != nil {
					return nil, err
				}
				name := fmt.Sprintf("%d.%d.%s", l, r.Head, in)
				res.direct[name] = math.Max(d, 0)
				if gone {
					cut[r] = true
					removed += len(edges)
					for _, x := range edges {
						res.scores[x.String()] = 0
					}
					bar.Add(len(edges), fmt.Sprintf("%d kept", len(g.Edges)-removed))
				} else {
					res.directKept = append(res.directKept, name)
				}
			}
			for _, r := range heads {
				if cut[r] {
					ablate(incoming(r, in)) // no-op for the edges a removed direct edge took
					continue
				}
				if err := senders(r, in); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, x := range g.Edges {
		if !ablated[x.String()] {
			res.kept = append(res.kept, x)
		}
	}
	return res, nil
}
