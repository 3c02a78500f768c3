package model

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph code reads best dot-imported.
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Incremental decoding: the state the one forward pass (model.go) reads when it runs a step of
// generation instead of a whole sequence. Rows are left-padded: row b's tokens sit in cache slots
// pad[b] .. T-1, so every row's newest token is in the same slot and token positions are
// slot - pad[b]. A pass runs P new tokens per row, either
//
//   - a prefill (start nil): the prompts, slots 0..P-1, into an empty cache of T >= P slots, or
//   - a step (start a scalar, P = 1): one token per row into slot start.
//
// Keys and values are cached after their hooks and the rotary embedding, before grouped-query
// heads are repeated: [B, T, Hkv, K] per layer. A query in slot i sees slot s when s <= i, s holds a
// token of its row (s >= pad[b]), and in a local layer i - s < window. A padding slot sees only
// itself, so its (unused) activations stay finite and no real token ever reads them.
type decoding struct {
	slots int   // T, the cache's length
	start *Node // scalar int32: the slot of this pass's first token; nil in a prefill (slot 0)
	pad   *Node // [B] int32: each row's left padding
	pos   *Node // [B, P] int32: the positions of this pass's tokens, slot - pad (0 for padding)
	slot  *Node // [P] int32: the slots of this pass's tokens
	k, v  []*Node
	// inPlace writes a step's keys and values with DynamicUpdateSlice (fastcpu, XLA) rather than
	// a Where over the whole cache (GoMLX's pure-Go backend has no DynamicUpdateSlice).
	inPlace bool
}

// newDecoding sets up a pass over tokens [B, P]. k and v hold each layer's cache for a step, and
// are nil in a prefill.
func newDecoding(c Config, tokens *Node, slots int, start, pad *Node, k, v []*Node, inPlace bool) *decoding {
	g := tokens.Graph()
	P := tokens.Shape().Dimensions[1]
	if start != nil && P != 1 {
		panic(fmt.Sprintf("model: a decoding step takes one token per row, got %d", P))
	}
	slot := Iota(g, shapes.Make(dtypes.Int32, P), 0) // [P]
	if start != nil {
		slot = Add(slot, start)
	}
	pos := Sub(InsertAxes(slot, 0), InsertAxes(pad, -1)) // [B, P]
	pos = Max(pos, ZerosLike(pos))
	d := &decoding{slots: slots, start: start, pad: pad, pos: pos, slot: slot, k: k, v: v, inPlace: inPlace}
	if start == nil {
		d.k, d.v = make([]*Node, c.NLayers), make([]*Node, c.NLayers)
	}
	return d
}

// write puts layer l's new keys and values k, v [B, P, Hkv, K] into the cache and returns the
// cache [B, T, Hkv, K] of each.
func (d *decoding) write(l int, k, v *Node) (*Node, *Node) {
	put := func(cache, x *Node) *Node {
		dims := x.Shape().Dimensions
		B, P, Hkv, K := dims[0], dims[1], dims[2], dims[3]
		if d.start == nil { // prefill: slots 0..P-1, the rest empty
			if P == d.slots {
				return x
			}
			empty := Zeros(x.Graph(), shapes.Make(x.DType(), B, d.slots-P, Hkv, K))
			return Concatenate([]*Node{x, empty}, 1)
		}
		if d.inPlace {
			zero := ScalarZero(x.Graph(), dtypes.Int32)
			return DynamicUpdateSlice(cache, x, []*Node{zero, d.start, zero, zero})
		}
		at := Equal(Iota(x.Graph(), shapes.Make(dtypes.Int32, 1, d.slots, 1, 1), 1), d.start) // [1, T, 1, 1]
		full := shapes.Make(x.DType(), B, d.slots, Hkv, K)
		return Where(BroadcastToShape(at, shapes.Make(dtypes.Bool, full.Dimensions...)), BroadcastToShape(x, full), cache)
	}
	d.k[l], d.v[l] = put(d.k[l], k), put(d.v[l], v)
	return d.k[l], d.v[l]
}

// mask is [B, 1, P, T] of dtype: 0 where this pass's token may see a cache slot, -inf elsewhere.
func (d *decoding) mask(c Config, l int, dtype dtypes.DType) *Node {
	g := d.pad.Graph()
	B, P, T := d.pad.Shape().Dimensions[0], d.slot.Shape().Dimensions[0], d.slots
	q := Reshape(d.slot, 1, P, 1)                                            // [1, P, 1]
	s := Iota(g, shapes.Make(dtypes.Int32, 1, 1, T), 2)                      // [1, 1, T]
	filled := GreaterOrEqual(s, Reshape(d.pad, B, 1, 1))                     // [B, 1, T]
	visible := LogicalAnd(LessOrEqual(s, q), LogicalOr(filled, Equal(s, q))) // [B, P, T]
	if c.Local(l) {
		visible = LogicalAnd(visible, LessThan(Sub(q, s), Scalar(g, dtypes.Int32, c.WindowSize)))
	}
	zero, negInf := ScalarZero(g, dtype), Infinity(g, dtype, -1)
	full := shapes.Make(dtype, B, P, T)
	return InsertAxes(Where(visible, BroadcastToShape(zero, full), BroadcastToShape(negInf, full)), 1)
}

// rotary gathers layer l's cos and sin tables at this pass's positions: [B, P, 1, R] each, the
// same values rotaryTables gives a whole sequence.
func (d *decoding) rotary(c Config, l int) (cos, sin *Node) {
	g := d.pos.Graph()
	cosT, sinT := rotaryTables(c, l, d.slots) // [T, R]
	idx := InsertAxes(d.pos, -1)              // [B, P, 1]
	cos = InsertAxes(Gather(Const(g, cosT), idx), 2)
	sin = InsertAxes(Gather(Const(g, sinT), idx), 2)
	return cos, sin
}
