package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/interp-dev/interp/heads"
	"github.com/interp-dev/interp/internal/atomicfile"
	"github.com/interp-dev/interp/internal/plots"
	"github.com/interp-dev/interp/model"
)

func init() {
	commands = append(commands, command{"heads", "score every head as previous-token, duplicate-token and induction head", cmdHeads})
}

func cmdHeads(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("heads", stderr)
	modelSpec := fs.String("model", model.DefaultModel, "model directory or built-in name")
	backend := fs.String("backend", "", "backend (see interp run -h)")
	process := processFlag(fs)
	half := fs.Int("half", 0, "length of the random half that is repeated (default: min(50, (n_ctx-1)/2))")
	batch := fs.Int("batch", 16, "number of repeated random sequences")
	seed := fs.Uint64("seed", 0, "seed of the random sequences")
	excludeBOS := fs.Bool("exclude-bos", false, "ignore attention to position 0 (detect_head's exclude_bos)")
	excludeCur := fs.Bool("exclude-current-token", false, "ignore attention to the query's own position")
	distinct := fs.Int("distinct", 12, "also measure each head's attention on its target on BOS + this many distinct random tokens repeated twice (0: skip)")
	out := fs.String("out", "", "write the scores as JSON to this file")
	plot := fs.String("plot", "", "write a heatmap of the scores (.png or .svg)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutputs(output{flag: "out", path: *out}, output{flag: "plot", path: *plot, exts: imageExts}); err != nil {
		return err
	}
	m, _, err := loadModelProcessed(*modelSpec, *backend, *process, stderr)
	if err != nil {
		return err
	}
	n := *half
	if n == 0 {
		n = min(50, (m.Config.NCtx-1)/2)
	}
	if n < 1 || 2*n+1 > m.Config.NCtx {
		return usagef("--half %d: sequences of 2*half+1 tokens must fit n_ctx %d", n, m.Config.NCtx)
	}
	if *batch < 1 {
		return usagef("--batch %d: want at least 1", *batch)
	}
	nd := min(*distinct, (m.Config.NCtx-1)/2, m.Config.DVocab-1)
	if *distinct < 0 || (*distinct > 0 && nd < 2) {
		return usagef("--distinct %d: want 0 or 2..min((n_ctx-1)/2, vocab-1) = %d", *distinct, nd)
	}
	tokens := heads.RepeatedTokens(*seed, *batch, n, m.Config.DVocab)
	s, err := heads.Compute(m, tokens, heads.Options{ExcludeBOS: *excludeBOS, ExcludeCurrentToken: *excludeCur})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "model %s: head detector scores on %d sequences of BOS + %d random tokens repeated twice\n", *modelSpec, *batch, n)
	fmt.Fprint(stdout, s.Table())
	for _, k := range heads.Kinds {
		fmt.Fprintf(stdout, "top %s: %v\n", k, s.Top(k, 3))
	}
	var sharp *heads.Sharpness
	if nd > 0 {
		if sharp, err = heads.ComputeSharpness(m, *seed, *batch, nd); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "attention on the target, BOS + %d distinct random tokens repeated twice (a perfect head: 1):\n", nd)
		for l := range m.Config.NLayers {
			ph, pv := heads.Best(sharp.PrevToken[l])
			ih, iv := heads.Best(sharp.Induction[l])
			fmt.Fprintf(stdout, "  layer %d: previous token L%dH%d %.3f, token after the earlier copy L%dH%d %.3f\n", l, l, ph, pv, l, ih, iv)
		}
	}
	if *out != "" {
		data, err := json.MarshalIndent(map[string]any{"model": *modelSpec, "backend": m.BackendName, "sequences": *batch,
			"half": n, "seed": *seed, "scores": s, "distinct": nd, "sharpness": sharp}, "", "  ")
		if err != nil {
			return err
		}
		if err := writeFile(*out, append(data, '\n')); err != nil {
			return err
		}
	}
	if *plot != "" {
		var z [][]float64
		var rows, cols []string
		for l := range m.Config.NLayers {
			for _, k := range heads.Kinds {
				z = append(z, s.Of(k)[l])
				rows = append(rows, fmt.Sprintf("L%d %s", l, map[heads.Kind]string{heads.PrevToken: "prev", heads.DuplicateToken: "dup", heads.Induction: "ind"}[k]))
			}
		}
		for h := range m.Config.NHeads {
			cols = append(cols, fmt.Sprintf("H%d", h))
		}
		if err := os.MkdirAll(filepath.Dir(*plot), 0o755); err != nil {
			return err
		}
		if err := plots.Heatmap(*plot, "head detector scores ("+*modelSpec+")", z, rows, cols, "head", "layer, score"); err != nil {
			return err
		}
	}
	return nil
}

// writeFile writes data to path atomically (see package atomicfile).
func writeFile(path string, data []byte) error {
	return atomicfile.WriteBytes(path, data)
}

// writeJSON writes v as indented JSON to path (atomically) and says so on stdout.
func writeJSON(stdout io.Writer, path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFile(path, append(data, '\n')); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", path)
	return nil
}
