package conformance

import (
	"image"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/ocr"
)

// TestOCRPipeline reads a rendered page end to end on Provena: detection,
// DB boxes, crops, recognition, CTC decoding. It reports how many rendered
// lines come back exactly; it fails only when the pipeline reads nothing
// right, since this measures the models and the simplified postprocessing
// more than the runtime (TestAccuracy holds the runtime to onnxruntime).
func TestOCRPipeline(t *testing.T) {
	dir, cases := fixtures(t)
	var page, line Case
	for _, c := range cases {
		if c.Name == "det_320" {
			page = c
		}
		if c.Model == "rec" && line.Name == "" {
			line = c
		}
	}
	if page.Name == "" || line.Name == "" {
		t.Fatal("manifest lacks det_320 or a rec case")
	}
	det := importModel(t, dir, page)
	rec := importModel(t, dir, line)
	dict, err := ocr.LoadDict(filepath.Join(dir, RecDict))
	if err != nil {
		t.Fatal(err)
	}
	img, err := ocr.LoadImage(filepath.Join(dir, "inputs", page.Image))
	if err != nil {
		t.Fatal(err)
	}
	x, sc, err := ocr.DetInputScaled(img, page.Shape[2])
	if err != nil {
		t.Fatal(err)
	}
	boxes, err := ocr.DBBoxes(output(t, det, x, infer.Options{Threads: 2}), sc, ocr.DefaultDB)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, l := range page.Text {
		want[l] = true
	}
	exact := 0
	for i, b := range boxes {
		crop := img.(interface {
			SubImage(image.Rectangle) image.Image
		}).SubImage(b.Rect())
		rx, err := ocr.RecInput(crop)
		if err != nil {
			t.Fatal(err)
		}
		text, _, err := ocr.CTCDecode(output(t, rec, rx, infer.Options{Threads: 2}), dict)
		if err != nil {
			t.Fatal(err)
		}
		text = strings.TrimSpace(text)
		if want[text] {
			exact++
		}
		t.Logf("box %d %v score %.3f: %q", i, b.Rect(), b.Score, text)
	}
	t.Logf("%d boxes, %d of %d rendered lines read exactly", len(boxes), exact, len(page.Text))
	if exact == 0 {
		t.Errorf("no rendered line read exactly from %d boxes", len(boxes))
	}
}
