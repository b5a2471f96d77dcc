package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMNISTSamplesCLI writes real test images as model inputs and checks
// them against the data set's known first labels and pixel scaling.
func TestMNISTSamplesCLI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "s")
	out, err := runCLI("mnist", "samples", "--split", "test", "--n", "3", "-o", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Files  []string `json:"files"`
		Labels string   `json:"labels"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if len(res.Files) != 3 {
		t.Fatalf("files %v, want 3", res.Files)
	}
	labels, err := os.ReadFile(res.Labels)
	if err != nil {
		t.Fatal(err)
	}
	// The MNIST test set starts 7, 2, 1.
	if got := strings.Fields(string(labels)); strings.Join(got, ",") != "7,2,1" {
		t.Fatalf("labels %v, want 7,2,1", got)
	}
	x := readNpy(t, res.Files[0])
	if len(x.Shape) != 4 || x.Shape[0] != 1 || x.Shape[1] != 1 || x.Shape[2] != 28 || x.Shape[3] != 28 {
		t.Fatalf("shape %v, want [1 1 28 28]", x.Shape)
	}
	var max float32
	for _, v := range x.F32 {
		if v < 0 || v > 1 {
			t.Fatalf("pixel %v outside [0,1]", v)
		}
		if v > max {
			max = v
		}
	}
	if max != 1 {
		t.Fatalf("brightest pixel %v, want 1 (255/255)", max)
	}
}

func TestMNISTCLIRejects(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"mnist", "samples", "--split", "test", "--n", "2", "--offset", "9999", "-o", dir}, "has 10000 images"},
		{[]string{"mnist", "samples", "--split", "validation", "-o", dir}, "validation"},
		{[]string{"mnist", "train", "--arch", "rnn", "-o", filepath.Join(dir, "m.onnx")}, "want mlp or cnn"},
		{[]string{"mnist", "train", "--arch", "mlp", "--seed", "0", "-o", filepath.Join(dir, "m.onnx")}, "--seed 0"},
	} {
		_, err := runCLI(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want it to mention %q", tc.args, err, tc.want)
		}
	}
}
