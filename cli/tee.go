package cli

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/provena/provena/tee"
)

func init() { commands = append(commands, newTeeCmd) }

func newTeeCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "tee",
		Short: "Enclave attestations (teeML): verify quotes offline",
	}
	c.AddCommand(newTeeVerifyCmd())
	return c
}

func newTeeVerifyCmd() *cobra.Command {
	var (
		kind, quotePath, collateral, at, product string
		simRoots                                 []string
		asJSON                                   bool
	)
	c := &cobra.Command{
		Use:   "verify",
		Short: "Verify an attestation offline: certificate chain, signature, validity at a time, TCB",
		Long: `Verify an attestation quote offline with the vendor's library and print its
measurements, report data and TCB status. Nothing is fetched from the network.

--collateral: for tdx a JSON file of Intel PCS responses (or a directory
holding tdx_collateral.json); for sev-snp the VCEK certificate, DER (or a
directory holding vcek.der or vcek.testcer); for nitro a PEM file of roots to
trust instead of the AWS Nitro root. --sim-root trusts a simulated root (hex
ed25519 public key) for --kind sim.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now().UTC()
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return fmt.Errorf("--at %q: want RFC 3339 (2026-01-01T00:00:00Z): %w", at, err)
				}
				now = t.UTC()
			}
			quote, err := os.ReadFile(quotePath)
			if err != nil {
				return fmt.Errorf("read quote: %w", err)
			}
			opts := tee.Options{Now: now}
			if err := teeLoadCollateral(&opts, kind, collateral, product); err != nil {
				return err
			}
			for _, s := range simRoots {
				b, err := hex.DecodeString(s)
				if err != nil || len(b) != ed25519.PublicKeySize {
					return fmt.Errorf("--sim-root %q: want %d hex bytes", s, ed25519.PublicKeySize)
				}
				opts.SimRoots = append(opts.SimRoots, b)
			}
			rep, err := tee.Verify(kind, quote, opts)
			if err != nil {
				return fmt.Errorf("INVALID at %s: %w", now.Format(time.RFC3339), err)
			}
			out := struct {
				Valid bool      `json:"valid"`
				At    time.Time `json:"at"`
				*tee.Report
			}{true, now, rep}
			return emit(cmd.OutOrStdout(), asJSON, out, func(w io.Writer) { printTeeReport(w, rep, now) })
		},
	}
	f := c.Flags()
	f.StringVar(&kind, "kind", "", "attestation kind: tdx, sev-snp, nitro or sim")
	f.StringVar(&quotePath, "quote", "", "quote file")
	f.StringVar(&collateral, "collateral", "", "collateral file or directory (see above)")
	f.StringVar(&at, "at", "", "verify at this time, RFC 3339 (default: now)")
	f.StringVar(&product, "product", "", "SEV-SNP product line: Milan (default) or Genoa")
	f.StringSliceVar(&simRoots, "sim-root", nil, "trusted simulated root, hex (kind sim)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	_ = c.MarkFlagRequired("kind")
	_ = c.MarkFlagRequired("quote")
	return c
}

func printTeeReport(w io.Writer, rep *tee.Report, at time.Time) {
	if rep.Simulated {
		fmt.Fprintln(w, "SIMULATED attestation: signed by a test root, proves nothing about hardware")
	}
	fmt.Fprintf(w, "kind:         %s\n", rep.Kind)
	fmt.Fprintf(w, "valid:        yes, at %s (certificates %s .. %s)\n", at.Format(time.RFC3339),
		rep.NotBefore.Format(time.RFC3339), rep.NotAfter.Format(time.RFC3339))
	fmt.Fprintf(w, "platform:     %s\n", rep.Platform)
	if !rep.IssuedAt.IsZero() {
		fmt.Fprintf(w, "issued:       %s\n", rep.IssuedAt.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "measurement:  %s\n", rep.Measurement)
	for _, m := range rep.Measurements {
		fmt.Fprintf(w, "  %-13s %s\n", m.Name, m.Hex)
	}
	fmt.Fprintf(w, "report data:  %s\n", rep.ReportHex)
	fmt.Fprintf(w, "tcb:          %s (svn %s)\n", rep.TCB.Status, rep.TCB.SVN)
}

func teeLoadCollateral(opts *tee.Options, kind, path, product string) error {
	opts.Collateral.SNPProduct = product
	if path == "" {
		return nil
	}
	pick := func(names ...string) string {
		st, err := os.Stat(path)
		if err != nil || !st.IsDir() {
			return path
		}
		for _, n := range names {
			if _, err := os.Stat(filepath.Join(path, n)); err == nil {
				return filepath.Join(path, n)
			}
		}
		return filepath.Join(path, names[0])
	}
	switch kind {
	case tee.KindTDX:
		m, err := tee.ReadCollateralFile(pick("tdx_collateral.json"))
		if err != nil {
			return err
		}
		opts.Collateral.TDX = m
	case tee.KindSEVSNP:
		b, err := os.ReadFile(pick("vcek.der", "vcek.testcer"))
		if err != nil {
			return fmt.Errorf("read VCEK: %w", err)
		}
		opts.Collateral.SNPVCEK = b
	case tee.KindNitro:
		b, err := os.ReadFile(pick("roots.pem"))
		if err != nil {
			return fmt.Errorf("read nitro roots: %w", err)
		}
		for blk, rest := pem.Decode(b); blk != nil; blk, rest = pem.Decode(rest) {
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return fmt.Errorf("parse nitro root: %w", err)
			}
			opts.Collateral.NitroRoots = append(opts.Collateral.NitroRoots, c)
		}
		if len(opts.Collateral.NitroRoots) == 0 {
			return fmt.Errorf("nitro roots %s: no PEM certificate", path)
		}
	default:
		return fmt.Errorf("--collateral is not used for kind %q", kind)
	}
	return nil
}
