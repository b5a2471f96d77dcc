package ocr

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/provena/provena/tensor"
)

// probs builds a [1, T, C] matrix whose row t peaks at seq[t].
func probs(seq []int, classes int) *tensor.Tensor {
	t := &tensor.Tensor{DType: tensor.Float32, Shape: []int{1, len(seq), classes}, F32: make([]float32, len(seq)*classes)}
	for i, k := range seq {
		for c := range classes {
			t.F32[i*classes+c] = 0.01
		}
		t.F32[i*classes+k] = 0.9
	}
	return t
}

func TestCTCDecode(t *testing.T) {
	dict := []string{"a", "b", "c", " "} // classes 1..4; 0 is blank
	tie := probs([]int{2}, 5)
	tie.F32[3] = tie.F32[2] // class 3 ties with class 2: the first wins
	tests := []struct {
		name    string
		in      *tensor.Tensor
		want    string
		wantSeq []int
		wantErr string
	}{
		{"collapse and blanks", probs([]int{0, 1, 1, 0, 1, 2, 2, 4, 3}, 5), "aab c", []int{0, 1, 1, 0, 1, 2, 2, 4, 3}, ""},
		{"all blank", probs([]int{0, 0, 0}, 5), "", []int{0, 0, 0}, ""},
		{"tie takes first", tie, "b", []int{2}, ""},
		{"2d input", &tensor.Tensor{DType: tensor.Float32, Shape: []int{2, 5}, F32: []float32{0, 0, 0, 1, 0, 0, 1, 0, 0, 0}}, "ca", []int{3, 1}, ""},
		{"wrong classes", probs([]int{1}, 6), "", nil, "6 classes"},
		{"wrong rank", &tensor.Tensor{DType: tensor.Float32, Shape: []int{5}, F32: make([]float32, 5)}, "", nil, "shape"},
		{"batch 2", &tensor.Tensor{DType: tensor.Float32, Shape: []int{2, 1, 5}, F32: make([]float32, 10)}, "", nil, "shape"},
		{"short data", &tensor.Tensor{DType: tensor.Float32, Shape: []int{1, 3, 5}, F32: make([]float32, 10)}, "", nil, "values"},
		{"int input", &tensor.Tensor{DType: tensor.Int64, Shape: []int{1, 1, 5}, I64: make([]int64, 5)}, "", nil, "float32"},
		{"nil", nil, "", nil, "float32"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, seq, err := CTCDecode(tc.in, dict)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || !reflect.DeepEqual(seq, tc.wantSeq) {
				t.Fatalf("got %q %v, want %q %v", got, seq, tc.want, tc.wantSeq)
			}
		})
	}
}

func TestParseDict(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"x\ny\nz", []string{"x", "y", "z", " "}, false},
		{"x\r\ny\r\n", []string{"x", "y", " "}, false},
		{"中\n文\n", []string{"中", "文", " "}, false},
		{"", nil, true},
	}
	for _, tc := range tests {
		got, err := ParseDict(strings.NewReader(tc.in))
		if (err != nil) != tc.wantErr || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseDict(%q) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func uniform(w, h int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

// at reads element (c, y, x) of a 1×3×H×W tensor.
func at(t *tensor.Tensor, c, y, x int) float32 {
	h, w := t.Shape[2], t.Shape[3]
	return t.F32[(c*h+y)*w+x]
}

func TestRecInput(t *testing.T) {
	red := color.RGBA{R: 255, G: 0, B: 51, A: 255}
	tests := []struct {
		name  string
		img   image.Image
		width int // resized width before padding
	}{
		{"2:1 image", uniform(4, 2, red), 96},
		{"wide image clamps to 320", uniform(1000, 10, red), 320},
		{"tall image", uniform(2, 100, red), 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x, err := RecInput(tc.img)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(x.Shape, []int{1, 3, 48, 320}) {
				t.Fatalf("shape %v", x.Shape)
			}
			// BGR order: channel 0 is blue (51 = 0.2·255).
			want := [3]float32{(float32(51)/255 - 0.5) / 0.5, -1, 1}
			for c := range 3 {
				for _, y := range []int{0, 47} {
					if got := at(x, c, y, tc.width-1); got != want[c] {
						t.Errorf("c%d y%d x%d = %v, want %v", c, y, tc.width-1, got, want[c])
					}
					if tc.width < 320 {
						if got := at(x, c, y, tc.width); got != 0 {
							t.Errorf("padding c%d y%d x%d = %v, want 0", c, y, tc.width, got)
						}
					}
				}
			}
		})
	}
}

func TestDetInput(t *testing.T) {
	img := uniform(64, 30, color.RGBA{R: 200, G: 100, B: 50, A: 255})
	x, sc, err := DetInputScaled(img, 64)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(x.Shape, []int{1, 3, 64, 64}) {
		t.Fatalf("shape %v", x.Shape)
	}
	if sc != (DetScale{SrcW: 64, SrcH: 30, W: 64, H: 32}) {
		t.Fatalf("scale %+v", sc)
	}
	bgr := [3]float32{50, 100, 200}
	for c := range 3 {
		want := (bgr[c]/255 - detMean[c]) / detStd[c]
		if got := at(x, c, 31, 63); got != want {
			t.Errorf("c%d = %v, want %v", c, got, want)
		}
		if got := at(x, c, 32, 0); got != 0 {
			t.Errorf("c%d padding = %v, want 0", c, got)
		}
	}
	for _, size := range []int{0, 31, 48, 1 << 20} {
		if _, err := DetInput(img, size); err == nil {
			t.Errorf("DetInput size %d: no error", size)
		}
	}
	if _, err := DetInput(image.NewRGBA(image.Rect(0, 0, 0, 5)), 64); err == nil {
		t.Error("DetInput on an empty image: no error")
	}
}

func TestResizeBilinear(t *testing.T) {
	// Same convention as cv2.resize(INTER_LINEAR): a 2×2 image upscaled to
	// 4×4 gives rows [p0, .75p0+.25p1, .25p0+.75p1, p1].
	src := &bgr{w: 2, h: 2, pix: []uint8{0, 0, 0, 100, 100, 100, 200, 200, 200, 240, 240, 240}}
	got := src.resize(4, 4)
	want := [][]uint8{
		{0, 25, 75, 100},
		{50, 71, 114, 135},
		{150, 164, 191, 205},
		{200, 210, 230, 240},
	}
	for y := range 4 {
		for x := range 4 {
			if v := got.pix[(y*4+x)*3]; v != want[y][x] {
				t.Errorf("(%d,%d) = %d, want %d", x, y, v, want[y][x])
			}
		}
	}
}

func TestRenderLines(t *testing.T) {
	lines := []string{"Provena 2026", "verified inference"}
	a, err := RenderLines(lines, 200, 80)
	if err != nil {
		t.Fatal(err)
	}
	b, err := RenderLines(lines, 200, 80)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Fatal("two renders differ")
	}
	// Each band must hold ink (dark pixels) and the margins must not.
	dark := func(y0, y1 int) int {
		n := 0
		for y := y0; y < y1; y++ {
			for x := range 200 {
				if a.Pix[a.PixOffset(x, y)] < 100 {
					n++
				}
			}
		}
		return n
	}
	if dark(0, 40) < 50 || dark(40, 80) < 50 {
		t.Errorf("bands have %d and %d dark pixels, want text in both", dark(0, 40), dark(40, 80))
	}
	if n := dark(0, 3); n != 0 {
		t.Errorf("%d dark pixels in the top margin", n)
	}
	blank, err := RenderLines(nil, 20, 20)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(blank.Pix); i += 4 {
		if blank.Pix[i] < 200 {
			t.Fatalf("blank page has a dark pixel at %d", i/4)
		}
	}
	for _, sz := range [][2]int{{0, 10}, {10, -1}, {MaxSide + 1, 10}} {
		if _, err := RenderLines(lines, sz[0], sz[1]); err == nil {
			t.Errorf("size %v: no error", sz)
		}
	}
	line, err := RenderLine("Provena", 48)
	if err != nil {
		t.Fatal(err)
	}
	if w := line.Bounds().Dx(); w < 100 || w > 250 {
		t.Errorf("RenderLine width %d for 7 letters at height 48", w)
	}
}

func TestLoadImage(t *testing.T) {
	dir := t.TempDir()
	img, err := RenderLines([]string{"x"}, 16, 16)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.png")
	if err := os.WriteFile(good, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := LoadImage(good)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := RecInput(img)
	b, _ := RecInput(got)
	if !reflect.DeepEqual(a.F32, b.F32) {
		t.Error("loaded image preprocesses differently from the original")
	}
	// JPEG is lossy: check it loads at the right size and stays close.
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	jp := filepath.Join(dir, "page.jpg")
	if err := os.WriteFile(jp, jb.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ji, err := LoadImage(jp)
	if err != nil {
		t.Fatal(err)
	}
	if ji.Bounds().Size() != img.Bounds().Size() {
		t.Errorf("jpeg size %v, want %v", ji.Bounds().Size(), img.Bounds().Size())
	}
	c := recInputOrFail(t, ji)
	var maxDiff float32
	for i := range c.F32 {
		maxDiff = max(maxDiff, float32(math.Abs(float64(c.F32[i]-a.F32[i]))))
	}
	if maxDiff > 0.5 {
		t.Errorf("jpeg input differs from the original by up to %v", maxDiff)
	}
	for name, data := range map[string][]byte{
		"garbage.png":   []byte("not an image"),
		"truncated.png": buf.Bytes()[:60],
		"huge.png":      hugePNG(100000, 100000),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadImage(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := LoadImage(filepath.Join(dir, "absent.png")); err == nil {
		t.Error("absent file: no error")
	}
}

func recInputOrFail(t *testing.T, img image.Image) *tensor.Tensor {
	t.Helper()
	x, err := RecInput(img)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// hugePNG is a PNG signature and IHDR chunk claiming a w×h image, with no
// pixel data: the header a decompression bomb would start with.
func hugePNG(w, h uint32) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	chunk := []byte("IHDR")
	chunk = binary.BigEndian.AppendUint32(chunk, w)
	chunk = binary.BigEndian.AppendUint32(chunk, h)
	chunk = append(chunk, 8, 2, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, 13)
	b = append(b, chunk...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(chunk))
}

func FuzzDecodeImage(f *testing.F) {
	img, _ := RenderLines([]string{"a"}, 9, 9)
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	f.Add(buf.Bytes())
	f.Add(hugePNG(100000, 100000))
	f.Add(hugePNG(1, 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := DecodeImage(bytes.NewReader(data))
		if err != nil {
			return
		}
		if _, err := RecInput(img); err != nil {
			t.Fatalf("decoded image rejected by RecInput: %v", err)
		}
	})
}

func FuzzParseDict(f *testing.F) {
	f.Add([]byte("a\nb\r\n中"))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ParseDict(bytes.NewReader(data))
		if err != nil {
			return
		}
		if d[len(d)-1] != " " {
			t.Fatalf("dictionary does not end with the space class: %q", d)
		}
	})
}

func TestDBBoxes(t *testing.T) {
	// A 32×32 map with two text regions; the source image was 64×64.
	m := &tensor.Tensor{DType: tensor.Float32, Shape: []int{1, 1, 32, 32}, F32: make([]float32, 32*32)}
	fill := func(x0, y0, x1, y1 int, v float32) {
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				m.F32[y*32+x] = v
			}
		}
	}
	fill(4, 20, 28, 26, 0.9) // drawn first, returned second
	fill(2, 4, 20, 10, 0.8)
	fill(30, 30, 31, 31, 0.9) // a single pixel: below MinSize
	fill(24, 2, 30, 8, 0.35)  // above Thresh but scores under BoxThresh
	sc := DetScale{SrcW: 64, SrcH: 64, W: 32, H: 32}
	got, err := DBBoxes(m, sc, DefaultDB)
	if err != nil {
		t.Fatal(err)
	}
	// Upper region: 18×6, d = 108·1.5/48 = 3.375, so [-1.375, 23.375)×[0.625, 13.375), ×2.
	// Lower region: 24×6, d = 3.6, so [0.4, 31.6)×[16.4, 29.6), ×2.
	want := []Box{{X0: 0, Y0: 1, X1: 47, Y1: 27, Score: 0.8}, {X0: 1, Y0: 33, X1: 63, Y1: 59, Score: 0.9}}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		g := got[i]
		g.Score = float32(math.Round(float64(g.Score)*100) / 100)
		if g != want[i] {
			t.Errorf("box %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, bad := range []struct {
		m  *tensor.Tensor
		sc DetScale
	}{
		{nil, sc},
		{&tensor.Tensor{DType: tensor.Float32, Shape: []int{1, 32, 32}, F32: m.F32}, sc},
		{&tensor.Tensor{DType: tensor.Float32, Shape: []int{1, 1, 32, 33}, F32: m.F32}, sc},
		{m, DetScale{SrcW: 64, SrcH: 64, W: 64, H: 32}},
	} {
		if _, err := DBBoxes(bad.m, bad.sc, DefaultDB); err == nil {
			t.Errorf("DBBoxes(%v, %+v): no error", bad.m, bad.sc)
		}
	}
}
