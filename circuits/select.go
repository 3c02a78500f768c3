package circuits

import (
	"container/heap"
	"fmt"
	"sort"
)

// The circuit selections of the edge-scoring methods (EAP, EAP-IG), scores taken in absolute value:
//
//	keep    the edges scoring at least Keep times the largest score, then the best edges that connect
//	        each kept node to the embeddings and to the logits (interp's default);
//	topn    the TopN highest-scoring edges (hannamw/EAP-IG Graph.apply_topn), then pruned to the
//	        edges on a path from the embeddings to the logits (Graph.prune);
//	greedy  from the logits upstream: repeatedly the highest-scoring edge into a node already in the
//	        circuit, its sender joining the circuit, TopN times (Graph.apply_greedy), then pruned.
const (
	SelectKeep   = "keep"
	SelectTopN   = "topn"
	SelectGreedy = "greedy"
)

// selectEdges applies a selection to absolute edge scores.
func selectEdges(g *Graph, scores map[string]float64, how string, keep float64, n int) (Circuit, error) {
	switch how {
	case SelectKeep, "":
		return keepEdges(g, scores, keep), nil
	case SelectTopN, SelectGreedy:
		if n < 1 {
			return Circuit{}, fmt.Errorf("circuits: %s selection needs a number of edges >= 1 (Options.TopN), got %d", how, n)
		}
		var chosen []Edge
		if how == SelectTopN {
			chosen = topNEdges(g, scores, n)
		} else {
			chosen = greedyEdges(g, scores, n)
		}
		kept := pruneEdges(chosen)
		return Circuit{Nodes: NodesOfEdges(kept), Edges: kept}, nil
	}
	return Circuit{}, fmt.Errorf("circuits: selection %q (want %s, %s or %s)", how, SelectKeep, SelectTopN, SelectGreedy)
}

// rankedEdges returns the graph's edges by score, highest first (ties in graph order).
func rankedEdges(g *Graph, scores map[string]float64) []Edge {
	out := append([]Edge(nil), g.Edges...)
	sort.SliceStable(out, func(i, j int) bool { return scores[out[i].String()] > scores[out[j].String()] })
	return out
}

func topNEdges(g *Graph, scores map[string]float64, n int) []Edge {
	r := rankedEdges(g, scores)
	return r[:min(n, len(r))]
}

func greedyEdges(g *Graph, scores map[string]float64, n int) []Edge {
	rank := map[Edge]int{}
	for i, x := range rankedEdges(g, scores) {
		rank[x] = i
	}
	into := map[Node][]Edge{}
	for _, x := range g.Edges {
		into[x.To] = append(into[x.To], x)
	}
	in := map[Node]bool{LogitsNode(): true}
	h := &edgeHeap{rank: rank}
	for _, x := range into[LogitsNode()] {
		heap.Push(h, x)
	}
	var chosen []Edge
	for len(chosen) < n && h.Len() > 0 {
		x := heap.Pop(h).(Edge)
		chosen = append(chosen, x)
		if !in[x.From] {
			in[x.From] = true
			for _, y := range into[x.From] {
				heap.Push(h, y)
			}
		}
	}
	return chosen
}

// edgeHeap pops the best-ranked edge first.
type edgeHeap struct {
	edges []Edge
	rank  map[Edge]int
}

func (h *edgeHeap) Len() int           { return len(h.edges) }
func (h *edgeHeap) Less(i, j int) bool { return h.rank[h.edges[i]] < h.rank[h.edges[j]] }
func (h *edgeHeap) Swap(i, j int)      { h.edges[i], h.edges[j] = h.edges[j], h.edges[i] }
func (h *edgeHeap) Push(x any)         { h.edges = append(h.edges, x.(Edge)) }
func (h *edgeHeap) Pop() any {
	x := h.edges[len(h.edges)-1]
	h.edges = h.edges[:len(h.edges)-1]
	return x
}

// pruneEdges keeps the edges on a path from the embeddings to the logits through the given edges.
func pruneEdges(edges []Edge) []Edge {
	fromEmbed, toLogits := reach(edges)
	var out []Edge
	for _, x := range edges {
		if fromEmbed[x.From] && toLogits[x.To] {
			out = append(out, x)
		}
	}
	return out
}
