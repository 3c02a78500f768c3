package circuits

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/interp-dev/interp/model"
)

func TestNewGraphCountsEdges(t *testing.T) {
	for _, tc := range []struct {
		name         string
		c            model.Config
		nodes, edges int
	}{
		// Layer 0 heads: 4 x 3 inputs x {embed}; layer 1 heads: 4 x 3 x (embed + 4 heads);
		// logits: embed + 8 heads.
		{"attention only", model.AttnOnlyToy(2, 4, 16, 10, 8), 10, 12 + 60 + 9},
		// With MLPs: mlp0 reads embed + 4 heads; layer 1 heads read embed, 4 heads, mlp0;
		// mlp1 reads those and layer 1's heads; logits everything.
		{"with MLPs", model.Config{NLayers: 2, DModel: 16, NHeads: 4, DHead: 4, DMLP: 8, NCtx: 8, DVocab: 10,
			Act: model.GeluNew, Normalization: model.LayerNorm, LNEps: 1e-5}, 12, 12 + 5 + 72 + 10 + 11},
	} {
		g := NewGraph(tc.c)
		if len(g.Nodes) != tc.nodes || len(g.Edges) != tc.edges {
			t.Errorf("%s: %d nodes, %d edges; want %d, %d", tc.name, len(g.Nodes), len(g.Edges), tc.nodes, tc.edges)
		}
		for _, e := range g.Edges {
			if err := g.CheckEdge(e); err != nil {
				t.Errorf("%s: graph edge %s fails CheckEdge: %v", tc.name, e, err)
			}
		}
	}
}

func TestParseNodesAndEdges(t *testing.T) {
	for _, s := range []string{"embed", "logits", "mlp3", "9.9", "10.11"} {
		n, err := ParseNode(s)
		if err != nil || n.String() != s {
			t.Errorf("ParseNode(%q) = %v, %v", s, n, err)
		}
	}
	for _, s := range []string{"0.1->1.2.k", "mlp0->logits", "embed->mlp1", "embed->0.3.q", "1.1->2.0.v"} {
		e, err := ParseEdge(s)
		if err != nil || e.String() != s {
			t.Errorf("ParseEdge(%q) = %v, %v", s, e, err)
		}
	}
	for _, s := range []string{"x", "1.2.3", "1.a", "mlp", "-1.2"} {
		if _, err := ParseNode(s); err == nil {
			t.Errorf("ParseNode(%q): no error", s)
		}
	}
	for _, s := range []string{"0.1", "0.1->", "->1.2.q", "0.1->1.2.x"} {
		if _, err := ParseEdge(s); err == nil {
			t.Errorf("ParseEdge(%q): no error", s)
		}
	}
}

func TestCheckEdge(t *testing.T) {
	g := NewGraph(model.AttnOnlyToy(2, 2, 8, 10, 8))
	for _, tc := range []struct {
		e    Edge
		want string // error substring; "" = valid
	}{
		{Edge{From: HeadNode(0, 1), To: HeadNode(1, 0), Input: InK}, ""},
		{Edge{From: HeadNode(1, 1), To: LogitsNode()}, ""},
		{Edge{From: HeadNode(1, 0), To: HeadNode(0, 1), Input: InQ}, "earlier node"},
		{Edge{From: HeadNode(0, 0), To: HeadNode(0, 1), Input: InQ}, "earlier node"},
		{Edge{From: HeadNode(0, 0), To: HeadNode(1, 1)}, "q, k or v"},
		{Edge{From: HeadNode(0, 0), To: LogitsNode(), Input: InV}, "only heads"},
		{Edge{From: HeadNode(0, 5), To: LogitsNode()}, "head 0.5"},
		{Edge{From: MLPNode(0), To: LogitsNode()}, "mlp0"},
	} {
		err := g.CheckEdge(tc.e)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.e, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want one containing %q", tc.e, err, tc.want)
		}
	}
}

func TestCircuitJSONRoundTrip(t *testing.T) {
	c := Circuit{Nodes: []Node{HeadNode(0, 1), MLPNode(2)},
		Edges: []Edge{{From: EmbedNode(), To: HeadNode(0, 1), Input: InV}, {From: MLPNode(2), To: LogitsNode()}}}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		t.Fatal(err)
	}
	data := bytes.TrimSpace(buf.Bytes())
	const want = `{"nodes":["0.1","mlp2"],"edges":["embed->0.1.v","mlp2->logits"]}`
	if string(data) != want {
		t.Errorf("JSON:\n got %s\nwant %s", data, want)
	}
	var back Circuit
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Nodes) != 2 || back.Nodes[1] != MLPNode(2) || len(back.Edges) != 2 || back.Edges[0] != c.Edges[0] {
		t.Errorf("round trip: got %+v, want %+v", back, c)
	}
	if err := json.Unmarshal([]byte(`{"nodes":["0.x"]}`), &back); err == nil {
		t.Error("bad node name: no error")
	}
}
