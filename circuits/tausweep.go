package circuits

import (
	"fmt"
	"sort"
)

// TauSweep is ACDC run at several thresholds: each run's circuit and, with a ground truth, the
// ROC its node sets trace (the paper's ROC; ranking the one run's edge scores approximates it).
type TauSweep struct {
	Points []TauPoint `json:"points"`
	// AUC is the area under the ROC through (0, 0), the points sorted by false positive rate, and
	// (1, 1), by trapezoids; absent without a ground truth.
	AUC *float64 `json:"roc_auc,omitempty"`
}

// TauPoint is one ACDC run of a sweep.
type TauPoint struct {
	Tau   float64  `json:"tau"`
	Nodes []string `json:"nodes"`
	Edges int      `json:"edges"`
	// TPR and FPR of the circuit's heads and MLPs against the ground truth's.
	TPR *float64 `json:"tpr,omitempty"`
	FPR *float64 `json:"fpr,omitempty"`
}

func (e *experiment) tauSweep(o acdcOptions, taus []float64, truth *Circuit) (*TauSweep, error) {
	sw := &TauSweep{}
	in := map[string]bool{}
	var pos, neg float64
	if truth != nil {
		in = truth.NodeSet()
		for _, n := range e.g.Components() {
			if in[n.String()] {
				pos++
			} else {
				neg++
			}
		}
	}
	for _, tau := range taus {
		if tau < 0 {
			return nil, fmt.Errorf("circuits: tau sweep: threshold %g is negative", tau)
		}
		o.tau = tau
		r, err := e.acdc(o)
		if err != nil {
			return nil, err
		}
		p := TauPoint{Tau: tau, Edges: len(r.kept), Nodes: []string{}}
		var tp, fp float64
		for _, n := range NodesOfEdges(r.kept) {
			p.Nodes = append(p.Nodes, n.String())
			if in[n.String()] {
				tp++
			} else {
				fp++
			}
		}
		if truth != nil && pos > 0 && neg > 0 {
			tpr, fpr := tp/pos, fp/neg
			p.TPR, p.FPR = &tpr, &fpr
		}
		sw.Points = append(sw.Points, p)
	}
	if truth != nil && pos > 0 && neg > 0 {
		auc := sweepAUC(sw.Points)
		sw.AUC = &auc
	}
	return sw, nil
}

// sweepAUC is the trapezoid area under (0,0), the points by FPR (then TPR), (1,1).
func sweepAUC(points []TauPoint) float64 {
	xy := [][2]float64{{0, 0}, {1, 1}}
	for _, p := range points {
		xy = append(xy, [2]float64{*p.FPR, *p.TPR})
	}
	sort.Slice(xy, func(i, j int) bool {
		if xy[i][0] != xy[j][0] {
			return xy[i][0] < xy[j][0]
		}
		return xy[i][1] < xy[j][1]
	})
	area := 0.0
	for i := 1; i < len(xy); i++ {
		area += (xy[i][0] - xy[i-1][0]) * (xy[i][1] + xy[i-1][1]) / 2
	}
	return area
}
