package model

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// interp's own checkpoint layout, for architectures GPT-2's config.json cannot express (a
// Llama-style model trained by interp train): config.json {"model_type": "interp",
// "interp_config": Config} and model.safetensors keyed by TransformerLens names (ParamSpecs).

const interpModelType = "interp"

func init() {
	registerFamily(interpModelType, family{config: interpConfig, weights: interpWeights})
}

func interpConfig(hf hfArch) (Config, error) {
	if hf.Interp == nil {
		return Config{}, fmt.Errorf("no interp_config")
	}
	return *hf.Interp, nil
}

func interpWeights(c Config, _ hfArch, ck *checkpoint) map[string]*tensors.Tensor {
	out := map[string]*tensors.Tensor{}
	for _, s := range ParamSpecs(c) {
		out[s.Name] = ck.tensor(s.Name, s.Shape...)
	}
	return out
}

// saveInterp writes checked weights in interp's own layout.
func saveInterp(w *Weights, dir string) error {
	if err := WriteSafetensors(filepath.Join(dir, weightsFile), w.Tensors, map[string]string{"format": hfFormatPyTorch}); err != nil {
		return err
	}
	data, err := json.MarshalIndent(struct {
		ModelType string `json:"model_type"`
		Config    Config `json:"interp_config"`
	}{interpModelType, w.Config}, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, configFile), append(data, '\n'))
}
