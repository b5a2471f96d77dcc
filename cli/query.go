package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/provena/provena/api"
	"github.com/provena/provena/app"
)

func init() { commands = append(commands, newQueryCmd) }

func newQueryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Read ledger state from a node",
	}
	cmd.AddCommand(newQueryAccountCmd(), newQuerySupplyCmd(), newQueryTxCmd(), newQueryBlockCmd(), newQueryStatusCmd())
	return cmd
}

func queryCmd(use, short string, args cobra.PositionalArgs, run func(ctx context.Context, f *ledgerFlags, cmd *cobra.Command, args []string) error) (*cobra.Command, *ledgerFlags) {
	f := &ledgerFlags{}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  args,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			return run(ctx, f, cmd, args)
		},
	}
	f.addHome(cmd)
	f.addJSON(cmd)
	f.addNode(cmd)
	return cmd, f
}

type accountOutput struct {
	Account app.AccountJSON `json:"account"`
	Height  int64           `json:"height"`
	Proof   *proofOutput    `json:"proof,omitempty"`
}

type proofOutput struct {
	Verified     bool   `json:"verified"`
	HeaderHeight int64  `json:"header_height"`
	AppHash      string `json:"app_hash"`
	Exists       bool   `json:"exists"`
}

func newQueryAccountCmd() *cobra.Command {
	var prove bool
	cmd, _ := queryCmd("account ADDRESS|KEY", "Show an account's balance, nonce and stake; --prove checks an ICS23 proof against a block header",
		cobra.ExactArgs(1), func(ctx context.Context, f *ledgerFlags, cmd *cobra.Command, args []string) error {
			addr, err := f.resolveAddress(args[0])
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			var out accountOutput
			if prove {
				v, err := c.Verify(ctx, addr)
				if err != nil {
					return fmt.Errorf("proof check FAILED: %w", err)
				}
				out = accountOutput{Account: v.Account, Height: v.Height,
					Proof: &proofOutput{Verified: true, HeaderHeight: v.HeaderHeight, AppHash: v.AppHash, Exists: v.Exists}}
			} else {
				a, h, err := c.AccountState(ctx, addr)
				if err != nil {
					return err
				}
				out = accountOutput{Account: a, Height: h}
			}
			return emit(cmd.OutOrStdout(), f.json, out, func(w io.Writer) {
				a := out.Account
				fmt.Fprintf(w, "account %s at height %d\n", a.Address, out.Height)
				fmt.Fprintf(w, "  balance  %s\n  nonce    %d\n  bonded   %s\n", upv(a.Balance), a.Nonce, upv(a.Bonded))
				for _, u := range a.Unbonding {
					fmt.Fprintf(w, "  unbonding %s, spendable after block %d\n", upv(u.Amount), u.MaturesAt)
				}
				if p := out.Proof; p != nil {
					fmt.Fprintf(w, "proof verified against app hash %s at height %d\n", p.AppHash, p.HeaderHeight)
				}
			})
		})
	cmd.Flags().BoolVar(&prove, "prove", false, "fetch and verify an ICS23 proof of the account against the next block's app hash")
	return cmd
}

func newQuerySupplyCmd() *cobra.Command {
	cmd, _ := queryCmd("supply", "Show where the genesis supply is: circulating, bonded, unbonding, burned",
		cobra.NoArgs, func(ctx context.Context, f *ledgerFlags, cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			s, err := c.Supply(ctx)
			if err != nil {
				return err
			}
			return emit(cmd.OutOrStdout(), f.json, s, func(w io.Writer) {
				var m map[string]any
				json.Unmarshal(s.Supply, &m)
				fmt.Fprintf(w, "supply at height %d\n", s.Height)
				for _, k := range []string{"genesis_supply", "circulating", "bonded", "unbonding", "burned"} {
					if v, ok := m[k].(float64); ok {
						fmt.Fprintf(w, "  %-15s %s\n", k, upv(uint64(v)))
					}
				}
			})
		})
	return cmd
}

func newQueryTxCmd() *cobra.Command {
	cmd, _ := queryCmd("tx HASH", "Show a committed transaction", cobra.ExactArgs(1),
		func(ctx context.Context, f *ledgerFlags, cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			t, err := c.Tx(ctx, args[0])
			if err != nil {
				return err
			}
			return emit(cmd.OutOrStdout(), f.json, t, func(w io.Writer) {
				status := "ok"
				if t.Code != 0 {
					status = fmt.Sprintf("FAILED (code %d): %s", t.Code, t.Log)
				}
				fmt.Fprintf(w, "tx %s in block %d (index %d): %s\n%s\n", t.Hash, t.Height, t.Index, status, indentJSON(t.Tx))
			})
		})
	return cmd
}

func indentJSON(b json.RawMessage) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, _ := json.MarshalIndent(v, "  ", "  ")
	return "  " + string(out)
}

func newQueryBlockCmd() *cobra.Command {
	cmd, _ := queryCmd("block [HEIGHT]", "Show a block header summary (default: the latest)", cobra.MaximumNArgs(1),
		func(ctx context.Context, f *ledgerFlags, cmd *cobra.Command, args []string) error {
			var h int64
			if len(args) == 1 && args[0] != "latest" {
				var err error
				if h, err = strconv.ParseInt(args[0], 10, 64); err != nil || h < 1 {
					return fmt.Errorf("height %q: want a positive integer", args[0])
				}
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			b, err := c.Block(ctx, h)
			if err != nil {
				return err
			}
			return emit(cmd.OutOrStdout(), f.json, b, func(w io.Writer) { printBlock(w, b) })
		})
	return cmd
}

func printBlock(w io.Writer, b api.Block) {
	fmt.Fprintf(w, "block %d  %s  %s\n", b.Height, b.Hash, b.Time.Format(time.RFC3339Nano))
	fmt.Fprintf(w, "  proposer %s\n  app hash %s (state after block %d)\n  txs      %d\n", b.ProposerAddress, b.AppHash, b.Height-1, b.NumTxs)
}

func newQueryStatusCmd() *cobra.Command {
	cmd, _ := queryCmd("status", "Show the node's chain, height and sync state", cobra.NoArgs,
		func(ctx context.Context, f *ledgerFlags, cmd *cobra.Command, args []string) error {
			c, err := f.client()
			if err != nil {
				return err
			}
			s, err := c.Status(ctx)
			if err != nil {
				return err
			}
			return emit(cmd.OutOrStdout(), f.json, s, func(w io.Writer) {
				fmt.Fprintf(w, "chain %s  node %s (%s)\n  height %d  app hash %s  catching up %v\n  validator %s (power %d)  peers %d  mempool %d\n",
					s.ChainID, s.Moniker, s.NodeID, s.LatestHeight, s.LatestAppHash, s.CatchingUp, s.ValidatorAddress, s.VotingPower, s.Peers, s.MempoolTxs)
			})
		})
	return cmd
}
