package workbench

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/patching"
	"github.com/interp-dev/interp/tasks"
)

// patchRequest is one sweep: the task's prompt pairs, what is patched and how it is scored.
// Layer and Variant pick a cell for /api/patch/cell.
type patchRequest struct {
	Task        string `json:"task"`
	Component   string `json:"component"`
	ByPos       bool   `json:"by_pos"`
	Metric      string `json:"metric"`
	N           int    `json:"n"`
	Seed        uint64 `json:"seed"`
	Attribution bool   `json:"attribution"`
	Layer       int    `json:"layer"`
	Variant     int    `json:"variant"`
}

// maxPairs bounds the prompt pairs one request may ask for.
const maxPairs = 64

// patchState is the experiment of the last sweep, kept so that clicking a cell reruns only it.
type patchState struct {
	key   string
	exp   *patching.Experiment
	pairs *tasks.Pairs
}

func (req *patchRequest) check(s *Server) (patching.Component, patching.Setter, patching.Metric, error) {
	c := s.opt.Model.Config
	if req.N == 0 {
		req.N = 8
	}
	if req.N < 1 || req.N > maxPairs {
		return "", patching.Setter{}, patching.Metric{}, badRequest("n %d: want 1 to %d prompt pairs", req.N, maxPairs)
	}
	if req.Metric == "" {
		req.Metric = "logit_diff"
	}
	comp, err := patching.ParseComponent(req.Component)
	if err != nil {
		return "", patching.Setter{}, patching.Metric{}, badRequest("component: %v", strings.TrimPrefix(err.Error(), "patching: "))
	}
	if err := comp.CheckModel(c); err != nil {
		return "", patching.Setter{}, patching.Metric{}, badRequest("component %s: %v", comp, err)
	}
	metric, err := patching.MetricByName(req.Metric)
	if err != nil {
		return "", patching.Setter{}, patching.Metric{}, badRequest("metric: unknown metric %q (known: %s)", req.Metric, strings.Join(patching.MetricNames(), ", "))
	}
	return comp, patching.SetterFor(comp, req.ByPos), metric, nil
}

// task resolves a task name for the model (the recorded one when empty). Tasks read from JSON
// files are refused: a request must not name files outside the served folders.
func (s *Server) task(name string) (tasks.Task, error) {
	if strings.HasPrefix(name, tasks.JSONPrefix) {
		return nil, badRequest("task %q: JSON task files are not read over HTTP; use interp patch --task %s", name, name)
	}
	c := s.opt.Model.Config
	t, err := tasks.ForModel(name, tasks.Model{Vocab: c.DVocab, NCtx: c.NCtx, Task: c.Task, Tokenizer: s.tok}, 0)
	switch {
	case errors.Is(err, tasks.ErrNoTask):
		return nil, badRequest("task is required: the model records none")
	case err != nil:
		return nil, badRequest("task %q: %v", name, strings.TrimPrefix(err.Error(), "tasks: "))
	}
	return t, nil
}

// experiment returns the patching experiment for the request's pairs and metric, reusing the last
// one when they are the same. Called inside a job.
func (s *Server) experiment(req *patchRequest, metric patching.Metric) (*patchState, error) {
	key := fmt.Sprintf("%s|%s|%d|%d", req.Task, req.Metric, req.N, req.Seed)
	s.mu.Lock()
	st := s.patchExp
	s.mu.Unlock()
	if st != nil && st.key == key {
		return st, nil
	}
	t, err := s.task(req.Task)
	if err != nil {
		return nil, err
	}
	pairs, err := t.Pairs(req.Seed, req.N)
	if err != nil {
		return nil, badRequest("task %s: %v", t.Name(), err)
	}
	prompts := &patching.Prompts{Clean: pairs.Clean, Corrupted: pairs.Corrupted, Answer: pairs.Answer, Wrong: pairs.Wrong,
		Pos: pairs.Pos, AnswerSets: pairs.AnswerSets, WrongSets: pairs.WrongSets}
	e, err := patching.NewExperiment(s.opt.Model, prompts, metric, patching.Options{Seed: req.Seed})
	if err != nil {
		return nil, badRequest("%v", err)
	}
	st = &patchState{key: key, exp: e, pairs: pairs}
	s.mu.Lock()
	s.patchExp = st
	s.mu.Unlock()
	return st, nil
}

// patch runs an exact sweep (and, when asked, attribution patching beside it).
func (s *Server) patch(r *http.Request) (any, error) {
	return s.patchJob(r, func(req *patchRequest, comp patching.Component, setter patching.Setter, st *patchState) (any, error) {
		e := st.exp
		t0 := time.Now()
		res, err := e.Patch(comp, setter)
		if err != nil {
			return nil, err
		}
		wall := time.Since(t0).Seconds()
		labels := make([]string, len(st.pairs.Clean[0]))
		for i, id := range st.pairs.Clean[0] {
			labels[i] = s.tokenStr(id)
		}
		corrupted := make([]string, len(st.pairs.Corrupted[0]))
		for i, id := range st.pairs.Corrupted[0] {
			corrupted[i] = s.tokenStr(id)
		}
		res.LabelPositions(labels)
		base := e.Target()
		if res.Normalized {
			base = (base - e.Corrupted) / (e.Clean - e.Corrupted)
		}
		out := map[string]any{
			"title": res.Title(), "component": res.Component, "setter": res.Setter, "metric": res.Metric,
			"normalized": res.Normalized, "axes": res.Axes, "scores": res.Nested(), "clean": e.Clean,
			"corrupted": e.Corrupted, "base": base, "n": e.Prompts.N(), "wall_seconds": wall,
			"prompt": labels, "corrupted_prompt": corrupted,
			"memory_estimate": model.HumanBytes(patching.MemoryEstimate(s.opt.Model.Config, e.Prompts.N(), e.Prompts.Len(), e.Options)),
		}
		if req.Attribution {
			attr, err := e.Attribute(comp, setter)
			if err != nil {
				return nil, err
			}
			out["attribution"] = attr.Nested()
			out["correlation"] = jsonFloat(patching.Correlation(res.Scores, attr.Scores))
		}
		return out, nil
	})
}

// patchJob decodes and checks a patching request and runs fn as a model job on its experiment.
func (s *Server) patchJob(r *http.Request, fn func(req *patchRequest, comp patching.Component, setter patching.Setter, st *patchState) (any, error)) (any, error) {
	var req patchRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	comp, setter, metric, err := req.check(s)
	if err != nil {
		return nil, err
	}
	return s.job(r, func() (any, error) {
		st, err := s.experiment(&req, metric)
		if err != nil {
			return nil, err
		}
		return fn(&req, comp, setter, st)
	})
}

// patchCell reruns one cell: the patched run's top next tokens and logit difference, the tokens on
// the first prompt pair.
func (s *Server) patchCell(r *http.Request) (any, error) {
	return s.patchJob(r, func(req *patchRequest, comp patching.Component, setter patching.Setter, st *patchState) (any, error) {
		e := st.exp
		logits, err := e.PatchedLogits(comp, setter, req.Layer, req.Variant)
		if err != nil {
			return nil, badRequest("%v", strings.TrimPrefix(err.Error(), "patching: "))
		}
		var ld float64
		for n, row := range logits {
			ld += float64(row[e.Prompts.Answer[n]]) - float64(row[e.Prompts.Wrong[n]])
		}
		ld /= float64(len(logits))
		return map[string]any{
			"layer": req.Layer, "variant": req.Variant,
			"answer": s.tokenStr(e.Prompts.Answer[0]), "wrong": s.tokenStr(e.Prompts.Wrong[0]),
			"patched_top":        s.tokenProbs(model.TopK(model.Probs(logits[0]), 5)),
			"patched_logit_diff": ld,
		}, nil
	})
}

// jsonFloat keeps NaN out of JSON: NaN becomes null.
func jsonFloat(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}
