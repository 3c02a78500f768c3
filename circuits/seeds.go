package circuits

import (
	"fmt"
	"math"
	"strings"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
)

// Spread is the mean, sample standard deviation and range of one score over seeds.
type Spread struct {
	Values []float64 `json:"values"` // one per seed, in seed order
	Mean   float64   `json:"mean"`
	SD     float64   `json:"sd"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
}

func newSpread(xs []float64) *Spread {
	if len(xs) == 0 {
		return nil
	}
	s := &Spread{Values: xs, Mean: mean(xs), SD: stddev(xs), Min: math.Inf(1), Max: math.Inf(-1)}
	for _, x := range xs {
		s.Min, s.Max = math.Min(s.Min, x), math.Max(s.Max, x)
	}
	return s
}

func (s *Spread) String() string {
	if s == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f +- %.3f (%.3f-%.3f)", s.Mean, s.SD, s.Min, s.Max)
}

// SeedSummary is one method's scores over several seeds (Options.Seed: the pairs, head overlap's
// SAE, ACDC's random order). The ground-truth scores are nil without a ground truth, EdgeAUC also
// for methods without edge scores.
type SeedSummary struct {
	Method       Method   `json:"method"`
	Seeds        []uint64 `json:"seeds"`
	NodeAUC      *Spread  `json:"node_auc,omitempty"`
	EdgeAUC      *Spread  `json:"edge_auc,omitempty"`
	F1           *Spread  `json:"f1,omitempty"`
	Faithfulness *Spread  `json:"faithfulness"`
	Nodes        *Spread  `json:"nodes"` // circuit size
}

// DiscoverSeeds runs every method once per seed (opt.Seed replaced by each) and summarises the
// spread of its scores: discovery's robustness to the pairs drawn and to its own randomness.
func DiscoverSeeds(m *model.Model, modelName string, task tasks.Task, opt Options, methods []Method, seeds []uint64) ([]SeedSummary, error) {
	if len(seeds) == 0 {
		return nil, fmt.Errorf("circuits: no seeds")
	}
	out := make([]SeedSummary, len(methods))
	vals := make([]map[string][]float64, len(methods))
	for i, meth := range methods {
		out[i] = SeedSummary{Method: meth, Seeds: seeds}
		vals[i] = map[string][]float64{}
	}
	for _, seed := range seeds {
		o := opt
		o.Seed, o.HeadOverlap.Seed = seed, seed
		r, err := DiscoverAll(m, modelName, task, o, methods)
		if err != nil {
			return nil, fmt.Errorf("seed %d: %w", seed, err)
		}
		for i, res := range r.Results {
			v := vals[i]
			if gt := res.GroundTruth; gt != nil {
				v["node"] = append(v["node"], gt.ROCAUC)
				v["f1"] = append(v["f1"], gt.F1)
				if gt.Edges != nil {
					v["edge"] = append(v["edge"], gt.Edges.ROCAUC)
				}
			}
			if res.Faithfulness != nil {
				v["faith"] = append(v["faith"], res.Faithfulness.Score)
			}
			v["nodes"] = append(v["nodes"], float64(len(res.Circuit.Nodes)))
		}
	}
	for i := range out {
		v := vals[i]
		out[i].NodeAUC, out[i].F1, out[i].Faithfulness, out[i].Nodes = newSpread(v["node"]), newSpread(v["f1"]), newSpread(v["faith"]), newSpread(v["nodes"])
		if len(v["edge"]) == len(seeds) {
			out[i].EdgeAUC = newSpread(v["edge"])
		}
	}
	return out, nil
}

// SeedTable formats summaries as a markdown table: mean +- sd (min-max) of each score.
func SeedTable(s []SeedSummary) string {
	var b strings.Builder
	b.WriteString("| method | seeds | node AUC | edge AUC | F1 | faithfulness | nodes |\n|---|---|---|---|---|---|---|\n")
	for _, x := range s {
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s |\n", x.Method, len(x.Seeds), x.NodeAUC, x.EdgeAUC, x.F1, x.Faithfulness, x.Nodes)
	}
	return b.String()
}
