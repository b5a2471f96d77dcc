package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/provena/provena/node"
)

func init() { commands = append(commands, newStartCmd) }

func newStartCmd() *cobra.Command {
	var (
		f        ledgerFlags
		logLevel string
		api      string
	)
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Run the node of a home (CometBFT in-process plus the HTTP API) until SIGINT/SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			n, err := node.Start(ctx, f.home, node.StartOptions{LogLevel: logLevel, APIListen: api})
			if err != nil {
				return err
			}
			st, err := n.Client.Status(ctx)
			if err != nil {
				n.Stop()
				return fmt.Errorf("read status: %w", err)
			}
			out := startOutput{Home: f.home, ChainID: st.NodeInfo.Network, NodeID: string(st.NodeInfo.DefaultNodeID),
				API: "http://" + n.APIAddr, RPC: n.RPCAddr, Height: st.SyncInfo.LatestBlockHeight}
			// One line, so scripts and tests can wait for it.
			if f.json {
				b, err := json.Marshal(out)
				if err != nil {
					n.Stop()
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), string(b))
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "node started: chain %s, height %d, api %s, rpc %s (Ctrl-C to stop)\n", out.ChainID, out.Height, out.API, out.RPC)
			}
			select {
			case <-ctx.Done():
			case <-n.Comet.Quit():
			}
			fmt.Fprintln(os.Stderr, "stopping node…")
			if err := n.Stop(); err != nil {
				return err
			}
			fmt.Fprintln(os.Stderr, "node stopped")
			return nil
		},
	}
	f.addHome(cmd)
	f.addJSON(cmd)
	cmd.Flags().StringVar(&logLevel, "log-level", "", "CometBFT log level, e.g. info or *:error (default: the home's setting)")
	cmd.Flags().StringVar(&api, "api-listen", "", "HTTP API host:port (default: the home's setting)")
	return cmd
}

type startOutput struct {
	Home    string `json:"home"`
	ChainID string `json:"chain_id"`
	NodeID  string `json:"node_id"`
	API     string `json:"api"`
	RPC     string `json:"rpc"`
	Height  int64  `json:"height"`
}
