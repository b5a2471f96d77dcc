package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/provena/provena/conformance"
)

// TestOCRCommand reads the 320×320 fixture page with `provena ocr`, from the
// ONNX files, and expects every rendered line back.
func TestOCRCommand(t *testing.T) {
	dir, ok := conformance.Dir()
	if !ok {
		if os.Getenv(conformance.RequireEnv) == "1" {
			t.Fatal("no real-model fixtures; run scripts/fixtures.sh")
		}
		t.Skip("no real-model fixtures; run scripts/fixtures.sh")
	}
	cases, err := conformance.Manifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	var page conformance.Case
	for _, c := range cases {
		if c.Name == "det_320" {
			page = c
		}
	}
	if page.Name == "" {
		t.Fatal("no det_320 case in the manifest")
	}
	var out bytes.Buffer
	root := NewRootCmd()
	root.SetOut(&out)
	root.SetArgs([]string{"ocr", filepath.Join(dir, "inputs", page.Image),
		"--det", filepath.Join(dir, conformance.DetModel), "--det-size", "320",
		"--rec", filepath.Join(dir, conformance.RecModel),
		"--dict", filepath.Join(dir, conformance.RecDict), "--threads", "2", "--json"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	var lines []ocrLine
	if err := json.Unmarshal(out.Bytes(), &lines); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	if len(lines) != len(page.Text) {
		t.Fatalf("read %d lines %+v, rendered %d", len(lines), lines, len(page.Text))
	}
	for i, l := range lines {
		if l.Text != page.Text[i] {
			t.Errorf("line %d: %q, rendered %q", i, l.Text, page.Text[i])
		}
	}
}

func TestOCRCommandErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.png")
	if err := os.WriteFile(bad, []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"ocr", bad, "--det", "d.onnx", "--rec", "r.onnx", "--dict", "k.txt"},
		{"ocr", bad, "--det", "d.onnx", "--rec", "r.onnx", "--dict", "k.txt", "--threads", "0"},
		{"ocr", bad},
	} {
		root := NewRootCmd()
		root.SetOut(&bytes.Buffer{})
		root.SetErr(&bytes.Buffer{})
		root.SetArgs(args)
		if err := root.Execute(); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
