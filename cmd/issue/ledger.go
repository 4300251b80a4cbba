package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/pkg/issuer"
)

func ledgerFlags(c *cobra.Command, ledgerPath, key *string) {
	c.Flags().StringVar(ledgerPath, "ledger", "", "ledger `FILE`")
	c.Flags().StringVar(key, "key", "", "find the ledger next to this key file `NAME.key` (NAME.ledger); the key is not opened")
}

// findLedger resolves the ledger for list and show: --ledger, then
// AIRSEAL_LEDGER, then NAME.ledger next to --key, then the only *.ledger
// file in the current directory.
func findLedger(ledgerPath, key string) (*issuer.Ledger, error) {
	switch {
	case ledgerPath != "":
	case os.Getenv("AIRSEAL_LEDGER") != "":
		ledgerPath = os.Getenv("AIRSEAL_LEDGER")
	case key != "":
		ledgerPath = issuer.DefaultLedger(key)
	default:
		m, _ := filepath.Glob("*.ledger")
		if len(m) != 1 {
			return nil, cli.Usage("which ledger? give --ledger FILE or --key NAME.key, or set AIRSEAL_LEDGER (%d *.ledger files here)", len(m))
		}
		ledgerPath = m[0]
	}
	return &issuer.Ledger{Path: ledgerPath}, nil
}

func listCmd() *cobra.Command {
	var ledgerPath, key string
	var asJSON bool
	c := &cobra.Command{
		Use:   "list [--ledger FILE | --key NAME.key] [--json]",
		Short: "List every license and revocation list in the ledger",
		Long: `list prints one line per ledger record, oldest first: for a license its
serial, date, kind, product, customer, seats, expiry and binding; for a
revocation list its sequence, date and size. The ledger is --ledger FILE,
else $AIRSEAL_LEDGER, else NAME.ledger next to --key, else the only *.ledger
file in the current directory. With --json, a JSON array of the records
(fields in README, section "issue").`,
		Example: `  issue list
  issue list --key vendor.key --json | jq -r '.[] | select(.type == "license") | .serial'`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			lg, err := findLedger(ledgerPath, key)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			n := 0
			if asJSON {
				fmt.Fprint(w, "[")
			}
			torn, err := lg.Each(func(r *issuer.Record) error {
				n++
				if asJSON {
					js, err := jsonRecord(r)
					if n > 1 {
						fmt.Fprint(w, ",")
					}
					fmt.Fprintf(w, "\n  %s", js)
					return err
				}
				printRecord(w, r)
				return nil
			})
			if asJSON {
				if n > 0 {
					fmt.Fprintln(w)
				}
				fmt.Fprintln(w, "]")
			}
			warnTorn(cmd, torn, lg.Path)
			return err
		},
	}
	ledgerFlags(c, &ledgerPath, &key)
	c.Flags().BoolVar(&asJSON, "json", false, "print the records as a JSON array")
	return c
}

func printRecord(w io.Writer, r *issuer.Record) {
	switch r.Type {
	case issuer.TypeLicense:
		exp := "perpetual"
		if r.Expires != nil {
			exp = "expires " + r.Expires.Format(time.DateOnly)
		}
		bound := "unbound"
		if r.Machine != "" {
			bound = "machine " + r.Machine
		}
		fmt.Fprintf(w, "%s  %s  %-10s %s  %q  seats %d  %s  %s\n", clean(r.Serial), r.IssuedAt.Format(time.DateOnly), clean(r.Kind), clean(r.Product), r.Customer, r.Seats, exp, clean(bound))
	case issuer.TypeRevocation:
		n := r.Count
		if r.Serials != nil {
			n = len(r.Serials)
		}
		fmt.Fprintf(w, "revocation list %d  %s  %d serials\n", r.Sequence, r.IssuedAt.Format(time.DateOnly), n)
	}
}

func jsonRecord(r *issuer.Record) (string, error) {
	var b bytes.Buffer
	if err := cli.JSON(&b, r); err != nil {
		return "", err
	}
	return strings.ReplaceAll(strings.TrimSpace(b.String()), "\n", "\n  "), nil
}

func showCmd() *cobra.Command {
	var ledgerPath, key, out string
	var asJSON, force bool
	c := &cobra.Command{
		Use:   "show SERIAL [-o FILE]",
		Short: "Print an issued license from the ledger (the license file on stdout)",
		Long: `show finds the license with the given serial in the ledger (found as for
'issue list') and prints its license file, exactly as it was issued, or its
ledger record with --json. The serial may be typed in lower case or without
dashes. Use it to send a customer a lost license again.`,
		Example: `  issue show 7K3M-Q9TX-4HZP-2W8R > example.lic
  issue show 7k3mq9tx4hzp2w8r -o example.lic
  issue show --json 7K3M-Q9TX-4HZP-2W8R`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out != "" && asJSON {
				return cli.Usage("give -o FILE or --json, not both")
			}
			if err := fileio.CheckOutput(out, force); err != nil {
				return cli.Fail(cli.ExitError, err, "add --force to replace it")
			}
			lg, err := findLedger(ledgerPath, key)
			if err != nil {
				return err
			}
			r, torn, err := lg.Find(args[0])
			warnTorn(cmd, torn, lg.Path)
			if err != nil {
				return err
			}
			if r == nil {
				return cli.Fail(1, fmt.Errorf("serial %s is not in the ledger %s", clean(args[0]), lg.Path), "run 'issue list' to see the serials")
			}
			if asJSON {
				return cli.JSON(cmd.OutOrStdout(), r)
			}
			if out == "" {
				out = "-"
			}
			return fileio.Write(cmd.OutOrStdout(), out, []byte(r.License), 0o644, force)
		},
	}
	ledgerFlags(c, &ledgerPath, &key)
	c.Flags().StringVarP(&out, "output", "o", "", "write the license file to `FILE` (default: stdout)")
	c.Flags().BoolVar(&force, "force", false, "replace an existing -o FILE")
	c.Flags().BoolVar(&asJSON, "json", false, "print the ledger record as JSON")
	return c
}
