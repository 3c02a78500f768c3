package model

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// builtin models are built in code, deterministically, so every tool has a model to run on a
// fresh machine with no downloads. They have random (untrained) weights: they exercise the
// engine, they do not contain circuits. Trained defaults are added by the training work.
var builtin = map[string]struct {
	about string
	make  func() (*Weights, error)
}{
	"toy-gpt2": {
		about: "2-layer GPT-2-layout model (d_model 64, 4 heads, MLP 256, GPT-2 tokenizer), random weights, seed 0",
		make: func() (*Weights, error) {
			c := Config{NLayers: 2, DModel: 64, NHeads: 4, DHead: 16, DMLP: 256, NCtx: 128, DVocab: 50257,
				Act: GeluNew, Normalization: LayerNorm, PositionalEmbeddings: true, TiedEmbeddings: true,
				LNEps: 1e-5, Tokenizer: "gpt2"}
			return NewRandomWeights(c, 0)
		},
	},
	"toy-attn-only": {
		about: "2-layer attention-only model (d_model 64, 8 heads, vocab 512, no LayerNorm), random weights, seed 0",
		make: func() (*Weights, error) {
			return NewRandomWeights(AttnOnlyToy(2, 8, 64, 512, 128), 0)
		},
	},
}

// RegisterBuiltin adds a model built in code under name, for packages that construct models
// (the planted-circuit models of circuits/ register themselves this way). It panics on a
// duplicate name: built-in names are fixed at init time.
func RegisterBuiltin(name, about string, make func() (*Weights, error)) {
	if _, dup := builtin[name]; dup {
		panic("model: RegisterBuiltin: duplicate built-in model " + name)
	}
	builtin[name] = struct {
		about string
		make  func() (*Weights, error)
	}{about, make}
}

// DefaultModel is the model commands use when --model is not given.
const DefaultModel = "ioi-toy"

// BuiltinNames lists the built-in models (embedded trained models and models built in code)
// with a line about each.
func BuiltinNames() []string {
	var out []string
	for n, b := range builtin {
		out = append(out, n+": "+b.about)
	}
	for _, n := range embeddedNames() {
		out = append(out, n+": "+embeddedAbout(n))
	}
	sort.Strings(out)
	return out
}

// LoadAny loads a model by directory (config.json + model.safetensors, Hugging Face GPT-2
// layout) or by built-in name (an embedded trained model, or one built in code). It returns the weights and the directory ("" for built-ins),
// where a tokenizer may live.
func LoadAny(spec string) (*Weights, string, error) {
	if spec == "" {
		spec = DefaultModel
	}
	if st, err := os.Stat(spec); err == nil {
		if !st.IsDir() {
			return nil, "", fmt.Errorf("model %s: not a directory (want a folder with config.json and model.safetensors)", spec)
		}
		w, err := Load(spec)
		return w, spec, err
	}
	if b, ok := builtin[spec]; ok {
		w, err := b.make()
		return w, "", err
	}
	names := embeddedNames()
	for _, n := range names {
		if n == spec {
			dir, err := embeddedDir(n)
			if err != nil {
				return nil, "", err
			}
			w, err := Load(dir)
			return w, dir, err
		}
	}
	for n := range builtin {
		names = append(names, n)
	}
	sort.Strings(names)
	return nil, "", fmt.Errorf("model %q: no such directory and not a built-in model (built-ins: %s)", spec, strings.Join(names, ", "))
}
