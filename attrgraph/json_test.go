package attrgraph

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// testGraphFile is the pruned graph file of a random GPT-2-layout model's prompt.
func testGraphFile(t *testing.T, meta Metadata) (*Graph, *File) {
	t.Helper()
	c := testConfigs()["gpt2"]
	m := newTestModel(t, c, 21)
	g, err := Build(m, randomTranscoders(t, m, 24, -1, 22), testPrompt(c, 6, 23), Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := g.Prune(0.8, 0.98)
	if err != nil {
		t.Fatal(err)
	}
	return g, g.File(p, meta, func(t int) string { return fmt.Sprint("t", t) })
}

// The graph file passes a JSON Schema written from circuit-tracer's frontend models
// (testdata/graph.schema.json), and every link names nodes that are in the file.
func TestGraphFileSchema(t *testing.T) {
	g, f := testGraphFile(t, Metadata{Slug: "test", Scan: "test", Prompt: "p", NodeThreshold: 0.8})
	var buf bytes.Buffer
	if err := f.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	sch, err := jsonschema.NewCompiler().Compile("testdata/graph.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("graph file fails the schema: %v", err)
	}
	ids := map[string]bool{}
	kinds := map[string]int{}
	for _, n := range f.Nodes {
		if ids[n.NodeID] {
			t.Fatalf("duplicate node id %s", n.NodeID)
		}
		ids[n.NodeID] = true
		kinds[n.FeatureType]++
	}
	for _, l := range f.Links {
		if !ids[l.Source] || !ids[l.Target] {
			t.Fatalf("link %s -> %s names a missing node", l.Source, l.Target)
		}
	}
	if kinds["embedding"] != 6 || kinds["logit"] != len(g.Logits) || kinds["cross layer transcoder"] == 0 || len(f.Links) == 0 {
		t.Fatalf("node kinds %v, %d links", kinds, len(f.Links))
	}

	// The SVG view is well-formed and draws every node and link of the file.
	var svg bytes.Buffer
	if err := f.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&svg)
	shapes, lines := 0, 0
	for {
		tk, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("svg: %v", err)
		}
		if se, ok := tk.(xml.StartElement); ok {
			for _, a := range se.Attr {
				if a.Name.Local == "class" && a.Value == "node" {
					shapes++
				}
				if a.Name.Local == "class" && a.Value == "link" {
					lines++
				}
			}
		}
	}
	if shapes != len(f.Nodes) || lines != len(f.Links) {
		t.Fatalf("svg draws %d nodes and %d links, the file has %d and %d", shapes, lines, len(f.Nodes), len(f.Links))
	}
}

// The HTML view is one self-contained page: it embeds the graph file (which parses back to the
// same nodes and links) and the SVG with every node addressable, loads nothing from the network,
// and its script passes node's syntax check when node is installed.
func TestGraphHTML(t *testing.T) {
	_, f := testGraphFile(t, Metadata{Slug: "test</script>", Prompt: "a <b> prompt"})
	var buf bytes.Buffer
	if err := f.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, bad := range []string{"http://", "https://", "src=", "<link"} {
		if strings.Contains(strings.ReplaceAll(page, `xmlns="http://www.w3.org/2000/svg"`, ""), bad) {
			t.Errorf("the page refers outside itself: %q", bad)
		}
	}
	start := strings.Index(page, `<script type="application/json" id="graph">`)
	if start < 0 {
		t.Fatal("no embedded graph")
	}
	rest := page[start+len(`<script type="application/json" id="graph">`):]
	end := strings.Index(rest, "</script>")
	var back File
	if err := json.Unmarshal([]byte(rest[:end]), &back); err != nil {
		t.Fatalf("embedded graph: %v", err)
	}
	if len(back.Nodes) != len(f.Nodes) || len(back.Links) != len(f.Links) || back.Metadata.Slug != "test</script>" {
		t.Fatalf("embedded graph has %d nodes, %d links, slug %q", len(back.Nodes), len(back.Links), back.Metadata.Slug)
	}
	for _, n := range f.Nodes {
		if !strings.Contains(page, fmt.Sprintf(`data-id="%s"`, n.NodeID)) {
			t.Errorf("node %s is not drawn", n.NodeID)
		}
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Log("node is not installed: the script's syntax is not checked")
		return
	}
	script := rest[end+len("</script>"):]
	script = script[strings.Index(script, "<script>")+len("<script>"):]
	script = script[:strings.Index(script, "</script>")]
	path := filepath.Join(t.TempDir(), "page.js")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("node", "--check", path).CombinedOutput(); err != nil {
		t.Fatalf("the page's script does not parse: %v\n%s", err, out)
	}
}
