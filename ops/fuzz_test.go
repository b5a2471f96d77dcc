package ops

import (
	"testing"

	"github.com/provena/provena/tensor"
)

// fuzzReader turns fuzz bytes into small integers.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) n(mod int) int {
	if len(r.b) == 0 {
		return 0
	}
	v := int(r.b[0])
	r.b = r.b[1:]
	return v % mod
}

func (r *fuzzReader) small() int64 { return int64(r.n(11)) - 3 } // -3..7

var fuzzAttrNames = []string{"axis", "axes", "perm", "pads", "strides", "dilations", "kernel_shape", "group",
	"keepdims", "starts", "ends", "split", "transA", "transB", "to", "allowzero", "ceil_mode", "count_include_pad",
	"output_padding", "mode", "auto_pad", "coordinate_transformation_mode", "nearest_mode", "min", "max", "epsilon"}

var fuzzStrings = []string{"constant", "reflect", "edge", "wrap", "nearest", "linear", "cubic", "half_pixel", "asymmetric",
	"align_corners", "SAME_UPPER", "VALID", "NOTSET", "floor", "ceil", ""}

var fuzzTypes = []tensor.DType{tensor.Float32, tensor.Int64, tensor.Int32, tensor.Bool, tensor.Uint8, 0}

// FuzzInfer feeds every registered operator random input metadata,
// constants and attributes. Infer must never panic; when it accepts a small
// case, Run, Deps and Elem must not panic either and Run's outputs must match
// Infer's metadata.
func FuzzInfer(f *testing.F) {
	f.Add([]byte{0, 2, 0, 4, 1, 3, 5, 5, 0, 4, 2, 3, 3, 3, 3})
	f.Add([]byte{7, 1, 0, 2, 3, 4, 2, 1, 2, 3, 200, 9})
	f.Add([]byte{30, 3, 1, 1, 4, 0, 1, 1, 2, 1, 1, 0, 1, 5, 6, 1, 2, 3})
	f.Add([]byte{12, 4, 0, 4, 1, 1, 6, 6, 1, 1, 0, 0, 0, 1, 4, 1, 1, 2, 2})
	names := Registered()
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzReader{b: data}
		opType := names[r.n(len(names))]
		op, _ := Lookup(opType)
		nin := r.n(5)
		in := make([]*tensor.Tensor, nin)
		metas := make([]tensor.Meta, nin)
		for i := range in {
			dt := fuzzTypes[r.n(len(fuzzTypes))]
			if dt == 0 {
				continue
			}
			shape := make([]int, r.n(6))
			for d := range shape {
				shape[d] = r.n(6)
			}
			x, err := tensor.New(dt, shape)
			if err != nil {
				t.Fatal(err)
			}
			for k := range x.Len() {
				setBits(x, k, uint64(r.small()))
				if dt == tensor.Float32 {
					x.F32[k] = float32(r.small()) / 2
				}
			}
			in[i] = x
			metas[i] = tensor.Meta{DType: dt, Shape: shape}
			if r.n(2) == 0 {
				metas[i].Const = x
			}
		}
		a := Attrs{OpsetAttr: aint(int64(9 + r.n(10)))}
		for range r.n(5) {
			name := fuzzAttrNames[r.n(len(fuzzAttrNames))]
			switch r.n(4) {
			case 0:
				a[name] = aint(r.small())
			case 1:
				v := make([]int64, r.n(7))
				for k := range v {
					v[k] = r.small()
				}
				a[name] = ints(v...)
			case 2:
				a[name] = astr(fuzzStrings[r.n(len(fuzzStrings))])
			case 3:
				a[name] = afloat(float32(r.small()))
			}
		}
		outs, err := op.Infer(metas, a)
		if err != nil {
			return
		}
		for _, o := range outs {
			if tensor.NumElements(o.Shape) > 1<<12 {
				return
			}
		}
		// Run only sees inputs that passed Infer; constants are whatever
		// Infer read, other inputs are the generated tensors.
		got, err := op.Run(&Ctx{Threads: 2}, in, a)
		if err != nil {
			return
		}
		for i, o := range got {
			if i < len(outs) && (o.DType != outs[i].DType || !equalInts(o.Shape, outs[i].Shape)) {
				t.Fatalf("%s: Run output %d is %v%v, Infer said %v%v", opType, i, o.DType, o.Shape, outs[i].DType, outs[i].Shape)
			}
		}
		if e, ok := op.(ElemOp); ok && len(got) > 0 && got[0].Len() > 0 {
			all := make([]tensor.Meta, len(in))
			for i, x := range in {
				if x != nil {
					all[i] = tensor.Meta{DType: x.DType, Shape: x.Shape, Const: x}
				}
			}
			last := got[0].Len() - 1
			if _, err := e.Deps(all, a, 0, last); err != nil {
				t.Fatalf("%s: Deps failed after Run succeeded: %v", opType, err)
			}
			b, err := e.Elem(in, a, 0, last)
			if err != nil {
				t.Fatalf("%s: Elem failed after Run succeeded: %v", opType, err)
			}
			if w := got[0].Bits(last); b != w {
				t.Fatalf("%s: Elem(%d) = %#x, Run %#x", opType, last, b, w)
			}
		}
	})
}
