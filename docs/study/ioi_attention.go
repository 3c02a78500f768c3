//go:build ignore

// ioi_attention gives one head's attention from the last position of IOI prompts (where the
// answer is predicted) on the three name mentions: the indirect object, the subject's first
// mention and its second (docs/STUDY_REUSE.md, the head IOI and Colored Objects share):
//
//	go run docs/study/ioi_attention.go MODEL L.H [TASK] [N]
//
// TASK is a toy IOI form (default ioi), N the number of held-out pairs
// (default 200, the task's Pairs with seed 1). The names are found as the answer's token (the
// indirect object) and the wrong answer's (the subject, named twice). In the forms that name
// people in full (ioi:names=surname, ioi:answer=surname) a first mention counts both of its
// tokens, and the subject's second mention is its one repeated token; a second line splits the
// indirect object's share between its answer token and its other token.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
	"github.com/interp-dev/interp/tokenizer"
)

func main() {
	if len(os.Args) < 3 || len(os.Args) > 5 {
		fmt.Fprintln(os.Stderr, "usage: go run docs/study/ioi_attention.go MODEL L.H [TASK] [N]")
		os.Exit(2)
	}
	var layer, head int
	if _, err := fmt.Sscanf(os.Args[2], "%d.%d", &layer, &head); err != nil || strings.Count(os.Args[2], ".") != 1 {
		fmt.Fprintf(os.Stderr, "ioi_attention: head %q: want L.H, e.g. 0.2\n", os.Args[2])
		os.Exit(2)
	}
	name, n := "ioi", 200
	if len(os.Args) > 3 {
		name = os.Args[3]
	}
	if len(os.Args) > 4 {
		var err error
		if n, err = strconv.Atoi(os.Args[4]); err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "ioi_attention: N %q: want a positive whole number\n", os.Args[4])
			os.Exit(2)
		}
	}
	if err := run(os.Args[1], layer, head, name, n); err != nil {
		fmt.Fprintln(os.Stderr, "ioi_attention:", err)
		os.Exit(1)
	}
}

func run(spec string, layer, head int, name string, n int) error {
	w, dir, err := model.LoadAny(spec)
	if err != nil {
		return err
	}
	c := w.Config
	if layer < 0 || layer >= c.NLayers || head < 0 || head >= c.NHeads {
		return fmt.Errorf("head %d.%d: the model has %d layers of %d heads", layer, head, c.NLayers, c.NHeads)
	}
	b, bname, err := model.NewBackend("")
	if err != nil {
		return err
	}
	m, err := model.New(w, b, bname)
	if err != nil {
		return err
	}
	tok, err := tokenizer.ForModel(dir, c.Tokenizer)
	if err != nil {
		return err
	}
	task, err := tasks.ForModel(name, tasks.Model{Vocab: c.DVocab, NCtx: c.NCtx, Tokenizer: tok}, 0)
	if err != nil {
		return err
	}
	p, err := task.Pairs(1, n)
	if err != nil {
		return err
	}
	rows := len(p.Clean[0])
	flat := make([]int32, 0, n*rows)
	for _, r := range p.Clean {
		for _, id := range r {
			flat = append(flat, int32(id))
		}
	}
	hook := fmt.Sprintf("blocks.%d.attn.hook_pattern", layer)
	set := hooks.New()
	set.Cache(hook)
	out, err := m.Run(tensors.FromFlatDataAndDimensions(flat, n, rows), set)
	if err != nil {
		return err
	}
	pat := out.Cache.MustGet(hook).Value().([][][][]float32)
	var io, s1, s2, ioAns float64
	full := false
	for i := range n {
		pos, ids := p.Pos[i], p.Clean[i]
		row := pat[i][head][pos]
		var ans, wrong []int
		for q := 1; q < pos; q++ {
			switch ids[q] {
			case p.Answer[i]:
				ans = append(ans, q)
			case p.Wrong[i]:
				wrong = append(wrong, q)
			}
		}
		switch {
		case len(ans) == 1 && len(wrong) == 2: // plain IOI: one-token names, the subject named twice
			io += float64(row[ans[0]])
			s1 += float64(row[wrong[0]])
			s2 += float64(row[wrong[1]])
		case len(ans) == 1 && len(wrong) == 1: // names=surname or answer=surname: people named in full
			a, w, off, again := ans[0], wrong[0], 0, -1
			for _, o := range []int{-1, 1} {
				for q := w + 2; q < pos; q++ {
					if ids[q] == ids[w+o] {
						off, again = o, q
					}
				}
			}
			if again < 0 {
				return fmt.Errorf("pair %d: the subject's name is not repeated next to its wrong answer in %q", i, p.Text[i])
			}
			io += float64(row[a] + row[a+off])
			ioAns += float64(row[a])
			full = true
			s1 += float64(row[w] + row[w+off])
			s2 += float64(row[again])
		default:
			return fmt.Errorf("pair %d: want the indirect object once and the subject twice (or once, named in full) before the last position, found %d and %d in %q",
				i, len(ans), len(wrong), p.Text[i])
		}
	}
	fmt.Printf("%s, head %d.%d, from the last position of %d %s prompts: indirect object %.2f, subject's first mention %.2f, its second %.2f\n",
		spec, layer, head, n, name, io/float64(n), s1/float64(n), s2/float64(n))
	if full {
		fmt.Printf("the indirect object's %.2f: %.2f on its answer token, %.2f on its other token\n", io/float64(n), ioAns/float64(n), (io-ioAns)/float64(n))
	}
	return nil
}
