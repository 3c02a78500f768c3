package workbench

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"

	"github.com/interp-dev/interp/train"
)

// runPoint is one metrics.jsonl line as the Runs page plots it.
type runPoint struct {
	Step         int         `json:"step"`
	Loss         float64     `json:"loss"`
	MeanLoss     float64     `json:"mean_loss,omitempty"` // absent in runs logged before it existed
	EvalLoss     float64     `json:"eval_loss"`
	InContext    float64     `json:"in_context_loss"`
	Repeated     float64     `json:"repeated_half_loss"`
	MaxInduction float64     `json:"max_induction_score"`
	Induction    [][]float64 `json:"induction_scores"`
	PrevToken    [][]float64 `json:"prev_token_scores"`
}

// run reads a training run folder: its metrics (those after step `after`, for polling while it
// trains), the clamps it applies, whether it has finished, and the phase change detected so far
// (train.DetectPhaseChange on the repeated-half loss, as the run's own summary does).
func (s *Server) run(r *http.Request) (any, error) {
	q := r.URL.Query()
	dir, err := s.resolveDir(q.Get("root"), q.Get("path"))
	if err != nil {
		return nil, err
	}
	after := -1
	if a := q.Get("after"); a != "" {
		if after, err = strconv.Atoi(a); err != nil {
			return nil, badRequest("after %q: want a step number", a)
		}
	}
	ms, err := train.ReadMetrics(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		return nil, badRequest("%s: %v", q.Get("path"), err)
	}
	var steps []int
	var loss []float64
	points := []runPoint{}
	for _, m := range ms {
		steps, loss = append(steps, m.Step), append(loss, m.RepeatedHalfLoss)
		if m.Step > after {
			points = append(points, runPoint{Step: m.Step, Loss: m.Loss, MeanLoss: m.MeanLoss, EvalLoss: m.EvalLoss, InContext: m.InContextLoss,
				Repeated: m.RepeatedHalfLoss, MaxInduction: m.MaxInduction, Induction: m.Induction, PrevToken: m.PrevToken})
		}
	}
	out := map[string]any{"path": q.Get("path"), "metrics": points, "phase_change": train.DetectPhaseChange(steps, loss)}
	var sum train.Summary
	if raw, err := os.ReadFile(filepath.Join(dir, "summary.json")); err == nil && json.Unmarshal(raw, &sum) == nil {
		out["done"] = true
		out["clamps"] = sum.Clamps
		out["task"] = sum.Task
	} else {
		out["done"] = false
		var st train.State
		if raw, err := os.ReadFile(filepath.Join(train.CheckpointPath(dir), "state.json")); err == nil && json.Unmarshal(raw, &st) == nil {
			out["clamps"] = st.Clamps
			out["task"] = st.Task
		}
	}
	if out["clamps"] == nil {
		out["clamps"] = []string{}
	}
	return out, nil
}
