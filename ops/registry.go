// Package ops owns Provena's operator set: for every supported ONNX operator,
// its shape inference, its kernel, and its single-element recomputation.
// Kernels define the canonical order of operations; Elem reproduces one output
// element with exactly the kernel's bits, which is what fraud proofs, spot
// checks and circuits re-execute.
package ops

import (
	"fmt"
	"sort"

	"github.com/provena/provena/tensor"
)

// AttrKind is the type of an operator attribute.
type AttrKind uint8

const (
	AttrInt AttrKind = iota + 1
	AttrFloat
	AttrString
	AttrInts
	AttrFloats
	AttrTensor
)

// Attr is one operator attribute.
type Attr struct {
	Kind   AttrKind
	Int    int64
	Float  float32
	String string
	Ints   []int64
	Floats []float32
	Tensor *tensor.Tensor
}

// Attrs holds a node's attributes by name. Iterate with Names, never with
// range over the map, where order matters.
type Attrs map[string]Attr

// Names returns the attribute names in sorted order.
func (a Attrs) Names() []string {
	names := make([]string, 0, len(a))
	for n := range a {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Ctx carries execution settings that cannot change results: kernels may
// split independent outputs across Threads workers but never change a
// reduction order because of it.
type Ctx struct {
	Threads int
	// Weights, when set, keeps what operators derive from constant inputs
	// (Conv's weights laid out for the GEMM tiles) from one run to the
	// next. Const[j] marks input j of the node being run as such a
	// constant: the caller guarantees that its data never changes while
	// the cache lives. Neither changes any result's bits.
	Weights *WeightCache
	Const   []bool
}

// Range is a half-open range [Lo, Hi) of flat element indices of one input.
type Range struct{ Lo, Hi int }

// Op is one operator.
type Op interface {
	// Infer computes the outputs' metadata from the inputs' metadata. It is
	// pure, validates everything Run relies on, and errors name the op and the
	// input index.
	Infer(in []tensor.Meta, a Attrs) ([]tensor.Meta, error)
	// Run computes all outputs. Inputs have passed Infer.
	Run(ctx *Ctx, in []*tensor.Tensor, a Attrs) ([]*tensor.Tensor, error)
}

// ElemOp is implemented by operators that can recompute one output element
// alone.
type ElemOp interface {
	// Deps lists, for each input, the flat element ranges that output element
	// flat of output out reads (sorted, non-overlapping).
	Deps(in []tensor.Meta, a Attrs, out, flat int) ([][]Range, error)
	// Elem recomputes output element flat of output out from inputs in which
	// only the elements listed by Deps need be present; it returns the
	// element's raw bits (tensor.Tensor.Bits), identical to Run's.
	Elem(in []*tensor.Tensor, a Attrs, out, flat int) (uint64, error)
}

var registry = map[string]Op{}

// Register adds an operator under its ONNX op type. It is called from init
// functions; registering a name twice is a programming error and panics.
func Register(opType string, op Op) {
	if _, dup := registry[opType]; dup {
		panic("ops: duplicate registration of " + opType)
	}
	registry[opType] = op
}

// Lookup returns the operator registered for an ONNX op type.
func Lookup(opType string) (Op, bool) {
	op, ok := registry[opType]
	return op, ok
}

// Registered returns the supported op types, sorted.
func Registered() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// UnsupportedError reports an operator, or an attribute value of one, that
// Provena does not implement.
type UnsupportedError struct {
	Op   string
	Attr string
	What string
}

func (e *UnsupportedError) Error() string {
	if e.Attr == "" {
		return fmt.Sprintf("op %s: unsupported: %s", e.Op, e.What)
	}
	return fmt.Sprintf("op %s: attribute %s: unsupported: %s", e.Op, e.Attr, e.What)
}
