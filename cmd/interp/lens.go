package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/interp-dev/interp/model"
)

func init() {
	commands = append(commands, command{"lens", "logit lens of one prompt: each layer's residual stream read through the final norm and unembedding", cmdLens})
}

func cmdLens(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("lens", stderr)
	modelSpec := fs.String("model", model.DefaultModel, "model directory or built-in name")
	backend := fs.String("backend", "", "backend (see interp run -h)")
	process := processFlag(fs)
	prompt := fs.String("prompt", "", "prompt text (tokenized with the model's tokenizer)")
	bos := fs.String("bos", "auto", "token put before the prompt: auto, none, or a token (as interp generate)")
	k := fs.Int("k", 5, "most likely tokens kept per stream and position")
	out := fs.String("out", "", "write the lens as JSON to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutputs(output{flag: "out", path: *out, exts: []string{".json"}}); err != nil {
		return err
	}
	if *prompt == "" {
		return usagef("--prompt is required")
	}
	if err := positive(fs, "k"); err != nil {
		return err
	}
	m, dir, err := loadModelProcessed(*modelSpec, *backend, *process, stderr)
	if err != nil {
		return err
	}
	tok, err := modelTokenizer(m.Config, dir)
	if err != nil {
		return err
	}
	if tok == nil {
		return usagef("model %s has no tokenizer", *modelSpec)
	}
	rows, err := encodePrompts(tok, []string{*prompt}, *bos)
	if err != nil {
		return err
	}
	ids := rows[0]
	if len(ids) > m.Config.NCtx {
		return usagef("--prompt: %d tokens, the model's context is %d", len(ids), m.Config.NCtx)
	}
	lens, err := m.LogitLens(ids, *k)
	if err != nil {
		return err
	}
	str := func(id int) string { return strings.NewReplacer("\n", "⏎", "\t", "⇥").Replace(tok.TokenString(id)) }
	// One line per position: the token, then each stream's top token and its probability.
	fmt.Fprintf(stdout, "%-4s %-14s", "pos", "token")
	for _, l := range lens.Labels {
		fmt.Fprintf(stdout, " %-18s", l)
	}
	fmt.Fprintln(stdout)
	for p, id := range ids {
		fmt.Fprintf(stdout, "%-4d %-14q", p, str(id))
		for r := range lens.Labels {
			t := lens.Top[r][p][0]
			fmt.Fprintf(stdout, " %-18s", fmt.Sprintf("%q %.3f", str(t.Token), t.Prob))
		}
		fmt.Fprintln(stdout)
	}
	if *out != "" {
		strs := make([]string, len(ids))
		for i, id := range ids {
			strs[i] = str(id)
		}
		doc := map[string]any{"model": *modelSpec, "tokens": ids, "strs": strs, "lens": lens, "backend": m.BackendName}
		if err := writeJSON(stdout, *out, doc); err != nil {
			return fmt.Errorf("--out %s: %w", *out, err)
		}
	}
	return nil
}
