package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/interp-dev/interp/internal/atomicfile"
	"github.com/interp-dev/interp/internal/progress"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
	"github.com/interp-dev/interp/tasks"
	"github.com/interp-dev/interp/tokenizer"
)

func init() {
	commands = append(commands, command{"sae", "sparse autoencoders: train, eval, features (interp sae <sub> -h)", cmdSAE})
}

func cmdSAE(args []string, stdout, stderr io.Writer) error {
	return dispatch("sae", []subcommand{
		{"train", "train an SAE on a hook point's activations (SAELens files)", cmdSAETrain},
		{"eval", "reconstruction, CE-loss and KL metrics of an SAE spliced into the model", cmdSAEEval},
		{"features", "top-activating contexts of chosen latents as an HTML page", cmdSAEFeatures},
	}, args, stdout, stderr)
}

// dataFlags are the token-source flags shared by the sae subcommands.
type dataFlags struct {
	task, tokensFile *string
	seqLen           *int
	seed             *uint64
}

func addDataFlags(fs interface {
	String(string, string, string) *string
	Int(string, int, string) *int
	Uint64(string, uint64, string) *uint64
}, seed uint64) dataFlags {
	return dataFlags{
		task:       fs.String("task", "", "task generating the token batches (default: the SAE's dataset_path, else the model's recorded task; tasks: "+strings.Join(tasks.Names(), ", ")+")"),
		tokensFile: fs.String("tokens-file", "", "JSON array of equal-length token-id arrays (instead of --task; cycled)"),
		seqLen:     fs.Int("seq-len", 0, "sequence length of task batches (default min(64, n_ctx))"),
		seed:       fs.Uint64("seed", seed, "seed of the data and the initialisation"),
	}
}

// source builds the token source: --tokens-file, else --task, else the data the SAE was
// trained on (cfg.json's dataset_path: "task:NAME" or a token file; "" for a new SAE), else the
// task the model records. Synthetic tasks default to min(64, n_ctx) positions.
func (d dataFlags) source(m *model.Model, dir, trainedOn string) (sae.TokenSource, error) {
	file, name := *d.tokensFile, *d.task
	if file == "" && name == "" && trainedOn != "" {
		if t, ok := strings.CutPrefix(trainedOn, "task:"); ok {
			name = t
		} else if _, err := os.Stat(trainedOn); err == nil {
			file = trainedOn
		}
	}
	if file != "" {
		if *d.seqLen != 0 {
			return nil, usagef("--seq-len: token files keep their rows' length")
		}
		rows, err := model.ReadTokensFile(file)
		if err != nil {
			return nil, err
		}
		return sae.RowsSource(file, rows, *d.seed)
	}
	seqLen := *d.seqLen
	if seqLen == 0 && tasks.Synthetic(taskOrRecorded(name, m.Config.Task)) {
		seqLen = min(64, m.Config.NCtx)
	}
	t, err := taskFor(name, m.Config, dir, seqLen)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(*d.seed, 0xda7a))
	// The task's loss mask travels with the rows: evaluations score CE and KL only where it counts.
	return sae.TaskSource{Label: "task:" + t.Name(), Fn: func(n int) ([][]int, [][]bool) {
		b := t.Batch(rng, n)
		return b.Tokens, b.LossMask
	}}, nil
}

// parseSite reads --hook and --heads.
func parseSite(hook, heads string) (sae.Site, error) {
	s := sae.Site{Hook: hook}
	switch heads {
	case "":
	case "concat":
		s.Heads = sae.HeadsConcat
	case "per_head", "per-head":
		s.Heads = sae.HeadsPerHead
	default:
		h, err := strconv.Atoi(heads)
		if err != nil || h < 0 {
			return s, usagef("--heads %q: want concat, per_head or a head index", heads)
		}
		s.Heads, s.Head = sae.HeadsSingle, h
	}
	return s, nil
}

func cmdSAETrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sae train", stderr)
	modelSpec := fs.String("model", model.DefaultModel, "model directory or built-in name")
	backend := fs.String("backend", "", "backend (see interp run -h)")
	process := processFlag(fs)
	hook := fs.String("hook", "", "hook point to train on, e.g. blocks.1.hook_resid_post (see interp info)")
	heads := fs.String("heads", "", "for hooks with a head axis: concat, per_head (one SAE shared by the heads) or a head index")
	arch := fs.String("arch", "topk", "architecture: relu, topk, batchtopk, jumprelu or gated")
	k := fs.Int("k", 32, "active latents per row (topk, batchtopk)")
	expansion := fs.Int("expansion", 8, "d_sae = expansion * d_in")
	dSAE := fs.Int("d-sae", 0, "number of latents (overrides --expansion)")
	nTokens := fs.Int("tokens", 1_000_000, "training activations (rows); steps = tokens / batch")
	batch := fs.Int("batch", 4096, "rows per training step")
	lr := fs.Float64("lr", 3e-4, "Adam learning rate")
	warmup := fs.Int("warmup-steps", 0, "linear learning-rate warm-up steps")
	decay := fs.Int("decay-steps", -1, "linear decay to lr/10 over the last N steps (-1: the last 20%)")
	sparsity := fs.Float64("sparsity", -1, "L1 (relu, gated) or L0 (jumprelu) coefficient (-1: 5 for relu and gated, 1 for jumprelu)")
	sparsityWarmup := fs.Int("sparsity-warmup", -1, "linear warm-up steps of the sparsity coefficient (-1: the first 5%)")
	bandwidth := fs.Float64("bandwidth", 0.05, "JumpReLU straight-through bandwidth")
	auxCoef := fs.Float64("aux-coef", 1.0/32, "AuxK loss coefficient (topk, batchtopk; 0 turns it off)")
	deadWindow := fs.Int64("dead-window", 0, "rows without firing after which a latent is dead (0: a fifth of --tokens)")
	resample := fs.Int("resample-every", 0, "resample dead latents every N steps (0: never)")
	matryoshka := fs.String("matryoshka", "", "batchtopk: comma-separated prefix widths (each < d_sae) whose latents also reconstruct on their own (a Matryoshka SAE, as SAELens's matryoshka_batchtopk)")
	unitNorm := fs.String("unit-norm", "auto", "keep decoder rows at unit norm: true, false or auto (true for topk, batchtopk)")
	applyBDec := fs.Bool("apply-b-dec", true, "subtract b_dec before encoding (pre-encoder bias tied to the decoder bias)")
	encFromDec := fs.Bool("encoder-from-decoder", true, "initialise W_enc as W_dec^T")
	normalize := fs.Bool("normalize", true, "scale activations to mean norm sqrt(d_in) (folded into the saved weights)")
	skipBOS := fs.Bool("skip-bos", true, "leave position 0 out of the training rows")
	seqBatch := fs.Int("seq-batch", 32, "token rows per model run")
	bufferRows := fs.Int("buffer-rows", 1<<15, "rows in the shuffling buffer")
	cacheDir := fs.String("cache-dir", "", "keep the activations on disk here and replay them on later runs")
	ckptEvery := fs.Int("checkpoint-every", 0, "write a checkpoint every N steps (0: every 10%)")
	resume := fs.Bool("resume", false, "continue from OUT/checkpoint.safetensors when it exists (token batches from seed + step)")
	out := fs.String("out", "", "output directory (cfg.json, sae_weights.safetensors, training_log.json)")
	data := addDataFlags(fs, 0)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutputs(output{flag: "out", path: *out, dir: true}); err != nil {
		return err
	}
	if *out == "" {
		return usagef("--out is required")
	}
	if *hook == "" {
		return usagef("--hook is required (see interp info for the hook names)")
	}
	a, err := dictFlags(fs, *arch, *dSAE)
	if err != nil {
		return err
	}
	site, err := parseSite(*hook, *heads)
	if err != nil {
		return err
	}
	unit := a == sae.TopK || a == sae.BatchTopK
	switch *unitNorm {
	case "auto":
	case "true":
		unit = true
	case "false":
		unit = false
	default:
		return usagef("--unit-norm %q: want true, false or auto", *unitNorm)
	}
	m, dir, err := loadModelProcessed(*modelSpec, *backend, *process, stderr)
	if err != nil {
		return err
	}
	din, err := sae.SiteWidth(m.Config, site)
	if err != nil {
		return usagef("%v", err)
	}
	c := sae.Config{Arch: a, DSAE: *expansion * din, K: *k, ApplyBDecToInput: *applyBDec, Site: site,
		Meta: sae.Meta{PrependBOS: *data.tokensFile == ""}} // the tasks start every sequence with BOS
	if *dSAE > 0 {
		c.DSAE = *dSAE
	}
	if a == sae.TopK || a == sae.BatchTopK {
		if *k < 1 || *k > c.DSAE {
			return usagef("--k %d: must be in [1, d_sae = %d]", *k, c.DSAE)
		}
	}
	var widths []int
	for _, f := range strings.Split(*matryoshka, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		w, err := strconv.Atoi(f)
		if err != nil {
			return usagef("--matryoshka: %q is not a width", f)
		}
		widths = append(widths, w)
	}
	if len(widths) > 0 {
		if a != sae.BatchTopK {
			return usagef("--matryoshka applies to --arch batchtopk")
		}
		for i, w := range widths {
			if w <= 0 || w >= c.DSAE || (i > 0 && w <= widths[i-1]) {
				return usagef("--matryoshka %s: want strictly increasing widths in (0, d_sae = %d)", *matryoshka, c.DSAE)
			}
		}
		c.Meta.Extra = map[string]any{"matryoshka_widths": widths} // provenance, in cfg.json's metadata
	}
	steps := (*nTokens + *batch - 1) / *batch
	resumeStep := -1
	if *resume {
		if info, err := sae.ReadCheckpointInfo(filepath.Join(*out, sae.CheckpointFile)); err == nil {
			resumeStep = info.Step
			*data.seed += uint64(info.Step) // fresh token batches for the remaining steps
		}
	}
	src, err := data.source(m, dir, "")
	if err != nil {
		return err
	}
	topt := sae.TrainOptions{Steps: steps, Batch: *batch, LR: *lr, WarmupSteps: *warmup, DecaySteps: *decay,
		Sparsity: *sparsity, SparsityWarmupSteps: *sparsityWarmup, Bandwidth: *bandwidth, AuxKCoef: *auxCoef,
		DeadWindow: *deadWindow, ResampleEvery: *resample, UnitNormDecoder: unit, CheckpointEvery: *ckptEvery, MatryoshkaWidths: widths,
		Init: sae.InitOptions{EncoderFromDecoder: *encFromDec}}
	if topt, err = sae.ResolveJobDefaults(topt, a); err != nil {
		return usagef("%v", err)
	}
	bar := progress.New(steps, "sae train")
	topt.OnStep = func(step int, st sae.StepStats) {
		bar.Add(1, fmt.Sprintf("mse %.4g l0 %.1f dead %d", st.MSE, st.L0, st.Dead))
	}
	job := sae.Job{Config: c, Train: topt, Seed: *data.seed, Out: *out, Resume: *resume,
		Store: sae.StoreOptions{SeqBatch: *seqBatch, SkipBOS: *skipBOS, BufferRows: *bufferRows, Normalize: *normalize,
			CacheDir: *cacheDir, CacheKey: sae.JobCacheKey(*modelSpec, c, fmt.Sprintf("%s seq%d", src.Name(), *data.seqLen), *data.seed, *skipBOS)}}
	if resumeStep >= 0 {
		fmt.Fprintf(stdout, "resuming from %s at step %d of %d (token batches from seed %d)\n",
			filepath.Join(*out, sae.CheckpointFile), resumeStep, steps, *data.seed)
		bar.Add(min(resumeStep, steps), "resumed")
	}
	start := time.Now()
	s, log, err := sae.RunJob(m, src, *modelSpec, job)
	bar.Finish()
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	fmt.Fprintf(stdout, "trained %s SAE %d -> %d on %s: %d steps x %d rows in %.1fs (backend %s)\n",
		a, s.Config.DIn, s.Config.DSAE, site, steps, *batch, secs, m.BackendName)
	if len(log) > 0 {
		last := log[len(log)-1]
		fmt.Fprintf(stdout, "step %d: mse %.4g (normalised units), l0 %.2f, dead %d of %d latents\n", last.Step, last.MSE, last.L0, last.Dead, s.Config.DSAE)
	}
	fmt.Fprintf(stdout, "wrote %s (%s, %s, %s)\n", *out, sae.CfgFile, sae.WeightsFile, sae.LogFile)
	return nil
}

// loadSAEAndModel loads --sae and the model (--model, or the SAE's model_name when it names a
// built-in model or a folder).
func loadSAEAndModel(saeDir, saeHook, modelSpec, backend string, stderr io.Writer) (*sae.SAE, *model.Model, string, string, error) {
	if saeDir == "" {
		return nil, nil, "", "", usagef("--sae is required (a folder with %s and %s, a sparsify folder or a Gemma Scope params.npz)", sae.CfgFile, sae.WeightsFile)
	}
	if modelSpec == "" {
		modelSpec = model.DefaultModel
		if raw, err := os.ReadFile(filepath.Join(saeDir, sae.CfgFile)); err == nil {
			var cfg struct {
				ModelName string `json:"model_name"`
			}
			if json.Unmarshal(raw, &cfg) == nil && cfg.ModelName != "" {
				if _, _, err := model.LoadAny(cfg.ModelName); err == nil {
					modelSpec = cfg.ModelName
				}
			}
		}
	}
	m, dir, err := loadModel(modelSpec, backend, stderr)
	if err != nil {
		return nil, nil, "", "", err
	}
	s, err := sae.LoadAny(saeDir, saeHook, m.Backend)
	if err != nil {
		return nil, nil, "", "", err
	}
	if n := s.Config.Meta.ModelName; n != "" && n != modelSpec {
		fmt.Fprintf(stderr, "interp: note: the SAE was trained on model %q, running it on %q\n", n, modelSpec)
	}
	return s, m, dir, modelSpec, nil
}

func cmdSAEEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sae eval", stderr)
	modelSpec := fs.String("model", "", "model directory or built-in name (default: the SAE's model_name, else "+model.DefaultModel+")")
	backend := fs.String("backend", "", "backend (see interp run -h)")
	saeDir := fs.String("sae", "", "SAE: a SAELens folder, an EleutherAI sparsify folder, or a Gemma Scope params.npz")
	saeHook := fs.String("sae-hook", "", "hook the SAE reads, for a Gemma Scope params.npz (e.g. blocks.12.hook_resid_post), a sparsify folder not named layers.N, or a SAELens folder whose cfg.json names none")
	batches := fs.Int("batches", 8, "token batches to evaluate")
	seqBatch := fs.Int("seq-batch", 8, "token rows per batch")
	skipBOS := fs.Bool("skip-bos", true, "leave position 0 out of the reconstruction metrics")
	out := fs.String("out", "", "metrics JSON (default SAE/eval.json)")
	hist := fs.String("hist", "", "feature density histogram, .png or .svg (default SAE/density.png)")
	data := addDataFlags(fs, 1)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *saeDir != "" {
		base := *saeDir // the SAE's folder, or the one holding its params.npz
		if st, err := os.Stat(base); err == nil && !st.IsDir() {
			base = filepath.Dir(base)
		}
		if *out == "" {
			*out = filepath.Join(base, "eval.json")
		}
		if *hist == "" {
			*hist = filepath.Join(base, "density.png")
		}
	}
	if err := checkOutputs(output{flag: "out", path: *out}, output{flag: "hist", path: *hist, exts: imageExts}); err != nil {
		return err
	}
	if err := positive(fs, "batches", "seq-batch"); err != nil {
		return err
	}
	s, m, dir, spec, err := loadSAEAndModel(*saeDir, *saeHook, *modelSpec, *backend, stderr)
	if err != nil {
		return err
	}
	src, err := data.source(m, dir, s.Config.Meta.DatasetPath)
	if err != nil {
		return err
	}
	met, err := sae.Evaluate(m, s, src, sae.EvalOptions{Batches: *batches, SeqBatch: *seqBatch, SkipBOS: *skipBOS})
	if err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join(*saeDir, "eval.json")
	}
	if *hist == "" {
		*hist = filepath.Join(*saeDir, "density.png")
	}
	c := s.Config
	fmt.Fprintf(stdout, "%s SAE %d -> %d at %s on model %s, %s (%d rows, %d tokens, backend %s)\n",
		c.Arch, c.DIn, c.DSAE, c.Site, spec, src.Name(), met.Rows, met.Tokens, met.Backend)
	fmt.Fprintf(stdout, "  L0 %.3f   MSE %.5g   FVU %.4f   explained variance %.4f   cosine %.4f   l2 ratio %.4f\n",
		met.L0, met.MSE, met.FVU, met.ExplainedVariance, met.CosSim, met.L2Ratio)
	fmt.Fprintf(stdout, "  CE loss: clean %.4f   with SAE %.4f   with SAE + error %.4f   zero-ablated %.4f\n",
		met.CEClean, met.CESpliced, met.CESplicedWithError, met.CEZeroAblated)
	fmt.Fprintf(stdout, "  CE loss recovered %.4f (with error term %.4f)\n", met.CELossScore, met.CELossScoreError)
	fmt.Fprintf(stdout, "  KL from clean: with SAE %.5g   with SAE + error %.3g   zero-ablated %.5g   KL score %.4f\n",
		met.KLSpliced, met.KLSplicedWithError, met.KLZeroAblated, met.KLScore)
	fmt.Fprintf(stdout, "  dead %.4f   dense (> %.2g) %.4f   of %d latents\n", met.DeadFrac, met.DenseThreshold, met.DenseFrac, c.DSAE)
	js, err := json.MarshalIndent(map[string]any{"sae": *saeDir, "model": spec, "data": src.Name(), "metrics": met,
		"feature_density": met.Density}, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFile(*out, append(js, '\n')); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*hist), 0o755); err != nil {
		return err
	}
	if err := sae.DensityHistogram(*hist, met.Density); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and %s\n", *out, *hist)
	return nil
}

func cmdSAEFeatures(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sae features", stderr)
	modelSpec := fs.String("model", "", "model directory or built-in name (default: the SAE's model_name, else "+model.DefaultModel+")")
	backend := fs.String("backend", "", "backend (see interp run -h)")
	saeDir := fs.String("sae", "", "SAE: a SAELens folder, an EleutherAI sparsify folder, or a Gemma Scope params.npz")
	saeHook := fs.String("sae-hook", "", "hook the SAE reads, for a Gemma Scope params.npz (e.g. blocks.12.hook_resid_post), a sparsify folder not named layers.N, or a SAELens folder whose cfg.json names none")
	latents := fs.String("latents", "", "comma-separated latent indices, e.g. 0,5,7")
	top := fs.Int("top", 10, "contexts per latent")
	batches := fs.Int("batches", 16, "token batches to scan")
	seqBatch := fs.Int("seq-batch", 16, "token rows per batch")
	out := fs.String("out", "", "output HTML page")
	data := addDataFlags(fs, 1)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutputs(output{flag: "out", path: *out, exts: []string{".html", ".htm"}}); err != nil {
		return err
	}
	if *out == "" {
		return usagef("--out is required")
	}
	if err := positive(fs, "top", "batches", "seq-batch"); err != nil {
		return err
	}
	var ids []int
	for _, f := range strings.Split(*latents, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		j, err := strconv.Atoi(f)
		if err != nil {
			return usagef("--latents: %q is not a latent index", f)
		}
		ids = append(ids, j)
	}
	if len(ids) == 0 {
		return usagef("--latents is required, e.g. --latents 0,5,7")
	}
	s, m, dir, spec, err := loadSAEAndModel(*saeDir, *saeHook, *modelSpec, *backend, stderr)
	if err != nil {
		return err
	}
	for _, j := range ids {
		if j < 0 || j >= s.Config.DSAE {
			return usagef("--latents: latent %d out of range [0, %d)", j, s.Config.DSAE)
		}
	}
	src, err := data.source(m, dir, s.Config.Meta.DatasetPath)
	if err != nil {
		return err
	}
	reports, err := sae.TopActivations(m, s, src, sae.FeatureOptions{Latents: ids, Top: *top, Batches: *batches, SeqBatch: *seqBatch})
	if err != nil {
		return err
	}
	render := func(id int) string { return strconv.Itoa(id) + " " }
	if tok, err := tokenizer.ForModel(dir, m.Config.Tokenizer); err == nil {
		render = tok.TokenString
	}
	title := fmt.Sprintf("%s SAE at %s (%s): top activations", s.Config.Arch, s.Config.Site, spec)
	if err := atomicfile.Write(*out, func(w io.Writer) error { return sae.WriteFeaturesHTML(w, title, reports, render) }); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	for _, r := range reports {
		best := float32(0)
		if len(r.Examples) > 0 {
			best = r.Examples[0].Act
		}
		fmt.Fprintf(stdout, "latent %d: firing frequency %.4g, max activation %.4g, %d contexts\n", r.Latent, r.Density, best, len(r.Examples))
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}

// checkK validates --k: at least 1, and given only for the architectures that use it.
// dictFlags checks the flags sae train and transcoder train share (--arch, --batch, --tokens,
// --expansion, --d-sae, --k) and returns the architecture.
func dictFlags(fs *flag.FlagSet, arch string, dSAE int) (sae.Arch, error) {
	a, err := sae.ParseArch(arch)
	if err != nil {
		return "", usagef("--arch: %v", err)
	}
	if err := positive(fs, "batch", "tokens", "expansion"); err != nil {
		return "", err
	}
	if dSAE < 0 {
		return "", usagef("--d-sae %d: want a number of latents, or 0 for --expansion x d_in", dSAE)
	}
	if err := checkK(fs, a); err != nil {
		return "", err
	}
	return a, nil
}

func checkK(fs *flag.FlagSet, a sae.Arch) error {
	if a != sae.TopK && a != sae.BatchTopK {
		if flagSet(fs, "k") {
			return usagef("--k applies only to --arch topk and batchtopk, not %s", a)
		}
		return nil
	}
	return positive(fs, "k")
}
