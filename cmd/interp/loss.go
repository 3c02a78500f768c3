package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/steering"
	"github.com/interp-dev/interp/tasks"
	"github.com/interp-dev/interp/tokenizer"
)

func init() {
	commands = append(commands, command{"loss", "next-token loss (and perplexity) of a model on a text file", cmdLoss})
}

func cmdLoss(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("loss", stderr)
	modelSpec := fs.String("model", model.DefaultModel, "model directory or built-in name")
	backend := fs.String("backend", "", "backend (see interp run -h)")
	process := processFlag(fs)
	file := fs.String("file", "", "text file, tokenized with the model's tokenizer and cut into consecutive windows")
	seqLen := fs.Int("seq-len", 0, "tokens per window, BOS included (default: the model's n_ctx)")
	maxRows := fs.Int("max-rows", 0, "score at most this many windows (default: all)")
	batch := fs.Int("batch", 16, "windows per forward pass")
	out := fs.String("out", "", "write the result as JSON to this file")
	var ablate listFlag
	fs.Var(&ablate, "ablate", "also score the model with head LAYER.HEAD zero-ablated (its hook_z), as interp generate --ablate (repeatable: the heads together)")
	repeat := fs.Bool("repeat", false, "repeated-text test (Olsson et al.'s repeated sequences, on real text): each window is BOS, (seq-len-1)/2 tokens of the text, then the same tokens again; reports the loss on each copy")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := checkOutputs(output{flag: "out", path: *out, exts: []string{".json"}}); err != nil {
		return err
	}
	if *file == "" {
		return usagef("--file is required")
	}
	if err := positive(fs, "batch"); err != nil {
		return err
	}
	if *maxRows < 0 {
		return usagef("--max-rows %d: want 0 (all) or more", *maxRows)
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return usagef("--file: %v", err)
	}
	m, dir, err := loadModelProcessed(*modelSpec, *backend, *process, stderr)
	if err != nil {
		return err
	}
	var set *hooks.Set
	if len(ablate) > 0 {
		set = hooks.New()
		seen := map[[2]int]bool{}
		for _, a := range ablate {
			l, h, err := steering.ParseHead(a)
			if err != nil {
				return usagef("--ablate: %v", err)
			}
			if seen[[2]int{l, h}] {
				return usagef("--ablate %s: given twice", a)
			}
			seen[[2]int{l, h}] = true
			if err := steering.AblateHead(set, m.Config, l, h); err != nil {
				return usagef("--%v", err)
			}
		}
	}
	p := *seqLen
	if p == 0 {
		p = m.Config.NCtx
	}
	if p < 2 || p > m.Config.NCtx {
		return usagef("--seq-len %d: want 2..n_ctx = %d", p, m.Config.NCtx)
	}
	tok, err := modelTokenizer(m.Config, dir)
	if err != nil {
		return err
	}
	if tok == nil {
		return usagef("model %s has no tokenizer", *modelSpec)
	}
	ids, err := tok.Encode(string(data))
	if err != nil {
		return fmt.Errorf("--file %s: %w", *file, err)
	}
	// Windows as the training rows of text:DIR: BOS, then p-1 tokens (p tokens when the tokenizer
	// has no "<|endoftext|>").
	bos, err := tokenizer.SingleToken(tok, tokenizer.EndOfText)
	if err != nil {
		bos = -1
	}
	o, h := 0, 0 // with --repeat: tokens before the first copy (BOS or none), and the copy's length
	if bos >= 0 {
		o = 1
	}
	var rows [][]int
	if *repeat {
		if h = (p - o) / 2; h < 2 {
			return usagef("--seq-len %d is too short for --repeat: want at least %d", p, o+4)
		}
		rows = repeatRows(tasks.Windows(ids, bos, o+h, *maxRows), o)
		p = o + 2*h
	} else {
		rows = tasks.Windows(ids, bos, p, *maxRows)
	}
	if len(rows) == 0 {
		return usagef("--file %s: %d tokens, fewer than one window of %d", *file, len(ids), p)
	}
	res := map[string]any{"model": *modelSpec, "file": *file, "seq_len": p, "backend": m.BackendName}
	// report scores the rows with set's hooks (nil: the plain model) and prints and stores the result.
	report := func(set *hooks.Set, label string, res map[string]any) error {
		l, err := m.LossWithHooks(rows, *batch, set)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "model %s%s on %s: loss %.4f nats/token (perplexity %.2f) over %d tokens in %d windows of %d\n",
			*modelSpec, label, *file, l.Loss, l.Perplexity(), l.Tokens, l.Rows, p)
		res["loss"], res["perplexity"], res["tokens"], res["windows"] = l.Loss, l.Perplexity(), l.Tokens, l.Rows
		res["loss_by_position"] = l.ByPosition
		if *repeat {
			// As the training log's evaluation: tokens o+1..o+h-1 of the first copy (o..o+h-1) and
			// o+h+1..o+2h-1 of the second, each copy's first token left out (no copy predicts it).
			// ByPosition[t-1] is the loss of predicting token t.
			first, second := meanLoss(l.ByPosition[o:o+h-1]), meanLoss(l.ByPosition[o+h:o+2*h-1])
			fmt.Fprintf(stdout, "repeated windows of %d tokens: first copy %.4f, second copy %.4f nats/token (second minus first %.4f)\n",
				h, first, second, second-first)
			res["repeat"], res["first_half_loss"], res["repeated_half_loss"] = true, first, second
			res["in_context_loss"] = second - first
		} else if s := l.InContextScore(); !math.IsNaN(s) {
			fmt.Fprintf(stdout, "in-context score %.4f (mean loss at the last 8 predicted positions minus positions 8-15)\n", s)
			res["in_context_score"] = s
		}
		return nil
	}
	if err := report(nil, "", res); err != nil {
		return err
	}
	if set != nil {
		abl := map[string]any{"heads": []string(ablate)}
		heads := "head"
		if len(ablate) > 1 {
			heads = "heads"
		}
		if err := report(set, " with "+heads+" "+strings.Join(ablate, ", ")+" zero-ablated", abl); err != nil {
			return err
		}
		abl["loss_change"] = abl["loss"].(float64) - res["loss"].(float64)
		fmt.Fprintf(stdout, "the ablation changes the loss by %+.4f nats/token\n", abl["loss_change"])
		res["ablated"] = abl
	}
	if *out != "" {
		return writeJSON(stdout, *out, res)
	}
	return nil
}

// repeatRows appends to each row its own tokens after the first o (the BOS): [BOS, w, w].
func repeatRows(rows [][]int, o int) [][]int {
	out := make([][]int, len(rows))
	for i, r := range rows {
		out[i] = append(append(make([]int, 0, 2*len(r)-o), r...), r[o:]...)
	}
	return out
}

func meanLoss(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}
