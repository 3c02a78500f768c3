package model

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"
	"github.com/x448/float16"
)

// requireSameWeightsBits asserts a and b have the same config and bit-identical tensors.
func requireSameWeightsBits(t *testing.T, want, got *Weights) {
	t.Helper()
	require.Equal(t, want.Config, got.Config)
	require.Equal(t, ckptSortedKeys(want.Tensors), ckptSortedKeys(got.Tensors))
	for name, w := range want.Tensors {
		g := got.Tensors[name]
		require.Equal(t, w.DType(), g.DType(), name)
		require.Equal(t, w.Shape().Dimensions, g.Shape().Dimensions, name)
		wf, gf := ckptFlat32(w), ckptFlat32(g)
		for i := range wf {
			if math.Float32bits(wf[i]) != math.Float32bits(gf[i]) {
				t.Fatalf("%s[%d]: got %g, want %g", name, i, gf[i], wf[i])
			}
		}
	}
}

func ckptTestConfigs() map[string]Config {
	gpt2 := Config{NLayers: 2, DModel: 32, NHeads: 4, DHead: 8, DMLP: 64, NCtx: 16, DVocab: 50,
		Act: GeluNew, Normalization: LayerNorm, PositionalEmbeddings: true, TiedEmbeddings: true, LNEps: 1e-5, Tokenizer: "gpt2"}
	untied := gpt2
	untied.TiedEmbeddings, untied.Act, untied.NLayers, untied.Tokenizer = false, Relu, 3, ""
	dhead := gpt2
	dhead.DHead, dhead.Act = 16, Gelu // H*K = 64 != D = 32
	dheadSmall := gpt2
	dheadSmall.NHeads, dheadSmall.DHead = 3, 5 // H*K = 15 != D
	noPos := gpt2
	noPos.PositionalEmbeddings, noPos.NLayers = false, 1
	attnLN := gpt2
	attnLN.AttnOnly, attnLN.DMLP = true, 0
	mlpNoLN := untied
	mlpNoLN.Normalization = NoNorm
	return map[string]Config{
		"gpt2-like":       gpt2,
		"attn-only-no-ln": AttnOnlyToy(2, 4, 32, 50, 16),
		"untied":          untied,
		"dhead-wide":      dhead,
		"dhead-narrow":    dheadSmall,
		"no-pos":          noPos,
		"attn-only-ln":    attnLN,
		"mlp-no-ln":       mlpNoLN,
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for name, c := range ckptTestConfigs() {
		t.Run(name, func(t *testing.T) {
			w, err := NewRandomWeights(c, 7)
			require.NoError(t, err)
			dir := filepath.Join(t.TempDir(), "new", "ckpt") // Save creates missing directories
			require.NoError(t, Save(w, dir))
			got, err := Load(dir)
			require.NoError(t, err)
			requireSameWeightsBits(t, w, got)

			// The file holds exactly the HF tensors for this config, unprefixed, format "pt".
			ts, meta, err := ReadSafetensors(filepath.Join(dir, weightsFile))
			require.NoError(t, err)
			require.Equal(t, map[string]string{"format": "pt"}, meta)
			var want []string
			for _, p := range hfParams(c) {
				want = append(want, p.name)
				require.Equal(t, p.shape, ts[p.name].Shape().Dimensions, p.name)
			}
			slices.Sort(want)
			require.Equal(t, want, ckptSortedKeys(ts))
			_, hasLM := ts[hfLMHead]
			require.Equal(t, !c.TiedEmbeddings, hasLM)

			// Saving again over the checkpoint leaves only the two files.
			require.NoError(t, Save(got, dir))
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			require.Equal(t, []string{configFile, weightsFile}, names)
		})
	}
}

// TestLoadLayout checks the HF -> TransformerLens mapping on a checkpoint whose every value
// encodes its own HF index, so a transposed or shifted copy shows.
func TestLoadLayout(t *testing.T) {
	c := ckptTestConfigs()["dhead-narrow"] // H=3, K=5, D=32: H*K != D
	c.TiedEmbeddings = false
	D, H, K, V := c.DModel, c.NHeads, c.DHead, c.DVocab
	HK := H * K
	ts := map[string]*tensors.Tensor{}
	for _, p := range hfParams(c) {
		n := 1
		for _, d := range p.shape {
			n *= d
		}
		flat := make([]float32, n)
		for i := range flat {
			flat[i] = float32(i)
		}
		ts[p.name] = tensors.FromFlatDataAndDimensions(flat, p.shape...)
	}
	dir := writeHFCheckpoint(t, c, ts)
	w, err := Load(dir)
	require.NoError(t, err)

	at := func(name string, idx ...int) float32 {
		tt := w.Tensors[name]
		dims := tt.Shape().Dimensions
		off := 0
		for i, x := range idx {
			off = off*dims[i] + x
		}
		return ckptFlat32(tt)[off]
	}
	for h := range H {
		for d := range D {
			for k := range K {
				for j, n := range []string{"Q", "K", "V"} {
					require.Equal(t, float32(d*3*HK+j*HK+h*K+k), at("blocks.1.attn.W_"+n, h, d, k), "W_%s[%d,%d,%d]", n, h, d, k)
					require.Equal(t, float32(j*HK+h*K+k), at("blocks.1.attn.b_"+n, h, k))
				}
				require.Equal(t, float32((h*K+k)*D+d), at("blocks.1.attn.W_O", h, k, d))
			}
		}
	}
	require.Equal(t, float32(5), at("blocks.0.attn.b_O", 5))
	require.Equal(t, float32(3*64+7), at("blocks.0.mlp.W_in", 3, 7))
	require.Equal(t, float32(9*D+2), at("blocks.0.mlp.W_out", 9, 2))
	require.Equal(t, float32(4*D+2), at("embed.W_E", 4, 2))
	require.Equal(t, float32(4*D+2), at("pos_embed.W_pos", 4, 2))
	for v := range V {
		for d := range D {
			require.Equal(t, float32(v*D+d), at("unembed.W_U", d, v))
		}
	}
}

// writeHFCheckpoint writes config.json and model.safetensors (ts verbatim) to a new directory.
func writeHFCheckpoint(t *testing.T, c Config, ts map[string]*tensors.Tensor) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, WriteHFConfig(c, filepath.Join(dir, configFile)))
	require.NoError(t, WriteSafetensors(filepath.Join(dir, weightsFile), ts, map[string]string{"format": "pt"}))
	return dir
}

// TestLoadReferenceCheckpoints: the PyTorch reference's checkpoints (mask buffers, the
// "transformer." prefix, attention-only, d_head, no positions) load and survive Save -> Load.
func TestLoadReferenceCheckpoints(t *testing.T) {
	dirs, err := filepath.Glob("../testdata/golden/*/config.json")
	require.NoError(t, err)
	require.NotEmpty(t, dirs)
	for _, p := range dirs {
		dir := filepath.Dir(p)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			w, err := Load(dir)
			require.NoError(t, err)
			out := t.TempDir()
			require.NoError(t, Save(w, out))
			got, err := Load(out)
			require.NoError(t, err)
			requireSameWeightsBits(t, w, got)
		})
	}
}

// TestLoadPrefixAndBuffers: a checkpoint with every key prefixed "transformer." (except
// lm_head.weight), mask buffers, and F16 / BF16 / F64 weights loads to the same weights.
func TestLoadPrefixAndBuffers(t *testing.T) {
	c := ckptTestConfigs()["untied"]
	w, err := NewRandomWeights(c, 3)
	require.NoError(t, err)
	hf := toHF(w)
	ts := map[string]*tensors.Tensor{}
	for name, tt := range hf {
		if name != hfLMHead {
			name = hfPrefix + name
		}
		ts[name] = tt
	}
	for l := range c.NLayers {
		ts[fmt.Sprintf("transformer.h.%d.attn.bias", l)] = tensors.FromFlatDataAndDimensions(make([]bool, 256), 1, 1, 16, 16)
		ts[fmt.Sprintf("transformer.h.%d.attn.masked_bias", l)] = tensors.FromFlatDataAndDimensions([]float32{-1e4})
	}
	got, err := Load(writeHFCheckpoint(t, c, ts))
	require.NoError(t, err)
	requireSameWeightsBits(t, w, got)

	// Half-precision weights are converted to float32 (values representable in F16 stay exact).
	for _, conv := range []string{"F16", "BF16", "F64"} {
		t.Run(conv, func(t *testing.T) {
			half := map[string]*tensors.Tensor{}
			for name, tt := range hf {
				flat := slices.Clone(ckptFlat32(tt))
				for i := range flat {
					// Multiples of 1/1024 below 0.25 in magnitude are exact in F16 and BF16.
					flat[i] = float32(math.Round(float64(flat[i])*1024) / 1024)
				}
				half[name] = tensors.FromFlatDataAndDimensions(flat, tt.Shape().Dimensions...)
			}
			want, err := fromHF(c, half, nil, "")
			require.NoError(t, err)
			dir := writeHFCheckpoint(t, c, half)
			rewriteSTDType(t, filepath.Join(dir, weightsFile), conv)
			got, err := Load(dir)
			require.NoError(t, err)
			requireSameWeightsBits(t, want, got)
		})
	}
}

// rewriteSTDType rewrites every F32 tensor of a safetensors file as dtype (F16, BF16 or F64).
func rewriteSTDType(t *testing.T, path, dtype string) {
	t.Helper()
	ts, meta, err := ReadSafetensors(path)
	require.NoError(t, err)
	header := map[string]any{"__metadata__": meta}
	var data []byte
	for _, name := range ckptSortedKeys(ts) {
		begin := len(data)
		for _, v := range ckptFlat32(ts[name]) {
			switch dtype {
			case "F16":
				data = binary.LittleEndian.AppendUint16(data, f16bits(v))
			case "BF16":
				data = binary.LittleEndian.AppendUint16(data, uint16(math.Float32bits(v)>>16))
			case "F64":
				data = binary.LittleEndian.AppendUint64(data, math.Float64bits(float64(v)))
			}
		}
		header[name] = map[string]any{"dtype": dtype, "shape": append([]int{}, ts[name].Shape().Dimensions...), "data_offsets": []int{begin, len(data)}}
	}
	h, err := json.Marshal(header)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, stFile(string(h), data), 0o644))
}

func f16bits(v float32) uint16 { return float16.Fromfloat32(v).Bits() }

func TestLoadTiedLMHead(t *testing.T) {
	c := ckptTestConfigs()["gpt2-like"]
	w, err := NewRandomWeights(c, 5)
	require.NoError(t, err)
	hf := toHF(w)
	// A tied checkpoint may carry lm_head.weight equal to wte.weight (HF GPT2LMHeadModel does).
	hf[hfLMHead] = tensors.FromFlatDataAndDimensions(slices.Clone(ckptFlat32(hf["wte.weight"])), c.DVocab, c.DModel)
	got, err := Load(writeHFCheckpoint(t, c, hf))
	require.NoError(t, err)
	requireSameWeightsBits(t, w, got)
}

// corruptions of a valid checkpoint; each must fail with an error naming the problem.
func TestLoadErrors(t *testing.T) {
	c := ckptTestConfigs()["gpt2-like"]
	w, err := NewRandomWeights(c, 11)
	require.NoError(t, err)

	// fresh returns a new valid checkpoint directory.
	fresh := func(t *testing.T) string {
		dir := t.TempDir()
		require.NoError(t, Save(w, dir))
		return dir
	}
	// editTensors rewrites model.safetensors after edit changes its tensor map.
	editTensors := func(edit func(ts map[string]*tensors.Tensor)) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			path := filepath.Join(dir, weightsFile)
			ts, meta, err := ReadSafetensors(path)
			require.NoError(t, err)
			edit(ts)
			require.NoError(t, WriteSafetensors(path, ts, meta))
		}
	}
	// editHeader rewrites model.safetensors's header JSON (data unchanged).
	editHeader := func(edit func(h map[string]map[string]any)) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			path := filepath.Join(dir, weightsFile)
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			n := binary.LittleEndian.Uint64(raw)
			var h map[string]map[string]any
			require.NoError(t, json.Unmarshal(raw[8:8+n], &h))
			edit(h)
			hb, err := json.Marshal(h)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, stFile(string(hb), raw[8+n:]), 0o644))
		}
	}
	offsets := func(h map[string]map[string]any, name string) (float64, float64) {
		o := h[name]["data_offsets"].([]any)
		return o[0].(float64), o[1].(float64)
	}
	editConfig := func(edit func(m map[string]any)) func(t *testing.T, dir string) {
		return func(t *testing.T, dir string) {
			path := filepath.Join(dir, configFile)
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			var m map[string]any
			require.NoError(t, json.Unmarshal(raw, &m))
			edit(m)
			raw, err = json.Marshal(m)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, raw, 0o644))
		}
	}
	st := func(dir string) string { return filepath.Join(dir, weightsFile) }

	cases := []struct {
		name   string
		mutate func(t *testing.T, dir string)
		want   func(dir string) []string // substrings of the error
	}{
		{"missing dir", func(t *testing.T, dir string) { require.NoError(t, os.RemoveAll(dir)) },
			func(dir string) []string { return []string{"model: load " + dir, "no such file or directory"} }},
		{"not a dir", func(t *testing.T, dir string) {
			require.NoError(t, os.RemoveAll(dir))
			require.NoError(t, os.WriteFile(dir, []byte("x"), 0o644))
		}, func(dir string) []string { return []string{"model: load " + dir + ": not a directory"} }},
		{"missing config.json", func(t *testing.T, dir string) { require.NoError(t, os.Remove(filepath.Join(dir, configFile))) },
			func(dir string) []string { return []string{filepath.Join(dir, configFile), "no such file"} }},
		{"bad JSON config", func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, configFile), []byte(`{"n_layer": 2,`), 0o644))
		}, func(dir string) []string {
			return []string{"parse config " + filepath.Join(dir, configFile), "unexpected end of JSON"}
		}},
		{"unsupported model_type", editConfig(func(m map[string]any) { m["model_type"] = "bert" }),
			func(dir string) []string {
				return []string{filepath.Join(dir, configFile), `model_type "bert" is not supported`}
			}},
		{"missing model.safetensors", func(t *testing.T, dir string) { require.NoError(t, os.Remove(st(dir))) },
			func(dir string) []string {
				return []string{"model: load " + dir + ": no model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json"}
			}},
		{"pytorch_model.bin that is not a torch.save archive", func(t *testing.T, dir string) {
			require.NoError(t, os.Rename(st(dir), filepath.Join(dir, "pytorch_model.bin")))
		}, func(dir string) []string {
			return []string{filepath.Join(dir, "pytorch_model.bin") + ": not a torch.save zip archive"}
		}},
		{"missing tensor", editTensors(func(ts map[string]*tensors.Tensor) { delete(ts, "h.1.mlp.c_fc.bias") }),
			func(dir string) []string {
				return []string{"model: load " + st(dir) + `: tensor "h.1.mlp.c_fc.bias": missing`, "[64]"}
			}},
		{"unexpected tensor", editTensors(func(ts map[string]*tensors.Tensor) {
			ts["h.0.attn.c_attn.extra"] = tensors.FromFlatDataAndDimensions([]float32{1}, 1)
		}), func(dir string) []string {
			return []string{"model: load " + st(dir) + `: tensor "h.0.attn.c_attn.extra": unexpected`}
		}},
		{"tensor of a layer the config lacks", editTensors(func(ts map[string]*tensors.Tensor) {
			ts["h.2.ln_1.weight"] = tensors.FromFlatDataAndDimensions(make([]float32, 32), 32)
		}), func(dir string) []string { return []string{`tensor "h.2.ln_1.weight": unexpected`, "2 layers"} }},
		{"mask buffer of a layer the config lacks", editTensors(func(ts map[string]*tensors.Tensor) {
			ts["h.2.attn.bias"] = tensors.FromFlatDataAndDimensions(make([]float32, 1), 1)
		}), func(dir string) []string { return []string{`tensor "h.2.attn.bias": unexpected`} }},
		{"mis-shaped tensor", editTensors(func(ts map[string]*tensors.Tensor) {
			ts["h.1.mlp.c_fc.weight"] = tensors.FromFlatDataAndDimensions(make([]float32, 32*48), 32, 48)
		}), func(dir string) []string {
			return []string{"model: load " + st(dir) + `: tensor "h.1.mlp.c_fc.weight": shape [32 48], want [32 64]`}
		}},
		{"transposed Conv1D weight", editTensors(func(ts map[string]*tensors.Tensor) {
			ts["h.0.attn.c_attn.weight"] = tensors.FromFlatDataAndDimensions(make([]float32, 32*96), 96, 32)
		}), func(dir string) []string {
			return []string{`tensor "h.0.attn.c_attn.weight": shape [96 32], want [32 96]`}
		}},
		{"integer weights", editTensors(func(ts map[string]*tensors.Tensor) {
			ts["ln_f.bias"] = tensors.FromFlatDataAndDimensions(make([]int64, 32), 32)
		}), func(dir string) []string { return []string{`tensor "ln_f.bias": dtype Int64, want a float dtype`} }},
		{"config/file mismatch: more layers", editConfig(func(m map[string]any) { m["n_layer"] = 3 }),
			func(dir string) []string {
				return []string{"model: load " + st(dir) + `: tensor "h.2.ln_1.weight": missing`}
			}},
		{"config/file mismatch: d_model", editConfig(func(m map[string]any) { m["n_embd"] = 16; m["interp_d_head"] = 8 }),
			func(dir string) []string { return []string{`tensor "wte.weight": shape [50 32], want [50 16]`} }},
		{"config/file mismatch: untied without lm_head", editConfig(func(m map[string]any) { m["tie_word_embeddings"] = false }),
			func(dir string) []string { return []string{`tensor "lm_head.weight": missing`} }},
		{"config/file mismatch: no positions", editConfig(func(m map[string]any) { m["interp_no_pos_embed"] = true }),
			func(dir string) []string { return []string{`tensor "wpe.weight": unexpected`} }},
		{"config/file mismatch: attention-only", editConfig(func(m map[string]any) { m["interp_attn_only"] = true }),
			func(dir string) []string { return []string{`tensor "h.0.ln_2.bias": unexpected`, "attn_only true"} }},
		{"mixed prefix", editTensors(func(ts map[string]*tensors.Tensor) {
			ts["transformer.ln_f.bias"] = ts["ln_f.bias"]
			delete(ts, "ln_f.bias")
		}), func(dir string) []string { return []string{`tensor "ln_f.bias": missing`} }},
		{"prefixed lm_head", editTensors(func(ts map[string]*tensors.Tensor) {
			ts["transformer.lm_head.weight"] = ts["wte.weight"]
		}), func(dir string) []string { return []string{`tensor "transformer.lm_head.weight": unexpected`} }},
		{"tied mismatch", editTensors(func(ts map[string]*tensors.Tensor) {
			lm := slices.Clone(ckptFlat32(ts["wte.weight"]))
			lm[37] += 1
			ts[hfLMHead] = tensors.FromFlatDataAndDimensions(lm, 50, 32)
		}), func(dir string) []string {
			return []string{"model: load " + st(dir) + `: tensor "lm_head.weight": differs from wte.weight at element 37`, "ties the embeddings"}
		}},
		{"tied lm_head mis-shaped", editTensors(func(ts map[string]*tensors.Tensor) {
			ts[hfLMHead] = tensors.FromFlatDataAndDimensions(make([]float32, 32*50), 32, 50)
		}), func(dir string) []string { return []string{`tensor "lm_head.weight": present in a tied checkpoint`} }},
		{"truncated file", func(t *testing.T, dir string) {
			raw, err := os.ReadFile(st(dir))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(st(dir), raw[:len(raw)-100], 0o644))
		}, func(dir string) []string {
			// The last tensor in the file (largest element size, then by name): wte.weight.
			return []string{"model: safetensors " + st(dir) + `: tensor "wte.weight": data_offsets`, "exceed data size", "truncated"}
		}},
		{"header length larger than file", func(t *testing.T, dir string) {
			raw, err := os.ReadFile(st(dir))
			require.NoError(t, err)
			binary.LittleEndian.PutUint64(raw, uint64(len(raw)))
			require.NoError(t, os.WriteFile(st(dir), raw, 0o644))
		}, func(dir string) []string {
			return []string{"model: safetensors " + st(dir) + ": header length", "exceeds"}
		}},
		{"offsets out of range", editHeader(func(h map[string]map[string]any) {
			b, e := offsets(h, "wte.weight")
			h["wte.weight"]["data_offsets"] = []float64{b + 8, e + 8}
		}), func(dir string) []string {
			return []string{"model: safetensors " + st(dir) + `: tensor "wte.weight": data_offsets`, "exceed data size"}
		}},
		{"overlapping offsets", editHeader(func(h map[string]map[string]any) {
			b, e := offsets(h, "ln_f.bias")
			h["ln_f.bias"]["data_offsets"] = []float64{b - 4, e - 4}
		}), func(dir string) []string {
			return []string{"model: safetensors " + st(dir), "overlap tensor"}
		}},
		{"unknown dtype", editHeader(func(h map[string]map[string]any) { h["ln_f.weight"]["dtype"] = "F33" }),
			func(dir string) []string {
				return []string{"model: safetensors " + st(dir) + `: tensor "ln_f.weight": unknown dtype "F33"`}
			}},
		{"shape vs data length", editHeader(func(h map[string]map[string]any) { h["ln_f.weight"]["shape"] = []int{33} }),
			func(dir string) []string {
				return []string{"model: safetensors " + st(dir) + `: tensor "ln_f.weight": dtype F32 shape [33] needs 132 bytes`}
			}},
		{"not safetensors", func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(st(dir), []byte("PK\x03\x04 this is a zip file, not safetensors"), 0o644))
		}, func(dir string) []string { return []string{"model: safetensors " + st(dir) + ": header length"} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := fresh(t)
			tc.mutate(t, dir)
			_, err := Load(dir)
			require.Error(t, err)
			t.Log(err)
			for _, want := range tc.want(dir) {
				require.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestSaveErrors(t *testing.T) {
	require.ErrorContains(t, Save(nil, t.TempDir()), "nil weights")
	w, err := NewRandomWeights(ckptTestConfigs()["gpt2-like"], 1)
	require.NoError(t, err)
	delete(w.Tensors, "blocks.1.attn.W_K")
	dir := t.TempDir()
	require.ErrorContains(t, Save(w, dir), `model: save `+dir+`: model: weights: missing tensor "blocks.1.attn.W_K"`)
	entries, _ := os.ReadDir(dir)
	require.Empty(t, entries)

	// A path under a regular file cannot be created.
	file := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	w, _ = NewRandomWeights(ckptTestConfigs()["gpt2-like"], 1)
	require.ErrorContains(t, Save(w, filepath.Join(file, "sub")), "model: save "+filepath.Join(file, "sub"))
}

// TestLoadSharded: model.safetensors.index.json with its weight_map over shard files.
func TestLoadSharded(t *testing.T) {
	c := ckptTestConfigs()["untied"]
	w, err := NewRandomWeights(c, 9)
	require.NoError(t, err)

	// shard writes the checkpoint as two shards plus an index; edit may change the weight map.
	shard := func(t *testing.T, edit func(wm map[string]string)) string {
		dir := t.TempDir()
		require.NoError(t, WriteHFConfig(c, filepath.Join(dir, configFile)))
		hf := toHF(w)
		parts := [2]map[string]*tensors.Tensor{{}, {}}
		wm := map[string]string{}
		for i, name := range ckptSortedKeys(hf) {
			key := name
			if name != hfLMHead {
				key = hfPrefix + name // lm_head.weight is never prefixed
			}
			parts[i%2][key] = hf[name]
			wm[key] = fmt.Sprintf("model-%05d-of-00002.safetensors", i%2+1)
		}
		for i, p := range parts {
			require.NoError(t, WriteSafetensors(filepath.Join(dir, fmt.Sprintf("model-%05d-of-00002.safetensors", i+1)), p, nil))
		}
		edit(wm)
		idx, err := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 1}, "weight_map": wm})
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, weightsIndex), idx, 0o644))
		return dir
	}
	t.Run("ok", func(t *testing.T) {
		got, err := Load(shard(t, func(wm map[string]string) {}))
		require.NoError(t, err)
		requireSameWeightsBits(t, w, got)
	})
	errCases := []struct {
		name string
		edit func(wm map[string]string)
		want string
	}{
		{"shard outside dir", func(wm map[string]string) { wm["transformer.wte.weight"] = "../model.safetensors" },
			`tensor "transformer.wte.weight": shard "../model.safetensors" is not a file name in the checkpoint directory`},
		{"missing shard file", func(wm map[string]string) { wm["transformer.wte.weight"] = "model-00003-of-00002.safetensors" },
			"model-00003-of-00002.safetensors: no such file"},
		{"tensor in wrong shard", func(wm map[string]string) {
			wm["transformer.wte.weight"] = map[string]string{
				"model-00001-of-00002.safetensors": "model-00002-of-00002.safetensors",
				"model-00002-of-00002.safetensors": "model-00001-of-00002.safetensors",
			}[wm["transformer.wte.weight"]]
		}, "tensor \"transformer.wte.weight\" is in this shard but model.safetensors.index.json maps it to"},
		{"tensor not in index", func(wm map[string]string) { delete(wm, "transformer.wte.weight") },
			`tensor "transformer.wte.weight" is in this shard but model.safetensors.index.json maps it to no shard`},
		{"index names an absent tensor", func(wm map[string]string) { wm["transformer.h.9.ln_1.weight"] = "model-00001-of-00002.safetensors" },
			`tensor "transformer.h.9.ln_1.weight": model.safetensors.index.json maps it to this shard, which does not hold it`},
		{"empty weight map", func(wm map[string]string) { clear(wm) }, "empty or missing weight_map"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(shard(t, tc.edit))
			require.Error(t, err)
			t.Log(err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("bad index JSON", func(t *testing.T) {
		dir := shard(t, func(map[string]string) {})
		require.NoError(t, os.WriteFile(filepath.Join(dir, weightsIndex), []byte("{"), 0o644))
		_, err := Load(dir)
		require.ErrorContains(t, err, "model: load "+filepath.Join(dir, weightsIndex)+": unexpected end of JSON")
	})
}
