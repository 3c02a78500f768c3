package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/interp-dev/interp/internal/progress"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
	"github.com/interp-dev/interp/transcoder"
)

func init() {
	commands = append(commands, command{"transcoder", "transcoders replacing MLPs: train, eval, paths (interp transcoder <sub> -h)", cmdTranscoder})
}

func cmdTranscoder(args []string, stdout, stderr io.Writer) error {
	return dispatch("transcoder", []subcommand{
		{"train", "train a transcoder per chosen MLP (ln2.hook_normalized -> hook_mlp_out; SAELens files)", cmdTranscoderTrain},
		{"eval", "FVU, L0, dead latents, and CE loss / KL with one or all MLPs replaced", cmdTranscoderEval},
		{"paths", "attribution graph of a feature or logit on one prompt (JSON, DOT, SVG)", cmdTranscoderPaths},
	}, args, stdout, stderr)
}

// parseLayers reads "all" or a comma-separated list of layers.
func parseLayers(s string, n int) ([]int, error) {
	if s == "all" {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		l, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || l < 0 || l >= n {
			return nil, usagef("--layers %q: want all or layers in [0, %d)", s, n)
		}
		out = append(out, l)
	}
	return out, nil
}

func cmdTranscoderTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("transcoder train", stderr)
	modelSpec := fs.String("model", model.DefaultModel, "model directory or built-in name")
	backend := fs.String("backend", "", "backend (see interp run -h)")
	process := processFlag(fs)
	layers := fs.String("layers", "all", "MLP layers to train transcoders for: all or e.g. 0,1")
	input := fs.String("input", "", "input hook template, {L} for the layer (default: what the MLP reads, blocks.{L}.ln2.hook_normalized, or hook_resid_mid / hook_resid_pre in a model without a norm before the MLP)")
	target := fs.String("target", "", "target hook template (default blocks.{L}.hook_mlp_out)")
	arch := fs.String("arch", "relu", "architecture: relu, topk, batchtopk or jumprelu")
	k := fs.Int("k", 32, "active latents per row (topk, batchtopk)")
	skip := fs.Bool("skip", false, "add a linear skip connection (skip transcoder, W_skip)")
	expansion := fs.Int("expansion", 8, "d_sae = expansion * d_model")
	dSAE := fs.Int("d-sae", 0, "number of latents (overrides --expansion)")
	nTokens := fs.Int("tokens", 1_000_000, "training rows per transcoder; steps = tokens / batch")
	batch := fs.Int("batch", 4096, "rows per training step")
	lr := fs.Float64("lr", 1e-3, "Adam learning rate")
	sparsity := fs.Float64("sparsity", -1, "L1 (relu) or L0 (jumprelu) coefficient (-1: 5 for relu, 1 for jumprelu)")
	resample := fs.Int("resample-every", 0, "resample dead latents every N steps (0: never)")
	normalize := fs.Bool("normalize", true, "scale activations to mean norm sqrt(d) (folded into the saved weights)")
	skipBOS := fs.Bool("skip-bos", true, "leave position 0 out of the training rows")
	seqBatch := fs.Int("seq-batch", 32, "token rows per model run")
	bufferRows := fs.Int("buffer-rows", 1<<15, "rows in the shuffling buffer")
	out := fs.String("out", "", "output directory: one folder L<layer> per transcoder (cfg.json, sae_weights.safetensors); with --clt the CLT's folder")
	clt := fs.Bool("clt", false, "train one cross-layer transcoder over every layer (--arch relu, jumprelu or topk) in circuit-tracer's layout")
	tanhScale := fs.Float64("tanh-scale", 1, "--clt --arch jumprelu: c in the sparsity penalty tanh(c * activation * decoder norm)")
	data := addDataFlags(fs, 0)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *clt {
		for _, f := range []string{"skip", "resample-every", "input", "target", "layers"} {
			if flagSet(fs, f) {
				return usagef("--%s does not apply to --clt (a CLT reads every layer's MLP input and writes every later MLP output)", f)
			}
		}
	}
	if err := checkOutputs(output{flag: "out", path: *out, dir: true}); err != nil {
		return err
	}
	if *out == "" {
		return usagef("--out is required")
	}
	a, err := dictFlags(fs, *arch, *dSAE)
	if err != nil {
		return err
	}
	m, dir, err := loadModelProcessed(*modelSpec, *backend, *process, stderr)
	if err != nil {
		return err
	}
	if !m.Config.HasMLP() {
		return usagef("model %s has no MLPs (attention-only): nothing to transcode", *modelSpec)
	}
	if *clt {
		return trainCLT(m, dir, *modelSpec, a, cltFlags{k: *k, expansion: *expansion, dSAE: *dSAE, tokens: *nTokens, batch: *batch,
			lr: *lr, sparsity: *sparsity, tanhScale: *tanhScale, normalize: *normalize, skipBOS: *skipBOS, seqBatch: *seqBatch,
			buffer: *bufferRows, out: *out}, data, stdout)
	}
	ls, err := parseLayers(*layers, m.Config.NLayers)
	if err != nil {
		return err
	}
	for _, t := range []struct{ flag, v string }{{"input", *input}, {"target", *target}} {
		if t.v != "" && len(ls) > 1 && !strings.Contains(t.v, "{L}") {
			return usagef("--%s %s: give {L} for the layer (it trains %d layers; without {L} they would all read one hook)", t.flag, t.v, len(ls))
		}
	}
	steps := (*nTokens + *batch - 1) / *batch
	for _, l := range ls {
		spec := transcoder.Spec{Layer: l, Arch: a, DSAE: *expansion * m.Config.DModel, K: *k, Skip: *skip,
			Input: strings.ReplaceAll(*input, "{L}", strconv.Itoa(l)), Target: strings.ReplaceAll(*target, "{L}", strconv.Itoa(l))}
		if *dSAE > 0 {
			spec.DSAE = *dSAE
		}
		if _, err := transcoder.NewConfig(m.Config, spec); err != nil {
			return usagef("%v", err)
		}
		src, err := data.source(m, dir, "")
		if err != nil {
			return err
		}
		topt, err := transcoderTrainOptions(a, steps, *batch, *lr, *sparsity, *resample)
		if err != nil {
			return usagef("%v", err)
		}
		bar := progress.New(steps, fmt.Sprintf("transcoder L%d", l))
		topt.OnStep = func(step int, st sae.StepStats) {
			bar.Add(1, fmt.Sprintf("mse %.4g l0 %.1f dead %d", st.MSE, st.L0, st.Dead))
		}
		job := transcoder.Job{Spec: spec}
		job.Config.Meta = sae.Meta{PrependBOS: *data.tokensFile == ""}
		job.Train, job.Seed, job.Out = topt, *data.seed+uint64(l), filepath.Join(*out, fmt.Sprintf("L%d", l))
		job.Store = sae.StoreOptions{SeqBatch: *seqBatch, SkipBOS: *skipBOS, BufferRows: *bufferRows, Normalize: *normalize}
		start := time.Now()
		s, log, err := transcoder.RunJob(m, src, *modelSpec, job)
		bar.Finish()
		if err != nil {
			return err
		}
		secs := time.Since(start).Seconds()
		c := s.Config
		fmt.Fprintf(stdout, "trained %s transcoder %s -> %s (%d -> %d -> %d): %d steps x %d rows in %.1fs (%.0f rows/s, backend %s)\n",
			c.Arch, c.Site.Hook, c.TargetSite().Hook, c.DIn, c.DSAE, c.Out(), steps, *batch, secs, float64(steps**batch)/secs, m.BackendName)
		if len(log) > 0 {
			last := log[len(log)-1]
			fmt.Fprintf(stdout, "  step %d: mse %.4g (normalised units), l0 %.2f, dead %d of %d latents\n", last.Step, last.MSE, last.L0, last.Dead, c.DSAE)
		}
		os.Remove(filepath.Join(job.Out, sae.CheckpointFile))
		fmt.Fprintf(stdout, "  wrote %s\n", job.Out)
	}
	return nil
}

// transcoderTrainOptions are the training options of a per-layer transcoder (interp transcoder
// train and graph evolve): the architecture's defaults for -1 sparsity and the decay, AuxK 1/32,
// unit-norm decoders for TopK and BatchTopK, encoders started from the decoders.
func transcoderTrainOptions(a sae.Arch, steps, batch int, lr, sparsity float64, resample int) (sae.TrainOptions, error) {
	return sae.ResolveJobDefaults(sae.TrainOptions{Steps: steps, Batch: batch, LR: lr, DecaySteps: -1,
		Sparsity: sparsity, SparsityWarmupSteps: -1, AuxKCoef: 1.0 / 32, ResampleEvery: resample,
		UnitNormDecoder: a == sae.TopK || a == sae.BatchTopK, Init: sae.InitOptions{EncoderFromDecoder: true}}, a)
}

// cltFlags are the values of transcoder train that --clt uses.
type cltFlags struct {
	k, expansion, dSAE, tokens, batch, seqBatch, buffer int
	lr, sparsity, tanhScale                             float64
	normalize, skipBOS                                  bool
	out                                                 string
}

// trainCLT trains and writes one cross-layer transcoder over every layer of m.
func trainCLT(m *model.Model, dir, modelName string, a sae.Arch, f cltFlags, data dataFlags, stdout io.Writer) error {
	if a != sae.ReLU && a != sae.JumpReLU && a != sae.TopK {
		return usagef("--arch %s: a cross-layer transcoder is relu, jumprelu or topk", a)
	}
	if f.tanhScale <= 0 {
		return usagef("--tanh-scale %g: want a positive value", f.tanhScale)
	}
	spec := transcoder.CLTSpec{Arch: a, DSAE: f.expansion * m.Config.DModel, K: f.k}
	if f.dSAE > 0 {
		spec.DSAE = f.dSAE
	}
	if _, err := transcoder.NewCLTConfigs(m.Config, spec); err != nil {
		return usagef("%v", err)
	}
	src, err := data.source(m, dir, "")
	if err != nil {
		return err
	}
	steps := (f.tokens + f.batch - 1) / f.batch
	sparsity := f.sparsity
	if sparsity < 0 {
		sparsity = 0 // the default of the architecture
	}
	bar := progress.New(steps, "CLT")
	opt := transcoder.CLTTrainOptions{Steps: steps, Batch: f.batch, LR: f.lr, Sparsity: sparsity, TanhScale: f.tanhScale,
		Normalize: f.normalize, SkipBOS: f.skipBOS, SeqBatch: f.seqBatch, Buffer: f.buffer, Seed: *data.seed,
		OnStep: func(step int, s transcoder.CLTStepStats) { bar.Add(1, fmt.Sprintf("fvu %.3f l0 %.1f", s.FVU, s.L0)) }}
	start := time.Now()
	c, log, err := transcoder.TrainCLT(m, src, spec, opt)
	bar.Finish()
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	if err := transcoder.SaveCLT(c, f.out, sae.Meta{ModelName: modelName, DatasetPath: src.Name()}); err != nil {
		return err
	}
	last := log[len(log)-1]
	fmt.Fprintf(stdout, "trained %s cross-layer transcoder over %d layers (%d -> %d latents per layer): %d steps x %d rows in %.1fs (%.0f rows/s, backend %s)\n",
		a, c.NLayers(), c.Config().DIn, c.Config().DSAE, steps, f.batch, secs, float64(steps*f.batch)/secs, m.BackendName)
	fmt.Fprintf(stdout, "  step %d: fraction of variance unexplained %.4f (all layers), l0 %.2f per layer\n", len(log), last.FVU, last.L0)
	fmt.Fprintf(stdout, "  wrote %s\n", f.out)
	return nil
}

// loadTranscoders reads --transcoders: comma-separated folders, each a transcoder (cfg.json) or
// a folder of transcoder folders (as train writes).
func loadTranscoders(spec string, m *model.Model) ([]*sae.SAE, error) {
	if spec == "" {
		return nil, usagef("--transcoders is required (a folder written by interp transcoder train)")
	}
	var dirs []string
	for _, d := range strings.Split(spec, ",") {
		if _, err := os.Stat(filepath.Join(d, sae.CfgFile)); err == nil {
			dirs = append(dirs, d)
			continue
		}
		subs, _ := filepath.Glob(filepath.Join(d, "*", sae.CfgFile))
		if len(subs) == 0 {
			return nil, fmt.Errorf("--transcoders %s: no %s in it or its subfolders", d, sae.CfgFile)
		}
		sort.Strings(subs)
		for _, s := range subs {
			dirs = append(dirs, filepath.Dir(s))
		}
	}
	var out []*sae.SAE
	for _, d := range dirs {
		s, err := transcoder.Load(d, m.Backend)
		if err != nil {
			return nil, err
		}
		if err := transcoder.Check(m.Config, s); err != nil {
			return nil, fmt.Errorf("%s: %w", d, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// transcoderModel picks --model, or the transcoders' model_name when it loads.
func transcoderModel(spec, tcs, backend string, stderr io.Writer) (*model.Model, string, string, error) {
	if spec == "" {
		spec = model.DefaultModel
		first := strings.Split(tcs, ",")[0]
		if name := transcoder.CLTModelName(first); name != "" {
			if _, _, err := model.LoadAny(name); err == nil {
				spec = name
			}
		}
		cands, _ := filepath.Glob(filepath.Join(first, "*", sae.CfgFile))
		cands = append([]string{filepath.Join(first, sae.CfgFile)}, cands...)
		for _, c := range cands {
			raw, err := os.ReadFile(c)
			if err != nil {
				continue
			}
			var cfg struct {
				ModelName string `json:"model_name"`
			}
			if json.Unmarshal(raw, &cfg) == nil && cfg.ModelName != "" {
				if _, _, err := model.LoadAny(cfg.ModelName); err == nil {
					spec = cfg.ModelName
				}
			}
			break
		}
	}
	m, dir, err := loadModel(spec, backend, stderr)
	return m, dir, spec, err
}

func cmdTranscoderEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("transcoder eval", stderr)
	modelSpec := fs.String("model", "", "model directory or built-in name (default: the transcoders' model_name, else "+model.DefaultModel+")")
	backend := fs.String("backend", "", "backend (see interp run -h)")
	tcs := fs.String("transcoders", "", "transcoder folders (comma-separated; a folder of L<layer> folders loads them all), or one cross-layer transcoder folder")
	batches := fs.Int("batches", 8, "token batches to evaluate")
	seqBatch := fs.Int("seq-batch", 8, "token rows per batch")
	skipBOS := fs.Bool("skip-bos", true, "leave position 0 out of the reconstruction metrics")
	out := fs.String("out", "", "metrics JSON (default: eval.json in the first --transcoders folder)")
	data := addDataFlags(fs, 1)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutputs(output{flag: "out", path: *out}); err != nil {
		return err
	}
	if err := positive(fs, "batches", "seq-batch"); err != nil {
		return err
	}
	if *tcs == "" {
		return usagef("--transcoders is required (a folder written by interp transcoder train)")
	}
	m, dir, spec, err := transcoderModel(*modelSpec, *tcs, *backend, stderr)
	if err != nil {
		return err
	}
	var ts []*sae.SAE
	var clt *transcoder.CLT
	what := ""
	if transcoder.IsCLTDir(*tcs) {
		if clt, _, err = transcoder.LoadCLT(*tcs, m.Config, m.Backend); err != nil {
			return err
		}
		ts, what = clt.Layers, fmt.Sprintf("a cross-layer transcoder over %d layers", clt.NLayers())
	} else {
		if ts, err = loadTranscoders(*tcs, m); err != nil {
			return err
		}
		what = fmt.Sprintf("%d transcoder(s)", len(ts))
	}
	src, err := data.source(m, dir, ts[0].Config.Meta.DatasetPath)
	if err != nil {
		return err
	}
	eopt := transcoder.EvalOptions{Batches: *batches, SeqBatch: *seqBatch, SkipBOS: *skipBOS}
	var met *transcoder.Metrics
	if clt != nil {
		met, err = transcoder.EvaluateCLT(m, clt, src, eopt)
	} else {
		met, err = transcoder.Evaluate(m, ts, src, eopt)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s on model %s, %s (%d tokens, %d scored predictions, backend %s); clean CE loss %.4f\n",
		what, spec, src.Name(), met.Tokens, met.Scored, met.Backend, met.CEClean)
	repl := func(r transcoder.Replacement) {
		fmt.Fprintf(stdout, "    CE loss: replaced %.4f   with error %.4f   zero-ablated %.4f   CE loss recovered %.4f\n",
			r.CE, r.CEWithError, r.CEZero, r.CERecovered)
		fmt.Fprintf(stdout, "    KL from clean: replaced %.5g   with error %.3g   zero-ablated %.5g   KL score %.4f\n",
			r.KL, r.KLWithError, r.KLZero, r.KLScore)
	}
	for _, l := range met.Layers {
		fmt.Fprintf(stdout, "  layer %d (%s -> %s): L0 %.3f   MSE %.5g   FVU %.4f   cosine %.4f   dead %.4f\n",
			l.Layer, l.Input, l.Target, l.L0, l.MSE, l.FVU, l.CosSim, l.DeadFrac)
		repl(l.Alone)
	}
	if len(met.Layers) > 1 {
		fmt.Fprintf(stdout, "  all %d MLPs replaced (layers %v):\n", len(met.Layers), met.All.Layers)
		repl(met.All)
	}
	if *out == "" {
		*out = filepath.Join(strings.Split(*tcs, ",")[0], "eval.json")
	}
	return writeJSON(stdout, *out, map[string]any{"transcoders": *tcs, "model": spec, "data": src.Name(), "metrics": met})
}

// parseIntList reads comma-separated integers.
func parseIntList(flag, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, usagef("--%s: %q is not an integer", flag, f)
		}
		out = append(out, v)
	}
	return out, nil
}

func cmdTranscoderPaths(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("transcoder paths", stderr)
	modelSpec := fs.String("model", "", "model directory or built-in name (default: the transcoders' model_name, else "+model.DefaultModel+")")
	backend := fs.String("backend", "", "backend (see interp run -h)")
	tcs := fs.String("transcoders", "", "transcoder folders (comma-separated; a folder of L<layer> folders loads them all)")
	pf := addOnePromptFlags(fs, ", scored on its answer - wrong logit")
	feature := fs.String("feature", "", "target feature LAYER:LATENT (default: a logit target)")
	logit := fs.String("logit", "", "target logit TOKEN or TOKEN,WRONG (ids; default: the task's answer and wrong token)")
	pos := fs.Int("pos", -1, "target position (-1: the last, or the task's scored position)")
	depth := fs.Int("depth", 3, "most components on a path below the target")
	branch := fs.Int("branch", 5, "largest contributors followed from each node")
	beam := fs.Int("beam", 20, "paths kept at each depth")
	top := fs.Int("top", 10, "paths, de-embeddings and connections printed")
	out := fs.String("out", "", "output prefix: PREFIX.json, PREFIX.dot and PREFIX.svg")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out != "" {
		if err := checkOutputs(output{flag: "out", path: *out + ".json"}); err != nil {
			return err
		}
	}
	if *out == "" {
		return usagef("--out is required (the graph is written to OUT.json, OUT.dot, OUT.svg)")
	}
	if *tcs == "" {
		return usagef("--transcoders is required (a folder written by interp transcoder train)")
	}
	if err := positive(fs, "depth", "branch", "beam", "top"); err != nil {
		return err
	}
	m, dir, _, err := transcoderModel(*modelSpec, *tcs, *backend, stderr)
	if err != nil {
		return err
	}
	ts, err := loadTranscoders(*tcs, m)
	if err != nil {
		return err
	}
	ids, label, pairs, err := pf.resolve(m, dir, ts[0].Config.Meta.DatasetPath)
	if err != nil {
		return err
	}
	tg := transcoder.Target{Pos: *pos, Wrong: -1}
	if pairs != nil {
		tg.Logit, tg.Token, tg.Wrong = true, pairs.Answer[0], pairs.Wrong[0]
		if tg.Pos < 0 {
			tg.Pos = pairs.Pos[0]
		}
	}
	if len(ids) == 0 {
		return usagef("empty prompt")
	}
	if tg.Pos < 0 {
		tg.Pos = len(ids) - 1
	}
	if tg.Pos >= len(ids) {
		return usagef("--pos %d: the prompt has %d tokens", tg.Pos, len(ids))
	}
	if *feature != "" {
		parts, err := parseIntList("feature", strings.ReplaceAll(*feature, ":", ","))
		if err != nil || len(parts) != 2 {
			return usagef("--feature %q: want LAYER:LATENT", *feature)
		}
		tg = transcoder.FeatureTarget(parts[0], parts[1], tg.Pos)
	} else if *logit != "" {
		v, err := parseIntList("logit", *logit)
		if err != nil || len(v) < 1 || len(v) > 2 {
			return usagef("--logit %q: want TOKEN or TOKEN,WRONG", *logit)
		}
		tg.Logit, tg.Token, tg.Wrong = true, v[0], -1
		if len(v) == 2 {
			tg.Wrong = v[1]
		}
	} else if !tg.Logit {
		return usagef("give --feature LAYER:LATENT or --logit TOKEN[,WRONG] (or no prompt, to use the task's)")
	}
	a, err := transcoder.NewAnalysis(m, ts, ids)
	if err != nil {
		return err
	}
	g, err := a.Paths(tg, transcoder.PathOptions{Depth: *depth, Branch: *branch, Beam: *beam})
	if err != nil {
		return err
	}
	g.SetTokenLabels(label)
	toks := make([]string, len(ids))
	for i, id := range ids {
		toks[i] = label(id)
	}
	fmt.Fprintf(stdout, "prompt: %s\n", strings.Join(toks, " | "))
	fmt.Fprintf(stdout, "target %s = %.4f (constant %.4f); %d paths\n", g.Target.Label(label), g.Value, g.Constant, len(g.Paths))
	for i, p := range g.Paths[:min(*top, len(g.Paths))] {
		names := make([]string, len(p.Nodes))
		for j, n := range p.Nodes {
			names[len(p.Nodes)-1-j] = n.Label(label)
		}
		fmt.Fprintf(stdout, "  %2d. %+.4f  %s\n", i+1, p.Attribution, strings.Join(names, " -> "))
	}
	if tg.Logit == false {
		var s *sae.SAE
		for _, t := range ts {
			if transcoder.Layer(t) == tg.Layer {
				s = t
			}
		}
		de, err := transcoder.DeEmbed(m, s, tg.Latent, *top)
		if err == nil {
			parts := make([]string, len(de))
			for i, d := range de {
				parts[i] = fmt.Sprintf("%s %.3f", label(d.Index), d.Score)
			}
			fmt.Fprintf(stdout, "de-embedding (tokens that most drive L%d latent %d directly): %s\n", tg.Layer, tg.Latent, strings.Join(parts, ", "))
		}
		for _, up := range ts {
			if transcoder.Layer(up) >= tg.Layer {
				continue
			}
			conn, err := transcoder.Connections(m, up, s)
			if err != nil {
				return err
			}
			parts := []string{}
			for _, c := range transcoder.TopUpstream(conn, tg.Latent, *top) {
				parts = append(parts, fmt.Sprintf("%d %.3f", c.Index, c.Score))
			}
			fmt.Fprintf(stdout, "input-invariant connections from L%d latents: %s\n", transcoder.Layer(up), strings.Join(parts, ", "))
		}
	}
	for _, f := range []struct {
		ext   string
		write func(io.Writer) error
	}{{".json", g.WriteJSON}, {".dot", g.WriteDOT}, {".svg", g.WriteSVG}} {
		var buf bytes.Buffer
		if err := f.write(&buf); err != nil {
			return err
		}
		if err := writeFile(*out+f.ext, buf.Bytes()); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote %s.json, %s.dot and %s.svg\n", *out, *out, *out)
	return nil
}
