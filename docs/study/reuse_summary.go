//go:build ignore

// reuse_summary turns the output folders of docs/study/reuse.sh (one per training seed, named
// ...-sN) into docs/STUDY_REUSE.md's tables (markdown, on stdout) and figure:
//
//	go run docs/study/reuse_summary.go [-train] FIGURE.png OUTDIR [OUTDIR...]
//
// With -train only the training table and figure are made (for runs with no discovery, such as
// training continued from a checkpoint with interp train --init; OUTDIR/train is the run).
//
// Training: for each task of the mixture, the first evaluation step where its accuracy on its 100
// fixed pairs reaches 0.9, and its final accuracy and logit difference. Circuits: each task's
// discovered circuit and the overlaps, with the count expected by chance among the model's
// candidate nodes and its P (circuits.Overlap.SetChance). Boosts: the logit difference and accuracy
// on each task with the shared heads, and the control heads, scaled by 0, 1 and 2, and those of
// the BOOST_AT snapshots.
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/interp-dev/interp/circuits"
	"github.com/interp-dev/interp/internal/plots"
	"github.com/interp-dev/interp/train"
)

// boost is one interp patch --scale-heads output.
type boost struct {
	Heads  string `json:"heads"`
	Scores []struct {
		Factor    float64 `json:"factor"`
		LogitDiff float64 `json:"logit_diff"`
		Accuracy  float64 `json:"accuracy"`
	} `json:"scores"`
}

func main() {
	args := os.Args[1:]
	trainOnly := len(args) > 0 && args[0] == "-train"
	if trainOnly {
		args = args[1:]
	}
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go run docs/study/reuse_summary.go [-train] FIGURE.png OUTDIR [OUTDIR...]")
		os.Exit(2)
	}
	figure, dirs := args[0], args[1:]
	var tasks []string // the mixture's tasks, in the first run's order
	panels := map[string]*plots.Panel{}
	fmt.Println("Training (first step with accuracy >= 0.9 on the task's 100 pairs; final accuracy, logit difference):")
	fmt.Println()
	for i, dir := range dirs {
		ms := metrics(filepath.Join(dir, "train"))
		if len(ms) == 0 {
			fail("%s: no evaluations in train/metrics.jsonl", dir)
		}
		last := ms[len(ms)-1]
		if i == 0 {
			for t := range last.PairsByTask {
				tasks = append(tasks, t)
			}
			sort.Strings(tasks)
			fmt.Printf("| seed | %s |\n|---|%s\n", strings.Join(tasks, " | "), strings.Repeat("---|", len(tasks)))
		}
		row := []string{seed(dir)}
		for _, t := range tasks {
			first := "not reached"
			p := panels[t]
			if p == nil {
				p = &plots.Panel{Title: t + ": accuracy on 100 pairs", XLabel: "step", YLabel: "accuracy"}
				panels[t] = p
			}
			s := plots.Series{Name: "seed " + seed(dir)}
			for _, m := range ms {
				sc := m.PairsByTask[t]
				if sc == nil {
					fail("%s: step %d has no score for %s", dir, m.Step, t)
				}
				if sc.Accuracy >= 0.9 && first == "not reached" {
					first = fmt.Sprint(m.Step)
				}
				s.X, s.Y = append(s.X, float64(m.Step)), append(s.Y, sc.Accuracy)
			}
			p.Series = append(p.Series, s)
			f := last.PairsByTask[t]
			row = append(row, fmt.Sprintf("%s; %.2f, %.2f", first, f.Accuracy, f.LogitDiff))
		}
		fmt.Printf("| %s |\n", strings.Join(row, " | "))
	}
	if trainOnly {
		draw(figure, tasks, panels)
		return
	}

	fmt.Println("\nCircuits (EAP-IG, 40 pairs) and overlaps (shared heads; chance: the mean for random sets of the same sizes; P: the chance of sharing as many or more):")
	fmt.Println()
	fmt.Println("| seed | IOI circuit | Colored Objects circuit | bare pairs circuit | IOI and CO: shared (chance, P) | CO and bare: shared (chance, P) |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, dir := range dirs {
		row := []string{seed(dir)}
		for _, n := range []string{"ioi", "colored-objects", "extra"} {
			c, _, err := circuits.ReadCircuitFile(filepath.Join(dir, n+".json"))
			if err != nil {
				fail("%v", err)
			}
			var names []string
			for _, x := range c.Nodes {
				names = append(names, x.String())
			}
			row = append(row, strings.Join(names, " "))
		}
		for _, pair := range [][2]string{{"ioi", "colored-objects"}, {"colored-objects", "extra"}} {
			row = append(row, overlap(filepath.Join(dir, pair[0]+".json"), filepath.Join(dir, pair[1]+".json")))
		}
		fmt.Printf("| %s |\n", strings.Join(row, " | "))
	}

	fmt.Println("\nBoosts (logit difference / accuracy on 200 pairs with the heads scaled by 0, 1, 2):")
	fmt.Println()
	fmt.Println("| seed | model | task | shared heads | x0 | x1 | x2 | control heads | x0 | x1 | x2 |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	stepRe := regexp.MustCompile(`-step(\d+)\.json$`)
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "boost-shared-*.json"))
		sort.Slice(files, func(i, j int) bool {
			return len(files[i]) < len(files[j]) || len(files[i]) == len(files[j]) && files[i] < files[j]
		})
		for _, f := range files {
			b, ok := readBoost(f)
			if !ok {
				continue
			}
			model, task := "final", strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "boost-shared-"), ".json")
			if m := stepRe.FindStringSubmatch(f); m != nil {
				model, task = "step "+strings.TrimLeft(m[1], "0"), strings.TrimSuffix(task, "-step"+m[1])
			}
			row := []string{seed(dir), model, task, b.Heads}
			row = append(row, at(b, 0), at(b, 1), at(b, 2))
			if c, ok := readBoost(strings.Replace(f, "boost-shared-", "boost-control-", 1)); ok {
				row = append(row, c.Heads, at(c, 0), at(c, 1), at(c, 2))
			} else {
				row = append(row, "-", "", "", "")
			}
			fmt.Printf("| %s |\n", strings.Join(row, " | "))
		}
	}

	draw(figure, tasks, panels)
}

// draw writes the figure: one panel of accuracy against step per task.
func draw(figure string, tasks []string, panels map[string]*plots.Panel) {
	var ps []plots.Panel
	for _, t := range tasks {
		ps = append(ps, *panels[t])
	}
	if err := plots.LinePanels(figure, ps); err != nil {
		fail("%v", err)
	}
}

// overlap compares two discovery results' node sets against chance.
func overlap(a, b string) string {
	nodes, _, _, _, err := circuits.CompareFiles(a, b)
	if err != nil {
		fail("%v", err)
	}
	if nodes.Candidates == 0 {
		fail("%s and %s did not score the same candidates", a, b)
	}
	return fmt.Sprintf("%d of %d and %d (%.2f, %.2g)", nodes.Shared, nodes.A, nodes.B, nodes.ChanceShared, nodes.PValue)
}

func readBoost(path string) (boost, bool) {
	var b boost
	data, err := os.ReadFile(path)
	if err != nil {
		return b, false
	}
	if err := json.Unmarshal(data, &b); err != nil {
		fail("%s: %v", path, err)
	}
	return b, true
}

// at formats the scores at factor f.
func at(b boost, f float64) string {
	for _, s := range b.Scores {
		if math.Abs(s.Factor-f) < 1e-9 {
			return fmt.Sprintf("%.2f / %.2f", s.LogitDiff, s.Accuracy)
		}
	}
	return "-"
}

// metrics reads a run's evaluations (the lines that score the mixture's tasks).
func metrics(dir string) []train.Metrics {
	all, err := train.ReadMetrics(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		fail("%v", err)
	}
	var ms []train.Metrics
	for _, m := range all {
		if m.PairsByTask != nil {
			ms = append(ms, m)
		}
	}
	return ms
}

// seed is the N of a folder named ...-sN (the folder's name otherwise).
func seed(dir string) string {
	base := filepath.Base(filepath.Clean(dir))
	if i := strings.LastIndex(base, "-s"); i >= 0 {
		return base[i+2:]
	}
	return base
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "reuse_summary: "+format+"\n", args...)
	os.Exit(1)
}
