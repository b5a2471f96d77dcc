package ocr

import (
	"fmt"
	"image"
	"math"
	"sort"

	"github.com/provena/provena/tensor"
)

// DBOptions are the thresholds of DB postprocessing, named as in PaddleOCR's
// DBPostProcess (det_db_thresh, det_db_box_thresh, det_db_unclip_ratio).
type DBOptions struct {
	Thresh      float32 // a pixel is text when its probability exceeds this
	BoxThresh   float32 // a box is kept when its mean probability reaches this
	UnclipRatio float64 // how far a shrunk text region is grown back
	MinSize     int     // boxes with a shorter side are dropped
}

// DefaultDB is PaddleOCR's PP-OCRv4 inference default.
var DefaultDB = DBOptions{Thresh: 0.3, BoxThresh: 0.6, UnclipRatio: 1.5, MinSize: 3}

// Box is an axis-aligned text box in source-image pixels, [X0, X1)×[Y0, Y1).
type Box struct {
	X0, Y0, X1, Y1 int
	Score          float32
}

// Rect is the box as an image rectangle.
func (b Box) Rect() image.Rectangle { return image.Rect(b.X0, b.Y0, b.X1, b.Y1) }

// DBBoxes turns the detection model's probability map (shape [1, 1, H, W]) into
// text boxes in the source image described by sc. It is a simplified
// DBPostProcess: connected regions of the thresholded map (8-connected, as
// cv2.findContours), scored by the mean probability over their bounding
// rectangle (score_mode "fast"), grown by area·ratio/perimeter on each side
// (the unclip distance), with axis-aligned rectangles where PaddleOCR fits
// rotated ones: enough for horizontal text. Boxes come top to bottom, then
// left to right.
func DBBoxes(prob *tensor.Tensor, sc DetScale, opt DBOptions) ([]Box, error) {
	if prob == nil || prob.DType != tensor.Float32 || len(prob.Shape) != 4 || prob.Shape[0] != 1 || prob.Shape[1] != 1 {
		return nil, fmt.Errorf("db boxes: want a float32 [1, 1, H, W] map")
	}
	h, w := prob.Shape[2], prob.Shape[3]
	if h*w != len(prob.F32) || h < 1 || w < 1 {
		return nil, fmt.Errorf("db boxes: %d values for shape %v", len(prob.F32), prob.Shape)
	}
	if sc.W < 1 || sc.H < 1 || sc.W > w || sc.H > h || sc.SrcW < 1 || sc.SrcH < 1 {
		return nil, fmt.Errorf("db boxes: scale %+v does not fit a %dx%d map", sc, w, h)
	}
	seen := make([]bool, h*w)
	var boxes []Box
	var queue []int
	for start := range prob.F32 {
		if seen[start] || !(prob.F32[start] > opt.Thresh) {
			continue
		}
		// Flood-fill one region, tracking its bounding rectangle.
		x0, y0, x1, y1 := w, h, -1, -1
		queue = append(queue[:0], start)
		seen[start] = true
		for len(queue) > 0 {
			p := queue[len(queue)-1]
			queue = queue[:len(queue)-1]
			px, py := p%w, p/w
			x0, y0, x1, y1 = min(x0, px), min(y0, py), max(x1, px), max(y1, py)
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					nx, ny := px+dx, py+dy
					if nx < 0 || ny < 0 || nx >= w || ny >= h {
						continue
					}
					q := ny*w + nx
					if !seen[q] && prob.F32[q] > opt.Thresh {
						seen[q] = true
						queue = append(queue, q)
					}
				}
			}
		}
		bw, bh := x1-x0+1, y1-y0+1
		if min(bw, bh) < opt.MinSize {
			continue
		}
		var sum float64
		for y := y0; y <= y1; y++ {
			for _, v := range prob.F32[y*w+x0 : y*w+x1+1] {
				sum += float64(v)
			}
		}
		score := float32(sum / float64(bw*bh))
		if score < opt.BoxThresh {
			continue
		}
		d := float64(bw*bh) * opt.UnclipRatio / float64(2*(bw+bh))
		fx0, fy0 := float64(x0)-d, float64(y0)-d
		fx1, fy1 := float64(x1+1)+d, float64(y1+1)+d
		if math.Min(fx1-fx0, fy1-fy0) < float64(opt.MinSize+2) {
			continue
		}
		// Map from the resized image in the input's corner back to the source.
		rx, ry := float64(sc.SrcW)/float64(sc.W), float64(sc.SrcH)/float64(sc.H)
		b := Box{
			X0: clamp(int(math.Round(fx0*rx)), sc.SrcW), Y0: clamp(int(math.Round(fy0*ry)), sc.SrcH),
			X1: clamp(int(math.Round(fx1*rx)), sc.SrcW), Y1: clamp(int(math.Round(fy1*ry)), sc.SrcH),
			Score: score,
		}
		if b.X1-b.X0 <= 3 || b.Y1-b.Y0 <= 3 {
			continue
		}
		boxes = append(boxes, b)
	}
	sort.SliceStable(boxes, func(i, j int) bool {
		if boxes[i].Y0 != boxes[j].Y0 {
			return boxes[i].Y0 < boxes[j].Y0
		}
		return boxes[i].X0 < boxes[j].X0
	})
	return boxes, nil
}

func clamp(v, hi int) int { return min(max(v, 0), hi) }
