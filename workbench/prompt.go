package workbench

import (
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/circuits"
	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/patching"
	"github.com/interp-dev/interp/tasks"
	"github.com/interp-dev/interp/tokenizer"
)

// info describes the model and what the pages can ask for.
func (s *Server) info(r *http.Request) (any, error) {
	m := s.opt.Model
	c := m.Config
	var comps, meths, taskNames []string
	for _, cp := range patching.Components() {
		if cp.CheckModel(c) == nil {
			comps = append(comps, string(cp))
		}
	}
	for _, mt := range circuits.Methods() {
		meths = append(meths, string(mt))
	}
	for _, t := range tasks.Names() {
		if !strings.HasPrefix(t, tasks.JSONPrefix) {
			taskNames = append(taskNames, t)
		}
	}
	_, planted := circuits.LookupPlanted(s.opt.ModelName)
	return map[string]any{
		"model": s.opt.ModelName, "backend": m.BackendName, "task": c.Task, "tokenizer": s.tok != nil,
		"n_layers": c.NLayers, "n_heads": c.NHeads, "d_model": c.DModel, "d_vocab": c.DVocab, "n_ctx": c.NCtx,
		"components": comps, "metrics": patching.MetricNames(), "methods": meths, "tasks": taskNames,
		"planted": planted, "roots": s.rootNames(),
	}, nil
}

// tokenStr renders a token id with the model's tokenizer, or as "#id".
func (s *Server) tokenStr(id int) string {
	if s.tok != nil {
		if t := s.tok.TokenString(id); t != "" {
			return t
		}
	}
	return "#" + strconv.Itoa(id)
}

// promptRequest asks for one prompt's view: text (with the model's tokenizer) or token ids.
type promptRequest struct {
	Prompt string `json:"prompt"`
	Tokens []int  `json:"tokens"`
	K      int    `json:"k"`
	// NoBOS leaves out the BOS token (the tokenizer's <|endoftext|>) that a text prompt otherwise
	// starts with, as TransformerLens's prepend_bos and interp generate --bos auto do.
	NoBOS bool `json:"no_bos"`
}

type tokenProb struct {
	Token int     `json:"token"`
	Str   string  `json:"str"`
	Prob  float64 `json:"prob"`
}

// tokenize turns a request's text (after the BOS token, when bos is set and the tokenizer has one)
// or ids into checked token ids.
func (s *Server) tokenize(text string, ids []int, bos bool) ([]int, error) {
	c := s.opt.Model.Config
	switch {
	case text != "" && ids != nil:
		return nil, badRequest("give prompt or tokens, not both")
	case text != "":
		if s.tok == nil {
			return nil, badRequest("model %s has no tokenizer: give token ids (tokens)", s.opt.ModelName)
		}
		enc, err := s.tok.Encode(text)
		if err != nil {
			return nil, badRequest("prompt: %v", err)
		}
		ids = enc
		if id, err := tokenizer.SingleToken(s.tok, tokenizer.EndOfTextToken); err == nil && bos {
			ids = append([]int{id}, enc...)
		}
	}
	if len(ids) == 0 {
		return nil, badRequest("empty prompt")
	}
	if len(ids) > c.NCtx {
		return nil, badRequest("prompt has %d tokens, the model's context is %d", len(ids), c.NCtx)
	}
	for p, id := range ids {
		if id < 0 || id >= c.DVocab {
			return nil, badRequest("token %d at position %d is outside the vocabulary [0, %d)", id, p, c.DVocab)
		}
	}
	return ids, nil
}

// prompt runs one prompt: its tokens, the top-k next tokens at every position, the logit lens over
// layers and every head's attention pattern.
func (s *Server) prompt(r *http.Request) (any, error) {
	var req promptRequest
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.K == 0 {
		req.K = 5
	}
	if req.K < 1 || req.K > 50 {
		return nil, badRequest("k %d: want 1 to 50", req.K)
	}
	ids, err := s.tokenize(req.Prompt, req.Tokens, !req.NoBOS)
	if err != nil {
		return nil, err
	}
	return s.job(r, func() (any, error) {
		m := s.opt.Model
		c := m.Config
		tt, err := model.Tokens([][]int{ids})
		if err != nil {
			return nil, err
		}
		set := hooks.New()
		for l := range c.NLayers {
			set.Cache(hooks.Pattern(l))
		}
		out, err := m.Run(tt, set)
		if err != nil {
			return nil, err
		}
		P, V := len(ids), c.DVocab
		logits := tensors.MustCopyFlatData[float32](out.Logits)
		top := make([][]tokenProb, P)
		for p := range P {
			top[p] = s.tokenProbs(model.TopK(model.Probs(logits[p*V:(p+1)*V]), req.K))
		}
		attn := make([][][][]float64, c.NLayers) // [layer][head][dest][src]
		for l := range c.NLayers {
			pat := tensors.MustCopyFlatData[float32](out.Cache.MustGet(hooks.Pattern(l))) // [1, H, P, P]
			attn[l] = make([][][]float64, c.NHeads)
			for h := range c.NHeads {
				attn[l][h] = make([][]float64, P)
				for q := range P {
					row := make([]float64, P)
					for k := range P {
						row[k] = round4(float64(pat[(h*P+q)*P+k]))
					}
					attn[l][h][q] = row
				}
			}
		}
		lens, err := m.LogitLens(ids, req.K)
		if err != nil {
			return nil, err
		}
		lensTop := make([][][]tokenProb, len(lens.Top))
		for i, row := range lens.Top {
			lensTop[i] = make([][]tokenProb, P)
			for p, tp := range row {
				lensTop[i][p] = s.tokenProbs(tp)
			}
		}
		strs := make([]string, P)
		for p, id := range ids {
			strs[p] = s.tokenStr(id)
		}
		return map[string]any{
			"tokens": ids, "strs": strs, "top": top, "attention": attn,
			"lens": map[string]any{"labels": lens.Labels, "top": lensTop, "final": lens.Final},
		}, nil
	})
}

func (s *Server) tokenProbs(tp []model.TokenProb) []tokenProb {
	out := make([]tokenProb, len(tp))
	for i, t := range tp {
		out[i] = tokenProb{Token: t.Token, Str: s.tokenStr(t.Token), Prob: t.Prob}
	}
	return out
}

// round4 keeps 4 significant decimals (the pages show no more), keeping the JSON small.
func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }
