package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/provena/provena/app"
	"github.com/provena/provena/keys"
	"github.com/provena/provena/node"
)

func init() { commands = append(commands, newTestnetCmd) }

func newTestnetCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "testnet",
		Short: "Local multi-validator networks on 127.0.0.1",
	}
	cmd.AddCommand(newTestnetInitCmd())
	return cmd
}

func newTestnetInitCmd() *cobra.Command {
	var (
		f           ledgerFlags
		dir         string
		n           int
		chainID     string
		basePort    int
		blockTimeMs uint64
	)
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write DIR/node0 … node{N-1}: one shared genesis, every node a validator, peers wired",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			params := app.DefaultParams()
			if blockTimeMs > 0 {
				params.BlockTimeMs = blockTimeMs
			}
			homes, err := node.Testnet(dir, n, node.InitOptions{
				ChainID:  chainID,
				Params:   &params,
				BasePort: basePort,
				Keyring: func(home string) (*keys.Keyring, error) {
					return keys.Open(keys.Dir(home), f.keyringBackend, keys.WithPassphrase(passphraseSource(false)))
				},
			})
			if err != nil {
				return err
			}
			return emit(cmd.OutOrStdout(), f.json, homes, func(w io.Writer) {
				fmt.Fprintf(w, "testnet %s: %d validators in %s\n", chainID, n, dir)
				for _, h := range homes {
					fmt.Fprintf(w, "  %s  p2p %d  rpc %d  api %d  validator %s  alice %s\n", h.Moniker, h.Ports.P2P, h.Ports.RPC, h.Ports.API, h.Validator, h.Alice)
				}
				fmt.Fprintf(w, "start each node in its own terminal: provena start --home %s/node0  (…node%d)\n", dir, n-1)
			})
		},
	}
	f.addJSON(cmd)
	cmd.Flags().StringVar(&f.keyringBackend, "keyring-backend", keys.BackendTest, "keyring backend of the nodes' alice keys (test: plaintext)")
	cmd.Flags().StringVar(&dir, "dir", "./net", "output directory")
	cmd.Flags().IntVar(&n, "validators", 4, "number of validators")
	cmd.Flags().StringVar(&chainID, "chain-id", "provena-testnet", "chain id")
	cmd.Flags().IntVar(&basePort, "base-port", 26600, "node i uses ports base+10i (p2p), +1 (rpc), +2 (api)")
	cmd.Flags().Uint64Var(&blockTimeMs, "block-time-ms", 0, "target block time in ms (default: the genesis default)")
	return cmd
}
