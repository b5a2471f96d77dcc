package ocr

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/provena/provena/tensor"
)

// maxDict bounds a dictionary file (ppocr_keys_v1.txt has 6623 entries).
const maxDict = 1 << 20

// LoadDict reads a PaddleOCR character dictionary (one character per line)
// and appends the space character, as PaddleOCR's CTCLabelDecode does with
// use_space_char (the PP-OCRv4 default). Class k of the recognition output
// is dict[k-1]; class 0 is the CTC blank.
func LoadDict(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load dictionary: %w", err)
	}
	defer f.Close()
	d, err := ParseDict(f)
	if err != nil {
		return nil, fmt.Errorf("load dictionary %s: %w", path, err)
	}
	return d, nil
}

// ParseDict is LoadDict for a reader.
func ParseDict(r io.Reader) ([]string, error) {
	var dict []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if len(dict) == maxDict {
			return nil, fmt.Errorf("more than %d entries", maxDict)
		}
		dict = append(dict, strings.TrimSuffix(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(dict) == 0 {
		return nil, fmt.Errorf("empty dictionary")
	}
	return append(dict, " "), nil
}

// CTCDecode is greedy CTC decoding of a recognition output of shape [1, T, C]
// or [T, C] with C = len(dict)+1: the argmax class of each step (the first on
// ties), with repeats collapsed and blanks (class 0) dropped. It returns the
// text and the per-step argmax sequence.
func CTCDecode(probs *tensor.Tensor, dict []string) (string, []int, error) {
	if probs == nil || probs.DType != tensor.Float32 {
		return "", nil, fmt.Errorf("ctc decode: want a float32 tensor")
	}
	sh := probs.Shape
	if len(sh) == 3 && sh[0] == 1 {
		sh = sh[1:]
	}
	if len(sh) != 2 {
		return "", nil, fmt.Errorf("ctc decode: shape %v, want [1, T, C] or [T, C]", probs.Shape)
	}
	steps, classes := sh[0], sh[1]
	if classes != len(dict)+1 {
		return "", nil, fmt.Errorf("ctc decode: %d classes, dictionary has %d entries plus blank", classes, len(dict))
	}
	if steps*classes != len(probs.F32) {
		return "", nil, fmt.Errorf("ctc decode: %d values for shape %v", len(probs.F32), probs.Shape)
	}
	seq := make([]int, steps)
	var b strings.Builder
	prev := 0
	for t := range steps {
		row := probs.F32[t*classes : (t+1)*classes]
		best := 0
		for k, v := range row {
			if v > row[best] {
				best = k
			}
		}
		seq[t] = best
		if best != 0 && best != prev {
			b.WriteString(dict[best-1])
		}
		prev = best
	}
	return b.String(), seq, nil
}
