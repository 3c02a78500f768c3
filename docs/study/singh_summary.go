//go:build ignore

// singh_summary turns the run folders of docs/study/singh.sh into docs/STUDY_SINGH.md's tables
// (markdown, on stdout) and figure:
//
//	go run docs/study/singh_summary.go RUNS_DIR FIGURE.png COND [COND...]
//
// One condition: a row per seed and the mean +- sd, and a figure with a line per seed. Several:
// the per-seed table of each, then one table with a row per condition, and a figure with the
// mean over seeds of each condition.
//
// The phase change of a run is the first evaluation step where its accuracy on the 100 fixed
// clean/corrupted pairs (answer against the swapped label) reaches 0.9. In a clamped run that is
// the clamped model's accuracy (metrics' pairs); the last column gives the weights alone
// (pairs_unclamped), which runs before 2026-12-07 logged as their only accuracy.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/interp-dev/interp/internal/plots"
	"github.com/interp-dev/interp/train"
)

// run is one finished run's metrics.
type run struct {
	name string
	ms   []train.Metrics
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: go run docs/study/singh_summary.go RUNS_DIR FIGURE.png CONDITION [CONDITION...]")
		os.Exit(2)
	}
	conds := os.Args[3:]
	var accPanel, lossPanel []plots.Series
	var summary []string
	for _, cond := range conds {
		runs := load(os.Args[1], cond)
		if len(runs) == 0 {
			fmt.Fprintf(os.Stderr, "no finished runs of %s in %s\n", cond, os.Args[1])
			os.Exit(1)
		}
		fmt.Printf("\n%s:\n\n", cond)
		fmt.Println("| seed | accuracy >= 0.9 at step | final training loss | final accuracy | final logit difference | final accuracy, weights alone |")
		fmt.Println("|---|---|---|---|---|---|")
		var firsts, finals, accs []float64
		reached := 0
		for _, r := range runs {
			first := math.NaN()
			for _, m := range r.ms {
				if m.Pairs.Accuracy >= 0.9 {
					first = float64(m.Step)
					break
				}
			}
			last := r.ms[len(r.ms)-1]
			shown := "not reached"
			if !math.IsNaN(first) {
				firsts, reached = append(firsts, first), reached+1
				shown = fmt.Sprint(first)
			}
			finals, accs = append(finals, last.Loss), append(accs, last.Pairs.Accuracy)
			alone := "-" // no clamps: the same model
			if last.PairsUnclamped != nil {
				alone = fmt.Sprintf("%.2f", last.PairsUnclamped.Accuracy)
			}
			fmt.Printf("| %s | %s | %.3f | %.2f | %.2f | %s |\n", r.name, shown, last.Loss, last.Pairs.Accuracy, last.Pairs.LogitDiff, alone)
			if len(conds) == 1 {
				accPanel = append(accPanel, series(r.name, r.ms, func(m train.Metrics) float64 { return m.Pairs.Accuracy }))
				lossPanel = append(lossPanel, series(r.name, r.ms, func(m train.Metrics) float64 { return m.Loss }))
			}
		}
		fmt.Printf("| mean +- sd | %s (%d of %d) | %s | %s | | |\n", spread(firsts), reached, len(runs), spread(finals), spread(accs))
		summary = append(summary, fmt.Sprintf("| %s | %d | %d of %d: %s | %s | %s |", cond, len(runs), reached, len(runs), spread(firsts), spread(accs), spread(finals)))
		if len(conds) > 1 {
			accPanel = append(accPanel, meanSeries(cond, runs, func(m train.Metrics) float64 { return m.Pairs.Accuracy }))
			lossPanel = append(lossPanel, meanSeries(cond, runs, func(m train.Metrics) float64 { return m.Loss }))
		}
	}
	what := "a line per seed"
	if len(conds) > 1 {
		what = "mean over seeds"
		fmt.Println("\n| condition | seeds | accuracy >= 0.9 reached: step | final accuracy | final training loss |")
		fmt.Println("|---|---|---|---|---|")
		fmt.Println(strings.Join(summary, "\n"))
	}
	if err := plots.LinePanels(os.Args[2], []plots.Panel{
		{Title: "icl-classify: accuracy on 100 fixed pairs (" + what + ")", XLabel: "step", YLabel: "accuracy", Series: accPanel},
		{Title: "icl-classify: training loss, labels only (" + what + ")", XLabel: "step", YLabel: "loss (nats)", Series: lossPanel},
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// load reads the finished runs DIR/COND-s*.
func load(dir, cond string) []run {
	dirs, _ := filepath.Glob(filepath.Join(dir, cond+"-s*"))
	sort.Strings(dirs)
	var runs []run
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "summary.json")); err != nil {
			continue // not finished
		}
		f, err := os.Open(filepath.Join(d, "metrics.jsonl"))
		if err != nil {
			continue
		}
		var ms []train.Metrics
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<24)
		for sc.Scan() {
			var m train.Metrics
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.Pairs != nil {
				ms = append(ms, m)
			}
		}
		f.Close()
		if len(ms) > 0 {
			runs = append(runs, run{filepath.Base(d), ms})
		}
	}
	return runs
}

func series(name string, ms []train.Metrics, y func(train.Metrics) float64) plots.Series {
	s := plots.Series{Name: name}
	for _, m := range ms {
		s.X, s.Y = append(s.X, float64(m.Step)), append(s.Y, y(m))
	}
	return s
}

// meanSeries averages y over the runs at the evaluation steps they all have.
func meanSeries(name string, runs []run, y func(train.Metrics) float64) plots.Series {
	sum, count := map[int]float64{}, map[int]int{}
	for _, r := range runs {
		for _, m := range r.ms {
			sum[m.Step] += y(m)
			count[m.Step]++
		}
	}
	var steps []int
	for s, c := range count {
		if c == len(runs) {
			steps = append(steps, s)
		}
	}
	sort.Ints(steps)
	s := plots.Series{Name: fmt.Sprintf("%s (%d seeds)", name, len(runs))}
	for _, st := range steps {
		s.X, s.Y = append(s.X, float64(st)), append(s.Y, sum[st]/float64(len(runs)))
	}
	return s
}

func spread(xs []float64) string {
	if len(xs) == 0 {
		return "-"
	}
	var s, ss float64
	for _, x := range xs {
		s += x
	}
	m := s / float64(len(xs))
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	if len(xs) < 2 {
		return fmt.Sprintf("%.3f", m)
	}
	return fmt.Sprintf("%.3f +- %.3f", m, math.Sqrt(ss/float64(len(xs)-1)))
}
