// Package cli assembles the provena command line. Each concern registers its
// commands from its own file; the domain packages never import this one.
package cli

import (
	"github.com/spf13/cobra"
)

// commands and benchCommands are filled from init functions in this package's
// files, one file per concern, so that adding a command is a local change.
var (
	commands      []func() *cobra.Command
	benchCommands []func() *cobra.Command
)

// NewRootCmd builds the provena command tree.
func NewRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "provena",
		Short:         "Provena: an open ledger for verified AI, open data and sustainable compute",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	for _, c := range commands {
		root.AddCommand(c())
	}
	bench := &cobra.Command{
		Use:   "bench",
		Short: "Measure Provena against its references and print ratios",
	}
	for _, c := range benchCommands {
		bench.AddCommand(c())
	}
	root.AddCommand(bench)
	return root
}
