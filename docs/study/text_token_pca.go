//go:build ignore

// text_token_pca is Olsson et al.'s per-token loss analysis (2022, "In-context learning and
// induction heads", Argument 1) for natural-text training runs (issue 17 item 3; docs/MODELS.md):
// every snapshot's loss on each of a fixed set of held-out tokens, as one vector a snapshot, and
// the principal components of those vectors over the snapshots of all the runs given together.
// Olsson et al. see the phase change as a turn in the trajectory of the first two components,
// in the models that form induction heads only.
//
//	go run docs/study/text_token_pca.go [-rows 200] [-seq 256] [-min-step 1] FIGURE.png CORPUS RUN [RUN...]
//
// The tokens are those of the first -rows windows of CORPUS/heldout.txt, cut as interp loss cuts
// them (BOS, then seq-1 tokens); every run's tokenizer must encode them alike.
// Snapshots before -min-step are left out (the random start alone would take the first
// component). It prints, for each run and snapshot, the tokens trained on, the mean loss, the mean
// loss on the tokens that complete a bigram seen earlier in their window (which an induction head
// can predict: "... A B ... A" -> B) and on the other tokens, and the first two components, with
// the share of the variance each component explains. The figure has the trajectory (PC2 against
// PC1), each component against tokens, and the two mean losses against tokens.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"

	"github.com/interp-dev/interp/internal/plots"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
	"github.com/interp-dev/interp/tokenizer"
	"github.com/interp-dev/interp/train"
)

func main() {
	rows := flag.Int("rows", 200, "held-out windows scored")
	seq := flag.Int("seq", 256, "window length, BOS included")
	minStep := flag.Int("min-step", 1, "leave out the snapshots before this step")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run docs/study/text_token_pca.go [-rows N] [-seq P] [-min-step S] FIGURE.png CORPUS RUN [RUN...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 3 || *rows < 1 || *seq < 2 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), flag.Arg(1), flag.Args()[2:], *rows, *seq, *minStep); err != nil {
		fmt.Fprintln(os.Stderr, "text_token_pca:", err)
		os.Exit(1)
	}
}

// point is one snapshot: its run, step and per-token losses.
type point struct {
	run  int
	step int
	mtok float64 // tokens trained on, millions
	mean float64
	// repeated and other are the mean losses on the tokens that complete a bigram seen earlier
	// in their window and on the rest.
	repeated, other float64
	losses          []float64
}

// repeatedBigrams marks, for each window, the predicted tokens (q+1 for loss q) that complete a
// bigram (w[q], w[q+1]) that occurred earlier in the window.
func repeatedBigrams(windows [][]int) [][]bool {
	out := make([][]bool, len(windows))
	for i, w := range windows {
		out[i] = make([]bool, len(w)-1)
		seen := map[[2]int]bool{}
		for q := 0; q+1 < len(w); q++ {
			b := [2]int{w[q], w[q+1]}
			out[i][q] = seen[b]
			seen[b] = true
		}
	}
	return out
}

func run(figure, corpus string, runs []string, nRows, seq, minStep int) error {
	if ext := filepath.Ext(figure); ext != ".png" && ext != ".svg" {
		return fmt.Errorf("figure %s: want a .png or .svg file", figure)
	}
	text, err := os.ReadFile(filepath.Join(corpus, "heldout.txt"))
	if err != nil {
		return err
	}
	b, bname, err := model.NewBackend("")
	if err != nil {
		return err
	}
	var windows [][]int
	var repeats [][]bool
	var pts []point
	for ri, runDir := range runs {
		dirs, steps, err := train.Snapshots(runDir)
		if err != nil {
			return err
		}
		if len(dirs) == 0 {
			return fmt.Errorf("%s: no snapshots (train with --snapshot-every)", runDir)
		}
		st, err := train.ReadState(runDir)
		if err != nil {
			return err
		}
		perStep := float64(st.Config.Batch*st.Pos) / 1e6
		for k, dir := range dirs {
			if steps[k] < minStep {
				continue
			}
			w, err := model.Load(dir)
			if err != nil {
				return err
			}
			m, err := model.New(w, b, bname)
			if err != nil {
				return err
			}
			tok, err := tokenizer.ForModel(dir, m.Config.Tokenizer)
			if err != nil {
				return fmt.Errorf("%s: %w", dir, err)
			}
			if k == 0 || windows == nil { // a run's tokenizer: its snapshots share it
				ids, err := tok.Encode(string(text))
				if err != nil {
					return fmt.Errorf("%s/heldout.txt: %w", corpus, err)
				}
				bos, err := tokenizer.SingleToken(tok, tokenizer.EndOfText)
				if err != nil {
					bos = -1
				}
				w := tasks.Windows(ids, bos, seq, nRows)
				switch {
				case len(w) < nRows:
					return fmt.Errorf("%s/heldout.txt: %d windows of %d tokens, fewer than -rows %d", corpus, len(w), seq, nRows)
				case windows == nil:
					windows, repeats = w, repeatedBigrams(w)
				case !slices.EqualFunc(w, windows, slices.Equal):
					return fmt.Errorf("%s: its tokenizer cuts %s/heldout.txt into other tokens than the first run's: the runs must share the held-out tokens", dir, corpus)
				}
			}
			per, err := m.TokenLosses(windows, 16, nil)
			if err != nil {
				return fmt.Errorf("%s: %w", dir, err)
			}
			p := point{run: ri, step: steps[k], mtok: float64(steps[k]) * perStep}
			var nRep int
			for i, r := range per {
				p.losses = append(p.losses, r...)
				for q, x := range r {
					p.mean += x
					if repeats[i][q] {
						p.repeated += x
						nRep++
					} else {
						p.other += x
					}
				}
			}
			p.repeated /= float64(nRep)
			p.other /= float64(len(p.losses) - nRep)
			p.mean /= float64(len(p.losses))
			pts = append(pts, p)
			fmt.Fprintf(os.Stderr, "scored %s: mean loss %.4f\n", dir, p.mean)
		}
	}
	if len(pts) < 3 {
		return fmt.Errorf("%d snapshots from step %d on, want at least 3", len(pts), minStep)
	}
	pcs, share := principal(pts, 2)
	// A component's sign is arbitrary: orient each so that the first run's last snapshot is positive.
	lastOfFirst := 0
	for i, p := range pts {
		if p.run == 0 {
			lastOfFirst = i
		}
	}
	for k := range pcs {
		if pcs[k][lastOfFirst] < 0 {
			for i := range pcs[k] {
				pcs[k][i] = -pcs[k][i]
			}
		}
	}
	nRep := 0
	for _, r := range repeats {
		for _, b := range r {
			if b {
				nRep++
			}
		}
	}
	fmt.Printf("%d snapshots x %d held-out tokens (%d complete a bigram seen earlier in their window); PC1 explains %.1f%% of the variance, PC2 %.1f%%.\n\n",
		len(pts), len(pts[0].losses), nRep, 100*share[0], 100*share[1])
	fmt.Println("| run | step | tokens | mean loss | repeated bigrams | other tokens | PC1 | PC2 |\n|---|---|---|---|---|---|---|---|")
	traj := make([]plots.Series, len(runs))
	pc1, pc2 := make([]plots.Series, len(runs)), make([]plots.Series, len(runs))
	rep, oth := make([]plots.Series, len(runs)), make([]plots.Series, len(runs))
	for ri, r := range runs {
		name := filepath.Base(filepath.Clean(r))
		traj[ri].Name, pc1[ri].Name, pc2[ri].Name = name, name, name
		rep[ri].Name, oth[ri].Name = name+": tokens completing a repeated bigram", name+": other tokens"
	}
	for i, p := range pts {
		fmt.Printf("| %s | %d | %.1fM | %.4f | %.4f | %.4f | %.3f | %.3f |\n", traj[p.run].Name, p.step, p.mtok, p.mean, p.repeated, p.other, pcs[0][i], pcs[1][i])
		rep[p.run].X, rep[p.run].Y = append(rep[p.run].X, p.mtok), append(rep[p.run].Y, p.repeated)
		oth[p.run].X, oth[p.run].Y = append(oth[p.run].X, p.mtok), append(oth[p.run].Y, p.other)
		traj[p.run].X, traj[p.run].Y = append(traj[p.run].X, pcs[0][i]), append(traj[p.run].Y, pcs[1][i])
		pc1[p.run].X, pc1[p.run].Y = append(pc1[p.run].X, p.mtok), append(pc1[p.run].Y, pcs[0][i])
		pc2[p.run].X, pc2[p.run].Y = append(pc2[p.run].X, p.mtok), append(pc2[p.run].Y, pcs[1][i])
	}
	title := fmt.Sprintf("per-token losses on %d held-out tokens", len(pts[0].losses))
	if err := plots.LinePanels(figure, []plots.Panel{
		{Title: title + ": trajectory in the first two principal components", XLabel: fmt.Sprintf("PC1 (%.0f%% of the variance)", 100*share[0]), YLabel: fmt.Sprintf("PC2 (%.0f%%)", 100*share[1]), Series: traj},
		{Title: title + ": PC1", XLabel: "tokens trained on (millions)", YLabel: "PC1", Series: pc1},
		{Title: title + ": PC2", XLabel: "tokens trained on (millions)", YLabel: "PC2", Series: pc2},
		{Title: title + ": mean loss by kind of token", XLabel: "tokens trained on (millions)", YLabel: "loss (nats)", Series: append(rep, oth...)},
	}); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "wrote", figure)
	return nil
}

// principal returns the first k principal components' scores of the points' loss vectors
// (pcs[c][i]: point i on component c) and the share of the total variance each explains, from
// gonum's PCA (stat.PC, which centres each token's losses over the points).
func principal(pts []point, k int) (pcs [][]float64, share []float64) {
	n, d := len(pts), len(pts[0].losses)
	x := mat.NewDense(n, d, nil)
	for i, p := range pts {
		x.SetRow(i, p.losses)
	}
	var pc stat.PC
	if !pc.PrincipalComponents(x, nil) {
		panic("text_token_pca: the principal components analysis failed")
	}
	vars := pc.VarsTo(nil)
	var total float64
	for _, v := range vars {
		total += v
	}
	var vecs mat.Dense
	pc.VectorsTo(&vecs)
	mean := make([]float64, d)
	for j := range d {
		mean[j] = stat.Mean(mat.Col(nil, j, x), nil)
	}
	for c := range k {
		score := make([]float64, n)
		for i, p := range pts {
			for j, l := range p.losses {
				score[i] += (l - mean[j]) * vecs.At(j, c)
			}
		}
		pcs = append(pcs, score)
		share = append(share, vars[c]/total)
	}
	return pcs, share
}
