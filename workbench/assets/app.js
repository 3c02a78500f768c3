// interp workbench: one script, no dependencies. Each page is a function that fills <main>
// from the JSON API (the same library calls as the interp commands). main[data-state] is
// "loading" while a page waits for the server and "ready" once it has drawn.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const page = document.getElementById("page");
let info = null;

// ---- small DOM helpers ----
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  for (const k of kids.flat()) if (k != null) el.append(k instanceof Node ? k : String(k));
  return el;
}
function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVGNS, tag);
  setAttrs(el, attrs);
  for (const k of kids.flat()) if (k != null) el.append(k instanceof Node ? k : String(k));
  return el;
}
function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
}
function fmt(x, d = 3) {
  if (x == null || Number.isNaN(x)) return "n/a";
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e4)) return x.toExponential(2);
  return x.toFixed(d);
}
// tick formats a tick value with as many decimals as the axis span needs.
function tick(v, span) {
  if (span >= 20) return String(Math.round(v));
  const d = Math.min(6, Math.max(0, Math.ceil(-Math.log10(span / 4)) + 1));
  return v.toFixed(d);
}
function showTok(t) { return t.replace(/\n/g, "⏎").replace(/\t/g, "⇥"); }

// ---- API ----
async function api(path, body) {
  const opt = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const r = await fetch(path, opt);
  let data;
  try { data = await r.json(); } catch (e) { throw new Error(`${path}: ${r.status} ${r.statusText}`); }
  if (!r.ok) throw new Error(data.error || `${path}: ${r.status}`);
  return data;
}
function q(params) { return new URLSearchParams(params).toString(); }

function errorBox(err) { return h("div", { class: "error" }, String(err.message || err)); }
async function busy(target, fn) {
  page.dataset.state = "loading";
  const note = h("div", { class: "busy" }, "working…");
  target.replaceChildren(note);
  try {
    await fn();
  } catch (e) {
    target.replaceChildren(errorBox(e));
  } finally {
    note.remove();
    page.dataset.state = "ready";
  }
}

// ---- colour scales ----
function lerp(a, b, t) { return Math.round(a + (b - a) * t); }
// Sequential white -> blue for t in [0, 1].
function seq(t) {
  t = Math.max(0, Math.min(1, t || 0));
  return `rgb(${lerp(255, 31, t)},${lerp(255, 90, t)},${lerp(255, 180, t)})`;
}
// Diverging red (-1) - white (0) - blue (+1).
function div(t) {
  t = Math.max(-1, Math.min(1, t || 0));
  return t >= 0 ? `rgb(${lerp(255, 33, t)},${lerp(255, 102, t)},${lerp(255, 172, t)})`
    : `rgb(${lerp(255, 178, -t)},${lerp(255, 24, -t)},${lerp(255, 43, -t)})`;
}
function colorbar(lo, hi, scale, label) {
  const w = 160, g = s("g", {});
  for (let i = 0; i < 32; i++) g.append(s("rect", { x: i * w / 32, y: 0, width: w / 32 + 0.5, height: 10, fill: scale(i / 31) }));
  return s("svg", { width: w + 120, height: 28, class: "colorbar" }, g,
    s("text", { x: 0, y: 24, "font-size": 10 }, fmt(lo)), s("text", { x: w, y: 24, "font-size": 10, "text-anchor": "end" }, fmt(hi)),
    s("text", { x: w + 8, y: 10, "font-size": 10 }, label || ""));
}

// Heatmap: rows x cols of values with labels; onClick(r, c). Returns an <svg>.
function heatmap(values, rowLabels, colLabels, opts) {
  const cw = opts.cell || Math.max(18, Math.min(44, Math.floor(720 / colLabels.length))), ch = opts.cellH || Math.min(28, Math.max(16, cw * 0.7));
  const lw = 8 + 7 * Math.max(...rowLabels.map((x) => x.length), 2) + (opts.yTitle ? 16 : 0);
  const th = 8 + 6 * Math.min(18, Math.max(...colLabels.map((x) => x.length), 2)) + (opts.xTitle ? 16 : 0);
  const W = lw + cw * colLabels.length + 10, H = th + ch * rowLabels.length + 10;
  const svg = s("svg", { width: W, height: H, class: "heatmap" });
  if (opts.xTitle) svg.append(s("text", { x: lw + cw * colLabels.length / 2, y: 12, "font-size": 11, "text-anchor": "middle", "font-weight": "bold" }, opts.xTitle));
  if (opts.yTitle) svg.append(s("text", { x: 12, y: th + ch * rowLabels.length / 2, "font-size": 11, "text-anchor": "middle", "font-weight": "bold",
    transform: `rotate(-90 12 ${th + ch * rowLabels.length / 2})` }, opts.yTitle));
  colLabels.forEach((l, c) => svg.append(s("text", { x: 0, y: 0, "font-size": 11, "text-anchor": "start",
    transform: `translate(${lw + c * cw + cw / 2 + 4},${th - 4}) rotate(-60)` }, l.slice(0, 18))));
  rowLabels.forEach((l, r) => svg.append(s("text", { x: lw - 6, y: th + r * ch + ch * 0.7, "font-size": 11, "text-anchor": "end" }, l)));
  values.forEach((row, r) => row.forEach((v, c) => {
    const rect = s("rect", { class: "cell", x: lw + c * cw, y: th + r * ch, width: cw - 1, height: ch - 1, fill: opts.color(v),
      "data-row": r, "data-col": c, onclick: opts.onClick ? () => opts.onClick(r, c, v) : null });
    rect.append(s("title", {}, `${rowLabels[r]} / ${colLabels[c]}: ${fmt(v, 4)}`));
    svg.append(rect);
  }));
  return svg;
}

// Line chart of several series [{name, color, points: [[x, y]...], marks: [x...]}]; the legend
// sits to the right of the plot, never over the data.
function lineChart(series, opts) {
  const W = opts.width || 640, H = opts.height || 260, L = 56, B = 36, T = 12, legendW = 230;
  const pts = series.flatMap((sr) => sr.points);
  if (!pts.length) return h("div", { class: "muted" }, "no points yet");
  let [x0, x1] = opts.xRange || [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [y0, y1] = opts.yRange || [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y1 += 0.5; y0 -= 0.5; }
  if (!opts.yRange) { const pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad; }
  const X = (x) => L + (x - x0) / (x1 - x0) * (W - L - 10), Y = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const svg = s("svg", { width: W + legendW, height: Math.max(H, 24 + 18 * series.length), class: "linechart" });
  svg.append(s("line", { x1: L, y1: H - B, x2: W - 10, y2: H - B, stroke: "#888" }), s("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#888" }));
  for (let i = 0; i <= 4; i++) {
    const yv = y0 + (y1 - y0) * i / 4, xv = x0 + (x1 - x0) * i / 4;
    svg.append(s("text", { x: L - 6, y: Y(yv) + 4, "font-size": 10, "text-anchor": "end" }, tick(yv, y1 - y0)));
    svg.append(s("text", { x: X(xv), y: H - B + 14, "font-size": 10, "text-anchor": "middle" }, tick(xv, x1 - x0)));
  }
  svg.append(s("text", { x: (L + W) / 2, y: H - 4, "font-size": 11, "text-anchor": "middle" }, opts.xLabel || ""));
  svg.append(s("text", { x: 12, y: (T + H - B) / 2, "font-size": 11, "text-anchor": "middle", transform: `rotate(-90 12 ${(T + H - B) / 2})` }, opts.yLabel || ""));
  series.forEach((sr, i) => {
    if (sr.points.length) svg.append(s("polyline", { fill: "none", stroke: sr.color, "stroke-width": 1.6, class: "series",
      points: sr.points.map((p) => `${X(p[0])},${Y(p[1])}`).join(" ") }));
    for (const m of sr.marks || []) svg.append(s("line", { x1: X(m), x2: X(m), y1: T, y2: H - B, stroke: sr.color, "stroke-dasharray": "4 3", class: "phase-mark" }));
    svg.append(s("rect", { x: W + 10, y: 14 + 18 * i, width: 12, height: 10, fill: sr.color }),
      s("text", { x: W + 28, y: 23 + 18 * i, "font-size": 11 }, sr.name.slice(0, 32)));
  });
  return svg;
}

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];

// ---- pages ----
const pages = { prompt: promptPage, patch: patchPage, circuits: circuitsPage, features: featuresPage, graphs: graphsPage, runs: runsPage };
let stopPolling = null;

async function route() {
  if (stopPolling) { stopPolling(); stopPolling = null; }
  const name = (location.hash || "#prompt").slice(1).split("?")[0];
  const fn = pages[name] || promptPage;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === name);
  page.dataset.state = "loading";
  page.dataset.page = name;
  page.replaceChildren();
  try {
    if (!info) {
      info = await api("/api/info");
      document.getElementById("model-info").textContent = `model ${info.model} · ${info.n_layers} layers × ${info.n_heads} heads · backend ${info.backend}`;
    }
    await fn(page);
  } catch (e) {
    page.append(errorBox(e));
  }
  page.dataset.state = "ready";
}
window.addEventListener("hashchange", route);
window.addEventListener("error", (e) => {
  const b = document.getElementById("banner");
  b.hidden = false;
  b.textContent = "script error: " + e.message;
});
route();

function select(name, options, value) {
  return h("select", { name }, options.map((o) => {
    const [v, label] = Array.isArray(o) ? o : [o, o];
    return h("option", { value: v, selected: v === value }, label);
  }));
}
function field(label, input) { return h("label", {}, label, input); }
async function artifacts(kind) {
  const f = await api("/api/files");
  return f.artifacts.filter((a) => a.kind === kind);
}
function artifactOptions(list) { return list.map((a, i) => [String(i), `${a.path}  (${a.about})`]); }

// Prompt: tokens, top-k next tokens, logit lens, attention patterns with hover.
async function promptPage(root) {
  const input = h("input", { type: "text", name: "prompt", value: info.tokenizer ? "When Mary and John went to the store, John gave a drink to" : "1 2 3 4 1 2 3" });
  const bos = h("input", { type: "checkbox", name: "bos", checked: true });
  const out = h("div", {});
  const form = h("form", { class: "controls", id: "prompt-form" }, field(info.tokenizer ? "prompt" : "token ids (space-separated)", input), info.tokenizer ? field("prepend BOS", bos) : null, h("button", { type: "submit" }, "Run"));
  form.addEventListener("submit", (e) => { e.preventDefault(); run(); });
  root.append(h("h2", {}, "Prompt"), form, out);
  async function run() {
    const body = info.tokenizer ? { prompt: input.value, k: 5, no_bos: !bos.checked } : { tokens: input.value.trim().split(/\s+/).map(Number), k: 5 };
    await busy(out, async () => { drawPrompt(out, await api("/api/prompt", body)); });
  }
  await run();
}

function drawPrompt(out, d) {
  const P = d.tokens.length;
  let sel = { layer: d.attention.length - 1, head: 0 };
  const toks = d.strs.map((t, p) => h("span", { class: "tok", "data-pos": p, title: `position ${p}, id ${d.tokens[p]}` }, showTok(t)));
  const tokLine = h("div", { class: "tokens", id: "prompt-tokens" }, toks);
  const hint = h("div", { class: "muted", id: "attn-hint" });
  function shade(dest) {
    const row = d.attention[sel.layer][sel.head][dest];
    toks.forEach((el, p) => {
      el.style.background = p <= dest ? seq(row[p]) : "";
      el.classList.toggle("hover", p === dest);
    });
    hint.textContent = `layer ${sel.layer} head ${sel.head}: where "${showTok(d.strs[dest])}" (position ${dest}) attends; darker = more attention`;
  }
  function clear() { toks.forEach((el) => { el.style.background = ""; el.classList.remove("hover"); }); hint.textContent = `hover a token to see where layer ${sel.layer} head ${sel.head} attends from it`; }
  toks.forEach((el, p) => { el.addEventListener("mouseenter", () => shade(p)); el.addEventListener("mouseleave", clear); });
  clear();

  // Top-k table: one row per position, the k most likely next tokens across.
  const topTable = h("table", { class: "grid", id: "topk" },
    h("tr", {}, h("th", {}, "pos"), h("th", {}, "token"), d.top[0].map((_, k) => h("th", {}, `#${k + 1}`))),
    d.top.map((row, p) => h("tr", {}, h("th", {}, p), h("th", {}, showTok(d.strs[p])),
      row.map((t) => h("td", { style: `background:${seq(t.prob)}`, title: `p = ${t.prob}` }, `${showTok(t.str)} ${fmt(t.prob, 2)}`)))));

  // Logit lens: rows = layers, cells = top-1 token, shaded by the probability of the final prediction.
  const lens = h("table", { class: "grid", id: "lens" },
    h("tr", {}, h("th", {}, "stream"), d.strs.map((t) => h("th", {}, showTok(t)))),
    d.lens.labels.map((lab, r) => h("tr", {}, h("th", {}, lab), d.lens.top[r].map((col, p) => h("td", {
      style: `background:${seq(d.lens.final[r][p])}`, title: col.map((t) => `${t.str} ${fmt(t.prob, 3)}`).join("\n") }, showTok(col[0].str))))));

  // Attention: one small heatmap per head; click to choose the head the token hover uses.
  const heads = h("div", { class: "heads", id: "attn-heads" });
  const cell = Math.max(4, Math.min(12, Math.floor(180 / P)));
  d.attention.forEach((layer, l) => layer.forEach((pat, hd) => {
    const svg = s("svg", { width: cell * P, height: cell * P });
    pat.forEach((row, q) => row.forEach((v, k) => { if (k <= q) svg.append(s("rect", { x: k * cell, y: q * cell, width: cell, height: cell, fill: seq(v) })); }));
    const box = h("div", { class: "head" + (l === sel.layer && hd === sel.head ? " selected" : ""), "data-layer": l, "data-head": hd }, svg, h("div", { class: "cap" }, `L${l}H${hd}`));
    box.addEventListener("click", () => {
      sel = { layer: l, head: hd };
      heads.querySelectorAll(".head").forEach((b) => b.classList.toggle("selected", b === box));
      clear();
    });
    heads.append(box);
  }));
  out.replaceChildren(
    h("div", { class: "panel" }, h("h3", {}, `Tokens (${P})`), tokLine, hint),
    h("div", { class: "panel" }, h("h3", {}, "Top next tokens at each position"), topTable),
    h("div", { class: "panel" }, h("h3", {}, "Logit lens"), h("div", { class: "muted" }, "each layer's residual stream read through the final norm and unembedding; cell = top token, shade = probability of the model's final prediction"), lens),
    h("div", { class: "panel" }, h("h3", {}, "Attention patterns (rows: destination, columns: source); click a head"), heads));
}

// Patching: a sweep as a heatmap; click a cell for the patched run's top tokens.
async function patchPage(root) {
  const f = {
    task: select("task", ["", ...info.tasks].map((t) => [t, t || `(model's: ${info.task || "none"})`]), ""),
    component: select("component", info.components, info.components.includes("z") ? "z" : info.components[0]),
    metric: select("metric", info.metrics, "logit_diff"),
    n: h("input", { type: "number", name: "n", value: 8, min: 1, max: 64 }),
    byPos: h("input", { type: "checkbox", name: "by_pos" }),
    attr: h("input", { type: "checkbox", name: "attribution", checked: true }),
  };
  const out = h("div", {});
  const form = h("form", { class: "controls", id: "patch-form" }, field("task", f.task), field("component", f.component), field("metric", f.metric),
    field("pairs", f.n), field("by position", f.byPos), field("attribution too", f.attr), h("button", { type: "submit" }, "Run"));
  form.addEventListener("submit", (e) => { e.preventDefault(); run(); });
  root.append(h("h2", {}, "Activation patching"), form, out);
  async function run() {
    const req = { task: f.task.value, component: f.component.value, metric: f.metric.value, n: Number(f.n.value), by_pos: f.byPos.checked, attribution: f.attr.checked };
    await busy(out, async () => drawPatch(out, req, await api("/api/patch", req)));
  }
  await run();
}

// flatten turns a nested [layer][a][b] score array into rows x cols with labels and a map back to
// (layer, variant).
function flatten(scores, axes) {
  const rows = [], rowLabels = [], rowOf = [];
  const cols = axes.length >= 2 ? axes[axes.length - 1].labels : ["all"];
  if (axes.length === 1) {
    scores.forEach((v, l) => { rows.push([v]); rowLabels.push(`L${axes[0].labels[l]}`); rowOf.push([l, 0]); });
  } else if (axes.length === 2) {
    scores.forEach((r, l) => { rows.push(r); rowLabels.push(`L${axes[0].labels[l]}`); rowOf.push([l, 0]); });
  } else {
    scores.forEach((mid, l) => mid.forEach((r, a) => {
      rows.push(axes.length === 3 ? r : r.flat()); rowLabels.push(`L${axes[0].labels[l]} ${axes[1].name[0]}${axes[1].labels[a]}`); rowOf.push([l, a]);
    }));
  }
  const variant = (r, c) => rowOf[r][1] * (axes.length >= 3 ? cols.length : 1) + (axes.length >= 2 ? c : 0);
  const xTitle = axes.length >= 2 ? axes[axes.length - 1].name : "";
  const yTitle = axes.length >= 3 ? `${axes[0].name}, ${axes[1].name}` : axes[0].name;
  return { rows, rowLabels, cols, layerOf: (r) => rowOf[r][0], variant, xTitle, yTitle };
}

function drawPatch(out, req, d) {
  const fl = flatten(d.scores, d.axes);
  const vals = fl.rows.flat();
  const base = d.normalized ? 0 : d.base;
  const span = Math.max(...vals.map((v) => Math.abs(v - base)), 1e-9);
  const color = (v) => div((v - base) / span);
  const detail = h("div", { class: "panel", id: "patch-detail" }, h("span", { class: "muted" }, "click a cell to rerun that patch and see the patched model's top next tokens"));
  const onClick = async (r, c, v) => {
    const body = { ...req, layer: fl.layerOf(r), variant: fl.variant(r, c) };
    delete body.attribution;
    detail.replaceChildren(h("span", { class: "busy" }, "running the patched model…"));
    page.dataset.state = "loading";
    try {
      const cell = await api("/api/patch/cell", body);
      detail.replaceChildren(h("h3", {}, `${fl.rowLabels[r]} / ${fl.cols[c]}: score ${fmt(v, 4)}`),
        h("div", {}, `patched logit difference (mean over ${d.n} pairs) ${fmt(cell.patched_logit_diff, 4)}; answer "${cell.answer}", wrong "${cell.wrong}"`),
        h("table", { class: "grid", id: "patched-top" }, h("tr", {}, h("th", {}, "patched top tokens (pair 0)"), h("th", {}, "p")),
          cell.patched_top.map((t) => h("tr", {}, h("td", {}, showTok(t.str)), h("td", {}, fmt(t.prob, 3))))));
    } catch (e) { detail.replaceChildren(errorBox(e)); }
    page.dataset.state = "ready";
  };
  const exact = h("div", { class: "panel", id: "patch-exact" }, h("h3", {}, d.title),
    h("div", { class: "muted" }, `clean ${fmt(d.clean)}, corrupted ${fmt(d.corrupted)}, unpatched ${fmt(d.base)}; ${d.n} pairs, ${fmt(d.wall_seconds, 2)} s, memory estimate ${d.memory_estimate}. Colour: change from the unpatched score.`),
    colorbar(base - span, base + span, (t) => div(2 * t - 1), d.metric),
    heatmap(fl.rows, fl.rowLabels, fl.cols, { color, onClick, xTitle: fl.xTitle, yTitle: fl.yTitle }));
  const parts = [exact];
  if (d.attribution) {
    const fa = flatten(d.attribution, d.axes);
    const aspan = Math.max(...fa.rows.flat().map((v) => Math.abs(v - base)), 1e-9);
    parts.push(h("div", { class: "panel", id: "patch-attr" }, h("h3", {}, `Attribution patching (correlation with exact ${fmt(d.correlation, 3)})`),
      h("div", { class: "muted" }, "gradient estimate of the same sweep"),
      colorbar(base - aspan, base + aspan, (t) => div(2 * t - 1), d.metric),
      heatmap(fa.rows, fa.rowLabels, fa.cols, { color: (v) => div((v - base) / aspan), onClick, xTitle: fa.xTitle, yTitle: fa.yTitle })));
  }
  out.replaceChildren(h("div", { class: "panel muted", id: "patch-prompts" }, h("div", {}, "pair 0, clean: " + d.prompt.join(" | ")),
    h("div", {}, "pair 0, corrupted: " + d.corrupted_prompt.join(" | "))), h("div", { class: "row" }, parts), detail);
}

// Circuits: discover results as layered graphs with ground truth, ROC and faithfulness.
async function circuitsPage(root) {
  const list = await artifacts("circuit");
  const out = h("div", { class: "row", id: "circuit-views" });
  const fileA = select("file", [["", "(choose a result)"], ...artifactOptions(list)], list.length ? "0" : "");
  const fileB = select("compare", [["", "(none)"], ...artifactOptions(list)], "");
  const method = select("method", info.methods, "eap");
  const task = select("task", ["", ...info.tasks].map((t) => [t, t || `(model's: ${info.task || "none"})`]), "");
  const open = h("form", { class: "controls", id: "circuit-open" }, field("discover result", fileA), field("side by side with", fileB), h("button", { type: "submit" }, "Open"));
  const sel = select("select", [["keep", "keep (>= 0.1 x top)"], ["topn", "top n edges"], ["greedy", "greedy n edges"]], "keep");
  const topN = h("input", { type: "number", name: "top_n", value: 10, min: 1, style: "width:5em" });
  const interv = select("intervention", ["patching", "zero", "mean", "mean-positional"], "patching");
  const tau = h("input", { type: "number", name: "tau", step: "any", min: 0, placeholder: "default", style: "width:7em" });
  const disc = h("form", { class: "controls", id: "circuit-run" }, field("method", method), field("task", task),
    field("EAP selection", sel), field("n", topN), field("EAP intervention", interv), field("ACDC tau", tau),
    h("button", { type: "submit" }, `Discover on ${info.model}`));
  open.addEventListener("submit", (e) => { e.preventDefault(); show(); });
  disc.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { method: method.value, task: task.value, examples: 20 };
    if (method.value.startsWith("eap")) {
      body.select = sel.value;
      if (sel.value !== "keep") body.top_n = Number(topN.value);
      if (method.value === "eap") body.intervention = interv.value;
    }
    if (method.value === "acdc" && tau.value !== "") body.tau = Number(tau.value);
    await busy(out, async () => drawCircuits(out, (await api("/api/discover", body)).views));
  });
  const comps = await artifacts("comparison");
  const cmpOut = h("div", { id: "comparison-view" });
  const cmpFile = select("comparison", artifactOptions(comps), "0");
  const cmpForm = h("form", { class: "controls", id: "comparison-open" }, field("circuit comparison (discover --compare)", cmpFile), h("button", { type: "submit" }, "Show"));
  cmpForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const a = comps[Number(cmpFile.value)];
    await busy(cmpOut, async () => drawComparison(cmpOut, await api("/api/compare?" + q({ root: a.root, path: a.path }))));
  });
  root.append(h("h2", {}, "Circuits"), open, disc, comps.length ? cmpForm : null, cmpOut, out);
  async function show() {
    const picks = [fileA.value, fileB.value].filter((v) => v !== "").map((i) => list[Number(i)]);
    if (!picks.length) { out.replaceChildren(h("div", { class: "muted" }, list.length ? "choose a result" : "no discover results under --runs; run one above")); return; }
    await busy(out, async () => {
      let views = [];
      for (const a of picks) views = views.concat((await api("/api/circuit?" + q({ root: a.root, path: a.path }))).views);
      drawCircuits(out, views);
    });
  }
  await show();
}

// drawComparison shows two circuits' overlap: the shared, only-A and only-B nodes (and edges).
function drawComparison(out, d) {
  const chips = (list, color) => list.map((n) => h("span", { class: "tok", style: `background:${color}` }, n));
  const level = (o) => o ? h("div", { class: "panel" },
    h("h3", {}, `${o.level}: Jaccard ${fmt(o.jaccard)} (${o.shared} shared of ${o.union}); ${fmt(o.a_in_b)} of A in B, ${fmt(o.b_in_a)} of B in A` +
      (o.candidates ? `; chance ${fmt(o.chance_shared)} shared of ${o.candidates} candidates, P ${o.p_value.toPrecision(2)}` : "")),
    h("table", { class: "grid cmp-table", "data-level": o.level },
      h("tr", {}, h("th", {}, `both (${o.both.length})`), h("td", {}, chips(o.both, "#c7e9c0"))),
      h("tr", {}, h("th", {}, `only A (${o.only_a.length})`), h("td", {}, chips(o.only_a, "#fdd0a2"))),
      h("tr", {}, h("th", {}, `only B (${o.only_b.length})`), h("td", {}, chips(o.only_b, "#c6dbef"))))) : null;
  out.replaceChildren(h("div", { class: "panel" }, h("div", {}, `A: ${d.a}`), h("div", {}, `B: ${d.b}`)), level(d.nodes), level(d.edges));
}

function drawCircuits(out, views) {
  out.replaceChildren(...views.map(circuitView));
}

function circuitView(v) {
  const res = v.result;
  const byLayer = new Map();
  for (const n of v.nodes) { if (!byLayer.has(n.layer)) byLayer.set(n.layer, []); byLayer.get(n.layer).push(n); }
  const layers = [...byLayer.keys()].sort((a, b) => a - b);
  const maxW = Math.max(...layers.map((l) => byLayer.get(l).length));
  const colW = 64, rowH = 70, W = Math.max(360, colW * maxW + 60), H = rowH * layers.length + 30;
  const pos = new Map();
  layers.forEach((l, i) => {
    const ns = byLayer.get(l);
    ns.forEach((n, j) => pos.set(n.name, [30 + (W - 60) * (j + 0.5) / ns.length, H - 30 - i * rowH]));
  });
  const smax = Math.max(...v.nodes.map((n) => Math.abs(n.score)), 1e-12);
  const emax = Math.max(...v.edges.map((e) => Math.abs(e.score)), 1e-12);
  const svg = s("svg", { width: W, height: H, class: "circuit-graph" });
  for (const e of v.edges) {
    const a = pos.get(e.from), b = pos.get(e.to);
    if (!a || !b) continue;
    const line = s("line", { x1: a[0], y1: a[1], x2: b[0], y2: b[1], class: "edge", stroke: e.score >= 0 ? "#2166ac" : "#b2182b",
      "stroke-opacity": e.in_circuit ? 0.9 : 0.25, "stroke-width": 0.5 + 4 * Math.abs(e.score) / emax });
    line.append(s("title", {}, `${e.from} -> ${e.to}${e.input ? "." + e.input : ""}: ${fmt(e.score, 4)}${e.in_circuit ? " (in circuit)" : ""}`));
    svg.append(line);
  }
  for (const n of v.nodes) {
    const [x, y] = pos.get(n.name);
    const g = s("g", { class: "cnode", "data-name": n.name });
    const fill = n.name === "embed" || n.name === "logits" ? "#ddd" : seq(Math.abs(n.score) / smax);
    g.append(s("rect", { x: x - 24, y: y - 12, width: 48, height: 24, rx: 5, fill, stroke: n.in_circuit ? "#111" : "#bbb", "stroke-width": n.in_circuit ? 2.5 : 1 }));
    if (n.in_truth) g.append(s("rect", { x: x - 28, y: y - 16, width: 56, height: 32, rx: 7, fill: "none", stroke: "#e69f00", "stroke-width": 2, "stroke-dasharray": "4 2", class: "truth" }));
    g.append(s("text", { x, y: y + 4, "font-size": 11, "text-anchor": "middle" }, n.name));
    g.append(s("title", {}, `${n.name}: score ${fmt(n.score, 4)}${n.in_circuit ? ", in circuit" : ""}${n.in_truth ? ", in ground truth" : ""}`));
    svg.append(g);
  }
  const stats = h("table", { class: "stats" },
    h("tr", {}, h("td", {}, "model / task"), h("td", {}, `${res.model} / ${res.task}`)),
    h("tr", {}, h("td", {}, "circuit"), h("td", {}, `${res.circuit.nodes.length} nodes, ${res.circuit.edges.length} edges`)),
    h("tr", {}, h("td", {}, "clean / corrupted logit diff"), h("td", {}, `${fmt(res.clean_logit_diff)} / ${fmt(res.corrupted_logit_diff)}`)),
    res.ground_truth ? h("tr", {}, h("td", {}, "ROC AUC (nodes)"), h("td", { class: "auc" }, fmt(res.ground_truth.roc_auc))) : null,
    res.ground_truth ? h("tr", {}, h("td", {}, "max-F1 precision / recall / F1"), h("td", {}, `${fmt(res.ground_truth.precision, 2)} / ${fmt(res.ground_truth.recall, 2)} / ${fmt(res.ground_truth.f1, 2)}`)) : null,
    res.faithfulness ? h("tr", {}, h("td", {}, "faithfulness (circuit / full)"), h("td", {}, fmt(res.faithfulness.score))) : null,
    res.faithfulness && res.faithfulness.mib != null ? h("tr", {}, h("td", {}, "MIB faithfulness"), h("td", {}, fmt(res.faithfulness.mib))) : null,
    h("tr", {}, h("td", {}, "wall time"), h("td", {}, `${fmt(res.wall_seconds, 2)} s`)));
  const parts = [h("h3", {}, `${res.method}`), stats, svg,
    h("div", { class: "muted" }, h("span", { class: "legend-swatch", style: "border:2px solid #111" }), "in circuit  ",
      v.truth ? [h("span", { class: "legend-swatch", style: "border:2px dashed #e69f00" }), "ground truth  "] : null, "fill = |score|, edge width = |score| (blue +, red −)")];
  if (v.roc) {
    parts.push(h("h3", {}, "ROC over heads and MLPs"), lineChart([{ name: `AUC ${fmt(res.ground_truth ? res.ground_truth.roc_auc : NaN)}`, color: "#1f77b4", points: v.roc.map((p) => [p.fpr, p.tpr]) },
      { name: "chance", color: "#bbb", points: [[0, 0], [1, 1]] }], { width: 300, height: 240, xLabel: "false positive rate", yLabel: "true positive rate", xRange: [0, 1], yRange: [0, 1] }));
  }
  return h("div", { class: "panel circuit-view" }, parts);
}

// Features: a latent dashboard for an SAE, transcoder or CLT under --runs.
async function featuresPage(root) {
  const list = await artifacts("dictionary");
  if (!list.length) { root.append(h("h2", {}, "Features"), h("div", { class: "muted" }, "no SAE or transcoder folders under --runs (interp sae train --out DIR)")); return; }
  const file = select("dict", artifactOptions(list), "0");
  const layer = h("input", { type: "number", name: "layer", value: 0, min: 0 });
  const latent = h("input", { type: "number", name: "latent", value: 0, min: 0 });
  const token = h("input", { type: "text", name: "token", placeholder: "a token, or #ID", style: "min-width:10em" });
  const out = h("div", { id: "feature-view" });
  const found = h("div", { id: "feature-search" });
  const form = h("form", { class: "controls", id: "feature-form" }, field("dictionary", file), field("layer (CLT)", layer), field("latent", latent),
    h("button", { type: "button", onclick: () => { latent.value = Math.max(0, Number(latent.value) - 1); show(); } }, "◀"),
    h("button", { type: "submit" }, "Show"),
    h("button", { type: "button", onclick: () => { latent.value = Number(latent.value) + 1; show(); } }, "▶"));
  const sform = h("form", { class: "controls", id: "feature-search-form" }, field("search latents by token", token), h("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", (e) => { e.preventDefault(); show(); });
  sform.addEventListener("submit", async (e) => {
    e.preventDefault();
    const a = list[Number(file.value)];
    await busy(found, async () => {
      const d = await api("/api/features/search?" + q({ root: a.root, path: a.path, layer: layer.value, token: token.value }));
      found.replaceChildren(h("div", { class: "panel" }, h("h3", {}, `Latents firing on "${showTok(d.str)}" (${d.data})`),
        d.latents.length ? h("table", { class: "grid", id: "search-results" }, h("tr", {}, h("th", {}, "latent"), h("th", {}, "mean activation"), h("th", {}, "fired / occurrences")),
          d.latents.map((x) => h("tr", {}, h("td", {}, h("a", { href: "#features", onclick: (ev) => { ev.preventDefault(); latent.value = x.latent; show(); } }, x.latent)),
            h("td", {}, fmt(x.mean)), h("td", {}, `${x.fired} / ${x.count}`)))) : h("div", { class: "muted" }, "no latent fires on it in the scanned rows")));
    });
  });
  root.append(h("h2", {}, "Features"), form, sform, found, out);
  async function show() {
    const a = list[Number(file.value)];
    await busy(out, async () => drawFeature(out, await api("/api/features?" + q({ root: a.root, path: a.path, layer: layer.value, latent: latent.value }))));
  }
  await show();
}

function drawFeature(out, d) {
  const top = d.contexts.length ? d.contexts[0].act : 0;
  const ctxs = d.contexts.map((c) => h("div", { class: "ctx" }, h("span", { class: "val" }, fmt(c.act)),
    c.strs.map((t, i) => h("span", { class: "tok" + (i === c.center ? " center" : ""), title: fmt(c.acts[i], 4),
      style: `background: rgba(255,120,0,${top > 0 && c.acts[i] > 0 ? Math.min(1, c.acts[i] / top).toFixed(2) : 0})` }, showTok(t)))));
  const hist = d.histogram;
  let histSvg = h("div", { class: "muted" }, "no histogram");
  if (hist) {
    const W = 420, H = 140, L = 40, B = 28, n = hist.counts.length, cmax = Math.max(...hist.counts, 1);
    histSvg = s("svg", { width: W, height: H, id: "feature-hist" });
    hist.counts.forEach((c, i) => {
      const bh = (H - B - 10) * c / cmax;
      const r = s("rect", { x: L + i * (W - L - 10) / n, y: H - B - bh, width: (W - L - 10) / n - 1, height: bh, fill: "#ff7f0e" });
      r.append(s("title", {}, `${fmt(hist.max * i / n)}–${fmt(hist.max * (i + 1) / n)}: ${c}`));
      histSvg.append(r);
    });
    histSvg.append(s("text", { x: L, y: H - 10, "font-size": 10 }, "0"), s("text", { x: W - 10, y: H - 10, "font-size": 10, "text-anchor": "end" }, fmt(hist.max)),
      s("text", { x: L - 4, y: 14, "font-size": 10, "text-anchor": "end" }, cmax), s("text", { x: (W + L) / 2, y: H - 2, "font-size": 10, "text-anchor": "middle" }, "activation (positive only)"));
  }
  const eff = (list, title, id) => h("table", { class: "grid", id }, h("tr", {}, h("th", {}, title), h("th", {}, "logit")),
    list.map((e) => h("tr", {}, h("td", {}, showTok(e.str)), h("td", {}, fmt(e.logit)))));
  out.replaceChildren(h("div", { class: "panel" },
    h("h3", {}, `Latent ${d.latent}${d.layers > 1 ? ` of layer ${d.layer}` : ""} · ${d.arch} at ${d.site}`),
    h("div", {}, `density ${fmt(d.density, 4)} · max activation ${fmt(top)} · ${d.data}` + (hist ? ` · not firing on ${hist.zero} rows` : "")),
    h("div", { class: "row" }, h("div", {}, h("h3", {}, "Activation histogram"), histSvg),
      d.effects_note ? h("div", { class: "muted" }, "logit effects: " + d.effects_note)
        : h("div", { class: "row" }, eff(d.promoted, "promotes", "promoted"), eff(d.suppressed, "suppresses", "suppressed"))),
    h("h3", {}, "Top activating contexts"), h("div", { id: "contexts" }, ctxs.length ? ctxs : h("div", { class: "muted" }, "never fires in the scanned rows"))));
}

// Graphs: attribution graphs from interp graph, with pinning and hover.
async function graphsPage(root) {
  const list = await artifacts("graph");
  root.append(h("h2", {}, "Attribution graphs"));
  if (!list.length) { root.append(h("div", { class: "muted" }, "no graph files under --runs (interp graph --out G.json)")); return; }
  const file = select("graph", artifactOptions(list), "0");
  const out = h("div", {});
  const form = h("form", { class: "controls", id: "graph-form" }, field("graph", file), h("button", { type: "submit" }, "Open"));
  form.addEventListener("submit", (e) => { e.preventDefault(); show(); });
  root.append(form, out);
  async function show() {
    const a = list[Number(file.value)];
    await busy(out, async () => drawGraph(out, await api("/api/graph?" + q({ root: a.root, path: a.path }))));
  }
  await show();
}

function drawGraph(out, g) {
  const layerKey = (n) => n.layer === "E" ? -1 : Number(n.layer);
  const layers = [...new Set(g.nodes.map(layerKey))].sort((a, b) => a - b);
  const P = g.metadata.prompt_tokens.length;
  const avail = Math.max(600, (out.clientWidth || 1200) - 40);
  const colW = Math.max(44, Math.min(110, Math.floor((avail - 110) / P))), rowH = 64, L = 90, W = L + colW * P + 20, H = rowH * layers.length + 60;
  const pos = new Map();
  const slot = new Map();
  for (const n of g.nodes) {
    const key = `${layerKey(n)}:${n.ctx_idx}`;
    const k = slot.get(key) || 0; slot.set(key, k + 1);
    const i = layers.indexOf(layerKey(n));
    const per = Math.max(1, Math.floor((colW - 14) / 13));
    pos.set(n.node_id, [L + colW * n.ctx_idx + 14 + (k % per) * 13, H - 50 - i * rowH - Math.floor(k / per) * 13]);
  }
  const wmax = Math.max(...g.links.map((l) => Math.abs(l.weight)), 1e-12);
  const svg = s("svg", { width: W, height: H, id: "graph-svg" });
  layers.forEach((l, i) => svg.append(s("text", { x: 6, y: H - 46 - i * rowH, "font-size": 11 }, l === -1 ? "embeddings" : l === layers[layers.length - 1] ? "logits" : `layer ${l}`)));
  g.metadata.prompt_tokens.forEach((t, p) => svg.append(s("text", { x: L + colW * p + 10, y: H - 8, "font-size": 11 }, showTok(t).slice(0, Math.max(4, Math.floor(colW / 7))))));
  const edgeEls = [];
  for (const l of g.links) {
    const a = pos.get(l.source), b = pos.get(l.target);
    const el = s("line", { x1: a[0], y1: a[1], x2: b[0], y2: b[1], stroke: l.weight >= 0 ? "#2166ac" : "#b2182b", "stroke-opacity": 0.35,
      "stroke-width": 0.4 + 3 * Math.abs(l.weight) / wmax, class: "link" });
    el.append(s("title", {}, `${l.source} -> ${l.target}: ${fmt(l.weight, 4)}`));
    edgeEls.push([l, el]);
    svg.append(el);
  }
  const panel = h("div", { class: "panel", id: "graph-detail" }, h("span", { class: "muted" }, "hover a node for its strongest edges; click to pin"));
  const pinned = new Set();
  const pinList = h("div", { id: "pinned" });
  const byId = new Map(g.nodes.map((n) => [n.node_id, n]));
  const label = (n) => n.feature_type === "embedding" ? `emb "${showTok(g.metadata.prompt_tokens[n.ctx_idx])}"` : n.feature_type === "logit" ? n.clerp
    : n.feature_type === "mlp reconstruction error" ? `error L${n.layer} @${n.ctx_idx}` : `feature L${n.layer} #${n.node_id.split("_")[1]} @${n.ctx_idx}`;
  function focus(id) {
    const ins = g.links.filter((l) => l.target === id).sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight)).slice(0, 8);
    const outs = g.links.filter((l) => l.source === id).sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight)).slice(0, 8);
    for (const [l, el] of edgeEls) el.setAttribute("stroke-opacity", l.source === id || l.target === id ? 0.95 : 0.08);
    const n = byId.get(id);
    panel.replaceChildren(h("h3", {}, label(n)),
      h("div", {}, `influence ${fmt(n.influence)}${n.activation != null ? `, activation ${fmt(n.activation)}` : ""}`),
      h("table", { class: "grid", id: "node-edges" }, h("tr", {}, h("th", {}, "strongest inputs"), h("th", {}, "weight"), h("th", {}, "strongest outputs"), h("th", {}, "weight")),
        Array.from({ length: Math.max(ins.length, outs.length) }, (_, i) => h("tr", {},
          h("td", {}, ins[i] ? label(byId.get(ins[i].source)) : ""), h("td", {}, ins[i] ? fmt(ins[i].weight) : ""),
          h("td", {}, outs[i] ? label(byId.get(outs[i].target)) : ""), h("td", {}, outs[i] ? fmt(outs[i].weight) : "")))));
  }
  function unfocus() { for (const [, el] of edgeEls) el.setAttribute("stroke-opacity", 0.35); }
  for (const n of g.nodes) {
    const [x, y] = pos.get(n.node_id);
    const color = { embedding: "#999", logit: "#2ca02c", "mlp reconstruction error": "#bbb" }[n.feature_type] || "#ff7f0e";
    const gEl = s("g", { class: "node", "data-id": n.node_id });
    gEl.append(n.feature_type === "mlp reconstruction error" ? s("rect", { x: x - 5, y: y - 5, width: 10, height: 10, fill: color, stroke: "#555" })
      : s("circle", { cx: x, cy: y, r: 6, fill: color, stroke: "#555" }));
    gEl.append(s("title", {}, label(n)));
    gEl.addEventListener("mouseenter", () => focus(n.node_id));
    gEl.addEventListener("mouseleave", unfocus);
    gEl.addEventListener("click", () => {
      if (pinned.has(n.node_id)) pinned.delete(n.node_id); else pinned.add(n.node_id);
      gEl.classList.toggle("pinned", pinned.has(n.node_id));
      pinList.replaceChildren(h("b", {}, `pinned (${pinned.size}): `), [...pinned].map((id) => label(byId.get(id))).join(" · "));
    });
    svg.append(gEl);
  }
  out.replaceChildren(h("div", { class: "panel" }, h("div", {}, `prompt "${g.metadata.prompt}" · ${g.nodes.length} nodes, ${g.links.length} links`),
    h("div", { class: "muted" }, "orange: transcoder features, grey squares: reconstruction errors, grey: embeddings, green: logits; blue edges excite, red inhibit"), pinList, svg), panel);
}

// Runs: loss curves of training runs, overlaid and live, head-score heatmaps, phase changes, clamps.
async function runsPage(root) {
  const list = await artifacts("run");
  root.append(h("h2", {}, "Training runs"));
  if (!list.length) { root.append(h("div", { class: "muted" }, "no training runs under --runs (interp train --out DIR)")); return; }
  const boxes = list.map((a, i) => h("label", { style: "flex-direction:row; gap:0.3em" }, h("input", { type: "checkbox", name: "run", value: i, checked: i < 4 }), `${a.path} (${a.about})`));
  const metric = select("series", [["repeated_half_loss", "repeated-half loss (in-context)"], ["mean_loss", "training loss (mean since the last evaluation)"], ["loss", "training loss (one batch)"], ["eval_loss", "eval loss"], ["max_induction_score", "max induction score"]], "repeated_half_loss");
  const score = select("scores", [["induction_scores", "induction"], ["prev_token_scores", "previous-token"]], "induction_scores");
  const out = h("div", {});
  const form = h("form", { class: "controls", id: "runs-form" }, h("div", { style: "display:flex;flex-direction:column" }, boxes), field("curve", metric), field("head scores", score), h("button", { type: "submit" }, "Show"));
  root.append(form, out);
  const data = new Map(); // index -> {metrics, phase_change, clamps, done}
  let timer = null;
  stopPolling = () => clearTimeout(timer);
  async function load(i) {
    const a = list[i], have = data.get(i);
    const after = have && have.metrics.length ? have.metrics[have.metrics.length - 1].step : -1;
    const d = await api("/api/run?" + q({ root: a.root, path: a.path, after }));
    if (have) { have.metrics.push(...d.metrics); Object.assign(have, { phase_change: d.phase_change, clamps: d.clamps, done: d.done }); } else data.set(i, d);
  }
  async function show() {
    const chosen = boxes.map((b, i) => [b.querySelector("input").checked, i]).filter(([c]) => c).map(([, i]) => i);
    await busy(out, async () => {
      for (const i of chosen) await load(i);
      draw(chosen);
    });
    clearTimeout(timer);
    if (chosen.some((i) => !data.get(i).done)) timer = setTimeout(poll, 2000);
    async function poll() {
      try { for (const i of chosen) if (!data.get(i).done) await load(i); draw(chosen); } catch (e) { out.prepend(errorBox(e)); }
      if (chosen.some((i) => !data.get(i).done)) timer = setTimeout(poll, 2000);
    }
  }
  function draw(chosen) {
    const series = chosen.map((i, k) => {
      const d = data.get(i);
      return { name: `${list[i].path}${d.done ? "" : " (training)"}`, color: PALETTE[k % PALETTE.length],
        points: d.metrics.filter((m) => m[metric.value] !== undefined).map((m) => [m.step, m[metric.value]]), marks: d.phase_change.found ? [d.phase_change.step] : [] };
    });
    const info = h("table", { class: "grid", id: "runs-table" }, h("tr", {}, h("th", {}, "run"), h("th", {}, "task"), h("th", {}, "clamps"), h("th", {}, "phase change"), h("th", {}, "steps")),
      chosen.map((i) => { const d = data.get(i); const last = d.metrics[d.metrics.length - 1];
        return h("tr", {}, h("td", {}, list[i].path), h("td", {}, d.task || ""), h("td", {}, d.clamps.length ? d.clamps.join("; ") : "none"),
          h("td", {}, d.phase_change.found ? `step ${d.phase_change.step}` : "not found"), h("td", {}, last ? last.step : 0)); }));
    const first = data.get(chosen[0]);
    let heat = h("div", { class: "muted" }, "no head scores");
    if (first && first.metrics.length && first.metrics[0][score.value]) {
      const ms = first.metrics, L = ms[0][score.value].length, H = ms[0][score.value][0].length;
      const stride = Math.max(1, Math.ceil(ms.length / 60));
      const cols = ms.filter((_, j) => j % stride === 0);
      const rows = [], labels = [];
      for (let l = 0; l < L; l++) for (let hd = 0; hd < H; hd++) { labels.push(`L${l}H${hd}`); rows.push(cols.map((m) => m[score.value][l][hd])); }
      heat = h("div", {}, h("h3", {}, `${score.selectedOptions[0].textContent} scores over training: ${list[chosen[0]].path}`), colorbar(0, 1, seq, "score"),
        heatmap(rows, labels, cols.map((m) => String(m.step)), { color: seq, cell: 14, cellH: 14, xTitle: "step", yTitle: "head" }));
    }
    out.replaceChildren(h("div", { class: "panel", id: "runs-chart" }, h("h3", {}, metric.selectedOptions[0].textContent + " (dashed: phase change)"),
      lineChart(series, { xLabel: "step", yLabel: metric.value })), h("div", { class: "panel" }, info), h("div", { class: "panel", id: "runs-heads" }, heat));
  }
  form.addEventListener("submit", (e) => { e.preventDefault(); show(); });
  await show();
}
