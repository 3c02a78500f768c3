package workbench

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/interp-dev/interp/circuits"
)

// circuitView is one discover result as the Circuits page draws it: the scored nodes by layer,
// the strongest edges, the chosen circuit, and, for planted models, the ground truth and its ROC.
type circuitView struct {
	Result *circuits.Result    `json:"result"`
	Nodes  []circuitNode       `json:"nodes"`
	Edges  []circuitEdge       `json:"edges"`
	ROC    []circuits.ROCPoint `json:"roc,omitempty"`
	Truth  []string            `json:"truth,omitempty"`
}

type circuitNode struct {
	Name      string  `json:"name"`
	Layer     int     `json:"layer"` // -1 embed; NLayers for logits
	Head      int     `json:"head"`  // -1 for MLPs, embed and logits
	Score     float64 `json:"score"`
	InCircuit bool    `json:"in_circuit"`
	InTruth   bool    `json:"in_truth"`
}

type circuitEdge struct {
	From      string  `json:"from"`
	To        string  `json:"to"`
	Input     string  `json:"input,omitempty"`
	Score     float64 `json:"score"`
	InCircuit bool    `json:"in_circuit"`
	InTruth   bool    `json:"in_truth"`
}

// maxEdges bounds the edges drawn: the circuit's own and the highest-scoring others.
const maxEdges = 80

func newCircuitView(res *circuits.Result) (*circuitView, error) {
	v := &circuitView{Result: res}
	var truth *circuits.Circuit
	if p, ok := circuits.LookupPlanted(res.Model); ok {
		truth = &p.Circuit
	}
	inCircuit := res.Circuit.NodeSet()
	inTruth := map[string]bool{}
	truthEdges := map[string]bool{}
	if truth != nil {
		inTruth = truth.NodeSet()
		for _, e := range truth.Edges {
			truthEdges[e.String()] = true
		}
		for n := range inTruth {
			v.Truth = append(v.Truth, n)
		}
		sort.Strings(v.Truth)
	}
	names := map[string]bool{}
	for n := range res.NodeScores {
		names[n] = true
	}
	for n := range inCircuit {
		names[n] = true
	}
	for n := range inTruth {
		names[n] = true
	}
	maxLayer := 0
	for n := range names {
		node, err := circuits.ParseNode(n)
		if err != nil {
			return nil, badRequest("result: %v", err)
		}
		maxLayer = max(maxLayer, node.Layer+1)
		v.Nodes = append(v.Nodes, circuitNode{Name: n, Layer: node.Layer, Head: node.Head, Score: res.NodeScores[n],
			InCircuit: inCircuit[n], InTruth: inTruth[n]})
	}
	sort.Slice(v.Nodes, func(a, b int) bool {
		x, y := v.Nodes[a], v.Nodes[b]
		if x.Layer != y.Layer {
			return x.Layer < y.Layer
		}
		return x.Head < y.Head
	})
	v.Nodes = append([]circuitNode{{Name: "embed", Layer: -1, Head: -1}}, v.Nodes...)
	v.Nodes = append(v.Nodes, circuitNode{Name: "logits", Layer: maxLayer, Head: -1})
	if truth != nil && len(res.NodeScores) > 0 {
		var scores []float64
		var t []bool
		for _, n := range v.Nodes {
			if n.Name != "embed" && n.Name != "logits" {
				scores = append(scores, n.Score)
				t = append(t, n.InTruth)
			}
		}
		if roc, err := circuits.ROCCurve(scores, t); err == nil {
			v.ROC = roc
		}
	}
	inCircuitEdge := map[string]bool{}
	for _, e := range res.Circuit.Edges {
		inCircuitEdge[e.String()] = true
	}
	edges := map[string]float64{}
	for e, sc := range res.EdgeScores {
		edges[e] = sc
	}
	for e := range inCircuitEdge {
		if _, ok := edges[e]; !ok {
			edges[e] = 0
		}
	}
	for name, sc := range edges {
		e, err := circuits.ParseEdge(name)
		if err != nil {
			return nil, badRequest("result: %v", err)
		}
		v.Edges = append(v.Edges, circuitEdge{From: e.From.String(), To: e.To.String(), Input: string(e.Input), Score: sc,
			InCircuit: inCircuitEdge[name], InTruth: truthEdges[name]})
	}
	sort.SliceStable(v.Edges, func(a, b int) bool {
		x, y := v.Edges[a], v.Edges[b]
		if x.InCircuit != y.InCircuit {
			return x.InCircuit
		}
		if abs(x.Score) != abs(y.Score) {
			return abs(x.Score) > abs(y.Score)
		}
		return x.From+x.To+x.Input < y.From+y.To+y.Input
	})
	if len(v.Edges) > maxEdges {
		v.Edges = v.Edges[:maxEdges]
	}
	return v, nil
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// circuit reads a discover result or report (interp discover --out) from a root.
func (s *Server) circuit(r *http.Request) (any, error) {
	q := r.URL.Query()
	raw, err := s.rootFile(r)
	if err != nil {
		return nil, err
	}
	var results []*circuits.Result
	var rep circuits.Report
	if err := json.Unmarshal(raw, &rep); err == nil && len(rep.Results) > 0 {
		results = rep.Results
	} else {
		var res circuits.Result
		if err := json.Unmarshal(raw, &res); err != nil || res.NodeScores == nil {
			return nil, badRequest("%s: not a discover result (interp discover --out)", q.Get("path"))
		}
		results = []*circuits.Result{&res}
	}
	var views []*circuitView
	for _, res := range results {
		v, err := newCircuitView(res)
		if err != nil {
			return nil, err
		}
		views = append(views, v)
	}
	return map[string]any{"views": views}, nil
}

// discoverRequest runs one discovery method on the served model.
type discoverRequest struct {
	Task     string `json:"task"`
	Method   string `json:"method"`
	Examples int    `json:"examples"`
	Seed     uint64 `json:"seed"`
	// The method's options, as interp discover's flags (zero values: its defaults).
	Tau          float64 `json:"tau"`          // ACDC
	Select       string  `json:"select"`       // EAP, EAP-IG: keep, topn, greedy
	TopN         int     `json:"top_n"`        // with select topn or greedy
	Intervention string  `json:"intervention"` // EAP: patching, zero, mean, mean-positional
	Steps        int     `json:"steps"`        // EAP-IG
}

func (s *Server) discover(r *http.Request) (any, error) {
	var req discoverRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	meth, err := circuits.ParseMethod(req.Method)
	if err != nil {
		return nil, badRequest("method: %v", strings.TrimPrefix(err.Error(), "circuits: "))
	}
	if req.Examples == 0 {
		req.Examples = 20
	}
	if req.Examples < 1 || req.Examples > maxPairs {
		return nil, badRequest("examples %d: want 1 to %d", req.Examples, maxPairs)
	}
	t, err := s.task(req.Task)
	if err != nil {
		return nil, err
	}
	if req.Tau < 0 || req.TopN < 0 || req.Steps < 0 || req.Steps > 200 {
		return nil, badRequest("tau %g, top_n %d, steps %d: want tau and top_n >= 0 and steps in [0, 200]", req.Tau, req.TopN, req.Steps)
	}
	opt := circuits.Options{Method: meth, Examples: req.Examples, Seed: req.Seed, Tau: req.Tau, Select: req.Select, TopN: req.TopN,
		Intervention: req.Intervention, Steps: req.Steps}
	if p, ok := circuits.LookupPlanted(s.opt.ModelName); ok {
		opt.Truth = &p.Circuit
	}
	return s.job(r, func() (any, error) {
		res, err := circuits.Discover(s.opt.Model, s.opt.ModelName, t, opt)
		if err != nil {
			return nil, badRequest("%v", strings.TrimPrefix(err.Error(), "circuits: "))
		}
		v, err := newCircuitView(res)
		if err != nil {
			return nil, err
		}
		return map[string]any{"views": []*circuitView{v}}, nil
	})
}

// comparison reads the overlap of two circuits (interp discover --compare A B --out F.json).
func (s *Server) comparison(r *http.Request) (any, error) {
	q := r.URL.Query()
	raw, err := s.rootFile(r)
	if err != nil {
		return nil, err
	}
	var cmp struct {
		A     string            `json:"a"`
		B     string            `json:"b"`
		Nodes *circuits.Overlap `json:"nodes"`
		Edges *circuits.Overlap `json:"edges"`
	}
	if err := json.Unmarshal(raw, &cmp); err != nil || cmp.Nodes == nil {
		return nil, badRequest("%s: not a circuit comparison (interp discover --compare A B --out)", q.Get("path"))
	}
	return cmp, nil
}
