package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/pkg/issuer"
	"github.com/airseal/airseal/pkg/license"
)

type licenseFlags struct {
	key, passFile, product, customer, taxID, kind, mainSerial, edition string
	notBefore, expires, updatesUntil, out, qr, ledger, comment, serial string
	seatUnit                                                           string
	unbound, allowVirtual, code, qrTerminal, asJSON, force             bool
	seats, need                                                        int
	features, demo, request                                            []string
}

func licenseCmd() *cobra.Command {
	var f licenseFlags
	c := &cobra.Command{
		Use:   "license --key NAME.key --product P --customer ORG (--request FILE | --unbound) [flags]",
		Short: "Sign a license",
		Long: `license signs a license and writes it as an armored file (-o FILE, or stdout
when no other output is asked for), as a typed code (--code, on stdout) and as
a QR code (--qr FILE.png, or --qr - to draw it on the terminal). All of them
carry the same signed license. Every license is recorded in the ledger before
anything is written, and nothing is made that verify would refuse.

Which code is for what: an unbound license's code (about 360 characters, 60
groups, two minutes aloud) can be typed or read over the phone. A bound
license's code (about 700 characters with 5 components, 1,090 with 11) and a
request's code are for a QR code or for copying and pasting; type them only
in an emergency (the group checks say which group to retype). A code is
accepted with its dashes left out or moved, in any case, across lines.

A license is bound to the machine described by a license request (--request,
the JSON file or ASR1 code that 'hwid request' makes on the customer's
machine), or to no machine (--unbound: site licenses, license servers). The
request is not signed: only its component names and hashes are used; their
weights and the match rule are the vendor's policy (hwid's), shown on stderr
before the passphrase is asked for. --need N grants a looser (or stricter)
rule. A request made in a virtual machine or container is refused unless
--allow-virtual, which also lets the license run in one.

A server request (the server-request.json that 'license-server init' writes;
recognised by its content) makes a server license (format v2) for the seat
server: it binds the server's machine and names its response key. --seats is
then the seat count of the whole server, counted per session or, with
--seat-unit computer, per computer. For a high-availability cluster give
--request once per node (each node's own server-request.json, at most 16):
one license names every node (its machine and its response key) and one seat
count for the cluster. A server license is installed from its file
('license-server license add FILE'); it has no typed code or QR code.

Times (T) are a date (2027-01-31, meaning 00:00 UTC at the start of that day)
or an RFC 3339 time. A feature is KEY=true|false or KEY=N.`,
		Example: `  issue license --key vendor.key --product "Acme Writer" --customer "Example LLC" \
      --request request.json --seats 5 --feature export=true --updates-until 2030-01-31 -o example.lic
  issue license --key vendor.key --request ASR1-0A1B2-... -o - > example.lic
  issue license --key vendor.key --product "Acme Writer" --customer "Example LLC" \
      --unbound --kind demo --expires 2030-06-30 --code --qr demo.png
  issue license --key vendor.key --request srv/server-request.json --seats 50 -o server.lic
  issue license --key vendor.key --request node1.json --request node2.json \
      --seats 200 --seat-unit computer -o cluster.lic`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var comment *string
			if cmd.Flags().Changed("comment") {
				comment = &f.comment
			}
			return issueLicense(cmd, &f, comment)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.key, "key", "", "private key file `NAME.key` (required)")
	fl.StringVar(&f.passFile, "passphrase-file", "", "read the passphrase from the first line of `FILE`")
	fl.StringVar(&f.product, "product", "", "product name `P` (taken from the request when omitted)")
	fl.StringVar(&f.customer, "customer", "", "customer organisation `ORG` (taken from the request when omitted)")
	fl.StringVar(&f.taxID, "tax-id", "", "customer's tax `ID` (for example INN/KPP)")
	fl.StringArrayVar(&f.request, "request", nil, "bind to the machine in this license request: `FILE` (JSON or code), an ASR1 code, or - for stdin; a server-request.json makes a server license (repeat for each node of a cluster)")
	fl.StringVar(&f.seatUnit, "seat-unit", "", "server license: count one seat per `UNIT`, session (default) or computer")
	fl.BoolVar(&f.unbound, "unbound", false, "bind to no machine")
	fl.IntVar(&f.need, "need", 0, "match rule: weight `N` of matching components needed (default: the policy's)")
	fl.BoolVar(&f.allowVirtual, "allow-virtual", false, "accept a request from a virtual machine or container and let the license run in one")
	fl.StringVar(&f.kind, "kind", "main", "license `KIND`: main, additional or demo")
	fl.StringVar(&f.mainSerial, "main-serial", "", "for --kind additional: `SERIAL` of the main license it extends")
	fl.StringVar(&f.edition, "edition", "", "product `EDITION`")
	fl.IntVar(&f.seats, "seats", 1, "number of seats `N`")
	fl.StringArrayVar(&f.features, "feature", nil, "feature `KEY=true|false|N` (repeatable)")
	fl.StringArrayVar(&f.demo, "demo-limit", nil, "limit `KEY=N` that applies in demo mode (repeatable)")
	fl.StringVar(&f.notBefore, "not-before", "", "valid from `T` (default: now)")
	fl.StringVar(&f.expires, "expires", "never", "expires at `T`, or never")
	fl.StringVar(&f.updatesUntil, "updates-until", "", "update subscription ends at `T` (default: no end)")
	fl.StringVar(&f.serial, "serial", "", "`SERIAL` (default: a new random one)")
	fl.StringVar(&f.comment, "comment", "", "unsigned comment `TEXT` in the file (default: customer, product and serial)")
	fl.StringVarP(&f.out, "output", "o", "", "write the license file to `FILE` (- for stdout)")
	fl.BoolVar(&f.force, "force", false, "replace existing output files")
	fl.BoolVar(&f.code, "code", false, "print the typed code on stdout (unbound: for typing or reading aloud; bound: for QR or copy and paste)")
	fl.StringVar(&f.qr, "qr", "", "write a QR code of the typed code to `FILE.png`, or draw it on stdout with -")
	fl.BoolVar(&f.qrTerminal, "qr-terminal", false, "same as --qr -")
	_ = fl.MarkDeprecated("qr-terminal", "use --qr - (the spelling hwid uses)")
	fl.StringVar(&f.ledger, "ledger", "", "ledger `FILE` (default: NAME.ledger next to NAME.key)")
	fl.BoolVar(&f.asJSON, "json", false, "print the result as JSON on stdout")
	return c
}

// licenseOrder turns the flags into an issuer.Order (flag syntax only; the
// rules are the issuer's).
func licenseOrder(f *licenseFlags, comment *string, req []byte) (issuer.Order, error) {
	o := issuer.Order{Serial: f.serial, Product: f.product, Edition: f.edition, MainSerial: f.mainSerial,
		Customer: f.customer, TaxID: f.taxID, Seats: f.seats, Need: f.need, AllowVirtual: f.allowVirtual, Comment: comment}
	var err error
	if o.Kind, err = license.ParseKind(f.kind); err != nil {
		return o, cli.Usage("--kind: %v", err)
	}
	if f.seats < 1 {
		return o, cli.Usage("--seats (seats): %d must be at least 1", f.seats)
	}
	for _, t := range []struct {
		flag, v string
		dst     **time.Time
	}{{"--expires", f.expires, &o.Expires}, {"--updates-until", f.updatesUntil, &o.UpdatesUntil}, {"--not-before", f.notBefore, nil}} {
		if t.v == "" || t.v == "never" && t.flag == "--expires" {
			continue
		}
		v, err := license.ParseTime(t.v)
		if err != nil {
			return o, cli.Usage("%s: %v", t.flag, err)
		}
		if t.dst == nil {
			o.NotBefore = v
		} else {
			*t.dst = &v
		}
	}
	for _, list := range []struct {
		flag string
		in   []string
		out  *[]license.Feature
	}{{"--feature", f.features, &o.Features}, {"--demo-limit", f.demo, &o.DemoLimits}} {
		for _, s := range list.in {
			ft, err := license.ParseFeature(s)
			if err != nil {
				return o, cli.Usage("%s: %v", list.flag, err)
			}
			*list.out = append(*list.out, ft)
		}
	}
	if req != nil {
		if o.Request, err = issuer.ParseRequest(req); err != nil {
			// Not a valid request: 10 in the one table, as for a license.
			return o, cli.Fail(cli.ExitMalformed, fmt.Errorf("--request %s: %w", f.request[0], err), "ask the customer for a new request made by 'hwid request'")
		}
	}
	return o, nil
}

func issueLicense(cmd *cobra.Command, f *licenseFlags, comment *string) error {
	switch {
	case f.key == "":
		return cli.Usage("license needs --key NAME.key")
	case (len(f.request) == 0) == !f.unbound:
		return cli.Usage("give exactly one of --request FILE (bind to a machine) and --unbound")
	case f.allowVirtual && f.unbound:
		return cli.Usage("--allow-virtual applies to a license bound with --request; an --unbound license already runs anywhere, virtual machines included")
	case f.qr != "" && f.qr != "-" && filepath.Ext(f.qr) != ".png":
		return cli.Usage("--qr %s: the file name must end in .png (or - to draw it on stdout)", f.qr)
	case f.out == "-" && (f.code || f.qr == "-" || f.qrTerminal || f.asJSON):
		return cli.Usage("-o - writes the license file to stdout; it cannot share stdout with --code, --qr -, or --json")
	}
	if f.qrTerminal {
		f.qr = "-"
	}
	reqs, server, err := readRequests(cmd, f.request)
	if err != nil {
		return err
	}
	if server {
		return issueServerLicense(cmd, f, comment, reqs)
	}
	if f.seatUnit != "" {
		return cli.Usage("--seat-unit applies to a server license (--request server-request.json written by 'license-server init')")
	}
	var req []byte
	if len(reqs) == 1 {
		req = reqs[0]
	}
	o, err := licenseOrder(f, comment, req)
	if err != nil {
		return err
	}
	files := map[string]string{}
	if len(f.request) == 1 {
		files["request"] = f.request[0]
	}
	if o.Product == "" && o.Request == nil {
		return cli.Usage("license needs --product P")
	}
	d, err := issuer.Prepare(o, now())
	if err != nil {
		return fieldError(err, files)
	}
	// Refuse existing outputs before anything is signed or recorded.
	for _, p := range []string{f.out, f.qr} {
		if err := fileio.CheckOutput(p, f.force); err != nil {
			hint := "move it away, choose another name, or add --force"
			if errors.Is(err, fileio.ErrIsDir) {
				hint = ""
			}
			return cli.Fail(cli.ExitError, err, hint)
		}
	}
	stderr := cmd.ErrOrStderr()
	printBinding(stderr, d)
	k, err := loadKey(cmd, f.key, f.passFile)
	if err != nil {
		return err
	}
	lg := ledgerFor(f.ledger, f.key)
	is := &issuer.Issuer{Key: k, Ledger: lg}
	out, err := is.Issue(d, issuer.IssueOptions{QRPNG: f.qr != "" && f.qr != "-", QRTerminal: f.qr == "-"})
	if err != nil {
		var fe *issuer.FieldError
		if errors.As(err, &fe) {
			return fieldError(err, files)
		}
		return cli.Fail(cli.ExitError, err, "nothing was issued; fix the ledger (or give --ledger FILE) and run again")
	}
	l := out.License
	stdout := cmd.OutOrStdout()
	again := fmt.Sprintf("the license %s is in the ledger; write it again with: issue show %s -o FILE", l.Serial, l.Serial)
	if f.qr != "" && f.qr != "-" {
		if err := fileio.Write(stdout, f.qr, out.QRPNG, 0o644, f.force); err != nil {
			return cli.Fail(cli.ExitError, err, again)
		}
	}
	if f.out != "" {
		if err := fileio.Write(stdout, f.out, out.Armored, 0o644, f.force); err != nil {
			return cli.Fail(cli.ExitError, err, again)
		}
	}
	if f.asJSON {
		return cli.JSON(stdout, map[string]any{
			"serial": l.Serial, "file": f.out, "code": out.Code, "qr": f.qr, "ledger": lg.Path, "license": l,
			"binding": d.Binding, "warnings": nonNil(d.Warnings),
		})
	}
	if f.out == "" && !f.code && f.qr == "" {
		stdout.Write(out.Armored)
	}
	if f.code {
		fmt.Fprintln(stdout, out.Code)
	}
	if f.qr == "-" {
		fmt.Fprint(stdout, out.QRText)
	}
	binding := "unbound"
	if l.Machine != nil {
		binding = "bound to machine " + l.Machine.ID()
	}
	fmt.Fprintf(stderr, "issue: signed license %s for %s (%s, %s), key %s\n", l.Serial, clean(l.Customer.Name), clean(l.Product), binding, l.KeyID)
	return nil
}

// printBinding shows the vendor what will be bound, and the warnings,
// before the passphrase is asked for.
func printBinding(w io.Writer, d *issuer.Draft) {
	if b := d.Binding; b != nil {
		fmt.Fprintf(w, "issue: binding to machine %s: %s\n", b.MachineID, b)
		for _, c := range b.Components {
			root := ""
			if c.NeedsRoot {
				root = " (read as root)"
			}
			fmt.Fprintf(w, "issue:   %-14s weight %d%s\n", c.Name, c.Weight, root)
		}
	}
	for _, warn := range d.Warnings {
		fmt.Fprintf(w, "issue: WARNING: %s\n", warn)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
