package attrgraph

import (
	"fmt"
	"sort"
)

// HeadSplit is one target's incoming edges split by the last attention head on each path (the
// head whose output reaches the target through the residual stream alone). Row 0 holds the paths
// through no head (the residual stream itself, and skip transcoders' W_skip); row 1 + l*H + h
// those whose last head is head h of layer l. Each row is over the graph's nodes, and the rows
// sum to the target's row of the adjacency.
type HeadSplit struct {
	Target  int
	NLayers int
	NHeads  int
	Rows    [][]float32 // [1 + L*H][N]
}

// Head returns the row of head h of layer l.
func (s *HeadSplit) Head(l, h int) []float32 { return s.Rows[1+l*s.NHeads+h] }

// Residual returns the row of the paths through no head.
func (s *HeadSplit) Residual() []float32 { return s.Rows[0] }

// Carried is what head (l, h) carries into the target: the sum of its row over every source.
func (s *HeadSplit) Carried(l, h int) float64 {
	var sum float64
	for _, v := range s.Head(l, h) {
		sum += float64(v)
	}
	return sum
}

// HeadShare is one head's part of one edge.
type HeadShare struct {
	Layer, Head int // Layer -1: the paths through no head
	Weight      float32
}

// Shares returns the heads' parts of the edge from source, largest |weight| first, with the
// paths through no head as Layer -1; zero parts are left out.
func (s *HeadSplit) Shares(source int) []HeadShare {
	var out []HeadShare
	if v := s.Rows[0][source]; v != 0 {
		out = append(out, HeadShare{Layer: -1, Head: -1, Weight: v})
	}
	for l := range s.NLayers {
		for h := range s.NHeads {
			if v := s.Head(l, h)[source]; v != 0 {
				out = append(out, HeadShare{Layer: l, Head: h, Weight: v})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return abs32(out[i].Weight) > abs32(out[j].Weight) })
	return out
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

// SplitByHead splits the incoming edges of node target of g (a logit or a feature) by the last
// attention head on each path: one backward pass of 1 + L*H rows (see adjoint.go). g must be
// the graph of r's prompt.
func (r *Replacement) SplitByHead(g *Graph, target int) (*HeadSplit, error) {
	if len(g.Tokens) != r.P || g.NLayers != r.cfg.NLayers {
		return nil, fmt.Errorf("attrgraph: the graph is of another prompt or model")
	}
	var layer, pos int
	var vec []float32
	switch {
	case target >= g.LogitNode(0) && target < g.N:
		_, lvecs, err := r.logitTargets(Options{Targets: []int{g.Logits[target-g.LogitNode(0)].Token}})
		if err != nil {
			return nil, err
		}
		layer, pos, vec = r.cfg.NLayers, r.P-1, lvecs
	case target >= 0 && target < len(g.Features):
		f := g.Features[target]
		layer, pos, vec = f.Layer, f.Pos, r.encoderVec(f)
	default:
		return nil, fmt.Errorf("attrgraph: node %d is not a feature or a logit: it has no incoming edges", target)
	}
	feats := r.activeFeatures()
	a := newAdjoint(r, feats)
	flat, err := a.headRows(layer, pos, vec)
	if err != nil {
		return nil, err
	}
	col := make([]int, len(feats)) // active feature -> node, -1 when not a node of g
	node := map[[3]int]int{}
	for i, f := range g.Features {
		node[[3]int{f.Layer, f.Pos, f.Index}] = i
	}
	for i, f := range feats {
		col[i] = -1
		if n, ok := node[[3]int{f.Layer, f.Pos, f.Index}]; ok {
			col[i] = n
		}
	}
	nF, L, H := len(g.Features), r.cfg.NLayers, r.cfg.NHeads
	s := &HeadSplit{Target: target, NLayers: L, NHeads: H}
	for b := range 1 + L*H {
		src := flat[b*a.nSrc : (b+1)*a.nSrc]
		row := make([]float32, g.N)
		for j, v := range src[:len(feats)] {
			if col[j] >= 0 {
				row[col[j]] = v
			}
		}
		copy(row[nF:nF+(L+1)*r.P], src[len(feats):])
		s.Rows = append(s.Rows, row)
	}
	return s, nil
}
