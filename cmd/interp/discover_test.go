package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/interp-dev/interp/circuits"
	"github.com/stretchr/testify/require"
)

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	out, plot := filepath.Join(dir, "ioi.json"), filepath.Join(dir, "ioi.svg")
	code, stdout, stderr := runCLI(t, "discover", "--model", "planted-ioi", "--method", "eap-ig", "--examples", "4",
		"--out", out, "--plot", plot)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "task ioi")
	require.Contains(t, stdout, "eap-ig circuit: 0.1 1.2 2.0 2.3")
	var res struct {
		Method      string             `json:"method"`
		NodeScores  map[string]float64 `json:"node_scores"`
		EdgeScores  map[string]float64 `json:"edge_scores"`
		Circuit     struct{ Nodes, Edges []string }
		GroundTruth map[string]any `json:"ground_truth"`
		Faith       struct {
			Score float64 `json:"score"`
		} `json:"faithfulness"`
		Seconds float64 `json:"wall_seconds"`
	}
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &res))
	require.Equal(t, "eap-ig", res.Method)
	require.Len(t, res.NodeScores, 12)
	require.Contains(t, res.EdgeScores, "0.1->1.2.k")
	require.Contains(t, string(data), `"1.2->2.0.q"`, "edge names are written unescaped")
	for _, k := range []string{"roc_auc", "precision", "recall", "f1"} {
		require.InDelta(t, 1.0, res.GroundTruth[k], 1e-9, k)
	}
	require.InDelta(t, 1.0, res.Faith.Score, 0.02)
	require.Greater(t, res.Seconds, 0.0)
	svg, err := os.ReadFile(plot)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(svg), "<svg"))
	dot, err := os.ReadFile(filepath.Join(dir, "ioi.dot"))
	require.NoError(t, err)
	require.Contains(t, string(dot), `"0.1" -> "1.2" [label="k"`)

	// A second circuit (node patching) and the overlap of the two.
	out2 := filepath.Join(dir, "patching.json")
	code, _, stderr = runCLI(t, "discover", "--model", "planted-ioi", "--method", "patching", "--examples", "4", "--out", out2)
	require.Equal(t, 0, code, stderr)
	bars, cmpOut := filepath.Join(dir, "overlap.png"), filepath.Join(dir, "overlap.json")
	code, stdout, stderr = runCLI(t, "discover", "--compare", out, out2, "--out", cmpOut, "--plot", bars)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "shared nodes: 0.1 1.2 2.0 2.3")
	require.Regexp(t, `nodes\s+4\s+4\s+4\s+4\s+1\.000`, stdout)
	// Both results scored the same model's nodes, so the overlap is set against chance: 4 of
	// planted-ioi's N heads and MLPs twice share 16/N on average.
	m := regexp.MustCompile(`(\d+) candidate nodes`).FindStringSubmatch(stdout)
	require.NotNil(t, m, stdout)
	n, _ := strconv.Atoi(m[1])
	require.Regexp(t, fmt.Sprintf(`nodes\s+4\s+4\s+4\s+4\s+1\.000\s+1\.000\s+1\.000\s+%.2f\s`, 16/float64(n)), stdout)
	var cmp struct {
		Nodes circuits.Overlap `json:"nodes"`
	}
	data, err = os.ReadFile(cmpOut)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &cmp))
	require.Equal(t, n, cmp.Nodes.Candidates)
	require.Greater(t, cmp.Nodes.PValue, 0.0)
	require.Less(t, cmp.Nodes.PValue, 0.05)
	st, err := os.Stat(bars)
	require.NoError(t, err)
	require.Greater(t, st.Size(), int64(1000))

	// Usage errors exit 2, failures 1, with one-line messages.
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"discover", "--method", "magic"}, 2, "unknown method"},
		{[]string{"discover", "--model", "toy-attn-only"}, 2, "--task is required"},
		{[]string{"discover", "--compare", out}, 2, "two circuit files"},
		{[]string{"discover", "--plot", "x.png", "--method", "eap"}, 2, "--plot x.png"},
		{[]string{"discover", "--model", "planted-ioi", "--task", "nope", "--method", "eap"}, 2, "unknown task"},
		{[]string{"discover", "--compare", out, filepath.Join(dir, "missing.json")}, 1, "missing.json"},
	} {
		code, _, stderr := runCLI(t, tc.args...)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, stderr)
		require.Contains(t, stderr, tc.msg, tc.args)
		require.Equal(t, 1, strings.Count(stderr, "interp discover: "), "%v: want one error line, got %q", tc.args, stderr)
	}
}

// TestDiscoverMIB: --mib prints the curve table with CPR and CMD, writes it into the JSON and
// plots it; --mib-plot alone is a usage error.
func TestDiscoverMIB(t *testing.T) {
	dir := t.TempDir()
	out, plot := filepath.Join(dir, "r.json"), filepath.Join(dir, "mib.png")
	code, stdout, stderr := runCLI(t, "discover", "--model", "planted-induction", "--method", "eap", "--examples", "4",
		"--mib", "--mib-plot", plot, "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "MIB circuit localisation")
	require.Contains(t, stdout, "CPR")
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	var res struct {
		MIB struct {
			Percents     []float64 `json:"percents"`
			Faithfulness []float64 `json:"faithfulness"`
			CPR          float64   `json:"cpr"`
		} `json:"mib_curve"`
	}
	require.NoError(t, json.Unmarshal(data, &res))
	require.Len(t, res.MIB.Faithfulness, len(res.MIB.Percents))
	require.InDelta(t, 1, res.MIB.Faithfulness[len(res.MIB.Faithfulness)-1], 1e-5)
	st, err := os.Stat(plot)
	require.NoError(t, err)
	require.Greater(t, st.Size(), int64(1000))

	code, _, stderr = runCLI(t, "discover", "--model", "planted-induction", "--method", "eap", "--mib-plot", plot)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--mib-plot needs --mib")
}

// TestDiscoverSeeds: --seeds N runs every method N times and prints mean +- sd per score; it does
// not combine with --mib.
func TestDiscoverSeeds(t *testing.T) {
	out := filepath.Join(t.TempDir(), "s.json")
	code, stdout, stderr := runCLI(t, "discover", "--model", "planted-induction", "--method", "eap", "--examples", "4", "--seeds", "2", "--out", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "seeds 0-1: mean +- sd")
	require.Contains(t, stdout, "| eap | 2 | 1.000 +- 0.000")
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	var res struct {
		Seeds []struct {
			NodeAUC struct{ Values []float64 } `json:"node_auc"`
		} `json:"seeds"`
	}
	require.NoError(t, json.Unmarshal(data, &res))
	require.Len(t, res.Seeds, 1)
	require.Len(t, res.Seeds[0].NodeAUC.Values, 2)

	code, _, stderr = runCLI(t, "discover", "--model", "planted-induction", "--method", "eap", "--seeds", "2", "--mib")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--seeds 2")
}
