package workbench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/interp-dev/interp/patching"
	"github.com/interp-dev/interp/sae"
	"github.com/interp-dev/interp/tasks"
	"github.com/interp-dev/interp/tokenizer"
	"github.com/interp-dev/interp/transcoder"
)

func newTestServer(t *testing.T, opt Options) (*Server, *httptest.Server) {
	t.Helper()
	m, dir := fixture(t)
	opt.Model, opt.ModelName, opt.ModelDir = m, "ioi-toy", ioiToyDir
	if opt.Roots == nil {
		opt.Roots = []string{dir}
	}
	s, err := New(opt)
	require.NoError(t, err)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts
}

// call sends a request and decodes the JSON answer, returning the status.
func call(t *testing.T, ts *httptest.Server, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		if b, ok := body.([]byte); ok {
			rd = bytes.NewReader(b)
		} else {
			data, err := json.Marshal(body)
			require.NoError(t, err)
			rd = bytes.NewReader(data)
		}
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	require.NoError(t, err)
	resp, err := ts.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil {
		require.NoError(t, json.Unmarshal(raw, out), "%s %s: %s", method, path, raw)
	}
	return resp.StatusCode
}

func TestInfoAndFiles(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	var info map[string]any
	require.Equal(t, 200, call(t, ts, "GET", "/api/info", nil, &info))
	require.Equal(t, "ioi-toy", info["model"])
	require.Equal(t, float64(2), info["n_layers"])
	require.Equal(t, true, info["tokenizer"])
	var files struct {
		Artifacts []Artifact `json:"artifacts"`
	}
	require.Equal(t, 200, call(t, ts, "GET", "/api/files", nil, &files))
	kinds := map[string][]string{}
	for _, a := range files.Artifacts {
		kinds[a.Kind] = append(kinds[a.Kind], a.Path)
	}
	require.Equal(t, map[string][]string{"circuit": {"eap-planted-ioi.json"}, "comparison": {"eap-vs-planted.json"},
		"dictionary": {"clt", "sae-resid1"}, "graph": {"graph-ioi.json"},
		"run": {"runs/baseline", "runs/clamped"}}, kinds)
	resp, err := ts.Client().Get(ts.URL + "/")
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(page), `<script src="app.js">`)
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'self'")
}

// TestPromptIsTheLibrary checks that the prompt answer is what the library computes: the logit
// lens and top tokens of model.LogitLens, attention rows that are distributions.
func TestPromptIsTheLibrary(t *testing.T) {
	s, ts := newTestServer(t, Options{})
	var out struct {
		Tokens    []int           `json:"tokens"`
		Strs      []string        `json:"strs"`
		Top       [][]tokenProb   `json:"top"`
		Attention [][][][]float64 `json:"attention"`
		Lens      struct {
			Labels []string        `json:"labels"`
			Top    [][][]tokenProb `json:"top"`
		} `json:"lens"`
	}
	prompt := "When Mary and John went to the store , John gave a drink to"
	require.Equal(t, 200, call(t, ts, "POST", "/api/prompt", map[string]any{"prompt": prompt, "k": 3}, &out))
	words, err := s.tok.Encode(prompt)
	require.NoError(t, err)
	bos, err := tokenizer.SingleToken(s.tok, tokenizer.EndOfTextToken)
	require.NoError(t, err)
	ids := append([]int{bos}, words...)
	require.Equal(t, ids, out.Tokens, "BOS, then the prompt")
	require.Equal(t, "Mary", out.Strs[2])
	require.Equal(t, "Mary", out.Top[len(ids)-1][0].Str, "ioi-toy answers the IOI prompt")
	lens, err := s.opt.Model.LogitLens(ids, 3)
	require.NoError(t, err)
	require.Equal(t, lens.Labels, out.Lens.Labels)
	for r := range lens.Top {
		for p := range ids {
			for k, tp := range lens.Top[r][p] {
				require.Equal(t, tp.Token, out.Lens.Top[r][p][k].Token)
			}
		}
	}
	// The final lens row is the model's own prediction.
	for p := range ids {
		require.Equal(t, out.Top[p][0].Token, out.Lens.Top[len(lens.Top)-1][p][0].Token)
	}
	require.Len(t, out.Attention, 2)
	P := len(ids)
	for _, layer := range out.Attention {
		require.Len(t, layer, 4)
		for _, pat := range layer {
			for q, row := range pat {
				sum := 0.0
				for k, v := range row {
					if k > q {
						require.Zero(t, v, "attention to a later position")
					}
					sum += v
				}
				require.InDelta(t, 1, sum, float64(P)*0.5e-4, "row %d", q) // each entry rounded to 4 decimals
			}
		}
	}
	require.Equal(t, 200, call(t, ts, "POST", "/api/prompt", map[string]any{"tokens": []int{1, 2, 3}}, &out))
	require.Equal(t, []int{1, 2, 3}, out.Tokens)
}

// TestPatchIsTheLibrary runs a sweep through the API and directly, and a cell click against the
// cell's score.
func TestPatchIsTheLibrary(t *testing.T) {
	s, ts := newTestServer(t, Options{})
	req := map[string]any{"task": "ioi", "component": "z", "n": 4, "seed": 3, "attribution": true}
	var out struct {
		Scores      [][]float64 `json:"scores"`
		Attribution [][]float64 `json:"attribution"`
		Correlation float64     `json:"correlation"`
		Base        float64     `json:"base"`
	}
	require.Equal(t, 200, call(t, ts, "POST", "/api/patch", req, &out))
	task, err := tasks.ForModel("ioi", tasks.Model{Vocab: 89, NCtx: 24, Tokenizer: s.tok}, 0)
	require.NoError(t, err)
	pairs, err := task.Pairs(3, 4)
	require.NoError(t, err)
	e, err := patching.NewExperiment(s.opt.Model, &patching.Prompts{Clean: pairs.Clean, Corrupted: pairs.Corrupted, Answer: pairs.Answer,
		Wrong: pairs.Wrong, Pos: pairs.Pos}, patching.LogitDiff(), patching.Options{Seed: 3})
	require.NoError(t, err)
	res, err := e.Patch(patching.Z, patching.LayerHeadSetter)
	require.NoError(t, err)
	for l := range 2 {
		for h := range 4 {
			require.Equal(t, res.At(l, h), out.Scores[l][h], "L%dH%d", l, h)
		}
	}
	require.Len(t, out.Attribution, 2)
	require.Equal(t, e.Corrupted, out.Base)

	req["layer"], req["variant"] = 1, 2
	delete(req, "attribution")
	var cell struct {
		LD  float64     `json:"patched_logit_diff"`
		Top []tokenProb `json:"patched_top"`
	}
	require.Equal(t, 200, call(t, ts, "POST", "/api/patch/cell", req, &cell))
	require.InDelta(t, out.Scores[1][2], cell.LD, 1e-4*(1+math.Abs(cell.LD)))
	require.Len(t, cell.Top, 5)
}

func TestCircuitRunGraphAndFeatures(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	var circ struct {
		Views []struct {
			ROC    []struct{ FPR, TPR float64 } `json:"roc"`
			Nodes  []circuitNode                `json:"nodes"`
			Result struct {
				GroundTruth struct {
					AUC float64 `json:"roc_auc"`
				} `json:"ground_truth"`
			} `json:"result"`
		} `json:"views"`
	}
	require.Equal(t, 200, call(t, ts, "GET", "/api/circuit?root=0&path=eap-planted-ioi.json", nil, &circ))
	v := circ.Views[0]
	area := 0.0
	for i := 1; i < len(v.ROC); i++ {
		area += (v.ROC[i].FPR - v.ROC[i-1].FPR) * (v.ROC[i].TPR + v.ROC[i-1].TPR) / 2
	}
	require.InDelta(t, v.Result.GroundTruth.AUC, area, 1e-9, "the ROC drawn is the AUC reported")
	truth := 0
	for _, n := range v.Nodes {
		if n.InTruth {
			truth++
		}
	}
	require.Equal(t, 4, truth, "planted-ioi's circuit has four heads")

	var cmp struct {
		Nodes struct {
			Both  []string `json:"both"`
			OnlyA []string `json:"only_a"`
			OnlyB []string `json:"only_b"`
		} `json:"nodes"`
	}
	require.Equal(t, 200, call(t, ts, "GET", "/api/compare?root=0&path=eap-vs-planted.json", nil, &cmp))
	require.Equal(t, 4, len(cmp.Nodes.Both)+len(cmp.Nodes.OnlyB), "every planted head is shared or only in the truth")
	require.Equal(t, 400, call(t, ts, "GET", "/api/compare?root=0&path=eap-planted-ioi.json", nil, nil))

	var run struct {
		Metrics []runPoint `json:"metrics"`
		Clamps  []string   `json:"clamps"`
		Done    bool       `json:"done"`
	}
	require.Equal(t, 200, call(t, ts, "GET", "/api/run?root=0&path=runs/clamped", nil, &run))
	require.True(t, run.Done)
	require.Equal(t, []string{"blocks.0.attn.hook_pattern[head=2]=prev-token"}, run.Clamps)
	n := len(run.Metrics)
	require.Greater(t, n, 2)
	for _, m := range run.Metrics {
		require.Greater(t, m.MeanLoss, 0.0, "step %d: mean_loss", m.Step)
	}
	last := run.Metrics[n-1].Step
	require.Equal(t, 200, call(t, ts, "GET", fmt.Sprintf("/api/run?root=0&path=runs/clamped&after=%d", run.Metrics[n-2].Step), nil, &run))
	require.Len(t, run.Metrics, 1)
	require.Equal(t, last, run.Metrics[0].Step)

	var g struct {
		Nodes []map[string]any `json:"nodes"`
		Links []map[string]any `json:"links"`
	}
	require.Equal(t, 200, call(t, ts, "GET", "/api/graph?root=0&path=graph-ioi.json", nil, &g))
	require.NotEmpty(t, g.Nodes)
	require.NotEmpty(t, g.Links)

	var feat struct {
		Density   float64 `json:"density"`
		Histogram struct {
			Counts []int `json:"counts"`
			Zero   int   `json:"zero"`
		} `json:"histogram"`
		Contexts []featureContext `json:"contexts"`
		Promoted []effect         `json:"promoted"`
	}
	require.Equal(t, 200, call(t, ts, "GET", "/api/features?root=0&path=sae-resid1&latent=5", nil, &feat))
	total := feat.Histogram.Zero
	for _, c := range feat.Histogram.Counts {
		total += c
	}
	require.InDelta(t, feat.Density, float64(total-feat.Histogram.Zero)/float64(total), 1e-12)
	require.Len(t, feat.Promoted, 10)
	var found struct {
		Latents []map[string]any `json:"latents"`
	}
	require.Equal(t, 200, call(t, ts, "GET", "/api/features/search?root=0&path=sae-resid1&token=+John", nil, &found))
	require.Equal(t, 200, call(t, ts, "GET", "/api/features/search?root=0&path=sae-resid1&token=%2340", nil, &found))
}

// TestCLTLogitEffects checks a CLT latent's logit effects: its decoders into every later layer
// summed. For a last-layer latent that is its one decoder, so the effects must be sae.LogitEffects
// of that layer's encoder (whose W_dec is its decoder into its own layer, an hook_mlp_out site); for
// a first-layer latent, the effects of the sum, computed here from the file's decoders.
func TestCLTLogitEffects(t *testing.T) {
	s, ts := newTestServer(t, Options{})
	_, dir := fixture(t)
	m := s.opt.Model
	clt, _, err := transcoder.LoadCLT(filepath.Join(dir, "clt"), m.Config, m.Backend)
	require.NoError(t, err)
	var feat struct {
		Promoted   []effect `json:"promoted"`
		Suppressed []effect `json:"suppressed"`
		Layers     int      `json:"layers"`
	}
	require.Equal(t, 200, call(t, ts, "GET", "/api/features?root=0&path=clt&layer=1&latent=7", nil, &feat))
	require.Equal(t, 2, feat.Layers)
	want, _, err := sae.LogitEffects(m, clt.Layers[1], 7, 10)
	require.NoError(t, err)
	for i, e := range want {
		require.Equal(t, s.tokenStr(e.Token), feat.Promoted[i].Str)
		require.InDelta(t, e.Logit, feat.Promoted[i].Logit, 1e-9)
	}
	require.Equal(t, 200, call(t, ts, "GET", "/api/features?root=0&path=clt&layer=0&latent=7", nil, &feat))
	D := m.Config.DModel
	dir0 := make([]float64, D)
	for k := range 2 {
		for i := range D {
			dir0[i] += float64(clt.Dec[0][(7*2+k)*D+i])
		}
	}
	_, sup := sae.UnembedEffects(m.Config, m.Weights, dir0, 10)
	for i, e := range sup {
		require.Equal(t, s.tokenStr(e.Token), feat.Suppressed[i].Str)
		require.InDelta(t, e.Logit, feat.Suppressed[i].Logit, 1e-9)
	}
	var out map[string]string
	require.Equal(t, 400, call(t, ts, "GET", "/api/features?root=0&path=clt&layer=2&latent=0", nil, &out))
	require.Contains(t, out["error"], `layer "2": want 0 to 1`)
}

// TestBadRequestsAreRefused sends malformed, oversized and out-of-bounds requests and path
// traversal attempts: each gets a JSON error naming the problem, and the server stays up.
func TestBadRequestsAreRefused(t *testing.T) {
	_, dir := fixture(t)
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret.json"), []byte(`{"node_scores":{}}`), 0o644))
	root := t.TempDir()
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret.json"), filepath.Join(root, "link.json")))
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "linkdir")))
	require.NoError(t, os.Symlink(filepath.Join(dir, "sae-resid1"), filepath.Join(root, "inside")))
	_, ts := newTestServer(t, Options{Roots: []string{dir, root}, MaxBody: 4096})
	big := []byte(`{"prompt": "` + strings.Repeat("a ", 5000) + `"}`)
	cases := []struct {
		method, path string
		body         any
		status       int
		want         string
	}{
		{"POST", "/api/prompt", []byte("{"), 400, "request body"},
		{"POST", "/api/prompt", map[string]any{"prompt": "Mary", "colour": 1}, 400, `unknown field "colour"`},
		{"POST", "/api/prompt", big, 413, "over the limit of 4096 bytes"},
		{"POST", "/api/prompt", map[string]any{"prompt": ""}, 400, "empty prompt"},
		{"POST", "/api/prompt", map[string]any{"tokens": []int{1, 89}}, 400, "token 89 at position 1 is outside the vocabulary"},
		{"POST", "/api/prompt", map[string]any{"tokens": make([]int, 25)}, 400, "25 tokens, the model's context is 24"},
		{"POST", "/api/prompt", map[string]any{"prompt": "Mary", "k": 99}, 400, "k 99"},
		{"POST", "/api/patch", map[string]any{"component": "zz"}, 400, `unknown component "zz"`},
		{"POST", "/api/patch", map[string]any{"component": "z", "n": 1000}, 400, "n 1000"},
		{"POST", "/api/patch", map[string]any{"component": "z", "task": "json:/etc/passwd"}, 400, "JSON task files are not read over HTTP"},
		{"POST", "/api/patch/cell", map[string]any{"component": "z", "n": 2, "layer": 7}, 400, "layer 7 out of range"},
		{"POST", "/api/discover", map[string]any{"method": "magic"}, 400, `unknown method "magic"`},
		{"GET", "/api/nothing", nil, 404, "no API endpoint GET /api/nothing"},
		{"GET", "/api/prompt", nil, 405, "GET /api/prompt: use POST"},
		{"GET", "/api/run?root=5&path=runs/baseline", nil, 400, "root \"5\""},
		{"GET", "/api/run?root=0&path=../../etc", nil, 403, `".." is refused`},
		{"GET", "/api/file?root=0&path=runs/../../../etc/passwd", nil, 403, `".." is refused`},
		{"GET", "/api/file?root=0&path=/etc/passwd", nil, 403, "absolute paths are refused"},
		{"GET", "/api/file?root=0&path=%5Cetc%5Cpasswd", nil, 403, "absolute paths are refused"},
		{"GET", "/api/circuit?root=1&path=link.json", nil, 403, "leads out of root 1 through a symlink"},
		{"GET", "/api/circuit?root=1&path=linkdir/secret.json", nil, 403, "leads out of root 1"},
		{"GET", "/api/features?root=1&path=inside&latent=0", nil, 403, "leads out of root 1"},
		{"GET", "/api/file?root=0&path=nothing-here", nil, 404, "no such file"},
		{"GET", "/api/features?root=0&path=sae-resid1&latent=64", nil, 400, `latent "64": want 0 to 63`},
		{"GET", "/api/features/search?root=0&path=sae-resid1&token=Mary+John", nil, 400, "is 2 tokens"},
		{"GET", "/api/graph?root=0&path=eap-planted-ioi.json", nil, 400, "not an attribution graph file"},
		{"GET", "/api/circuit?root=0&path=graph-ioi.json", nil, 400, "not a discover result"},
	}
	for _, tc := range cases {
		var out map[string]string
		var target any = &out
		got := call(t, ts, tc.method, tc.path, tc.body, target)
		require.Equal(t, tc.status, got, "%s %s: %v", tc.method, tc.path, out)
		require.Contains(t, out["error"], tc.want, "%s %s", tc.method, tc.path)
		require.NotContains(t, out["error"], "\n")
		var info map[string]any
		require.Equal(t, 200, call(t, ts, "GET", "/api/info", nil, &info), "server down after %s %s", tc.method, tc.path)
	}
	// A real file inside a root is served.
	resp, err := ts.Client().Get(ts.URL + "/api/file?root=0&path=runs/baseline/progress.png")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "image/png", resp.Header.Get("Content-Type"))
}

// TestBusyQueue fills the job queue while the model is held and checks the next job is answered
// busy, then that the queued ones finish once the model is free.
func TestBusyQueue(t *testing.T) {
	s, ts := newTestServer(t, Options{Queue: 2})
	s.model.Lock()
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = call(t, ts, "POST", "/api/prompt", map[string]any{"tokens": []int{1, 2}}, nil)
		}()
	}
	require.Eventually(t, func() bool { return len(s.admit) == 2 }, 10*time.Second, 5*time.Millisecond)
	var out map[string]string
	require.Equal(t, 503, call(t, ts, "POST", "/api/prompt", map[string]any{"tokens": []int{1, 2}}, &out))
	require.Contains(t, out["error"], "busy: 2 model jobs are running or queued")
	require.Equal(t, 200, call(t, ts, "GET", "/api/files", nil, nil), "light requests are not queued")
	s.model.Unlock()
	wg.Wait()
	require.Equal(t, []int{200, 200}, codes)
}

// TestLoad holds 8 concurrent clients for 3 seconds of mixed requests: no errors, and no goroutine
// is left behind once the server closes.
func TestLoad(t *testing.T) {
	fixture(t)
	before := runtime.NumGoroutine()
	func() {
		_, ts := newTestServer(t, Options{Queue: 16})
		defer ts.Close()
		deadline := time.Now().Add(3 * time.Second)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failures []string
		counts := make([]int, 8)
		for c := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; time.Now().Before(deadline); i++ {
					var code int
					var err error
					var resp *http.Response
					switch (c + i) % 3 {
					case 0:
						resp, err = ts.Client().Get(ts.URL + "/api/files")
					case 1:
						resp, err = ts.Client().Get(ts.URL + "/api/run?root=0&path=runs/baseline")
					default:
						resp, err = ts.Client().Post(ts.URL+"/api/prompt", "application/json", strings.NewReader(`{"tokens": [1, 2, 3, 4]}`))
					}
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						code = resp.StatusCode
					}
					if err != nil || code != 200 {
						mu.Lock()
						failures = append(failures, fmt.Sprintf("client %d request %d: %v %d", c, i, err, code))
						mu.Unlock()
					}
					counts[c]++
				}
			}()
		}
		wg.Wait()
		require.Empty(t, failures)
		for c, n := range counts {
			require.Greater(t, n, 0, "client %d made no request", c)
		}
		ts.Client().CloseIdleConnections()
	}()
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+2 }, 10*time.Second, 50*time.Millisecond,
		"goroutines: %d before, %d after", before, runtime.NumGoroutine())
}

func TestCheckAddr(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		remote bool
		err    string
		warns  bool
	}{
		{"127.0.0.1:8077", false, "", false},
		{"localhost:0", false, "", false},
		{"[::1]:8077", false, "", false},
		{"0.0.0.0:8077", false, "not a loopback address", false},
		{":8077", false, "not a loopback address", false},
		{"192.168.1.5:80", true, "", true},
		{"8077", false, "want HOST:PORT", false},
	} {
		w, err := CheckAddr(tc.addr, tc.remote)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, tc.addr)
			continue
		}
		require.NoError(t, err, tc.addr)
		require.Equal(t, tc.warns, w != "", tc.addr)
	}
}

// TestDiscoverOptions runs discovery through the API with the method options of interp discover.
func TestDiscoverOptions(t *testing.T) {
	_, ts := newTestServer(t, Options{})
	var out struct {
		Views []struct {
			Result struct {
				Circuit struct {
					Edges []string `json:"edges"`
				} `json:"circuit"`
				Settings map[string]any `json:"settings"`
			} `json:"result"`
		} `json:"views"`
	}
	req := map[string]any{"method": "eap", "examples": 8, "select": "topn", "top_n": 5, "intervention": "mean"}
	require.Equal(t, 200, call(t, ts, "POST", "/api/discover", req, &out))
	r := out.Views[0].Result
	require.LessOrEqual(t, len(r.Circuit.Edges), 5, "at most the 5 top edges survive pruning")
	require.Equal(t, "topn", r.Settings["select"])
	require.Equal(t, "mean", r.Settings["intervention"])
	require.Equal(t, 200, call(t, ts, "POST", "/api/discover", map[string]any{"method": "acdc", "examples": 4, "tau": 0.5}, &out))
	require.Equal(t, 0.5, out.Views[0].Result.Settings["tau"])
	for _, tc := range []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"method": "eap", "select": "best", "top_n": 3}, `selection "best"`},
		{map[string]any{"method": "eap", "select": "topn"}, "needs a number of edges"},
		{map[string]any{"method": "eap", "intervention": "bogus"}, `intervention "bogus"`},
		{map[string]any{"method": "eap-ig", "steps": 1000}, "steps in [0, 200]"},
	} {
		var e map[string]string
		require.Equal(t, 400, call(t, ts, "POST", "/api/discover", tc.body, &e), "%v", tc.body)
		require.Contains(t, e["error"], tc.want)
	}
}
