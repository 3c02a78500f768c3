package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
	"github.com/interp-dev/interp/train"
)

func init() {
	commands = append(commands, command{"train", "train a model on a task, optionally with clamped activations", cmdTrain})
}

// clampFlags collects repeated --clamp flags.
type clampFlags []string

func (c *clampFlags) String() string     { return strings.Join(*c, " ") }
func (c *clampFlags) Set(s string) error { *c = append(*c, s); return nil }

// parse reads every --clamp spec.
func (c clampFlags) parse() ([]train.Clamp, error) {
	var cs []train.Clamp
	for _, spec := range c {
		cl, err := train.ParseClamp(spec)
		if err != nil {
			return nil, usagef("--clamp: %v", err)
		}
		cs = append(cs, cl)
	}
	return cs, nil
}

// toyConfigName is the built-in model config of the induction-head studies.
const toyConfigName = "attn-only-2l"

// toyConfigs are the built-in model configs, by --model-config name; --vocab and --seq-len set
// their vocabulary and context.
var toyConfigs = map[string]func(vocab, nCtx int) model.Config{
	toyConfigName: func(vocab, nCtx int) model.Config { return model.AttnOnlyToy(2, 8, 64, vocab, nCtx) },
	// The induction study on a modern architecture: RoPE, RMSNorm, SwiGLU, grouped-query attention.
	"llama-2l": func(vocab, nCtx int) model.Config { return model.LlamaToy(2, 8, 4, 64, vocab, nCtx) },
}

func cmdTrain(args []string, stdout, stderr io.Writer) error {
	def := train.DefaultConfig()
	fs := newFlags("train", stderr)
	taskName := fs.String("task", "induction", "task: "+strings.Join(tasks.Names(), ", "))
	modelConfig := fs.String("model-config", toyConfigName, "model to train from random weights: "+toyConfigName+
		" (2 layers x 8 heads, d_model 64, attention-only), llama-2l (the same with RoPE, RMSNorm, SwiGLU and 4 key/value heads) "+
		"or a config.json file (any family Load reads)")
	initModel := fs.String("init", "", "start from this model directory or built-in name instead of random weights (the trained model keeps its tokenizer)")
	vocab := fs.Int("vocab", 64, "vocabulary size for the built-in --model-config "+toyConfigName+" and llama-2l")
	out := fs.String("out", "", "output folder: checkpoint/, metrics.jsonl, summary.json, progress.png (rerun to resume)")
	var clamps clampFlags
	fs.Var(&clamps, "clamp", "clamp HOOK[head=..][pos=..]=VALUE, repeatable; VALUE: "+strings.Join(train.ClampValues, " | "))
	steps := fs.Int("steps", def.Steps, "optimizer steps")
	batch := fs.Int("batch", def.Batch, "sequences per step")
	seqLen := fs.Int("seq-len", def.SeqLen, "sequence length given to the task (and n_ctx of "+toyConfigName+")")
	lr := fs.Float64("lr", def.LR, "peak learning rate")
	warmup := fs.Int("warmup", def.WarmupSteps, "linear warmup steps")
	minLR := fs.Float64("min-lr", def.MinLR, "final learning rate as a fraction of --lr (cosine decay)")
	wd := fs.Float64("weight-decay", def.WeightDecay, "AdamW weight decay (weight matrices and embeddings)")
	clip := fs.Float64("grad-clip", def.GradClip, "global gradient-norm clip (0: off)")
	seed := fs.Uint64("seed", def.Seed, "seed of the data, evaluation batch and random weights")
	evalEvery := fs.Int("eval-every", def.EvalEvery, "log progress measures every N steps (the phase change and the plot are read from them)")
	ckptEvery := fs.Int("checkpoint-every", def.CheckpointEvery, "checkpoint every N steps (0: only at the end)")
	snapEvery := fs.Int("snapshot-every", 0, "keep the weights every N steps, at step 0 and at the end, in OUT/snapshots/step-NNNNNN (model folders; interp graph evolve reads them)")
	resume := fs.Bool("resume", false, "extend the run in --out (finished or interrupted) to --steps N steps in all, with its own settings; "+
		"the learning-rate schedule keeps its length and the extra steps hold the final rate (min-lr x lr)")
	backend := fs.String("backend", "", "backend: fastcpu, go, xla[:plugin] (default: $GOMLX_BACKEND, else XLA if a PJRT plugin is installed, else fastcpu)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usagef("--out is required")
	}
	if err := checkOutputs(output{flag: "out", path: *out, dir: true}); err != nil {
		return err
	}
	if err := positive(fs, "eval-every"); err != nil {
		return err
	}
	if *resume {
		return trainResume(fs, *out, *steps, *taskName, clamps, *backend, stdout, stderr)
	}
	cfg := def
	cfg.Steps, cfg.Batch, cfg.SeqLen, cfg.LR, cfg.WarmupSteps, cfg.MinLR = *steps, *batch, *seqLen, *lr, *warmup, *minLR
	cfg.WeightDecay, cfg.GradClip, cfg.Seed, cfg.EvalEvery, cfg.CheckpointEvery, cfg.OutDir = *wd, *clip, *seed, *evalEvery, *ckptEvery, *out
	cfg.SnapshotEvery = *snapEvery
	if err := cfg.Validate(); err != nil {
		return usagef("%v", err)
	}
	cs, err := clamps.parse()
	if err != nil {
		return err
	}

	var w *model.Weights
	var dir string // the --init model's folder, where its tokenizer lives
	modelDesc := *initModel
	if *initModel != "" {
		if flagSet(fs, "model-config") {
			return usagef("give --init or --model-config, not both")
		}
		if w, dir, err = model.LoadAny(*initModel); err != nil {
			return err
		}
	} else {
		var c model.Config
		if toy, ok := toyConfigs[*modelConfig]; ok {
			c = toy(*vocab, *seqLen)
		} else if c, err = model.ReadHFConfig(*modelConfig); err != nil {
			return err
		}
		if w, err = model.NewRandomWeights(c, *seed); err != nil {
			return err
		}
		modelDesc = *modelConfig + " (random weights, seed " + fmt.Sprint(*seed) + ")"
	}
	if !tasks.Known(*taskName) {
		return usagef("--task: unknown task %q (known: %s)", *taskName, strings.Join(tasks.Names(), ", "))
	}
	taskLen := 0 // text tasks keep their prompts' length
	if tasks.Windowed(*taskName) {
		taskLen = min(*seqLen, w.Config.NCtx)
	} else if _, toy := toyConfigs[*modelConfig]; flagSet(fs, "seq-len") && (*initModel != "" || !toy) { // for the toy configs it is n_ctx
		return usagef("--seq-len %d: applies only to the synthetic tasks; %s keeps its prompts' length", *seqLen, *taskName)
	}
	task, err := taskFor(*taskName, w.Config, dir, taskLen)
	if err != nil {
		return err
	}
	// The --init model's vocabulary stays with the trained model.
	cfg.TokenizerFrom = dir
	for _, c := range cs { // hook names and heads before the backend starts (positions: in Run)
		if err := c.Check(w.Config, min(*seqLen, w.Config.NCtx)); err != nil {
			return fmt.Errorf("--clamp: %w", err)
		}
	}
	// A training step holds the forward's activations, their gradients and the logits' softmax.
	if err := model.CheckMemory(fmt.Sprintf("--batch %d x --seq-len %d", cfg.Batch, min(*seqLen, w.Config.NCtx)),
		3*w.Config.ActivationBytes(cfg.Batch, min(*seqLen, w.Config.NCtx))); err != nil {
		return usageError{err}
	}
	return trainAndReport(w, modelDesc, task, cfg, cs, *backend, stdout, stderr)
}

// trainAndReport runs train.Run on fresh weights w (or the checkpoint in cfg.OutDir) and prints
// what was trained and the task's progress measures.
func trainAndReport(w *model.Weights, modelDesc string, task tasks.Task, cfg train.Config, cs []train.Clamp, backend string, stdout, stderr io.Writer) error {
	out, taskName := cfg.OutDir, task.Name()
	b, bname, err := model.NewBackend(backend)
	if err != nil {
		return err
	}
	m, err := model.New(w, b, bname)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "interp: model %s on backend %s (%s)\n", modelDesc, bname, b.Description())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := train.Run(ctx, m, task, cfg, cs...)
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted after step %d; run the same command again to resume from the last checkpoint in %s", res.Steps, out)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "trained %d steps of %s on %s in %.1fs (backend %s)", res.Steps, taskName, modelDesc, res.Elapsed.Seconds(), res.Backend)
	if res.ResumedFrom > 0 {
		fmt.Fprintf(stdout, ", resumed from step %d", res.ResumedFrom)
	}
	switch n := len(res.Evals); {
	case res.Steps > res.ResumedFrom:
		fmt.Fprintf(stdout, "\nfinal loss %.4f", res.Loss)
	case n > 0: // resumed with no steps left: the last logged loss, not a step of this call
		fmt.Fprintf(stdout, "\nno steps left to run; last logged loss %.4f (step %d)", res.Evals[n-1].Loss, res.Evals[n-1].Step)
	default:
		fmt.Fprintf(stdout, "\nno steps left to run")
	}
	if train.InductionMeasured(taskName) {
		if n := len(res.Evals); n > 0 {
			e := res.Evals[n-1]
			fmt.Fprintf(stdout, "; evaluation: first-half loss %.4f, repeated-half loss %.4f, max induction score %.3f",
				e.FirstHalfLoss, e.RepeatedHalfLoss, e.MaxInduction)
		}
		if res.PhaseChange.Found {
			fmt.Fprintf(stdout, "\nphase change at step %d (repeated-half loss falling %.2g per step)", res.PhaseChange.Step, -res.PhaseChange.Slope)
		} else {
			fmt.Fprintf(stdout, "\nno phase change (the repeated-half loss fell %.2f nats at most, under %.1f)", res.PhaseChange.Drop, train.PhaseChangeMinDrop)
		}
	} else if n := len(res.Evals); n > 0 && res.Evals[n-1].Pairs != nil {
		// Tasks with a right and a wrong answer: accuracy and logit difference on held-out prompts.
		e := res.Evals[n-1]
		fmt.Fprint(stdout, "; "+pairScoreLine(taskName, e.Pairs, e.PairsUnclamped))
	} else if n := len(res.Evals); n > 0 && res.Evals[n-1].PairsByTask != nil {
		// A mixture: each task's accuracy and logit difference.
		e := res.Evals[n-1]
		for _, name := range slices.Sorted(maps.Keys(e.PairsByTask)) {
			fmt.Fprint(stdout, "\n"+pairScoreLine(name, e.PairsByTask[name], e.PairsByTaskUnclamped[name]))
		}
	}
	fmt.Fprintf(stdout, "\nwrote %s (model), %s, %s, %s\n", train.CheckpointPath(out),
		filepath.Join(out, "metrics.jsonl"), filepath.Join(out, "summary.json"), filepath.Join(out, "progress.png"))
	return nil
}

// trainResume extends the run in out to steps steps (train.Extend): the run's own config, model,
// task and clamps; only --steps, --eval-every, --checkpoint-every, --clamp (which must repeat the
// run's) and --backend may be given.
func trainResume(fs *flag.FlagSet, out string, steps int, taskName string, clamps clampFlags, backend string, stdout, stderr io.Writer) error {
	if !flagSet(fs, "steps") {
		return usagef("--resume needs --steps N, the number of steps to train to in all")
	}
	var bad []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "resume", "steps", "out", "eval-every", "checkpoint-every", "backend", "clamp", "task":
		default:
			bad = append(bad, "--"+f.Name)
		}
	})
	if len(bad) > 0 {
		return usagef("--resume continues the run with its own settings; %s cannot change it", strings.Join(bad, ", "))
	}
	cfg, state, err := train.Extend(out, steps)
	if err != nil {
		return err
	}
	if flagSet(fs, "eval-every") {
		cfg.EvalEvery = fs.Lookup("eval-every").Value.(flag.Getter).Get().(int)
	}
	if flagSet(fs, "checkpoint-every") {
		cfg.CheckpointEvery = fs.Lookup("checkpoint-every").Value.(flag.Getter).Get().(int)
	}
	if taskName != "" && flagSet(fs, "task") && taskName != state.Task {
		return usagef("--task %s: the run in %s was trained on %s", taskName, out, state.Task)
	}
	cs, err := clamps.parse()
	if err != nil {
		return err
	}
	w, err := model.NewRandomWeights(state.Model, cfg.Seed) // replaced by the checkpoint's weights
	if err != nil {
		return err
	}
	dir := ""
	if _, err := os.Stat(filepath.Join(train.CheckpointPath(out), "tokenizer.json")); err == nil {
		dir = train.CheckpointPath(out)
	}
	taskLen := 0
	if tasks.Windowed(state.Task) {
		taskLen = min(cfg.SeqLen, state.Model.NCtx)
	}
	task, err := taskFor(state.Task, state.Model, dir, taskLen)
	if err != nil {
		return err
	}
	cfg.TokenizerFrom = train.CheckpointPath(out)
	return trainAndReport(w, out+" (resumed at step "+fmt.Sprint(state.Step)+")", task, cfg, cs, backend, stdout, stderr)
}

// pairScoreLine says how the trained model does on a task's held-out prompts; in a run with
// clamps, with them in place and with the weights alone.
func pairScoreLine(task string, sc, alone *train.PairScore) string {
	line := fmt.Sprintf("on %d %s prompts: accuracy %.3f, logit difference (answer - wrong) %.3f", sc.Pairs, task, sc.Accuracy, sc.LogitDiff)
	if alone == nil {
		return line
	}
	return fmt.Sprintf("%s with the clamps; the weights alone (clamps removed): accuracy %.3f, logit difference %.3f", line, alone.Accuracy, alone.LogitDiff)
}
