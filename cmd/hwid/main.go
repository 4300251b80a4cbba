// Command hwid prints this machine's hardware ID for offline licenses,
// refuses virtual machines and containers, writes license requests, and
// saves the raw facts for support.
//
// Exit codes: 0 ok, 1 error, 2 usage, 3 refused (a virtual machine or a
// container, without --allow-virtual).
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/atomicfile"
	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/qrcode"
	"github.com/airseal/airseal/pkg/hwid"
)

// exitRefused is the exit code for a virtual machine or a container.
const exitRefused = 3

func main() { os.Exit(run()) }

func run() int {
	hwid.ClearRedirection()
	return cli.Main(newRoot())
}

type globals struct {
	json         bool
	allowVirtual bool
	root         string
	product      string
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "hwid [--json] [--allow-virtual] [--root DIR]",
		Short: "Print this machine's hardware ID; refuse virtual machines and containers",
		Long: `hwid identifies the physical machine it runs on, for binding offline licenses.

It decides whether this is bare metal, a virtual machine or a container (as
systemd-detect-virt names them) and prints the fingerprint: hashed hardware
components with weights, and how many must still match (k of n), so that one
replaced disk or network card does not break a license.

On a virtual machine or container hwid exits 3 and says what it found. Run it
on the physical server, or, if the vendor's license allows virtual machines,
pass --allow-virtual.

The SMBIOS UUID and serial numbers can be read only by root; run as an
unprivileged user, hwid leaves them out and says so.`,
		Example: `  hwid                      # report this machine
  hwid --json               # the same as JSON
  sudo hwid request --product acme-db --customer "Example Corp" -o request.json
  hwid request --product acme-db --code --qr -   # typed code and a terminal QR code
  hwid dump -o facts.tar.gz # raw facts for support
  hwid --root facts/        # replay an unpacked dump`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return g.report(cmd) },
	}
	pf := root.PersistentFlags()
	pf.BoolVar(&g.json, "json", false, "print JSON")
	pf.BoolVar(&g.allowVirtual, "allow-virtual", false, "accept a virtual machine or container (the result is marked virtual)")
	pf.StringVar(&g.root, "root", "", "read facts from `DIR`, a tree laid out like / (an unpacked dump), not from this machine")
	root.Flags().StringVar(&g.product, "product", "", "hash the components for `PRODUCT` (as a license request does)")
	root.AddCommand(g.requestCmd(), g.dumpCmd())
	return root
}

func (g *globals) collect(product string) (*hwid.Report, error) {
	rep, err := hwid.Collect(hwid.Options{Root: g.root, Product: product})
	if err != nil {
		return nil, cli.Fail(cli.ExitError, err, "check that --root names a directory laid out like / (an unpacked dump)")
	}
	return rep, nil
}

// refusal is the error for a virtual machine or container.
func refusal(v hwid.Verdict) error {
	what := "a virtual machine"
	if v.Type == hwid.TypeContainer {
		what = "a container"
	}
	var hint []string
	for _, e := range v.Evidence {
		hint = append(hint, "found: "+e)
	}
	hint = append(hint, "run hwid on the physical server, or ask the vendor for a license that allows virtual machines and add --allow-virtual")
	return cli.Fail(exitRefused, fmt.Errorf("refused: this is %s (%s)", what, v.Technology), strings.Join(hint, "\n"))
}

func (g *globals) report(cmd *cobra.Command) error {
	rep, err := g.collect(g.product)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	v := rep.Virtualization
	if v.Virtual() && !g.allowVirtual {
		if g.json {
			if err := cli.JSON(out, map[string]any{"virtualization": v}); err != nil {
				return err
			}
		}
		return refusal(v)
	}
	if g.json {
		return cli.JSON(out, rep)
	}
	writeReport(out, rep)
	if !rep.RootRead {
		fmt.Fprintf(cmd.ErrOrStderr(), "hwid: hint: not run as root: %s were not read; run as root for a stronger ID (a license bound as root must be checked as root)\n", strings.Join(rep.Unread, ", "))
	}
	return nil
}

func writeReport(w io.Writer, rep *hwid.Report) {
	v := rep.Virtualization
	fmt.Fprintf(w, "fingerprint     %s\n", rep.ID())
	switch v.Type {
	case hwid.TypeNone:
		fmt.Fprintf(w, "virtualization  none (bare metal)\n")
	default:
		fmt.Fprintf(w, "virtualization  %s (%s): VIRTUAL, accepted by --allow-virtual\n", v.Type, v.Technology)
	}
	for _, e := range v.Evidence {
		fmt.Fprintf(w, "  evidence      %s\n", e)
	}
	fmt.Fprintf(w, "match rule      %d of weight %d must match\n", rep.Fingerprint.Need, rep.Fingerprint.Total())
	fmt.Fprintf(w, "components\n")
	for _, c := range rep.Fingerprint.Components {
		root := ""
		if c.NeedsRoot {
			root = "  (root only)"
		}
		fmt.Fprintf(w, "  %-14s weight %d  %s%s\n", c.Name, c.Weight, c.Hash, root)
	}
	for _, u := range rep.Unread {
		fmt.Fprintf(w, "  %-14s not read: needs root\n", u)
	}
	fmt.Fprintf(w, "host            %s, %s\n", rep.Hostname, rep.OS)
}

func (g *globals) requestCmd() *cobra.Command {
	var product, customer, output, qrFile string
	var code bool
	c := &cobra.Command{
		Use:   "request --product P [--customer ORG] [--allow-virtual] [--root DIR] -o request.json [--code] [--qr FILE.png]",
		Short: "Write a license request for the vendor",
		Long: `request writes what the vendor's 'issue license --request' reads: the
fingerprint (hashed components and the match rule), the virtualization
verdict, host name, OS, a random nonce and the time.

Where no file may leave the site, --code prints the same request as a typed
code (ASR1-...) to read aloud or type, and --qr draws it as a QR code, to a
PNG file or, with --qr -, on the terminal. The code leaves out the evidence
lines.

Run it as root: the SMBIOS UUID and serials are root-only, and a request made
without them binds the license to fewer components.`,
		Example: `  sudo hwid request --product acme-db --customer "Example Corp" -o request.json
  sudo hwid request --product acme-db -o request.json --code --qr request.png`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(product) == "" {
				return cli.Usage("--product is required: the product the license is for")
			}
			if output == "" && !code && qrFile == "" {
				return cli.Usage("say where the request goes: -o request.json, --code or --qr FILE.png")
			}
			rep, err := g.collect(product)
			if err != nil {
				return err
			}
			if rep.Virtualization.Virtual() && !g.allowVirtual {
				return refusal(rep.Virtualization)
			}
			req, err := hwid.NewRequest(rep, product, customer, time.Now(), nil)
			if err != nil {
				return cli.Fail(cli.ExitError, err, "this machine has no usable hardware components; run as root, or send 'hwid dump' output to support")
			}
			return g.writeRequest(cmd, req, rep, output, qrFile, code)
		},
	}
	f := c.Flags()
	f.StringVar(&product, "product", "", "the `PRODUCT` the license is for (required)")
	f.StringVar(&customer, "customer", "", "the customer `ORG`, for the vendor's records")
	f.StringVarP(&output, "output", "o", "", "write the request to `FILE` (JSON)")
	f.BoolVar(&code, "code", false, "print the request as a typed code")
	f.StringVar(&qrFile, "qr", "", "write the typed code as a QR code to `FILE.png` (- draws it on the terminal)")
	return c
}

func (g *globals) writeRequest(cmd *cobra.Command, req *hwid.Request, rep *hwid.Report, output, qrFile string, code bool) error {
	out := cmd.OutOrStdout()
	data, err := req.Marshal()
	if err != nil {
		return err
	}
	text, err := req.Code()
	if err != nil {
		return err
	}
	if output != "" {
		if err := atomicfile.Write(output, data, 0o644); err != nil {
			return cli.Fail(cli.ExitError, err, "check that the directory exists and is writable")
		}
	}
	var term string
	switch qrFile {
	case "":
	case "-":
		if term, err = qrcode.Terminal(text); err != nil {
			return cli.Fail(cli.ExitError, err, "use -o request.json or --code instead")
		}
	default:
		png, err := qrcode.PNG(text, 0)
		if err != nil {
			return cli.Fail(cli.ExitError, err, "use -o request.json or --code instead")
		}
		if err := atomicfile.Write(qrFile, png, 0o644); err != nil {
			return cli.Fail(cli.ExitError, err, "check that the directory exists and is writable")
		}
	}
	if g.root != "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "hwid: warning: the request describes the facts tree %s, not this machine\n", g.root)
	}
	if rep.Virtualization.Virtual() {
		fmt.Fprintf(cmd.ErrOrStderr(), "hwid: hint: the request is marked %s (%s): the vendor must allow virtual machines\n", rep.Virtualization.Type, rep.Virtualization.Technology)
	}
	if !rep.RootRead {
		fmt.Fprintf(cmd.ErrOrStderr(), "hwid: hint: not run as root: %s are not in the request; run as root for a stronger binding\n", strings.Join(rep.Unread, ", "))
	}
	if g.json {
		j := map[string]any{"request": req}
		if output != "" {
			j["file"] = output
		}
		if code {
			j["code"] = text
		}
		if qrFile != "" && qrFile != "-" {
			j["qr"] = qrFile
		}
		return cli.JSON(out, j)
	}
	if code {
		fmt.Fprintln(out, text)
	}
	if term != "" {
		fmt.Fprint(out, term)
	}
	if output != "" && !code && term == "" {
		fmt.Fprintf(out, "%s: license request for %s, fingerprint %s, %d components (%d of weight %d must match)\n",
			output, req.Product, req.Fingerprint.ID(), len(req.Fingerprint.Components), req.Fingerprint.Need, req.Fingerprint.Total())
	}
	return nil
}

func (g *globals) dumpCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "dump -o facts.tar.gz",
		Short: "Save every raw fact read, for support",
		Long: `dump saves every file hwid reads (DMI, /proc, /sys, /etc/machine-id), the
directories it lists and cpuid.json (the CPUID values) as a tar.gz archive
laid out like /. Support unpacks it and replays it with 'hwid --root DIR'.

The archive holds serial numbers and MAC addresses in clear: send it only to
the vendor's support. It is written on virtual machines too.`,
		Example: `  sudo hwid dump -o facts.tar.gz
  mkdir facts && tar -xzf facts.tar.gz -C facts && hwid --root facts`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" {
				return cli.Usage("-o is required: the archive to write (- for stdout)")
			}
			var buf bytes.Buffer
			rep, err := hwid.Dump(&buf, hwid.Options{Root: g.root})
			if err != nil {
				return cli.Fail(cli.ExitError, err, "check that --root names a directory laid out like /")
			}
			if output == "-" {
				_, err := cmd.OutOrStdout().Write(buf.Bytes())
				return err
			}
			if err := atomicfile.Write(output, buf.Bytes(), 0o600); err != nil {
				return cli.Fail(cli.ExitError, err, "check that the directory exists and is writable")
			}
			if g.json {
				return cli.JSON(cmd.OutOrStdout(), map[string]any{"file": output, "bytes": buf.Len(), "virtualization": rep.Virtualization})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d bytes; virtualization %s (%s)\n", output, buf.Len(), rep.Virtualization.Type, rep.Virtualization.Technology)
			return nil
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "write the archive to `FILE` (- for stdout)")
	return c
}
