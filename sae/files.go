package sae

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/internal/atomicfile"
	"github.com/interp-dev/interp/model"
)

// SAELens layout: a directory with cfg.json and sae_weights.safetensors (W_enc [d_in, d_sae],
// b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in], threshold [d_sae] for JumpReLU).
//
// cfg.json is written so that both current SAELens (6.x, fields under "metadata") and 5.x (flat
// fields: hook_name, hook_layer, activation_fn_kwargs, ...) load it: the inference fields at the
// top level, the descriptive ones both flat and under "metadata". metadata.sae_lens_version
// names the 6.x layout written (SAELensFormatVersion), so SAELens 6 reads the file as it is:
// without it SAELens runs its pre-6.0 migration, which rebuilds "metadata" from the flat fields
// and drops the others (hook_name_out among them). SAELens 5 reads the flat fields.
// Fields of this package (head mode, training architecture, normalisation factor) go under
// "interp", which SAELens ignores.

// SAELensFormatVersion is the SAELens version whose cfg.json layout Save writes (the 6.x layout the
// peer check loaded with SAELens 6.18). It is recorded as metadata.sae_lens_version.
const SAELensFormatVersion = "6.18.0"

// File names of the SAELens layout.
const (
	CfgFile     = "cfg.json"
	WeightsFile = "sae_weights.safetensors"
)

// Save writes s to dir (created if needed) in the SAELens layout: the weights first, then
// cfg.json, each atomically (temporary file + rename). A BatchTopK SAE is written as a JumpReLU
// with its global threshold in every latent, as SAELens does.
func Save(s *SAE, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("sae: save: %w", err)
	}
	ts := make(map[string]*tensors.Tensor, len(s.Params))
	for name, t := range s.Params {
		ts[name] = t
	}
	if err := model.WriteSafetensors(filepath.Join(dir, WeightsFile), ts, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("sae: save: %w", err)
	}
	data, err := json.MarshalIndent(cfgDict(s.Config), "", "  ")
	if err != nil {
		return fmt.Errorf("sae: save: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, CfgFile), append(data, '\n'))
}

// writeFileAtomic writes data to a temporary file beside path, syncs it and renames it into place.
func writeFileAtomic(path string, data []byte) error {
	if err := atomicfile.WriteBytes(path, data); err != nil {
		return fmt.Errorf("sae: %w", err)
	}
	return nil
}

// isTranscoder reports whether c reconstructs another hook or width, or has a skip term.
func (c Config) isTranscoder() bool { return c.Target.Hook != "" || c.Out() != c.DIn || c.Skip }

// savedArch is the architecture name SAELens uses for c: its transcoder names for transcoders
// (transcoder, skip_transcoder, jumprelu_transcoder, jumprelu_skip_transcoder; SAELens releases
// that predate JumpReLUSkipTranscoder, 6.18 among them, refuse the last). SAELens has no TopK
// transcoder: saved as "topk" it would load as a plain SAE on the input hook, losing d_out and
// hook_name_out and splicing its output into the wrong hook, so it is written as
// "topk_transcoder" (or "topk_skip_transcoder"), a name SAELens refuses as unknown and this
// package reads back exactly.
func savedArch(c Config) string {
	name := map[Arch]string{ReLU: "standard", TopK: "topk", BatchTopK: "jumprelu", JumpReLU: "jumprelu", Gated: "gated"}[c.Arch]
	if c.isTranscoder() {
		name = map[string]string{"standard": "transcoder", "jumprelu": "jumprelu_transcoder", "topk": "topk_transcoder"}[name]
		if c.Skip {
			name = strings.Replace(name, "transcoder", "skip_transcoder", 1)
		}
	}
	return name
}

// cfgDict is c as a SAELens cfg.json object.
func cfgDict(c Config) map[string]any {
	act := "relu"
	kwargs := map[string]any{}
	if c.Arch == TopK {
		act = "topk"
		kwargs["k"] = c.K
	}
	reshape := "none"
	var head any
	switch c.Site.Heads {
	case HeadsConcat:
		reshape = "hook_z"
	case HeadsSingle:
		head = c.Site.Head
	}
	layer, _ := hooks.Layer(c.Site.Hook)
	meta := map[string]any{
		"model_name":                   c.Meta.ModelName,
		"hook_name":                    c.Site.Hook,
		"hook_head_index":              head,
		"context_size":                 c.Meta.ContextSize,
		"prepend_bos":                  c.Meta.PrependBOS,
		"dataset_path":                 c.Meta.DatasetPath,
		"model_from_pretrained_kwargs": map[string]any{},
		"sae_lens_version":             SAELensFormatVersion,
	}
	for k, v := range c.Meta.Extra {
		if _, ok := meta[k]; !ok {
			meta[k] = v
		}
	}
	d := map[string]any{
		"architecture":              savedArch(c),
		"d_in":                      c.DIn,
		"d_sae":                     c.DSAE,
		"dtype":                     "float32",
		"device":                    "cpu",
		"apply_b_dec_to_input":      c.ApplyBDecToInput,
		"normalize_activations":     cmp.Or(c.RuntimeNorm, "none"),
		"reshape_activations":       reshape,
		"activation_fn":             act,
		"activation_fn_str":         act,
		"activation_fn_kwargs":      kwargs,
		"finetuning_scaling_factor": false,
		"metadata":                  meta,
	}
	for _, k := range []string{"model_name", "hook_name", "hook_head_index", "context_size", "prepend_bos",
		"dataset_path", "model_from_pretrained_kwargs"} {
		d[k] = meta[k]
	}
	d["hook_layer"] = max(layer, 0)
	if c.Arch == TopK {
		d["k"] = c.K
		d["rescale_acts_by_decoder_norm"] = false
	}
	in := map[string]any{"head_mode": string(c.Site.Heads)}
	if c.Arch == BatchTopK {
		in["training_architecture"] = "batchtopk"
		in["k"] = c.K
	}
	if c.Meta.NormScale != 0 {
		in["norm_scale"] = c.Meta.NormScale
	}
	if c.isTranscoder() {
		d["d_out"] = c.Out()
		d["hook_name_out"] = c.TargetSite().Hook
		meta["hook_name_out"] = c.TargetSite().Hook
		in["d_out"] = c.Out()
		in["target_hook"] = c.TargetSite().Hook
		in["target_head_mode"] = string(c.TargetSite().Heads)
		in["target_head"] = c.TargetSite().Head
		in["skip"] = c.Skip
	}
	d["interp"] = in
	return d
}

// Load reads an SAE in the SAELens layout from dir onto backend. It accepts the files this
// package writes, current SAELens (6.x, "metadata" object) and older ones (5.x flat fields,
// "hook_point" names, activation_fn "topk" with activation_fn_kwargs.k, boolean
// normalize_activations, log_threshold instead of threshold, an all-ones scaling_factor). TopK
// SAEs saved with rescale_acts_by_decoder_norm have their decoder norms folded in (exact).
// Loading is strict: a missing, mis-shaped or unexpected tensor, or a field this package cannot
// honour, is an error naming it.
func Load(dir string, backend backends.Backend) (*SAE, error) { return load(dir, "", backend) }

// load is Load; hook, when given, is the hook the SAE reads if cfg.json names none (some
// published SAELens folders leave hook_name out).
func load(dir, hook string, backend backends.Backend) (*SAE, error) {
	cfgPath := filepath.Join(dir, CfgFile)
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("sae: load %s: %w", dir, err)
	}
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("sae: load %s: %w", cfgPath, err)
	}
	c, fold, err := parseCfg(d, hook)
	if err != nil {
		return nil, fmt.Errorf("sae: load %s: %w", cfgPath, err)
	}
	wPath := filepath.Join(dir, WeightsFile)
	ts, _, err := model.ReadSafetensors(wPath)
	if err != nil {
		return nil, fmt.Errorf("sae: load: %w", err)
	}
	if err := normaliseTensors(c, ts); err != nil {
		return nil, fmt.Errorf("sae: load %s: %w", wPath, err)
	}
	if err := checkParams(c, ts, "sae: load "+wPath); err != nil {
		return nil, err
	}
	s, err := New(c, ts, backend)
	if err != nil {
		return nil, err
	}
	if fold {
		s.foldDecoderNorms()
	}
	return s, nil
}

// normaliseTensors turns older tensor names into current ones: log_threshold -> threshold, an
// all-ones scaling_factor is dropped (any other value is an error: finetuning scaling is not
// supported).
func normaliseTensors(c Config, ts map[string]*tensors.Tensor) error {
	if lt, ok := ts["log_threshold"]; ok {
		if _, dup := ts["threshold"]; dup {
			return errors.New("both threshold and log_threshold present")
		}
		if lt.DType() != dtypes.Float32 {
			return fmt.Errorf("tensor \"log_threshold\" is %s, want a float", lt.DType())
		}
		v := tensors.MustCopyFlatData[float32](lt)
		for i := range v {
			v[i] = float32(math.Exp(float64(v[i])))
		}
		ts["threshold"] = tensors.FromFlatDataAndDimensions(v, lt.Shape().Dimensions...)
		delete(ts, "log_threshold")
	}
	for _, name := range []string{"scaling_factor", "finetuning_scaling_factor"} {
		sf, ok := ts[name]
		if !ok {
			continue
		}
		if sf.DType() != dtypes.Float32 {
			return fmt.Errorf("tensor %q is %s, want a float", name, sf.DType())
		}
		for _, x := range tensors.MustCopyFlatData[float32](sf) {
			if x != 1 {
				return fmt.Errorf("tensor %q is not all ones: finetuning scaling factors are not supported", name)
			}
		}
		delete(ts, name)
	}
	return nil
}

// parseCfg reads a SAELens cfg.json object. fold reports a TopK SAE trained with
// rescale_acts_by_decoder_norm, whose decoder norms must be folded into the weights.
func parseCfg(d map[string]any, defaultHook string) (c Config, fold bool, err error) {
	meta, _ := d["metadata"].(map[string]any)
	// field reads a top-level field, then (for descriptive fields) the metadata object, then
	// the pre-6 names.
	field := func(names ...string) (any, bool) {
		for _, n := range names {
			if v, ok := d[n]; ok && v != nil {
				return v, true
			}
			if v, ok := meta[n]; ok && v != nil {
				return v, true
			}
		}
		return nil, false
	}
	intField := func(name string, required bool, alts ...string) (int, error) {
		v, ok := field(append([]string{name}, alts...)...)
		if !ok {
			if required {
				return 0, fmt.Errorf("missing field %q", name)
			}
			return 0, nil
		}
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) {
			return 0, fmt.Errorf("field %q = %v is not an integer", name, v)
		}
		return int(f), nil
	}
	str := func(names ...string) string {
		v, _ := field(names...)
		s, _ := v.(string)
		return s
	}

	arch := str("architecture")
	act := str("activation_fn", "activation_fn_str")
	kwargs, _ := d["activation_fn_kwargs"].(map[string]any)
	in, _ := d["interp"].(map[string]any)
	switch {
	case arch == "" && act == "topk", arch == "standard" && act == "topk" && kwargs["k"] != nil:
		arch = "topk" // pre-6 configs name TopK by its activation function
	case arch == "":
		arch = "standard"
	}
	switch arch {
	case "standard", "transcoder", "skip_transcoder":
		c.Arch = ReLU
	case "topk", "topk_transcoder", "topk_skip_transcoder":
		c.Arch = TopK
	case "gated":
		c.Arch = Gated
	case "jumprelu", "jumprelu_transcoder", "jumprelu_skip_transcoder":
		c.Arch = JumpReLU
		if t, _ := in["training_architecture"].(string); t == "batchtopk" {
			c.Arch = BatchTopK
		}
	default:
		return c, false, fmt.Errorf("architecture %q is not supported (supported: standard, topk, jumprelu, gated, and the transcoders: transcoder, skip_transcoder, jumprelu_transcoder, jumprelu_skip_transcoder, and interp's topk_transcoder, topk_skip_transcoder)", arch)
	}
	if strings.HasSuffix(arch, "transcoder") {
		c.Skip = strings.Contains(arch, "skip")
		if c.DOut, err = intField("d_out", true); err != nil {
			return c, false, err
		}
		c.Target.Hook = str("hook_name_out")
		if c.Target.Hook == "" {
			return c, false, errors.New("missing field \"hook_name_out\" for a transcoder")
		}
	}
	if act != "" && act != "relu" && act != "topk" {
		return c, false, fmt.Errorf("activation_fn %q is not supported", act)
	}
	if c.DIn, err = intField("d_in", true); err != nil {
		return c, false, err
	}
	if c.DSAE, err = intField("d_sae", true); err != nil {
		return c, false, err
	}
	if c.Arch == TopK || c.Arch == BatchTopK {
		k, kerr := intField("k", false)
		if kerr != nil {
			return c, false, kerr
		}
		if kf, ok := kwargs["k"].(float64); k == 0 && ok {
			k = int(kf)
		}
		if kf, ok := in["k"].(float64); k == 0 && ok {
			k = int(kf)
		}
		if k == 0 {
			return c, false, errors.New("missing field \"k\" for a topk SAE")
		}
		c.K = k
	}
	if c.Arch == TopK {
		if r, ok := d["rescale_acts_by_decoder_norm"].(bool); ok && r {
			fold = true
		}
	}
	c.ApplyBDecToInput = !strings.HasSuffix(arch, "transcoder") // SAELens's default before 6.0; transcoders never
	if v, ok := d["apply_b_dec_to_input"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return c, false, fmt.Errorf("field \"apply_b_dec_to_input\" = %v is not a boolean", v)
		}
		c.ApplyBDecToInput = b
	}
	switch v := d["normalize_activations"].(type) {
	case nil, bool:
		// false: none; true (pre-6): expected_average_only_in, which SAELens does not apply at
		// inference either.
	case string:
		switch v {
		case "none", "expected_average_only_in":
		case NormConstant, NormLayer:
			c.RuntimeNorm = v // applied on every row at run time, as SAELens does
		default:
			return c, false, fmt.Errorf("normalize_activations %q is not supported (supported: none, expected_average_only_in, %s, %s)", v, NormConstant, NormLayer)
		}
	default:
		return c, false, fmt.Errorf("field \"normalize_activations\" = %v is not a string", v)
	}
	c.Site.Hook = str("hook_name", "hook_point")
	if c.Site.Hook == "" {
		c.Site.Hook = defaultHook
	}
	if c.Site.Hook == "" {
		return c, false, errors.New("missing field \"hook_name\" (give the hook the SAE reads, --sae-hook)")
	}
	if h, ok := field("hook_head_index", "hook_point_head_index"); ok {
		f, isNum := h.(float64)
		if !isNum || f < 0 || f != math.Trunc(f) {
			return c, false, fmt.Errorf("field \"hook_head_index\" = %v is not a head index", h)
		}
		c.Site.Heads, c.Site.Head = HeadsSingle, int(f)
	} else if r := str("reshape_activations"); r == "hook_z" {
		c.Site.Heads = HeadsConcat
	}
	if hm, ok := in["head_mode"].(string); ok && c.Site.Heads == NoHeads {
		c.Site.Heads = HeadMode(hm)
	}
	if dOut, ok := in["d_out"].(float64); ok {
		c.DOut = int(dOut)
		c.Target.Hook, _ = in["target_hook"].(string)
		if hm, ok := in["target_head_mode"].(string); ok {
			c.Target.Heads = HeadMode(hm)
		}
		if h, ok := in["target_head"].(float64); ok {
			c.Target.Head = int(h)
		}
		c.Skip, _ = in["skip"].(bool)
	}
	c.Meta.ModelName = str("model_name")
	c.Meta.DatasetPath = str("dataset_path")
	c.Meta.ContextSize, _ = intField("context_size", false)
	if b, ok := field("prepend_bos"); ok {
		c.Meta.PrependBOS, _ = b.(bool)
	}
	if s, ok := in["norm_scale"].(float64); ok {
		c.Meta.NormScale = s
	}
	// sae_lens_version names the file's layout, which Save writes anew (SAELensFormatVersion);
	// a sae_lens_training_version (who trained it) is kept in Extra.
	known := []string{"model_name", "hook_name", "hook_head_index", "context_size", "prepend_bos", "dataset_path",
		"model_from_pretrained_kwargs", "hook_name_out", "sae_lens_version"}
	for k, v := range meta {
		if !slices.Contains(known, k) {
			if c.Meta.Extra == nil {
				c.Meta.Extra = map[string]any{}
			}
			c.Meta.Extra[k] = v
		}
	}
	if dt := str("dtype"); dt != "" && !knownDType(dt) {
		return c, false, fmt.Errorf("dtype %q is not supported", dt)
	}
	return c, fold, c.Validate()
}

func knownDType(s string) bool {
	s = strings.TrimPrefix(s, "torch.")
	return slices.Contains([]string{"float32", "float16", "bfloat16", "float64"}, s)
}

// foldDecoderNorms rescales each latent so its decoder row has unit norm without changing the
// SAE's output: b_enc and W_enc columns are multiplied by the row norm (SAELens _fold_norm_topk;
// for a TopK SAE that selected on pre * ||W_dec[j]|| this gives the plain TopK selection).
func (s *SAE) foldDecoderNorms() {
	c := s.Config
	D, F := c.Out(), c.DSAE
	wdec, wenc, benc := s.Flat("W_dec"), s.Flat("W_enc"), s.Flat("b_enc")
	for j := range F {
		n := float32(max(norm(wdec[j*D:(j+1)*D]), 1e-8))
		for i := range D {
			wdec[j*D+i] /= n
		}
		for i := range c.DIn {
			wenc[i*F+j] *= n
		}
		benc[j] *= n
	}
	s.Params["W_dec"] = tensors.FromFlatDataAndDimensions(wdec, F, D)
	s.Params["W_enc"] = tensors.FromFlatDataAndDimensions(wenc, c.DIn, F)
	s.Params["b_enc"] = tensors.FromFlatDataAndDimensions(benc, F)
}
