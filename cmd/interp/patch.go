package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/interp-dev/interp/internal/plots"
	"github.com/interp-dev/interp/internal/progress"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/patching"
	"github.com/interp-dev/interp/tasks"
	"github.com/interp-dev/interp/tokenizer"
)

func init() {
	commands = append(commands, command{"patch", "activation, path and attribution patching on a task's clean/corrupted pairs", cmdPatch})
}

type patchFlags struct {
	model, backend, process, task, component, metric, method, receivers, receiverInput string
	direction, ablation, out, plot, html, scaleHeads, factors                          string
	byPos, bySrcPos, freezeMLPs                                                        bool
	n, seqLen, maxRows                                                                 int
	seed                                                                               uint64
}

func cmdPatch(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("patch", stderr)
	var f patchFlags
	fs.StringVar(&f.model, "model", model.DefaultModel, "model directory or built-in name")
	fs.StringVar(&f.backend, "backend", "", "backend (see interp run -h)")
	fs.StringVar(&f.process, "process", "none", "TransformerLens weight processing (see interp run -h)")
	fs.StringVar(&f.task, "task", "", "task giving clean/corrupted pairs (default: the one the model records): "+strings.Join(tasks.Names(), ", "))
	fs.StringVar(&f.component, "component", "z", "activation to patch: "+componentList())
	fs.StringVar(&f.metric, "metric", "logit_diff", "metric: "+strings.Join(patching.MetricNames(), ", "))
	fs.StringVar(&f.method, "method", "exact", "exact, attribution, path, or exact,attribution (both, with their correlation)")
	fs.StringVar(&f.receivers, "receivers", "", "path patching receivers: heads as layer.head,... (e.g. 9.9,9.6) or logits")
	fs.StringVar(&f.receiverInput, "receiver-input", "q", "receiver heads' inputs for path patching: q, k, v or a comma list")
	fs.BoolVar(&f.freezeMLPs, "freeze-mlps", false, "path patching: also freeze MLP outputs (default: recomputed, as Wang et al.)")
	fs.StringVar(&f.direction, "direction", "denoise", "denoise (clean values into the corrupted run) or noise (corrupted into clean)")
	fs.StringVar(&f.ablation, "ablation", "none", "patch in an ablation instead of the other run: none, zero, mean, resample (target: clean run)")
	fs.BoolVar(&f.byPos, "by-pos", false, "per-head components: scores by layer x head x position (pattern: destination position)")
	fs.BoolVar(&f.bySrcPos, "by-src-pos", false, "pattern with --by-pos: also by source position (layer x head x dest x src)")
	fs.IntVar(&f.n, "n", 20, "number of prompt pairs")
	fs.Uint64Var(&f.seed, "seed", 0, "seed of the pairs (and of resample ablation)")
	fs.IntVar(&f.seqLen, "seq-len", 0, "sequence length of synthetic tasks (default: the model's n_ctx, the length it was trained on)")
	fs.IntVar(&f.maxRows, "max-rows", 0, "rows (variant x prompt) per batched forward pass (default: from a 512 MiB budget)")
	fs.StringVar(&f.scaleHeads, "scale-heads", "", "instead of patching: multiply these heads' outputs (hook_z) by each of --factors and score the clean prompts (layer.head,...; Merullo et al.'s boost)")
	fs.StringVar(&f.factors, "factors", "0,0.5,1,1.5,2,3", "with --scale-heads: the factors, comma-separated (1 = the plain model)")
	fs.StringVar(&f.out, "out", "", "write the results as JSON to this file")
	fs.StringVar(&f.plot, "plot", "", "write a heatmap of the scores (.png or .svg)")
	fs.StringVar(&f.html, "html", "", "write a self-contained HTML page with the heatmap and a table of scores")
	if err := parse(fs, args); err != nil {
		return err
	}
	req, err := f.check()
	if err != nil {
		return err
	}
	if err := checkOutputs(output{flag: "out", path: f.out}, output{flag: "plot", path: f.plot, exts: imageExts},
		output{flag: "html", path: f.html, exts: []string{".html", ".htm"}}); err != nil {
		return err
	}
	m, dir, err := loadModelProcessed(f.model, f.backend, f.process, stderr)
	if err != nil {
		return err
	}
	c := m.Config
	if err := req.comp.CheckModel(c); err != nil {
		return usagef("--component %s: %v", f.component, err)
	}
	if req.path && f.receivers != "logits" {
		if req.receivers.Heads, err = patching.ParseHeads(f.receivers, c); err != nil {
			return usagef("--receivers: %v", err)
		}
	}
	task, err := taskFor(f.task, c, dir, f.seqLen)
	if err != nil {
		return err
	}
	f.task = task.Name()
	tok, err := modelTokenizer(c, dir)
	if err != nil {
		return err
	}
	if err := checkPairsMemory("n", f.n, task, c, 2); err != nil {
		return err
	}
	pairs, err := task.Pairs(f.seed, f.n)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "interp patch: memory estimate %s (%d pairs of %d tokens, cached clean and corrupted, plus one batched pass)\n",
		model.HumanBytes(patching.MemoryEstimate(c, len(pairs.Clean), len(pairs.Clean[0]), patching.Options{MaxRows: f.maxRows})),
		len(pairs.Clean), len(pairs.Clean[0]))
	prompts := &patching.Prompts{Clean: pairs.Clean, Corrupted: pairs.Corrupted, Answer: pairs.Answer, Wrong: pairs.Wrong,
		Pos: pairs.Pos, AnswerSets: pairs.AnswerSets, WrongSets: pairs.WrongSets}
	if req.scale {
		return patchScale(m, prompts, &f, req, stdout)
	}

	start := time.Now()
	var bar *progress.Bar
	done := 0
	e, err := patching.NewExperiment(m, prompts, req.metric, patching.Options{Direction: req.direction, Ablation: req.ablation,
		Seed: f.seed, MaxRows: f.maxRows, Progress: func(d, total int) {
			if bar == nil {
				bar = progress.New(total, "patch "+f.component)
			}
			bar.Add(d-done, "")
			done = d
		}})
	if err != nil {
		return err
	}
	var res, attr *patching.Result
	var attrWall float64
	switch {
	case req.path:
		res, err = e.PathPatch(req.receivers, patching.PathOptions{FreezeMLPs: f.freezeMLPs})
	case req.exact:
		res, err = e.Patch(req.comp, req.setter)
	}
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	wall := time.Since(start).Seconds()
	if req.attribution {
		t0 := time.Now()
		if attr, err = e.Attribute(req.comp, req.setter); err != nil {
			return err
		}
		attrWall = time.Since(t0).Seconds()
		if res == nil {
			res, wall, attr = attr, attrWall+wall, nil
		}
	}
	if label := tokenLabeler(tok, f.task); label != nil {
		labels := make([]string, len(pairs.Clean[0]))
		for i, id := range pairs.Clean[0] {
			labels[i] = label(id)
		}
		res.LabelPositions(labels)
		if attr != nil {
			attr.LabelPositions(labels)
		}
	}

	base := patchBase(e, res)
	fmt.Fprintf(stdout, "%s on %d %s pairs (%s, backend %s, %.2fs)\n", res.Title(), len(pairs.Clean), f.task, f.model, m.BackendName, wall)
	fmt.Fprintf(stdout, "%s of the unpatched runs (raw): clean %.4f, corrupted %.4f\n", res.Metric, e.Clean, e.Corrupted)
	fmt.Fprintf(stdout, "largest changes from the unpatched score %.4g:", base)
	for _, s := range res.Top(5, base) {
		fmt.Fprintf(stdout, " %s %.4g (%+.4g);", strings.Join(s.Labels, " "), s.Score, s.Score-base)
	}
	fmt.Fprintln(stdout)
	var corr float64
	if attr != nil {
		corr = patching.Correlation(res.Scores, attr.Scores)
		fmt.Fprintf(stdout, "attribution patching (%.2fs): correlation with exact patching %.4f\n", attrWall, corr)
	}

	if f.out != "" {
		doc := map[string]any{
			"model": f.model, "task": f.task, "n": len(pairs.Clean), "seed": f.seed,
			"component": res.Component, "setter": res.Setter, "method": res.Method, "metric": res.Metric,
			"normalized": res.Normalized, "source": res.Source, "direction": req.direction.String(),
			"scores": res.Nested(), "axes": res.Axes, "clean": e.Clean, "corrupted": e.Corrupted,
			"backend": m.BackendName, "wall_seconds": wall,
		}
		if req.path {
			doc["receivers"] = req.receivers.String()
			doc["freeze_mlps"] = f.freezeMLPs
		}
		if attr != nil {
			doc["attribution"] = map[string]any{"scores": attr.Nested(), "correlation_with_exact": jsonFloat(corr), "wall_seconds": attrWall}
		}
		data, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return err
		}
		if err := writeFile(f.out, append(data, '\n')); err != nil {
			return fmt.Errorf("--out %s: %w", f.out, err)
		}
	}
	title := fmt.Sprintf("%s, %s on %s", res.Title(), f.model, f.task)
	offset := 0.0 // normalised scores are plotted as they are, raw ones as the change from the unpatched run
	if !res.Normalized {
		offset = base
		title += fmt.Sprintf(" (minus unpatched %.4g)", base)
	}
	if f.plot != "" {
		if err := res.WriteHeatmap(f.plot, title, offset); err != nil {
			return fmt.Errorf("--plot %s: %w", f.plot, err)
		}
	}
	if f.html != "" {
		if err := writePatchHTML(f.html, title, offset, res, e, f, m.BackendName, wall); err != nil {
			return fmt.Errorf("--html %s: %w", f.html, err)
		}
	}
	return nil
}

// patchRequest is what the flags ask for, checked before any model is loaded.
type patchRequest struct {
	comp                     patching.Component
	setter                   patching.Setter
	metric                   patching.Metric
	direction                patching.Direction
	ablation                 patching.Ablation
	exact, attribution, path bool
	receivers                patching.Receivers
	scale                    bool
	factors                  []float64
}

func (f *patchFlags) check() (*patchRequest, error) {
	var r patchRequest
	var err error
	if f.maxRows < 0 {
		return nil, usagef("--max-rows %d: want a positive number of rows, or 0 for the default budget", f.maxRows)
	}
	if f.task != "" && !tasks.Known(f.task) {
		return nil, usagef("unknown task %q (known: %s)", f.task, strings.Join(tasks.Names(), ", "))
	}
	if r.comp, err = patching.ParseComponent(f.component); err != nil {
		return nil, usagef("--component: unknown component %q (known: %s)", f.component, componentList())
	}
	if r.metric, err = patching.MetricByName(f.metric); err != nil {
		return nil, usagef("--metric: unknown metric %q (known: %s)", f.metric, strings.Join(patching.MetricNames(), ", "))
	}
	for _, m := range strings.Split(f.method, ",") {
		switch strings.TrimSpace(m) {
		case "exact":
			r.exact = true
		case "attribution":
			r.attribution = true
		case "path":
			r.path = true
		default:
			return nil, usagef("--method: unknown method %q (want exact, attribution, path or exact,attribution)", m)
		}
	}
	if r.path && (r.exact || r.attribution) {
		return nil, usagef("--method path cannot be combined with exact or attribution")
	}
	switch f.direction {
	case "denoise":
		r.direction = patching.Denoise
	case "noise":
		r.direction = patching.Noise
	default:
		return nil, usagef("--direction: unknown direction %q (want denoise or noise)", f.direction)
	}
	ablations := map[string]patching.Ablation{"none": patching.NoAblation, "zero": patching.ZeroAblation,
		"mean": patching.MeanAblation, "resample": patching.ResampleAblation}
	var ok bool
	if r.ablation, ok = ablations[f.ablation]; !ok {
		return nil, usagef("--ablation: unknown ablation %q (want none, zero, mean or resample)", f.ablation)
	}
	if r.path {
		if r.comp != patching.Z {
			return nil, usagef("--method path: senders are heads (their hook_z); --component must be z, not %s", f.component)
		}
		if f.byPos {
			return nil, usagef("--method path scores senders by layer x head; --by-pos does not apply")
		}
		if f.receivers == "" {
			return nil, usagef("--method path needs --receivers (heads as layer.head,... or logits)")
		}
		r.receivers.Logits = f.receivers == "logits"
		for _, in := range strings.Split(f.receiverInput, ",") {
			c, err := patching.ParseComponent(strings.TrimSpace(in))
			if err != nil || (c != patching.Q && c != patching.K && c != patching.V) {
				return nil, usagef("--receiver-input: %q is not q, k or v", in)
			}
			r.receivers.Inputs = append(r.receivers.Inputs, c)
		}
	} else if f.receivers != "" {
		return nil, usagef("--receivers only applies to --method path")
	}
	if f.bySrcPos && (!f.byPos || r.comp != patching.Pattern) {
		return nil, usagef("--by-src-pos applies to --component pattern with --by-pos")
	}
	r.setter = patching.SetterFor(r.comp, f.byPos)
	if f.bySrcPos {
		r.setter = patching.PatternHeadDestSrcSetter
	}
	if f.n < 1 {
		return nil, usagef("--n %d: want at least 1 pair", f.n)
	}
	if f.scaleHeads != "" {
		r.scale = true
		if r.path || r.attribution || f.byPos || f.ablation != "none" || f.html != "" {
			return nil, usagef("--scale-heads scores the clean prompts with heads scaled; it does not combine with --method path/attribution, --by-pos, --ablation or --html")
		}
		for _, s := range strings.Split(f.factors, ",") {
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, usagef("--factors: %q is not a number", s)
			}
			r.factors = append(r.factors, v)
		}
	}
	return &r, nil
}

// patchScale is interp patch --scale-heads: the clean prompts scored with the heads' outputs
// multiplied by each factor.
func patchScale(m *model.Model, p *patching.Prompts, f *patchFlags, req *patchRequest, stdout io.Writer) error {
	heads, err := patching.ParseHeads(f.scaleHeads, m.Config)
	if err != nil {
		return usagef("--scale-heads: %v", err)
	}
	start := time.Now()
	scores, err := patching.ScaleHeads(m, p, heads, req.factors)
	if err != nil {
		return err
	}
	wall := time.Since(start).Seconds()
	fmt.Fprintf(stdout, "heads %s scaled, on %d %s pairs (%s, backend %s, %.2fs)\n", f.scaleHeads, p.N(), f.task, f.model, m.BackendName, wall)
	fmt.Fprintf(stdout, "%8s %12s %10s %10s\n", "factor", "logit diff", "accuracy", "top-1")
	for _, s := range scores {
		fmt.Fprintf(stdout, "%8g %12.4f %10.3f %10.3f\n", s.Factor, s.LogitDiff, s.Accuracy, s.Top1)
	}
	if f.out != "" {
		doc := map[string]any{"model": f.model, "task": f.task, "n": p.N(), "seed": f.seed, "heads": f.scaleHeads,
			"scores": scores, "backend": m.BackendName, "wall_seconds": wall}
		data, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return err
		}
		if err := writeFile(f.out, append(data, '\n')); err != nil {
			return fmt.Errorf("--out %s: %w", f.out, err)
		}
	}
	if f.plot != "" {
		series := []plots.Series{{Name: "accuracy (answer > wrong)"}, {Name: "top-1 accuracy"}}
		ld := plots.Series{Name: "logit difference"}
		for _, s := range scores {
			series[0].X, series[0].Y = append(series[0].X, s.Factor), append(series[0].Y, s.Accuracy)
			series[1].X, series[1].Y = append(series[1].X, s.Factor), append(series[1].Y, s.Top1)
			ld.X, ld.Y = append(ld.X, s.Factor), append(ld.Y, s.LogitDiff)
		}
		title := fmt.Sprintf("heads %s scaled, %s on %s", f.scaleHeads, f.model, f.task)
		if err := plots.LinePanels(f.plot, []plots.Panel{
			{Title: title, XLabel: "factor on the heads' outputs", YLabel: "accuracy", Series: series},
			{Title: title, XLabel: "factor on the heads' outputs", YLabel: "logit difference (answer - wrong)", Series: []plots.Series{ld}},
		}); err != nil {
			return fmt.Errorf("--plot %s: %w", f.plot, err)
		}
	}
	return nil
}

// tokenLabeler labels token ids for position axes: the model's tokenizer, the toy IOI
// vocabulary for the ioi task, or the id itself.
func tokenLabeler(tok tokenizer.Tokenizer, task string) func(int) string {
	if task == "ioi" && (tok == nil || tok.Name() == "gpt2") { // the toy word vocabulary (tasks.ForModel)
		tok = tasks.IOITokenizer()
	}
	if tok == nil {
		return func(id int) string { return fmt.Sprintf("#%d", id) }
	}
	return func(id int) string {
		if s := tok.TokenString(id); s != "" {
			return s
		}
		return fmt.Sprintf("#%d", id)
	}
}

// patchBase is the unpatched target's score on the result's scale (what a no-op patch scores).
func patchBase(e *patching.Experiment, r *patching.Result) float64 {
	t := e.Target()
	if r.Normalized {
		return (t - e.Corrupted) / (e.Clean - e.Corrupted)
	}
	return t
}

func componentList() string {
	var names []string
	for _, c := range patching.Components() {
		names = append(names, string(c))
	}
	return strings.Join(names, ", ")
}

// jsonFloat keeps NaN out of JSON (encoding/json rejects it): NaN becomes null.
func jsonFloat(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

func writePatchHTML(path, title string, offset float64, res *patching.Result, e *patching.Experiment, f patchFlags, backend string, wall float64) error {
	tmp, err := os.MkdirTemp("", "interp-patch")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	svgPath := filepath.Join(tmp, "heatmap.svg")
	if err := res.WriteHeatmap(svgPath, title, offset); err != nil {
		return err
	}
	svg, err := os.ReadFile(svgPath)
	if err != nil {
		return err
	}
	details := [][2]string{
		{"model", f.model}, {"task", f.task}, {"pairs", fmt.Sprint(e.Prompts.N())}, {"component", res.Component},
		{"indexed by", res.Setter}, {"method", res.Method}, {"patched-in values", res.Source}, {"metric", res.Metric},
		{"clean", fmt.Sprintf("%.4f", e.Clean)}, {"corrupted", fmt.Sprintf("%.4f", e.Corrupted)},
		{"backend", backend}, {"wall time", fmt.Sprintf("%.2f s", wall)},
	}
	var top []string
	for _, s := range res.Top(10, patchBase(e, res)) {
		top = append(top, fmt.Sprintf("%s: %.4g (%+.4g)", strings.Join(s.Labels, " "), s.Score, s.Score-patchBase(e, res)))
	}
	details = append(details, [2]string{"top 10 (score, change from unpatched)", strings.Join(top, "\n")})
	return writeFile(path, res.HTML(title, details, svg, offset))
}
