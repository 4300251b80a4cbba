package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/usagereport"
)

// reportRules map usage-report errors to exit codes and hints.
var reportRules = []cli.Rule{
	{Err: usagereport.ErrMalformed, Code: cli.ExitMalformed, Hint: "give the file license-server report wrote, whole"},
	{Err: usagereport.ErrChain, Code: cli.ExitDamaged, Hint: "the usage records were changed, removed, reordered or added after the server signed them: ask the customer for a report straight from the server"},
	{Err: usagereport.ErrEdited, Code: cli.ExitDamaged, Hint: "the report was edited after the server wrote it: ask the customer for the original file"},
	{Err: usagereport.ErrOtherServer, Code: cli.ExitUntrustedKey, Hint: "the report was not signed by the server licensed for this customer: check the serial, and ask for the report of that server"},
	{Err: usagereport.ErrLicense, Code: cli.ExitUntrustedKey, Hint: "the server license in the report was not signed by your keys (--pub)"},
	{Err: usagereport.ErrRangeCut, Code: cli.ExitIncomplete, Hint: "the report does not cover the period it claims: ask for a report of the whole period (license-server report --from ... --to ...)"},
}

func reportCmd() *cobra.Command {
	c := &cobra.Command{Use: "report", Short: "Check usage reports from license servers",
		Long: `report checks the signed usage reports customers' license servers write
('license-server report'): the true-up of seats used, per product and day.`,
		Example: "  issue report verify acme-2026-11.report --pub vendor.pub"}
	c.AddCommand(reportVerifyCmd())
	return c
}

func reportVerifyCmd() *cobra.Command {
	var pubs []string
	var serial, previous string
	var asJSON bool
	c := &cobra.Command{
		Use:   "verify FILE --pub VENDOR.pub [--serial SERIAL] [--previous OLD.report] [--json]",
		Short: "Verify a license server's usage report and print its summary",
		Long: `verify checks a usage report written by 'license-server report' offline
(docs/spec/usage-report-v1.md) and prints, per product and per day, the peak
of seats held at once, the seat-hours, the checkouts refused for lack of a
seat, the demo answers, and the users and sessions seen.

It checks the server licenses in the report with your public keys (--pub),
the heads the server signed with the response key those licenses name, every
record's place in the hash chain between them, the checkpoints the server
stored in its log, the report's own signature, that the signed heads reach
over the whole period, and the summary against the records. A report
edited, a record changed, deleted, reordered or inserted, a head swapped,
a report from another server (--serial names the license you expect) or a
period cut short is refused with what was wrong.

The response key lives on the customer's server. --previous gives the last
report you accepted from that server: the new one must continue its log, so
nothing already reported can be rewritten, and no records are skipped.

Security: a customer who extracts the server's response key could sign a
made-up log for a period not yet reported; keep every report and verify
each against the previous one.`,
		Example: `  issue report verify acme-2026-11.report --pub vendor.pub --serial 7K3M-Q9TX-4HZP-2W8R
  issue report verify acme-2026-12.report --pub vendor.pub --previous acme-2026-11.report --json`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(pubs) == 0 {
				return cli.Usage("give your public key with --pub VENDOR.pub (repeat it for several keys)")
			}
			ring := keys.NewKeyring()
			for _, p := range pubs {
				data, err := readFile(cmd, "--pub", p, fileio.LimitPublicKey, "vendor public key (NAME.pub)")
				if err != nil {
					return err
				}
				if keys.IsPrivate(data) {
					return cli.Fail(cli.ExitUsage, fmt.Errorf("--pub %s is a private key", p), "give NAME.pub, the public half")
				}
				k, err := keys.ParsePublic(data)
				if err != nil {
					return cli.Fail(cli.ExitMalformed, fmt.Errorf("--pub %s: %w", p, err), "give NAME.pub as issue keygen wrote it")
				}
				ring.Add(k)
			}
			opts := usagereport.VerifyOptions{Keyring: ring, Serial: serial}
			if previous != "" {
				prev, err := verifyReportFile(previous, usagereport.VerifyOptions{Keyring: ring})
				if err != nil {
					return cli.Classify(fmt.Errorf("--previous: %w", err), reportRules)
				}
				h := prev.EndHead()
				opts.Previous = &h
			}
			res, err := verifyReportFile(args[0], opts)
			if err != nil {
				return cli.Classify(err, reportRules)
			}
			if asJSON {
				return cli.JSON(cmd.OutOrStdout(), res)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "usage report %s: verified\n", safetext.Clean(args[0]))
			fmt.Fprintf(out, "period     %s to %s\n", res.From.UTC().Format(time.RFC3339), res.To.UTC().Format(time.RFC3339))
			for _, l := range res.Licenses {
				fmt.Fprintf(out, "license    %s  %s  %s  %d seats  nodes %v\n", safetext.Clean(l.Serial), safetext.Clean(l.Product), safetext.Clean(l.Customer), l.Seats, l.Nodes)
			}
			fmt.Fprintf(out, "records    seq %d to %d (%d), %d checkpoints, closing head signed %s by %s\n\n",
				res.Anchor.Seq+1, res.End.Seq, res.Records, res.Checkpoints, res.End.Time.UTC().Format(time.RFC3339), res.Key)
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "DAY\tPRODUCT\tPEAK\tSEAT-HOURS\tREFUSED\tDEMO\tUSERS\tSESSIONS")
			for _, d := range res.Days {
				fmt.Fprintf(w, "%s\t%s\t%d\t%.2f\t%d\t%d\t%d\t%d\n", d.Day, safetext.Clean(d.Product), d.Peak, d.SeatHours(), d.Refusals, d.Demo, d.Users, d.Sessions)
			}
			return w.Flush()
		},
	}
	c.Flags().StringArrayVar(&pubs, "pub", nil, "your public key `FILE` (NAME.pub); repeat for several")
	c.Flags().StringVar(&serial, "serial", "", "the `SERIAL` of the server license the report must come from")
	c.Flags().StringVar(&previous, "previous", "", "the last accepted report `FILE` of the same server: this one must continue it")
	c.Flags().BoolVar(&asJSON, "json", false, "print the verified summary as JSON")
	return c
}

// verifyReportFile opens a regular file and verifies it, streaming.
func verifyReportFile(path string, opts usagereport.VerifyOptions) (*usagereport.Result, error) {
	// Opened without blocking: a FIFO is refused below, never waited on.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New(safetext.Clean(path) + " is not a regular file: give the report file")
	}
	return usagereport.Verify(f, safetext.Clean(path), opts)
}
