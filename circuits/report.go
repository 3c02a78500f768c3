package circuits

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
)

// Report holds the results of several methods on one model and task: the comparison the issue
// asks for (head overlap against ACDC and the gradient methods in the same run).
type Report struct {
	Model   string    `json:"model"`
	Task    string    `json:"task"`
	Backend string    `json:"backend"`
	Results []*Result `json:"results"`
}

// DiscoverAll runs each method with the same options (and pairs, for equal Examples) on m.
func DiscoverAll(m *model.Model, modelName string, task tasks.Task, opt Options, methods []Method) (*Report, error) {
	r := &Report{Model: modelName, Task: task.Name(), Backend: m.BackendName}
	if err := checkTruth(NewGraph(m.Config), opt.Truth); err != nil {
		return nil, err
	}
	for _, meth := range methods {
		o := opt
		o.Method = meth
		res, err := Discover(m, modelName, task, o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", meth, err)
		}
		r.Results = append(r.Results, res)
	}
	return r, nil
}

// Table formats the comparison: per method its wall time, circuit size, ground-truth scores
// (when known) and faithfulness.
func (r *Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "model %s, task %s, backend %s\n", r.Model, r.Task, r.Backend)
	b.WriteString(TableHeader())
	for _, res := range r.Results {
		b.WriteString(res.TableRow())
	}
	return b.String()
}

// TableHeader is the header of the comparison table rows.
func TableHeader() string {
	return fmt.Sprintf("%-13s %5s %8s %6s %6s %9s %6s %6s %6s %9s %13s %16s %6s\n", "method", "pairs", "seconds", "nodes", "edges",
		"node AUC", "P", "R", "F1", "edge AUC", "faithfulness", "(std, IQR)", "MIB")
}

// TableRow is one line of the comparison table.
func (res *Result) TableRow() string {
	f := func(v float64) string {
		if math.IsNaN(v) {
			return "-"
		}
		return fmt.Sprintf("%.3f", v)
	}
	auc, p, rc, f1, eauc := math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()
	if gt := res.GroundTruth; gt != nil {
		auc, p, rc, f1 = gt.ROCAUC, gt.Precision, gt.Recall, gt.F1
		if gt.Edges != nil {
			eauc = gt.Edges.ROCAUC
		}
	}
	faith, spread, mib := "-", "", "-"
	if fa := res.Faithfulness; fa != nil {
		faith = f(fa.Score)
		spread = fmt.Sprintf("(%.3f, %.3f-%.3f)", fa.Std, fa.Q1, fa.Q3)
		if fa.MIB != nil {
			mib = f(*fa.MIB)
		}
	}
	return fmt.Sprintf("%-13s %5d %8.2f %6d %6d %9s %6s %6s %6s %9s %13s %16s %6s\n", res.Method, res.Examples, res.Seconds,
		len(res.Circuit.Nodes), len(res.Circuit.Edges), f(auc), f(p), f(rc), f(f1), f(eauc), faith, spread, mib)
}

// MarshalIndentJSON is json.MarshalIndent without HTML escaping, so edge names keep their "->".
func MarshalIndentJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
