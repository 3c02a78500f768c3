package circuits

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustNodes(t *testing.T, names ...string) []Node {
	t.Helper()
	var out []Node
	for _, s := range names {
		n, err := ParseNode(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

func TestCompareCircuits(t *testing.T) {
	a := Circuit{Nodes: mustNodes(t, "0.1", "1.2", "2.0")}
	b := Circuit{Nodes: mustNodes(t, "1.2", "2.0", "2.3", "3.1")}
	nodes, edges := Compare(a, b)
	if edges != nil {
		t.Errorf("edge overlap %+v for circuits without edges", edges)
	}
	// Shared {1.2, 2.0}, union 5: Jaccard 2/5, A in B 2/3, B in A 2/4.
	if nodes.Shared != 2 || nodes.Union != 5 || math.Abs(nodes.Jaccard-0.4) > 1e-12 ||
		math.Abs(nodes.AInB-2.0/3) > 1e-12 || math.Abs(nodes.BInA-0.5) > 1e-12 {
		t.Errorf("node overlap %+v, want shared 2, union 5, Jaccard 0.4, A in B 2/3, B in A 1/2", nodes)
	}
	if strings.Join(nodes.Both, " ") != "1.2 2.0" || strings.Join(nodes.OnlyA, " ") != "0.1" || strings.Join(nodes.OnlyB, " ") != "2.3 3.1" {
		t.Errorf("sets: both %v, only A %v, only B %v", nodes.Both, nodes.OnlyA, nodes.OnlyB)
	}
	a.Edges = []Edge{{From: HeadNode(0, 1), To: HeadNode(1, 2), Input: InK}, {From: HeadNode(2, 0), To: LogitsNode()}}
	b.Edges = []Edge{{From: HeadNode(2, 0), To: LogitsNode()}}
	if _, edges = Compare(a, b); edges == nil || edges.Shared != 1 || edges.Jaccard != 0.5 || edges.BInA != 1 {
		t.Errorf("edge overlap %+v, want shared 1, Jaccard 1/2, B in A 1", edges)
	}
	if tab := OverlapTable("A", "B", nodes, edges); !strings.Contains(tab, "0.400") || !strings.Contains(tab, "only in A:    0.1") {
		t.Errorf("table:\n%s", tab)
	}
}

func TestReadCircuitFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, v any) string { return writeJSONFile(t, dir, name, v) }
	c := Circuit{Nodes: mustNodes(t, "0.1", "1.2"), Edges: []Edge{{From: HeadNode(0, 1), To: HeadNode(1, 2), Input: InV}}}
	res := &Result{Model: "m", Task: "ioi", Method: ACDC, Circuit: c}
	single := write("one.json", res)
	report := write("all.json", &Report{Model: "m", Task: "ioi", Results: []*Result{{Method: EAP}, res}})
	bare := write("bare.json", c)
	for _, spec := range []string{single, report + "#acdc", bare} {
		got, label, err := ReadCircuitFile(spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		if len(got.Nodes) != 2 || got.Nodes[1] != HeadNode(1, 2) || len(got.Edges) != 1 || got.Edges[0] != c.Edges[0] {
			t.Errorf("%s: circuit %+v, want %+v", spec, got, c)
		}
		if label == "" {
			t.Errorf("%s: empty label", spec)
		}
	}
	for spec, want := range map[string]string{
		report:                                  "pick one with",
		report + "#head-overlap":                "pick one with",
		write("x.json", map[string]int{"a": 1}): "neither",
		filepath.Join(dir, "missing"):           "no such file",
	} {
		if _, _, err := ReadCircuitFile(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", spec, err, want)
		}
	}
}

// TestOverlapChance: the hypergeometric tail against counting every subset, and the candidates
// read back from discovery results.
func TestOverlapChance(t *testing.T) {
	// Every b-subset of n items against the fixed set {0..a-1}: count those sharing >= k.
	count := func(n, a, b, k int) float64 {
		hits, all := 0, 0
		for mask := 0; mask < 1<<n; mask++ {
			if bitsSet(mask) != b {
				continue
			}
			all++
			if bitsSet(mask&(1<<a-1)) >= k {
				hits++
			}
		}
		return float64(hits) / float64(all)
	}
	for _, c := range [][4]int{{16, 9, 4, 2}, {16, 9, 4, 4}, {12, 3, 5, 0}, {12, 3, 5, 1}, {10, 7, 6, 3}, {10, 7, 6, 6}, {14, 2, 2, 2}} {
		got, want := hypergeomTail(c[0], c[1], c[2], c[3]), count(c[0], c[1], c[2], c[3])
		// Sums of at most 7 terms, each exp of a few lgamma values: well within 1e-12 of the count.
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("n, a, b, k = %v: tail %.15g, counted %.15g", c, got, want)
		}
	}
	o := &Overlap{Level: "nodes", A: 9, B: 4, Shared: 2, Union: 11}
	if err := o.SetChance(16); err != nil || math.Abs(o.ChanceShared-2.25) > 1e-12 || math.Abs(o.PValue-(1-350.0/1820)) > 1e-12 {
		t.Errorf("SetChance(16): %+v, %v; want chance 2.25, P 1-350/1820", o, err)
	}
	if err := o.SetChance(10); err == nil || !strings.Contains(err.Error(), "fewer than the 11") {
		t.Errorf("SetChance(10) with 11 nodes in the circuits: %v", err)
	}
	dir := t.TempDir()
	c := Circuit{Nodes: mustNodes(t, "0.1"), Edges: []Edge{{From: HeadNode(0, 0), To: LogitsNode()}}}
	res := &Result{Model: "m", Task: "ioi", Method: EAP, Circuit: c, NodeScores: map[string]float64{"0.0": 1, "0.1": 2, "1.0": 0},
		EdgeScores: map[string]float64{c.Edges[0].String(): 1, "0.1->logits": 0}}
	write := func(name string, v any) string { return writeJSONFile(t, dir, name, v) }
	p, bare := write("r.json", res), write("bare.json", c)
	// Both results scored the same 3 nodes and 2 edges: the chance figures are set.
	nodes, edges, _, _, err := CompareFiles(p, p)
	if err != nil || nodes.Candidates != 3 || edges == nil || edges.Candidates != 2 || math.Abs(nodes.ChanceShared-1.0/3) > 1e-12 {
		t.Errorf("CompareFiles(result, result): nodes %+v, edges %+v, %v", nodes, edges, err)
	}
	// A bare circuit records no candidates: no chance figures.
	if nodes, _, _, _, err = CompareFiles(p, bare); err != nil || nodes.Candidates != 0 || nodes.Shared != 1 {
		t.Errorf("CompareFiles(result, bare): nodes %+v, %v", nodes, err)
	}
}

func bitsSet(x int) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

// writeJSONFile writes v as indented JSON to dir/name and returns the path.
func writeJSONFile(t *testing.T, dir, name string, v any) string {
	t.Helper()
	data, err := MarshalIndentJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
