package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/provena/provena/app"
	"github.com/provena/provena/keys"
	"github.com/provena/provena/node"
)

func init() { commands = append(commands, newInitCmd) }

func newInitCmd() *cobra.Command {
	var (
		f           ledgerFlags
		chainID     string
		blockTimeMs uint64
		ports       node.Ports
	)
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a one-validator home: validator key, node key, genesis, a funded key \"alice\"",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			params := app.DefaultParams()
			if blockTimeMs > 0 {
				params.BlockTimeMs = blockTimeMs
			}
			h, err := node.Init(f.home, node.InitOptions{
				ChainID: chainID,
				Params:  &params,
				Ports:   []node.Ports{ports},
				Keyring: func(home string) (*keys.Keyring, error) {
					return keys.Open(keys.Dir(home), f.keyringBackend, keys.WithPassphrase(passphraseSource(true)))
				},
				LogLevel: "*:error",
			})
			if err != nil {
				return err
			}
			out := initOutput{Home: h.Dir, ChainID: chainID, NodeID: h.NodeID, Validator: h.Validator.String(), Alice: h.Alice.String(),
				API: fmt.Sprintf("http://127.0.0.1:%d", h.Ports.API), RPC: fmt.Sprintf("tcp://127.0.0.1:%d", h.Ports.RPC),
				P2P: fmt.Sprintf("127.0.0.1:%d", h.Ports.P2P), KeyringBackend: f.keyringBackend}
			return emit(cmd.OutOrStdout(), f.json, out, func(w io.Writer) {
				fmt.Fprintf(w, "initialized %s for chain %s\n", h.Dir, chainID)
				fmt.Fprintf(w, "  validator  %s\n  alice      %s (funded with %s, keyring backend %s)\n", h.Validator, h.Alice, upv(node.DefaultAliceBalance), f.keyringBackend)
				fmt.Fprintf(w, "  http api   %s\n  rpc        %s\n  p2p        %s\n", out.API, out.RPC, out.P2P)
				fmt.Fprintf(w, "start it with: provena start --home %s\n", h.Dir)
			})
		},
	}
	f.addHome(cmd)
	f.addJSON(cmd)
	f.addKeyring(cmd)
	cmd.Flags().StringVar(&chainID, "chain-id", "provena-local", "chain id")
	cmd.Flags().Uint64Var(&blockTimeMs, "block-time-ms", 0, "target block time in ms (default: the genesis default)")
	cmd.Flags().IntVar(&ports.P2P, "p2p-port", node.DefaultPorts.P2P, "p2p port on 127.0.0.1")
	cmd.Flags().IntVar(&ports.RPC, "rpc-port", node.DefaultPorts.RPC, "CometBFT RPC port on 127.0.0.1")
	cmd.Flags().IntVar(&ports.API, "api-port", node.DefaultPorts.API, "HTTP API port on 127.0.0.1")
	return cmd
}

type initOutput struct {
	Home           string `json:"home"`
	ChainID        string `json:"chain_id"`
	NodeID         string `json:"node_id"`
	Validator      string `json:"validator_address"`
	Alice          string `json:"alice_address"`
	API            string `json:"api"`
	RPC            string `json:"rpc"`
	P2P            string `json:"p2p"`
	KeyringBackend string `json:"keyring_backend"`
}
