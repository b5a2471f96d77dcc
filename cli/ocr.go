package cli

import (
	"encoding/json"
	"fmt"
	"image"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/provena/provena/infer"
	"github.com/provena/provena/model"
	"github.com/provena/provena/ocr"
	"github.com/provena/provena/onnx"
	"github.com/provena/provena/tensor"
)

func init() { commands = append(commands, newOCRCmd) }

type ocrFlags struct {
	det, rec, dict string
	detSize        int
	threads        int
	json           bool
}

func newOCRCmd() *cobra.Command {
	var f ocrFlags
	cmd := &cobra.Command{
		Use:   "ocr IMAGE",
		Short: "Read the text in a PNG or JPEG image with PP-OCR detection and recognition models",
		Long: `Runs text detection on the image, turns the probability map into boxes
(DB postprocessing), crops each box and runs text recognition on it, and
prints one line per box: x0,y0,x1,y1, the box score, and the text.

--det and --rec take Provena model packages (.pvm) or ONNX files; an ONNX
detector is imported at --det-size×--det-size, an ONNX recogniser at 48×320.
Everything runs on Provena's deterministic runtime.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runOCR(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.det, "det", "", "detection model (.pvm or .onnx), e.g. ch_PP-OCRv4_det_infer.onnx")
	fl.StringVar(&f.rec, "rec", "", "recognition model (.pvm or .onnx), e.g. ch_PP-OCRv4_rec_infer.onnx")
	fl.StringVar(&f.dict, "dict", "", "the recogniser's character dictionary, e.g. ppocr_keys_v1.txt")
	fl.IntVar(&f.detSize, "det-size", 640, "detection input side when --det is an ONNX file (a multiple of 32)")
	fl.IntVar(&f.threads, "threads", 1, "threads")
	fl.BoolVar(&f.json, "json", false, "print machine-readable JSON")
	for _, name := range []string{"det", "rec", "dict"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

type ocrLine struct {
	Box   [4]int  `json:"box"` // x0, y0, x1, y1
	Score float32 `json:"score"`
	Text  string  `json:"text"`
}

func runOCR(cmd *cobra.Command, path string, f ocrFlags) error {
	if f.threads < 1 || f.threads > 1024 {
		return fmt.Errorf("ocr: --threads %d: want 1 to 1024", f.threads)
	}
	img, err := ocr.LoadImage(path)
	if err != nil {
		return fmt.Errorf("ocr: %w", err)
	}
	det, err := loadOCRModel(f.det, []int{1, 3, f.detSize, f.detSize})
	if err != nil {
		return fmt.Errorf("ocr: detection model: %w", err)
	}
	rec, err := loadOCRModel(f.rec, []int{1, 3, ocr.RecHeight, ocr.RecWidth})
	if err != nil {
		return fmt.Errorf("ocr: recognition model: %w", err)
	}
	dict, err := ocr.LoadDict(f.dict)
	if err != nil {
		return fmt.Errorf("ocr: %w", err)
	}
	ds := det.Inputs[0].Shape
	if len(det.Inputs) != 1 || len(ds) != 4 || ds[0] != 1 || ds[1] != 3 || ds[2] != ds[3] {
		return fmt.Errorf("ocr: detection model input %v, want one [1, 3, S, S] input", ds)
	}
	if rs := rec.Inputs[0].Shape; len(rec.Inputs) != 1 || !slices.Equal(rs, []int{1, 3, ocr.RecHeight, ocr.RecWidth}) {
		return fmt.Errorf("ocr: recognition model input %v, want one [1, 3, %d, %d] input", rs, ocr.RecHeight, ocr.RecWidth)
	}

	x, sc, err := ocr.DetInputScaled(img, ds[2])
	if err != nil {
		return fmt.Errorf("ocr: %w", err)
	}
	probMap, err := ocrRunSingle(det, x, f.threads)
	if err != nil {
		return fmt.Errorf("ocr: detection: %w", err)
	}
	boxes, err := ocr.DBBoxes(probMap, sc, ocr.DefaultDB)
	if err != nil {
		return fmt.Errorf("ocr: %w", err)
	}
	type subImager interface {
		SubImage(image.Rectangle) image.Image
	}
	si, ok := img.(subImager)
	if !ok {
		return fmt.Errorf("ocr: cannot crop a %T image", img)
	}
	lines := []ocrLine{}
	for i, b := range boxes {
		crop := si.SubImage(b.Rect().Add(img.Bounds().Min))
		rx, err := ocr.RecInput(crop)
		if err != nil {
			return fmt.Errorf("ocr: box %d: %w", i, err)
		}
		probs, err := ocrRunSingle(rec, rx, f.threads)
		if err != nil {
			return fmt.Errorf("ocr: recognition of box %d: %w", i, err)
		}
		text, _, err := ocr.CTCDecode(probs, dict)
		if err != nil {
			return fmt.Errorf("ocr: box %d: %w", i, err)
		}
		lines = append(lines, ocrLine{Box: [4]int{b.X0, b.Y0, b.X1, b.Y1}, Score: b.Score, Text: strings.TrimSpace(text)})
	}
	out := cmd.OutOrStdout()
	if f.json {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(lines)
	}
	for _, l := range lines {
		fmt.Fprintf(out, "%d,%d,%d,%d\t%.3f\t%s\n", l.Box[0], l.Box[1], l.Box[2], l.Box[3], l.Score, l.Text)
	}
	return nil
}

// loadOCRModel reads a model package, or imports an ONNX file at shape.
func loadOCRModel(path string, shape []int) (*model.Model, error) {
	if strings.EqualFold(filepath.Ext(path), ".onnx") {
		return onnx.ImportFile(path, onnx.Options{InputShapes: map[string][]int{"x": shape}})
	}
	return model.Load(path)
}

func ocrRunSingle(m *model.Model, x *tensor.Tensor, threads int) (*tensor.Tensor, error) {
	res, err := infer.Run(m, map[string]*tensor.Tensor{m.Inputs[0].Name: x}, infer.Options{Threads: threads})
	if err != nil {
		return nil, err
	}
	y := res.Outputs[m.Outputs[0].Name]
	if y == nil {
		return nil, fmt.Errorf("no output %s", m.Outputs[0].Name)
	}
	return y, nil
}
