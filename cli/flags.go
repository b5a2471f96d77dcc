package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/provena/provena/client"
	"github.com/provena/provena/keys"
	"github.com/provena/provena/node"
	"github.com/provena/provena/tx"
)

// HomeEnv overrides the default home directory.
const HomeEnv = "PROVENA_HOME"

func defaultHome() string {
	if h := os.Getenv(HomeEnv); h != "" {
		return h
	}
	if u, err := os.UserHomeDir(); err == nil {
		return filepath.Join(u, ".provena")
	}
	return ".provena"
}

// ledgerFlags are the flags shared by the ledger commands.
type ledgerFlags struct {
	home           string
	json           bool
	node           string
	keyringBackend string
}

func (f *ledgerFlags) addHome(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.home, "home", defaultHome(), "node home directory (env "+HomeEnv+")")
}

func (f *ledgerFlags) addJSON(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.json, "json", false, "print machine-readable JSON")
}

func (f *ledgerFlags) addNode(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.node, "node", "", "HTTP API URL of the node (default: the API address in the home's config)")
}

func (f *ledgerFlags) addKeyring(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.keyringBackend, "keyring-backend", keys.BackendFile,
		"keyring backend: file (encrypted, passphrase from env "+keys.PassphraseEnv+" or a prompt) or test (plaintext)")
}

// client returns the API client of --node, or of the home's node.
func (f *ledgerFlags) client() (*client.Client, error) {
	if f.node != "" {
		return client.New(f.node), nil
	}
	s, err := node.LoadSettings(f.home)
	if err != nil {
		return nil, fmt.Errorf("find the node's API (or pass --node URL): %w", err)
	}
	return client.New(s.APIListen), nil
}

// keyring opens the home's keyring. confirm asks for the passphrase twice,
// for commands that encrypt a new key.
func (f *ledgerFlags) keyring(confirm bool) (*keys.Keyring, error) {
	return keys.Open(keys.Dir(f.home), f.keyringBackend, keys.WithPassphrase(passphraseSource(confirm)))
}

// passphraseSource reads the keyring passphrase from the environment, else
// from the terminal without echo. It never prints the passphrase.
func passphraseSource(confirm bool) func() (string, error) {
	var cached string
	return func() (string, error) {
		if cached != "" {
			return cached, nil
		}
		if p, ok := os.LookupEnv(keys.PassphraseEnv); ok {
			cached = p
			return p, nil
		}
		fd := int(os.Stdin.Fd())
		if !term.IsTerminal(fd) {
			return "", fmt.Errorf("no passphrase: set %s or run in a terminal", keys.PassphraseEnv)
		}
		fmt.Fprint(os.Stderr, "Keyring passphrase: ")
		p, err := term.ReadPassword(fd)
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return "", err
		}
		if confirm {
			fmt.Fprint(os.Stderr, "Repeat passphrase: ")
			q, err := term.ReadPassword(fd)
			fmt.Fprintln(os.Stderr)
			if err != nil {
				return "", err
			}
			if string(q) != string(p) {
				return "", errors.New("passphrases do not match")
			}
		}
		cached = string(p)
		return cached, nil
	}
}

// resolveAddress accepts an address or the name of a key in the keyring.
func (f *ledgerFlags) resolveAddress(s string) (tx.Address, error) {
	if strings.HasPrefix(s, tx.AddressPrefix) && len(s) == len(tx.AddressPrefix)+2*tx.AddressLen {
		return tx.ParseAddress(s)
	}
	kr, err := keys.Open(keys.Dir(f.home), keys.BackendTest)
	if err != nil {
		return tx.Address{}, err
	}
	k, err := kr.Show(s)
	if err != nil {
		return tx.Address{}, fmt.Errorf("%q is neither an address (pv + 40 hex) nor a key name in %s: %w", s, keys.Dir(f.home), err)
	}
	return k.Address, nil
}
