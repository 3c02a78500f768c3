package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"github.com/interp-dev/interp/attrgraph"
	"github.com/interp-dev/interp/internal/atomicfile"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
	"github.com/interp-dev/interp/tasks"
	"github.com/interp-dev/interp/transcoder"
)

func init() {
	commands = append(commands, command{"graph", "attribution graph of one prompt over transcoders or a CLT, in circuit-tracer's graph-file format (graph intervene: feature interventions; graph evolve: over a run's snapshots)", cmdGraph})
}

func cmdGraph(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "intervene" {
		return cmdGraphIntervene(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "evolve" {
		return cmdGraphEvolve(args[1:], stdout, stderr)
	}
	fs := newFlags("graph", stderr)
	gf := addGraphFlags(fs)
	nodeTh := fs.Float64("node-threshold", 0.8, "pruning: keep the nodes holding this share of the influence")
	edgeTh := fs.Float64("edge-threshold", 0.98, "pruning: keep the edges holding this share of the edge influence")
	out := fs.String("out", "", "graph file (.json, circuit-tracer's frontend schema)")
	svg := fs.String("svg", "", "also draw the pruned graph (.svg)")
	htmlOut := fs.String("html", "", "also write an interactive page of the pruned graph (.html: hover for a node's links, click to pin; self-contained)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usagef("--out is required (the graph file, .json)")
	}
	if err := checkOutputs(output{flag: "out", path: *out, exts: []string{".json"}}, output{flag: "svg", path: *svg, exts: []string{".svg"}},
		output{flag: "html", path: *htmlOut, exts: []string{".html"}}); err != nil {
		return err
	}
	for _, th := range []struct {
		name string
		v    float64
	}{{"node-threshold", *nodeTh}, {"edge-threshold", *edgeTh}} {
		if th.v <= 0 || th.v > 1 {
			return usagef("--%s %g: want a value in (0, 1]", th.name, th.v)
		}
	}
	if err := gf.check(fs); err != nil {
		return err
	}
	r, ids, label, err := gf.replacement(stderr)
	if err != nil {
		return err
	}
	g, err := r.Graph(gf.options(stderr))
	if err != nil {
		return err
	}
	rep, comp, err := g.Scores()
	if err != nil {
		return err
	}
	p, err := g.Prune(*nodeTh, *edgeTh)
	if err != nil {
		return err
	}
	toks := make([]string, len(ids))
	for i, id := range ids {
		toks[i] = label(id)
	}
	text := *gf.prompt.prompt // the text as given (word-level tokens joined without spaces would lose them)
	if text == "" {
		text = strings.Join(toks, "")
	}
	f := g.File(p, attrgraph.Metadata{Slug: strings.TrimSuffix(filepath.Base(*out), ".json"), Scan: *gf.tcs,
		Prompt: text, NodeThreshold: *nodeTh}, label)
	if err := atomicfile.Write(*out, f.WriteJSON); err != nil {
		return err
	}
	if *svg != "" {
		if err := atomicfile.Write(*svg, f.WriteSVG); err != nil {
			return err
		}
	}
	if *htmlOut != "" {
		if err := atomicfile.Write(*htmlOut, f.WriteHTML); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "prompt: %s\n", strings.Join(toks, " | "))
	fmt.Fprintf(stdout, "%d active features, %d feature nodes, %d logits; replacement score %.4f, completeness %.4f\n",
		g.NActive, len(g.Features), len(g.Logits), rep, comp)
	fmt.Fprintf(stdout, "pruned: %d nodes, %d links -> %s\n", len(f.Nodes), len(f.Links), *out)
	// The top logit's largest incoming edges.
	lg := g.LogitNode(0)
	type in struct {
		src int
		w   float32
	}
	var ins []in
	for j := range g.N {
		if w := g.Edge(lg, j); w != 0 {
			ins = append(ins, in{j, w})
		}
	}
	sort.Slice(ins, func(a, b int) bool { return abs32(ins[a].w) > abs32(ins[b].w) })
	split, err := r.SplitByHead(g, lg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "top logit %s (p=%.3f), largest direct inputs, with the heads that carry them (the last head on each path; resid: none):\n",
		label(g.Logits[0].Token), g.Logits[0].Prob)
	for _, e := range ins[:min(8, len(ins))] {
		fmt.Fprintf(stdout, "  %+9.4f  %-34s %s\n", e.w, nodeLabel(g, e.src, label), formatShares(split.Shares(e.src), e.w))
	}
	type carried struct {
		l, h int
		v    float64
	}
	var heads []carried
	for l := range split.NLayers {
		for h := range split.NHeads {
			heads = append(heads, carried{l, h, split.Carried(l, h)})
		}
	}
	sort.SliceStable(heads, func(a, b int) bool { return math.Abs(heads[a].v) > math.Abs(heads[b].v) })
	fmt.Fprintf(stdout, "heads carrying the most into the top logit (summed over its inputs):")
	for _, c := range heads[:min(6, len(heads))] {
		fmt.Fprintf(stdout, " %d.%d %+.3f", c.l, c.h, c.v)
	}
	fmt.Fprintln(stdout)
	var feats []in
	for _, e := range ins {
		if e.src < len(g.Features) && len(feats) < 5 {
			feats = append(feats, e)
		}
	}
	if len(feats) > 0 {
		fmt.Fprintf(stdout, "largest feature inputs (interp graph intervene --feature LAYER:POS:FEATURE=VALUE):\n")
		for _, e := range feats {
			fmt.Fprintf(stdout, "  %+9.4f  %s\n", e.w, nodeLabel(g, e.src, label))
		}
	}
	return nil
}

// formatShares lists the heads' parts of an edge of weight w while they add up to 95% of |w|
// (at most 4): "1.3 +20.10, 1.0 +2.91, resid +0.40".
func formatShares(shares []attrgraph.HeadShare, w float32) string {
	var parts []string
	var sum float64
	for _, s := range shares {
		if len(parts) == 4 || (len(parts) > 0 && math.Abs(sum-float64(w)) <= 0.05*math.Abs(float64(w))) {
			break
		}
		name := fmt.Sprintf("%d.%d", s.Layer, s.Head)
		if s.Layer < 0 {
			name = "resid"
		}
		parts = append(parts, fmt.Sprintf("%s %+.3f", name, s.Weight))
		sum += float64(s.Weight)
	}
	return strings.Join(parts, ", ")
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

// nodeLabel names node i of g: "L1 f42 @5", "error L0 @3", "token 'x' @2", "logit 'y'".
func nodeLabel(g *attrgraph.Graph, i int, label func(int) string) string {
	nF := len(g.Features)
	switch {
	case i < nF:
		f := g.Features[i]
		return fmt.Sprintf("L%d feature %d @%d (act %.3f)", f.Layer, f.Index, f.Pos, f.Act)
	case i < g.TokenNode(0):
		return fmt.Sprintf("error L%d @%d", (i-nF)/g.P, (i-nF)%g.P)
	case i < g.LogitNode(0):
		t := i - g.TokenNode(0)
		return fmt.Sprintf("token %q @%d", label(g.Tokens[t]), t)
	}
	return fmt.Sprintf("logit %q", label(g.Logits[i-g.LogitNode(0)].Token))
}

// graphFlags are the flags of the graph a command builds: model, transcoders, prompt, nodes.
type graphFlags struct {
	modelSpec, backend, tcs *string
	prompt                  onePromptFlags
	maxLogits, maxFeatures  *int
	batch                   *int
	logitProb               *float64
}

func addGraphFlags(fs *flag.FlagSet) graphFlags {
	return graphFlags{
		modelSpec:   fs.String("model", "", "model directory or built-in name (default: the transcoders' model_name, else "+model.DefaultModel+")"),
		backend:     fs.String("backend", "", "backend (see interp run -h)"),
		tcs:         fs.String("transcoders", "", "transcoder folders (comma-separated; a folder of L<layer> folders loads them all), or one cross-layer transcoder folder"),
		prompt:      addOnePromptFlags(fs, ""),
		maxLogits:   fs.Int("max-logits", 10, "most logit nodes"),
		logitProb:   fs.Float64("logit-prob", 0.95, "logit nodes until their probabilities sum to this"),
		maxFeatures: fs.Int("max-features", 7500, "most feature nodes, chosen by influence (0: all active features)"),
		batch:       fs.Int("batch", 256, "targets per backward pass"),
	}
}

// check validates the flags before any work.
func (gf graphFlags) check(fs *flag.FlagSet) error {
	if *gf.tcs == "" {
		return usagef("--transcoders is required (a folder written by interp transcoder train)")
	}
	if err := positive(fs, "max-logits", "batch"); err != nil {
		return err
	}
	if *gf.maxFeatures < 0 {
		return usagef("--max-features %d: want 0 (all) or more", *gf.maxFeatures)
	}
	if *gf.logitProb <= 0 || *gf.logitProb > 1 {
		return usagef("--logit-prob %g: want a value in (0, 1]", *gf.logitProb)
	}
	return nil
}

// replacement loads the model and transcoders and builds the prompt's local replacement model.
func (gf graphFlags) replacement(stderr io.Writer) (*attrgraph.Replacement, []int, func(int) string, error) {
	m, dir, _, err := transcoderModel(*gf.modelSpec, *gf.tcs, *gf.backend, stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	var ts []*sae.SAE
	var clt *transcoder.CLT
	if transcoder.IsCLTDir(*gf.tcs) {
		if clt, _, err = transcoder.LoadCLT(*gf.tcs, m.Config, m.Backend); err != nil {
			return nil, nil, nil, err
		}
		ts = clt.Layers
	} else if ts, err = loadTranscoders(*gf.tcs, m); err != nil {
		return nil, nil, nil, err
	}
	ids, label, pairs, err := gf.prompt.resolve(m, dir, ts[0].Config.Meta.DatasetPath)
	if err != nil {
		return nil, nil, nil, err
	}
	if pairs != nil {
		ids = ids[:pairs.Pos[0]+1] // up to the scored position: its next token is the graph's logit
	}
	if len(ids) == 0 {
		return nil, nil, nil, usagef("empty prompt")
	}
	var r *attrgraph.Replacement
	if clt != nil {
		r, err = attrgraph.NewReplacementCLT(m, clt, ids)
	} else {
		r, err = attrgraph.NewReplacement(m, ts, ids)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	return r, ids, label, nil
}

func (gf graphFlags) options(progress io.Writer) attrgraph.Options {
	return attrgraph.Options{MaxLogits: *gf.maxLogits, LogitProb: *gf.logitProb, MaxFeatures: *gf.maxFeatures,
		BatchSize: *gf.batch, Progress: progress}
}

// onePromptFlags choose one prompt: --tokens, --prompt, or the first clean prompt of a task.
type onePromptFlags struct {
	prompt, tokens, task *string
	seed                 *uint64
}

func addOnePromptFlags(fs *flag.FlagSet, taskNote string) onePromptFlags {
	return onePromptFlags{
		prompt: fs.String("prompt", "", "prompt text (tokenized with the model's tokenizer, or the task's)"),
		tokens: fs.String("tokens", "", "prompt token ids, e.g. 0,5,17 (instead of --prompt)"),
		task: fs.String("task", "", "without --prompt/--tokens: the first clean prompt of this task (default: the transcoders' "+
			"dataset_path, else the model's)"+taskNote),
		seed: fs.Uint64("seed", 1, "seed of the task prompt"),
	}
}

// resolve returns the prompt's token ids, a token labeller and, for a task's prompt, its pairs.
// trainedOn is the dictionaries' dataset_path ("task:NAME" names the default task).
func (pf onePromptFlags) resolve(m *model.Model, dir, trainedOn string) ([]int, func(int) string, *tasks.Pairs, error) {
	task := *pf.task
	if task == "" {
		if t, ok := strings.CutPrefix(trainedOn, "task:"); ok {
			task = t
		}
	}
	tok, err := modelTokenizer(m.Config, dir)
	if err != nil {
		return nil, nil, nil, err
	}
	if tok == nil && taskOrRecorded(task, m.Config.Task) == "ioi" {
		tok = tasks.IOITokenizer()
	}
	label := tokenLabeler(tok, taskOrRecorded(task, m.Config.Task))
	var ids []int
	switch {
	case *pf.tokens != "":
		if ids, err = parseIntList("tokens", *pf.tokens); err != nil {
			return nil, nil, nil, err
		}
	case *pf.prompt != "":
		if tok == nil {
			return nil, nil, nil, usagef("--prompt: the model has no tokenizer; give --tokens")
		}
		if ids, err = tok.Encode(*pf.prompt); err != nil {
			return nil, nil, nil, err
		}
	default:
		seqLen := 0
		if tasks.Synthetic(taskOrRecorded(task, m.Config.Task)) {
			seqLen = min(64, m.Config.NCtx)
		}
		t, err := taskFor(task, m.Config, dir, seqLen)
		if err != nil {
			return nil, nil, nil, err
		}
		pairs, err := t.Pairs(*pf.seed, 1)
		if err != nil {
			return nil, nil, nil, err
		}
		return pairs.Clean[0], label, pairs, nil
	}
	return ids, label, nil, nil
}
