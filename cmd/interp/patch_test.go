package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/model"
	"github.com/interp-dev/interp/tasks"
)

type patchJSON struct {
	Scores any `json:"scores"`
	Axes   []struct {
		Name   string   `json:"name"`
		Labels []string `json:"labels"`
	} `json:"axes"`
	Clean       *float64 `json:"clean"`
	Corrupted   *float64 `json:"corrupted"`
	Metric      string   `json:"metric"`
	Method      string   `json:"method"`
	Backend     string   `json:"backend"`
	WallSeconds *float64 `json:"wall_seconds"`
	Attribution *struct {
		Scores      any      `json:"scores"`
		Correlation *float64 `json:"correlation_with_exact"`
	} `json:"attribution"`
}

// dimsOf returns the shape of a nested JSON array.
func dimsOf(v any) []int {
	var d []int
	for {
		a, ok := v.([]any)
		if !ok {
			return d
		}
		d = append(d, len(a))
		if len(a) == 0 {
			return d
		}
		v = a[0]
	}
}

func readPatchJSON(t *testing.T, path string) patchJSON {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var got patchJSON
	require.NoError(t, json.Unmarshal(data, &got))
	return got
}

// TestPatchEveryComponent runs `interp patch` with every component kind (and --by-pos) on the
// built-in models and checks the JSON's shape, axes and labels.
func TestPatchEveryComponent(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		model, task, comp string
		byPos             bool
		want              []string // axis names
	}{
		{"toy-gpt2", "ioi-gpt2", "resid_pre", false, []string{"layer", "pos"}},
		{"toy-gpt2", "ioi-gpt2", "resid_mid", false, []string{"layer", "pos"}},
		{"toy-gpt2", "greater-than", "resid_post", false, []string{"layer", "pos"}},
		{"toy-gpt2", "ioi-gpt2", "attn_out", false, []string{"layer", "pos"}},
		{"toy-gpt2", "ioi-gpt2", "mlp_out", false, []string{"layer", "pos"}},
		{"toy-attn-only", "induction", "z", false, []string{"layer", "head"}},
		{"toy-attn-only", "induction", "q", true, []string{"layer", "head", "pos"}},
		{"toy-attn-only", "induction", "k", false, []string{"layer", "head"}},
		{"toy-attn-only", "induction", "v", true, []string{"layer", "head", "pos"}},
		{"toy-gpt2", "ioi-gpt2", "result", true, []string{"layer", "head", "pos"}},
		{"toy-attn-only", "induction", "pattern", false, []string{"layer", "head"}},
		{"toy-attn-only", "induction", "pattern", true, []string{"layer", "head", "dest_pos"}},
	} {
		t.Run(fmt.Sprintf("%s/%s/by-pos=%v", tc.model, tc.comp, tc.byPos), func(t *testing.T) {
			out := filepath.Join(dir, tc.comp+fmt.Sprint(tc.byPos)+".json")
			args := []string{"patch", "--model", tc.model, "--task", tc.task, "--component", tc.comp, "--n", "2", "--out", out}
			if tasks.Synthetic(tc.task) {
				args = append(args, "--seq-len", "9")
			}
			if tc.byPos {
				args = append(args, "--by-pos")
			}
			code, stdout, stderr := runCLI(t, args...)
			require.Equal(t, 0, code, stderr)
			require.Contains(t, stdout, "clean")
			got := readPatchJSON(t, out)
			var names []string
			var sizes []int
			for _, a := range got.Axes {
				names = append(names, a.Name)
				sizes = append(sizes, len(a.Labels))
			}
			require.Equal(t, tc.want, names)
			require.Equal(t, sizes, dimsOf(got.Scores), "scores are nested layer-major along the axes")
			require.Equal(t, "exact", got.Method)
			require.Equal(t, "logit_diff", got.Metric)
			require.NotNil(t, got.Clean)
			require.NotNil(t, got.Corrupted)
			require.NotNil(t, got.WallSeconds)
			require.NotEmpty(t, got.Backend)
			if names[len(names)-1] == "pos" && tc.model == "toy-gpt2" {
				// positions carry their tokens (GPT-2's tokenizer): "0 <|endoftext|>"
				require.Equal(t, "0 <|endoftext|>", got.Axes[len(names)-1].Labels[0])
			}
		})
	}
}

func TestPatchMethodsAndFiles(t *testing.T) {
	dir := t.TempDir()
	out, plot, page := filepath.Join(dir, "r.json"), filepath.Join(dir, "h.png"), filepath.Join(dir, "p.html")
	code, stdout, stderr := runCLI(t, "patch", "--model", "toy-attn-only", "--task", "induction", "--component", "z", "--by-pos",
		"--method", "exact,attribution", "--metric", "norm_logit_diff", "--n", "3", "--seq-len", "9",
		"--out", out, "--plot", plot, "--html", page)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "correlation with exact patching")
	// The estimate printed first: the two cached runs of 3 pairs x 9 tokens plus the default
	// 512 MiB batched pass.
	w, _, err := model.LoadAny("toy-attn-only")
	require.NoError(t, err)
	want := model.HumanBytes(2*w.Config.ActivationBytes(3, 9) + 512<<20)
	require.Contains(t, stderr, "interp patch: memory estimate "+want+" (3 pairs of 9 tokens")
	got := readPatchJSON(t, out)
	require.NotNil(t, got.Attribution)
	require.Equal(t, dimsOf(got.Scores), dimsOf(got.Attribution.Scores))
	require.NotNil(t, got.Attribution.Correlation)
	for _, f := range []string{plot, page} {
		st, err := os.Stat(f)
		require.NoError(t, err)
		require.Greater(t, st.Size(), int64(1000))
	}
	html, err := os.ReadFile(page)
	require.NoError(t, err)
	require.Contains(t, string(html), "<svg")
	require.Contains(t, string(html), "<td")

	for _, recv := range []string{"1.0,1.3", "logits"} {
		code, _, stderr = runCLI(t, "patch", "--model", "toy-gpt2", "--task", "ioi-gpt2", "--method", "path",
			"--receivers", recv, "--n", "2", "--out", out)
		require.Equal(t, 0, code, stderr)
		got = readPatchJSON(t, out)
		require.Equal(t, "path", got.Method)
		require.Equal(t, []int{2, 4}, dimsOf(got.Scores))
	}

	code, _, stderr = runCLI(t, "patch", "--model", "toy-attn-only", "--task", "induction", "--method", "attribution",
		"--component", "resid_pre", "--ablation", "mean", "--n", "2", "--seq-len", "9", "--out", out)
	require.Equal(t, 0, code, stderr)
	got = readPatchJSON(t, out)
	require.Equal(t, "attribution", got.Method)
}

func TestPatchUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--task", "induction", "--component", "zz"}, `unknown component "zz"`},
		{[]string{"--task", "nope"}, `unknown task "nope"`},
		{[]string{"--task", "induction", "--metric", "lgt"}, `unknown metric "lgt"`},
		{[]string{"--task", "ioi-gpt2", "--method", "path", "--receivers", "1.9"}, "head 1.9 out of range"},
		{[]string{"--task", "ioi-gpt2", "--method", "path", "--receivers", "7.0"}, "head 7.0 out of range"},
		{[]string{"--task", "ioi-gpt2", "--method", "path"}, "needs --receivers"},
		{[]string{"--task", "ioi-gpt2", "--method", "magic"}, `unknown method "magic"`},
		{[]string{"--task", "ioi-gpt2", "--model", "toy-attn-only", "--component", "mlp_out"}, "attention-only"},
		{[]string{"--model", "toy-gpt2"}, "--task is required: the model records no task"},
	} {
		code, _, stderr := runCLI(t, append([]string{"patch"}, tc.args...)...)
		require.Equal(t, 2, code, "%v: %s", tc.args, stderr)
		require.Contains(t, stderr, tc.want)
		require.Equal(t, 1, strings.Count(strings.TrimSpace(lastLines(stderr)), "\n")+1, "one line: %q", stderr)
	}
}

// lastLines drops the "interp: model ... on backend" notice that loading a model prints.
func lastLines(s string) string {
	var keep []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if !strings.HasPrefix(l, "interp: model ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
