//go:build ignore

// co_errors breaks a model's Colored Objects answers down by which listed object is asked
// about (issue 17 item 4; docs/STUDY_REUSE.md), to see where a model that stalls below 1.0 fails:
//
//	go run docs/study/co_errors.go MODEL [TASK] [N]
//
// TASK is a colored-objects form (default colored-objects), N the number of held-out pairs
// (default 600, the task's Pairs with seed 1). For each position of the asked object in the list
// (first, second, third) it prints the pairs' accuracy (the answer's logit above the wrong
// color's, as interp patch counts it), the top-1 accuracy, and where the top-1 prediction goes
// when it is not the answer: another listed color, a color not in the prompt, or a word that is
// not a color. Then it gives the top-1 accuracy by the object asked about and by the answer's
// color, to show whether the look-up fails for some words only, and each head's attention from
// the last position (the object asked about) on the asked pair and on the other two: a pair's
// span is its color, its object and the two tokens after the object (a separator after a pair can
// hold both of its words, and a look-up can read it there).
package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
	"github.com/interp-dev/interp/tokenizer"
)

func main() {
	if len(os.Args) < 2 || len(os.Args) > 4 {
		fmt.Fprintln(os.Stderr, "usage: go run docs/study/co_errors.go MODEL [TASK] [N]")
		os.Exit(2)
	}
	task, n := tasks.ColoredObjects, 600
	if len(os.Args) > 2 {
		task = os.Args[2]
	}
	if len(os.Args) > 3 {
		var err error
		if n, err = strconv.Atoi(os.Args[3]); err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "co_errors: N %q: want a positive whole number\n", os.Args[3])
			os.Exit(2)
		}
	}
	if err := run(os.Args[1], task, n); err != nil {
		fmt.Fprintln(os.Stderr, "co_errors:", err)
		os.Exit(1)
	}
}

// tally counts one group's pairs.
type tally struct{ n, pairwise, top1, otherListed, unlisted, notColor int }

func run(spec, name string, n int) error {
	if !strings.HasPrefix(name, tasks.ColoredObjects) {
		return fmt.Errorf("task %s: want a colored-objects form", name)
	}
	w, dir, err := model.LoadAny(spec)
	if err != nil {
		return err
	}
	b, bname, err := model.NewBackend("")
	if err != nil {
		return err
	}
	m, err := model.New(w, b, bname)
	if err != nil {
		return err
	}
	tok, err := tokenizer.ForModel(dir, m.Config.Tokenizer)
	if err != nil {
		return err
	}
	task, err := tasks.ForModel(name, tasks.Model{Vocab: m.Config.DVocab, NCtx: m.Config.NCtx, Tokenizer: tok}, 0)
	if err != nil {
		return err
	}
	p, err := task.Pairs(1, n)
	if err != nil {
		return err
	}
	colorID := map[int]string{}
	for _, c := range tasks.ToyColors {
		if id, err := tokenizer.SingleToken(tok, " "+c); err == nil {
			colorID[id] = c
		}
	}
	rows := len(p.Clean[0])
	flat := make([]int32, 0, n*rows)
	for _, r := range p.Clean {
		for _, id := range r {
			flat = append(flat, int32(id))
		}
	}
	set := hooks.New()
	for l := range m.Config.NLayers {
		set.Cache(fmt.Sprintf("blocks.%d.attn.hook_pattern", l))
	}
	out, err := m.Run(tensors.FromFlatDataAndDimensions(flat, n, rows), set)
	if err != nil {
		return err
	}
	logits := out.Logits.Value().([][][]float32)
	patterns := make([][][][][]float32, m.Config.NLayers) // [layer][batch][head][query][key]
	for l := range patterns {
		patterns[l] = out.Cache.MustGet(fmt.Sprintf("blocks.%d.attn.hook_pattern", l)).Value().([][][][]float32)
	}
	// Per head, from the last position (the object asked about): the attention on the asked
	// pair's span (its color, its object and the two tokens after the object, where a separator
	// can hold both) and on the other two pairs' spans.
	nh := m.Config.NHeads
	toAsked, toOthers := make([]float64, len(patterns)*nh), make([]float64, len(patterns)*nh)
	for i := range n {
		pos, ids := p.Pos[i], p.Clean[i]
		var objects []int // the listed objects' positions
		for q := 1; q < pos; q++ {
			if slices.Contains(tasks.ToyColoredObjects, strings.TrimSpace(tok.TokenString(ids[q]))) {
				objects = append(objects, q)
			}
		}
		for l := range patterns {
			for h := range nh {
				row := patterns[l][i][h][pos]
				for _, o := range objects {
					var mass float64
					for q := o - 1; q <= min(o+2, pos-1); q++ {
						mass += float64(row[q])
					}
					if ids[o] == ids[pos] {
						toAsked[l*nh+h] += mass
					} else {
						toOthers[l*nh+h] += mass
					}
				}
			}
		}
	}
	groups := make([]tally, 3)
	byObject, byColor := map[string]*tally{}, map[string]*tally{}
	count := func(m map[string]*tally, key string, correct bool) {
		if m[key] == nil {
			m[key] = &tally{}
		}
		m[key].n++
		if correct {
			m[key].top1++
		}
	}
	for i := range n {
		words := strings.Fields(p.Text[i])
		asked := words[len(words)-1]
		var listed []string // the objects in list order, and the colors in the prompt
		inPrompt := map[string]bool{}
		for _, wd := range words[:len(words)-1] {
			if slices.Contains(tasks.ToyColoredObjects, wd) && !slices.Contains(listed, wd) {
				listed = append(listed, wd)
			}
			if slices.Contains(tasks.ToyColors, wd) {
				inPrompt[wd] = true
			}
		}
		k := slices.Index(listed, asked)
		if k < 0 || k >= len(groups) {
			return fmt.Errorf("pair %d: asked object %q is not one of the three listed in %q", i, asked, p.Text[i])
		}
		row := logits[i][p.Pos[i]]
		g := &groups[k]
		g.n++
		if row[p.Answer[i]] > row[p.Wrong[i]] {
			g.pairwise++
		}
		top := 0
		for v := range row {
			if row[v] > row[top] {
				top = v
			}
		}
		count(byObject, asked, top == p.Answer[i])
		count(byColor, colorID[p.Answer[i]], top == p.Answer[i])
		c, isColor := colorID[top]
		switch {
		case top == p.Answer[i]:
			g.top1++
		case !isColor:
			g.notColor++
		case inPrompt[c]:
			g.otherListed++
		default:
			g.unlisted++
		}
	}
	fmt.Printf("%s on %s, %d pairs (seed 1):\n\n", spec, name, n)
	fmt.Println("| object asked | pairs | accuracy (answer > wrong color) | top-1 | top-1 another listed color | top-1 a color not in the prompt | top-1 not a color |")
	fmt.Println("|---|---|---|---|---|---|---|")
	var all tally
	for k, g := range groups {
		all.n += g.n
		all.pairwise += g.pairwise
		all.top1 += g.top1
		all.otherListed += g.otherListed
		all.unlisted += g.unlisted
		all.notColor += g.notColor
		printRow([]string{"first", "second", "third"}[k]+" listed", g)
	}
	printRow("all", all)
	for _, by := range []struct {
		what  string
		words []string
		m     map[string]*tally
	}{{"object asked", tasks.ToyColoredObjects, byObject}, {"answer's color", tasks.ToyColors, byColor}} {
		fmt.Printf("\ntop-1 by the %s:", by.what)
		for _, wd := range by.words {
			if g := by.m[wd]; g != nil {
				fmt.Printf(" %s %.2f (%d)", wd, float64(g.top1)/float64(g.n), g.n)
			}
		}
		fmt.Println()
	}
	fmt.Println("\nAttention from the last position, on the asked pair's span (its color, its object and the two tokens after) and on the other two pairs' spans:")
	fmt.Println("\n| head | asked pair | other pairs |")
	fmt.Println("|---|---|---|")
	for k := range toAsked {
		fmt.Printf("| %d.%d | %.2f | %.2f |\n", k/nh, k%nh, toAsked[k]/float64(n), toOthers[k]/float64(n))
	}
	return nil
}

func printRow(label string, g tally) {
	f := func(x int) string { return fmt.Sprintf("%.2f", float64(x)/float64(max(g.n, 1))) }
	fmt.Printf("| %s | %d | %s | %s | %s | %s | %s |\n", label, g.n, f(g.pairwise), f(g.top1), f(g.otherListed), f(g.unlisted), f(g.notColor))
}
