package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/attrgraph"
	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/internal/plots"
	"github.com/interp-dev/interp/internal/progress"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
	"github.com/interp-dev/interp/train"
	"github.com/interp-dev/interp/transcoder"
)

// cmdGraphEvolve builds the attribution graph of one prompt at every snapshot of a training run,
// with transcoders (or a CLT) trained on each snapshot, and shows how the graph of one logit
// changes over training.
func cmdGraphEvolve(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("graph evolve", stderr)
	run := fs.String("run", "", "an interp train output folder with snapshots (interp train --snapshot-every N)")
	backend := fs.String("backend", "", "backend (see interp run -h)")
	pf := addOnePromptFlags(fs, "")
	target := fs.Int("target", -1, "the logit's token id (default: the task prompt's answer, else the last snapshot's top token)")
	clt := fs.Bool("clt", false, "a cross-layer transcoder per snapshot instead of per-layer transcoders")
	arch := fs.String("arch", "", "dictionary architecture (default relu; jumprelu with --clt)")
	k := fs.Int("k", 32, "active latents per row (topk)")
	expansion := fs.Int("expansion", 8, "latents = expansion * d_model")
	nTokens := fs.Int("dict-tokens", 200_000, "training rows of each snapshot's dictionary")
	batch := fs.Int("dict-batch", 4096, "rows per dictionary training step")
	lr := fs.Float64("lr", 1e-3, "dictionary learning rate")
	sparsity := fs.Float64("sparsity", -1, "dictionary sparsity coefficient (-1: the architecture's default)")
	maxFeatures := fs.Int("max-features", 7500, "most feature nodes per graph (0: all)")
	out := fs.String("out", "", "the frames (.json)")
	plot := fs.String("plot", "", "the figure (.png or .svg): the logit's inputs, the heads carrying it, and the scores over training")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *run == "" || *out == "" {
		return usagef("--run and --out are required")
	}
	if err := checkOutputs(output{flag: "out", path: *out, exts: []string{".json"}}, output{flag: "plot", path: *plot, exts: []string{".png", ".svg"}}); err != nil {
		return err
	}
	if err := positive(fs, "expansion", "dict-tokens", "dict-batch", "k"); err != nil {
		return err
	}
	if *maxFeatures < 0 {
		return usagef("--max-features %d: want 0 (all) or more", *maxFeatures)
	}
	a := sae.ReLU
	if *clt {
		a = sae.JumpReLU
	}
	if *arch != "" {
		var err error
		if a, err = sae.ParseArch(*arch); err != nil {
			return usagef("--arch: %v", err)
		}
	}
	dirs, steps, err := train.Snapshots(*run)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return usagef("--run %s: no snapshots in %s (train with --snapshot-every N)", *run, train.SnapshotsDir(*run))
	}
	empty, zero := "", 0
	data := dataFlags{task: pf.task, tokensFile: &empty, seqLen: &zero, seed: pf.seed}
	dict := func(m *model.Model, dir string) ([]*sae.SAE, *transcoder.CLT, error) {
		src, err := data.source(m, dir, "")
		if err != nil {
			return nil, nil, err
		}
		steps := (*nTokens + *batch - 1) / *batch
		if *clt {
			cdir := filepath.Join(dir, "clt")
			if transcoder.IsCLTDir(cdir) {
				c, _, err := transcoder.LoadCLT(cdir, m.Config, m.Backend)
				return nil, c, err
			}
			sp := *sparsity
			if sp < 0 {
				sp = 0
			}
			c, _, err := transcoder.TrainCLT(m, src, transcoder.CLTSpec{Arch: a, DSAE: *expansion * m.Config.DModel, K: *k},
				transcoder.CLTTrainOptions{Steps: steps, Batch: *batch, LR: *lr, Sparsity: sp, Normalize: true, SkipBOS: true, Seed: *pf.seed})
			if err != nil {
				return nil, nil, err
			}
			return nil, c, transcoder.SaveCLT(c, cdir, sae.Meta{ModelName: dir, DatasetPath: src.Name()})
		}
		tdir := filepath.Join(dir, "transcoders")
		var ts []*sae.SAE
		for l := range m.Config.NLayers {
			ldir := filepath.Join(tdir, fmt.Sprintf("L%d", l))
			if _, err := os.Stat(filepath.Join(ldir, sae.CfgFile)); err == nil {
				s, err := transcoder.Load(ldir, m.Backend)
				if err != nil {
					return nil, nil, err
				}
				ts = append(ts, s)
				continue
			}
			topt, err := transcoderTrainOptions(a, steps, *batch, *lr, *sparsity, 0)
			if err != nil {
				return nil, nil, usagef("%v", err)
			}
			job := transcoder.Job{Spec: transcoder.Spec{Layer: l, Arch: a, DSAE: *expansion * m.Config.DModel, K: *k}}
			job.Train, job.Seed, job.Out = topt, *pf.seed+uint64(l), ldir
			job.Store = sae.StoreOptions{SkipBOS: true, Normalize: true}
			s, _, err := transcoder.RunJob(m, src, dir, job)
			if err != nil {
				return nil, nil, err
			}
			os.Remove(filepath.Join(ldir, sae.CheckpointFile))
			ts = append(ts, s)
		}
		return ts, nil, nil
	}

	// The prompt and the logit, from the last snapshot.
	last, lastDir, err := loadModel(dirs[len(dirs)-1], *backend, stderr)
	if err != nil {
		return err
	}
	if !last.Config.HasMLP() {
		return usagef("--run %s: the model has no MLPs (attention-only): there is nothing to transcode", *run)
	}
	ids, label, pairs, err := pf.resolve(last, lastDir, "")
	if err != nil {
		return err
	}
	if pairs != nil {
		ids = ids[:pairs.Pos[0]+1]
		if *target < 0 {
			*target = pairs.Answer[0]
		}
	}
	if *target < 0 {
		tt, err := model.Tokens([][]int{ids})
		if err != nil {
			return err
		}
		o, err := last.Run(tt, hooks.New())
		if err != nil {
			return err
		}
		V := last.Config.DVocab
		lg := tensors.MustCopyFlatData[float32](o.Logits)[(len(ids)-1)*V:]
		*target = 0
		for v := range lg {
			if lg[v] > lg[*target] {
				*target = v
			}
		}
	}
	if *target >= last.Config.DVocab {
		return usagef("--target %d: outside the vocabulary [0, %d)", *target, last.Config.DVocab)
	}

	var frames []*attrgraph.Frame
	bar := progress.New(len(dirs), "evolve")
	start := time.Now()
	for i, dir := range dirs {
		m, mdir, err := loadModel(dir, *backend, io.Discard)
		if err != nil {
			return err
		}
		ts, c, err := dict(m, mdir)
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", filepath.Base(dir), err)
		}
		var r *attrgraph.Replacement
		if c != nil {
			r, err = attrgraph.NewReplacementCLT(m, c, ids)
		} else {
			r, err = attrgraph.NewReplacement(m, ts, ids)
		}
		if err != nil {
			return err
		}
		g, err := r.Graph(attrgraph.Options{Targets: []int{*target}, MaxFeatures: *maxFeatures})
		if err != nil {
			return err
		}
		f, err := r.Summarize(g, steps[i], label)
		if err != nil {
			return err
		}
		frames = append(frames, f)
		bar.Add(1, fmt.Sprintf("step %d", steps[i]))
	}
	bar.Finish()

	toks := make([]string, len(ids))
	for i, id := range ids {
		toks[i] = label(id)
	}
	inputs := attrgraph.TopInputs(frames, 6)
	heads := attrgraph.TopHeads(frames, 6)
	fmt.Fprintf(stdout, "prompt: %s\n", strings.Join(toks, " | "))
	fmt.Fprintf(stdout, "logit %q over %d snapshots of %s (%.1fs):\n", label(*target), len(frames), *run, time.Since(start).Seconds())
	fmt.Fprintf(stdout, "  %7s %6s %6s %6s", "step", "p", "repl", "compl")
	for _, k := range inputs[:min(4, len(inputs))] {
		fmt.Fprintf(stdout, " %16s", truncate(k, 16))
	}
	for _, h := range heads[:min(3, len(heads))] {
		fmt.Fprintf(stdout, " %6s", fmt.Sprintf("%d.%d", h[0], h[1]))
	}
	fmt.Fprintln(stdout)
	for _, f := range frames {
		fmt.Fprintf(stdout, "  %7d %6.3f %6.3f %6.3f", f.Step, f.Logit.Prob, f.Replacement, f.Completeness)
		for _, k := range inputs[:min(4, len(inputs))] {
			fmt.Fprintf(stdout, " %+16.3f", f.Inputs[k])
		}
		for _, h := range heads[:min(3, len(heads))] {
			fmt.Fprintf(stdout, " %+6.2f", f.Heads[h[0]][h[1]])
		}
		fmt.Fprintln(stdout)
	}
	doc := map[string]any{"run": *run, "prompt": toks, "tokens": ids, "target": *target, "target_label": label(*target),
		"dictionary": map[string]any{"clt": *clt, "arch": a, "expansion": *expansion, "tokens": *nTokens}, "frames": frames}
	if err := writeJSON(stdout, *out, doc); err != nil {
		return err
	}
	if *plot != "" {
		xs := make([]float64, len(frames))
		for i, f := range frames {
			xs[i] = float64(f.Step)
		}
		series := func(name string, y func(*attrgraph.Frame) float64) plots.Series {
			ys := make([]float64, len(frames))
			for i, f := range frames {
				ys[i] = y(f)
			}
			return plots.Series{Name: name, X: xs, Y: ys}
		}
		var in, hd []plots.Series
		for _, k := range inputs {
			in = append(in, series(k, func(f *attrgraph.Frame) float64 { return f.Inputs[k] }))
		}
		for _, h := range heads {
			hd = append(hd, series(fmt.Sprintf("head %d.%d", h[0], h[1]), func(f *attrgraph.Frame) float64 { return f.Heads[h[0]][h[1]] }))
		}
		sc := []plots.Series{
			series("p(target)", func(f *attrgraph.Frame) float64 { return f.Logit.Prob }),
			series("replacement score", func(f *attrgraph.Frame) float64 { return f.Replacement }),
			series("completeness", func(f *attrgraph.Frame) float64 { return f.Completeness }),
		}
		name := label(*target)
		if err := plots.LinePanels(*plot, []plots.Panel{
			{Title: fmt.Sprintf("largest direct inputs to logit %q (logit - mean)", name), XLabel: "training step", YLabel: "edge weight", Series: in},
			{Title: fmt.Sprintf("heads carrying into logit %q (last head on each path)", name), XLabel: "training step", YLabel: "carried", Series: hd},
			{Title: "graph scores and the logit's probability", XLabel: "training step", YLabel: "", Series: sc},
		}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", *plot)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "~"
}
