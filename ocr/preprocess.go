package ocr

import (
	"fmt"
	"image"
	"math"

	"github.com/provena/provena/tensor"
)

// PaddleOCR's detection normalisation (NormalizeImage in predict_det.py),
// applied to channels in BGR order as PaddleOCR does with cv2 images.
var (
	detMean = [3]float32{0.485, 0.456, 0.406}
	detStd  = [3]float32{0.229, 0.224, 0.225}
)

// Recognition input geometry of PP-OCRv4 rec (rec_image_shape 3,48,320).
const (
	RecHeight = 48
	RecWidth  = 320
)

// DetScale says how a detection input maps back to the source image: the
// image was resized to W×H (multiples of 32) in the top-left corner of the
// input, so a map coordinate x corresponds to x*SrcW/W in the source.
type DetScale struct {
	SrcW, SrcH int
	W, H       int
}

// DetInput is DetInputScaled without the scale.
func DetInput(img image.Image, size int) (*tensor.Tensor, error) {
	t, _, err := DetInputScaled(img, size)
	return t, err
}

// DetInputScaled builds the 1×3×size×size detection input: the image is
// resized keeping its aspect ratio so that its longer side is size and both
// sides are multiples of 32 (PaddleOCR's DetResizeForTest rounds the same
// way), normalised, and placed in the top-left corner; the padding is 0, the
// normalised mean colour. A fixed square input lets one imported model (its
// shapes are static) serve every page.
func DetInputScaled(img image.Image, size int) (*tensor.Tensor, DetScale, error) {
	if size < 32 || size%32 != 0 || size > MaxSide {
		return nil, DetScale{}, fmt.Errorf("det input: size %d is not a multiple of 32 in [32, %d]", size, MaxSide)
	}
	src, err := toBGR(img)
	if err != nil {
		return nil, DetScale{}, fmt.Errorf("det input: %w", err)
	}
	long := max(src.w, src.h)
	side := func(n int) int {
		v := int(math.Round(float64(n)*float64(size)/float64(long)/32)) * 32
		return min(max(v, 32), size)
	}
	sc := DetScale{SrcW: src.w, SrcH: src.h, W: side(src.w), H: side(src.h)}
	rs := src.resize(sc.W, sc.H)
	t, err := tensor.New(tensor.Float32, []int{1, 3, size, size})
	if err != nil {
		return nil, DetScale{}, fmt.Errorf("det input: %w", err)
	}
	for c := 0; c < 3; c++ {
		plane := t.F32[c*size*size : (c+1)*size*size]
		for y := 0; y < sc.H; y++ {
			for x := 0; x < sc.W; x++ {
				v := float32(rs.pix[(y*sc.W+x)*3+c]) / 255
				plane[y*size+x] = (v - detMean[c]) / detStd[c]
			}
		}
	}
	return t, sc, nil
}

// RecInput builds the 1×3×48×320 recognition input from a cropped text line,
// following PaddleOCR's resize_norm_img: height 48, width
// min(320, ceil(48·w/h)), values (x/255-0.5)/0.5, zeros to the right.
func RecInput(img image.Image) (*tensor.Tensor, error) {
	src, err := toBGR(img)
	if err != nil {
		return nil, fmt.Errorf("rec input: %w", err)
	}
	w := int(math.Ceil(float64(RecHeight) * float64(src.w) / float64(src.h)))
	w = min(max(w, 1), RecWidth)
	rs := src.resize(w, RecHeight)
	t, err := tensor.New(tensor.Float32, []int{1, 3, RecHeight, RecWidth})
	if err != nil {
		return nil, fmt.Errorf("rec input: %w", err)
	}
	for c := 0; c < 3; c++ {
		plane := t.F32[c*RecHeight*RecWidth : (c+1)*RecHeight*RecWidth]
		for y := 0; y < RecHeight; y++ {
			for x := 0; x < w; x++ {
				v := float32(rs.pix[(y*w+x)*3+c]) / 255
				plane[y*RecWidth+x] = (v - 0.5) / 0.5
			}
		}
	}
	return t, nil
}
