package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/interp-dev/interp/attrgraph"
)

// cmdGraphIntervene sets, scales or shifts transcoder features of one prompt and reports the
// logit nodes' measured changes in each mode beside the attribution graph's predictions.
func cmdGraphIntervene(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("graph intervene", stderr)
	gf := addGraphFlags(fs)
	var specs listFlag
	fs.Var(&specs, "feature", "intervention LAYER:POS:FEATURE=VALUE (or *=SCALE, +=SHIFT); POS may count from the end (-1); repeatable")
	modes := fs.String("mode", "direct,linear,frozen,recomputed", "comma-separated modes: direct (patterns, norm scales and MLP outputs held: "+
		"the graph's direct edges), linear (the local replacement model: the graph's paths), frozen (attention patterns held, "+
		"circuit-tracer's default), recomputed (nothing held)")
	out := fs.String("out", "", "also write the report (.json)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if len(specs) == 0 {
		return usagef("--feature is required (e.g. --feature 1:4:42=0)")
	}
	if err := checkOutputs(output{flag: "out", path: *out, exts: []string{".json"}}); err != nil {
		return err
	}
	var ms []attrgraph.Mode
	for _, s := range strings.Split(*modes, ",") {
		m, err := attrgraph.ParseMode(strings.TrimSpace(s))
		if err != nil {
			return usagef("--mode: %v", err)
		}
		ms = append(ms, m)
	}
	if err := gf.check(fs); err != nil {
		return err
	}
	r, ids, label, err := gf.replacement(stderr)
	if err != nil {
		return err
	}
	var ivs []attrgraph.Intervention
	for _, s := range specs {
		iv, err := attrgraph.ParseIntervention(s, len(ids))
		if err != nil {
			return usagef("--feature: %v", err)
		}
		ivs = append(ivs, iv)
	}
	if err := r.CheckInterventions(ivs); err != nil {
		return usagef("--feature: %v", strings.TrimPrefix(err.Error(), "attrgraph: "))
	}
	g, err := r.Graph(gf.options(stderr))
	if err != nil {
		return err
	}
	rep, err := r.Report(g, ivs, ms)
	if err != nil {
		return err
	}
	toks := make([]string, len(ids))
	for i, id := range ids {
		toks[i] = label(id)
	}
	fmt.Fprintf(stdout, "prompt: %s\n", strings.Join(toks, " | "))
	for _, iv := range ivs {
		a := r.Latents(iv.Layer, iv.Pos)[iv.Feature]
		fmt.Fprintf(stdout, "intervention: L%d feature %d @%d (%q, activation %.4g) %s %g\n", iv.Layer, iv.Feature, iv.Pos,
			toks[iv.Pos], a, iv.Op, iv.Value)
	}
	if rep.NoPrediction != "" {
		fmt.Fprintf(stdout, "no graph prediction: %s\n", strings.TrimPrefix(rep.NoPrediction, "attrgraph: "))
	}
	fmt.Fprintf(stdout, "change of each logit node (logit - mean logit); the graph predicts direct and paths:\n")
	fmt.Fprintf(stdout, "  %-14s %7s %10s %10s", "logit", "p", "graph:dir", "graph:path")
	for _, m := range ms {
		fmt.Fprintf(stdout, " %10s", m)
	}
	fmt.Fprintln(stdout)
	pred := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf("%+.4f", *v)
	}
	for _, e := range rep.Logits {
		fmt.Fprintf(stdout, "  %-14s %7.4f %10s %10s", fmt.Sprintf("%q", label(e.Token)), e.Prob, pred(e.Direct), pred(e.Paths))
		for _, m := range ms {
			fmt.Fprintf(stdout, " %+10.4f", e.Measured[m])
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "  %-14s %7s %10s %10s", "p after", "", "", "")
	for _, m := range ms {
		fmt.Fprintf(stdout, " %10.4f", rep.Logits[0].ProbAfter[m])
	}
	fmt.Fprintf(stdout, "   (of %q)\n", label(rep.Logits[0].Token))
	fmt.Fprintf(stdout, "  %-14s %7s %10s %10s", "top token", "", "", "")
	for _, m := range ms {
		fmt.Fprintf(stdout, " %10s", fmt.Sprintf("%q", label(rep.Top[m])))
	}
	fmt.Fprintln(stdout)
	if *out != "" {
		if err := writeJSON(stdout, *out, map[string]any{"prompt": toks, "tokens": ids, "report": rep}); err != nil {
			return err
		}
	}
	return nil
}
