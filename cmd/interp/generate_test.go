package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/sae"
	"github.com/interp-dev/interp/tokenizer"
)

const maryPrompt = "When Mary and John went to the store, John gave a drink to"

func readGenReport(t *testing.T, path string) genReport {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var rep genReport
	require.NoError(t, json.Unmarshal(raw, &rep))
	return rep
}

// TestGenerateSteeringOnIOIToy is the check: a direction from prompts answered " John"
// minus prompts answered " Mary" (interp direction), added at blocks.1.hook_resid_mid while
// ioi-toy generates, moves logit(" Mary") - logit(" John") down on a prompt whose answer is Mary
// and turns the completion to John; with the coefficient negated it moves up.
func TestGenerateSteeringOnIOIToy(t *testing.T) {
	dir := t.TempDir()
	vec := filepath.Join(dir, "john.safetensors")
	code, stdout, stderr := runCLI(t, "direction", "--hook", "blocks.1.hook_resid_mid",
		"--positive", "../../testdata/steering/answer-john.txt", "--negative", "../../testdata/steering/answer-mary.txt", "--out", vec)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "mean of 30 positive - mean of 30 negative prompts, shape [64]")

	diffs := map[string][2]float64{}
	for _, coef := range []string{"1", "-1"} {
		out := filepath.Join(dir, "gen"+coef+".json")
		code, stdout, stderr = runCLI(t, "generate", "--prompt", maryPrompt, "--max-new", "3", "--answer", " Mary", "--wrong", " John",
			"--steer", "blocks.1.hook_resid_mid+="+vec+"*"+coef, "--out", out)
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, "intervened:")
		rep := readGenReport(t, out)
		require.Len(t, rep.Rows, 1)
		r := rep.Rows[0]
		require.NotNil(t, r.Steered)
		diffs[coef] = [2]float64{*r.Plain.LogitDiff, *r.Steered.LogitDiff}
		if coef == "1" {
			require.Equal(t, "Mary", r.Plain.Text[:4], "ioi-toy answers the IO")
			require.Equal(t, "John", r.Steered.Text[:4], "steered toward John")
		}
	}
	require.Greater(t, diffs["1"][0], 5.0, "plain ioi-toy prefers Mary")
	require.Less(t, diffs["1"][1], diffs["1"][0]-5, "+direction lowers logit(Mary) - logit(John)")
	require.Greater(t, diffs["-1"][1], diffs["-1"][0]+1, "-direction raises it")
}

// TestGenerateMatchesLibrary: the CLI's plain completions are model.Generate's, batched prompts
// of different lengths included, sampled with a seed.
func TestGenerateMatchesLibrary(t *testing.T) {
	out := filepath.Join(t.TempDir(), "g.json")
	prompts := []string{maryPrompt, "Then, John and Mary had a long argument, and afterwards John said to"}
	code, _, stderr := runCLI(t, "generate", "--prompt", prompts[0], "--prompt", prompts[1], "--max-new", "5",
		"--temperature", "1.3", "--top-k", "20", "--seed", "9", "--n", "2", "--out", out)
	require.Equal(t, 0, code, stderr)
	rep := readGenReport(t, out)
	require.Len(t, rep.Rows, 4)

	w, wdir, err := model.LoadAny(model.DefaultModel)
	require.NoError(t, err)
	b, name := model.MustNewBackend("")
	m, err := model.New(w, b, name)
	require.NoError(t, err)
	tok, err := tokenizer.ForModel(wdir, m.Config.Tokenizer)
	require.NoError(t, err)
	ids, err := encodePrompts(tok, prompts, "auto")
	require.NoError(t, err)
	want, err := m.Generate(ids, model.GenerateOptions{MaxNew: 5, Temperature: 1.3, TopK: 20, TopP: 1, Seed: 9, Samples: 2})
	require.NoError(t, err)
	for i, c := range want {
		require.Equal(t, c.Tokens, rep.Rows[i].Plain.Tokens, "row %d", i)
		require.Nil(t, rep.Rows[i].Steered)
	}
}

// TestGenerateFeatureSteerAndAblate: feature steering with a saved SAE and a head ablation run
// through the CLI and change the completion's logits.
func TestGenerateFeatureSteerAndAblate(t *testing.T) {
	dir := t.TempDir()
	w, _, err := model.LoadAny(model.DefaultModel)
	require.NoError(t, err)
	b, _ := model.MustNewBackend("")
	s, err := sae.NewRandom(sae.Config{Arch: sae.ReLU, DIn: w.Config.DModel, DSAE: 32, Site: sae.Site{Hook: "blocks.1.hook_resid_mid"}}, b,
		sae.InitOptions{Seed: 4, DecoderNorm: 1, EncoderFromDecoder: true})
	require.NoError(t, err)
	saeDir := filepath.Join(dir, "sae")
	require.NoError(t, sae.Save(s, saeDir))
	for _, args := range [][]string{
		{"--feature-steer", saeDir + ":5=200"},
		{"--ablate", "1.0", "--ablate", "1.1", "--ablate", "1.2", "--ablate", "1.3"},
	} {
		out := filepath.Join(dir, "g.json")
		code, stdout, stderr := runCLI(t, append([]string{"generate", "--prompt", maryPrompt, "--max-new", "2", "--answer", " Mary", "--wrong", " John", "--out", out}, args...)...)
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, "intervention: ")
		r := readGenReport(t, out).Rows[0]
		require.Greater(t, abs(*r.Steered.LogitDiff-*r.Plain.LogitDiff), 0.1, "%v moves the logit difference", args)
	}
}

func abs(x float64) float64 { return max(x, -x) }

func TestGenerateBadInput(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"generate"}, 2, "give --prompt"},
		{[]string{"generate", "--prompt", "x", "--max-new", "0"}, 2, "--max-new 0: must be positive"},
		{[]string{"generate", "--prompt", maryPrompt, "--max-new", "20"}, 2, "n_ctx 24"},
		{[]string{"generate", "--prompt", "Mary", "--steer", "blocks.0.hook_resid_post"}, 2, "want HOOK+=FILE*COEF"},
		{[]string{"generate", "--prompt", "Mary", "--steer", "blocks.0.hook_resid_post+=" + filepath.Join(dir, "none.safetensors")}, 1, "none.safetensors"},
		{[]string{"generate", "--prompt", "Mary", "--ablate", "2.0"}, 2, "ablate head 2.0"},
		{[]string{"generate", "--prompt", "Mary", "--ablate", "x"}, 2, "want LAYER.HEAD"},
		{[]string{"generate", "--prompt", "Mary", "--answer", " Mary"}, 2, "--answer and --wrong"},
		{[]string{"generate", "--prompt", "Mary", "--scope", "some"}, 2, "unknown hook scope"},
		{[]string{"generate", "--prompt", "Mary", "--stop", "Mary Mary"}, 2, "--stop"},
		{[]string{"generate", "--prompt", "Mary", "--out", filepath.Join(dir, "a.txt")}, 2, "want a .json file"},
		{[]string{"generate", "--prompt", "Mary", "--feature-steer", "d:1"}, 2, "want SAE_DIR"},
		{[]string{"direction", "--hook", "blocks.0.hook_nope", "--positive", "../../testdata/steering/answer-john.txt",
			"--negative", "../../testdata/steering/answer-mary.txt", "--out", filepath.Join(dir, "d.safetensors")}, 2, "no such hook point"},
		{[]string{"direction", "--hook", "blocks.0.hook_resid_post"}, 2, "required"},
	}
	for _, tc := range cases {
		code, _, stderr := runCLI(t, tc.args...)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, stderr)
		require.Contains(t, stderr, tc.want, "%v", tc.args)
		require.NotContains(t, stderr, "goroutine", "no stack trace")
	}
}
