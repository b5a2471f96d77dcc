// Command fixturegen writes the inputs of Provena's conformance fixtures: text
// rendered into images by package ocr and preprocessed into the tensors the
// PP-OCRv4 models take, as .npy files, plus the PNG images and a manifest.
// scripts/fixtures.sh runs it and then runs onnxruntime on the same bytes, so
// the reference and Provena see identical inputs.
//
//	go run ./internal/fixturegen -out $PROVENA_FIXTURES/inputs
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"

	"github.com/provena/provena/npy"
	"github.com/provena/provena/ocr"
	"github.com/provena/provena/tensor"
)

// Case is one fixture input. The manifest lists them for the fixture script
// and the conformance tests.
type Case struct {
	Name  string   `json:"name"`
	Model string   `json:"model"` // "det" or "rec"
	Input string   `json:"input"` // file name under the output directory
	Image string   `json:"image"`
	Shape []int    `json:"shape"`
	Text  []string `json:"text"` // the rendered lines, top to bottom
}

var page640 = []string{
	"Provena 2026",
	"verified inference",
	"0123456789",
	"Open Ledger for Verified AI",
	"Merkle root 4f2a9c7e",
	"MixedCase Text Line",
	"opML zkML teeML",
	"Block 1024 height 77",
}

var page320 = []string{
	"Provena 2026",
	"verified inference",
	"42 tensors",
}

var recLines = []string{
	"Provena 2026",
	"verified inference",
	"0123456789",
	"Mixed Case Text",
}

func main() {
	out := flag.String("out", "", "directory to write the inputs, images and manifest.json into")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "fixturegen: -out is required")
		os.Exit(2)
	}
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "fixturegen:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var cases []Case
	for _, p := range []struct {
		name  string
		lines []string
		size  int
	}{{"det_640", page640, 640}, {"det_320", page320, 320}} {
		img, err := ocr.RenderLines(p.lines, p.size, p.size)
		if err != nil {
			return err
		}
		t, err := ocr.DetInput(img, p.size)
		if err != nil {
			return err
		}
		c, err := write(dir, p.name, "det", img, t, p.lines)
		if err != nil {
			return err
		}
		cases = append(cases, c)
	}
	for i, line := range recLines {
		img, err := ocr.RenderLine(line, ocr.RecHeight)
		if err != nil {
			return err
		}
		t, err := ocr.RecInput(img)
		if err != nil {
			return err
		}
		c, err := write(dir, fmt.Sprintf("rec_%d", i), "rec", img, t, []string{line})
		if err != nil {
			return err
		}
		cases = append(cases, c)
	}
	m, err := json.MarshalIndent(cases, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), append(m, '\n'), 0o644); err != nil {
		return err
	}
	for _, c := range cases {
		fmt.Printf("%s\t%s\t%s\n", c.Name, c.Model, c.Input)
	}
	return nil
}

func write(dir, name, model string, img image.Image, t *tensor.Tensor, text []string) (Case, error) {
	c := Case{Name: name, Model: model, Input: name + ".npy", Image: name + ".png", Shape: t.Shape, Text: text}
	if err := writeFile(filepath.Join(dir, c.Input), func(f *os.File) error { return npy.Write(f, t) }); err != nil {
		return c, err
	}
	if err := writeFile(filepath.Join(dir, c.Image), func(f *os.File) error { return png.Encode(f, img) }); err != nil {
		return c, err
	}
	return c, nil
}

// writeFile writes through a temporary file and renames it, so an
// interrupted run never leaves a truncated fixture that looks complete.
func writeFile(path string, fill func(*os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := fill(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(f.Name(), path)
}
