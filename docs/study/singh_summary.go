//go:build ignore

// singh_summary turns the run folders of docs/study/singh.sh into docs/STUDY_SINGH.md's table
// (markdown, on stdout) and figure: go run docs/study/singh_summary.go RUNS_DIR FIGURE.png COND
//
// The phase change of a run is the first evaluation step where its accuracy on the 100 fixed
// clean/corrupted pairs (answer against the swapped label) reaches 0.9.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/interp-dev/interp/internal/plots"
	"github.com/interp-dev/interp/train"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: go run docs/study/singh_summary.go RUNS_DIR FIGURE.png CONDITION")
		os.Exit(2)
	}
	dirs, _ := filepath.Glob(filepath.Join(os.Args[1], os.Args[3]+"-s*"))
	sort.Strings(dirs)
	var acc, loss []plots.Series
	var firsts, finals, accs []float64
	fmt.Println("| seed | accuracy >= 0.9 at step | final training loss | final accuracy | final logit difference |")
	fmt.Println("|---|---|---|---|---|")
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
		if len(ms) == 0 {
			continue
		}
		name := filepath.Base(d)
		a, l := plots.Series{Name: name}, plots.Series{Name: name}
		first := math.NaN()
		for _, m := range ms {
			a.X, a.Y = append(a.X, float64(m.Step)), append(a.Y, m.Pairs.Accuracy)
			l.X, l.Y = append(l.X, float64(m.Step)), append(l.Y, m.Loss)
			if math.IsNaN(first) && m.Pairs.Accuracy >= 0.9 {
				first = float64(m.Step)
			}
		}
		acc, loss = append(acc, a), append(loss, l)
		last := ms[len(ms)-1]
		firsts, finals, accs = append(firsts, first), append(finals, last.Loss), append(accs, last.Pairs.Accuracy)
		fmt.Printf("| %s | %v | %.3f | %.2f | %.2f |\n", name, first, last.Loss, last.Pairs.Accuracy, last.Pairs.LogitDiff)
	}
	fmt.Printf("| mean +- sd | %s | %s | %s | |\n", spread(firsts), spread(finals), spread(accs))
	if err := plots.LinePanels(os.Args[2], []plots.Panel{
		{Title: "icl-classify: accuracy on 100 fixed pairs", XLabel: "step", YLabel: "accuracy", Series: acc},
		{Title: "icl-classify: training loss (labels only)", XLabel: "step", YLabel: "loss (nats)", Series: loss},
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func spread(xs []float64) string {
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
