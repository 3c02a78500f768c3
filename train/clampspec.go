package train

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/interp-dev/interp/model"
)

// ClampValues lists the value words ParseClamp accepts.
var ClampValues = []string{"zero", "mean", "prev-token", "induction", "uniform", "graft:MODEL", "const:FILE.safetensors", "mean-ref:TOKENS.json"}

// ParseClamp parses a clamp spec of the CLI:
//
//	HOOK[head=H,...][pos=P,...]=VALUE
//
// e.g. blocks.0.attn.hook_pattern[head=2]=prev-token. Heads and positions are optional lists
// of integers or ranges (head=0,1,2 or head=0-2; both in one bracket: [head=1,pos=3]). VALUE is
// zero, mean (MeanBatch), prev-token, induction, uniform (attention patterns), graft:MODEL (a
// model directory or built-in name, Graft), const:FILE.safetensors (Constant: the file's only
// tensor, or the one named after the hook) or mean-ref:TOKENS.json (MeanRef over a JSON array of
// token rows).
//
// ParseClamp checks the syntax and loads files; whether the hook, heads and positions exist in a
// model is Clamp.Check's job (Run calls it before training).
func ParseClamp(spec string) (Clamp, error) {
	fail := func(format string, args ...any) (Clamp, error) {
		return Clamp{}, fmt.Errorf("clamp %q: %s", spec, fmt.Sprintf(format, args...))
	}
	s := strings.TrimSpace(spec)
	end := strings.IndexAny(s, "[=")
	if end < 0 {
		end = len(s)
	}
	if end == 0 {
		return fail("want HOOK[head=...][pos=...]=VALUE, e.g. blocks.0.attn.hook_pattern[head=2]=prev-token")
	}
	c := Clamp{Hook: s[:end]}
	s = s[end:]
	for strings.HasPrefix(s, "[") {
		close := strings.IndexByte(s, ']')
		if close < 0 {
			return fail("missing ']'")
		}
		if err := parseSelection(s[1:close], &c); err != nil {
			return fail("%v", err)
		}
		s = s[close+1:]
	}
	value, ok := strings.CutPrefix(s, "=")
	if !ok || value == "" {
		return fail("missing =VALUE (one of %s)", strings.Join(ClampValues, ", "))
	}
	src, err := parseSource(value, c.Hook)
	if err != nil {
		return fail("%v", err)
	}
	c.Value = src
	return c, nil
}

// parseSelection parses "head=0,1,pos=3" (keys start a new list; values are ints or a-b ranges).
func parseSelection(sel string, c *Clamp) error {
	var list *[]int
	for _, item := range strings.Split(sel, ",") {
		item = strings.TrimSpace(item)
		if k, v, ok := strings.Cut(item, "="); ok {
			switch strings.TrimSpace(k) {
			case "head", "heads":
				list = &c.Heads
			case "pos", "position", "positions":
				list = &c.Positions
			default:
				return fmt.Errorf("unknown selector %q (want head= or pos=)", k)
			}
			item = strings.TrimSpace(v)
		}
		if list == nil {
			return fmt.Errorf("selector %q: want head=... or pos=...", sel)
		}
		lo, hi, isRange := strings.Cut(item, "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil || a < 0 {
			return fmt.Errorf("bad index %q in [%s]", item, sel)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil || b < a {
				return fmt.Errorf("bad range %q in [%s]", item, sel)
			}
		}
		for i := a; i <= b; i++ {
			*list = append(*list, i)
		}
	}
	return nil
}

func parseSource(value, hook string) (Source, error) {
	switch value {
	case "zero":
		return Zero(), nil
	case "mean", "mean-batch":
		return MeanBatch(), nil
	case "prev-token":
		return PrevToken(), nil
	case "induction":
		return Induction(), nil
	case "uniform":
		return Uniform(), nil
	}
	kind, arg, _ := strings.Cut(value, ":")
	switch {
	case kind == "graft" && arg != "":
		w, _, err := model.LoadAny(arg)
		if err != nil {
			return nil, fmt.Errorf("graft: %w", err)
		}
		return Graft(w), nil
	case kind == "const" && arg != "":
		ts, _, err := model.ReadSafetensors(arg)
		if err != nil {
			return nil, fmt.Errorf("const: %w", err)
		}
		if t, ok := ts[hook]; ok {
			return Constant(t), nil
		}
		if len(ts) == 1 {
			for _, t := range ts {
				return Constant(t), nil
			}
		}
		names := make([]string, 0, len(ts))
		for n := range ts {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("const: %s holds %d tensors %v and none named %s (want one tensor, or one named after the hook)", arg, len(ts), names, hook)
	case kind == "mean-ref" && arg != "":
		rows, err := model.ReadTokensFile(arg)
		if err != nil {
			return nil, fmt.Errorf("mean-ref: %w", err)
		}
		return MeanRef(rows), nil
	}
	return nil, fmt.Errorf("unknown value %q (want one of %s)", value, strings.Join(ClampValues, ", "))
}
