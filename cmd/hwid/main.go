// Command hwid prints this machine's hardware ID for offline licenses,
// refuses virtual machines and containers, writes license requests, and
// saves the raw facts for support.
//
// Exit codes are the one table of every airseal binary (internal/cli):
// 0 ok, 1 error (including a machine with no usable component), 2 usage,
// 16 refused (a virtual machine or a container, without --allow-virtual).
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/internal/qrcode"
	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/pkg/fingerprint"
	"github.com/airseal/airseal/pkg/hwid"
	"github.com/airseal/airseal/pkg/hwid/dump"
)

func main() { os.Exit(run()) }

func run() int {
	// The binary owns its process: clear the variables that would point
	// gopsutil-based tools it might start at a fake tree. (hwid itself never
	// reads them; the library leaves the environment alone.)
	hwid.ClearRedirection()
	return cli.Main(newRoot())
}

type globals struct {
	json         bool
	allowVirtual bool
	root         string
	product      string
}

// tolerance explains what a customer can do about a binding that survives
// no change.
const tolerance = "a license bound with this rule breaks when any one component changes (a replaced disk or network card, a disk serial that a hypervisor or RAID controller reports differently); run hwid as root to read more components (SMBIOS UUID and serials), or ask the vendor for a looser rule"

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "hwid [--json] [--allow-virtual] [--root DIR] [--product PRODUCT]",
		Short: "Print this machine's hardware ID; refuse virtual machines and containers",
		Long: `hwid identifies the physical machine it runs on, for binding offline licenses.

It decides whether this is bare metal, a virtual machine or a container (as
systemd-detect-virt names them) and prints the fingerprint: hashed hardware
components with weights, and how many must still match (k of n), so that one
replaced disk or network card does not break a license.

On a virtual machine or container hwid exits 16 and says what it found. Run
it on the physical server, or, if the vendor's license allows virtual
machines, pass --allow-virtual. A machine with no usable component exits 1.

When the rule needs every component (a machine with few of them), hwid warns:
one changed component would then break the license. Run it as root to read
more components, or ask the vendor for a looser rule.

The SMBIOS UUID and serial numbers can be read only by root; run as an
unprivileged user, hwid leaves them out and says so.`,
		Example: `  hwid                      # report this machine
  hwid --json               # the same as JSON
  sudo hwid request --product "Acme Writer" --customer "Example LLC" -o request.json
  hwid request --product "Acme Writer" --qr -     # a QR code on the terminal
  sudo hwid dump -o facts.tar.gz            # raw facts for support
  hwid --root facts/                        # replay an unpacked dump`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return g.report(cmd) },
	}
	pf := root.PersistentFlags()
	pf.BoolVar(&g.json, "json", false, "print JSON (on failure too)")
	pf.BoolVar(&g.allowVirtual, "allow-virtual", false, "accept a virtual machine or container (the result is marked virtual)")
	pf.StringVar(&g.root, "root", "", "read facts from `DIR`, a tree laid out like / (an unpacked dump), not from this machine")
	root.Flags().StringVar(&g.product, "product", "", "hash the components for `PRODUCT` (as a license request does)")
	root.AddCommand(g.requestCmd(), g.dumpCmd())
	return root
}

// checkText applies the license's text rule to a flag's value: a value the
// license would refuse is refused here, not repaired.
func checkText(flag, s string) error {
	if err := safetext.Check(flag, s); err != nil {
		return cli.Usage("%v (the same rule as in the license: valid UTF-8, at most %d bytes, no control or bidirectional formatting characters)", err, safetext.MaxLen)
	}
	return nil
}

func (g *globals) collect(product string) (*hwid.Report, error) {
	rep, err := hwid.Collect(hwid.Options{Root: g.root, Product: product})
	if err != nil {
		return nil, cli.Fail(cli.ExitError, err, "check that --root names a directory laid out like / (an unpacked dump)")
	}
	return rep, nil
}

// usable fails with exit 1 when the machine has no component to bind to.
func usable(rep *hwid.Report) error {
	if len(rep.Fingerprint.Components) > 0 {
		return nil
	}
	hint := "run hwid as root to read the SMBIOS UUID and serials, or send 'hwid dump' output to the vendor's support"
	return cli.Fail(cli.ExitError, errors.New("no usable components: this machine has no hardware component hwid can bind a license to"), hint)
}

// warnTolerance warns when the rule needs every component.
func warnTolerance(w io.Writer, f fingerprint.Fingerprint) {
	if total := f.Total(); total > 0 && f.Need >= total {
		fmt.Fprintf(w, "hwid: warning: the match rule needs all %d of weight %d: %s\n", f.Need, total, tolerance)
	}
}

// refusal is the error for a virtual machine or container.
func refusal(v hwid.Verdict) error {
	hint, err := refusalParts(v)
	return cli.Fail(cli.ExitVirtual, err, hint)
}

// refusalParts are the hint and the error of a refusal.
func refusalParts(v hwid.Verdict) (string, error) {
	what := "a virtual machine"
	if v.Type == hwid.TypeContainer {
		what = "a container"
	}
	var hint []string
	for _, e := range v.Evidence {
		hint = append(hint, "found: "+safetext.Clean(e))
	}
	hint = append(hint, "run hwid on the physical server, or ask the vendor for a license that allows virtual machines and add --allow-virtual")
	return strings.Join(hint, "\n"), fmt.Errorf("refused: this is %s (%s)", what, safetext.Clean(v.Technology))
}

func (g *globals) report(cmd *cobra.Command) error {
	if err := checkText("--product", g.product); err != nil {
		return err
	}
	rep, err := g.collect(g.product)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	v := rep.Virtualization
	if v.Virtual() && !g.allowVirtual {
		if g.json {
			// One JSON object: the shared failure fields and the verdict.
			hint, err := refusalParts(v)
			if jerr := cli.JSON(out, map[string]any{
				"status": cli.StatusOf(cli.ExitVirtual), "exit_code": cli.ExitVirtual,
				"error": err.Error(), "hint": hint, "virtualization": v,
			}); jerr != nil {
				return jerr
			}
			return cli.Reported(cli.ExitVirtual, err, hint)
		}
		return refusal(v)
	}
	if err := usable(rep); err != nil {
		return err
	}
	if g.json {
		if err := cli.JSON(out, rep); err != nil {
			return err
		}
	} else {
		writeReport(out, rep)
	}
	if !rep.RootRead {
		fmt.Fprintf(cmd.ErrOrStderr(), "hwid: hint: not run as root: %s were not read; run as root for a stronger ID (a license bound as root must be checked as root)\n", strings.Join(rep.Unread, ", "))
	}
	warnTolerance(cmd.ErrOrStderr(), rep.Fingerprint)
	return nil
}

func writeReport(w io.Writer, rep *hwid.Report) {
	v := rep.Virtualization
	fmt.Fprintf(w, "fingerprint     %s\n", rep.ID())
	switch v.Type {
	case hwid.TypeNone:
		fmt.Fprintf(w, "virtualization  none (bare metal)\n")
	default:
		fmt.Fprintf(w, "virtualization  %s (%s): VIRTUAL, accepted by --allow-virtual\n", v.Type, safetext.Clean(v.Technology))
	}
	for _, e := range v.Evidence {
		fmt.Fprintf(w, "  evidence      %s\n", safetext.Clean(e))
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
	fmt.Fprintf(w, "host            %s, %s\n", safetext.Clean(rep.Hostname), safetext.Clean(rep.OS))
}

// writeFile writes an output file under the one rule (- is stdout, an
// existing file is refused without --force); errors name the user's path,
// never a temporary file beside it.
func writeFile(cmd *cobra.Command, path string, data []byte, perm os.FileMode, force bool) error {
	err := fileio.Write(cmd.OutOrStdout(), path, data, perm, force)
	if err == nil {
		return nil
	}
	if errors.Is(err, fileio.ErrExists) || errors.Is(err, fileio.ErrIsDir) {
		return cli.Fail(cli.ExitError, err, "")
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = fmt.Errorf("%s: %w", path, pe.Err)
	}
	return cli.Fail(cli.ExitError, err, "check that the directory exists and is writable")
}

// checkOutputs refuses, before any work, an output that exists.
func checkOutputs(force bool, paths ...string) error {
	for _, p := range paths {
		if p == "" {
			continue
		}
		if err := fileio.CheckOutput(p, force); err != nil {
			return cli.Fail(cli.ExitError, err, "")
		}
	}
	return nil
}

func (g *globals) requestCmd() *cobra.Command {
	var product, customer, output, qrFile string
	var code, force bool
	c := &cobra.Command{
		Use:   "request --product PRODUCT [--customer ORG] (-o FILE | --code | --qr FILE.png | --qr -)",
		Short: "Write a license request for the vendor",
		Long: `request writes what the vendor's 'issue license --request' reads: the
fingerprint (hashed components and the match rule), the virtualization
verdict, host name, OS, a random nonce and the time.

-o FILE writes the request file (JSON); -o - prints it. An existing file is
refused unless --force.

Where no file may leave the site, --code prints the same request as a typed
code (ASR1-...) and --qr draws it as a QR code, to a PNG file or, with --qr -,
on the terminal. The code leaves out the evidence lines. A request code is
long (about 430 characters with 3 components, 610 with 7, 780 with 11): it
is meant for a QR code, or for copying and pasting; reading it aloud takes
several minutes. Typos are caught and located by group when it is typed.

--product and --customer follow the license's text rule: valid UTF-8, at most
256 bytes, no control or bidirectional formatting characters.

Run it as root: the SMBIOS UUID and serials are root-only, and a request made
without them binds the license to fewer components. When the rule needs every
component, hwid warns that one change would break the license.`,
		Example: `  sudo hwid request --product "Acme Writer" --customer "Example LLC" -o request.json
  sudo hwid request --product "Acme Writer" -o request.json --code --qr request.png
  sudo hwid request --product "Acme Writer" --qr -        # QR code on the terminal
  sudo hwid request --product "Acme Writer" -o - | ssh vendor 'cat > request.json'`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(product) == "" {
				return cli.Usage("--product is required: the product the license is for")
			}
			if err := checkText("--product", product); err != nil {
				return err
			}
			if err := checkText("--customer", customer); err != nil {
				return err
			}
			if output == "" && !code && qrFile == "" {
				return cli.Usage("say where the request goes: -o request.json (- for stdout), --code, --qr FILE.png or --qr -")
			}
			qrOut := qrFile
			if qrOut == "-" {
				qrOut = ""
			}
			if err := checkOutputs(force, output, qrOut); err != nil {
				return err
			}
			rep, err := g.collect(product)
			if err != nil {
				return err
			}
			if rep.Virtualization.Virtual() && !g.allowVirtual {
				return refusal(rep.Virtualization)
			}
			if err := usable(rep); err != nil {
				return err
			}
			req, err := hwid.NewRequest(rep, product, customer, time.Now(), nil)
			if err != nil {
				return cli.Fail(cli.ExitError, err, "run as root, or send 'hwid dump' output to the vendor's support")
			}
			return g.writeRequest(cmd, req, rep, output, qrFile, code, force)
		},
	}
	f := c.Flags()
	f.StringVar(&product, "product", "", "the `PRODUCT` the license is for (required)")
	f.StringVar(&customer, "customer", "", "the customer `ORG`, for the vendor's records")
	f.StringVarP(&output, "output", "o", "", "write the request to `FILE` (JSON; - for stdout)")
	f.BoolVar(&code, "code", false, "print the request as a typed code (long: for copy and paste)")
	f.StringVar(&qrFile, "qr", "", "write the typed code as a QR code to `FILE.png`; - draws it on the terminal")
	f.BoolVar(&force, "force", false, "replace existing output files")
	return c
}

func (g *globals) writeRequest(cmd *cobra.Command, req *hwid.Request, rep *hwid.Report, output, qrFile string, code, force bool) error {
	out := cmd.OutOrStdout()
	stderr := cmd.ErrOrStderr()
	data, err := req.Marshal()
	if err != nil {
		return err
	}
	text, err := req.Code()
	if err != nil {
		return err
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
		if err := writeFile(cmd, qrFile, png, 0o644, force); err != nil {
			return err
		}
	}
	if output != "" {
		if err := writeFile(cmd, output, data, 0o644, force); err != nil {
			return err
		}
	}
	if g.root != "" {
		fmt.Fprintf(stderr, "hwid: warning: the request describes the facts tree %s, not this machine\n", g.root)
	}
	if rep.Virtualization.Virtual() {
		fmt.Fprintf(stderr, "hwid: hint: the request is marked %s (%s): the vendor must allow virtual machines\n", rep.Virtualization.Type, safetext.Clean(rep.Virtualization.Technology))
	}
	if !rep.RootRead {
		fmt.Fprintf(stderr, "hwid: hint: not run as root: %s are not in the request; run as root for a stronger binding\n", strings.Join(rep.Unread, ", "))
	}
	warnTolerance(stderr, req.Fingerprint)
	if g.json {
		if output == "-" {
			return nil // stdout holds the request itself
		}
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
	if output != "" && output != "-" && !code && term == "" {
		fmt.Fprintf(out, "%s: license request for %s, fingerprint %s, %d components (%d of weight %d must match)\n",
			output, req.Product, req.Fingerprint.ID(), len(req.Fingerprint.Components), req.Fingerprint.Need, req.Fingerprint.Total())
	}
	return nil
}

func (g *globals) dumpCmd() *cobra.Command {
	var output string
	var force bool
	c := &cobra.Command{
		Use:   "dump -o FILE.tar.gz",
		Short: "Save the raw facts hwid reads, for support",
		Long: `dump saves the files hwid reads (DMI, /proc, /sys, /etc/machine-id), the
directories it lists and cpuid.json (the CPUID values) as a tar.gz archive
laid out like /. Support unpacks it and replays it with 'hwid --root DIR'.

Files that hold more than hardware facts are cut down to what hwid reads
from them: of PID 1's environment only the container= variable is kept (not
the passwords and tokens a container may be started with); of
/proc/self/status the TracerPid line; of /etc/os-release PRETTY_NAME; of the
udev database the disk bus, serial and model.

The archive holds serial numbers, MAC addresses, the machine-id and the host
name in clear (support needs them to replay the fingerprint): send it only
to the vendor's support. It is written on virtual machines too. -o - writes
it to stdout; an existing file is refused unless --force.`,
		Example: `  sudo hwid dump -o facts.tar.gz
  mkdir facts && tar -xzf facts.tar.gz -C facts && hwid --root facts
  sudo hwid dump -o - | ssh support@vendor 'cat > facts.tar.gz'`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output == "" {
				return cli.Usage("-o is required: the archive to write (- for stdout)")
			}
			if err := checkOutputs(force, output); err != nil {
				return err
			}
			var buf bytes.Buffer
			rep, err := dump.Write(&buf, hwid.Options{Root: g.root})
			if err != nil {
				return cli.Fail(cli.ExitError, err, "check that --root names a directory laid out like /")
			}
			if err := writeFile(cmd, output, buf.Bytes(), 0o600, force); err != nil {
				return err
			}
			if output == "-" {
				return nil
			}
			if g.json {
				return cli.JSON(cmd.OutOrStdout(), map[string]any{"file": output, "bytes": buf.Len(), "virtualization": rep.Virtualization})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d bytes; virtualization %s (%s)\n", output, buf.Len(), rep.Virtualization.Type, safetext.Clean(rep.Virtualization.Technology))
			return nil
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "write the archive to `FILE` (- for stdout)")
	c.Flags().BoolVar(&force, "force", false, "replace an existing archive")
	return c
}
