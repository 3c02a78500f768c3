package sae

import (
	"fmt"
	"html"
	"io"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/model"
)

// FeatureOptions configure TopActivations.
type FeatureOptions struct {
	Latents  []int
	Top      int // examples per latent; default 10
	Batches  int // token batches scanned; default 16
	SeqBatch int // token rows per batch; default 16
	Before   int // context tokens shown before the activating token; default 12
	After    int // and after; default 3
	// Bins, when positive, adds each latent's activation histogram (Histogram) over the scanned rows.
	Bins int
}

// Example is one context where a latent fires.
type Example struct {
	Act    float32   `json:"act"`
	Head   int       `json:"head"`   // the head, for per-head sites (else 0)
	Tokens []int     `json:"tokens"` // the context window
	Acts   []float32 `json:"acts"`   // the latent's activation on each context token
	Center int       `json:"center"` // index in Tokens of the activating token
}

// FeatureReport holds a latent's top-activating contexts.
type FeatureReport struct {
	Latent   int       `json:"latent"`
	Density  float64   `json:"density"` // firing frequency over the scanned rows
	Examples []Example `json:"examples"`
	// Histogram of the latent's activations, when FeatureOptions.Bins asks for one.
	Histogram *Histogram `json:"histogram,omitempty"`
}

// TopActivations scans token batches from src and returns, for each requested latent, its
// strongest activations with their contexts.
func TopActivations(m *model.Model, s *SAE, src TokenSource, opt FeatureOptions) ([]FeatureReport, error) {
	c := s.Config
	if opt.Top == 0 {
		opt.Top = 10
	}
	if opt.Batches == 0 {
		opt.Batches = 16
	}
	if opt.SeqBatch == 0 {
		opt.SeqBatch = 16
	}
	if opt.Before == 0 {
		opt.Before = 12
	}
	if opt.After == 0 {
		opt.After = 3
	}
	if len(opt.Latents) == 0 {
		return nil, fmt.Errorf("sae: features: no latents given")
	}
	for _, j := range opt.Latents {
		if j < 0 || j >= c.DSAE {
			return nil, fmt.Errorf("sae: features: latent %d out of range [0, %d)", j, c.DSAE)
		}
	}
	w, err := SiteWidth(m.Config, c.Site)
	if err != nil {
		return nil, err
	}
	if w != c.DIn {
		return nil, fmt.Errorf("sae: features: site %s gives rows of width %d, the SAE reads %d", c.Site, w, c.DIn)
	}
	heads := 1
	if c.Site.Heads == HeadsPerHead {
		for _, h := range model.HookPoints(m.Config, 1, 1) {
			if h.Name == c.Site.Hook {
				heads = h.Shape[2]
			}
		}
	}
	reports := make([]FeatureReport, len(opt.Latents))
	fired := make([]int, len(opt.Latents))
	all := make([][]float32, len(opt.Latents)) // every activation, for the histograms
	total := 0
	err = scanLatents(m, s, src, opt, "features", func(rows [][]int, f []float32, n int) {
		total += n
		P := len(rows[0])
		act := func(j, b, p, h int) float32 { return f[((b*P+p)*heads+h)*c.DSAE+j] }
		for li, j := range opt.Latents {
			rep := &reports[li]
			for b := range rows {
				for p := range P {
					for h := range heads {
						a := act(j, b, p, h)
						if opt.Bins > 0 {
							all[li] = append(all[li], a)
						}
						if a <= 0 {
							continue
						}
						fired[li]++
						if len(rep.Examples) == opt.Top && a <= rep.Examples[opt.Top-1].Act {
							continue
						}
						lo, hi := max(0, p-opt.Before), min(P, p+opt.After+1)
						ex := Example{Act: a, Head: h, Center: p - lo, Tokens: append([]int(nil), rows[b][lo:hi]...)}
						for q := lo; q < hi; q++ {
							ex.Acts = append(ex.Acts, act(j, b, q, h))
						}
						rep.Examples = append(rep.Examples, ex)
						sort.SliceStable(rep.Examples, func(i, k int) bool { return rep.Examples[i].Act > rep.Examples[k].Act })
						if len(rep.Examples) > opt.Top {
							rep.Examples = rep.Examples[:opt.Top]
						}
					}
				}
			}
		}
	})
	if err != nil {
		return nil, err
	}
	for li, j := range opt.Latents {
		reports[li].Latent = j
		reports[li].Density = float64(fired[li]) / float64(total)
		if opt.Bins > 0 {
			h := NewHistogram(all[li], opt.Bins)
			reports[li].Histogram = &h
		}
	}
	return reports, nil
}

// scanLatents runs opt.Batches batches of opt.SeqBatch token rows from src through the model and
// the SAE, and calls visit with each batch's rows, its latents f [n, DSAE] (row-major over batch,
// position and, for per-head sites, head) and its row count n. what names the caller in errors.
func scanLatents(m *model.Model, s *SAE, src TokenSource, opt FeatureOptions, what string, visit func(rows [][]int, f []float32, n int)) error {
	c := s.Config
	acts := newActivationRunner(m, c.Site.Hook)
	for range opt.Batches {
		rows, err := src.Tokens(opt.SeqBatch)
		if err != nil {
			return err
		}
		tokens, err := model.Tokens(rows)
		if err != nil {
			return fmt.Errorf("sae: %s: %s: %w", what, src.Name(), err)
		}
		out, err := acts.run(tokens)
		if err != nil {
			return err
		}
		x := appendSite(nil, c.Site, out[c.Site.Hook], false)
		n := len(x) / c.DIn
		fo, err := s.engine().forward(tensors.FromFlatDataAndDimensions(x, n, c.DIn), s.paramList())
		if err != nil {
			return err
		}
		visit(rows, tensors.MustCopyFlatData[float32](fo.F), n)
	}
	return nil
}

// WriteFeaturesHTML writes the reports as a self-contained HTML page: each example's tokens
// highlighted in proportion to the latent's activation (relative to its strongest example),
// the activating token underlined, the value in each token's tooltip. tok renders a token id
// (a tokenizer's TokenString, or the id itself).
func WriteFeaturesHTML(w io.Writer, title string, reports []FeatureReport, tok func(id int) string) error {
	var b strings.Builder
	fmt.Fprintf(&b, `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>%s</title>
<style>
body { font-family: sans-serif; margin: 2em; }
.ctx { font-family: monospace; white-space: pre; margin: 0.2em 0; }
.ctx span { padding: 1px 0; }
.center { text-decoration: underline; font-weight: bold; }
.val { color: #666; display: inline-block; width: 6em; }
</style></head><body>
<h1>%s</h1>
`, html.EscapeString(title), html.EscapeString(title))
	for _, r := range reports {
		fmt.Fprintf(&b, "<h2>Latent %d</h2>\n<p>firing frequency %.4g", r.Latent, r.Density)
		if len(r.Examples) == 0 {
			b.WriteString(" &mdash; no activations in the scanned tokens</p>\n")
			continue
		}
		top := r.Examples[0].Act
		fmt.Fprintf(&b, ", max activation %.4g</p>\n", top)
		for _, ex := range r.Examples {
			fmt.Fprintf(&b, `<div class="ctx"><span class="val">%.3f</span>`, ex.Act)
			for i, id := range ex.Tokens {
				alpha := 0.0
				if top > 0 && ex.Acts[i] > 0 {
					alpha = min(1, float64(ex.Acts[i]/top))
				}
				class := ""
				if i == ex.Center {
					class = ` class="center"`
				}
				text := strings.NewReplacer("\n", "⏎", "\t", "⇥").Replace(tok(id))
				fmt.Fprintf(&b, `<span%s style="background: rgba(255, 120, 0, %.2f)" title="%d: %.3f">%s</span>`,
					class, alpha, id, ex.Acts[i], html.EscapeString(text))
			}
			b.WriteString("</div>\n")
		}
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
