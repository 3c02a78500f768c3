package sae

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/hooks"
	"github.com/interp-dev/interp/model"
)

// TestRuntimeNormMatchesSAELens loads SAELens folders with normalize_activations
// constant_norm_rescale and layer_norm (an SAE, and a skip transcoder of another width) and checks
// Encode and Decode against a float64 implementation of SAELens's run_time_activation_norm_fn_in
// and _out, written from its source:
//
//	constant_norm_rescale: x * sqrt(d_in)/||x||, and back / (sqrt(d_in)/||x||)
//	layer_norm:            (x - mu)/(std + 1e-5) with torch's unbiased std, and back * std + mu
//
// with the skip term on the raw input. Tolerance: each latent is a sum of d_in float32 products
// after a normalisation that itself sums d_in terms, so it may round by (d_in + 4) * 4 eps32 times
// the sum of the terms' sizes; each output entry sums d_sae products of such latents (and d_in skip
// products), so its bound is the same form over those terms plus the latents' own bounds carried
// through |W_dec|, all times the back-scaling.
func TestRuntimeNormMatchesSAELens(t *testing.T) {
	b, _ := model.MustNewBackend("")
	rng := rand.New(rand.NewPCG(7, 7))
	const din, dsae, n = 12, 20, 9
	const eps32 = 0x1p-23
	for _, norm := range []string{NormConstant, NormLayer} {
		for _, skip := range []bool{false, true} {
			dout := din
			arch := "standard"
			ts := saeTensors(rng, din, dsae)
			cfg := map[string]any{"d_in": din, "d_sae": dsae, "dtype": "float32", "apply_b_dec_to_input": !skip,
				"normalize_activations": norm, "metadata": map[string]any{"sae_lens_version": "6.18.0", "hook_name": "blocks.0.hook_resid_post"}}
			if skip {
				dout, arch = 7, "skip_transcoder"
				ts["W_dec"] = tensors.FromFlatDataAndDimensions(randFlat(rng, dsae*dout, 0.3), dsae, dout)
				ts["b_dec"] = tensors.FromFlatDataAndDimensions(randFlat(rng, dout, 0.1), dout)
				ts["W_skip"] = tensors.FromFlatDataAndDimensions(randFlat(rng, dout*din, 0.3), dout, din)
				cfg["d_out"], cfg["hook_name_out"] = dout, "blocks.0.hook_mlp_out"
				cfg["metadata"].(map[string]any)["hook_name"] = "blocks.0.ln2.hook_normalized"
				cfg["metadata"].(map[string]any)["hook_name_out"] = "blocks.0.hook_mlp_out"
			}
			cfg["architecture"] = arch
			raw, _ := json.Marshal(cfg)
			dir := writeSAELens(t, string(raw), ts)
			s, err := Load(dir, b)
			require.NoError(t, err, "%s %s", norm, arch)
			require.Equal(t, norm, s.Config.RuntimeNorm)

			x := randFlat(rng, n*din, 2)
			for i := range x {
				x[i] += 0.5 // a mean the layer norm has to take out
			}
			xt := tensors.FromFlatDataAndDimensions(x, n, din)
			ft, err := s.Encode(xt)
			require.NoError(t, err)
			out, err := s.Decode(ft, xt)
			require.NoError(t, err)
			f, got := tensors.MustCopyFlatData[float32](ft), tensors.MustCopyFlatData[float32](out)
			wenc, benc, wdec, bdec := s.Flat("W_enc"), s.Flat("b_enc"), s.Flat("W_dec"), s.Flat("b_dec")
			for r := range n {
				row := x[r*din : (r+1)*din]
				var mu, ss, sd float64
				for _, v := range row {
					mu += float64(v) / din
					ss += float64(v) * float64(v)
				}
				for _, v := range row {
					sd += (float64(v) - mu) * (float64(v) - mu) / (din - 1)
				}
				sd = math.Sqrt(sd)
				xn := make([]float64, din)
				for i, v := range row {
					if norm == NormConstant {
						xn[i] = float64(v) * math.Sqrt(din) / math.Sqrt(ss)
					} else {
						xn[i] = (float64(v) - mu) / (sd + 1e-5)
					}
					if !skip {
						xn[i] -= float64(bdec[i])
					}
				}
				fTol := make([]float64, dsae)
				for j := range dsae {
					pre, mag := float64(benc[j]), math.Abs(float64(benc[j]))
					for i := range din {
						pre += xn[i] * float64(wenc[i*dsae+j])
						mag += math.Abs(xn[i] * float64(wenc[i*dsae+j]))
					}
					fTol[j] = 4 * (din + 4) * eps32 * mag
					want := math.Max(pre, 0)
					require.InDelta(t, want, float64(f[r*dsae+j]), fTol[j], "%s %s row %d latent %d", norm, arch, r, j)
				}
				for k := range dout {
					o, mag, carried := float64(bdec[k]), math.Abs(float64(bdec[k])), 0.0
					for j := range dsae {
						o += float64(f[r*dsae+j]) * float64(wdec[j*dout+k])
						mag += math.Abs(float64(f[r*dsae+j]) * float64(wdec[j*dout+k]))
						carried += fTol[j] * math.Abs(float64(wdec[j*dout+k]))
					}
					back := math.Sqrt(ss) / math.Sqrt(din)
					shift := 0.0
					if norm == NormLayer {
						back, shift = sd, mu
					}
					want := o*back + shift
					tol := (4*(dsae+4)*eps32*mag+carried)*back + 4*eps32*math.Abs(want)
					if skip {
						wskip := s.Flat("W_skip")
						for i := range din {
							want += float64(row[i]) * float64(wskip[k*din+i])
							tol += 4 * (din + 1) * eps32 * math.Abs(float64(row[i])*float64(wskip[k*din+i]))
						}
					}
					require.InDelta(t, want, float64(got[r*dout+k]), tol, "%s %s row %d output %d", norm, arch, r, k)
				}
			}
			// The file round trip keeps the normalisation.
			out2 := t.TempDir()
			require.NoError(t, Save(s, out2))
			var saved map[string]any
			data, _ := os.ReadFile(filepath.Join(out2, CfgFile))
			require.NoError(t, json.Unmarshal(data, &saved))
			require.Equal(t, norm, saved["normalize_activations"])
			back, err := Load(out2, b)
			require.NoError(t, err)
			require.Equal(t, norm, back.Config.RuntimeNorm)

			// What a rescaled row cannot support is refused, naming the normalisation.
			_, err = s.DecodeLatents(ft)
			require.ErrorContains(t, err, norm)
			if !skip {
				require.ErrorContains(t, Steer(hooks.New(), s, 0, SteerClamp, 1), norm)
			}
			_, err = NewTrainer(s.Config, b, TrainOptions{Steps: 1, Batch: 1})
			require.ErrorContains(t, err, norm)
		}
	}
}
