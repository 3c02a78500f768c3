//go:build ignore

// text_progress turns a natural-text training run (issue 17 item 3; docs/MODELS.md) and the
// scores of its snapshots (docs/study/text_score.sh) into a markdown table (on stdout) and a
// figure of three panels against tokens trained on, as Olsson et al. plot them:
//
//	go run docs/study/text_progress.go FIGURE.png RUN SCORES
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
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: go run docs/study/text_progress.go FIGURE.png RUN SCORES")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, "text_progress:", err)
		os.Exit(1)
	}
}

func run(figure, runDir, scores string) error {
	ms, err := train.ReadMetrics(filepath.Join(runDir, "metrics.jsonl"))
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		return fmt.Errorf("%s: no evaluations in metrics.jsonl", runDir)
	}
	var st train.State
	raw, err := os.ReadFile(filepath.Join(train.CheckpointPath(runDir), "state.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("%s: state.json: %w", runDir, err)
	}
	perStep := float64(st.Config.Batch * st.Pos) // tokens a step
	mtok := func(step int) float64 { return float64(step) * perStep / 1e6 }

	byStep := map[int]train.Metrics{}
	trainLoss := plots.Series{Name: "training loss (mean since the previous evaluation)"}
	prev, ind := plots.Series{Name: "best previous-token score"}, plots.Series{Name: "best induction score"}
	// Blocks of 1000 steps: the mean of the evaluations' losses (each the mean since the previous
	// evaluation) that fall in the block, at the block's middle. The evaluations come in step order.
	const block = 1000
	blockLoss := plots.Series{Name: "training loss, mean over 1000 steps"}
	blockAt, blockSum, blockN := -1, 0.0, 0
	endBlock := func() {
		if blockN > 0 {
			blockLoss.X = append(blockLoss.X, mtok(blockAt*block+block/2))
			blockLoss.Y = append(blockLoss.Y, blockSum/float64(blockN))
		}
	}
	randICL := plots.Series{Name: "repeated random tokens: second half - first half"}
	for _, m := range ms {
		byStep[m.Step] = m
		if m.Step > 0 {
			randICL.X, randICL.Y = append(randICL.X, mtok(m.Step)), append(randICL.Y, m.InContextLoss)
		}
		if b := (m.Step - 1) / block; m.Step > 0 && m.MeanLoss > 0 {
			if b != blockAt {
				endBlock()
				blockAt, blockSum, blockN = b, 0, 0
			}
			blockSum += m.MeanLoss
			blockN++
		}
		y := m.Loss
		if m.MeanLoss > 0 {
			y = m.MeanLoss
		}
		trainLoss.X, trainLoss.Y = append(trainLoss.X, mtok(m.Step)), append(trainLoss.Y, y)
		prev.X, prev.Y = append(prev.X, mtok(m.Step)), append(prev.Y, best(m.PrevToken))
		ind.X, ind.Y = append(ind.X, mtok(m.Step)), append(ind.Y, m.MaxInduction)
	}
	endBlock()

	_, steps, err := train.Snapshots(runDir)
	if err != nil {
		return err
	}
	held := plots.Series{Name: "held-out loss (snapshots)"}
	icl := plots.Series{Name: "in-context score (last 8 positions - positions 8-15)"}
	gain := plots.Series{Name: "repeated text: second copy - first copy"}
	fmt.Println("| step | tokens | training loss | held-out loss | in-context score | repeated text: first / second copy | best previous-token | best induction |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
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
			return err
		}
		if l.InContextScore == nil || r.FirstHalf == nil || r.RepeatedHalf == nil {
			return fmt.Errorf("%s: step %s: loss-%s.json needs in_context_score and rep-%s.json the --repeat losses", scores, name, name, name)
		}
		held.X, held.Y = append(held.X, mtok(s)), append(held.Y, l.Loss)
		icl.X, icl.Y = append(icl.X, mtok(s)), append(icl.Y, *l.InContextScore)
		gain.X, gain.Y = append(gain.X, mtok(s)), append(gain.Y, *r.RepeatedHalf-*r.FirstHalf)
		trainCol, prevCol, indCol := "-", "-", "-"
		if m, ok := byStep[s]; ok {
			trainCol = strconv.FormatFloat(m.Loss, 'f', 3, 64)
			if m.MeanLoss > 0 {
				trainCol = strconv.FormatFloat(m.MeanLoss, 'f', 3, 64) + " (mean)"
			}
			prevCol, indCol = fmt.Sprintf("%.3f", best(m.PrevToken)), fmt.Sprintf("%.3f", m.MaxInduction)
		}
		fmt.Printf("| %d | %.1fM | %s | %.3f | %.3f | %.3f / %.3f | %s | %s |\n", s, mtok(s), trainCol, l.Loss,
			*l.InContextScore, *r.FirstHalf, *r.RepeatedHalf, prevCol, indCol)
	}
	if len(unscored) > 0 {
		fmt.Fprintf(os.Stderr, "text_progress: left out the snapshots not scored in %s: %s\n", scores, strings.Join(unscored, " "))
	}
	title := filepath.Base(filepath.Clean(runDir))
	panels := []plots.Panel{
		{Title: title + ": loss", XLabel: "tokens trained on (millions)", YLabel: "loss (nats)", Series: []plots.Series{trainLoss, held}},
		{Title: title + ": context use on held-out text", XLabel: "tokens trained on (millions)", YLabel: "loss difference (nats)", Series: []plots.Series{icl, gain}},
		{Title: title + ": head detector on repeated random tokens", XLabel: "tokens trained on (millions)", YLabel: "score", Series: []plots.Series{prev, ind}},
		{Title: title + ": training loss (log axis)", XLabel: "tokens trained on (millions)", YLabel: "loss (nats)", Series: []plots.Series{blockLoss}, LogX: true},
		{Title: title + ": in-context loss on repeated random tokens (the run's evaluation)", XLabel: "tokens trained on (millions)", YLabel: "loss difference (nats)", Series: []plots.Series{randICL}},
	}
	if err := plots.LinePanels(figure, panels); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "wrote", figure)
	return nil
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
