package workbench

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"

	"github.com/interp-dev/interp/attrgraph"
	"github.com/interp-dev/interp/sae"
	"github.com/interp-dev/interp/tasks"
	"github.com/interp-dev/interp/transcoder"
)

// dictionary is a loaded SAE, transcoder or cross-layer transcoder (one encoder per layer).
type dictionary struct {
	layers []*sae.SAE // one for an SAE or transcoder; every layer's for a CLT
	clt    *transcoder.CLT
}

// Dashboard scan sizes: rows of the dictionary's task scanned for each latent's contexts.
const (
	dashBatches  = 8
	dashSeqBatch = 16
	dashBins     = 24
)

// dictionary loads (once) the dictionary folder a request names.
func (s *Server) dictionary(r *http.Request) (*dictionary, string, error) {
	q := r.URL.Query()
	dir, err := s.resolveDir(q.Get("root"), q.Get("path"))
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	d := s.dicts[dir]
	s.mu.Unlock()
	if d != nil {
		return d, dir, nil
	}
	m := s.opt.Model
	if transcoder.IsCLTDir(dir) {
		c, _, err := transcoder.LoadCLT(dir, m.Config, m.Backend)
		if err != nil {
			return nil, "", badRequest("%s: %v", q.Get("path"), err)
		}
		d = &dictionary{layers: c.Layers, clt: c}
	} else {
		one, err := sae.LoadAny(dir, "", m.Backend)
		if err != nil {
			return nil, "", badRequest("%s: %v", q.Get("path"), err)
		}
		if _, err := sae.SiteWidth(m.Config, one.Config.Site); err != nil {
			return nil, "", badRequest("%s: reads %s, which model %s does not have: %v", q.Get("path"), one.Config.Site, s.opt.ModelName, err)
		}
		d = &dictionary{layers: []*sae.SAE{one}}
	}
	s.mu.Lock()
	if len(s.dicts) > 16 {
		clear(s.dicts)
	}
	s.dicts[dir] = d
	s.mu.Unlock()
	return d, dir, nil
}

// encoder loads the dictionary a request names and picks the layer it asks for.
func (s *Server) encoder(r *http.Request) (*dictionary, int, *sae.SAE, error) {
	d, _, err := s.dictionary(r)
	if err != nil {
		return nil, 0, nil, err
	}
	l, dict, err := d.pick(r.URL.Query())
	return d, l, dict, err
}

// pick returns the encoder a request's layer names (always 0 for an SAE or transcoder).
func (d *dictionary) pick(q map[string][]string) (int, *sae.SAE, error) {
	l := 0
	if v := first(q["layer"]); v != "" {
		var err error
		if l, err = strconv.Atoi(v); err != nil || l < 0 || l >= len(d.layers) {
			return 0, nil, badRequest("layer %q: want 0 to %d", v, len(d.layers)-1)
		}
	}
	return l, d.layers[l], nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// source is the token stream a dictionary's dashboards scan: the task it was trained on
// (cfg.json's dataset_path "task:NAME"), else the model's task, with a fixed seed.
func (s *Server) source(dict *sae.SAE) (sae.TokenSource, error) {
	name, _ := strings.CutPrefix(dict.Config.Meta.DatasetPath, "task:")
	if strings.Contains(name, "/") || strings.HasPrefix(name, tasks.JSONPrefix) {
		name = "" // a token file: the model's task instead (files are not read over HTTP)
	}
	c := s.opt.Model.Config
	seq := 0
	if tasks.Synthetic(name) || (name == "" && tasks.Synthetic(c.Task)) {
		seq = min(64, c.NCtx)
	}
	t, err := tasks.ForModel(name, tasks.Model{Vocab: c.DVocab, NCtx: c.NCtx, Task: c.Task, Tokenizer: s.tok}, seq)
	if err != nil {
		return nil, badRequest("dashboard data: %v", strings.TrimPrefix(err.Error(), "tasks: "))
	}
	rng := rand.New(rand.NewPCG(0, 0xda7a))
	return sae.TaskSource{Label: "task:" + t.Name(), Fn: func(n int) ([][]int, [][]bool) {
		b := t.Batch(rng, n)
		return b.Tokens, b.LossMask
	}}, nil
}

type featureContext struct {
	Act    float32   `json:"act"`
	Strs   []string  `json:"strs"`
	Acts   []float32 `json:"acts"`
	Center int       `json:"center"`
}

type effect struct {
	Str   string  `json:"str"`
	Logit float64 `json:"logit"`
}

// features answers one latent's dashboard: top contexts with per-token activations, the
// activation histogram, density, and the tokens it promotes and suppresses.
func (s *Server) features(r *http.Request) (any, error) {
	q := r.URL.Query()
	d, l, dict, err := s.encoder(r)
	if err != nil {
		return nil, err
	}
	latent, err := strconv.Atoi(q.Get("latent"))
	if err != nil || latent < 0 || latent >= dict.Config.DSAE {
		return nil, badRequest("latent %q: want 0 to %d", q.Get("latent"), dict.Config.DSAE-1)
	}
	src, err := s.source(dict)
	if err != nil {
		return nil, err
	}
	return s.job(r, func() (any, error) {
		m := s.opt.Model
		reps, err := sae.TopActivations(m, dict, src, sae.FeatureOptions{Latents: []int{latent}, Top: 12, Batches: dashBatches,
			SeqBatch: dashSeqBatch, Bins: dashBins})
		if err != nil {
			return nil, err
		}
		rep := reps[0]
		ctxs := []featureContext{}
		for _, ex := range rep.Examples {
			c := featureContext{Act: ex.Act, Acts: ex.Acts, Center: ex.Center}
			for _, id := range ex.Tokens {
				c.Strs = append(c.Strs, s.tokenStr(id))
			}
			ctxs = append(ctxs, c)
		}
		var promoted, suppressed []sae.TokenEffect
		var effErr string
		if d.clt != nil {
			promoted, suppressed = sae.UnembedEffects(m.Config, m.Weights, cltDirection(d.clt, m.Config.DModel, l, latent), 10)
		} else if promoted, suppressed, err = sae.LogitEffects(m, dict, latent, 10); err != nil {
			effErr = strings.TrimPrefix(err.Error(), "sae: logit effects: ")
		}
		eff := func(list []sae.TokenEffect) []effect {
			out := []effect{}
			for _, e := range list {
				out = append(out, effect{Str: s.tokenStr(e.Token), Logit: e.Logit})
			}
			return out
		}
		return map[string]any{
			"latent": latent, "layer": l, "layers": len(d.layers), "d_sae": dict.Config.DSAE, "site": dict.Config.Site.String(),
			"arch": dict.Config.Arch, "density": rep.Density, "histogram": rep.Histogram, "contexts": ctxs,
			"promoted": eff(promoted), "suppressed": eff(suppressed), "effects_note": effErr, "data": src.Name(),
		}, nil
	})
}

// cltDirection is what a CLT latent writes into the residual stream over every layer it decodes
// into: the sum of its decoder rows.
func cltDirection(c *transcoder.CLT, D, l, j int) []float64 {
	L := len(c.Layers)
	out := make([]float64, D)
	dec := c.Dec[l] // [F, L-l, D]
	for m := range L - l {
		row := (j*(L-l) + m) * D
		for i := range D {
			out[i] += float64(dec[row+i])
		}
	}
	return out
}

// featureSearch finds the latents a token fires most: the token as text (one token of the
// model's tokenizer) or as an id (#ID).
func (s *Server) featureSearch(r *http.Request) (any, error) {
	q := r.URL.Query()
	_, l, dict, err := s.encoder(r)
	if err != nil {
		return nil, err
	}
	id, err := s.oneToken(q.Get("token"))
	if err != nil {
		return nil, err
	}
	src, err := s.source(dict)
	if err != nil {
		return nil, err
	}
	return s.job(r, func() (any, error) {
		found, err := sae.TokenLatents(s.opt.Model, dict, src, id, 20, sae.FeatureOptions{Batches: dashBatches, SeqBatch: dashSeqBatch})
		if err != nil {
			return nil, badRequest("%v", strings.TrimPrefix(err.Error(), "sae: token latents: "))
		}
		if found == nil {
			found = []sae.LatentScore{}
		}
		return map[string]any{"token": id, "str": s.tokenStr(id), "layer": l, "latents": found, "data": src.Name()}, nil
	})
}

// oneToken reads "#ID" or a text that the tokenizer makes into exactly one token.
func (s *Server) oneToken(text string) (int, error) {
	c := s.opt.Model.Config
	if v, ok := strings.CutPrefix(text, "#"); ok {
		id, err := strconv.Atoi(v)
		if err != nil || id < 0 || id >= c.DVocab {
			return 0, badRequest("token %q: want #ID with ID in [0, %d)", text, c.DVocab)
		}
		return id, nil
	}
	if text == "" {
		return 0, badRequest("token is empty")
	}
	ids, err := s.tokenize(text, nil, false)
	if err != nil {
		return 0, err
	}
	if len(ids) != 1 {
		return 0, badRequest("token %q is %d tokens; give one (or #ID)", text, len(ids))
	}
	return ids[0], nil
}

// graph reads an attribution graph file (interp graph --out) from a root.
func (s *Server) graph(r *http.Request) (any, error) {
	q := r.URL.Query()
	raw, err := s.rootFile(r)
	if err != nil {
		return nil, err
	}
	var f attrgraph.File
	if err := json.Unmarshal(raw, &f); err != nil || f.Nodes == nil {
		return nil, badRequest("%s: not an attribution graph file (interp graph --out)", q.Get("path"))
	}
	ids := map[string]bool{}
	for _, n := range f.Nodes {
		ids[n.NodeID] = true
	}
	for _, l := range f.Links {
		if !ids[l.Source] || !ids[l.Target] {
			return nil, badRequest("%s: link %s -> %s names a node the file does not have", q.Get("path"), l.Source, l.Target)
		}
	}
	return &f, nil
}
