package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/provena/provena/opmlstore"
	"github.com/provena/provena/tee"
	"github.com/provena/provena/worker"
)

// Sealed implements worker.SealedStore: the ciphertext from the local
// store, the node or --peers, checked against its SHA-256.
func (c *nodeClient) Sealed(h [32]byte) ([]byte, error) { return c.fetch.Sealed(c.ctx, h) }

// PutSealed implements worker.SealedStore: a sealed output goes to the
// node, where the requester fetches it.
func (c *nodeClient) PutSealed(b []byte) ([32]byte, error) {
	return opmlstore.UploadSealed(c.ctx, http.DefaultClient, c.e.c.Base(), b)
}

var _ worker.SealedStore = (*nodeClient)(nil)

// privateFlags are worker start's private-mode flags.
type privateFlags struct {
	tee, model, simulate, quote, vcek string
	zk                                []string
}

func (p *privateFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.tee, "tee", "", "serve tee jobs as an enclave of this kind: sim (SIMULATED, keys derived from the account key), tdx, sev-snp or nitro")
	cmd.Flags().StringVar(&p.model, "model", "", "with --tee: post this worker's attestation for this model id first")
	cmd.Flags().StringVar(&p.simulate, "simulate", "", "with --tee sim --model: a SIMULATED quote for the measurement of this build label")
	cmd.Flags().StringVar(&p.quote, "quote", "", "with --tee KIND --model: the enclave's quote file")
	cmd.Flags().StringVar(&p.vcek, "vcek", "", "with --tee sev-snp: the VCEK certificate, DER")
	cmd.Flags().StringSliceVar(&p.zk, "zk", nil, "serve zk jobs with this .zk artifact (repeatable); the account must be the prover zk register named")
}

// setup gives the worker its private-mode keys and provers, and posts the
// attestation when asked.
func (p *privateFlags) setup(ctx context.Context, cmd *cobra.Command, e *dataEnv, w *worker.Worker) error {
	if p.tee == "" && len(p.zk) == 0 {
		if p.model != "" || p.simulate != "" || p.quote != "" {
			return fmt.Errorf("--model, --simulate and --quote need --tee")
		}
		return nil
	}
	if p.tee != "" {
		known := false
		for _, k := range tee.Kinds {
			known = known || k == p.tee
		}
		if !known {
			return fmt.Errorf("--tee %q: want one of %v", p.tee, tee.Kinds)
		}
		if p.tee != tee.KindSim && p.simulate != "" {
			return fmt.Errorf("--simulate needs --tee sim")
		}
	}
	// A simulated enclave's keys are derived from the account key; a real
	// one would generate them inside and bind them in its quote, which is
	// what the chain checks; either way they are the account's here.
	keys, err := worker.SimulatedKeys(e.priv)
	if err != nil {
		return err
	}
	var provers []worker.Prover
	for _, path := range p.zk {
		pr, err := openZkProver(path)
		if err != nil {
			return err
		}
		provers = append(provers, pr)
		fmt.Fprintf(cmd.ErrOrStderr(), "worker %s: proving zk jobs of model %x (%s)\n", e.me, pr.ModelID(), pr.System())
	}
	w.SetPrivate(keys, provers...)
	if p.tee != "" && p.model != "" {
		kind := p.tee
		if kind == tee.KindSim {
			kind = ""
		}
		msg, note, s, err := teeRegister(ctx, e, p.model, kind, p.quote, p.vcek, p.simulate)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "%sworker %s: %s attestation for model %s registered in tx %s\n", note, e.me, msg.Kind, p.model, s.Hash)
	}
	if p.tee == tee.KindSim {
		fmt.Fprintf(cmd.ErrOrStderr(), "worker %s: serving tee jobs as a SIMULATED enclave (no TEE hardware), inputs sealed to %s\n", e.me, keys.Identity.Recipient())
	}
	return nil
}
