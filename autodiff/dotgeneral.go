package autodiff

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// DotGeneralParams are the axis parameters of a DotGeneral node, as stored by GoMLX in the node's
// (unexported) inputs. All axes are non-negative.
type DotGeneralParams struct {
	Lhs, Rhs                         *graph.Node
	LhsContractingAxes, LhsBatchAxes []int
	RhsContractingAxes, RhsBatchAxes []int
}

var (
	registerOnce     sync.Once
	fallbackWarnOnce sync.Once

	// stockDotGeneralVJP is GoMLX's own VJP for DotGeneral, captured at package initialisation (before
	// Register can have replaced it). Exposed by StockDotGeneralVJP, used by tests for comparison.
	stockDotGeneralVJP = graph.VJPRegistration[graph.NodeTypeDotGeneral]
)

// Register replaces GoMLX's DotGeneral VJP (graph.VJPRegistration[graph.NodeTypeDotGeneral]) with
// DotGeneralVJP, which expresses each operand's gradient as one DotGeneral (plus at most one transpose)
// instead of materialising a batch*M*K*N intermediate.
//
// It is idempotent and safe to call from the init() of several packages (it uses a sync.Once). It panics
// with a clear message if graph.Node no longer has the unexported "inputs" field it reads; the layout of
// the DotGeneral parameters behind it is validated on every read (see ReadDotGeneralParams).
//
// Register mutates a global GoMLX map: call it before gradients are built concurrently (e.g. from init or
// at the start of main), never while another goroutine is building a gradient graph.
func Register() {
	registerOnce.Do(func() {
		if err := checkLayout(); err != nil {
			panic(err)
		}
		graph.VJPRegistration[graph.NodeTypeDotGeneral] = DotGeneralVJP
	})
}

// StockDotGeneralVJP returns GoMLX's original DotGeneral VJP (the memory-hungry one), as it was
// registered before Register ran. Mostly useful for testing and comparisons.
func StockDotGeneralVJP() graph.VJP { return stockDotGeneralVJP }

// DotGeneralVJP is the efficient VJP for DotGeneral nodes, with the signature of graph.VJP. See the
// package documentation for the math.
func DotGeneralVJP(node *graph.Node, vjpOutputs []*graph.Node, _ shapes.Shape) []*graph.Node {
	if node.Type() != graph.NodeTypeDotGeneral {
		panic(fmt.Sprintf("autodiff.DotGeneralVJP called on a %s node (%s)", node.Type(), node))
	}
	if len(vjpOutputs) != 1 {
		panic(fmt.Sprintf("autodiff.DotGeneralVJP: expected 1 vjpOutput for DotGeneral, got %d", len(vjpOutputs)))
	}
	p := ReadDotGeneralParams(node)
	v := vjpOutputs[0]
	return []*graph.Node{
		dotGeneralOperandGrad(v, p.Lhs, p.LhsContractingAxes, p.LhsBatchAxes, p.Rhs, p.RhsContractingAxes, p.RhsBatchAxes, true),
		dotGeneralOperandGrad(v, p.Rhs, p.RhsContractingAxes, p.RhsBatchAxes, p.Lhs, p.LhsContractingAxes, p.LhsBatchAxes, false),
	}
}

// crossAxes returns the axes of an operand of rank `rank` that are neither contracting nor batch, in
// increasing order -- the order in which DotGeneral lays them out in its output.
func crossAxes(rank int, contracting, batch []int) []int {
	used := make([]bool, rank)
	for _, a := range contracting {
		used[a] = true
	}
	for _, a := range batch {
		used[a] = true
	}
	out := make([]int, 0, rank)
	for a, u := range used {
		if !u {
			out = append(out, a)
		}
	}
	return out
}

// dotGeneralOperandGrad returns the gradient with respect to "this" operand of
// out = DotGeneral(lhs, rhs), given v = dLoss/dOut.
//
// The output of the forward DotGeneral is laid out as [batch..., lhsCross..., rhsCross...]. The gradient
// of "this" operand is v contracted with the "other" operand over the other operand's cross axes, batched
// over the batch axes:
//
//	grad_this[b, thisCross, thisContr] = Σ_{otherCross} v[b, ..cross..] * other[b, otherCross, otherContr]
//
// where otherContr is paired one-to-one with thisContr. The resulting DotGeneral's output axes are then
// transposed back to "this" operand's axis order. Two operand orders are possible -- DotGeneral(v, other)
// or DotGeneral(other, v) -- and the one that needs no transpose is preferred.
func dotGeneralOperandGrad(v, this *graph.Node, thisContracting, thisBatch []int,
	other *graph.Node, otherContracting, otherBatch []int, thisIsLhs bool) *graph.Node {
	nb := len(thisBatch)
	thisRank := this.Rank()
	thisCross := crossAxes(thisRank, thisContracting, thisBatch)
	otherCross := crossAxes(other.Rank(), otherContracting, otherBatch)

	// Axes of v: [batch (0..nb-1), lhsCross..., rhsCross...].
	vBatch := make([]int, nb)
	for i := range vBatch {
		vBatch[i] = i
	}
	// Positions in v of the "other" operand's cross axes (to be contracted).
	vOtherCross := make([]int, len(otherCross))
	for i := range vOtherCross {
		if thisIsLhs {
			vOtherCross[i] = nb + len(thisCross) + i // rhs cross axes come after lhs cross axes.
		} else {
			vOtherCross[i] = nb + i // lhs cross axes come right after the batch axes.
		}
	}

	// The remaining (non-batch, non-contracted) axes of "other" are its contracting axes, laid out by
	// DotGeneral in increasing axis order. otherRemainingPos[i] is the position (among them) of
	// otherContracting[i], which pairs with thisContracting[i].
	sortedOtherContr := slices.Clone(otherContracting)
	slices.Sort(sortedOtherContr)
	otherRemainingPos := make([]int, len(otherContracting))
	for i, a := range otherContracting {
		otherRemainingPos[i] = slices.Index(sortedOtherContr, a)
	}

	// permFor builds the TransposeAllAxes permutation (perm[thisAxis] = position in the DotGeneral result)
	// given where the "this"-cross block and the "other"-remaining block start in the result.
	permFor := func(crossStart, contrStart int) (perm []int, identity bool) {
		perm = make([]int, thisRank)
		for i, a := range thisBatch {
			perm[a] = i
		}
		for i, a := range thisCross {
			perm[a] = crossStart + i
		}
		for i, a := range thisContracting {
			perm[a] = contrStart + otherRemainingPos[i]
		}
		identity = true
		for i, p := range perm {
			if i != p {
				identity = false
				break
			}
		}
		return
	}

	// Option A: DotGeneral(v, other) -> [batch, thisCross..., otherRemaining...].
	permA, identA := permFor(nb, nb+len(thisCross))
	// Option B: DotGeneral(other, v) -> [batch, otherRemaining..., thisCross...].
	permB, identB := permFor(nb+len(thisContracting), nb)

	var grad *graph.Node
	var perm []int
	var identity bool
	if identB && !identA {
		grad = graph.DotGeneral(other, otherCross, otherBatch, v, vOtherCross, vBatch)
		perm, identity = permB, identB
	} else {
		grad = graph.DotGeneral(v, vOtherCross, vBatch, other, otherCross, otherBatch)
		perm, identity = permA, identA
	}
	if !identity {
		grad = graph.TransposeAllAxes(grad, perm...)
	}
	if !grad.Shape().Equal(this.Shape()) {
		panic(fmt.Sprintf("autodiff.DotGeneralVJP bug: gradient shape %s != operand shape %s "+
			"(thisContracting=%v, thisBatch=%v, otherContracting=%v, otherBatch=%v, other=%s, v=%s)",
			grad.Shape(), this.Shape(), thisContracting, thisBatch, otherContracting, otherBatch,
			other.Shape(), v.Shape()))
	}
	return grad
}

// ReadDotGeneralParams reads the axis parameters of a DotGeneral node.
//
// GoMLX stores them in an unexported struct (graph.nodeInputsDotGeneral, in the unexported field
// Node.inputs). They are read with reflection, validating the layout; if that fails it falls back to
// parsing node.String(). Either way the result is cross-checked against the node's output shape. It panics
// with a descriptive message if neither method works (e.g. after a GoMLX upgrade changed the layout).
func ReadDotGeneralParams(node *graph.Node) DotGeneralParams {
	p, errReflect := readParamsReflect(node)
	if errReflect == nil {
		errReflect = validateParams(node, p)
		if errReflect == nil {
			return p
		}
	}
	p, errString := readParamsString(node)
	if errString == nil {
		errString = validateParams(node, p)
		if errString == nil {
			fallbackWarnOnce.Do(func() {
				fmt.Fprintf(os.Stderr, "autodiff: WARNING: reading DotGeneral parameters with reflection failed "+
					"(%v); using the node.String() fallback -- GoMLX internals changed, please update "+
					"package autodiff\n", errReflect)
			})
			return p
		}
	}
	panic(fmt.Sprintf("autodiff: cannot read DotGeneral parameters of node %s -- GoMLX's internal layout "+
		"changed? (the autodiff package was written against github.com/gomlx/gomlx v0.26.0): "+
		"reflection: %v; String() parsing: %v", node, errReflect, errString))
}

// expectedFields is the layout of graph.nodeInputsDotGeneral in GoMLX v0.26.0.
var expectedFields = []struct {
	name    string
	isNode  bool // *graph.Node; otherwise []int.
	operand int  // For axes: 0=lhs, 1=rhs.
}{
	{"lhs", true, 0},
	{"lhsContractingAxes", false, 0},
	{"lhsBatchAxes", false, 0},
	{"rhs", true, 1},
	{"rhsContractingAxes", false, 1},
	{"rhsBatchAxes", false, 1},
}

var nodePtrType = reflect.TypeOf((*graph.Node)(nil))

// inputsStructValue returns the struct value pointed to by node.inputs.
func inputsStructValue(node *graph.Node) (reflect.Value, error) {
	nv := reflect.ValueOf(node)
	if nv.Kind() != reflect.Pointer || nv.IsNil() {
		return reflect.Value{}, fmt.Errorf("nil node")
	}
	inputs := nv.Elem().FieldByName("inputs")
	if !inputs.IsValid() {
		return reflect.Value{}, fmt.Errorf("graph.Node has no field named \"inputs\"")
	}
	if inputs.Kind() != reflect.Interface {
		return reflect.Value{}, fmt.Errorf("graph.Node.inputs is a %s, expected an interface", inputs.Kind())
	}
	if inputs.IsNil() {
		return reflect.Value{}, fmt.Errorf("graph.Node.inputs is nil")
	}
	ptr := inputs.Elem()
	if ptr.Kind() != reflect.Pointer || ptr.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, fmt.Errorf("graph.Node.inputs holds a %s, expected a pointer to struct", ptr.Type())
	}
	s := ptr.Elem()
	if s.Type().Name() != "nodeInputsDotGeneral" {
		return reflect.Value{}, fmt.Errorf("graph.Node.inputs holds a %s, expected *graph.nodeInputsDotGeneral", ptr.Type())
	}
	return s, nil
}

// checkStructType validates the fields of nodeInputsDotGeneral (names, order and types).
func checkStructType(t reflect.Type) error {
	if t.NumField() != len(expectedFields) {
		return fmt.Errorf("%s has %d fields, expected %d (%v)", t, t.NumField(), len(expectedFields), expectedFields)
	}
	for i, ef := range expectedFields {
		f := t.Field(i)
		if f.Name != ef.name {
			return fmt.Errorf("%s field #%d is %q, expected %q", t, i, f.Name, ef.name)
		}
		if ef.isNode {
			if f.Type != nodePtrType {
				return fmt.Errorf("%s field %q has type %s, expected *graph.Node", t, f.Name, f.Type)
			}
		} else if f.Type.Kind() != reflect.Slice || f.Type.Elem().Kind() != reflect.Int {
			return fmt.Errorf("%s field %q has type %s, expected []int", t, f.Name, f.Type)
		}
	}
	return nil
}

func readParamsReflect(node *graph.Node) (p DotGeneralParams, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic while reading with reflect: %v", r)
		}
	}()
	s, err := inputsStructValue(node)
	if err != nil {
		return p, err
	}
	if err = checkStructType(s.Type()); err != nil {
		return p, err
	}
	inputs := node.Inputs()
	if len(inputs) != 2 {
		return p, fmt.Errorf("DotGeneral node has %d inputs, expected 2", len(inputs))
	}
	readInts := func(v reflect.Value) []int {
		out := make([]int, v.Len())
		for i := range out {
			out[i] = int(v.Index(i).Int())
		}
		return out
	}
	for i, ef := range expectedFields {
		fv := s.Field(i)
		if ef.isNode {
			// Unexported pointer: we can't take it out as *graph.Node, but we can compare its address with the
			// node's (exported) Inputs().
			if fv.Pointer() != uintptr(unsafe.Pointer(inputs[ef.operand])) {
				return p, fmt.Errorf("field %q does not point to node input #%d", ef.name, ef.operand)
			}
			continue
		}
		axes := readInts(fv)
		switch ef.name {
		case "lhsContractingAxes":
			p.LhsContractingAxes = axes
		case "lhsBatchAxes":
			p.LhsBatchAxes = axes
		case "rhsContractingAxes":
			p.RhsContractingAxes = axes
		case "rhsBatchAxes":
			p.RhsBatchAxes = axes
		}
	}
	p.Lhs, p.Rhs = inputs[0], inputs[1]
	return p, nil
}

// dotGeneralStringRe matches nodeInputsDotGeneral.String() in GoMLX v0.26.0, e.g.:
// "DotGeneral(lhs=[#3], lhsContractingAxes=[1], lhsBatchAxes=[], rhs=[#4], rhsContractingAxes=[0], rhsBatchAxes=[])".
var dotGeneralStringRe = regexp.MustCompile(
	`DotGeneral\(lhs=\[#(\d+)\], lhsContractingAxes=\[([\d ]*)\], lhsBatchAxes=\[([\d ]*)\], ` +
		`rhs=\[#(\d+)\], rhsContractingAxes=\[([\d ]*)\], rhsBatchAxes=\[([\d ]*)\]\)`)

func readParamsString(node *graph.Node) (p DotGeneralParams, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic while parsing node.String(): %v", r)
		}
	}()
	str := node.String()
	m := dotGeneralStringRe.FindStringSubmatch(str)
	if m == nil {
		return p, fmt.Errorf("node.String()=%q does not match %s", str, dotGeneralStringRe)
	}
	parseInts := func(s string) ([]int, error) {
		fields := strings.Fields(s)
		out := make([]int, len(fields))
		for i, f := range fields {
			v, err := strconv.Atoi(f)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	inputs := node.Inputs()
	if len(inputs) != 2 {
		return p, fmt.Errorf("DotGeneral node has %d inputs, expected 2", len(inputs))
	}
	if m[1] != strconv.Itoa(int(inputs[0].Id())) || m[4] != strconv.Itoa(int(inputs[1].Id())) {
		return p, fmt.Errorf("node.String()=%q: lhs/rhs ids don't match node inputs #%d, #%d",
			str, inputs[0].Id(), inputs[1].Id())
	}
	p.Lhs, p.Rhs = inputs[0], inputs[1]
	for _, x := range []struct {
		s   string
		dst *[]int
	}{{m[2], &p.LhsContractingAxes}, {m[3], &p.LhsBatchAxes}, {m[5], &p.RhsContractingAxes}, {m[6], &p.RhsBatchAxes}} {
		if *x.dst, err = parseInts(x.s); err != nil {
			return p, fmt.Errorf("node.String()=%q: %w", str, err)
		}
	}
	return p, nil
}

// validateParams checks the parameters are consistent with the operands and with the node's output shape.
func validateParams(node *graph.Node, p DotGeneralParams) error {
	if len(p.LhsContractingAxes) != len(p.RhsContractingAxes) || len(p.LhsBatchAxes) != len(p.RhsBatchAxes) {
		return fmt.Errorf("inconsistent axes %+v", p)
	}
	check := func(name string, rank int, axes ...[]int) error {
		seen := make([]bool, rank)
		for _, list := range axes {
			for _, a := range list {
				if a < 0 || a >= rank || seen[a] {
					return fmt.Errorf("invalid/repeated %s axis %d (rank %d) in %+v", name, a, rank, p)
				}
				seen[a] = true
			}
		}
		return nil
	}
	if err := check("lhs", p.Lhs.Rank(), p.LhsContractingAxes, p.LhsBatchAxes); err != nil {
		return err
	}
	if err := check("rhs", p.Rhs.Rank(), p.RhsContractingAxes, p.RhsBatchAxes); err != nil {
		return err
	}
	ld, rd := p.Lhs.Shape().Dimensions, p.Rhs.Shape().Dimensions
	var dims []int
	for i, a := range p.LhsBatchAxes {
		if ld[a] != rd[p.RhsBatchAxes[i]] {
			return fmt.Errorf("batch dims mismatch in %+v", p)
		}
		dims = append(dims, ld[a])
	}
	for i, a := range p.LhsContractingAxes {
		if ld[a] != rd[p.RhsContractingAxes[i]] {
			return fmt.Errorf("contracting dims mismatch in %+v", p)
		}
	}
	for _, a := range crossAxes(len(ld), p.LhsContractingAxes, p.LhsBatchAxes) {
		dims = append(dims, ld[a])
	}
	for _, a := range crossAxes(len(rd), p.RhsContractingAxes, p.RhsBatchAxes) {
		dims = append(dims, rd[a])
	}
	if !slices.Equal(dims, node.Shape().Dimensions) {
		return fmt.Errorf("parameters %v imply output dimensions %v, but node has shape %s",
			p, dims, node.Shape())
	}
	return nil
}

// String implements fmt.Stringer.
func (p DotGeneralParams) String() string {
	return fmt.Sprintf("{lhs=%s contracting=%v batch=%v; rhs=%s contracting=%v batch=%v}",
		p.Lhs.Shape(), p.LhsContractingAxes, p.LhsBatchAxes, p.Rhs.Shape(), p.RhsContractingAxes, p.RhsBatchAxes)
}

// checkLayout is the cheap, graph-free part of the layout validation done by Register: graph.Node must
// have an interface field "inputs". The concrete type behind it (graph.nodeInputsDotGeneral) can only be
// reached from a real DotGeneral node, so its fields are validated on every ReadDotGeneralParams call
// (and by TestInternalLayout, which fails if a GoMLX upgrade changes it).
func checkLayout() error {
	f, ok := reflect.TypeOf(graph.Node{}).FieldByName("inputs")
	if !ok {
		return fmt.Errorf("autodiff: graph.Node has no field \"inputs\" -- GoMLX internal layout changed " +
			"(autodiff was written against github.com/gomlx/gomlx v0.26.0)")
	}
	if f.Type.Kind() != reflect.Interface {
		return fmt.Errorf("autodiff: graph.Node.inputs is a %s, expected an interface -- GoMLX internal "+
			"layout changed (autodiff was written against github.com/gomlx/gomlx v0.26.0)", f.Type)
	}
	return nil
}
