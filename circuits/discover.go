package circuits

import (
	"cmp"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
)

// Method names a circuit-discovery method.
type Method string

const (
	// HeadOverlap is O'Neill & Bui 2024: codes of a small SAE shared across heads (headoverlap.go).
	HeadOverlap Method = "head-overlap"
	// ACDC is greedy edge pruning (acdc.go).
	ACDC Method = "acdc"
	// EAP is edge attribution patching (eap.go).
	EAP Method = "eap"
	// EAPIG is EAP with integrated gradients over the embeddings (eap.go).
	EAPIG Method = "eap-ig"
	// EAPIGActivations is EAP with integrated gradients over each layer's output in turn (eap.go).
	EAPIGActivations Method = "eap-ig-activations"
	// Patching is node-level activation patching of every head and MLP (patching.go).
	Patching Method = "patching"
)

// Methods lists every discovery method.
func Methods() []Method { return []Method{HeadOverlap, ACDC, EAP, EAPIG, EAPIGActivations, Patching} }

// ParseMethod checks a method name.
func ParseMethod(s string) (Method, error) {
	for _, m := range Methods() {
		if string(m) == s {
			return m, nil
		}
	}
	var names []string
	for _, m := range Methods() {
		names = append(names, string(m))
	}
	return "", fmt.Errorf("circuits: unknown method %q (want %s)", s, strings.Join(names, ", "))
}

// Options configure Discover. Zero values take the defaults noted.
type Options struct {
	Method Method
	// Examples is the number of clean/corrupted pairs (default 20; head overlap trains its SAE
	// on the first HeadOverlapOptions.Examples of them, default 10, and counts codes over all).
	Examples int
	// Seed draws the pairs.
	Seed uint64
	// Ablation replaces what is ablated in ACDC and in the faithfulness measurement (default
	// resample: the paired corrupted prompt's value).
	Ablation Ablation
	// ACDCMetric is ACDC's metric (default KL) and Tau its threshold (default 0.01 for KL, 0.02
	// of the clean-corrupted gap for the logit difference).
	ACDCMetric MetricKind
	Tau        float64
	// Steps is the number of EAP-IG interpolation steps (default 30, the reference's) and IGRule
	// where along the path they sit: "left" (default; the reference's get_scores_eap_ig, alpha =
	// k/steps for k = 0..steps-1, from the corrupted end) or "midpoint" (alpha = (k+1/2)/steps).
	Steps  int
	IGRule string
	// Select chooses how EAP and EAP-IG pick their circuit from the edge scores (select.go):
	// "keep" (default, Keep below), "topn" or "greedy" (the reference's apply_topn and
	// apply_greedy, TopN edges, pruned to paths from the embeddings to the logits).
	Select string
	TopN   int
	// ACDCAbs compares |change| with tau (the reference's --abs-value-threshold); ACDCOrder is the
	// order ACDC tests a receiver's sender edges in (OrderNormal, OrderReverse, OrderRandom).
	ACDCAbs   bool
	ACDCOrder string
	// TauSweep, for ACDC, reruns it at each of these thresholds and reports each circuit (and, with
	// a ground truth, its true and false positive rates over heads and MLPs: the ROC of a real tau
	// sweep, Result.TauSweep).
	TauSweep []float64
	// MIB also measures MIB's circuit-localisation curve of the method's ranking (Result.MIB):
	// faithfulness at MIBPercents of the edges, CPR and CMD.
	MIB bool
	// Intervention is what EAP scores an edge's removal against (intervention.go): "patching"
	// (default; the corrupted prompt's value), "zero", "mean" or "mean-positional".
	Intervention string
	// Keep chooses the circuit of the score-based methods (EAP, EAP-IG, patching): the nodes or
	// edges scoring at least Keep times the largest score (default 0.1). Head overlap keeps the
	// heads with a code unique to the positive prompts.
	Keep float64
	// HeadOverlap configures the head-overlap method.
	HeadOverlap HeadOverlapOptions
	// Truth, when set, is the ground-truth circuit the scores are evaluated against.
	Truth *Circuit
}

func (o *Options) defaults() {
	if o.Examples == 0 {
		o.Examples = 20
	}
	if o.Ablation == "" {
		o.Ablation = Resample
	}
	if o.ACDCMetric == "" {
		o.ACDCMetric = KL
	}
	if o.Tau == 0 {
		o.Tau = 0.01
		if o.ACDCMetric == LogitDiff {
			o.Tau = 0.02
		}
	}
	if o.Steps == 0 {
		o.Steps = 30
	}
	if o.IGRule == "" {
		o.IGRule = IGLeft
	}
	if o.Keep == 0 {
		o.Keep = 0.1
	}
}

// Result is what Discover found: scores, the chosen circuit and how good it is.
type Result struct {
	Model    string `json:"model"`
	Task     string `json:"task"`
	Method   Method `json:"method"`
	Backend  string `json:"backend"`
	Examples int    `json:"examples"`
	// Metric is the logit difference Answer - Wrong at the scored position, averaged over the
	// pairs, on the clean and the corrupted prompts.
	CleanMetric     float64 `json:"clean_logit_diff"`
	CorruptedMetric float64 `json:"corrupted_logit_diff"`
	// NodeScores rank heads and MLPs (higher = more important; what ROC AUC is computed on).
	NodeScores map[string]float64 `json:"node_scores"`
	// EdgeScores rank edges (by Edge.String name), when the method scores edges; EdgeLevel
	// says whether they resolve the receiver's input ("q/k/v") or score node pairs ("pairs").
	EdgeScores map[string]float64 `json:"edge_scores,omitempty"`
	EdgeLevel  string             `json:"edge_level,omitempty"`
	// Circuit is the chosen circuit.
	Circuit Circuit `json:"circuit"`
	// GroundTruth compares the scores with the known circuit (planted models).
	GroundTruth *GroundTruthReport `json:"ground_truth,omitempty"`
	// TauSweep is ACDC's circuit at each threshold of Options.TauSweep.
	TauSweep *TauSweep `json:"tau_sweep,omitempty"`
	// MIB is the circuit-localisation curve of the method's ranking (Options.MIB).
	MIB *MIBCurve `json:"mib_curve,omitempty"`
	// Faithfulness of the chosen circuit, node level (and edge level when it has edges).
	Faithfulness     *Faithfulness `json:"faithfulness,omitempty"`
	EdgeFaithfulness *Faithfulness `json:"edge_faithfulness,omitempty"`
	// Seconds is the wall time of the discovery method itself (without the faithfulness
	// measurement); TotalSeconds of the whole call.
	Seconds      float64 `json:"wall_seconds"`
	TotalSeconds float64 `json:"total_seconds"`
	// Settings records the method's parameters.
	Settings map[string]any `json:"settings"`
}

// GroundTruthReport is node-level ROC AUC and max-F1 scores, with the edge-level ones nested.
type GroundTruthReport struct {
	GroundTruth
	Edges *GroundTruth `json:"edges,omitempty"`
}

// Discover runs one discovery method on model m for the task's clean/corrupted pairs. modelName
// is recorded in the result.
func Discover(m *model.Model, modelName string, task tasks.Task, opt Options) (*Result, error) {
	opt.defaults()
	start := time.Now()
	if err := checkTruth(NewGraph(m.Config), opt.Truth); err != nil {
		return nil, err
	}
	n := opt.Examples
	pairs, err := task.Pairs(opt.Seed, n)
	if err != nil {
		return nil, err
	}
	e, err := newExperiment(m, pairs)
	if err != nil {
		return nil, err
	}
	res := &Result{Model: modelName, Task: task.Name(), Method: opt.Method, Backend: m.BackendName, Examples: e.n,
		CleanMetric: mean(e.cleanLD), CorruptedMetric: mean(e.corrLD), Settings: map[string]any{}}
	t0 := time.Now()
	switch opt.Method {
	case Patching:
		effects, err := e.nodePatching()
		if err != nil {
			return nil, err
		}
		res.NodeScores = absScores(effects)
		res.Circuit = Circuit{Nodes: keepNodes(e.g, res.NodeScores, opt.Keep)}
		res.Settings["keep"] = opt.Keep
	case EAP, EAPIG, EAPIGActivations:
		var runs []igRun
		switch opt.Method {
		case EAPIG:
			alphas, err := igAlphas(opt.Steps, opt.IGRule)
			if err != nil {
				return nil, err
			}
			runs = e.inputRuns(alphas)
			res.Settings["steps"], res.Settings["ig_rule"] = opt.Steps, opt.IGRule
		case EAPIGActivations:
			if opt.Steps < 1 {
				return nil, fmt.Errorf("circuits: eap-ig-activations: %d steps, want at least 1", opt.Steps)
			}
			runs = e.activationRuns(opt.Steps)
			res.Settings["steps"] = opt.Steps
		}
		if opt.Intervention != "" && opt.Intervention != InterventionPatching && opt.Method != EAP {
			return nil, fmt.Errorf("circuits: %s interpolates between the corrupted and clean prompts; intervention %s applies to eap", opt.Method, opt.Intervention)
		}
		target, err := e.interventionActs(opt.Intervention)
		if err != nil {
			return nil, err
		}
		if opt.Method == EAP {
			res.Settings["intervention"] = cmp.Or(opt.Intervention, InterventionPatching)
		}
		scores, err := e.eapEdgeScores(runs, target)
		if err != nil {
			return nil, err
		}
		res.EdgeScores, res.EdgeLevel = absScores(scores), "q/k/v"
		res.NodeScores = nodeAttribution(e.g, scores)
		if res.Circuit, err = selectEdges(e.g, res.EdgeScores, opt.Select, opt.Keep, opt.TopN); err != nil {
			return nil, err
		}
		if opt.Select == SelectTopN || opt.Select == SelectGreedy {
			res.Settings["select"], res.Settings["top_n"] = opt.Select, opt.TopN
		} else {
			res.Settings["keep"] = opt.Keep
		}
	case ACDC:
		ao := acdcOptions{metric: opt.ACDCMetric, tau: opt.Tau, ablation: opt.Ablation, absValue: opt.ACDCAbs, order: opt.ACDCOrder, seed: opt.Seed}
		r, err := e.acdc(ao)
		if err != nil {
			return nil, err
		}
		res.EdgeScores, res.EdgeLevel = r.scores, "q/k/v"
		res.NodeScores = maxOutgoing(e.g, r.scores)
		res.Circuit = Circuit{Nodes: NodesOfEdges(r.kept), Edges: r.kept}
		res.Settings["metric"], res.Settings["tau"], res.Settings["ablation"] = opt.ACDCMetric, opt.Tau, opt.Ablation
		res.Settings["abs_value_threshold"], res.Settings["order"] = opt.ACDCAbs, cmp.Or(opt.ACDCOrder, OrderNormal)
		res.Settings["edges_tested"] = r.tested
		res.Settings["direct_edges"], res.Settings["direct_edges_kept"] = r.direct, r.directKept
		if len(opt.TauSweep) > 0 {
			sweep, err := e.tauSweep(ao, opt.TauSweep, opt.Truth)
			if err != nil {
				return nil, err
			}
			res.TauSweep = sweep
		}
	case HeadOverlap:
		ho, err := e.headOverlap(opt.HeadOverlap)
		if err != nil {
			return nil, err
		}
		res.NodeScores, res.EdgeScores, res.EdgeLevel = ho.nodeScores, ho.edgeScores, "pairs"
		res.Circuit = Circuit{Nodes: ho.chosen}
		res.Settings = ho.settings
	default:
		return nil, fmt.Errorf("circuits: unknown method %q", opt.Method)
	}
	res.Seconds = time.Since(t0).Seconds()
	if opt.Truth != nil {
		if res.GroundTruth, err = evaluateResult(e.g, res, *opt.Truth); err != nil {
			return nil, err
		}
	}
	if res.Faithfulness, err = e.nodeFaithfulness(res.Circuit, opt.Ablation); err != nil {
		return nil, err
	}
	if len(res.Circuit.Edges) > 0 {
		if res.EdgeFaithfulness, err = e.edgeFaithfulness(res.Circuit, opt.Ablation); err != nil {
			return nil, err
		}
	}
	if opt.MIB {
		scores, ranking := mibEdgeScores(e.g, res)
		if res.MIB, err = e.mibCurve(scores, ranking, opt.Ablation); err != nil {
			return nil, err
		}
	}
	res.TotalSeconds = time.Since(start).Seconds()
	return res, nil
}

// checkTruth reports a ground truth that does not fit the model's graph.
func checkTruth(g *Graph, truth *Circuit) error {
	if truth == nil {
		return nil
	}
	for _, n := range truth.Nodes {
		if err := g.Check(n); err != nil {
			return fmt.Errorf("circuits: the ground-truth circuit does not fit the model: %s", strings.TrimPrefix(err.Error(), "circuits: "))
		}
	}
	for _, x := range truth.Edges {
		if err := g.CheckEdge(x); err != nil {
			return fmt.Errorf("circuits: the ground-truth circuit does not fit the model: %s", strings.TrimPrefix(err.Error(), "circuits: "))
		}
	}
	return nil
}

func evaluateResult(g *Graph, res *Result, truth Circuit) (*GroundTruthReport, error) {
	evaluate := EvaluateNodes
	if res.Method == HeadOverlap {
		evaluate = EvaluateHeads // it scores heads only
	}
	gt, err := evaluate(g, res.NodeScores, truth)
	if err != nil {
		return nil, err
	}
	rep := &GroundTruthReport{GroundTruth: *gt}
	if res.EdgeScores != nil && len(truth.Edges) > 0 {
		if rep.Edges, err = EvaluateEdges(g, res.EdgeScores, truth, res.EdgeLevel == "pairs"); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

func absScores(s map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(s))
	for k, v := range s {
		out[k] = math.Abs(v)
	}
	return out
}

// nodeAttribution is each node's attribution-patching score from signed edge scores: the
// magnitude of the sum over its outgoing edges, i.e. (out^corrupted - out^clean) . dm/d out.
func nodeAttribution(g *Graph, edges map[string]float64) map[string]float64 {
	sum := map[string]float64{}
	for _, x := range g.Edges {
		sum[x.From.String()] += edges[x.String()]
	}
	out := map[string]float64{}
	for _, n := range g.Components() {
		out[n.String()] = math.Abs(sum[n.String()])
	}
	return out
}

// maxOutgoing is each node's largest outgoing edge score.
func maxOutgoing(g *Graph, edges map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for _, n := range g.Components() {
		out[n.String()] = 0
	}
	for _, x := range g.Edges {
		if k := x.From.String(); x.From.Kind != Embed && edges[x.String()] > out[k] {
			out[k] = edges[x.String()]
		}
	}
	return out
}

// keepNodes returns the heads and MLPs scoring at least keep times the largest score.
func keepNodes(g *Graph, scores map[string]float64, keep float64) []Node {
	top := 0.0
	for _, v := range scores {
		top = math.Max(top, v)
	}
	var out []Node
	for _, n := range g.Components() {
		if s := scores[n.String()]; top > 0 && s >= keep*top {
			out = append(out, n)
		}
	}
	return out
}

// keepEdges returns the edges scoring at least keep times the largest score, completed into a
// connected circuit: a kept node not reached from the embeddings gets its best-scoring incoming
// edge, one that does not reach the logits its best-scoring outgoing edge, until every kept edge
// lies on a path embed -> ... -> logits.
func keepEdges(g *Graph, scores map[string]float64, keep float64) Circuit {
	top := 0.0
	for _, v := range scores {
		top = math.Max(top, v)
	}
	in := map[Edge]bool{}
	for _, x := range g.Edges {
		if top > 0 && scores[x.String()] >= keep*top {
			in[x] = true
		}
	}
	best := func(match func(Edge) bool) (Edge, bool) {
		var b Edge
		found := false
		for _, x := range g.Edges {
			if match(x) && (!found || scores[x.String()] > scores[b.String()]) {
				b, found = x, true
			}
		}
		return b, found
	}
	for {
		var kept []Edge
		for _, x := range g.Edges {
			if in[x] {
				kept = append(kept, x)
			}
		}
		fromEmbed, toLogits := reach(kept)
		added := false
		for _, n := range NodesOfEdges(kept) {
			if !fromEmbed[n] {
				if x, ok := best(func(x Edge) bool { return x.To == n }); ok && !in[x] {
					in[x], added = true, true
				}
			}
			if !toLogits[n] {
				if x, ok := best(func(x Edge) bool { return x.From == n }); ok && !in[x] {
					in[x], added = true, true
				}
			}
		}
		if !added {
			return Circuit{Nodes: NodesOfEdges(kept), Edges: kept}
		}
	}
}

// reach returns the nodes reached from the embeddings and the nodes reaching the logits through
// the given edges.
func reach(edges []Edge) (fromEmbed, toLogits map[Node]bool) {
	fromEmbed = map[Node]bool{EmbedNode(): true}
	toLogits = map[Node]bool{LogitsNode(): true}
	byFrom := append([]Edge(nil), edges...)
	// Senders in residual order: every edge into a node comes before the edges out of it.
	sort.SliceStable(byFrom, func(i, j int) bool { return byFrom[i].From.order() < byFrom[j].From.order() })
	for _, x := range byFrom {
		if fromEmbed[x.From] {
			fromEmbed[x.To] = true
		}
	}
	byTo := append([]Edge(nil), edges...)
	// Receivers in reverse order: every edge out of a node comes before the edges into it.
	sort.SliceStable(byTo, func(i, j int) bool { return byTo[i].To.order() > byTo[j].To.order() })
	for _, x := range byTo {
		if toLogits[x.To] {
			toLogits[x.From] = true
		}
	}
	return fromEmbed, toLogits
}
