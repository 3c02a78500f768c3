//go:build ignore

// singh_ablate is the post-training half of Singh et al.'s redundancy claim: each trained run of
// docs/study/singh.sh is scored on 200 icl-classify pairs with each head zero-ablated alone
// (its hook_z times 0), and with all of layer 0's or all of layer 1's heads ablated at once
// (patching.ScaleHeads, as interp patch --scale-heads ... --factors 0 does). It prints one
// markdown table row per run:
//
//	go run docs/study/singh_ablate.go RUNS_DIR/baseline-s0 RUNS_DIR/baseline-s1 ...
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/patching"
	"github.com/interp-dev/interp/tasks"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go run docs/study/singh_ablate.go RUN_DIR...")
		os.Exit(2)
	}
	backend, name, err := model.NewBackend("")
	check(err)
	fmt.Println("| run | accuracy | logit diff | layer-1 heads carrying >= 10% of it | layer-1 heads whose ablation leaves accuracy < 0.9 | lowest accuracy, one layer-1 head ablated | logit diff lost: sum over single layer-1 ablations / all layer-1 at once | all layer-1 heads ablated: accuracy | lowest accuracy, one layer-0 head ablated (head) | all layer-0 heads ablated: accuracy |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, dir := range os.Args[1:] {
		w, err := model.Load(filepath.Join(dir, "checkpoint"))
		check(err)
		m, err := model.New(w, backend, name)
		check(err)
		c := m.Config
		task, err := tasks.ForModel("", tasks.Model{Vocab: c.DVocab, NCtx: c.NCtx, Task: c.Task}, 0)
		check(err)
		pairs, err := task.Pairs(7, 200)
		check(err)
		p := &patching.Prompts{Clean: pairs.Clean, Corrupted: pairs.Corrupted, Answer: pairs.Answer, Wrong: pairs.Wrong, Pos: pairs.Pos}
		score := func(heads []patching.Head, f float64) patching.ScaleScore {
			s, err := patching.ScaleHeads(m, p, heads, []float64{f})
			check(err)
			return s[0]
		}
		layer := func(l int) []patching.Head {
			var hs []patching.Head
			for h := range c.NHeads {
				hs = append(hs, patching.Head{Layer: l, Head: h})
			}
			return hs
		}
		plain := score(layer(1), 1)
		var below []string
		lowest1, lowest0, lowest0Head := 2.0, 2.0, ""
		lost, carriers := 0.0, 0
		for h := range c.NHeads {
			s := score([]patching.Head{{Layer: 1, Head: h}}, 0)
			lost += plain.LogitDiff - s.LogitDiff
			if plain.LogitDiff-s.LogitDiff >= 0.1*plain.LogitDiff {
				carriers++
			}
			lowest1 = min(lowest1, s.Accuracy)
			if s.Accuracy < 0.9 {
				below = append(below, fmt.Sprintf("1.%d (%.2f)", h, s.Accuracy))
			}
			if s0 := score([]patching.Head{{Layer: 0, Head: h}}, 0); s0.Accuracy < lowest0 {
				lowest0, lowest0Head = s0.Accuracy, fmt.Sprintf("0.%d", h)
			}
		}
		all1, all0 := score(layer(1), 0), score(layer(0), 0)
		if len(below) == 0 {
			below = []string{"none"}
		}
		fmt.Printf("| %s | %.3f | %.2f | %d | %s | %.3f | %.2f / %.2f | %.3f | %.3f (%s) | %.3f |\n", filepath.Base(dir), plain.Accuracy, plain.LogitDiff,
			carriers, strings.Join(below, ", "), lowest1, lost, plain.LogitDiff-all1.LogitDiff, all1.Accuracy, lowest0, lowest0Head, all0.Accuracy)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
