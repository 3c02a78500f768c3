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
// hold both of its words, and a look-up can read it there), in all and split into those parts.
// Last, each head's direct effect on the logits there (its output times W_U) on the answer's
// color, the other listed colors and the colors not in the prompt: a look-up raises the answer
// alone; an elimination lowers the other listed colors. For the heads that eliminate, their
// attention on each pair's color by the asked object's place in the list.
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
		set.Cache(fmt.Sprintf("blocks.%d.attn.hook_result", l))
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
	// can hold both) and on the other two pairs' spans, each split into the color, the object
	// and the two tokens after it: att[layer*nh+head][asked?0:1][part].
	// slot[layer*nh+head][k] is the same attention by the asked object's place k in the list:
	// on the first, second and third pair's color, and on the asked object's earlier copy.
	nh := m.Config.NHeads
	att := make([][2][3]float64, len(patterns)*nh)
	slot := make([][3][4]float64, len(patterns)*nh)
	var slotN [3]int
	for i := range n {
		pos, ids := p.Pos[i], p.Clean[i]
		var objects []int // the listed objects' positions
		for q := 1; q < pos; q++ {
			if slices.Contains(tasks.ToyColoredObjects, strings.TrimSpace(tok.TokenString(ids[q]))) {
				objects = append(objects, q)
			}
		}
		k := slices.IndexFunc(objects, func(o int) bool { return ids[o] == ids[pos] })
		if len(objects) != 3 || k < 0 {
			return fmt.Errorf("pair %d: want three listed objects, the asked one among them: %q", i, p.Text[i])
		}
		slotN[k]++
		for l := range patterns {
			for h := range nh {
				row := patterns[l][i][h][pos]
				for j, o := range objects {
					slot[l*nh+h][k][j] += float64(row[o-1])
				}
				slot[l*nh+h][k][3] += float64(row[objects[k]])
				for _, o := range objects {
					which := 1
					if ids[o] == ids[pos] {
						which = 0
					}
					a := &att[l*nh+h][which]
					a[0] += float64(row[o-1])
					a[1] += float64(row[o])
					for q := o + 1; q <= min(o+2, pos-1); q++ {
						a[2] += float64(row[q])
					}
				}
			}
		}
	}
	// Per head, its direct effect on the logits at the last position (its hook_result there
	// times W_U; the final unembedding reads the residual stream directly in these models, which
	// have no final norm): on the answer's color, the other two listed colors (mean) and the
	// colors not listed (mean). dla[layer*nh+head] = {answer, other listed, unlisted}.
	if m.Config.HasNorm() || m.Config.TiedEmbeddings {
		return fmt.Errorf("the direct logit attribution here reads unembed.W_U with no final norm; the model has norm %q, tied embeddings %v",
			m.Config.Normalization, m.Config.TiedEmbeddings)
	}
	wu, dm := w.Flat("unembed.W_U"), m.Config.DModel
	vocab := len(wu) / dm
	dla := make([][3]float64, len(patterns)*nh)
	for l := range patterns {
		res := out.Cache.MustGet(fmt.Sprintf("blocks.%d.attn.hook_result", l)).Value().([][][][]float32)
		for i := range n {
			pos, ids := p.Pos[i], p.Clean[i]
			listed := map[int]bool{}
			for q := 1; q < pos; q++ {
				if _, ok := colorID[ids[q]]; ok {
					listed[ids[q]] = true
				}
			}
			for h := range nh {
				v := res[i][pos][h]
				logit := func(c int) float64 {
					var x float64
					for d := range dm {
						x += float64(v[d]) * float64(wu[d*vocab+c])
					}
					return x
				}
				var sum [3]float64
				var cnt [3]int
				for c := range colorID {
					k := 2
					switch {
					case c == p.Answer[i]:
						k = 0
					case listed[c]:
						k = 1
					}
					sum[k] += logit(c)
					cnt[k]++
				}
				for k := range sum {
					dla[l*nh+h][k] += sum[k] / float64(max(cnt[k], 1))
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
	fmt.Println("\nAttention from the last position, on the asked pair's span (its color, its object and the two tokens after) and on the other two pairs' spans, and split into those parts:")
	fmt.Println("\n| head | asked pair | other pairs | asked color | other colors | asked object | other objects | after the asked object | after the others |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for k, a := range att {
		f := func(x float64) string { return fmt.Sprintf("%.2f", x/float64(n)) }
		fmt.Printf("| %d.%d | %s | %s | %s | %s | %s | %s | %s | %s |\n", k/nh, k%nh, f(a[0][0]+a[0][1]+a[0][2]), f(a[1][0]+a[1][1]+a[1][2]),
			f(a[0][0]), f(a[1][0]), f(a[0][1]), f(a[1][1]), f(a[0][2]), f(a[1][2]))
	}
	fmt.Println("\nDirect effect on the logits at the last position (the head's output times W_U; mean over the pairs): on the answer's color, each other listed color and each color not listed:")
	fmt.Println("\n| head | answer's color | other listed colors | colors not listed |")
	fmt.Println("|---|---|---|---|")
	for k, d := range dla {
		fmt.Printf("| %d.%d | %.2f | %.2f | %.2f |\n", k/nh, k%nh, d[0]/float64(n), d[1]/float64(n), d[2]/float64(n))
	}
	fmt.Println("\nThe heads that lower the other listed colors (by 0.5 or more): their attention from the last position on each pair's color and on the asked object's earlier copy, by the asked object's place in the list:")
	for k, d := range dla {
		if d[1]/float64(n) > -0.5 {
			continue
		}
		fmt.Printf("\n| head %d.%d, asked | pairs | first color | second color | third color | asked object |\n|---|---|---|---|---|---|\n", k/nh, k%nh)
		for a, name := range []string{"first", "second", "third"} {
			f := func(x float64) string { return fmt.Sprintf("%.2f", x/float64(max(slotN[a], 1))) }
			fmt.Printf("| %s | %d | %s | %s | %s | %s |\n", name, slotN[a], f(slot[k][a][0]), f(slot[k][a][1]), f(slot[k][a][2]), f(slot[k][a][3]))
		}
	}
	return nil
}

func printRow(label string, g tally) {
	f := func(x int) string { return fmt.Sprintf("%.2f", float64(x)/float64(max(g.n, 1))) }
	fmt.Printf("| %s | %d | %s | %s | %s | %s | %s |\n", label, g.n, f(g.pairwise), f(g.top1), f(g.otherListed), f(g.unlisted), f(g.notColor))
}
