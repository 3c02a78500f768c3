package attrgraph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"strings"
)

// WriteHTML writes a self-contained page (no network access) that shows the graph file: the SVG
// of WriteSVG beside a panel. Hovering a node shows its id, type, activation and influence and
// its largest incoming and outgoing links, and highlights them in the drawing; clicking a node
// pins it (pinned nodes stay highlighted and are listed, and are written into qParams.pinnedIds of
// the JSON the page can download, which circuit-tracer's frontend reads); clicking it again
// unpins it.
func (f *File) WriteHTML(w io.Writer) error {
	var svg bytes.Buffer
	if err := f.WriteSVG(&svg); err != nil {
		return err
	}
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	// The JSON sits in a script element: "</" must not close it.
	js := strings.ReplaceAll(string(data), "</", `<\/`)
	title := html.EscapeString(f.Metadata.Slug)
	_, err = fmt.Fprintf(w, htmlPage, title, svg.String(), html.EscapeString(f.Metadata.Prompt), js, htmlScript)
	return err
}

const htmlPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>%s — attribution graph</title>
<style>
body { font-family: sans-serif; margin: 12px; display: flex; gap: 16px; align-items: flex-start; }
#drawing { overflow: auto; border: 1px solid #ddd; max-width: 70vw; }
#panel { width: 26vw; min-width: 260px; font-size: 13px; }
#panel table { border-collapse: collapse; width: 100%%; }
#panel td { padding: 1px 4px; border-bottom: 1px solid #eee; }
#panel td.w { text-align: right; font-family: monospace; }
.node { cursor: pointer; }
svg.focus .link { stroke-opacity: 0.06; }
svg.focus .link.on { stroke-opacity: 0.95; }
.node.pinned { stroke: #000; stroke-width: 3px; }
h1 { font-size: 16px; margin: 0 0 6px 0; }
.prompt { color: #444; margin-bottom: 8px; }
</style>
</head>
<body>
<div id="drawing">%s</div>
<div id="panel">
<h1 id="slug"></h1>
<div class="prompt">%s</div>
<div id="info">Hover a node to see its links; click to pin it.</div>
<h2 style="font-size:14px">Pinned</h2>
<div id="pins">none</div>
<p><button id="download">Download graph JSON with pins</button></p>
</div>
<script type="application/json" id="graph">%s</script>
<script>%s</script>
</body>
</html>
`

const htmlScript = `
(function () {
  "use strict";
  var g = JSON.parse(document.getElementById("graph").textContent);
  document.getElementById("slug").textContent = g.metadata.slug;
  var nodes = {}, incoming = {}, outgoing = {};
  g.nodes.forEach(function (n) { nodes[n.node_id] = n; incoming[n.node_id] = []; outgoing[n.node_id] = []; });
  g.links.forEach(function (l) {
    if (incoming[l.target]) incoming[l.target].push(l);
    if (outgoing[l.source]) outgoing[l.source].push(l);
  });
  var svg = document.querySelector("#drawing svg");
  var links = Array.prototype.slice.call(svg.querySelectorAll(".link"));
  var shapes = Array.prototype.slice.call(svg.querySelectorAll(".node"));
  var pinned = [];
  function fmt(x) { return (x >= 0 ? "+" : "") + x.toPrecision(4); }
  function label(id) {
    var n = nodes[id];
    if (!n) return id;
    var tok = g.metadata.prompt_tokens[n.ctx_idx] || "";
    return id + " (" + n.feature_type + ", '" + tok + "')";
  }
  function rows(list, key) {
    list = list.slice().sort(function (a, b) { return Math.abs(b.weight) - Math.abs(a.weight); }).slice(0, 10);
    if (!list.length) return "<tr><td>none</td></tr>";
    return list.map(function (l) {
      return "<tr><td>" + escapeHTML(label(l[key])) + "</td><td class=\"w\">" + fmt(l.weight) + "</td></tr>";
    }).join("");
  }
  function escapeHTML(s) {
    return String(s).replace(/[&<>"]/g, function (c) { return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;"}[c]; });
  }
  function highlight(ids) {
    if (!ids.length) { svg.classList.remove("focus"); links.forEach(function (e) { e.classList.remove("on"); }); return; }
    svg.classList.add("focus");
    links.forEach(function (e) {
      var on = ids.indexOf(e.getAttribute("data-s")) >= 0 || ids.indexOf(e.getAttribute("data-t")) >= 0;
      e.classList.toggle("on", on);
    });
  }
  function show(id) {
    var n = nodes[id];
    var act = n.activation === null || n.activation === undefined ? "" : " activation " + n.activation.toPrecision(4);
    var inf = n.influence === null || n.influence === undefined ? "" : ", influence " + n.influence.toPrecision(4);
    document.getElementById("info").innerHTML = "<b>" + escapeHTML(label(id)) + "</b><br>" + escapeHTML(act + inf) +
      "<h2 style=\"font-size:14px\">Largest incoming</h2><table id=\"in\">" + rows(incoming[id], "source") + "</table>" +
      "<h2 style=\"font-size:14px\">Largest outgoing</h2><table id=\"out\">" + rows(outgoing[id], "target") + "</table>";
  }
  function renderPins() {
    shapes.forEach(function (s) { s.classList.toggle("pinned", pinned.indexOf(s.getAttribute("data-id")) >= 0); });
    document.getElementById("pins").innerHTML = pinned.length ? pinned.map(function (id) { return escapeHTML(label(id)); }).join("<br>") : "none";
    highlight(pinned);
  }
  shapes.forEach(function (s) {
    var id = s.getAttribute("data-id");
    s.addEventListener("mouseenter", function () { show(id); highlight(pinned.concat([id])); });
    s.addEventListener("mouseleave", function () { highlight(pinned); });
    s.addEventListener("click", function () {
      var i = pinned.indexOf(id);
      if (i >= 0) pinned.splice(i, 1); else pinned.push(id);
      show(id);
      renderPins();
    });
  });
  document.getElementById("download").addEventListener("click", function () {
    g.qParams.pinnedIds = pinned.slice();
    var a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([JSON.stringify(g)], {type: "application/json"}));
    a.download = g.metadata.slug + ".json";
    a.click();
  });
})();
`
