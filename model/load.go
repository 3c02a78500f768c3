package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Checkpoint file names, as Hugging Face names them.
const (
	configFile      = "config.json"
	weightsFile     = "model.safetensors"
	weightsIndex    = "model.safetensors.index.json"
	torchBinFile    = "pytorch_model.bin"
	torchBinIndex   = "pytorch_model.bin.index.json"
	hfPrefix        = "transformer."
	hfLMHead        = "lm_head.weight"
	hfFormatPyTorch = "pt"
)

// hfParam is one tensor of the Hugging Face GPT-2 layout.
type hfParam struct {
	name  string // without the optional "transformer." prefix (lm_head.weight never has one)
	shape []int
}

// hfParams lists the tensors a Hugging Face GPT-2 checkpoint for c holds, in a fixed order.
// lm_head.weight is listed only for untied embeddings.
func hfParams(c Config) []hfParam {
	D, H, K, M, V, P := c.DModel, c.NHeads, c.DHead, c.DMLP, c.DVocab, c.NCtx
	ps := []hfParam{{"wte.weight", []int{V, D}}}
	if c.PositionalEmbeddings {
		ps = append(ps, hfParam{"wpe.weight", []int{P, D}})
	}
	ln := func(prefix string) {
		if c.HasLN() {
			ps = append(ps, hfParam{prefix + ".weight", []int{D}}, hfParam{prefix + ".bias", []int{D}})
		}
	}
	for l := range c.NLayers {
		b := "h." + strconv.Itoa(l) + "."
		ln(b + "ln_1")
		ps = append(ps,
			hfParam{b + "attn.c_attn.weight", []int{D, 3 * H * K}},
			hfParam{b + "attn.c_attn.bias", []int{3 * H * K}},
			hfParam{b + "attn.c_proj.weight", []int{H * K, D}},
			hfParam{b + "attn.c_proj.bias", []int{D}},
		)
		if c.HasMLP() {
			ln(b + "ln_2")
			ps = append(ps,
				hfParam{b + "mlp.c_fc.weight", []int{D, M}},
				hfParam{b + "mlp.c_fc.bias", []int{M}},
				hfParam{b + "mlp.c_proj.weight", []int{M, D}},
				hfParam{b + "mlp.c_proj.bias", []int{D}},
			)
		}
	}
	ln("ln_f")
	if !c.TiedEmbeddings {
		ps = append(ps, hfParam{hfLMHead, []int{V, D}})
	}
	return ps
}

// isMaskBuffer reports whether name (prefix stripped) is one of the causal-mask buffers HF GPT-2
// checkpoints may carry, h.L.attn.bias and h.L.attn.masked_bias, for a layer L < nLayers.
func isMaskBuffer(name string, nLayers int) bool {
	rest, ok := strings.CutPrefix(name, "h.")
	if !ok {
		return false
	}
	num, tail, ok := strings.Cut(rest, ".")
	if !ok || (tail != "attn.bias" && tail != "attn.masked_bias") {
		return false
	}
	l, err := strconv.Atoi(num)
	return err == nil && l >= 0 && l < nLayers && strconv.Itoa(l) == num
}

// Load reads a Hugging Face checkpoint directory. config.json's model_type picks the family
// (FamilyNames: gpt2, llama, gpt_neox, gpt_neo, qwen2, ...; family_*.go hold their names); what
// follows describes GPT-2's layout, and the families read theirs as strictly.
//
// GPT-2: config.json (ReadHFConfig)
// and model.safetensors, or a sharded model.safetensors.index.json with its shard files. Keys may
// all carry the "transformer." prefix (lm_head.weight never does). Conv1D weights are [in, out];
// the fused c_attn columns are [Q | K | V], each head-major. The causal-mask buffers
// h.L.attn.bias / h.L.attn.masked_bias are ignored (and not read).
//
// Load is strict: a missing, unexpected, mis-shaped or non-float tensor, or a tied config whose
// file holds an lm_head.weight different from wte.weight, is an error naming the tensor and the
// file. F16, BF16 and F64 weights are converted to float32.
//
// Memory: tensors are read straight from the file into memory (no copy of the whole file), and
// the embeddings, LayerNorm and MLP tensors are used as read; only each layer's attention weights
// (and an untied unembedding) are re-laid out, so the peak is about the file size plus one
// re-laid-out tensor. Measured on a random GPT-2 small checkpoint (498 MB): Load takes 0.4 s with
// a peak RSS of 0.67 GiB (tensors 0.46 GiB).
func Load(dir string) (*Weights, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("model: load %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("model: load %s: not a directory (want a folder with %s and %s)", dir, configFile, weightsFile)
	}
	c, hf, fam, ok, err := readFamilyConfig(filepath.Join(dir, configFile))
	if err != nil {
		return nil, err
	}
	if ok {
		return loadFamily(dir, c, hf, fam)
	}
	if c, err = readGPT2Config(filepath.Join(dir, configFile)); err != nil {
		return nil, err
	}
	keep := func(name string) bool {
		return !isMaskBuffer(strings.TrimPrefix(name, hfPrefix), c.NLayers)
	}
	ts, src, where, err := readCheckpointTensors(dir, keep)
	if err != nil {
		return nil, err
	}
	return fromHF(c, ts, src, where)
}

// checkpointFiles lists the safetensors files of the checkpoint in dir: model.safetensors, or the
// shards model.safetensors.index.json names (each a file in dir that exists), sorted. index is the
// index's weight_map (nil for a single file).
func checkpointFiles(dir string) (files []string, index map[string]string, err error) {
	single := filepath.Join(dir, weightsFile)
	if _, err := os.Stat(single); err == nil {
		return []string{single}, nil, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("model: load %s: %w", dir, err)
	}
	indexPath := filepath.Join(dir, weightsIndex)
	data, err := os.ReadFile(indexPath)
	if errors.Is(err, fs.ErrNotExist) {
		bin := filepath.Join(dir, torchBinFile)
		if _, err := os.Stat(bin); err == nil {
			return []string{bin}, nil, nil
		}
		indexPath = filepath.Join(dir, torchBinIndex)
		data, err = os.ReadFile(indexPath)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("model: load %s: no %s, %s, %s or %s", dir, weightsFile, weightsIndex, torchBinFile, torchBinIndex)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("model: load %s: %w", dir, err)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, nil, fmt.Errorf("model: load %s: %v", indexPath, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, nil, fmt.Errorf("model: load %s: empty or missing weight_map", indexPath)
	}
	var shards []string
	for name, shard := range idx.WeightMap {
		if shard == "" || shard == "." || shard == ".." || filepath.Base(shard) != shard || strings.ContainsAny(shard, `/\`) {
			return nil, nil, fmt.Errorf("model: load %s: tensor %q: shard %q is not a file name in the checkpoint directory", indexPath, name, shard)
		}
		if !slices.Contains(shards, shard) {
			shards = append(shards, shard)
		}
	}
	sort.Strings(shards)
	for i, shard := range shards {
		if _, err := os.Stat(filepath.Join(dir, shard)); err != nil {
			return nil, nil, fmt.Errorf("model: load %s: shard: %w", indexPath, err)
		}
		shards[i] = filepath.Join(dir, shard)
	}
	return shards, idx.WeightMap, nil
}

// readCheckpointTensors reads model.safetensors, or the shards of model.safetensors.index.json.
// It returns the tensors (nil for those keep skipped), the file each came from, and the file
// that names the checkpoint (model.safetensors or the index).
func readCheckpointTensors(dir string, keep func(string) bool) (ts map[string]*tensors.Tensor, src map[string]string, where string, err error) {
	files, index, err := checkpointFiles(dir)
	if err != nil {
		return nil, nil, "", err
	}
	if err := checkLoadMemory(dir); err != nil {
		return nil, nil, "", err
	}
	if index == nil {
		ts, err := readTensorFile(files[0], keep)
		if err != nil {
			return nil, nil, "", err
		}
		src := make(map[string]string, len(ts))
		for name := range ts {
			src[name] = files[0]
		}
		return ts, src, files[0], nil
	}
	where = filepath.Join(dir, weightsIndex)
	if strings.HasSuffix(files[0], ".bin") {
		where = filepath.Join(dir, torchBinIndex)
	}
	ts = map[string]*tensors.Tensor{}
	src = map[string]string{}
	for _, path := range files {
		shard := filepath.Base(path)
		part, err := readTensorFile(path, keep)
		if err != nil {
			return nil, nil, "", err
		}
		for _, name := range ckptSortedKeys(part) {
			if want, ok := index[name]; !ok || want != shard {
				if !ok {
					want = "no shard"
				}
				return nil, nil, "", fmt.Errorf("model: load %s: tensor %q is in this shard but %s maps it to %s", path, name, weightsIndex, want)
			}
			ts[name], src[name] = part[name], path
		}
	}
	for _, name := range ckptSortedKeys(index) {
		if _, ok := ts[name]; !ok {
			return nil, nil, "", fmt.Errorf("model: load %s: tensor %q: %s maps it to this shard, which does not hold it",
				filepath.Join(dir, index[name]), name, weightsIndex)
		}
	}
	return ts, src, where, nil
}

// readTensorFile reads a safetensors file, or a pytorch_model.bin state dict (.bin).
func readTensorFile(path string, keep func(string) bool) (map[string]*tensors.Tensor, error) {
	if strings.HasSuffix(path, ".bin") {
		return readTorchBin(path, keep)
	}
	ts, _, err := readSafetensorsFile(path, keep)
	return ts, err
}

func ckptSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fromHF converts Hugging Face GPT-2 tensors to Weights for config c, strictly. src names the
// file each tensor came from and where the checkpoint (for errors about absent tensors); ts
// entries may be nil for skipped mask buffers.
func fromHF(c Config, ts map[string]*tensors.Tensor, src map[string]string, where string) (*Weights, error) {
	fileOf := func(name string) string {
		if f, ok := src[name]; ok {
			return f
		}
		return where
	}
	errf := func(name, format string, args ...any) error {
		return fmt.Errorf("model: load %s: tensor %q: "+format, append([]any{fileOf(name), name}, args...)...)
	}

	prefix := ""
	if _, ok := ts["wte.weight"]; !ok {
		for name := range ts {
			if strings.HasPrefix(name, hfPrefix) {
				prefix = hfPrefix
				break
			}
		}
	}
	key := func(name string) string {
		if name == hfLMHead {
			return name
		}
		return prefix + name
	}

	// Every expected tensor present, float32 after conversion, and of the configured shape.
	expected := map[string]bool{}
	get := map[string]*tensors.Tensor{}
	for _, p := range hfParams(c) {
		k := key(p.name)
		expected[k] = true
		t, ok := ts[k]
		if !ok {
			return nil, errf(k, "missing (%s wants shape %v)", configFile, p.shape)
		}
		if t.DType() != dtypes.Float32 {
			return nil, errf(k, "dtype %s, want a float dtype (F32, F16, BF16 or F64)", t.DType())
		}
		if !slices.Equal(t.Shape().Dimensions, p.shape) {
			return nil, errf(k, "shape %v, want %v (from %s)", t.Shape().Dimensions, p.shape, configFile)
		}
		get[p.name] = t
	}
	// Nothing else, except mask buffers and, for tied embeddings, an lm_head equal to wte.
	var unexpected []string
	for name := range ts {
		if expected[name] {
			continue
		}
		if rest, ok := strings.CutPrefix(name, prefix); ok && isMaskBuffer(rest, c.NLayers) {
			continue
		}
		if name == hfLMHead && c.TiedEmbeddings {
			continue
		}
		unexpected = append(unexpected, name)
	}
	if len(unexpected) > 0 {
		sort.Strings(unexpected)
		more := ""
		if len(unexpected) > 1 {
			more = fmt.Sprintf(" (and %d more unexpected: %s)", len(unexpected)-1, strings.Join(unexpected[1:min(len(unexpected), 6)], ", "))
		}
		return nil, errf(unexpected[0], "unexpected for this config (%d layers, attn_only %v, normalization %s, positional embeddings %v, tied %v)%s",
			c.NLayers, c.AttnOnly, c.Normalization, c.PositionalEmbeddings, c.TiedEmbeddings, more)
	}
	if lm, ok := ts[hfLMHead]; ok && c.TiedEmbeddings {
		wte := key("wte.weight")
		if lm == nil || lm.DType() != dtypes.Float32 || !slices.Equal(lm.Shape().Dimensions, []int{c.DVocab, c.DModel}) {
			return nil, errf(hfLMHead, "present in a tied checkpoint (tie_word_embeddings) but not a float tensor of %s's shape %v", wte, []int{c.DVocab, c.DModel})
		}
		a, b := ckptFlat32(lm), ckptFlat32(get["wte.weight"])
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				return nil, errf(hfLMHead, "differs from %s at element %d (%g vs %g) but %s ties the embeddings; set tie_word_embeddings false to use it",
					wte, i, a[i], b[i], configFile)
			}
		}
	}

	D, H, K, V := c.DModel, c.NHeads, c.DHead, c.DVocab
	HK := H * K
	w := &Weights{Config: c, Tensors: map[string]*tensors.Tensor{}}
	w.Tensors["embed.W_E"] = get["wte.weight"]
	if c.PositionalEmbeddings {
		w.Tensors["pos_embed.W_pos"] = get["wpe.weight"]
	}
	ln := func(hf, tl string) {
		if c.HasLN() {
			w.Tensors[tl+".w"] = get[hf+".weight"]
			w.Tensors[tl+".b"] = get[hf+".bias"]
		}
	}
	for l := range c.NLayers {
		hb, tb := "h."+strconv.Itoa(l)+".", "blocks."+strconv.Itoa(l)+"."
		ln(hb+"ln_1", tb+"ln1")
		cw, cb := ckptFlat32(get[hb+"attn.c_attn.weight"]), ckptFlat32(get[hb+"attn.c_attn.bias"])
		for j, n := range []string{"Q", "K", "V"} {
			wq := make([]float32, H*D*K)
			for h := range H {
				for d := range D {
					copy(wq[(h*D+d)*K:(h*D+d+1)*K], cw[d*3*HK+j*HK+h*K:][:K])
				}
			}
			w.Tensors[tb+"attn.W_"+n] = tensors.FromFlatDataAndDimensions(wq, H, D, K)
			w.Tensors[tb+"attn.b_"+n] = tensors.FromFlatDataAndDimensions(cb[j*HK:(j+1)*HK], H, K)
		}
		w.Tensors[tb+"attn.W_O"] = tensors.FromFlatDataAndDimensions(ckptFlat32(get[hb+"attn.c_proj.weight"]), H, K, D)
		w.Tensors[tb+"attn.b_O"] = get[hb+"attn.c_proj.bias"]
		if c.HasMLP() {
			ln(hb+"ln_2", tb+"ln2")
			w.Tensors[tb+"mlp.W_in"] = get[hb+"mlp.c_fc.weight"]
			w.Tensors[tb+"mlp.b_in"] = get[hb+"mlp.c_fc.bias"]
			w.Tensors[tb+"mlp.W_out"] = get[hb+"mlp.c_proj.weight"]
			w.Tensors[tb+"mlp.b_out"] = get[hb+"mlp.c_proj.bias"]
		}
	}
	ln("ln_f", "ln_final")
	if !c.TiedEmbeddings {
		w.Tensors["unembed.W_U"] = tensors.FromFlatDataAndDimensions(ckptTranspose(ckptFlat32(get[hfLMHead]), V, D), D, V)
	}
	if err := w.Check(); err != nil {
		return nil, fmt.Errorf("model: load %s: %w", where, err)
	}
	return w, nil
}

// Save writes w to dir (created if needed). A GPT-2-layout model (Config.GPT2Layout) is written as a
// Hugging Face GPT-2 checkpoint, any other in interp's own layout (family_interp.go), which Load
// reads back. GPT-2: model.safetensors
// (no key prefix; lm_head.weight only when untied; metadata format "pt") and config.json, each
// written atomically (temporary file + rename). The weights are written first, so config.json
// is the last file to change.
func Save(w *Weights, dir string) error {
	if w == nil {
		return fmt.Errorf("model: save %s: nil weights", dir)
	}
	if err := w.Check(); err != nil {
		return fmt.Errorf("model: save %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("model: save %s: %w", dir, err)
	}
	if w.Config.GPT2Layout() != nil {
		return saveInterp(w, dir)
	}
	if err := WriteSafetensors(filepath.Join(dir, weightsFile), toHF(w), map[string]string{"format": hfFormatPyTorch}); err != nil {
		return err
	}
	return WriteHFConfig(w.Config, filepath.Join(dir, configFile))
}

// toHF converts checked weights to the Hugging Face GPT-2 layout (no prefix). Tensors whose
// layout is the same are shared, not copied.
func toHF(w *Weights) map[string]*tensors.Tensor {
	c := w.Config
	D, H, K, V := c.DModel, c.NHeads, c.DHead, c.DVocab
	HK := H * K
	out := map[string]*tensors.Tensor{"wte.weight": w.Tensors["embed.W_E"]}
	if c.PositionalEmbeddings {
		out["wpe.weight"] = w.Tensors["pos_embed.W_pos"]
	}
	ln := func(tl, hf string) {
		if c.HasLN() {
			out[hf+".weight"] = w.Tensors[tl+".w"]
			out[hf+".bias"] = w.Tensors[tl+".b"]
		}
	}
	for l := range c.NLayers {
		hb, tb := "h."+strconv.Itoa(l)+".", "blocks."+strconv.Itoa(l)+"."
		ln(tb+"ln1", hb+"ln_1")
		cw := make([]float32, D*3*HK)
		cb := make([]float32, 3*HK)
		for j, n := range []string{"Q", "K", "V"} {
			wj := ckptFlat32(w.Tensors[tb+"attn.W_"+n])
			for h := range H {
				for d := range D {
					copy(cw[d*3*HK+j*HK+h*K:][:K], wj[(h*D+d)*K:(h*D+d+1)*K])
				}
			}
			copy(cb[j*HK:(j+1)*HK], ckptFlat32(w.Tensors[tb+"attn.b_"+n]))
		}
		out[hb+"attn.c_attn.weight"] = tensors.FromFlatDataAndDimensions(cw, D, 3*HK)
		out[hb+"attn.c_attn.bias"] = tensors.FromFlatDataAndDimensions(cb, 3*HK)
		out[hb+"attn.c_proj.weight"] = tensors.FromFlatDataAndDimensions(ckptFlat32(w.Tensors[tb+"attn.W_O"]), HK, D)
		out[hb+"attn.c_proj.bias"] = w.Tensors[tb+"attn.b_O"]
		if c.HasMLP() {
			ln(tb+"ln2", hb+"ln_2")
			out[hb+"mlp.c_fc.weight"] = w.Tensors[tb+"mlp.W_in"]
			out[hb+"mlp.c_fc.bias"] = w.Tensors[tb+"mlp.b_in"]
			out[hb+"mlp.c_proj.weight"] = w.Tensors[tb+"mlp.W_out"]
			out[hb+"mlp.c_proj.bias"] = w.Tensors[tb+"mlp.b_out"]
		}
	}
	ln("ln_final", "ln_f")
	if !c.TiedEmbeddings {
		out[hfLMHead] = tensors.FromFlatDataAndDimensions(ckptTranspose(ckptFlat32(w.Tensors["unembed.W_U"]), D, V), V, D)
	}
	return out
}

// ckptFlat32 returns the float32 data of t without copying; it must not be modified.
func ckptFlat32(t *tensors.Tensor) []float32 {
	var out []float32
	tensors.MustConstFlatData(t, func(flat []float32) { out = flat })
	return out
}

// transpose returns the [cols, rows] transpose of a row-major [rows, cols] matrix.
func ckptTranspose(a []float32, rows, cols int) []float32 {
	out := make([]float32, len(a))
	for r := range rows {
		for c := range cols {
			out[c*rows+r] = a[r*cols+c]
		}
	}
	return out
}
