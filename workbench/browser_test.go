package workbench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// The browser tests drive every page in headless Chromium (Debian's chromium package, which
// .ci/run installs): load it, wait for it to draw, check the DOM, click through one interaction,
// and save a screenshot under workbench/testoutput/. A JavaScript exception or console error fails
// the test. Without Chromium they skip, except where CI or INTERP_REQUIRE_BROWSER is set (.ci/run
// sets it), where they fail.

// shotDir is where the screenshots go (INTERP_SCREENSHOTS overrides it).
func shotDir(t *testing.T) string {
	dir := os.Getenv("INTERP_SCREENSHOTS")
	if dir == "" {
		dir = "testoutput"
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("INTERP_REQUIRE_BROWSER") != "" || os.Getenv("CI") != "" {
		t.Fatal("Chromium is not installed (apt-get install chromium); the browser tests must run in CI")
	}
	t.Skip("Chromium is not installed (apt-get install chromium): skipping the browser tests")
	return ""
}

// browser is one headless Chromium tab on the workbench, with its console watched.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	mu   sync.Mutex
	errs []string
}

func newBrowser(t *testing.T, base string) *browser {
	path := chromiumPath(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1400, 1000))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelA() })
	b := &browser{t: t, ctx: ctx, base: base}
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")))
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				b.mu.Lock()
				b.errs = append(b.errs, m.String())
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// open loads a page and waits until it has drawn and sel matches at least one element.
func (b *browser) open(hash, sel string) {
	b.t.Helper()
	require.NoError(b.t, chromedp.Do(b.ctx, chromedp.Navigate(b.base+"/#"+hash)))
	b.waitFor(sel)
}

// waitFor waits until the page is ready and sel matches.
func (b *browser) waitFor(sel string) {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](fmt.Sprintf(
		`document.querySelector("main").dataset.state === "ready" && document.querySelectorAll(%q).length > 0`, sel),
		chromedp.WithPollingTimeout(90*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)))
	if err != nil {
		body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("main").innerText.slice(0, 600)`))
		b.t.Fatalf("waiting for %s: %v; page shows: %s", sel, err, body)
	}
}

func (b *browser) count(sel string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
	require.NoError(b.t, err)
	return n
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).textContent`, sel)))
	require.NoError(b.t, err, sel)
	return s
}

func (b *browser) eval(js string) {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Evaluate[chromedp.Void](js))
	require.NoError(b.t, err, js)
}

// click clicks the element with the mouse, as a user does.
func (b *browser) click(sel string) {
	b.t.Helper()
	require.NoError(b.t, chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(sel))), sel)
}

// shot saves a full-page screenshot and checks that the page raised no script error.
func (b *browser) shot(name string) {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err)
	require.NoError(b.t, os.WriteFile(filepath.Join(shotDir(b.t), "workbench-"+name+".png"), buf, 0o644))
	b.noErrors()
}

func (b *browser) noErrors() {
	b.t.Helper()
	time.Sleep(100 * time.Millisecond) // let the console events arrive
	b.mu.Lock()
	errs := b.errs
	b.errs = nil
	b.mu.Unlock()
	require.Empty(b.t, errs, "script errors in the page")
	hidden, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.getElementById("banner").hidden`))
	require.NoError(b.t, err)
	require.True(b.t, hidden, "the error banner is showing")
}

func TestBrowserPages(t *testing.T) {
	chromiumPath(t)
	_, dir := fixture(t)
	live := t.TempDir() // a run that is still training: its metrics grow while the page is open
	base, err := os.ReadFile(filepath.Join(dir, "runs", "baseline", "metrics.jsonl"))
	require.NoError(t, err)
	lines := strings.SplitAfter(strings.TrimSpace(string(base)), "\n")
	require.GreaterOrEqual(t, len(lines), 4)
	require.NoError(t, os.MkdirAll(filepath.Join(live, "growing"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(live, "growing", "metrics.jsonl"), []byte(strings.Join(lines[:2], "")), 0o644))

	_, ts := newTestServer(t, Options{Roots: []string{dir, live}})
	b := newBrowser(t, ts.URL)

	t.Run("prompt", func(t *testing.T) {
		b.t = t
		b.open("prompt", "#topk td")
		require.Equal(t, 15, b.count("#prompt-tokens .tok"), "BOS and the IOI prompt's 14 tokens")
		require.Equal(t, 8, b.count("#attn-heads .head"), "2 layers x 4 heads")
		require.Equal(t, 3, b.count("#lens tr")-1, "logit lens rows: 0_pre, 1_pre, final_post")
		require.Equal(t, 15, b.count("#topk tr")-1, "one row per position")
		require.Equal(t, 5, b.count("#topk tr:nth-child(2) td"), "top 5")
		b.click(`#attn-heads .head[data-layer="1"][data-head="2"]`)
		require.Equal(t, 1, b.count(`#attn-heads .head.selected[data-layer="1"][data-head="2"]`))
		b.eval(`document.querySelector('#prompt-tokens .tok[data-pos="14"]').dispatchEvent(new MouseEvent("mouseenter"))`)
		require.Contains(t, b.text("#attn-hint"), "layer 1 head 2: where")
		require.Contains(t, b.text("#attn-hint"), "position 14")
		require.Equal(t, 15, b.count(`#prompt-tokens .tok[style*="background"]`), "every earlier token shaded by attention")
		b.shot("prompt")
	})
	t.Run("patching", func(t *testing.T) {
		b.t = t
		b.open("patch", "#patch-exact rect.cell")
		require.Equal(t, 8, b.count("#patch-exact rect.cell"), "z by head: 2 layers x 4 heads")
		require.Equal(t, 8, b.count("#patch-attr rect.cell"))
		require.Contains(t, b.text("#patch-attr h3"), "correlation with exact")
		b.click(`#patch-exact rect.cell[data-row="1"][data-col="2"]`)
		b.waitFor("#patched-top tr td")
		require.Equal(t, 6, b.count("#patched-top tr"))
		require.Contains(t, b.text("#patch-detail h3"), "L1 / 2: score")
		b.shot("patching")
		// A bad request shows the server's error in the page, which keeps working.
		b.eval(`document.querySelector('#patch-form select[name="task"]').value = "greater-than"`)
		b.click("#patch-form button")
		b.waitFor("main .error")
		require.Contains(t, b.text("main .error"), `task "greater-than"`, "the task needs year tokens ioi-toy lacks")
		b.mu.Lock()
		b.errs = nil // the browser logs the 400 answer itself
		b.mu.Unlock()
		b.eval(`document.querySelector('#patch-form select[name="task"]').value = ""`)
		b.click("#patch-form button")
		b.waitFor("#patch-exact rect.cell")
		b.noErrors()
	})
	t.Run("circuits", func(t *testing.T) {
		b.t = t
		b.open("circuits", ".circuit-view .cnode")
		require.Equal(t, 14, b.count(".circuit-view .cnode"), "planted-ioi: 12 heads, embed and logits")
		require.Equal(t, 4, b.count(".circuit-view .truth"), "the four planted heads")
		require.Equal(t, 1, b.count(".circuit-view .auc"))
		require.GreaterOrEqual(t, b.count(".circuit-view .linechart polyline"), 2, "ROC and chance")
		b.click("#circuit-run button")
		b.waitFor(`.circuit-view .cnode[data-name="mlp1"]`)
		require.Equal(t, 12, b.count(".circuit-view .cnode"), "ioi-toy: 8 heads, 2 MLPs, embed and logits")
		b.shot("circuits-discover")
		b.click("#circuit-open button")
		b.waitFor(".circuit-view .truth")
		b.click("#comparison-open button")
		b.waitFor("#comparison-view .cmp-table")
		var cmp struct {
			Nodes struct {
				Both  []string `json:"both"`
				OnlyA []string `json:"only_a"`
				OnlyB []string `json:"only_b"`
			} `json:"nodes"`
		}
		call(t, ts, "GET", "/api/compare?root=0&path=eap-vs-planted.json", nil, &cmp)
		require.Equal(t, len(cmp.Nodes.Both)+len(cmp.Nodes.OnlyA)+len(cmp.Nodes.OnlyB), b.count(`#comparison-view .cmp-table[data-level="nodes"] .tok`))
		require.Contains(t, b.text("#comparison-view h3"), "shared of 12 candidates, P ", "the chance figures of planted-ioi's 12 heads")
		b.shot("circuits")
	})
	t.Run("features", func(t *testing.T) {
		b.t = t
		b.open("features", "#feature-hist rect")
		require.Equal(t, dashBins, b.count("#feature-hist rect"))
		require.Equal(t, 10, b.count("#promoted tr")-1)
		require.Contains(t, b.text("#feature-view h3"), "Latent 0 ")
		b.click(`#feature-form button:nth-of-type(3)`) // next latent
		_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.querySelector("#feature-view h3") && document.querySelector("#feature-view h3").textContent.startsWith("Latent 1 ")`,
			chromedp.WithPollingTimeout(60*time.Second)))
		require.NoError(t, err)
		b.eval(`document.querySelector('#feature-search-form input').value = "John"`)
		b.click("#feature-search-form button")
		b.waitFor("#feature-search .panel h3")
		require.Contains(t, b.text("#feature-search h3"), `Latents firing on "John"`)
		b.shot("features")
	})
	t.Run("graphs", func(t *testing.T) {
		b.t = t
		b.open("graphs", "#graph-svg .node")
		var g struct {
			Nodes []any `json:"nodes"`
			Links []any `json:"links"`
		}
		call(t, ts, "GET", "/api/graph?root=0&path=graph-ioi.json", nil, &g)
		require.Equal(t, len(g.Nodes), b.count("#graph-svg .node"))
		require.Equal(t, len(g.Links), b.count("#graph-svg line.link"))
		b.eval(`document.querySelector('#graph-svg .node[data-id^="3_"]').dispatchEvent(new MouseEvent("mouseenter"))`)
		b.waitFor("#node-edges td")
		b.click(`#graph-svg .node[data-id^="E_"]`)
		require.Equal(t, 1, b.count("#graph-svg .node.pinned"))
		require.Contains(t, b.text("#pinned"), "pinned (1)")
		b.shot("graphs")
	})
	t.Run("runs", func(t *testing.T) {
		b.t = t
		b.open("runs", "#runs-chart polyline.series")
		require.Equal(t, 3, b.count("#runs-chart polyline.series"), "two finished runs and the growing one")
		require.Equal(t, 4, b.count("#runs-table tr"))
		require.Contains(t, b.text("#runs-table"), "blocks.0.attn.hook_pattern[head=2]=prev-token")
		require.Equal(t, 8*len(lines), b.count("#runs-heads rect.cell"), "8 heads x every evaluation")
		points := func() int {
			n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`[...document.querySelectorAll("#runs-chart polyline.series")].map(p => p.points.numberOfItems).reduce((a, b) => a + b, 0)`))
			require.NoError(t, err)
			return n
		}
		before := points()
		require.Equal(t, 2*len(lines)+2, before)
		f, err := os.OpenFile(filepath.Join(live, "growing", "metrics.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteString(lines[2])
		require.NoError(t, err)
		require.NoError(t, f.Close())
		require.Eventually(t, func() bool { return points() == before+1 }, 20*time.Second, 200*time.Millisecond, "the live run's new step is drawn")
		b.shot("runs")
	})
}
