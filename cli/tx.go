package cli

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/provena/provena/tx"
)

func init() { commands = append(commands, newTxCmd) }

func newTxCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tx",
		Short: "Sign and broadcast transactions (the nonce is read from the node)",
	}
	cmd.AddCommand(
		newTxMsgCmd("send", "Transfer tokens to an address or a key name", true,
			func(to tx.Address, amount uint64) tx.Msg { return tx.MsgTransfer{To: to, Amount: amount} }),
		newTxMsgCmd("bond", "Lock balance as worker stake", false,
			func(_ tx.Address, amount uint64) tx.Msg { return tx.MsgBond{Amount: amount} }),
		newTxMsgCmd("unbond", "Start unbonding stake (spendable after the unbonding delay)", false,
			func(_ tx.Address, amount uint64) tx.Msg { return tx.MsgUnbond{Amount: amount} }),
	)
	return cmd
}

type txOutput struct {
	From   string `json:"from"`
	Type   string `json:"type"`
	Hash   string `json:"hash"`
	Nonce  uint64 `json:"nonce"`
	Fee    uint64 `json:"fee"`
	Height int64  `json:"height,omitempty"`
	Code   uint32 `json:"code"`
	Log    string `json:"log,omitempty"`
}

func newTxMsgCmd(use, short string, hasTo bool, build func(tx.Address, uint64) tx.Msg) *cobra.Command {
	var (
		f       ledgerFlags
		from    string
		to      string
		amount  uint64
		fee     uint64
		wait    bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if amount == 0 {
				return errors.New("--amount must be positive")
			}
			var toAddr tx.Address
			if hasTo {
				var err error
				if toAddr, err = f.resolveAddress(to); err != nil {
					return err
				}
			}
			kr, err := f.keyring(false)
			if err != nil {
				return err
			}
			priv, err := kr.PrivateKey(from)
			if err != nil {
				return err
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if !cmd.Flags().Changed("fee") {
				p, err := c.Params(ctx)
				if err != nil {
					return fmt.Errorf("read the minimum fee: %w", err)
				}
				fee = p.MinFee
			}
			msg := build(toAddr, amount)
			sent, sendErr := c.Send(ctx, priv, fee, msg, wait)
			if sendErr != nil && sent.Hash == "" {
				return sendErr
			}
			out := txOutput{From: tx.AddressFromPubKey(priv.Public().(ed25519.PublicKey)).String(), Type: tx.MsgName(msg.Type()), Hash: sent.Hash, Nonce: sent.Nonce, Fee: fee}
			if sent.Committed != nil {
				out.Height, out.Code, out.Log = sent.Committed.Height, sent.Committed.Code, sent.Committed.Log
			}
			if err := emit(cmd.OutOrStdout(), f.json, out, func(w io.Writer) {
				fmt.Fprintf(w, "%s from %s: tx %s (nonce %d, fee %s)\n", out.Type, from, out.Hash, out.Nonce, upv(fee))
				switch {
				case sent.Committed == nil:
					fmt.Fprintln(w, "accepted into the mempool (use --wait to wait for the block)")
				case out.Code == 0:
					fmt.Fprintf(w, "committed in block %d\n", out.Height)
				default:
					fmt.Fprintf(w, "FAILED in block %d (code %d): %s\n", out.Height, out.Code, out.Log)
				}
			}); err != nil {
				return err
			}
			return sendErr
		},
	}
	f.addHome(cmd)
	f.addJSON(cmd)
	f.addNode(cmd)
	f.addKeyring(cmd)
	cmd.Flags().StringVar(&from, "from", "", "name of the signing key in the keyring")
	cmd.MarkFlagRequired("from")
	if hasTo {
		cmd.Flags().StringVar(&to, "to", "", "recipient address (pv…) or key name")
		cmd.MarkFlagRequired("to")
	}
	cmd.Flags().Uint64Var(&amount, "amount", 0, "amount in upv")
	cmd.MarkFlagRequired("amount")
	cmd.Flags().Uint64Var(&fee, "fee", 0, "fee in upv (default: the chain's min_fee)")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the transaction is in a committed block")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Minute, "give up after this long")
	return cmd
}
