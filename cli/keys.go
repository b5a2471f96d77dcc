package cli

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/provena/provena/keys"
)

func init() { commands = append(commands, newKeysCmd) }

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage the account keys in a home's keyring",
	}
	cmd.AddCommand(newKeysAddCmd(), newKeysListCmd(), newKeysShowCmd())
	return cmd
}

func warnPlaintext(k keys.Key) {
	if k.Backend == keys.BackendTest {
		fmt.Fprintf(os.Stderr, "warning: key %s is stored UNENCRYPTED (keyring backend test); use it for tests only\n", k.Name)
	}
}

func newKeysAddCmd() *cobra.Command {
	var f ledgerFlags
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Create a new ed25519 account key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kr, err := f.keyring(true)
			if err != nil {
				return err
			}
			k, err := kr.Add(args[0])
			if err != nil {
				return err
			}
			warnPlaintext(k)
			return emit(cmd.OutOrStdout(), f.json, k, func(w io.Writer) {
				fmt.Fprintf(w, "created key %s (%s backend)\naddress: %s\n", k.Name, k.Backend, k.Address)
			})
		},
	}
	f.addHome(cmd)
	f.addJSON(cmd)
	f.addKeyring(cmd)
	return cmd
}

func newKeysListCmd() *cobra.Command {
	var f ledgerFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the keys in the keyring",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			kr, err := keys.Open(keys.Dir(f.home), keys.BackendTest)
			if err != nil {
				return err
			}
			list, err := kr.List()
			if err != nil {
				return err
			}
			if list == nil {
				list = []keys.Key{}
			}
			return emit(cmd.OutOrStdout(), f.json, list, func(w io.Writer) {
				if len(list) == 0 {
					fmt.Fprintf(w, "no keys in %s\n", keys.Dir(f.home))
					return
				}
				tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tADDRESS\tBACKEND")
				for _, k := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Name, k.Address, k.Backend)
				}
				tw.Flush()
			})
		},
	}
	f.addHome(cmd)
	f.addJSON(cmd)
	return cmd
}

func newKeysShowCmd() *cobra.Command {
	var f ledgerFlags
	var addressOnly bool
	cmd := &cobra.Command{
		Use:     "show NAME",
		Aliases: []string{"export-address"},
		Short:   "Show a key's address and public key (never the private key)",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kr, err := keys.Open(keys.Dir(f.home), keys.BackendTest)
			if err != nil {
				return err
			}
			k, err := kr.Show(args[0])
			if err != nil {
				return err
			}
			if addressOnly || cmd.CalledAs() == "export-address" {
				_, err := fmt.Fprintln(cmd.OutOrStdout(), k.Address)
				return err
			}
			return emit(cmd.OutOrStdout(), f.json, k, func(w io.Writer) {
				fmt.Fprintf(w, "name:    %s\naddress: %s\npubkey:  %x\nbackend: %s\n", k.Name, k.Address, []byte(k.PubKey), k.Backend)
			})
		},
	}
	f.addHome(cmd)
	f.addJSON(cmd)
	cmd.Flags().BoolVar(&addressOnly, "address", false, "print only the address")
	return cmd
}
