//go:build ignore

// text_progress turns a natural-text training run (issue 17 item 3; docs/MODELS.md) and the
// scores of its snapshots (docs/study/text_score.sh) into a markdown table (on stdout) and a
// figure of three panels against tokens trained on, as Olsson et al. plot them:
//
//	go run docs/study/text_progress.go FIGURE.png RUN SCORES [CONTROL CONTROL_SCORES]
//
// The panels:
//
//   - loss: the training loss (metrics.jsonl's mean_loss, the mean since the previous evaluation,
//     or one batch's loss where a line predates it) and the held-out loss of each snapshot;
//   - context use on held-out text: the in-context score (the loss at the last 8 predicted
//     positions minus positions 8-15) and the repeated-text gain (second copy minus first);
//   - the head detector on repeated random tokens (the run's own evaluation): the best
//     previous-token and the best induction score over the heads;
//   - the training loss averaged over blocks of 1000 steps on a log axis of tokens, where Olsson
//     et al. look for the bump of the phase change, with the run's own in-context loss on repeated
//     random tokens (second half minus first half).
//
// CONTROL is a second run trained on the same batches (the same task, seed, batch and schedule;
// each step's batch is drawn from the seed and the step alone), typically a 1-layer model, which
// cannot form induction heads: Olsson et al. (2022) show the phase change as the 2-layer model's
// loss leaving the 1-layer model's. With it, the control's table follows the run's, a third
// table gives both training losses by blocks of 1000 steps, and the figure has four panels in
// place of the five: both training losses on a log axis, the control's training loss minus the
// run's at every evaluation (the same batches, so the batch-to-batch noise cancels), the context
// use of both on held-out text, and both runs' in-context loss on repeated random tokens.
//
// Snapshots that have no scores in SCORES yet are left out (and named on stderr).
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/interp-dev/interp/internal/plots"
	"github.com/interp-dev/interp/train"
)

// lossFile holds the fields of interp loss --out that the table reads.
type lossFile struct {
	Loss           float64  `json:"loss"`
	InContextScore *float64 `json:"in_context_score"`
	FirstHalf      *float64 `json:"first_half_loss"`
	RepeatedHalf   *float64 `json:"repeated_half_loss"`
}

func main() {
	if len(os.Args) != 4 && len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: go run docs/study/text_progress.go FIGURE.png RUN SCORES [CONTROL CONTROL_SCORES]")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "text_progress:", err)
		os.Exit(1)
	}
}

// block is the number of steps the training loss is averaged over on the log axis.
const block = 1000

// trained is one run's curves: from its metrics.jsonl and from its snapshots' scores.
type trained struct {
	name                          string
	perStep                       float64 // tokens a step
	metrics                       []train.Metrics
	byStep                        map[int]train.Metrics
	trainLoss, prev, ind, randICL plots.Series
	blockLoss                     plots.Series // the training loss, mean over blocks of 1000 steps
	held, icl, gain               plots.Series
	table                         []string // the snapshot table's rows
}

// mtok is step's token count in millions.
func (t *trained) mtok(step int) float64 { return float64(step) * t.perStep / 1e6 }

// trainY is m's training loss: the mean since the previous evaluation, or one batch's loss where
// the line predates mean_loss.
func trainY(m train.Metrics) float64 {
	if m.MeanLoss > 0 {
		return m.MeanLoss
	}
	return m.Loss
}

// readRun reads a run's metrics and state and its scored snapshots.
func readRun(runDir, scores string) (*trained, error) {
	ms, err := train.ReadMetrics(filepath.Join(runDir, "metrics.jsonl"))
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("%s: no evaluations in metrics.jsonl", runDir)
	}
	st, err := train.ReadState(runDir)
	if err != nil {
		return nil, err
	}
	t := &trained{name: filepath.Base(filepath.Clean(runDir)), perStep: float64(st.Config.Batch * st.Pos), metrics: ms, byStep: map[int]train.Metrics{}}
	t.trainLoss.Name = "training loss (mean since the previous evaluation)"
	t.prev.Name, t.ind.Name = "best previous-token score", "best induction score"
	t.blockLoss.Name = "training loss, mean over 1000 steps"
	t.randICL.Name = "repeated random tokens: second half - first half"
	// Blocks of 1000 steps: the mean of the evaluations' losses (each the mean since the previous
	// evaluation) that fall in the block, at the block's middle. The evaluations come in step order.
	blockAt, blockSum, blockN := -1, 0.0, 0
	endBlock := func() {
		if blockN > 0 {
			t.blockLoss.X = append(t.blockLoss.X, t.mtok(blockAt*block+block/2))
			t.blockLoss.Y = append(t.blockLoss.Y, blockSum/float64(blockN))
		}
	}
	for _, m := range ms {
		t.byStep[m.Step] = m
		if m.Step > 0 {
			t.randICL.X, t.randICL.Y = append(t.randICL.X, t.mtok(m.Step)), append(t.randICL.Y, m.InContextLoss)
		}
		if b := (m.Step - 1) / block; m.Step > 0 && m.MeanLoss > 0 {
			if b != blockAt {
				endBlock()
				blockAt, blockSum, blockN = b, 0, 0
			}
			blockSum += m.MeanLoss
			blockN++
		}
		t.trainLoss.X, t.trainLoss.Y = append(t.trainLoss.X, t.mtok(m.Step)), append(t.trainLoss.Y, trainY(m))
		t.prev.X, t.prev.Y = append(t.prev.X, t.mtok(m.Step)), append(t.prev.Y, best(m.PrevToken))
		t.ind.X, t.ind.Y = append(t.ind.X, t.mtok(m.Step)), append(t.ind.Y, m.MaxInduction)
	}
	endBlock()

	_, steps, err := train.Snapshots(runDir)
	if err != nil {
		return nil, err
	}
	t.held.Name = "held-out loss (snapshots)"
	t.icl.Name = "in-context score (last 8 positions - positions 8-15)"
	t.gain.Name = "repeated text: second copy - first copy"
	sort.Ints(steps)
	var unscored []string
	for _, s := range steps {
		name := fmt.Sprintf("%06d", s)
		var l, r lossFile
		err := readJSON(filepath.Join(scores, "loss-"+name+".json"), &l)
		if err == nil {
			err = readJSON(filepath.Join(scores, "rep-"+name+".json"), &r)
		}
		if errors.Is(err, fs.ErrNotExist) { // not scored yet (a stopped scoring leaves one file): left out
			unscored = append(unscored, name)
			continue
		} else if err != nil {
			return nil, err
		}
		if l.InContextScore == nil || r.FirstHalf == nil || r.RepeatedHalf == nil {
			return nil, fmt.Errorf("%s: step %s: loss-%s.json needs in_context_score and rep-%s.json the --repeat losses", scores, name, name, name)
		}
		t.held.X, t.held.Y = append(t.held.X, t.mtok(s)), append(t.held.Y, l.Loss)
		t.icl.X, t.icl.Y = append(t.icl.X, t.mtok(s)), append(t.icl.Y, *l.InContextScore)
		t.gain.X, t.gain.Y = append(t.gain.X, t.mtok(s)), append(t.gain.Y, *r.RepeatedHalf-*r.FirstHalf)
		trainCol, prevCol, indCol := "-", "-", "-"
		if m, ok := t.byStep[s]; ok {
			trainCol = strconv.FormatFloat(m.Loss, 'f', 3, 64)
			if m.MeanLoss > 0 {
				trainCol = strconv.FormatFloat(m.MeanLoss, 'f', 3, 64) + " (mean)"
			}
			prevCol, indCol = fmt.Sprintf("%.3f", best(m.PrevToken)), fmt.Sprintf("%.3f", m.MaxInduction)
		}
		t.table = append(t.table, fmt.Sprintf("| %d | %.1fM | %s | %.3f | %.3f | %.3f / %.3f | %s | %s |", s, t.mtok(s), trainCol, l.Loss,
			*l.InContextScore, *r.FirstHalf, *r.RepeatedHalf, prevCol, indCol))
	}
	if len(unscored) > 0 {
		fmt.Fprintf(os.Stderr, "text_progress: left out the snapshots of %s not scored in %s: %s\n", runDir, scores, strings.Join(unscored, " "))
	}
	return t, nil
}

func run(figure string, args []string) error {
	t, err := readRun(args[0], args[1])
	if err != nil {
		return err
	}
	printTable(t)
	title := t.name
	panels := []plots.Panel{
		{Title: title + ": loss", XLabel: "tokens trained on (millions)", YLabel: "loss (nats)", Series: []plots.Series{t.trainLoss, t.held}},
		{Title: title + ": context use on held-out text", XLabel: "tokens trained on (millions)", YLabel: "loss difference (nats)", Series: []plots.Series{t.icl, t.gain}},
		{Title: title + ": head detector on repeated random tokens", XLabel: "tokens trained on (millions)", YLabel: "score", Series: []plots.Series{t.prev, t.ind}},
		{Title: title + ": training loss (log axis)", XLabel: "tokens trained on (millions)", YLabel: "loss (nats)", Series: []plots.Series{t.blockLoss}, LogX: true},
		{Title: title + ": in-context loss on repeated random tokens (the run's evaluation)", XLabel: "tokens trained on (millions)", YLabel: "loss difference (nats)", Series: []plots.Series{t.randICL}},
	}
	if len(args) == 4 {
		c, err := readRun(args[2], args[3])
		if err != nil {
			return err
		}
		more, err := compare(t, c)
		if err != nil {
			return err
		}
		panels = more
	}
	if err := plots.LinePanels(figure, panels); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "wrote", figure)
	return nil
}

func printTable(t *trained) {
	fmt.Printf("%s:\n\n", t.name)
	fmt.Println("| step | tokens | training loss | held-out loss | in-context score | repeated text: first / second copy | best previous-token | best induction |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, row := range t.table {
		fmt.Println(row)
	}
	fmt.Println()
}

// compare prints the control's table and the two runs side by side by 1000-step blocks, and
// returns the figure's panels that set them against each other. The runs must have trained on
// the same batches: the same tokens a step, evaluated at the same steps.
func compare(t, c *trained) ([]plots.Panel, error) {
	if t.perStep != c.perStep {
		return nil, fmt.Errorf("%s trains on %.0f tokens a step and %s on %.0f: a control must train on the same batches", t.name, t.perStep, c.name, c.perStep)
	}
	printTable(c)
	// The control's loss minus the run's at every evaluation both have logged a mean at, and the
	// two losses averaged over blocks of 1000 steps on those evaluations alone.
	diff := plots.Series{Name: c.name + " - " + t.name + ", training loss at each evaluation (the same batches)"}
	blockDiff := plots.Series{Name: c.name + " - " + t.name + ", mean over 1000 steps"}
	type sums struct{ t, c, n float64 }
	blocks := map[int]*sums{}
	var order []int
	for _, m := range t.metrics {
		cm, ok := c.byStep[m.Step]
		if m.Step == 0 || !ok || m.MeanLoss <= 0 || cm.MeanLoss <= 0 {
			continue
		}
		diff.X, diff.Y = append(diff.X, t.mtok(m.Step)), append(diff.Y, cm.MeanLoss-m.MeanLoss)
		b := (m.Step - 1) / block
		if blocks[b] == nil {
			blocks[b] = &sums{}
			order = append(order, b)
		}
		blocks[b].t += m.MeanLoss
		blocks[b].c += cm.MeanLoss
		blocks[b].n++
	}
	if len(diff.X) == 0 {
		return nil, fmt.Errorf("%s and %s have no evaluation step with mean_loss in common", t.name, c.name)
	}
	fmt.Printf("Training loss by blocks of %d steps, on the evaluations both runs have (%s - %s: the control's loss minus the run's):\n\n", block, c.name, t.name)
	fmt.Printf("| steps | tokens at the end | %s | %s | difference |\n|---|---|---|---|---|\n", t.name, c.name)
	for _, b := range order {
		s := blocks[b]
		tl, cl := s.t/s.n, s.c/s.n
		blockDiff.X, blockDiff.Y = append(blockDiff.X, t.mtok(b*block+block/2)), append(blockDiff.Y, cl-tl)
		fmt.Printf("| %d-%d | %.1fM | %.3f | %.3f | %.3f |\n", b*block+1, (b+1)*block, t.mtok((b+1)*block), tl, cl, cl-tl)
	}
	fmt.Println()
	tb, cb := t.blockLoss, c.blockLoss
	tb.Name, cb.Name = t.name+": training loss, mean over 1000 steps", c.name+": training loss, mean over 1000 steps"
	ti, ci := t.icl, c.icl
	ti.Name, ci.Name = t.name+": in-context score", c.name+": in-context score"
	tg, cg := t.gain, c.gain
	tg.Name, cg.Name = t.name+": repeated text, second copy - first", c.name+": repeated text, second copy - first"
	tr, cr := t.randICL, c.randICL
	tr.Name, cr.Name = t.name+": second half - first half", c.name+": second half - first half"
	title := t.name + " against " + c.name
	return []plots.Panel{
		{Title: title + ": training loss (log axis)", XLabel: "tokens trained on (millions)", YLabel: "loss (nats)", Series: []plots.Series{tb, cb}, LogX: true},
		{Title: title + ": the control's training loss minus the run's", XLabel: "tokens trained on (millions)", YLabel: "loss difference (nats)", Series: []plots.Series{diff, blockDiff}},
		{Title: title + ": context use on held-out text", XLabel: "tokens trained on (millions)", YLabel: "loss difference (nats)", Series: []plots.Series{ti, ci, tg, cg}},
		{Title: title + ": in-context loss on repeated random tokens (the runs' evaluations)", XLabel: "tokens trained on (millions)", YLabel: "loss difference (nats)", Series: []plots.Series{tr, cr}},
	}, nil
}

// best is the largest score over every head, NaN when there are none.
func best(scores [][]float64) float64 {
	b := math.NaN()
	for _, row := range scores {
		for _, v := range row {
			if math.IsNaN(b) || v > b {
				b = v
			}
		}
	}
	return b
}

func readJSON(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%w (score it with docs/study/text_score.sh)", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
