package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/internal/typedcode"
	"github.com/airseal/airseal/pkg/hwid"
	"github.com/airseal/airseal/pkg/issuer"
	"github.com/airseal/airseal/pkg/license"
)

// readRequests reads every --request (a file, stdin or a typed code) and
// says whether they are server requests. Machine and server requests are
// never mixed, and only server requests may be repeated (one per node).
func readRequests(cmd *cobra.Command, paths []string) (data [][]byte, server bool, err error) {
	if len(paths) > license.MaxNodes {
		return nil, false, cli.Usage("--request given %d times; a server license names at most %d nodes (docs/spec/license-v2.md)", len(paths), license.MaxNodes)
	}
	seen := map[string]bool{}
	var firstServer, firstMachine string
	for _, p := range paths {
		if seen[p] {
			return nil, false, cli.Usage("--request %s is given twice; each node of a cluster has its own server-request.json", p)
		}
		seen[p] = true
		var d []byte
		if typedcode.IsArg(p, hwid.CodePrefix) {
			d = []byte(p) // a typed code, however typed
		} else if d, err = readFile(cmd, "--request", p, fileio.LimitRequest, "license request"); err != nil {
			return nil, false, err
		}
		if issuer.IsServerRequest(d) {
			if firstServer == "" {
				firstServer = p
			}
		} else if firstMachine == "" {
			firstMachine = p
		}
		data = append(data, d)
	}
	switch {
	case firstServer != "" && firstMachine != "":
		return nil, false, cli.Usage("--request %s is a server request (license-server init) but --request %s is a machine request (hwid request): a license is either for a seat server or for one machine; issue them separately", clean(firstServer), clean(firstMachine))
	case firstMachine != "" && len(paths) > 1:
		return nil, false, cli.Usage("--request is given %d times: a client license binds one machine; repeat --request only with the server-request.json of each node of a license-server cluster", len(paths))
	}
	return data, firstServer != "", nil
}

// issueServerLicense issues a server license (format v2) from one server
// request or several (one per node of a cluster).
func issueServerLicense(cmd *cobra.Command, f *licenseFlags, comment *string, data [][]byte) error {
	if f.code || f.qr != "" {
		return cli.Usage("--code and --qr are for a client license; a server license is installed from its file (license-server license add FILE): give -o FILE")
	}
	var unit license.SeatUnit
	switch f.seatUnit {
	case "", "session":
		unit = license.PerSession
	case "computer":
		unit = license.PerComputer
	default:
		return cli.Usage("--seat-unit (seat_unit): %q is not session or computer", f.seatUnit)
	}
	reqs := make([]*license.ServerRequest, len(data))
	for i, d := range data {
		r, err := license.ParseServerRequest(d)
		if err != nil {
			return cli.Fail(cli.ExitMalformed, fmt.Errorf("--request %s: %w", clean(f.request[i]), err),
				"ask for a new server-request.json written by 'license-server init' on that server")
		}
		reqs[i] = r
	}
	o, err := licenseOrder(f, comment, nil)
	if err != nil {
		return err
	}
	o.AllowVirtual = f.allowVirtual
	d, err := issuer.PrepareCluster(o, reqs, f.request, unit, now())
	if err != nil {
		return fieldError(err, map[string]string{"request": strings.Join(f.request, ", ")})
	}
	if err := fileio.CheckOutput(f.out, f.force); err != nil {
		hint := "move it away, choose another name, or add --force"
		if errors.Is(err, fileio.ErrIsDir) {
			hint = ""
		}
		return cli.Fail(cli.ExitError, err, hint)
	}
	stderr := cmd.ErrOrStderr()
	printServerBinding(stderr, d)
	k, err := loadKey(cmd, f.key, f.passFile)
	if err != nil {
		return err
	}
	lg := ledgerFor(f.ledger, f.key)
	is := &issuer.Issuer{Key: k, Ledger: lg}
	out, err := is.IssueServer(d)
	if err != nil {
		var fe *issuer.FieldError
		if errors.As(err, &fe) {
			return fieldError(err, map[string]string{"request": strings.Join(f.request, ", ")})
		}
		return cli.Fail(cli.ExitError, err, "nothing was issued; fix the ledger (or give --ledger FILE) and run again")
	}
	s := out.License
	stdout := cmd.OutOrStdout()
	if f.out != "" {
		again := fmt.Sprintf("the license %s is in the ledger; write it again with: issue show %s -o FILE", s.Serial, s.Serial)
		if err := fileio.Write(stdout, f.out, out.Armored, 0o644, f.force); err != nil {
			return cli.Fail(cli.ExitError, err, again)
		}
	}
	if f.asJSON {
		return cli.JSON(stdout, map[string]any{
			"serial": s.Serial, "file": f.out, "ledger": lg.Path, "format": 2, "license": &s.License,
			"seat_unit": s.SeatUnit.String(), "nodes": d.Nodes, "warnings": nonNil(d.Warnings),
		})
	}
	if f.out == "" {
		stdout.Write(out.Armored)
	}
	names := make([]string, len(s.Nodes))
	for i, n := range s.Nodes {
		names[i] = n.Name
	}
	fmt.Fprintf(stderr, "issue: signed server license %s for %s (%s, %d seats per %s, nodes %s), key %s\n",
		s.Serial, clean(s.Customer.Name), clean(s.Product), s.Seats, s.SeatUnit, strings.Join(names, ", "), s.KeyID)
	return nil
}

// printServerBinding shows the vendor each node (its name, response key
// and machine binding) and the warnings, before the passphrase is asked for.
func printServerBinding(w io.Writer, d *issuer.ServerDraft) {
	s := d.License
	fmt.Fprintf(w, "issue: server license (format v2), %d seats per %s for the whole server, %d node(s)\n", s.Seats, s.SeatUnit, len(d.Nodes))
	for _, n := range d.Nodes {
		fmt.Fprintf(w, "issue: node %s (%s): response key %s\n", n.Node, clean(n.Source), n.ResponseKeyID)
		if b := n.Binding; b != nil {
			fmt.Fprintf(w, "issue:   binding to machine %s: %s\n", b.MachineID, b)
			for _, c := range b.Components {
				root := ""
				if c.NeedsRoot {
					root = " (read as root)"
				}
				fmt.Fprintf(w, "issue:     %-14s weight %d%s\n", c.Name, c.Weight, root)
			}
		}
	}
	for _, warn := range d.Warnings {
		fmt.Fprintf(w, "issue: WARNING: %s\n", warn)
	}
}
