//go:build ignore

// reuse_ablate asks which heads two tasks need, by zero-ablation: each head of a model is
// zeroed alone (its hook_z times 0, patching.ScaleHeads, as interp patch --scale-heads L.H
// --factors 0 does) and both tasks are scored on N held-out pairs. A head is needed by a task
// when zeroing it takes away at least the fraction -needed (default 0.5) of the task's
// accuracy above chance (accuracy: the answer logit above the wrong one; chance 0.5): from
// 1.00, to below 0.75. A task that the plain model gets right less often than -learnt
// (default 0.9) is marked not learnt, and no head is called needed by it: near chance, the
// fraction is noise. Two tasks reuse a head when both need it. The shared count is set against
// two random sets of the same sizes among the model's heads (circuits.Overlap.SetChance: their
// mean shared count, and P, the chance of sharing as many or more). Unlike a count of shared
// circuit nodes, this sees heads whose outputs a task's corrupted prompts leave unchanged
// (docs/STUDY_REUSE.md). One markdown row per run, then each run's single-head accuracies:
//
//	go run docs/study/reuse_ablate.go [-a ioi:answer=surname] [-b colored-objects:colors=3] [-n 200] [-needed 0.5] [-learnt 0.9] RUN...
//
// RUN is a docs/study/reuse.sh output folder (its train/checkpoint is read), an interp train
// output folder (its checkpoint) or a model folder.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/interp-dev/interp/circuits"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/patching"
	"github.com/interp-dev/interp/tasks"
)

func main() {
	a := flag.String("a", "ioi:answer=surname", "the first task")
	b := flag.String("b", "colored-objects:colors=3", "the second task")
	n := flag.Int("n", 200, "held-out pairs a task")
	needed := flag.Float64("needed", 0.5, "a head is needed when zeroing it takes away this fraction of the task's accuracy above chance (0.5)")
	learnt := flag.Float64("learnt", 0.9, "the accuracy below which a task is not learnt (no head is called needed)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run docs/study/reuse_ablate.go [-a TASK] [-b TASK] [-n N] [-needed FRACTION] [-learnt ACC] RUN...")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	backend, name, err := model.NewBackend("")
	check(err)
	fmt.Printf("| run | %s: accuracy | %s: accuracy | heads the first needs (accuracy zeroed) | heads the second needs | needed by both (chance, P) |\n", *a, *b)
	fmt.Println("|---|---|---|---|---|---|")
	var details []string
	for _, run := range flag.Args() {
		dir := run // a model folder, a run of interp train (its checkpoint) or of reuse.sh (train/checkpoint)
		for _, d := range []string{filepath.Join(run, "train", "checkpoint"), filepath.Join(run, "checkpoint")} {
			if _, err := os.Stat(d); err == nil {
				dir = d
				break
			}
		}
		w, err := model.Load(dir)
		check(err)
		m, err := model.New(w, backend, name)
		check(err)
		c := m.Config
		heads := make([]patching.Head, 0, c.NLayers*c.NHeads)
		for l := range c.NLayers {
			for h := range c.NHeads {
				heads = append(heads, patching.Head{Layer: l, Head: h})
			}
		}
		// score[t][0] is the plain model; score[t][1+i] has heads[i] zeroed.
		var score [2][]patching.ScaleScore
		for t, spec := range []string{*a, *b} {
			task, err := tasks.ForModel(spec, tasks.Model{Vocab: c.DVocab, NCtx: c.NCtx, Task: c.Task}, 0)
			check(err)
			pairs, err := task.Pairs(7, *n)
			check(err)
			p := &patching.Prompts{Clean: pairs.Clean, Corrupted: pairs.Corrupted, Answer: pairs.Answer, Wrong: pairs.Wrong, Pos: pairs.Pos}
			s, err := patching.ScaleHeads(m, p, heads[:1], []float64{1})
			check(err)
			score[t] = append(score[t], s[0])
			for _, h := range heads {
				s, err := patching.ScaleHeads(m, p, []patching.Head{h}, []float64{0})
				check(err)
				score[t] = append(score[t], s[0])
			}
		}
		var needs [2][]string
		var both []string
		var rows []string
		for i, h := range heads {
			name := fmt.Sprintf("%d.%d", h.Layer, h.Head)
			need := func(t int) bool {
				return score[t][0].Accuracy >= *learnt && score[t][1+i].Accuracy-0.5 < (1-*needed)*(score[t][0].Accuracy-0.5)
			}
			n0, n1 := need(0), need(1)
			for t, nd := range []bool{n0, n1} {
				if nd {
					needs[t] = append(needs[t], fmt.Sprintf("%s (%.2f)", name, score[t][1+i].Accuracy))
				}
			}
			if n0 && n1 {
				both = append(both, name)
			}
			rows = append(rows, fmt.Sprintf("| %s | %.2f | %.2f | %.2f | %.2f |", name,
				score[0][1+i].Accuracy, score[0][1+i].LogitDiff, score[1][1+i].Accuracy, score[1][1+i].LogitDiff))
		}
		list := func(t int) string {
			switch {
			case score[t][0].Accuracy < *learnt:
				return "(not learnt)"
			case len(needs[t]) == 0:
				return "none"
			}
			return strings.Join(needs[t], ", ")
		}
		fmt.Printf("| %s | %.2f | %.2f | %s | %s | %s |\n", run, score[0][0].Accuracy, score[1][0].Accuracy,
			list(0), list(1), shared(both, len(needs[0]), len(needs[1]), len(heads), score[0][0].Accuracy >= *learnt && score[1][0].Accuracy >= *learnt))
		details = append(details, fmt.Sprintf("\n%s, one head zeroed (plain: %.2f, %.2f; %.2f, %.2f):\n\n| head | first: accuracy | first: logit diff | second: accuracy | second: logit diff |\n|---|---|---|---|---|\n%s",
			run, score[0][0].Accuracy, score[0][0].LogitDiff, score[1][0].Accuracy, score[1][0].LogitDiff, strings.Join(rows, "\n")))
	}
	fmt.Println(strings.Join(details, "\n"))
}

// shared is the cell of heads both tasks need, of a and b needed among n, with the count
// expected by chance: "-" unless both tasks are learnt.
func shared(both []string, a, b, n int, learnt bool) string {
	if !learnt {
		return "-"
	}
	o := circuits.Overlap{Level: "heads", A: a, B: b, Shared: len(both), Union: a + b - len(both)}
	if err := o.SetChance(n); err != nil {
		check(err)
	}
	names := "none"
	if len(both) > 0 {
		names = strings.Join(both, " ")
	}
	return fmt.Sprintf("%s (%.2f, %.2g)", names, o.ChanceShared, o.PValue)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
