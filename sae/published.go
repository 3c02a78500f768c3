package sae

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/sbinet/npyio/npz"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// Pretrained dictionaries as their authors publish them, besides SAELens folders (Load):
//
//   - Gemma Scope: one params.npz per SAE (W_enc [d_in, d_sae], W_dec [d_sae, d_in], b_enc,
//     b_dec, threshold), a JumpReLU that encodes x itself (no b_dec subtracted):
//     f = pre * H(pre - threshold), pre = x W_enc + b_enc; x_hat = f W_dec + b_dec. The file does
//     not say where it reads, so the hook is given.
//   - EleutherAI sparsify: a folder per hook point with cfg.json (k, num_latents, ...) and
//     sae.safetensors (encoder.weight [F, D], encoder.bias [F], W_dec [F, D], b_dec [D]): TopK of
//     ReLU((x - b_dec) W_enc^T + b), x_hat = f W_dec + b_dec. A folder named layers.N reads the
//     output of decoder layer N, blocks.N.hook_resid_post.

// LoadGemmaScope reads a Gemma Scope params.npz as a JumpReLU SAE at hook (e.g.
// blocks.12.hook_resid_post for a residual-stream SAE of layer 12).
func LoadGemmaScope(path, hook string, backend backends.Backend) (*SAE, error) {
	errf := func(format string, args ...any) error {
		return fmt.Errorf("sae: load %s: "+format, append([]any{path}, args...)...)
	}
	if hook == "" {
		return nil, errf("a Gemma Scope params.npz does not name its hook point; give it (e.g. blocks.12.hook_resid_post)")
	}
	r, err := npz.Open(path)
	if err != nil {
		return nil, errf("%v", err)
	}
	defer r.Close()
	want := []string{"W_dec", "W_enc", "b_dec", "b_enc", "threshold"}
	keys := slices.Clone(r.Keys()) // numpy.savez names its members W_enc.npy, ...
	sort.Strings(keys)
	member := map[string]string{}
	for _, k := range keys {
		name := strings.TrimSuffix(k, ".npy")
		if !slices.Contains(want, name) {
			return nil, errf("unexpected array %q (a Gemma Scope SAE holds %v)", name, want)
		}
		member[name] = k
	}
	ts := map[string]*tensors.Tensor{}
	for _, name := range want {
		k, ok := member[name]
		if !ok {
			return nil, errf("missing array %q", name)
		}
		h := r.Header(k)
		if h == nil {
			return nil, errf("missing array %q", name)
		}
		if h.Descr.Type != "<f4" || h.Descr.Fortran {
			return nil, errf("array %q: dtype %s (Fortran order %v), want little-endian float32 in C order", k, h.Descr.Type, h.Descr.Fortran)
		}
		var data []float32
		if err := r.Read(k, &data); err != nil {
			return nil, errf("array %q: %v", k, err)
		}
		n := 1
		for _, d := range h.Descr.Shape {
			n *= d
		}
		if len(data) != n {
			return nil, errf("array %q: %d values for shape %v", k, len(data), h.Descr.Shape)
		}
		ts[name] = tensors.FromFlatDataAndDimensions(data, h.Descr.Shape...)
	}
	enc := ts["W_enc"].Shape().Dimensions
	if len(enc) != 2 {
		return nil, errf("W_enc has shape %v, want [d_in, d_sae]", enc)
	}
	c := Config{Arch: JumpReLU, DIn: enc[0], DSAE: enc[1], Site: Site{Hook: hook},
		Meta: Meta{Extra: map[string]any{"source": "gemma-scope", "path": path}}}
	if err := checkParams(c, ts, "sae: load "+path); err != nil {
		return nil, err
	}
	return New(c, ts, backend)
}

var sparsifyLayer = regexp.MustCompile(`^layers\.(\d+)$`)

// SparsifyHook maps a sparsify hook point (its folder name) to a TransformerLens hook name:
// layers.N, the output of decoder layer N, is blocks.N.hook_resid_post.
func SparsifyHook(name string) (string, bool) {
	m := sparsifyLayer.FindStringSubmatch(name)
	if m == nil {
		return "", false
	}
	l, err := strconv.Atoi(m[1])
	if err != nil {
		return "", false
	}
	return hooks.ResidPost(l), true
}

// LoadSparsify reads an EleutherAI sparsify folder (cfg.json + sae.safetensors) as a TopK SAE.
// hook "" takes the folder's name (SparsifyHook).
func LoadSparsify(dir, hook string, backend backends.Backend) (*SAE, error) {
	errf := func(format string, args ...any) error {
		return fmt.Errorf("sae: load %s: "+format, append([]any{dir}, args...)...)
	}
	if hook == "" {
		h, ok := SparsifyHook(filepath.Base(filepath.Clean(dir)))
		if !ok {
			return nil, errf("the folder name %q is not a sparsify layers.N hook point; give the hook", filepath.Base(dir))
		}
		hook = h
	}
	raw, err := os.ReadFile(filepath.Join(dir, "cfg.json"))
	if err != nil {
		return nil, errf("%v", err)
	}
	var cfg struct {
		K              int   `json:"k"`
		NumLatents     int   `json:"num_latents"`
		SkipConnection bool  `json:"skip_connection"`
		Transcode      bool  `json:"transcode"`
		MultiTopK      *bool `json:"multi_topk"`
		DIn            int   `json:"d_in"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, errf("cfg.json: %v", err)
	}
	switch {
	case cfg.K <= 0:
		return nil, errf("cfg.json: k %d must be positive", cfg.K)
	case cfg.SkipConnection:
		return nil, errf("cfg.json: skip_connection is not supported")
	case cfg.Transcode:
		return nil, errf("cfg.json: transcode is not supported (read it as a transcoder with its input and output hooks)")
	}
	wPath := filepath.Join(dir, "sae.safetensors")
	ts, _, err := model.ReadSafetensors(wPath)
	if err != nil {
		return nil, fmt.Errorf("sae: load: %w", err)
	}
	w, ok := ts["encoder.weight"]
	if !ok {
		return nil, errf("sae.safetensors has no encoder.weight")
	}
	dims := w.Shape().Dimensions
	if len(dims) != 2 {
		return nil, errf("encoder.weight has shape %v, want [num_latents, d_in]", dims)
	}
	F, D := dims[0], dims[1]
	if cfg.NumLatents != 0 && cfg.NumLatents != F {
		return nil, errf("cfg.json num_latents %d, but encoder.weight has %d rows", cfg.NumLatents, F)
	}
	if cfg.DIn != 0 && cfg.DIn != D {
		return nil, errf("cfg.json d_in %d, but encoder.weight has %d columns", cfg.DIn, D)
	}
	if cfg.K > F {
		return nil, errf("cfg.json k %d exceeds num_latents %d", cfg.K, F)
	}
	enc := tensors.MustCopyFlatData[float32](w)
	wEnc := make([]float32, len(enc))
	for f := range F {
		for d := range D {
			wEnc[d*F+f] = enc[f*D+d]
		}
	}
	params := map[string]*tensors.Tensor{"W_enc": tensors.FromFlatDataAndDimensions(wEnc, D, F)}
	for from, to := range map[string]string{"encoder.bias": "b_enc", "W_dec": "W_dec", "b_dec": "b_dec"} {
		t, ok := ts[from]
		if !ok {
			return nil, errf("sae.safetensors has no %s", from)
		}
		params[to] = t
		delete(ts, from)
	}
	delete(ts, "encoder.weight")
	if len(ts) > 0 {
		var extra []string
		for k := range ts {
			extra = append(extra, k)
		}
		sort.Strings(extra)
		return nil, errf("sae.safetensors: unexpected tensor(s) %v", extra)
	}
	c := Config{Arch: TopK, DIn: D, DSAE: F, K: cfg.K, ApplyBDecToInput: true, Site: Site{Hook: hook},
		Meta: Meta{Extra: map[string]any{"source": "sparsify", "path": dir}}}
	if err := checkParams(c, params, "sae: load "+wPath); err != nil {
		return nil, err
	}
	return New(c, params, backend)
}

// LoadAny reads an SAE in any layout this package knows: a Gemma Scope params.npz (path is the
// file; hook required), an EleutherAI sparsify folder (cfg.json with num_latents, sae.safetensors;
// hook optional), or a SAELens folder (Load; hook must be empty or the SAE's own, and is the hook
// read when cfg.json names none).
func LoadAny(path, hook string, backend backends.Backend) (*SAE, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("sae: load %s: %w", path, err)
	}
	if !st.IsDir() {
		if filepath.Ext(path) == ".npz" {
			return LoadGemmaScope(path, hook, backend)
		}
		return nil, fmt.Errorf("sae: load %s: not a folder or a .npz file", path)
	}
	if _, err := os.Stat(filepath.Join(path, "sae.safetensors")); err == nil {
		return LoadSparsify(path, hook, backend)
	}
	s, err := load(path, hook, backend)
	if err != nil {
		return nil, err
	}
	if hook != "" && hook != s.Config.Site.Hook {
		return nil, errors.New("sae: load " + path + ": the SAE reads " + s.Config.Site.Hook + ", not " + hook)
	}
	return s, nil
}
