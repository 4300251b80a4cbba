package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/internal/seatserver"
)

// withTransfer adds --transfer and -o to 'license remove': the license is
// removed for good and a receipt signed by the server's response key is
// written for the vendor (issue 12 item 5).
func withTransfer(c *cobra.Command) *cobra.Command {
	var transfer, force bool
	var out, passFile string
	plain := c.RunE
	c.Use = "remove SERIAL [--transfer -o RECEIPT] --dir DIR"
	c.Long += `

With --transfer the license leaves this server for good, to be issued for
another machine: the server keeps the serial with its revoked serials (it
never accepts it again) and writes to -o a receipt signed with its response
key (the passphrase is needed). Send the receipt and the new machine's
request to the vendor: 'issue license --transfer RECEIPT --request
NEW-REQUEST' issues the same entitlements there and revokes the old serial.`
	c.Example += "\n  license-server license remove ABCD-EFGH-JKMN-PQRS --transfer -o transfer.receipt --dir DIR"
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if !transfer {
			if out != "" {
				return cli.Usage("-o writes a transfer receipt: give --transfer too")
			}
			return plain(cmd, args)
		}
		if out == "" {
			return cli.Usage("--transfer needs -o RECEIPT (- for standard output)")
		}
		if err := fileio.CheckOutput(out, force); err != nil {
			return cli.Fail(cli.ExitError, err, "")
		}
		g := &globals{dir: cmd.Flag("dir").Value.String(), root: cmd.Flag("root").Value.String(), passFile: passFile}
		g.json, _ = cmd.Flags().GetBool("json")
		d, err := g.serverDir()
		if err != nil {
			return err
		}
		pass, err := g.passphrase(false)
		if err != nil {
			return err
		}
		key, err := d.PrivateKey(pass)
		if err != nil {
			return classify(err)
		}
		ring, err := keyring(d)
		if err != nil {
			return err
		}
		unlock, err := d.Lock()
		if err != nil {
			return classify(err)
		}
		defer unlock()
		st, err := openStore(d)
		if err != nil {
			return err
		}
		defer st.Close()
		cfg := seatserver.Config{Store: st, Key: key, Keyring: ring, Machine: seatserver.HostMachine(g.root)}
		if req, err := d.ReadRequest(); err == nil {
			cfg.Node = req.Node
		}
		srv, err := seatserver.New(context.Background(), cfg)
		if err != nil {
			return classify(err)
		}
		data, r, err := srv.Transfer(context.Background(), args[0])
		if cerr := srv.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return classify(err)
		}
		auditCLI(d, "transfer license", r.Serial)
		if err := fileio.Write(cmd.OutOrStdout(), out, data, 0o644, force); err != nil {
			return cli.Fail(cli.ExitError, err, "the license is removed and marked transferred; the receipt was not written: "+
				"nothing can make it again, so ask the vendor to transfer by hand")
		}
		if g.json && out != "-" {
			return cli.JSON(cmd.OutOrStdout(), map[string]any{"removed": r.Serial, "transferred": true, "receipt": out})
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "license-server: removed %s for transfer; send %s and the new machine's request to the vendor\n",
			safetext.Clean(r.Serial), safetext.Clean(out))
		return nil
	}
	f := c.Flags()
	f.BoolVar(&transfer, "transfer", false, "remove the license for good and write a signed transfer receipt for the vendor")
	f.StringVarP(&out, "output", "o", "", "with --transfer, write the receipt to `FILE` (- for standard output)")
	f.BoolVar(&force, "force", false, "replace an existing -o file")
	f.StringVar(&passFile, "passphrase-file", "", "read the response key passphrase from the first line of `FILE` (else $AIRSEAL_PASSPHRASE, else a prompt)")
	return c
}
