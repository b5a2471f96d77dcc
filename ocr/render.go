package ocr

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gomono"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// MaxSide bounds the width and height of rendered and loaded images, so that
// a hostile file or argument fails with an error instead of exhausting memory.
const MaxSide = 8192

var (
	fontsOnce sync.Once
	fonts     [2]*opentype.Font
	fontsErr  error
)

// loadFonts parses the embedded Go fonts once: goregular for even lines and
// gomono for odd ones, so a page mixes proportional and fixed-width text.
func loadFonts() ([2]*opentype.Font, error) {
	fontsOnce.Do(func() {
		for i, ttf := range [][]byte{goregular.TTF, gomono.TTF} {
			f, err := opentype.Parse(ttf)
			if err != nil {
				fontsErr = fmt.Errorf("parse embedded font %d: %w", i, err)
				return
			}
			fonts[i] = f
		}
	})
	return fonts, fontsErr
}

// RenderLines draws lines of dark text on a light, slightly noisy background
// of w×h pixels, one line per equal horizontal band, left-aligned. The font
// size follows the band height and shrinks when a line would not fit the
// width. The result depends only on the arguments.
func RenderLines(lines []string, w, h int) (*image.RGBA, error) {
	if w < 8 || h < 8 || w > MaxSide || h > MaxSide {
		return nil, fmt.Errorf("render lines: size %dx%d outside [8, %d]", w, h, MaxSide)
	}
	fs, err := loadFonts()
	if err != nil {
		return nil, fmt.Errorf("render lines: %w", err)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	// A faint vertical gradient, like paper under uneven light.
	for y := 0; y < h; y++ {
		g := uint8(246 - 10*y/h)
		for x := 0; x < w; x++ {
			i := img.PixOffset(x, y)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = g, g, g-2, 255
		}
	}
	ink := image.NewUniform(color.RGBA{R: 28, G: 30, B: 38, A: 255})
	if len(lines) > 0 {
		band := float64(h) / float64(len(lines))
		margin := min(w/24, int(band)/8)
		for i, line := range lines {
			if err := drawLine(img, fs[i%2], ink, line, margin, band*float64(i), band); err != nil {
				return nil, fmt.Errorf("render line %d %q: %w", i, line, err)
			}
		}
	}
	addNoise(img, 7, uint64(w)<<32|uint64(h))
	return img, nil
}

func drawLine(dst draw.Image, f *opentype.Font, ink image.Image, text string, margin int, top, band float64) error {
	avail := float64(dst.Bounds().Dx() - 2*margin)
	size := band * 0.6
	face, err := opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return err
	}
	adv := float64(font.MeasureString(face, text)) / 64
	if adv > avail && adv > 0 {
		face.Close()
		size *= avail / adv
		if face, err = opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull}); err != nil {
			return err
		}
	}
	defer face.Close()
	m := face.Metrics()
	textH := float64(m.Ascent+m.Descent) / 64
	baseline := top + (band-textH)/2 + float64(m.Ascent)/64
	d := font.Drawer{Dst: dst, Src: ink, Face: face, Dot: fixed.P(margin, int(baseline))}
	d.DrawString(text)
	return nil
}

// RenderLine draws one line of text h pixels high on an image just wide
// enough for it, like a text box cropped by a detector: the input shape the
// recognition model is trained on.
func RenderLine(text string, h int) (*image.RGBA, error) {
	if h < 8 || h > MaxSide {
		return nil, fmt.Errorf("render line: height %d outside [8, %d]", h, MaxSide)
	}
	fs, err := loadFonts()
	if err != nil {
		return nil, fmt.Errorf("render line: %w", err)
	}
	face, err := opentype.NewFace(fs[0], &opentype.FaceOptions{Size: float64(h) * 0.6, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil, fmt.Errorf("render line: %w", err)
	}
	adv := font.MeasureString(face, text).Ceil()
	face.Close()
	margin := h / 8
	w := min(max(adv+2*margin, 8), MaxSide)
	return RenderLines([]string{text}, w, h)
}

// addNoise perturbs every colour channel by up to ±amp with a splitmix64
// stream, the same for every run and platform.
func addNoise(img *image.RGBA, amp int, seed uint64) {
	s := seed ^ 0x9e3779b97f4a7c15
	span := uint64(2*amp + 1)
	for i := 0; i < len(img.Pix); i += 4 {
		s += 0x9e3779b97f4a7c15
		z := s
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		for c := 0; c < 3; c++ {
			d := int(z%span) - amp
			z /= span
			v := int(img.Pix[i+c]) + d
			img.Pix[i+c] = uint8(min(max(v, 0), 255))
		}
	}
}
