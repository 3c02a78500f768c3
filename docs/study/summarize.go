//go:build ignore

// summarize turns the run folders of docs/study/induction.sh into the study's table (markdown,
// on stdout) and figures: go run docs/study/summarize.go RUNS_DIR FIGURES_DIR
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

type metrics struct {
	Step          int         `json:"step"`
	Repeated      float64     `json:"repeated_half_loss"`
	FirstHalf     float64     `json:"first_half_loss"`
	MaxInduction  float64     `json:"max_induction_score"`
	PrevScores    [][]float64 `json:"prev_token_scores"`
	InductionHead [][]float64 `json:"induction_scores"`
}

type summary struct {
	Clamps      []string `json:"clamps"`
	Steps       int      `json:"steps"`
	ElapsedS    float64  `json:"elapsed_s"`
	PhaseChange struct {
		Step  int  `json:"step"`
		Found bool `json:"found"`
	} `json:"phase_change"`
	Final metrics `json:"final"`
}

// order of the conditions in the table.
var order = []string{"baseline", "L0-off", "L0-uniform", "L0-prev-all", "L0-prev-h2", "L1-QK-given", "L1-QK-off", "L1-OV-given"}

func main() {
	runs, figs := os.Args[1], os.Args[2]
	dirs, _ := filepath.Glob(filepath.Join(runs, "*-s*"))
	type cond struct {
		clamps      []string
		phase       []string
		phaseSteps  []float64
		final, prev []float64
		maxInd      []float64
		seeds       []string
	}
	conds := map[string]*cond{}
	curves := map[string][]plots.Series{}
	for _, d := range dirs {
		base := filepath.Base(d)
		i := strings.LastIndex(base, "-s")
		name, seed := base[:i], base[i+2:]
		var s summary
		data, err := os.ReadFile(filepath.Join(d, "summary.json"))
		if err != nil {
			continue // unfinished run
		}
		must(json.Unmarshal(data, &s))
		c := conds[name]
		if c == nil {
			c = &cond{clamps: s.Clamps}
			conds[name] = c
		}
		c.seeds = append(c.seeds, seed)
		// The phase change is recomputed from the metrics with the current definition.
		ms := readMetrics(filepath.Join(d, "metrics.jsonl"))
		var steps []int
		var rep []float64
		for _, m := range ms {
			steps = append(steps, m.Step)
			rep = append(rep, m.Repeated)
		}
		if pc := train.DetectPhaseChange(steps, rep); pc.Found {
			c.phase = append(c.phase, fmt.Sprint(pc.Step))
			c.phaseSteps = append(c.phaseSteps, float64(pc.Step))
		} else {
			c.phase = append(c.phase, "none")
		}
		c.final = append(c.final, s.Final.Repeated)
		c.maxInd = append(c.maxInd, s.Final.MaxInduction)
		c.prev = append(c.prev, maxOf(s.Final.PrevScores[0]))
		var x, y []float64
		for _, m := range ms {
			x = append(x, float64(m.Step))
			y = append(y, m.Repeated)
		}
		curves[seed] = append(curves[seed], plots.Series{Name: name, X: x, Y: y})
	}
	fmt.Println("| condition | clamps | seeds | phase-change step (per seed) | final repeated-half loss (mean) | max layer-1 induction score | max layer-0 prev-token score |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, name := range order {
		c := conds[name]
		if c == nil {
			continue
		}
		clamps := "none"
		if len(c.clamps) > 0 {
			clamps = "`" + strings.Join(c.clamps, "`, `") + "`"
		}
		fmt.Printf("| %s | %s | %s | %s | %.3f | %.3f | %.3f |\n", name, clamps, strings.Join(c.seeds, ","), strings.Join(c.phase, ", "),
			mean(c.final), mean(c.maxInd), mean(c.prev))
	}
	must(os.MkdirAll(figs, 0o755))
	for seed, ss := range curves {
		sort.Slice(ss, func(i, j int) bool { return rank(ss[i].Name) < rank(ss[j].Name) })
		path := filepath.Join(figs, "induction-study-seed"+seed+".png")
		must(plots.Lines(path, "repeated-half loss during training (seed "+seed+")", "step", "loss on the repeated half (nats)", ss))
		fmt.Fprintln(os.Stderr, "wrote", path)
	}
}

func rank(name string) int {
	for i, n := range order {
		if n == name {
			return i
		}
	}
	return len(order)
}

func readMetrics(path string) []metrics {
	f, err := os.Open(path)
	must(err)
	defer f.Close()
	var out []metrics
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var m metrics
		must(json.Unmarshal(sc.Bytes(), &m))
		out = append(out, m)
	}
	return out
}

func maxOf(xs []float64) float64 {
	m := math.Inf(-1)
	for _, x := range xs {
		m = math.Max(m, x)
	}
	return m
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
