package cli

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/provena/provena/api"
	"github.com/provena/provena/app"
	"github.com/provena/provena/client"
	"github.com/provena/provena/keys"
	"github.com/provena/provena/node"
	"github.com/provena/provena/tx"
)

func init() { commands = append(commands, newDemoCmd) }

// demoStep is one thing that happened in the demo.
type demoStep struct {
	Action string `json:"action"`
	Hash   string `json:"hash,omitempty"`
	Height int64  `json:"height,omitempty"`
	Code   uint32 `json:"code"`
	Log    string `json:"log,omitempty"`
}

type demoOutput struct {
	Home     string                     `json:"home"`
	ChainID  string                     `json:"chain_id"`
	Steps    []demoStep                 `json:"steps"`
	Accounts map[string]app.AccountJSON `json:"accounts"`
	Supply   json.RawMessage            `json:"supply"`
	Proof    client.VerifiedAccount     `json:"proof"`
	// Opml is the optimistic-inference part: an honest job and a cheating
	// worker caught, on the same node.
	Opml *demoOpml `json:"opml"`
	// Modes is the same model in each verification mode (demo_modes.go).
	Modes *demoModes `json:"modes"`
}

func newDemoCmd() *cobra.Command {
	var (
		asJSON bool
		keep   bool
		zkPath string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a one-validator chain in a temporary home and walk through transfers, staking, a proof and opML jobs (one honest, one cheater caught)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			w := cmd.OutOrStdout()
			if asJSON {
				w = io.Discard
			}
			demoZkArtifact = zkPath
			out, err := runDemo(cmd.Context(), w, keep)
			if err != nil {
				return err
			}
			if asJSON {
				return emit(cmd.OutOrStdout(), true, out, nil)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print only a JSON record of what happened")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary home instead of deleting it")
	cmd.Flags().StringVar(&zkPath, "zk", "", "a quantized model's .zk artifact (provena zk setup): the three-mode part then runs that model, zk included")
	return cmd
}

func runDemo(parent context.Context, w io.Writer, keep bool) (out demoOutput, err error) {
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithTimeout(parent, 2*time.Minute)
	defer cancel()
	home, err := os.MkdirTemp("", "provena-demo-")
	if err != nil {
		return out, err
	}
	if !keep {
		defer os.RemoveAll(home)
	}
	ports, err := node.FreePorts(1)
	if err != nil {
		return out, err
	}
	params := app.DefaultParams()
	params.BlockTimeMs = 200
	params.UnbondingBlocks = 5
	const chainID = "provena-demo"
	h, err := node.Init(home, node.InitOptions{ChainID: chainID, Params: &params, Ports: ports})
	if err != nil {
		return out, err
	}
	if err := demoTrustSimRoot(home); err != nil {
		return out, err
	}
	out = demoOutput{Home: home, ChainID: chainID, Accounts: map[string]app.AccountJSON{}}
	fmt.Fprintf(w, "Provena demo: one validator, chain %s, block time %d ms, unbonding delay %d blocks\n", chainID, params.BlockTimeMs, params.UnbondingBlocks)
	fmt.Fprintf(w, "home %s (test keyring: keys are stored unencrypted)\n\n", home)

	n, err := node.Start(ctx, home, node.StartOptions{LogWriter: io.Discard})
	if err != nil {
		return out, err
	}
	defer func() {
		if stopErr := n.Stop(); err == nil {
			err = stopErr
		}
	}()
	c := client.New(n.APIAddr)
	if _, err := c.WaitHeight(ctx, 2); err != nil {
		return out, err
	}

	kr, err := keys.Open(keys.Dir(home), keys.BackendTest)
	if err != nil {
		return out, err
	}
	privs := map[string]ed25519.PrivateKey{}
	addrs := map[string]tx.Address{"alice": h.Alice, "validator": h.Validator}
	for _, name := range []string{"alice", "bob", "carol"} {
		if name != "alice" {
			k, err := kr.Add(name)
			if err != nil {
				return out, err
			}
			addrs[name] = k.Address
		}
		if privs[name], err = kr.PrivateKey(name); err != nil {
			return out, err
		}
	}
	fmt.Fprintf(w, "alice %s holds the genesis allocation; bob %s and carol %s are new keys\n\n", addrs["alice"], addrs["bob"], addrs["carol"])

	step := func(who, action string, msg tx.Msg) error {
		s, err := c.Send(ctx, privs[who], params.MinFee, msg, true)
		st := demoStep{Action: action, Hash: s.Hash}
		if s.Committed != nil {
			st.Height, st.Code, st.Log = s.Committed.Height, s.Committed.Code, s.Committed.Log
		}
		out.Steps = append(out.Steps, st)
		if err != nil {
			return fmt.Errorf("%s: %w", action, err)
		}
		fmt.Fprintf(w, "block %-4d %-42s tx %s  fee %s\n", st.Height, action, short(st.Hash), upv(params.MinFee))
		return nil
	}
	steps := []struct {
		who, action string
		msg         tx.Msg
	}{
		{"alice", "alice sends bob 5,000,000 upv", tx.MsgTransfer{To: addrs["bob"], Amount: 5_000_000}},
		{"alice", "alice sends carol 2,000,000 upv", tx.MsgTransfer{To: addrs["carol"], Amount: 2_000_000}},
		{"bob", "bob sends carol 750,000 upv", tx.MsgTransfer{To: addrs["carol"], Amount: 750_000}},
		{"carol", "carol bonds 1,000,000 upv as worker stake", tx.MsgBond{Amount: 1_000_000}},
		{"carol", "carol starts unbonding 400,000 upv", tx.MsgUnbond{Amount: 400_000}},
	}
	for _, s := range steps {
		if err := step(s.who, s.action, s.msg); err != nil {
			return out, err
		}
	}

	// A replay of bob's transfer with his old nonce is refused.
	replay, err := tx.Sign(privs["bob"], chainID, 0, params.MinFee, tx.MsgTransfer{To: addrs["carol"], Amount: 750_001})
	if err != nil {
		return out, err
	}
	_, rerr := c.Broadcast(ctx, replay, "sync")
	var apiErr *api.Error
	if !errors.As(rerr, &apiErr) {
		return out, fmt.Errorf("replayed nonce was not refused: %v", rerr)
	}
	out.Steps = append(out.Steps, demoStep{Action: "bob replays nonce 0", Hash: apiErr.Hash, Code: apiErr.ABCICode, Log: apiErr.Message})
	fmt.Fprintf(w, "refused    bob replays nonce 0: %s (code %d, %s)\n", apiErr.Message, apiErr.ABCICode, app.CodeName(apiErr.ABCICode))

	fmt.Fprintln(w, "\naccounts:")
	for _, name := range []string{"alice", "bob", "carol", "validator"} {
		a, hgt, err := c.AccountState(ctx, addrs[name])
		if err != nil {
			return out, err
		}
		out.Accounts[name] = a
		line := fmt.Sprintf("  %-9s balance %-26s nonce %d", name, upv(a.Balance), a.Nonce)
		if a.Bonded > 0 {
			line += "  bonded " + upv(a.Bonded)
		}
		for _, u := range a.Unbonding {
			line += fmt.Sprintf("  unbonding %s until block %d", upv(u.Amount), u.MaturesAt)
		}
		if name == "validator" {
			line += "  (receives half of each fee as block proposer)"
		}
		fmt.Fprintf(w, "%s   [height %d]\n", line, hgt)
	}
	s, err := c.Supply(ctx)
	if err != nil {
		return out, err
	}
	out.Supply = s.Supply
	var sup map[string]uint64
	if err := json.Unmarshal(s.Supply, &sup); err != nil {
		return out, fmt.Errorf("decode supply: %w", err)
	}
	fmt.Fprintf(w, "\nsupply: genesis %s = circulating %s + bonded %s + unbonding %s + burned %s (half of every fee)\n",
		upv(sup["genesis_supply"]), upv(sup["circulating"]), upv(sup["bonded"]), upv(sup["unbonding"]), upv(sup["burned"]))

	v, err := c.Verify(ctx, addrs["carol"])
	if err != nil {
		return out, fmt.Errorf("verify carol's account: %w", err)
	}
	out.Proof = v
	fmt.Fprintf(w, "\ncarol's account proven by ICS23 (IAVL) proof: state after block %d, proof verified against app hash %s at height %d\n",
		v.Height, v.AppHash, v.HeaderHeight)
	rpc := strings.TrimRight(strings.Replace(n.RPCAddr, "tcp://", "http://", 1), "/")
	if !strings.Contains(rpc, "://") {
		rpc = "http://" + rpc
	}
	denv := &demoEnv{c: c, rpc: rpc, home: home, kr: kr, privs: privs, addrs: addrs, fee: params.MinFee, w: w}
	out.Opml, err = runDemoOpml(ctx, denv)
	if err != nil {
		return out, fmt.Errorf("opML demo: %w", err)
	}
	if out.Modes, err = runDemoModes(ctx, denv); err != nil {
		return out, fmt.Errorf("modes demo: %w", err)
	}
	if keep {
		fmt.Fprintf(w, "home kept at %s; restart with: provena start --home %s\n", home, home)
	}
	return out, nil
}
