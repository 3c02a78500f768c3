package attrgraph

import (
	"encoding/json"
	"fmt"
	"io"
)

// The graph file circuit-tracer's frontend reads (circuit_tracer/frontend/graph_models.py,
// written by create_graph_files): metadata, qParams, nodes and links of the pruned graph.

// Metadata describes the graph file.
type Metadata struct {
	Slug           string   `json:"slug"`
	Scan           string   `json:"scan"`
	TranscoderList []string `json:"transcoder_list"`
	PromptTokens   []string `json:"prompt_tokens"`
	Prompt         string   `json:"prompt"`
	NodeThreshold  float64  `json:"node_threshold"`
	SchemaVersion  int      `json:"schema_version"`
}

type qParams struct {
	PinnedIDs  []string   `json:"pinnedIds"`
	Supernodes [][]string `json:"supernodes"`
	LinkType   string     `json:"linkType"`
	ClickedID  string     `json:"clickedId"`
	SgPos      string     `json:"sg_pos"`
}

// FileNode is one node of the graph file.
type FileNode struct {
	NodeID        string   `json:"node_id"`
	Feature       int      `json:"feature"`
	Layer         string   `json:"layer"`
	CtxIdx        int      `json:"ctx_idx"`
	FeatureType   string   `json:"feature_type"`
	TokenProb     float64  `json:"token_prob"`
	IsTargetLogit bool     `json:"is_target_logit"`
	RunIdx        int      `json:"run_idx"`
	ReverseCtxIdx int      `json:"reverse_ctx_idx"`
	JSNodeID      string   `json:"jsNodeId"`
	Clerp         string   `json:"clerp"`
	Influence     *float64 `json:"influence"`
	Activation    *float64 `json:"activation"`
}

// FileLink is one edge of the graph file.
type FileLink struct {
	Source string  `json:"source"`
	Target string  `json:"target"`
	Weight float64 `json:"weight"`
}

// File is the whole graph file.
type File struct {
	Metadata Metadata   `json:"metadata"`
	QParams  qParams    `json:"qParams"`
	Nodes    []FileNode `json:"nodes"`
	Links    []FileLink `json:"links"`
}

// File returns the pruned graph in circuit-tracer's graph-file schema. tok renders a token id
// (prompt tokens and logit labels). Node ids: feature "L_F_P", error "L_-1_P", embedding
// "E_TOKEN_P", logit "(L+1)_TOKEN_P"; links keep the kept edges with nonzero weight.
func (g *Graph) File(p *Pruned, meta Metadata, tok func(int) string) *File {
	f := &File{Metadata: meta, QParams: qParams{PinnedIDs: []string{}, Supernodes: [][]string{}, LinkType: "both"}}
	if f.Metadata.TranscoderList == nil {
		f.Metadata.TranscoderList = []string{}
	}
	f.Metadata.SchemaVersion = 1
	f.Metadata.PromptTokens = make([]string, len(g.Tokens))
	for i, t := range g.Tokens {
		f.Metadata.PromptTokens[i] = tok(t)
	}
	ids := make([]string, g.N)
	nF := len(g.Features)
	for i := range g.N {
		if !p.Nodes[i] {
			continue
		}
		inf := p.Cumulative[i]
		var n FileNode
		switch {
		case i < nF:
			ft := g.Features[i]
			act := float64(ft.Act)
			n = FileNode{NodeID: fmt.Sprintf("%d_%d_%d", ft.Layer, ft.Index, ft.Pos), Feature: cantor(ft.Layer, ft.Index),
				Layer: fmt.Sprint(ft.Layer), CtxIdx: ft.Pos, FeatureType: "cross layer transcoder",
				JSNodeID: fmt.Sprintf("%d_%d-0", ft.Layer, ft.Index), Influence: &inf, Activation: &act}
		case i < g.TokenNode(0):
			l, t := (i-nF)/g.P, (i-nF)%g.P
			n = FileNode{NodeID: fmt.Sprintf("%d_-1_%d", l, t), Feature: -1, Layer: fmt.Sprint(l), CtxIdx: t,
				FeatureType: "mlp reconstruction error", JSNodeID: fmt.Sprintf("%d_-1-%d", l, t), Influence: &inf}
		case i < g.LogitNode(0):
			t := i - g.TokenNode(0)
			n = FileNode{NodeID: fmt.Sprintf("E_%d_%d", g.Tokens[t], t), Feature: t, Layer: "E", CtxIdx: t,
				FeatureType: "embedding", JSNodeID: fmt.Sprintf("E_%d-%d", g.Tokens[t], t), Influence: &inf}
		default:
			k := i - g.LogitNode(0)
			lg := g.Logits[k]
			n = FileNode{NodeID: fmt.Sprintf("%d_%d_%d", g.NLayers+1, lg.Token, g.P-1), Feature: lg.Token,
				Layer: fmt.Sprint(g.NLayers + 1), CtxIdx: g.P - 1, FeatureType: "logit", TokenProb: lg.Prob,
				IsTargetLogit: k == 0, JSNodeID: fmt.Sprintf("L_%d-%d", lg.Token, g.P-1),
				Clerp: fmt.Sprintf("Output %q (p=%.3f)", tok(lg.Token), lg.Prob)}
		}
		ids[i] = n.NodeID
		f.Nodes = append(f.Nodes, n)
	}
	f.Links = []FileLink{}
	for i := range g.N {
		for j := range g.N {
			if w := g.Adj[i*g.N+j]; p.Edges[i*g.N+j] && w != 0 && ids[i] != "" && ids[j] != "" {
				f.Links = append(f.Links, FileLink{Source: ids[j], Target: ids[i], Weight: float64(w)})
			}
		}
	}
	// As create_graph_files: nodes without a kept link go, but embeddings and logits stay.
	linked := map[string]bool{}
	for _, l := range f.Links {
		linked[l.Source], linked[l.Target] = true, true
	}
	kept := f.Nodes[:0]
	for _, n := range f.Nodes {
		if linked[n.NodeID] || n.FeatureType == "embedding" || n.FeatureType == "logit" {
			kept = append(kept, n)
		}
	}
	f.Nodes = kept
	return f
}

// cantor is circuit-tracer's feature number for (layer, index).
func cantor(x, y int) int { return (x+y)*(x+y+1)/2 + y }

// WriteJSON writes the graph file, indented.
func (f *File) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(f)
}
