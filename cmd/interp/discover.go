package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/interp-dev/interp/circuits"
	"github.com/interp-dev/interp/internal/plots"
	"github.com/interp-dev/interp/tasks"
)

func init() {
	commands = append(commands, command{"discover", "find a circuit (head-overlap, acdc, eap, eap-ig, eap-ig-activations, patching) and score it; --compare two circuits", cmdDiscover})
}

func cmdDiscover(args []string, stdout, stderr io.Writer) error {
	// --compare takes two files: pull them out before the flags are parsed.
	var compare []string
	for i := 0; i < len(args); i++ {
		if args[i] == "--compare" || args[i] == "-compare" {
			if i+2 >= len(args) {
				return usagef("--compare takes two circuit files: --compare A.json B.json")
			}
			compare = args[i+1 : i+3]
			args = append(append([]string(nil), args[:i]...), args[i+3:]...)
			break
		}
	}
	fs := newFlags("discover", stderr)
	modelSpec := fs.String("model", "planted-ioi", "model directory or built-in name (planted-ioi, planted-induction: hand-set weights with a known circuit)")
	taskName := fs.String("task", "", "task (default: the one the model records; "+strings.Join(tasks.Names(), ", ")+")")
	method := fs.String("method", "all", "head-overlap, acdc, eap, eap-ig, eap-ig-activations, patching, or all (a comparison table)")
	out := fs.String("out", "", "write the result as JSON (scores, circuit, ground truth, faithfulness, wall time)")
	plot := fs.String("plot", "", "circuit diagram (.svg, with a .dot beside it, or .dot); with --method all one per method (NAME.METHOD.svg); with --compare a bar chart (.png or .svg)")
	backend := fs.String("backend", "", "backend (see interp run -h)")
	process := processFlag(fs)
	examples := fs.Int("examples", 20, "clean/corrupted pairs (head-overlap codes and counts over all of them)")
	seed := fs.Uint64("seed", 0, "seed of the pairs and of the SAE")
	ablation := fs.String("ablation", "resample", "what replaces ablated nodes and edges (ACDC, faithfulness): resample, mean or zero")
	acdcMetric := fs.String("acdc-metric", "kl", "ACDC metric: kl or logit-diff")
	tau := fs.Float64("tau", 0, "ACDC threshold (default 0.01 for kl, 0.02 of the clean-corrupted gap for logit-diff)")
	steps := fs.Int("steps", 30, "EAP-IG interpolation steps (the reference's default 30)")
	acdcAbs := fs.Bool("abs-value-threshold", false, "ACDC: compare |metric change| with --tau (the reference's --abs-value-threshold)")
	acdcOrder := fs.String("acdc-order", circuits.OrderNormal, "ACDC: order of a receiver's sender edges: normal (the latest sender first, as the reference), reverse or random (seeded by --seed)")
	tauSweep := fs.String("tau-sweep", "", "ACDC: also rerun at these comma-separated thresholds and report each circuit (and, with a ground truth, the ROC of the sweep)")
	nSeeds := fs.Int("seeds", 1, "run every method with this many seeds (--seed, --seed+1, ...) and report each score's mean +- sd and range (robustness)")
	mib := fs.Bool("mib", false, "also measure MIB's circuit-localisation curve of each method's ranking: faithfulness at 0.1-50% (and 100%) of the edges, CPR and CMD")
	mibPlot := fs.String("mib-plot", "", "with --mib: plot the curves of every method (.png or .svg)")
	sel := fs.String("select", circuits.SelectKeep, "EAP/EAP-IG circuit selection: keep (edges >= --keep x the top score, connected), topn or greedy (the reference's apply_topn / apply_greedy of --top-n edges, pruned to embed->logits paths)")
	topN := fs.Int("top-n", 0, "edges for --select topn or greedy")
	intervention := fs.String("intervention", circuits.InterventionPatching, "what EAP scores an edge's removal against: patching (the corrupted prompt's value), zero, mean or mean-positional (over the corrupted prompts)")
	igRule := fs.String("ig-rule", circuits.IGLeft, "EAP-IG interpolation points: left (the reference's alpha = k/steps, k = 0..steps-1) or midpoint")
	keep := fs.Float64("keep", 0.1, "score-based methods keep the nodes/edges scoring at least this fraction of the top score")
	truth := fs.String("truth", "", "ground-truth circuit: a known name (gpt2-small-ioi, a planted model) or a circuit JSON file (default: the planted model's)")
	saeExamples := fs.Int("sae-examples", 10, "head-overlap: the first N pairs train the SAE")
	saeLatents := fs.Int("sae-latents", 200, "head-overlap: SAE latents")
	saeL1 := fs.Float64("sae-l1", 0.02, "head-overlap: SAE L1 coefficient, in the reference's units (mean squared error over rows and dimensions + L1 x mean L1 norm)")
	saeEpochs := fs.Int("sae-epochs", 500, "head-overlap: SAE full-batch epochs")
	saeNorm := fs.Bool("sae-normalize", false, "head-overlap: divide each head's (or head pair's) count of unique positive codes by its distinct codes (default: the paper's raw count)")
	saeFree := fs.Bool("sae-free-encoder", false, "head-overlap: train interp's usual SAE (free encoder, unit-norm decoder rows) instead of the reference's unit-norm encoder and decoder columns")
	saeNodes := fs.String("sae-node-method", circuits.NodeFromEdges, "head-overlap node scores: edge (the top head pairs, the paper's edge method) or codes (unique positive codes per head)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if compare != nil {
		return discoverCompare(compare, *out, *plot, stdout)
	}
	if err := checkOutputs(output{flag: "out", path: *out}, output{flag: "plot", path: *plot, exts: []string{".svg", ".dot"}},
		output{flag: "mib-plot", path: *mibPlot, exts: imageExts}); err != nil {
		return err
	}
	if *mibPlot != "" && !*mib {
		return usagef("--mib-plot needs --mib")
	}
	if *nSeeds < 1 {
		return usagef("--seeds %d: want at least 1", *nSeeds)
	}
	if *nSeeds > 1 && (*mib || *plot != "" || *tauSweep != "") {
		return usagef("--seeds %d summarises scores over seeds; run --mib, --plot or --tau-sweep with one seed", *nSeeds)
	}

	var methods []circuits.Method
	if *method == "all" {
		methods = circuits.Methods()
	} else {
		m, err := circuits.ParseMethod(*method)
		if err != nil {
			return usageError{err}
		}
		methods = []circuits.Method{m}
	}
	abl, err := circuits.ParseAblation(*ablation)
	if err != nil {
		return usageError{err}
	}
	am := circuits.MetricKind(*acdcMetric)
	if am != circuits.KL && am != circuits.LogitDiff {
		return usagef("--acdc-metric %q: want kl or logit-diff", *acdcMetric)
	}
	if err := positive(fs, "examples", "sae-examples", "steps", "sae-epochs", "sae-latents"); err != nil {
		return err
	}
	if *tau < 0 {
		return usagef("--tau %g: want a threshold >= 0 (0: the default for the metric)", *tau)
	}
	var taus []float64
	for _, f := range strings.Split(*tauSweep, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v < 0 {
			return usagef("--tau-sweep: %q is not a threshold >= 0", f)
		}
		taus = append(taus, v)
	}
	switch *acdcOrder {
	case circuits.OrderNormal, circuits.OrderReverse, circuits.OrderRandom:
	default:
		return usagef("--acdc-order %q: want normal, reverse or random", *acdcOrder)
	}
	switch *intervention {
	case circuits.InterventionPatching, circuits.InterventionZero, circuits.InterventionMean, circuits.InterventionMeanPositional:
	default:
		return usagef("--intervention %q: want patching, zero, mean or mean-positional", *intervention)
	}
	switch *sel {
	case circuits.SelectKeep:
		if *topN != 0 {
			return usagef("--top-n applies to --select topn or greedy")
		}
	case circuits.SelectTopN, circuits.SelectGreedy:
		if *topN < 1 {
			return usagef("--select %s needs --top-n N (edges), N >= 1", *sel)
		}
	default:
		return usagef("--select %q: want %s, %s or %s", *sel, circuits.SelectKeep, circuits.SelectTopN, circuits.SelectGreedy)
	}
	if *igRule != circuits.IGLeft && *igRule != circuits.IGMidpoint {
		return usagef("--ig-rule %q: want %s or %s", *igRule, circuits.IGLeft, circuits.IGMidpoint)
	}
	if *saeNodes != circuits.NodeFromEdges && *saeNodes != circuits.NodeFromCodes {
		return usagef("--sae-node-method %q: want %s or %s", *saeNodes, circuits.NodeFromEdges, circuits.NodeFromCodes)
	}
	if *keep <= 0 || *keep > 1 {
		return usagef("--keep %g: want a fraction in (0, 1]", *keep)
	}
	planted, isPlanted := circuits.LookupPlanted(*modelSpec)
	var gt *circuits.Circuit
	switch {
	case *truth != "":
		c, err := loadTruth(*truth)
		if err != nil {
			return err
		}
		gt = &c
	case isPlanted:
		gt = &planted.Circuit
	}

	m, dir, err := loadModelProcessed(*modelSpec, *backend, *process, stderr)
	if err != nil {
		return err
	}
	task, err := taskFor(*taskName, m.Config, dir, 0)
	if err != nil {
		return err
	}
	// Gradient methods keep clean, corrupted and backward activations: about three forwards.
	if err := checkPairsMemory("examples", *examples, task, m.Config, 3); err != nil {
		return err
	}
	opt := circuits.Options{Examples: *examples, Seed: *seed, Ablation: abl, ACDCMetric: am, Tau: *tau, Steps: *steps, IGRule: *igRule, Select: *sel, TopN: *topN, Intervention: *intervention,
		ACDCAbs: *acdcAbs, ACDCOrder: *acdcOrder, TauSweep: taus, MIB: *mib,
		Keep: *keep, Truth: gt, HeadOverlap: circuits.HeadOverlapOptions{Examples: *saeExamples, Latents: *saeLatents,
			L1: *saeL1, Epochs: *saeEpochs, Seed: *seed, Normalize: *saeNorm, NodeMethod: *saeNodes, FreeEncoder: *saeFree}}
	if *nSeeds > 1 {
		seeds := make([]uint64, *nSeeds)
		for i := range seeds {
			seeds[i] = *seed + uint64(i)
		}
		sum, err := circuits.DiscoverSeeds(m, *modelSpec, task, opt, methods, seeds)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "model %s, task %s, backend %s, seeds %d-%d: mean +- sd (min-max)\n", *modelSpec, task.Name(), m.BackendName, seeds[0], seeds[len(seeds)-1])
		fmt.Fprint(stdout, circuits.SeedTable(sum))
		if *out != "" {
			return writeJSON(stdout, *out, map[string]any{"model": *modelSpec, "task": task.Name(), "backend": m.BackendName, "seeds": sum})
		}
		return nil
	}
	report, err := circuits.DiscoverAll(m, *modelSpec, task, opt, methods)
	if err != nil {
		return err
	}
	first := report.Results[0]
	fmt.Fprintf(stdout, "model %s, task %s, backend %s: logit difference clean %.3f, corrupted %.3f\n",
		*modelSpec, task.Name(), m.BackendName, first.CleanMetric, first.CorruptedMetric)
	fmt.Fprint(stdout, circuits.TableHeader())
	for _, r := range report.Results {
		fmt.Fprint(stdout, r.TableRow())
	}
	if gt == nil {
		fmt.Fprintln(stdout, "(no ground truth: give --truth for ROC AUC and F1)")
	}
	for _, r := range report.Results {
		fmt.Fprintf(stdout, "%s circuit: %s\n", r.Method, nodeList(r.Circuit))
		if sw := r.TauSweep; sw != nil {
			for _, p := range sw.Points {
				line := fmt.Sprintf("  tau %-8g %2d nodes %3d edges", p.Tau, len(p.Nodes), p.Edges)
				if p.TPR != nil {
					line += fmt.Sprintf("  TPR %.3f FPR %.3f", *p.TPR, *p.FPR)
				}
				fmt.Fprintln(stdout, line)
			}
			if sw.AUC != nil {
				fmt.Fprintf(stdout, "  tau-sweep ROC AUC (nodes) %.3f\n", *sw.AUC)
			}
		}
	}
	if *mib {
		if err := printMIB(stdout, report.Results, *mibPlot, *modelSpec, task.Name()); err != nil {
			return err
		}
	}
	if *out != "" {
		var v any = report
		if len(report.Results) == 1 {
			v = first
		}
		data, err := circuits.MarshalIndentJSON(v)
		if err != nil {
			return err
		}
		if err := writeFile(*out, data); err != nil {
			return err
		}
	}
	if *plot != "" {
		g := circuits.NewGraph(m.Config)
		for _, r := range report.Results {
			path := *plot
			if len(report.Results) > 1 {
				ext := filepath.Ext(path)
				path = strings.TrimSuffix(path, ext) + "." + string(r.Method) + ext
			}
			title := fmt.Sprintf("%s on %s: %s", r.Method, *modelSpec, task.Name())
			if err := circuits.WriteDiagram(path, g, r.Circuit, r.NodeScores, title); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadTruth reads a ground truth by known name or from a circuit JSON file.
func loadTruth(spec string) (circuits.Circuit, error) {
	if c, err := circuits.KnownCircuit(spec); err == nil {
		return c, nil
	}
	c, _, err := circuits.ReadCircuitFile(spec)
	if err != nil {
		return circuits.Circuit{}, fmt.Errorf("--truth %s: not a known circuit and not a readable circuit file: %w", spec, err)
	}
	return c, nil
}

func nodeList(c circuits.Circuit) string {
	var s []string
	for _, n := range c.Nodes {
		s = append(s, n.String())
	}
	if len(s) == 0 {
		return "(empty)"
	}
	return strings.Join(s, " ")
}

// discoverCompare prints and saves the overlap of two circuits (cross-task reuse).
func discoverCompare(files []string, out, plot string, stdout io.Writer) error {
	nodes, edges, la, lb, err := circuits.CompareFiles(files[0], files[1])
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, circuits.OverlapTable(la, lb, nodes, edges))
	if out != "" {
		data, err := circuits.MarshalIndentJSON(map[string]any{"a": la, "b": lb, "nodes": nodes, "edges": edges})
		if err != nil {
			return err
		}
		if err := writeFile(out, data); err != nil {
			return err
		}
	}
	if plot != "" {
		if ext := strings.ToLower(filepath.Ext(plot)); ext != ".svg" && ext != ".png" {
			return usagef("--plot %s: want a .png or .svg file for --compare", plot)
		}
		if err := circuits.PlotOverlap(plot, la, lb, nodes, edges); err != nil {
			return err
		}
	}
	return nil
}

// printMIB prints each method's MIB curve as a table (faithfulness at each size, CPR, CMD) and
// plots them when plot is set.
func printMIB(stdout io.Writer, results []*circuits.Result, plot, modelName, taskName string) error {
	if len(results) == 0 || results[0].MIB == nil {
		return nil
	}
	fmt.Fprintf(stdout, "MIB circuit localisation (faithfulness (m(C)-m(0))/(m(N)-m(0)) at %% of edges, %s ablation):\n", results[0].MIB.Ablation)
	fmt.Fprintf(stdout, "%-19s", "method")
	for _, p := range results[0].MIB.Percents {
		fmt.Fprintf(stdout, " %6s", strconv.FormatFloat(p, 'g', -1, 64)+"%")
	}
	fmt.Fprintf(stdout, " %7s %7s  ranking\n", "CPR", "CMD")
	var series []plots.Series
	for _, r := range results {
		c := r.MIB
		fmt.Fprintf(stdout, "%-19s", r.Method)
		for _, f := range c.Faithfulness {
			if math.Abs(f) < 5e-4 {
				f = 0 // print -0.000 as 0.000
			}
			fmt.Fprintf(stdout, " %6.3f", f)
		}
		fmt.Fprintf(stdout, " %7.3f %7.3f  %s\n", c.CPR, c.CMD, c.Ranking)
		series = append(series, plots.Series{Name: fmt.Sprintf("%s (CPR %.2f, CMD %.2f)", r.Method, c.CPR, c.CMD), X: c.Percents, Y: c.Faithfulness})
	}
	if plot == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(plot), 0o755); err != nil {
		return err
	}
	return plots.LinePanels(plot, []plots.Panel{{Title: fmt.Sprintf("MIB circuit localisation: %s, %s", modelName, taskName),
		XLabel: "% of edges kept (log scale)", YLabel: "faithfulness (MIB)", Series: series, LogX: true}})
}
