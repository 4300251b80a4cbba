package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/pkg/issuer"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/transfer"
)

// withTransfer adds --transfer RECEIPT to 'issue license' (issue 12 item
// 5): the receipt of a license removed from a seat server is checked and
// the same entitlements are issued for the server of --request.
func withTransfer(c *cobra.Command) *cobra.Command {
	var receiptPath string
	plain := c.RunE
	c.Long += `

With --transfer RECEIPT (written by 'license-server license remove SERIAL
--transfer') and --request NEW-SERVER-REQUEST (server-request.json of the new
machine), issue checks the receipt against the license the ledger holds for
that serial (signed by the response key of one of its nodes, issued by this
ledger, not transferred before), records the transfer and issues the old
license's entitlements for the new server under a new serial. The old serial
goes into the next revocation list ('issue revoke' adds it). Entitlement
flags (--seats, --feature, ...) are refused with --transfer.`
	c.Example += "\n  issue license --key vendor.key --transfer old.receipt --request new-server-request.json -o new.lic"
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if receiptPath == "" {
			return plain(cmd, args)
		}
		for _, f := range []string{"product", "customer", "tax-id", "unbound", "need", "kind", "main-serial", "edition", "seats", "feature",
			"demo-limit", "not-before", "expires", "updates-until", "serial", "code", "qr", "qr-terminal"} {
			if cmd.Flags().Changed(f) {
				return cli.Usage("--%s cannot be given with --transfer: the new license carries the old one's entitlements", f)
			}
		}
		str := func(n string) string { return cmd.Flag(n).Value.String() }
		key, out := str("key"), str("output")
		force, _ := cmd.Flags().GetBool("force")
		asJSON, _ := cmd.Flags().GetBool("json")
		reqs, _ := cmd.Flags().GetStringArray("request")
		if key == "" || len(reqs) == 0 {
			return cli.Usage("--transfer needs --key NAME.key and --request NEW-SERVER-REQUEST")
		}
		if len(reqs) > 1 {
			return cli.Usage("--transfer takes one --request (the new server's server-request.json), got %d", len(reqs))
		}
		reqPath := reqs[0]
		receipt, err := readFile(cmd, "--transfer", receiptPath, transfer.MaxReceipt, "transfer receipt")
		if err != nil {
			return err
		}
		reqData, err := readFile(cmd, "--request", reqPath, license.MaxServerRequest, "server request")
		if err != nil {
			return err
		}
		req, err := license.ParseServerRequest(reqData)
		if err != nil {
			return cli.Fail(cli.ExitMalformed, fmt.Errorf("--request %s: %w", reqPath, err), "give the new server's server-request.json (license-server init)")
		}
		if err := fileio.CheckOutput(out, force); err != nil {
			return cli.Fail(cli.ExitError, err, "move it away, choose another name, or add --force")
		}
		k, err := loadKey(cmd, key, str("passphrase-file"))
		if err != nil {
			return err
		}
		is := &issuer.Issuer{Key: k, Ledger: ledgerFor(str("ledger"), key)}
		res, err := is.Transfer(receipt, req, now())
		if err != nil {
			var fe *issuer.FieldError
			switch {
			case errors.Is(err, issuer.ErrTransferred):
				return cli.Fail(cli.ExitRevoked, err, "each receipt is honoured once; issue show the new serial to write its license again")
			case errors.Is(err, transfer.ErrBadSignature), errors.Is(err, transfer.ErrOtherLicense):
				return cli.Fail(cli.ExitUntrustedKey, err, "ask the customer for the receipt the server wrote, unchanged")
			case errors.Is(err, transfer.ErrMalformed):
				return cli.Fail(cli.ExitMalformed, err, "give the receipt file license-server wrote")
			case errors.As(err, &fe):
				return cli.Fail(cli.ExitError, err, "")
			}
			return cli.Fail(cli.ExitError, err, "")
		}
		n := res.New.License
		stdout := cmd.OutOrStdout()
		if out != "" {
			if err := fileio.Write(stdout, out, res.New.Armored, 0o644, force); err != nil {
				return cli.Fail(cli.ExitError, err, "the license is in the ledger; write it again with: issue show "+n.Serial+" -o FILE")
			}
		} else if !asJSON {
			stdout.Write(res.New.Armored)
		}
		if asJSON {
			return cli.JSON(stdout, map[string]any{"transferred": res.Old.Serial, "serial": n.Serial, "file": out, "node": n.Nodes[0].Name})
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "issue: transferred %s (removed from node %s at %s) to %s for node %s; revoke %s with the next 'issue revoke'\n",
			res.Old.Serial, clean(res.Receipt.Node), res.Receipt.Removed.UTC().Format("2006-01-02T15:04:05Z"), n.Serial, clean(n.Nodes[0].Name), res.Old.Serial)
		return nil
	}
	c.Flags().StringVar(&receiptPath, "transfer", "", "issue the entitlements of the license this transfer `RECEIPT` removed, for the server of --request")
	return c
}
