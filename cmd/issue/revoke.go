package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/pkg/issuer"
)

func revokeCmd() *cobra.Command {
	var key, passFile, old, out, ledgerPath, serialsFile string
	var serials []string
	var asJSON, force bool
	c := &cobra.Command{
		Use:   "revoke --key NAME.key (--serial SERIAL... | --serials-from FILE) [--list OLD] -o FILE",
		Short: "Add serials to the signed revocation list",
		Long: `revoke writes a new signed revocation list holding every serial of the
previous list plus the given ones, with the sequence number increased by one.
The previous list is the last one recorded in the ledger, together with OLD
(--list) when given; an OLD older than the ledger's last list is refused, so a
revocation is never dropped. An existing -o FILE is replaced only with --force,
and only by a list with a higher sequence that holds all its serials.

Serials may be typed in lower case or without dashes; a serial the ledger
never issued gives a warning. --serials-from FILE reads serials one a line
(blank lines and lines starting with # are skipped; - for stdin), for
revoking many at once. A list holds up to 1,048,576 serials (16 MiB);
verify looks a serial up by binary search, so checking a license costs
about the same with 200,000 serials as with 10.
Give the new list to customers' verify (--revocations FILE); verify refuses a
list signed by an untrusted key.`,
		Example: `  issue revoke --key vendor.key --serial 7K3M-Q9TX-4HZP-2W8R -o revoked.list
  issue revoke --key vendor.key --serials-from refunded.txt --list revoked.list -o revoked.list --force
  issue revoke --key vendor.key --serial aaaabbbbccccdddd --list revoked.list -o revoked.list --force`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if serialsFile != "" {
				data, err := readFile(cmd, "--serials-from", serialsFile, fileio.LimitRevocations, "list of serials")
				if err != nil {
					return err
				}
				for _, l := range strings.Split(string(data), "\n") {
					if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
						serials = append(serials, l)
					}
				}
				if len(serials) == 0 {
					return cli.Usage("--serials-from %s holds no serial", serialsFile)
				}
			}
			// With no serial, the list still revokes the licenses transferred
			// since the last one (issue license --transfer); the issuer refuses
			// a list that adds nothing.
			if key == "" || out == "" {
				return cli.Usage("revoke needs --key NAME.key, at least one --serial (or --serials-from FILE) and -o FILE")
			}
			if asJSON && out == "-" {
				return cli.Usage("-o - writes the list to stdout; it cannot share stdout with --json")
			}
			if err := fileio.CheckOutput(out, force); err != nil {
				return cli.Fail(cli.ExitError, err, "add --force to replace it (the new list must carry all of it forward)")
			}
			opts := issuer.RevokeOptions{Serials: serials, Now: now()}
			var err error
			if old != "" {
				if opts.Previous, err = readFile(cmd, "--list", old, fileio.LimitRevocations, "revocation list"); err != nil {
					return err
				}
			}
			if out != "-" {
				if st, err := os.Stat(out); err == nil && st.Mode().IsRegular() {
					if opts.Replaces, err = readFile(cmd, "-o", out, fileio.LimitRevocations, "revocation list"); err != nil {
						return err
					}
				}
			}
			k, err := loadKey(cmd, key, passFile)
			if err != nil {
				return err
			}
			lg := ledgerFor(ledgerPath, key)
			res, err := (&issuer.Issuer{Key: k, Ledger: lg}).Revoke(opts)
			if err != nil {
				var fe *issuer.FieldError
				if errors.As(err, &fe) {
					return fieldError(err, map[string]string{"list": old, "output": out})
				}
				return cli.Fail(cli.ExitError, err, "nothing was written; fix the ledger and run again")
			}
			stderr := cmd.ErrOrStderr()
			warnTorn(cmd, res.Torn, lg.Path)
			const maxNamed = 20
			for i, s := range res.NotIssued {
				if i == maxNamed {
					fmt.Fprintf(stderr, "issue: warning: and %d more serials not in the ledger (--json lists them all)\n", len(res.NotIssued)-maxNamed)
					break
				}
				fmt.Fprintf(stderr, "issue: warning: serial %s is not in the ledger %s; check it for typos\n", clean(s), lg.Path)
			}
			for _, w := range res.Warnings {
				fmt.Fprintf(stderr, "issue: warning: %s\n", w)
			}
			if err := fileio.Write(cmd.OutOrStdout(), out, res.Armored, 0o644, true); err != nil {
				return cli.Fail(cli.ExitError, err, fmt.Sprintf("list %d is in the ledger; run revoke again with --list to write a newer one", res.List.Sequence))
			}
			rl := res.List
			if asJSON {
				return cli.JSON(cmd.OutOrStdout(), map[string]any{"file": out, "sequence": rl.Sequence, "issued_at": rl.IssuedAt, "key_id": rl.KeyID,
					"count": len(rl.Serials), "added": nonNil(res.Added), "not_issued": nonNil(res.NotIssued)})
			}
			summary := cmd.OutOrStdout() // stdout carries the list itself with -o -
			if out == "-" {
				summary = stderr
			}
			fmt.Fprintf(summary, "revocation list %d: %d serials (%d new), written to %s\n", rl.Sequence, len(rl.Serials), len(res.Added), out)
			return nil
		},
	}
	c.Flags().StringVar(&key, "key", "", "private key file `NAME.key` (required)")
	c.Flags().StringVar(&passFile, "passphrase-file", "", "read the passphrase from the first line of `FILE`")
	c.Flags().StringArrayVar(&serials, "serial", nil, "`SERIAL` to revoke (repeatable)")
	c.Flags().StringVar(&serialsFile, "serials-from", "", "read serials to revoke from `FILE`, one a line (- for stdin)")
	c.Flags().StringVar(&old, "list", "", "previous revocation list `FILE` to carry forward")
	c.Flags().StringVarP(&out, "output", "o", "", "write the new list to `FILE` (- for stdout)")
	c.Flags().BoolVar(&force, "force", false, "replace an existing -o FILE (atomically; never by a list that drops a serial)")
	c.Flags().StringVar(&ledgerPath, "ledger", "", "ledger `FILE` (default: NAME.ledger next to NAME.key)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return c
}
