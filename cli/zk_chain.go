package cli

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/consensys/gnark/logger"
	"github.com/spf13/cobra"

	"github.com/provena/provena/model"
	"github.com/provena/provena/tx"
	"github.com/provena/provena/worker"
	"github.com/provena/provena/zk"
)

// `provena zk register`: the on-chain half of zkML. It joins the zk
// command of cli/zk.go when that exists, or stands as its own zk command.
func init() {
	found := false
	for i, c := range commands {
		c := c
		commands[i] = func() *cobra.Command {
			cmd := c()
			if cmd.Name() == "zk" {
				cmd.AddCommand(newZkRegisterCmd())
			}
			return cmd
		}
		found = found || c().Name() == "zk"
	}
	if !found {
		commands = append(commands, func() *cobra.Command {
			cmd := &cobra.Command{Use: "zk", Short: "Zero-knowledge verified inference on chain (see docs/opml.md, Job modes)"}
			cmd.AddCommand(newZkRegisterCmd())
			return cmd
		})
	}
}

func newZkRegisterCmd() *cobra.Command {
	f := &dataFlags{}
	var (
		modelID, system, vkPath, weights, prover, proverKey string
	)
	cmd := &cobra.Command{
		Use:   "register [m.zk] --model ID --from OWNER [--prover ADDR --prover-key age1…]",
		Short: "Register a model's circuit on chain: proof system, verifying key, weights commitment and the prover that holds the artifact",
		Long: `Register the circuit of a registered model (only its owner may): the proof
system (groth16: chain jobs commit to the weights inside the proof), the
verifying key (the chain checks that it decodes), the commitment to the
integer weights (the Pedersen point every proof carries, 128 hex characters),
and the prover: the worker account that holds the
artifact and serves zk jobs (default: the owner, whose account key also
gives the age key inputs are sealed to). The values come from the artifact
m.zk, or from --system, --vk and --weights-commit.`,
		Args: cobra.MaximumNArgs(1),
		RunE: dataRun(f, true, func(ctx context.Context, e *dataEnv, cmd *cobra.Command, args []string) error {
			id, err := tx.ParseTeeModelID(modelID)
			if err != nil {
				return fmt.Errorf("--model: %w", err)
			}
			msg := tx.MsgZkRegister{ModelID: tx.DataHash(id), System: system, Prover: e.me, ProverKey: e.id.Recipient().String()}
			switch {
			case len(args) == 1:
				if vkPath != "" || weights != "" {
					return fmt.Errorf("give the artifact or --vk and --weights-commit, not both")
				}
				a, err := zkArtifactRegistration(args[0])
				if err != nil {
					return err
				}
				if a.ModelID != modelID {
					return fmt.Errorf("%s is the artifact of model %s, not of --model %s", args[0], a.ModelID, modelID)
				}
				msg.System, msg.VerifyingKey, msg.WeightsCommit = a.System, a.VerifyingKey, a.WeightsCommit
			case vkPath != "" && weights != "":
				if msg.VerifyingKey, err = os.ReadFile(vkPath); err != nil {
					return fmt.Errorf("read verifying key: %w", err)
				}
				b, err := hex.DecodeString(weights)
				if err != nil {
					return fmt.Errorf("--weights-commit: %w", err)
				}
				p, err := zk.ParseG1Bytes(b)
				if err != nil {
					return fmt.Errorf("--weights-commit: %w", err)
				}
				msg.WeightsCommit = p.Bytes()
			default:
				return fmt.Errorf("give the artifact m.zk, or --vk FILE and --weights-commit HEX")
			}
			if err := zk.DecodeVerifyingKey(msg.System, msg.VerifyingKey); err != nil {
				return fmt.Errorf("the chain would refuse this key: %w", err)
			}
			if prover != "" {
				if msg.Prover, err = tx.ParseAddress(prover); err != nil {
					return fmt.Errorf("--prover: %w", err)
				}
				if proverKey == "" {
					return fmt.Errorf("--prover needs --prover-key (the prover's age recipient, from `provena tee binding --from PROVER` or its data key)")
				}
			}
			if proverKey != "" {
				msg.ProverKey = proverKey
			}
			if err := msg.ValidateBasic(); err != nil {
				return err
			}
			s, err := e.send(ctx, msg)
			if err != nil {
				return err
			}
			wc := hex.EncodeToString(msg.WeightsCommit)
			out := map[string]any{"model_id": modelID, "system": msg.System, "vk_bytes": len(msg.VerifyingKey), "weights_commit": wc, "prover": msg.Prover.String(), "tx": s.Hash}
			return printOut(cmd, f.json, out, fmt.Sprintf("registered a %s circuit for model %s (verifying key %d bytes, weights commitment %s…), prover %s, in tx %s\n",
				msg.System, modelID, len(msg.VerifyingKey), wc[:16], msg.Prover, s.Hash))
		}),
	}
	f.add(cmd, true)
	cmd.Flags().StringVar(&modelID, "model", "", "registered model id (hex)")
	cmd.Flags().StringVar(&system, "system", "groth16", "proof system, with --vk (the chain accepts groth16)")
	cmd.Flags().StringVar(&vkPath, "vk", "", "verifying key file (instead of the artifact)")
	cmd.Flags().StringVar(&weights, "weights-commit", "", "weights commitment, a G1 point in hex, 128 characters uncompressed or 64 compressed (instead of the artifact)")
	cmd.Flags().StringVar(&prover, "prover", "", "the worker that holds the artifact (default: the owner)")
	cmd.Flags().StringVar(&proverKey, "prover-key", "", "the prover's age recipient, inputs are sealed to it (default: the owner's account key)")
	cmd.MarkFlagRequired("model")
	return cmd
}

// zkRegistration is what an artifact gives the chain.
type zkRegistration struct {
	System        string
	VerifyingKey  []byte
	WeightsCommit []byte
	ModelID       string
}

// openChainArtifact opens a .zk artifact and checks it can serve chain
// jobs: the chain's visibility (input hashed, weights committed, output
// public).
func openChainArtifact(path string) (*zk.Artifact, error) {
	// gnark logs every solve, prove and verify at debug level; the worker
	// and the demo print their own lines.
	logger.Disable()
	a, err := zk.Open(path)
	if err != nil {
		return nil, err
	}
	if a.Vis != zk.ChainVisibility {
		return nil, fmt.Errorf("%s: visibility %s; chain jobs need %s (zk setup --visibility %s)", path, a.Vis, zk.ChainVisibility, zk.ChainVisibility)
	}
	return a, nil
}

// zkArtifactRegistration reads a .zk artifact's system, verifying key and
// weights commitment.
func zkArtifactRegistration(path string) (*zkRegistration, error) {
	a, err := openChainArtifact(path)
	if err != nil {
		return nil, err
	}
	return &zkRegistration{System: a.System, VerifyingKey: a.VK, WeightsCommit: a.WeightsPoint.Bytes(), ModelID: a.Model.IDString()}, nil
}

// openZkProver opens a .zk artifact as a worker's prover.
func openZkProver(path string) (worker.Prover, error) {
	a, err := openProvingArtifact(path)
	if err != nil {
		return nil, err
	}
	return worker.ArtifactProver{A: a}, nil
}

// openProvingArtifact is openChainArtifact with the proving key decoded
// now (seconds for the MNIST models), not inside the first job's result
// window.
func openProvingArtifact(path string) (*zk.Artifact, error) {
	a, err := openChainArtifact(path)
	if err != nil {
		return nil, err
	}
	if _, err := a.Prover(); err != nil {
		return nil, fmt.Errorf("%s: proving key: %w", path, err)
	}
	return a, nil
}

// zkSetupFor opens a .zk artifact for model m as ModesDemo's zk setup.
func zkSetupFor(path string, m *model.Model) (*worker.ZkSetup, error) {
	a, err := openProvingArtifact(path)
	if err != nil {
		return nil, err
	}
	if a.Model.ID() != m.ID() {
		return nil, fmt.Errorf("%s is the artifact of model %s, not of %s", path, a.Model.IDString(), m.IDString())
	}
	return worker.ZkSetupOf(a)
}
