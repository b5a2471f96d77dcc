package ops

// Conventions shared by the importer and the operators.
//
// # Reserved attributes
//
// The importer sets two attributes on every node that the ONNX file does not
// carry: OpsetAttr, the default-domain opset the model imports (operators
// whose semantics changed between opsets, such as Softmax at 13 or Clip,
// Slice, Squeeze, Split, Pad and the Reduce ops moving attributes to inputs,
// read it), and OutputsAttr, the number of outputs the node declares (Split
// needs it when it has no split sizes). Without OpsetAttr an operator
// assumes DefaultOpset.
//
// # Absent optional inputs
//
// An optional input the node leaves out (an empty input name in ONNX) is a
// zero tensor.Meta (DType 0) in Infer and Deps and a nil *tensor.Tensor in
// Run and Elem. Trailing absent inputs may simply be dropped from the slice.
//
// # Constant inputs
//
// Inputs that determine an output shape (Reshape's shape, Slice's starts,
// Resize's scales or sizes, Pad's pads, Squeeze's axes from opset 13, ...)
// must be constants: Infer reads them from tensor.Meta.Const and fails
// otherwise. Run reads the same values from its input tensors.
//
// # Numerics
//
// Every float operation is float32 with one canonical order of operations,
// stated in the doc comment of each operator's implementation. Products that
// feed an addition are rounded to float32 before the addition (no fused
// multiply-add on any path). Elementwise transcendental functions come from
// internal/fmath. Ctx.Threads only splits independent outputs.
//
// # Outputs own their buffers
//
// Run returns output tensors whose data no other tensor shares (never an
// input, never a slice of one array cut into several outputs): the
// executor recycles a dead float32 output's whole buffer, capacity
// included, into later outputs (Recycle). Outputs come from newOut (zeroed)
// or newOutDirty (for kernels that write every element).
const (
	OpsetAttr    = "_opset"
	OutputsAttr  = "_outputs"
	DefaultOpset = 17
)
