package ocr

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/jpeg" // register the JPEG decoder for LoadImage
	_ "image/png"  // register the PNG decoder for LoadImage
	"io"
	"os"
)

// LoadImage decodes a PNG or JPEG file. Its dimensions are checked before the
// pixels are decoded, so a small file claiming a huge image is rejected.
func LoadImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load image: %w", err)
	}
	defer f.Close()
	img, err := DecodeImage(f)
	if err != nil {
		return nil, fmt.Errorf("load image %s: %w", path, err)
	}
	return img, nil
}

// DecodeImage is LoadImage for a stream that can be read twice (a file or a
// bytes.Reader).
func DecodeImage(r io.ReadSeeker) (image.Image, error) {
	cfg, format, err := image.DecodeConfig(r)
	if err != nil {
		return nil, fmt.Errorf("decode image header: %w", err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxSide || cfg.Height > MaxSide {
		return nil, fmt.Errorf("%s image is %dx%d, sides must be in [1, %d]", format, cfg.Width, cfg.Height, MaxSide)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("rewind image: %w", err)
	}
	img, _, err := image.Decode(r)
	if err != nil {
		return nil, fmt.Errorf("decode %s image: %w", format, err)
	}
	return img, nil
}

// bgr is an 8-bit image in BGR order, the layout PaddleOCR's cv2 pipeline
// works on.
type bgr struct {
	w, h int
	pix  []uint8 // (y*w+x)*3 + c, c = 0 blue, 1 green, 2 red
}

// toBGR flattens any image onto white (PaddleOCR's alpha_to_color default)
// and reorders the channels.
func toBGR(img image.Image) (*bgr, error) {
	b := img.Bounds()
	if b.Dx() < 1 || b.Dy() < 1 || b.Dx() > MaxSide || b.Dy() > MaxSide {
		return nil, fmt.Errorf("image is %dx%d, sides must be in [1, %d]", b.Dx(), b.Dy(), MaxSide)
	}
	rgba := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(rgba, rgba.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(rgba, rgba.Bounds(), img, b.Min, draw.Over)
	out := &bgr{w: b.Dx(), h: b.Dy(), pix: make([]uint8, b.Dx()*b.Dy()*3)}
	for i, j := 0, 0; i < len(rgba.Pix); i, j = i+4, j+3 {
		out.pix[j], out.pix[j+1], out.pix[j+2] = rgba.Pix[i+2], rgba.Pix[i+1], rgba.Pix[i]
	}
	return out, nil
}

// resize is bilinear interpolation with cv2.INTER_LINEAR's pixel-centre
// convention (src = (dst+0.5)*scale-0.5, clamped at the borders) and rounds
// to the nearest 8-bit value as cv2 does. It is written out here, in float32
// with a fixed order of operations and explicit float32 conversions around
// every product (which stop the compiler fusing multiply-adds on arm64), so
// its result is the same everywhere.
func (im *bgr) resize(w, h int) *bgr {
	out := &bgr{w: w, h: h, pix: make([]uint8, w*h*3)}
	sx := float32(im.w) / float32(w)
	sy := float32(im.h) / float32(h)
	x0s, x1s, fxs := axis(w, im.w, sx)
	y0s, y1s, fys := axis(h, im.h, sy)
	for y := 0; y < h; y++ {
		r0, r1, fy := y0s[y]*im.w, y1s[y]*im.w, fys[y]
		for x := 0; x < w; x++ {
			a, bb, fx := x0s[x], x1s[x], fxs[x]
			for c := 0; c < 3; c++ {
				p00 := float32(im.pix[(r0+a)*3+c])
				p01 := float32(im.pix[(r0+bb)*3+c])
				p10 := float32(im.pix[(r1+a)*3+c])
				p11 := float32(im.pix[(r1+bb)*3+c])
				top := p00 + float32(fx*float32(p01-p00))
				bot := p10 + float32(fx*float32(p11-p10))
				v := top + float32(fy*float32(bot-top))
				out.pix[(y*w+x)*3+c] = uint8(v + 0.5)
			}
		}
	}
	return out
}

// axis precomputes, for each destination coordinate, the two source
// coordinates and the weight of the second.
func axis(dst, src int, scale float32) (lo, hi []int, frac []float32) {
	lo, hi, frac = make([]int, dst), make([]int, dst), make([]float32, dst)
	for i := range dst {
		s := float32(float32(float32(i)+0.5)*scale) - 0.5
		if s < 0 {
			s = 0
		}
		l := int(s)
		if l >= src-1 {
			l, s = src-1, float32(src-1)
		}
		lo[i], hi[i], frac[i] = l, min(l+1, src-1), s-float32(l)
	}
	return lo, hi, frac
}
