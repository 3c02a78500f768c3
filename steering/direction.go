package steering

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// Where each prompt's activation is read.
const (
	AtLast = "last" // the prompt's last token
	AtMean = "mean" // the mean over the prompt's tokens
)

// Direction is a steering vector found at a hook.
type Direction struct {
	Hook string
	// Vector has the hook's per-position shape: the activation's dimensions after [B, P].
	Vector *tensors.Tensor
	At     string // AtLast or AtMean
	// NPositive and NNegative count the prompts of each set.
	NPositive, NNegative int
	// Model names the model the direction was found on ("" when unknown).
	Model string
}

// Norm is the vector's Euclidean norm.
func (d *Direction) Norm() float64 {
	s := 0.0
	for _, x := range tensors.MustCopyFlatData[float32](d.Vector) {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// DiffMeans returns mean(positive) - mean(negative) of the activation at hook, read at each
// prompt's last token or averaged over its tokens (at). Prompts are token ids; prompts of one
// length run as one batch. Sums are accumulated in float64.
func DiffMeans(m *model.Model, hook string, positive, negative [][]int, at string) (*Direction, error) {
	if at == "" {
		at = AtLast
	}
	if at != AtLast && at != AtMean {
		return nil, fmt.Errorf("steering: position %q: want %s or %s", at, AtLast, AtMean)
	}
	if len(positive) == 0 || len(negative) == 0 {
		return nil, fmt.Errorf("steering: need prompts in both sets (got %d positive, %d negative)", len(positive), len(negative))
	}
	pos, dims, err := meanActivation(m, hook, positive, at)
	if err != nil {
		return nil, fmt.Errorf("steering: positive prompts: %w", err)
	}
	neg, _, err := meanActivation(m, hook, negative, at)
	if err != nil {
		return nil, fmt.Errorf("steering: negative prompts: %w", err)
	}
	v := make([]float32, len(pos))
	for i := range v {
		v[i] = float32(pos[i] - neg[i])
	}
	return &Direction{Hook: hook, Vector: tensors.FromFlatDataAndDimensions(v, dims...), At: at,
		NPositive: len(positive), NNegative: len(negative)}, nil
}

// meanActivation is the mean over prompts of hook's activation at each prompt's position(s),
// flattened, and the per-position dimensions.
func meanActivation(m *model.Model, hook string, prompts [][]int, at string) ([]float64, []int, error) {
	byLen := map[int][][]int{}
	for i, p := range prompts {
		if len(p) == 0 {
			return nil, nil, fmt.Errorf("prompt %d is empty", i)
		}
		byLen[len(p)] = append(byLen[len(p)], p)
	}
	lens := make([]int, 0, len(byLen))
	for n := range byLen {
		lens = append(lens, n)
	}
	sort.Ints(lens)
	var sum []float64
	var dims []int
	for _, n := range lens {
		tok, err := model.Tokens(byLen[n])
		if err != nil {
			return nil, nil, err
		}
		out, err := m.Run(tok, hooks.New().Cache(hook))
		if err != nil {
			return nil, nil, err
		}
		act := out.Cache.MustGet(hook)
		d := act.Shape().Dimensions
		if len(d) < 3 {
			return nil, nil, fmt.Errorf("hook %s has shape %v, not [batch, pos, ...]", hook, d)
		}
		B, P, per := d[0], d[1], 1
		for _, x := range d[2:] {
			per *= x
		}
		if sum == nil {
			sum, dims = make([]float64, per), append([]int(nil), d[2:]...)
		}
		flat := tensors.MustCopyFlatData[float32](act)
		for b := range B {
			first := P - 1
			if at == AtMean {
				first = 0
			}
			w := 1 / float64(P-first)
			for p := first; p < P; p++ {
				row := flat[(b*P+p)*per : (b*P+p+1)*per]
				for i, x := range row {
					sum[i] += w * float64(x)
				}
			}
		}
	}
	for i := range sum {
		sum[i] /= float64(len(prompts))
	}
	return sum, dims, nil
}

// Save writes the direction as safetensors: the tensor "direction" and metadata (hook, at,
// counts, model, norm), atomically.
func (d *Direction) Save(path string) error {
	meta := map[string]string{
		"format": "interp-direction", "hook": d.Hook, "at": d.At,
		"n_positive": strconv.Itoa(d.NPositive), "n_negative": strconv.Itoa(d.NNegative),
		"model": d.Model, "norm": strconv.FormatFloat(d.Norm(), 'g', 6, 64),
	}
	return model.WriteSafetensors(path, map[string]*tensors.Tensor{"direction": d.Vector}, meta)
}

// LoadDirection reads a direction written by Save, or any safetensors file holding exactly one
// float32 tensor (its metadata may then be absent).
func LoadDirection(path string) (*Direction, error) {
	ts, meta, err := model.ReadSafetensors(path)
	if err != nil {
		return nil, err
	}
	v, ok := ts["direction"]
	if !ok {
		if len(ts) != 1 {
			names := make([]string, 0, len(ts))
			for n := range ts {
				names = append(names, n)
			}
			sort.Strings(names)
			return nil, fmt.Errorf("steering: %s: no tensor \"direction\", and %d tensors %v to choose from", path, len(ts), names)
		}
		for _, t := range ts {
			v = t
		}
	}
	if v.DType().String() != "Float32" {
		return nil, fmt.Errorf("steering: %s: direction has dtype %s, want float32", path, v.DType())
	}
	if v.Shape().Size() == 0 {
		return nil, errors.New("steering: " + path + ": empty direction")
	}
	d := &Direction{Hook: meta["hook"], Vector: v, At: meta["at"], Model: meta["model"]}
	d.NPositive, _ = strconv.Atoi(meta["n_positive"])
	d.NNegative, _ = strconv.Atoi(meta["n_negative"])
	return d, nil
}
