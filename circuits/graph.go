package circuits

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/interp-dev/interp/model"
)

// NodeKind is the type of a node of the circuit graph.
type NodeKind string

const (
	// Embed is the input node: token plus positional embeddings (hook_embed + hook_pos_embed).
	Embed NodeKind = "embed"
	// Head is one attention head's output (blocks.L.attn.hook_result[:, :, H]).
	Head NodeKind = "head"
	// MLP is one block's MLP output (blocks.L.hook_mlp_out).
	MLP NodeKind = "mlp"
	// Logits is the output node: the final residual stream read by the unembedding.
	Logits NodeKind = "logits"
)

// Node is a node of the circuit graph: the embeddings, an attention head, an MLP or the logits.
// Its name is "embed", "L.H" (head H of layer L, as in "9.9"), "mlpL" or "logits".
type Node struct {
	Kind  NodeKind
	Layer int // block index; -1 for embed and logits
	Head  int // head index for heads, -1 otherwise
}

// HeadNode returns head h of layer l.
func HeadNode(l, h int) Node { return Node{Kind: Head, Layer: l, Head: h} }

// MLPNode returns the MLP of layer l.
func MLPNode(l int) Node { return Node{Kind: MLP, Layer: l, Head: -1} }

// EmbedNode is the input node.
func EmbedNode() Node { return Node{Kind: Embed, Layer: -1, Head: -1} }

// LogitsNode is the output node.
func LogitsNode() Node { return Node{Kind: Logits, Layer: -1, Head: -1} }

func (n Node) String() string {
	switch n.Kind {
	case Embed:
		return "embed"
	case Logits:
		return "logits"
	case MLP:
		return "mlp" + strconv.Itoa(n.Layer)
	}
	return strconv.Itoa(n.Layer) + "." + strconv.Itoa(n.Head)
}

// ParseNode parses a node name ("embed", "logits", "mlp3", "9.9").
func ParseNode(s string) (Node, error) {
	switch {
	case s == "embed":
		return EmbedNode(), nil
	case s == "logits":
		return LogitsNode(), nil
	case strings.HasPrefix(s, "mlp"):
		l, err := strconv.Atoi(s[3:])
		if err != nil || l < 0 {
			return Node{}, fmt.Errorf("circuits: node %q: want mlpL with a layer number", s)
		}
		return MLPNode(l), nil
	}
	ls, hs, ok := strings.Cut(s, ".")
	l, err1 := strconv.Atoi(ls)
	h, err2 := strconv.Atoi(hs)
	if !ok || err1 != nil || err2 != nil || l < 0 || h < 0 {
		return Node{}, fmt.Errorf("circuits: node %q: want embed, logits, mlpL or L.H", s)
	}
	return HeadNode(l, h), nil
}

// order is the node's place in the residual stream: embed, then per layer its heads and its MLP,
// then the logits. A node can only send to nodes of a higher order.
func (n Node) order() int {
	switch n.Kind {
	case Embed:
		return -1
	case Head:
		return 2 * n.Layer
	case MLP:
		return 2*n.Layer + 1
	}
	return 1 << 30
}

// Input names the input of a receiver an edge feeds: "q", "k" or "v" for a head, "" for an MLP
// or the logits.
type Input string

// The inputs of an attention head.
const (
	InQ Input = "q"
	InK Input = "k"
	InV Input = "v"
)

// Edge is a path from a sender node's output to a receiver node's input, through the residual
// stream only (no other node in between).
type Edge struct {
	From, To Node
	Input    Input
}

func (e Edge) String() string {
	s := e.From.String() + "->" + e.To.String()
	if e.Input != "" {
		s += "." + string(e.Input)
	}
	return s
}

// pair drops the receiver input: the head-pair edge methods without q/k/v resolution score.
func (e Edge) pair() Edge { return Edge{From: e.From, To: e.To} }

// ParseEdge parses an edge name as Edge.String writes it ("0.1->1.2.k", "1.2->logits").
func ParseEdge(s string) (Edge, error) {
	from, to, ok := strings.Cut(s, "->")
	if !ok {
		return Edge{}, fmt.Errorf("circuits: edge %q: want SENDER->RECEIVER[.q|.k|.v]", s)
	}
	var in Input
	for _, x := range []Input{InQ, InK, InV} {
		if strings.HasSuffix(to, "."+string(x)) && strings.Count(to, ".") == 2 {
			to, in = strings.TrimSuffix(to, "."+string(x)), x
		}
	}
	f, err := ParseNode(from)
	if err != nil {
		return Edge{}, err
	}
	t, err := ParseNode(to)
	if err != nil {
		return Edge{}, err
	}
	return Edge{From: f, To: t, Input: in}, nil
}

// Graph is the computational graph of a model at the granularity of heads and MLPs: every node
// and every edge from an earlier node to a later one, with a head receiving on its q, k and v
// inputs separately.
//
// Two architectures change the edges. With a parallel residual (Pythia) a layer's MLP reads the
// same residual stream as its heads, so no head sends to the MLP of its own layer. Under
// grouped-query attention the G = H/Hkv query heads of a group share one key and one value
// head: the group's k and v inputs are received by its first query head's node (L.jG for key/
// value head j), and the other heads of the group receive on q only.
type Graph struct {
	NLayers, NHeads int
	HasMLP          bool
	// Parallel: attention and the MLP of a layer read the same residual stream.
	Parallel bool
	// KVGroup is the number of query heads per key/value head (1 without grouped-query attention).
	KVGroup int
	Nodes   []Node // embed, per layer its heads then its MLP, logits
	Edges   []Edge // grouped by receiver in Nodes order, senders in Nodes order
}

// NewGraph returns the graph of a model with config c.
func NewGraph(c model.Config) *Graph {
	g := &Graph{NLayers: c.NLayers, NHeads: c.NHeads, HasMLP: c.HasMLP(), Parallel: c.ParallelResidual,
		KVGroup: c.NHeads / c.KVHeads()}
	g.Nodes = append(g.Nodes, EmbedNode())
	for l := range c.NLayers {
		for h := range c.NHeads {
			g.Nodes = append(g.Nodes, HeadNode(l, h))
		}
		if g.HasMLP {
			g.Nodes = append(g.Nodes, MLPNode(l))
		}
	}
	g.Nodes = append(g.Nodes, LogitsNode())
	for _, r := range g.Nodes[1:] {
		for _, in := range g.Inputs(r) {
			for _, s := range g.Senders(r) {
				g.Edges = append(g.Edges, Edge{From: s, To: r, Input: in})
			}
		}
	}
	return g
}

// Inputs lists a receiver's inputs: q, k, v for a head (q only for a head that is not the first
// of its key/value group), one unnamed input otherwise.
func (g *Graph) Inputs(r Node) []Input {
	if r.Kind == Head {
		if g.KVGroup > 1 && r.Head%g.KVGroup != 0 {
			return []Input{InQ}
		}
		return []Input{InQ, InK, InV}
	}
	return []Input{""}
}

// Senders lists the nodes that write to the residual stream before receiver r reads it.
func (g *Graph) Senders(r Node) []Node {
	var out []Node
	for _, s := range g.Nodes {
		if s.Kind == Logits || s.order() >= r.order() {
			continue
		}
		if g.Parallel && r.Kind == MLP && s.Kind == Head && s.Layer == r.Layer {
			continue // both read the layer's resid_pre
		}
		out = append(out, s)
	}
	return out
}

// Heads lists the head nodes in layer order.
func (g *Graph) Heads() []Node {
	var out []Node
	for _, n := range g.Nodes {
		if n.Kind == Head {
			out = append(out, n)
		}
	}
	return out
}

// Components lists the heads and MLPs: the nodes a circuit chooses among.
func (g *Graph) Components() []Node {
	var out []Node
	for _, n := range g.Nodes {
		if n.Kind == Head || n.Kind == MLP {
			out = append(out, n)
		}
	}
	return out
}

// Check reports whether n is a node of g, naming it otherwise.
func (g *Graph) Check(n Node) error {
	switch n.Kind {
	case Embed, Logits:
		return nil
	case Head:
		if n.Layer < 0 || n.Layer >= g.NLayers || n.Head < 0 || n.Head >= g.NHeads {
			return fmt.Errorf("circuits: head %s is not in a model of %d layers x %d heads", n, g.NLayers, g.NHeads)
		}
		return nil
	case MLP:
		if !g.HasMLP || n.Layer < 0 || n.Layer >= g.NLayers {
			return fmt.Errorf("circuits: %s is not in this model (%d layers, MLPs %v)", n, g.NLayers, g.HasMLP)
		}
		return nil
	}
	return fmt.Errorf("circuits: unknown node kind %q", n.Kind)
}

// CheckEdge reports whether e is an edge of g.
func (g *Graph) CheckEdge(e Edge) error {
	if err := g.Check(e.From); err != nil {
		return err
	}
	if err := g.Check(e.To); err != nil {
		return err
	}
	if e.From.Kind == Logits || e.To.Kind == Embed || e.From.order() >= e.To.order() {
		return fmt.Errorf("circuits: edge %s does not go from an earlier node to a later one", e)
	}
	switch {
	case e.To.Kind == Head && e.Input != InQ && e.Input != InK && e.Input != InV:
		return fmt.Errorf("circuits: edge %s: a head receives on q, k or v (got %q)", e, e.Input)
	case e.To.Kind != Head && e.Input != "":
		return fmt.Errorf("circuits: edge %s: only heads have q/k/v inputs", e)
	case e.To.Kind == Head && !slices.Contains(g.Inputs(e.To), e.Input):
		return fmt.Errorf("circuits: edge %s: under grouped-query attention k and v are received by the first head of each group of %d", e, g.KVGroup)
	case g.Parallel && e.To.Kind == MLP && e.From.Kind == Head && e.From.Layer == e.To.Layer:
		return fmt.Errorf("circuits: edge %s: with a parallel residual a layer's heads do not send to its MLP", e)
	}
	return nil
}

// Circuit is a subgraph: the nodes (heads, MLPs) and edges a circuit keeps. Embed and logits
// are implied. Edges may be nil for a node-level circuit.
type Circuit struct {
	Nodes []Node
	Edges []Edge
}

// HasNode reports whether the circuit keeps n (embed and logits always).
func (c *Circuit) HasNode(n Node) bool {
	if n.Kind == Embed || n.Kind == Logits {
		return true
	}
	for _, x := range c.Nodes {
		if x == n {
			return true
		}
	}
	return false
}

// NodeSet returns the circuit's node names as a set.
func (c *Circuit) NodeSet() map[string]bool {
	s := map[string]bool{}
	for _, n := range c.Nodes {
		s[n.String()] = true
	}
	return s
}

// EdgeSet returns the circuit's edge names as a set.
func (c *Circuit) EdgeSet() map[string]bool {
	s := map[string]bool{}
	for _, e := range c.Edges {
		s[e.String()] = true
	}
	return s
}

// circuitJSON is the file form of a Circuit: node and edge names.
type circuitJSON struct {
	Nodes []string `json:"nodes"`
	Edges []string `json:"edges,omitempty"`
}

// MarshalJSON writes the circuit as {"nodes": ["0.1", "mlp0"], "edges": ["0.1->1.2.k"]}.
func (c Circuit) MarshalJSON() ([]byte, error) {
	j := circuitJSON{Nodes: []string{}}
	for _, n := range c.Nodes {
		j.Nodes = append(j.Nodes, n.String())
	}
	for _, e := range c.Edges {
		j.Edges = append(j.Edges, e.String())
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep "->" readable
	if err := enc.Encode(j); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (c *Circuit) UnmarshalJSON(data []byte) error {
	var j circuitJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	*c = Circuit{}
	for _, s := range j.Nodes {
		n, err := ParseNode(s)
		if err != nil {
			return err
		}
		c.Nodes = append(c.Nodes, n)
	}
	for _, s := range j.Edges {
		e, err := ParseEdge(s)
		if err != nil {
			return err
		}
		c.Edges = append(c.Edges, e)
	}
	return nil
}

// sortNodes orders nodes as they sit in the residual stream.
func sortNodes(ns []Node) {
	sort.SliceStable(ns, func(i, j int) bool {
		if ns[i].order() != ns[j].order() {
			return ns[i].order() < ns[j].order()
		}
		return ns[i].Head < ns[j].Head
	})
}

// NodesOfEdges returns the heads and MLPs that some edge of edges touches, in residual order.
func NodesOfEdges(edges []Edge) []Node {
	seen := map[Node]bool{}
	var out []Node
	for _, e := range edges {
		for _, n := range []Node{e.From, e.To} {
			if (n.Kind == Head || n.Kind == MLP) && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	sortNodes(out)
	return out
}
