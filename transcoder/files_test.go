package transcoder

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
)

// A skip transcoder saved with sae.Save has the fields SAELens's transcoder loader reads
// (architecture skip_transcoder, d_out, hook_name_out) and W_skip [d_out, d_in]; Load returns it
// unchanged, and refuses a plain SAE.
func TestFilesRoundTrip(t *testing.T) {
	p := newPlanted(t)
	c, err := NewConfig(p.m.Config, Spec{Layer: 1, Arch: sae.ReLU, DSAE: 16, Skip: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sae.NewRandom(c, p.m.Backend, sae.InitOptions{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := sae.Save(s, dir); err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	raw, _ := os.ReadFile(filepath.Join(dir, sae.CfgFile))
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"architecture": "skip_transcoder", "d_in": float64(plD), "d_out": float64(plD),
		"d_sae": float64(16), "hook_name": "blocks.1.ln2.hook_normalized", "hook_name_out": "blocks.1.hook_mlp_out"} {
		if cfg[k] != want {
			t.Errorf("cfg.json %s = %v, want %v", k, cfg[k], want)
		}
	}
	ts, _, err := model.ReadSafetensors(filepath.Join(dir, sae.WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := ts["W_skip"].Shape().Dimensions; len(got) != 2 || got[0] != plD || got[1] != plD {
		t.Errorf("W_skip shape %v", got)
	}
	back, err := Load(dir, p.m.Backend)
	if err != nil {
		t.Fatal(err)
	}
	if Layer(back) != 1 || !back.Config.Skip {
		t.Errorf("loaded layer %d skip %v", Layer(back), back.Config.Skip)
	}
	for _, name := range []string{"W_enc", "W_dec", "W_skip", "b_enc", "b_dec"} {
		a, b := s.Flat(name), back.Flat(name)
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s[%d] = %g after loading, want %g", name, i, b[i], a[i])
			}
		}
	}
	plain, _ := sae.NewRandom(sae.Config{Arch: sae.ReLU, DIn: plD, DSAE: 8, Site: sae.Site{Hook: "blocks.0.hook_resid_post"}}, p.m.Backend, sae.InitOptions{})
	pdir := t.TempDir()
	if err := sae.Save(plain, pdir); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(pdir, p.m.Backend); err == nil {
		t.Error("loading a plain SAE as a transcoder: no error")
	}
}
