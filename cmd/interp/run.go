package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tokenizer"
)

func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", stderr)
	modelSpec := fs.String("model", model.DefaultModel, "model directory (config.json + model.safetensors) or built-in name")
	tokensFile := fs.String("tokens-file", "", "JSON array of equal-length token-id arrays")
	prompt := fs.String("prompt", "", "text to tokenize with the model's tokenizer (instead of --tokens-file)")
	cache := fs.String("cache", "", "comma-separated hook names to cache (see interp info)")
	out := fs.String("out", "", "output .safetensors file (logits and cached activations)")
	backend := fs.String("backend", "", "backend: fastcpu, go, xla[:plugin] (default: $GOMLX_BACKEND, else XLA if a PJRT plugin is installed, else fastcpu)")
	process := processFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutputs(output{flag: "out", path: *out}); err != nil {
		return err
	}
	if *out == "" {
		return usagef("--out is required")
	}
	if (*tokensFile == "") == (*prompt == "") {
		return usagef("give exactly one of --tokens-file and --prompt")
	}
	var names []string
	for _, n := range strings.Split(*cache, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	m, dir, err := loadModelProcessed(*modelSpec, *backend, *process, stderr)
	if err != nil {
		return err
	}
	var rows [][]int
	if *tokensFile != "" {
		if rows, err = model.ReadTokensFile(*tokensFile); err != nil {
			return err
		}
	} else {
		tok, err := tokenizer.ForModel(dir, m.Config.Tokenizer)
		if err != nil {
			return err
		}
		ids, err := tok.Encode(*prompt)
		if err != nil {
			return err
		}
		rows = [][]int{ids}
	}
	tokens, err := model.Tokens(rows)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", *out, err)
	}
	start := time.Now()
	if err := m.RunToFile(tokens, names, *out, *modelSpec); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: logits [%d %d %d] and %d cached activations (backend %s, %.2fs)\n",
		*out, len(rows), len(rows[0]), m.Config.DVocab, len(names), m.BackendName, time.Since(start).Seconds())
	return nil
}

// loadModel loads a model by directory or built-in name onto the chosen backend and says
// which backend runs it.
func loadModel(spec, backend string, stderr io.Writer) (*model.Model, string, error) {
	return loadModelProcessed(spec, backend, "", stderr)
}

// processFlag adds --process, TransformerLens's optional weight processing.
func processFlag(fs *flag.FlagSet) *string {
	return fs.String("process", "none", "TransformerLens weight processing, comma-separated: "+
		strings.Join(model.ProcessSteps(), ", ")+" (default none: the checkpoint's raw computation)")
}

// loadModelProcessed is loadModel with the --process steps applied to the weights.
func loadModelProcessed(spec, backend, process string, stderr io.Writer) (*model.Model, string, error) {
	steps, err := model.ParseProcess(process)
	if err != nil {
		return nil, "", usagef("--process: %v", err)
	}
	if st, err := os.Stat(spec); err == nil && st.IsDir() {
		if b, err := model.CheckpointBytes(spec); err == nil {
			fmt.Fprintf(stderr, "interp: loading %s: %s of float32 weights\n", spec, model.HumanBytes(b))
		}
	}
	w, dir, err := model.LoadAny(spec)
	if err != nil {
		return nil, "", err
	}
	if len(steps) > 0 {
		if w, err = model.Process(w, steps); err != nil {
			return nil, "", err
		}
		fmt.Fprintf(stderr, "interp: weights processed: %s\n", strings.Join(steps, ", "))
	}
	b, name, err := model.NewBackend(backend)
	if err != nil {
		return nil, "", err
	}
	m, err := model.New(w, b, name)
	if err != nil {
		return nil, "", err
	}
	fmt.Fprintf(stderr, "interp: model %s on backend %s (%s)\n", spec, name, b.Description())
	return m, dir, nil
}
