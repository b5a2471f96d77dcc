package mnist

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/provena/provena/conformance"
	"github.com/provena/provena/infer"
	"github.com/provena/provena/model"
	"github.com/provena/provena/onnx"
	"github.com/provena/provena/tensor"
)

// The splits are loaded once and shared; tests must not modify them.
var sets struct {
	sync.Mutex
	m map[string]*Set
}

func load(t testing.TB, split string) *Set {
	t.Helper()
	sets.Lock()
	defer sets.Unlock()
	if s := sets.m[split]; s != nil {
		return s
	}
	s, err := Load(split)
	if err != nil {
		t.Fatal(err)
	}
	if sets.m == nil {
		sets.m = map[string]*Set{}
	}
	sets.m[split] = s
	return s
}

func TestLoad(t *testing.T) {
	for _, c := range []struct {
		split      string
		n          int
		firstLabel uint8
	}{
		{"train", TrainSize, 5},
		{"test", TestSize, 7},
	} {
		s := load(t, c.split)
		if s.Len() != c.n || len(s.Images) != c.n {
			t.Fatalf("%s: %d labels, %d images, want %d", c.split, s.Len(), len(s.Images), c.n)
		}
		if s.Labels[0] != c.firstLabel {
			t.Errorf("%s: label 0 is %d, want %d", c.split, s.Labels[0], c.firstLabel)
		}
		var count [Classes]int
		for _, l := range s.Labels {
			count[l]++
		}
		for d, k := range count {
			// Every digit is 8% to 12% of each split.
			if k < c.n*8/100 || k > c.n*12/100 {
				t.Errorf("%s: digit %d appears %d times", c.split, d, k)
			}
		}
		x := s.Input(0)
		if !slices.Equal(x.Shape, []int{1, 1, Side, Side}) || x.DType != tensor.Float32 || len(x.F32) != Pixels {
			t.Fatalf("%s: input 0 is %v%v", c.split, x.DType, x.Shape)
		}
		ink := 0
		for i, v := range x.F32 {
			if v != float32(s.Images[0][i])/255 || v < 0 || v > 1 {
				t.Fatalf("%s: input 0 pixel %d = %v, byte %d", c.split, i, v, s.Images[0][i])
			}
			if v == 1 {
				ink++
			}
		}
		if ink == 0 {
			t.Errorf("%s: image 0 has no full-ink pixel", c.split)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load("validation"); err == nil || !strings.Contains(err.Error(), `split "validation"`) {
		t.Errorf("bad split: %v", err)
	}
	dir := t.TempDir()
	if _, err := LoadDir(dir, "test"); err == nil || !strings.Contains(err.Error(), "t10k-images-idx3-ubyte.gz") {
		t.Errorf("empty dir: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), []byte("not gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadDir(dir, "test"); err == nil || !strings.Contains(err.Error(), "gunzip") {
		t.Errorf("not gzip: %v", err)
	}
	t.Setenv(DirEnv, dir)
	if d, err := DataDir(); err != nil || d != dir {
		t.Errorf("DataDir with %s set: %q %v", DirEnv, d, err)
	}
}

func idxImages(n uint32, rows, cols uint32, body int) []byte {
	b := binary.BigEndian.AppendUint32(nil, imageMagic)
	b = binary.BigEndian.AppendUint32(b, n)
	b = binary.BigEndian.AppendUint32(b, rows)
	b = binary.BigEndian.AppendUint32(b, cols)
	return append(b, make([]byte, body)...)
}

func idxLabels(n uint32, labels ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, labelMagic)
	b = binary.BigEndian.AppendUint32(b, n)
	return append(b, labels...)
}

func TestDecodeIDX(t *testing.T) {
	imgs, err := DecodeImages(idxImages(2, 28, 28, 2*Pixels))
	if err != nil || len(imgs) != 2 || len(imgs[1]) != Pixels {
		t.Fatalf("two images: %d %v", len(imgs), err)
	}
	lbls, err := DecodeLabels(idxLabels(3, 0, 9, 4))
	if err != nil || !slices.Equal(lbls, []uint8{0, 9, 4}) {
		t.Fatalf("three labels: %v %v", lbls, err)
	}
	for _, c := range []struct {
		name string
		data []byte
		img  bool
		want string
	}{
		{"short image header", []byte{0, 0, 8, 3}, true, "shorter than the 16-byte header"},
		{"label magic as images", idxLabels(0), true, "shorter than"},
		{"image magic", append(idxLabels(0), make([]byte, 8)...), true, "magic 0x00000801"},
		{"wrong size", idxImages(1, 32, 32, 1024), true, "32×32 images, want 28×28"},
		{"truncated", idxImages(2, 28, 28, Pixels), true, "2 images of 784 pixels need"},
		{"trailing", idxImages(1, 28, 28, Pixels+1), true, "801 bytes"},
		{"huge count", idxImages(1<<31, 28, 28, 0), true, "exceeds the limit"},
		{"short label header", []byte{0, 0, 8}, false, "shorter than the 8-byte header"},
		{"image magic as labels", idxImages(0, 28, 28, 0), false, "magic 0x00000803"},
		{"truncated labels", idxLabels(3, 1, 2), false, "3 labels need 11"},
		{"label out of range", idxLabels(2, 3, 10), false, "label 1 is 10"},
		{"huge label count", idxLabels(1 << 30), false, "exceeds the limit"},
	} {
		var err error
		if c.img {
			_, err = DecodeImages(c.data)
		} else {
			_, err = DecodeLabels(c.data)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

func FuzzDecodeIDX(f *testing.F) {
	f.Add(idxImages(1, 28, 28, Pixels))
	f.Add(idxImages(3, 28, 28, 2*Pixels))
	f.Add(idxLabels(2, 1, 7))
	f.Add(idxLabels(2, 1, 70))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if imgs, err := DecodeImages(b); err == nil {
			if len(b) != 16+len(imgs)*Pixels {
				t.Fatalf("%d images from %d bytes", len(imgs), len(b))
			}
			for _, im := range imgs {
				if len(im) != Pixels {
					t.Fatalf("image of %d pixels", len(im))
				}
			}
		}
		if lbls, err := DecodeLabels(b); err == nil {
			if len(b) != 8+len(lbls) {
				t.Fatalf("%d labels from %d bytes", len(lbls), len(b))
			}
			for _, l := range lbls {
				if l >= Classes {
					t.Fatalf("label %d accepted", l)
				}
			}
		}
	})
}

func TestTrainOptionsRejected(t *testing.T) {
	tiny := &Set{Images: [][]uint8{make([]uint8, Pixels)}, Labels: []uint8{3}}
	for _, c := range []struct {
		arch Arch
		opts Options
		want string
	}{
		{"resnet", Options{Train: tiny}, `unknown architecture "resnet"`},
		{MLP, Options{Train: tiny, Epochs: -1}, "epochs -1"},
		{MLP, Options{Train: tiny, BatchSize: -2}, "batch size -2"},
		{MLP, Options{Train: tiny, LR: 2}, "learning rate 2"},
		{MLP, Options{Train: tiny, LR: math.NaN()}, "learning rate NaN"},
		{MLP, Options{Train: tiny, LRDecay: 1.5}, "decay 1.5"},
		{MLP, Options{Train: tiny, Limit: -1}, "limit -1"},
		{CNN, Options{Train: &Set{Images: [][]uint8{make([]uint8, 10)}, Labels: []uint8{1}}}, "image 0 has 10 pixels"},
		{CNN, Options{Train: &Set{Images: [][]uint8{make([]uint8, Pixels)}, Labels: []uint8{11}}}, "label 0 is 11"},
		{CNN, Options{Train: &Set{}}, "no training examples"},
	} {
		if _, err := Train(c.arch, c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %+v: err = %v, want %q", c.arch, c.opts, err, c.want)
		}
	}
}

// A malformed network (wrong parameter shapes or data) is refused by
// Forward and by the exporter with an error naming the parameter.
func TestNetRejectsMalformed(t *testing.T) {
	for _, c := range []struct {
		name   string
		break_ func(n *Net)
		want   string
	}{
		{"short weight", func(n *Net) { n.Params[0].Data = n.Params[0].Data[:10] }, "parameter 0 is not fc1.weight[128 784]"},
		{"wrong shape", func(n *Net) { n.Params[2].Shape = []int{10, 64} }, "parameter 2 is not fc2.weight[10 128]"},
		{"missing", func(n *Net) { n.Params = n.Params[:3] }, "has 3 parameters, want 4"},
		{"nil", func(n *Net) { n.Params[1] = nil }, "parameter 1 is not fc1.bias"},
		{"arch", func(n *Net) { n.Arch = "rnn" }, `unknown architecture "rnn"`},
	} {
		n, err := NewNet(MLP, 1)
		if err != nil {
			t.Fatal(err)
		}
		c.break_(n)
		if _, err := n.ONNX(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: ONNX err = %v, want %q", c.name, err, c.want)
		}
		if _, err := n.Forward(make([]float32, Pixels)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Forward err = %v, want %q", c.name, err, c.want)
		}
	}
	n, _ := NewNet(CNN, 1)
	if _, err := n.Forward(make([]float32, 100)); err == nil || !strings.Contains(err.Error(), "100 values, want 784") {
		t.Errorf("short input: %v", err)
	}
}

func TestTrainDeterministic(t *testing.T) {
	train := load(t, "train")
	for _, a := range []Arch{MLP, CNN} {
		opts := Options{Epochs: 1, Limit: 256, Train: train}
		n1, err := Train(a, opts)
		if err != nil {
			t.Fatal(err)
		}
		n2, err := Train(a, opts)
		if err != nil {
			t.Fatal(err)
		}
		opts.Seed = 2
		n3, err := Train(a, opts)
		if err != nil {
			t.Fatal(err)
		}
		same, other := true, true
		for i, p := range n1.Params {
			same = same && slices.Equal(p.Data, n2.Params[i].Data)
			other = other && slices.Equal(p.Data, n3.Params[i].Data)
		}
		if !same {
			t.Errorf("%s: two runs with one seed differ", a)
		}
		if other {
			t.Errorf("%s: seeds 1 and 2 gave the same model", a)
		}
	}
}

// relDiff is max |a-b| / max |b| over a logit vector, measured by the
// conformance package as for every comparison with a reference.
func relDiff(t *testing.T, a, b []float32) float64 {
	t.Helper()
	f := func(v []float32) *tensor.Tensor {
		return &tensor.Tensor{DType: tensor.Float32, Shape: []int{len(v)}, F32: v}
	}
	d, err := conformance.Compare(f(a), f(b))
	if err != nil {
		t.Fatal(err)
	}
	return d.Rel()
}

// checkRuntimeAgrees imports an exported model through the normal ONNX
// path and runs it with the runtime on the first n test images: the argmax
// must be the trainer's and the logits within 1e-4 of its, relative to the
// largest logit.
func checkRuntimeAgrees(t *testing.T, net *Net, m *model.Model, test *Set, n int) {
	t.Helper()
	if len(m.Inputs) != 1 || m.Inputs[0].Name != InputName || !slices.Equal(m.Inputs[0].Shape, []int{1, 1, Side, Side}) ||
		len(m.Outputs) != 1 || m.Outputs[0].Name != OutputName || !slices.Equal(m.Outputs[0].Shape, []int{1, Classes}) {
		t.Fatalf("imported model: inputs %+v outputs %+v", m.Inputs, m.Outputs)
	}
	var worst float64
	for i := 0; i < n; i++ {
		x := test.Input(i)
		res, err := infer.Run(m, map[string]*tensor.Tensor{InputName: x}, infer.Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		got := res.Outputs[OutputName].F32
		want, err := net.Forward(x.F32)
		if err != nil {
			t.Fatal(err)
		}
		if argmax(got) != argmax(want) {
			t.Errorf("image %d: runtime says %d (%v), trainer %d (%v)", i, argmax(got), got, argmax(want), want)
		}
		worst = max(worst, relDiff(t, got, want))
	}
	if worst > 1e-4 {
		t.Errorf("%s: logits differ by %.3g relative to the largest, want <= 1e-4", net.Arch, worst)
	}
	t.Logf("%s: %d images, runtime and trainer agree on argmax, max relative logit difference %.3g", net.Arch, n, worst)
}

func TestExportMatchesRuntime(t *testing.T) {
	train, test := load(t, "train"), load(t, "test")
	for _, c := range []struct {
		arch   Arch
		limit  int
		minAcc float64
	}{
		// One short epoch: enough to be far from chance (10%), so that the
		// comparison is between a real classifier's logits.
		{MLP, 3000, 0.80},
		{CNN, 1500, 0.70},
	} {
		t.Run(string(c.arch), func(t *testing.T) {
			net, err := Train(c.arch, Options{Epochs: 1, Limit: c.limit, Train: train})
			if err != nil {
				t.Fatal(err)
			}
			acc, err := Evaluate(net, test)
			if err != nil {
				t.Fatal(err)
			}
			if acc.Total != TestSize || acc.Accuracy() < c.minAcc {
				t.Errorf("test accuracy %d/%d after %d examples, want >= %.0f%%", acc.Correct, acc.Total, c.limit, 100*c.minAcc)
			}
			data, err := net.ONNX()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), string(c.arch)+".onnx")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := onnx.ImportFile(path, onnx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			back, err := FromModel(m, c.arch)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range back.Params {
				if !slices.Equal(p.Data, net.Params[i].Data) {
					t.Errorf("weight %s changed on the way through ONNX", p.Name)
				}
			}
			checkRuntimeAgrees(t, net, m, test, 100)
		})
	}
}

func TestFromModelErrors(t *testing.T) {
	net, _ := NewNet(MLP, 1)
	data, err := net.ONNX()
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Import(data, onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FromModel(m, CNN); err == nil || !strings.Contains(err.Error(), `no weight "conv1.weight"`) {
		t.Errorf("mlp as cnn: %v", err)
	}
	if _, err := FromModel(m, "gru"); err == nil {
		t.Error("unknown arch accepted")
	}
}
