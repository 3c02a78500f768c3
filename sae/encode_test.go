package sae

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/interp-dev/interp/model"
)

func TestHostSelection(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	const n, f, k = 300, 50, 7
	pre := randFlat(rng, n*f, 1)
	// Rows of very different scales and signs exercise both the estimate and the fallback.
	for r := range n {
		scale := float32(math.Pow(10, float64(r%7-3)))
		if r%5 == 0 {
			scale = -scale
		}
		for j := range f {
			pre[r*f+j] *= scale
		}
	}
	thr := rowThresholds(pre, n, f, k)
	for r := range n {
		row := slices.Clone(pre[r*f : (r+1)*f])
		slices.Sort(row)
		want := max(row[f-k], tinyPositive)
		if thr[r] != want {
			t.Fatalf("row %d: threshold %g, want %g", r, thr[r], want)
		}
	}
	dead := []int{1, 5, 9, 20, 33, 49}
	aux := auxThresholds(pre, n, f, 3, dead)
	for r := range n {
		var vals []float32
		for _, j := range dead {
			vals = append(vals, pre[r*f+j])
		}
		slices.Sort(vals)
		if aux[r] != vals[len(vals)-3] {
			t.Fatalf("row %d: aux threshold %g, want %g", r, aux[r], vals[len(vals)-3])
		}
	}
	all := slices.Clone(pre)
	slices.Sort(all)
	for _, kn := range []int{1, 100, 2000, 7000} {
		if got, want := batchThreshold(pre, kn), all[len(all)-kn]; got != want {
			t.Errorf("batch threshold for %d: %g, want %g", kn, got, want)
		}
	}
	if got := batchThreshold(pre, n*f); got != tinyPositive {
		t.Errorf("batch threshold with k*n = every value: %g, want the smallest positive float", got)
	}
}

// TestEncodePaths checks the three ways of encoding agree: the in-graph activation used when
// splicing (TopK by k rounds of max), the host-threshold path of Encode, and a plain Go loop.
func TestEncodePaths(t *testing.T) {
	b, _ := model.MustNewBackend("")
	rng := rand.New(rand.NewPCG(2, 2))
	for _, arch := range Archs() {
		t.Run(string(arch), func(t *testing.T) {
			c := Config{Arch: arch, DIn: 8, DSAE: 24, K: 5, ApplyBDecToInput: true, Site: Site{Hook: "x"}}
			s, err := NewRandom(c, b, InitOptions{Seed: 5, DecoderNorm: 1, Threshold: 0.3})
			if err != nil {
				t.Fatal(err)
			}
			s.Params["b_dec"] = tensors.FromFlatDataAndDimensions(randFlat(rng, 8, 0.2), 8)
			if c.HasThreshold() {
				s.Params["threshold"] = tensors.FromFlatDataAndDimensions(randFlat(rng, 24, 0.3), 24)
			}
			bias := "b_enc"
			if arch == Gated {
				bias = "b_gate"
				s.Params["b_gate"] = tensors.FromFlatDataAndDimensions(randFlat(rng, 24, 0.3), 24)
				s.Params["r_mag"] = tensors.FromFlatDataAndDimensions(randFlat(rng, 24, 0.5), 24)
				s.Params["b_mag"] = tensors.FromFlatDataAndDimensions(randFlat(rng, 24, 0.3), 24)
			}
			const n = 30
			x := tensors.FromFlatDataAndDimensions(randFlat(rng, n*8, 1), n, 8)
			f, err := s.Encode(x)
			if err != nil {
				t.Fatal(err)
			}
			got := tensors.MustCopyFlatData[float32](f)
			inGraph := tensors.MustCopyFlatData[float32](MustExecOnce(b, func(in []*Node) *Node {
				return EncodeGraph(c, NodesFrom(c, in[1:]), in[0])
			}, append([]any{x}, asAny(s.paramList())...)...))
			// Plain loop.
			wenc, benc, bdec := s.Flat("W_enc"), s.Flat(bias), s.Flat("b_dec")
			xs := tensors.MustCopyFlatData[float32](x)
			want := make([]float32, n*24)
			for r := range n {
				pre := make([]float32, 24)
				for j := range 24 {
					v := benc[j]
					for i := range 8 {
						v += (xs[r*8+i] - bdec[i]) * wenc[i*24+j]
					}
					pre[j] = v
				}
				sorted := slices.Clone(pre)
				slices.Sort(sorted)
				for j, v := range pre {
					keep := v > 0
					switch arch {
					case TopK:
						keep = keep && v >= sorted[24-5]
					case JumpReLU, BatchTopK:
						keep = v > max(s.Flat("threshold")[j], 0)
					}
					if arch == Gated { // the gate picks, the magnitude path sets the value
						mag := float32(0)
						for i := range 8 {
							mag += (xs[r*8+i] - bdec[i]) * wenc[i*24+j] * float32(math.Exp(float64(s.Flat("r_mag")[j])))
						}
						v = max(mag+s.Flat("b_mag")[j], 0)
					}
					if keep {
						want[r*24+j] = v
					}
				}
			}
			for i := range want {
				if d := got[i] - want[i]; d > 1e-5 || d < -1e-5 {
					t.Fatalf("Encode[%d] = %g, plain loop %g", i, got[i], want[i])
				}
				if d := inGraph[i] - want[i]; d > 1e-5 || d < -1e-5 {
					t.Fatalf("EncodeGraph[%d] = %g, plain loop %g", i, inGraph[i], want[i])
				}
			}
			// Decode(Encode(x)) is Reconstruct(x).
			dec, err := s.Decode(f, nil)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := s.Reconstruct(x)
			if err != nil {
				t.Fatal(err)
			}
			if d, _ := maxAbsDiff(tensors.MustCopyFlatData[float32](dec), tensors.MustCopyFlatData[float32](rec)); d > 1e-5 {
				t.Errorf("Decode(Encode(x)) differs from Reconstruct(x) by %g", d)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	b, _ := model.MustNewBackend("")
	s, err := NewRandom(Config{Arch: ReLU, DIn: 4, DSAE: 8, Site: Site{Hook: "x"}}, b, InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Encode(tensors.FromFlatDataAndDimensions(make([]float32, 10), 2, 5)); err == nil {
		t.Error("rows of width 5 accepted by an SAE with d_in 4")
	}
	if _, err := s.Decode(tensors.FromFlatDataAndDimensions(make([]float32, 6), 2, 3), nil); err == nil {
		t.Error("latents of width 3 accepted by an SAE with d_sae 8")
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{Arch: TopK, DIn: 4, DSAE: 8, K: 2, Site: Site{Hook: "x"}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := map[string]Config{
		"arch":     {Arch: "matching_pursuit", DIn: 4, DSAE: 8},
		"gated tc": {Arch: Gated, DIn: 4, DOut: 3, DSAE: 8, Target: Site{Hook: "y"}},
		"d_in":     {Arch: ReLU, DIn: 0, DSAE: 8},
		"k":        {Arch: TopK, DIn: 4, DSAE: 8, K: 9},
		"b_dec":    {Arch: ReLU, DIn: 4, DOut: 5, DSAE: 8, ApplyBDecToInput: true},
		"head":     {Arch: ReLU, DIn: 4, DSAE: 8, Site: Site{Hook: "z", Heads: HeadsSingle, Head: -1}},
		"headmode": {Arch: ReLU, DIn: 4, DSAE: 8, Site: Site{Hook: "z", Heads: "all"}},
	}
	for name, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: config %+v accepted", name, c)
		}
	}
}
