package attrgraph

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The graph file passes a JSON Schema written from circuit-tracer's frontend models
// (testdata/graph.schema.json), and every link names nodes that are in the file.
func TestGraphFileSchema(t *testing.T) {
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
	f := g.File(p, Metadata{Slug: "test", Scan: "test", Prompt: "p", NodeThreshold: 0.8}, func(t int) string { return fmt.Sprint("t", t) })
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
			switch se.Name.Local {
			case "circle":
				shapes++
			case "rect":
				if len(se.Attr) > 0 && se.Attr[0].Name.Local == "x" {
					shapes++
				}
			case "line":
				lines++
			}
		}
	}
	if shapes != len(f.Nodes) || lines != len(f.Links) {
		t.Fatalf("svg draws %d nodes and %d links, the file has %d and %d", shapes, lines, len(f.Nodes), len(f.Links))
	}
}
