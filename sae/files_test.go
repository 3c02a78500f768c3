package sae

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/model"
)

// TestSaveLoadRoundTrip writes every architecture and reads it back: the tensors (names, shapes,
// dtypes, values), the config, and the cfg.json fields SAELens reads.
func TestSaveLoadRoundTrip(t *testing.T) {
	b, _ := model.MustNewBackend("")
	sites := map[Arch]Site{
		ReLU:      {Hook: "blocks.1.hook_resid_post"},
		TopK:      {Hook: "blocks.0.attn.hook_z", Heads: HeadsConcat},
		BatchTopK: {Hook: "blocks.0.attn.hook_z", Heads: HeadsSingle, Head: 3},
		JumpReLU:  {Hook: "blocks.1.attn.hook_result", Heads: HeadsPerHead},
		Gated:     {Hook: "blocks.0.hook_mlp_out"},
	}
	for _, arch := range Archs() {
		t.Run(string(arch), func(t *testing.T) {
			c := Config{Arch: arch, DIn: 8, DSAE: 16, ApplyBDecToInput: arch != JumpReLU, Site: sites[arch],
				Meta: Meta{ModelName: "toy-gpt2", DatasetPath: "task:induction", ContextSize: 64, PrependBOS: true,
					NormScale: 2.5, Extra: map[string]any{"neuronpedia_id": "x/y"}}}
			if arch == TopK || arch == BatchTopK {
				c.K = 3 // K is only kept for the architectures that use it
			}
			s, err := NewRandom(c, b, InitOptions{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := Save(s, dir); err != nil {
				t.Fatal(err)
			}
			got, err := Load(dir, b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := configDiff(c, got.Config); diff != "" {
				t.Errorf("config (-want +got): %s", diff)
			}
			// SAELens 6 reads a file as it is only when metadata names a 6.x version; otherwise it
			// runs its pre-6.0 migration, which rebuilds metadata and drops fields.
			raw, err := os.ReadFile(filepath.Join(dir, CfgFile))
			if err != nil {
				t.Fatal(err)
			}
			var saved struct {
				Metadata map[string]any `json:"metadata"`
			}
			if err := json.Unmarshal(raw, &saved); err != nil {
				t.Fatal(err)
			}
			if v, _ := saved.Metadata["sae_lens_version"].(string); !strings.HasPrefix(v, "6.") || saved.Metadata["hook_name"] != c.Site.Hook {
				t.Errorf("cfg.json metadata %v: want sae_lens_version 6.x and hook_name %s", saved.Metadata, c.Site.Hook)
			}
			for _, spec := range ParamSpecs(c) {
				g := got.Params[spec.Name]
				if g.DType() != dtypes.Float32 || !slices.Equal(g.Shape().Dimensions, spec.Shape) {
					t.Errorf("%s: %s, want float32 %v", spec.Name, g.Shape(), spec.Shape)
				}
				if !slices.Equal(s.Flat(spec.Name), got.Flat(spec.Name)) {
					t.Errorf("%s: values differ after the round trip", spec.Name)
				}
			}
			// The file as SAELens sees it.
			ts, _, err := model.ReadSafetensors(filepath.Join(dir, WeightsFile))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for n := range ts {
				names = append(names, n)
			}
			slices.Sort(names)
			want := []string{"W_dec", "W_enc", "b_dec", "b_enc"}
			if c.HasThreshold() {
				want = []string{"W_dec", "W_enc", "b_dec", "b_enc", "threshold"}
			}
			if arch == Gated { // SAELens GatedSAE's tensors: no b_enc
				want = []string{"W_dec", "W_enc", "b_dec", "b_gate", "b_mag", "r_mag"}
			}
			if !slices.Equal(names, want) {
				t.Errorf("tensors in %s: %v, want %v", WeightsFile, names, want)
			}
			var cfg map[string]any
			raw, _ = os.ReadFile(filepath.Join(dir, CfgFile))
			if err := json.Unmarshal(raw, &cfg); err != nil {
				t.Fatal(err)
			}
			wantArch := map[Arch]string{ReLU: "standard", TopK: "topk", BatchTopK: "jumprelu", JumpReLU: "jumprelu", Gated: "gated"}[arch]
			checks := map[string]any{"architecture": wantArch, "d_in": 8.0, "d_sae": 16.0, "dtype": "float32",
				"device": "cpu", "apply_b_dec_to_input": c.ApplyBDecToInput, "normalize_activations": "none",
				"model_name": "toy-gpt2", "hook_name": c.Site.Hook, "context_size": 64.0, "prepend_bos": true,
				"dataset_path": "task:induction"}
			for k, v := range checks {
				if cfg[k] != v {
					t.Errorf("cfg.json %s = %v, want %v", k, cfg[k], v)
				}
			}
			meta := cfg["metadata"].(map[string]any)
			if meta["hook_name"] != c.Site.Hook || meta["model_name"] != "toy-gpt2" {
				t.Errorf("cfg.json metadata %v lacks the hook and model", meta)
			}
			switch arch {
			case TopK:
				if cfg["k"] != 3.0 || cfg["activation_fn_kwargs"].(map[string]any)["k"] != 3.0 || cfg["reshape_activations"] != "hook_z" {
					t.Errorf("topk fields: k %v, activation_fn_kwargs %v, reshape %v", cfg["k"], cfg["activation_fn_kwargs"], cfg["reshape_activations"])
				}
			case BatchTopK:
				if cfg["hook_head_index"] != 3.0 {
					t.Errorf("hook_head_index = %v, want 3", cfg["hook_head_index"])
				}
			}
		})
	}
}

func configDiff(want, got Config) string {
	w, _ := json.Marshal(want)
	g, _ := json.Marshal(got)
	if string(w) == string(g) {
		return ""
	}
	return "-" + string(w) + " +" + string(g)
}

func TestSaveLoadTranscoder(t *testing.T) {
	b, _ := model.MustNewBackend("")
	for _, arch := range []Arch{ReLU, JumpReLU, TopK} {
		c := Config{Arch: arch, DIn: 8, DOut: 6, DSAE: 16, K: 2, Skip: arch != JumpReLU,
			Site: Site{Hook: "blocks.0.ln2.hook_normalized"}, Target: Site{Hook: "blocks.0.hook_mlp_out"}}
		if arch != TopK {
			c.K = 0
		}
		s, err := NewRandom(c, b, InitOptions{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := Save(s, dir); err != nil {
			t.Fatal(err)
		}
		got, err := Load(dir, b)
		if err != nil {
			t.Fatal(err)
		}
		if diff := configDiff(c, got.Config); diff != "" {
			t.Errorf("%s transcoder config (-want +got): %s", arch, diff)
		}
		var cfg map[string]any
		raw, _ := os.ReadFile(filepath.Join(dir, CfgFile))
		_ = json.Unmarshal(raw, &cfg)
		want := map[Arch]string{ReLU: "skip_transcoder", JumpReLU: "jumprelu_transcoder", TopK: "topk_skip_transcoder"}[arch]
		if cfg["architecture"] != want || cfg["d_out"] != 6.0 || cfg["hook_name_out"] != "blocks.0.hook_mlp_out" {
			t.Errorf("%s transcoder cfg.json: architecture %v, d_out %v, hook_name_out %v", arch, cfg["architecture"], cfg["d_out"], cfg["hook_name_out"])
		}
		if c.Skip && !slices.Equal(got.Flat("W_skip"), s.Flat("W_skip")) {
			t.Error("W_skip differs after the round trip")
		}
	}
}

// writeSAELens writes a cfg.json and tensors the way a SAELens version would.
func writeSAELens(t *testing.T, cfg string, ts map[string]*tensors.Tensor) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, CfgFile), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := model.WriteSafetensors(filepath.Join(dir, WeightsFile), ts, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

func saeTensors(rng *rand.Rand, din, dsae int, extra ...string) map[string]*tensors.Tensor {
	ts := map[string]*tensors.Tensor{
		"W_enc": tensors.FromFlatDataAndDimensions(randFlat(rng, din*dsae, 0.3), din, dsae),
		"b_enc": tensors.FromFlatDataAndDimensions(randFlat(rng, dsae, 0.1), dsae),
		"W_dec": tensors.FromFlatDataAndDimensions(randFlat(rng, dsae*din, 0.3), dsae, din),
		"b_dec": tensors.FromFlatDataAndDimensions(randFlat(rng, din, 0.1), din),
	}
	for _, e := range extra {
		ts[e] = tensors.FromFlatDataAndDimensions(randFlat(rng, dsae, 0.1), dsae)
	}
	return ts
}

// Configs as SAELens 6 (metadata object), 5.x (flat, hook_point names, activation_fn_kwargs)
// and older releases (boolean normalize_activations, log_threshold) write them.
const (
	cfgSAELens6TopK = `{"d_in": 8, "d_sae": 16, "dtype": "float32", "device": "cpu", "apply_b_dec_to_input": true,
 "normalize_activations": "none", "reshape_activations": "none", "k": 4, "rescale_acts_by_decoder_norm": true,
 "metadata": {"sae_lens_version": "6.5.1", "sae_lens_training_version": "6.5.1", "model_name": "gpt2",
  "hook_name": "blocks.3.hook_resid_pre", "hook_head_index": null, "context_size": 128, "prepend_bos": true,
  "dataset_path": "monology/pile-uncopyrighted", "model_from_pretrained_kwargs": {}, "seqpos_slice": [null]},
 "architecture": "topk"}`
	cfgSAELens5TopK = `{"architecture": "standard", "d_in": 8, "d_sae": 16, "activation_fn_str": "topk",
 "activation_fn_kwargs": {"k": 4}, "apply_b_dec_to_input": false, "finetuning_scaling_factor": false,
 "context_size": 128, "model_name": "gpt2", "hook_point": "blocks.3.hook_resid_pre", "hook_point_layer": 3,
 "hook_point_head_index": null, "prepend_bos": true, "dataset_path": "x", "normalize_activations": false,
 "dtype": "torch.float32", "device": "cuda", "sae_lens_training_version": "3.0.0"}`
	cfgOldJumpReLU = `{"architecture": "jumprelu", "d_in": 8, "d_sae": 16, "hook_name": "blocks.0.attn.hook_z",
 "hook_layer": 0, "hook_head_index": 2, "apply_b_dec_to_input": false, "normalize_activations": true,
 "dtype": "float32", "model_name": "gpt2"}`
)

func TestLoadSAELensLayouts(t *testing.T) {
	b, _ := model.MustNewBackend("")
	rng := rand.New(rand.NewPCG(3, 3))

	dir := writeSAELens(t, cfgSAELens6TopK, saeTensors(rng, 8, 16))
	s6, err := Load(dir, b)
	if err != nil {
		t.Fatal(err)
	}
	if c := s6.Config; c.Arch != TopK || c.K != 4 || !c.ApplyBDecToInput || c.Site.Hook != "blocks.3.hook_resid_pre" ||
		c.Meta.ModelName != "gpt2" || c.Meta.ContextSize != 128 || c.Meta.Extra["sae_lens_training_version"] != "6.5.1" {
		t.Errorf("SAELens 6 config read as %+v", c)
	}
	// rescale_acts_by_decoder_norm was folded in: unit decoder rows, same outputs as selecting
	// on pre * ||W_dec[j]|| and decoding f / ||W_dec[j]||.
	raw, _, _ := model.ReadSafetensors(filepath.Join(dir, WeightsFile))
	wdecRaw := tensors.MustCopyFlatData[float32](raw["W_dec"])
	wdec := s6.Flat("W_dec")
	for j := range 16 {
		if n := norm(wdec[j*8 : (j+1)*8]); math.Abs(n-1) > 1e-5 {
			t.Fatalf("decoder row %d has norm %g after folding", j, n)
		}
	}
	x := randFlat(rng, 5*8, 1)
	rec, err := s6.Reconstruct(tensors.FromFlatDataAndDimensions(x, 5, 8))
	if err != nil {
		t.Fatal(err)
	}
	want := reconRescaledTopK(raw, x, 5, 8, 16, 4, wdecRaw)
	if d, _ := maxAbsDiff(tensors.MustCopyFlatData[float32](rec), want); d > 1e-4 {
		t.Errorf("folded TopK differs from rescale_acts_by_decoder_norm by %g", d)
	}

	s5, err := Load(writeSAELens(t, cfgSAELens5TopK, saeTensors(rng, 8, 16)), b)
	if err != nil {
		t.Fatal(err)
	}
	if c := s5.Config; c.Arch != TopK || c.K != 4 || c.ApplyBDecToInput || c.Site.Hook != "blocks.3.hook_resid_pre" || c.Meta.DatasetPath != "x" {
		t.Errorf("SAELens 5 config read as %+v", c)
	}

	ts := saeTensors(rng, 8, 16, "log_threshold")
	ts["scaling_factor"] = tensors.FromFlatDataAndDimensions(filled(16, 1), 16)
	lt := tensors.MustCopyFlatData[float32](ts["log_threshold"])
	sj, err := Load(writeSAELens(t, cfgOldJumpReLU, ts), b)
	if err != nil {
		t.Fatal(err)
	}
	if c := sj.Config; c.Arch != JumpReLU || c.Site.Heads != HeadsSingle || c.Site.Head != 2 {
		t.Errorf("old JumpReLU config read as %+v", c)
	}
	if th := sj.Flat("threshold"); math.Abs(float64(th[0])-math.Exp(float64(lt[0]))) > 1e-6 {
		t.Errorf("threshold %g, want exp(log_threshold) = %g", th[0], math.Exp(float64(lt[0])))
	}
}

// reconRescaledTopK is SAELens's TopK with rescale_acts_by_decoder_norm, computed directly.
func reconRescaledTopK(ts map[string]*tensors.Tensor, x []float32, n, din, dsae, k int, wdec []float32) []float32 {
	wenc, benc, bdec := tensors.MustCopyFlatData[float32](ts["W_enc"]), tensors.MustCopyFlatData[float32](ts["b_enc"]), tensors.MustCopyFlatData[float32](ts["b_dec"])
	out := make([]float32, n*din)
	for r := range n {
		pre := make([]float32, dsae)
		for j := range dsae {
			v := benc[j]
			for i := range din {
				v += (x[r*din+i] - bdec[i]) * wenc[i*dsae+j]
			}
			pre[j] = v * float32(norm(wdec[j*din:(j+1)*din]))
		}
		sorted := slices.Clone(pre)
		slices.Sort(sorted)
		for i := range din {
			out[r*din+i] = bdec[i]
		}
		for j, v := range pre {
			if v > 0 && v >= sorted[dsae-k] {
				nj := float32(norm(wdec[j*din : (j+1)*din]))
				for i := range din {
					out[r*din+i] += v / nj * wdec[j*din+i]
				}
			}
		}
	}
	return out
}

func TestLoadErrors(t *testing.T) {
	b, _ := model.MustNewBackend("")
	rng := rand.New(rand.NewPCG(4, 4))
	base := `{"architecture": "standard", "d_in": 8, "d_sae": 16, "hook_name": "blocks.0.hook_resid_post"}`
	cases := []struct {
		name, cfg string
		ts        map[string]*tensors.Tensor
		want      string
	}{
		{"missing tensor", base, func() map[string]*tensors.Tensor { ts := saeTensors(rng, 8, 16); delete(ts, "b_enc"); return ts }(), `"b_enc"`},
		{"mis-shaped", base, func() map[string]*tensors.Tensor {
			ts := saeTensors(rng, 8, 16)
			ts["W_dec"] = tensors.FromFlatDataAndDimensions(randFlat(rng, 8*16, 1), 8, 16)
			return ts
		}(), `"W_dec" has shape [8 16], want [16 8]`},
		{"unexpected", base, saeTensors(rng, 8, 16, "threshold"), `unexpected tensor "threshold"`},
		{"jumprelu without threshold", strings.Replace(base, "standard", "jumprelu", 1), saeTensors(rng, 8, 16), `"threshold"`},
		{"gated without its gate", strings.Replace(base, "standard", "gated", 1), saeTensors(rng, 8, 16), `"b_gate"`},
		{"matching pursuit", strings.Replace(base, "standard", "matching_pursuit", 1), saeTensors(rng, 8, 16), `architecture "matching_pursuit" is not supported`},
		{"no hook", `{"architecture": "standard", "d_in": 8, "d_sae": 16}`, saeTensors(rng, 8, 16), `hook_name`},
		{"no d_in", `{"architecture": "standard", "d_sae": 16, "hook_name": "x"}`, saeTensors(rng, 8, 16), `"d_in"`},
		{"topk without k", strings.Replace(base, "standard", "topk", 1), saeTensors(rng, 8, 16), `"k"`},
		{"unknown normalisation", strings.Replace(base, "}", `, "normalize_activations": "rms_norm"}`, 1), saeTensors(rng, 8, 16), `normalize_activations "rms_norm" is not supported`},
		{"scaling factor", base, func() map[string]*tensors.Tensor {
			ts := saeTensors(rng, 8, 16, "scaling_factor")
			return ts
		}(), `scaling_factor`},
		{"bad json", `{"architecture": `, saeTensors(rng, 8, 16), CfgFile},
	}
	for _, tc := range cases {
		dir := writeSAELens(t, tc.cfg, tc.ts)
		_, err := Load(dir, b)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %s", tc.name, err, tc.want)
		}
	}
	if _, err := Load(t.TempDir(), b); err == nil || !strings.Contains(err.Error(), CfgFile) {
		t.Errorf("empty folder: error %v, want one naming %s", err, CfgFile)
	}
}

// TestLoadWithoutHookName: a SAELens folder whose cfg.json names no hook is refused by Load with
// an error naming the field, and read by LoadAny when the hook is given (--sae-hook).
func TestLoadWithoutHookName(t *testing.T) {
	b, _ := model.MustNewBackend("")
	cfg := strings.Replace(cfgSAELens6TopK, `"hook_name": "blocks.3.hook_resid_pre", `, "", 1)
	if cfg == cfgSAELens6TopK {
		t.Fatal("the test config still names its hook")
	}
	dir := writeSAELens(t, cfg, saeTensors(rand.New(rand.NewPCG(5, 6)), 8, 16))
	if _, err := Load(dir, b); err == nil || !strings.Contains(err.Error(), `"hook_name"`) {
		t.Fatalf("Load without hook_name: %v, want an error naming hook_name", err)
	}
	s, err := LoadAny(dir, "blocks.2.hook_resid_post", b)
	if err != nil {
		t.Fatal(err)
	}
	if s.Config.Site.Hook != "blocks.2.hook_resid_post" || s.Config.K != 4 {
		t.Errorf("loaded as %+v", s.Config)
	}
	// A folder that names its hook still refuses another one.
	named := writeSAELens(t, cfgSAELens6TopK, saeTensors(rand.New(rand.NewPCG(5, 6)), 8, 16))
	if _, err := LoadAny(named, "blocks.2.hook_resid_post", b); err == nil {
		t.Error("LoadAny with a hook other than the file's: no error")
	}
}
