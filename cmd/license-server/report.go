package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/atomicfile"
	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/internal/seatserver"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/usagereport"
)

func newReport() *cobra.Command {
	g := &globals{}
	var from, to, out string
	var force bool
	c := &cobra.Command{
		Use:   "report --from TIME [--to TIME] -o FILE --dir DIR",
		Short: "Write the signed true-up report of the usage log for the vendor",
		Long: `report writes the usage report the vendor asks for (docs/spec/usage-report-v1.md):
per product and per UTC day, the peak of seats held at once, the seat-hours,
the checkouts refused for lack of a seat, and the users and sessions seen;
with every usage-log record from the last head the server signed before
--from up to now, the heads signed on the way, and the installed server
licenses that certify the server's response key. Carry the file to the
vendor, who checks it offline with 'issue report verify': a record changed,
removed, reordered or added, a head swapped, a period trimmed, or a report
of another server is refused.

The server signs its log's head every 10 minutes while it serves and at
shutdown; report signs the current head too and stores it, so the next
report can continue from it. report reads the log also while the server
runs, streaming (memory does not grow with the log), and needs the
response key (--passphrase-file or $AIRSEAL_PASSPHRASE).`,
		Example: `  license-server report --from 2026-11-01 --to 2026-12-01 -o acme-2026-11.report --dir DIR
  license-server report --from 2026-11-01 -o - --dir DIR > usage.report`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := g.serverDir()
			if err != nil {
				return err
			}
			now := time.Now()
			tFrom, err := license.ParseTime(from)
			if from == "" || err != nil {
				return cli.Usage("--from %q: give the period's first day or time (RFC 3339 or YYYY-MM-DD)", from)
			}
			tTo := now
			if to != "" {
				if tTo, err = license.ParseTime(to); err != nil {
					return cli.Usage("--to %q: %v", to, err)
				}
			}
			if !tFrom.Before(tTo) {
				return cli.Usage("--from %s is not before --to %s", from, tTo.UTC().Format(time.RFC3339))
			}
			if tTo.After(now) {
				return cli.Usage("--to %s is in the future: a report covers only what has happened (leave --to out for now)", tTo.UTC().Format(time.RFC3339))
			}
			if out == "" {
				return cli.Usage("-o FILE is required (- for standard output)")
			}
			if err := fileio.CheckOutput(out, force); err != nil {
				return cli.Fail(cli.ExitError, err, "")
			}
			pass, err := g.passphrase(false)
			if err != nil {
				return err
			}
			key, err := d.PrivateKey(pass)
			if err != nil {
				return classify(err)
			}
			o, err := open(d, g, false)
			if err != nil {
				return err
			}
			lics := o.srv.ServerLicences()
			if len(lics) == 0 {
				o.close()
				return cli.Fail(cli.ExitNotInstalled, fmt.Errorf("%s has no server license installed: the report needs one to name the server", d.Path),
					"install the vendor's server license with license-server license add")
			}
			w, commit, err := reportOutput(cmd, out)
			if err != nil {
				o.close()
				return cli.Fail(cli.ExitError, err, "check that the directory of -o is writable")
			}
			res, err := seatserver.WriteReport(context.Background(), o.store, w, seatserver.ReportOptions{From: tFrom, To: tTo, Now: now, Key: key, Licenses: lics})
			err = commit(err)
			if cerr := o.close(); err == nil {
				err = cerr
			}
			if errors.Is(err, usagereport.ErrChain) {
				return cli.Fail(cli.ExitDamaged, err, "the usage log in "+d.StorePath()+" does not verify against its own chain: it was edited or damaged; nothing was written")
			} else if err != nil {
				return cli.Fail(cli.ExitError, err, "nothing was written")
			}
			if g.json {
				return cli.JSON(cmd.OutOrStdout(), res)
			}
			tw := tabwriter.NewWriter(cmd.ErrOrStderr(), 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "report of %s to %s: records %d to %d, head signed by %s\n", res.From.Format(time.RFC3339), res.To.Format(time.RFC3339), res.FirstSeq, res.LastSeq, res.Key)
			printDays(tw, res.Days)
			return tw.Flush()
		},
	}
	addDir(c, g)
	addRoot(c, g)
	addPass(c, g)
	addJSON(c, g)
	f := c.Flags()
	f.StringVar(&from, "from", "", "first `TIME` of the period (RFC 3339 or YYYY-MM-DD, UTC)")
	f.StringVar(&to, "to", "", "end `TIME` of the period, excluded (default now)")
	f.StringVarP(&out, "output", "o", "", "write the report to `FILE` (- for standard output)")
	f.BoolVar(&force, "force", false, "replace an existing -o file")
	return c
}

// reportOutput opens the report's destination: a temporary file renamed
// over FILE only when the report is complete, or stdout.
func reportOutput(cmd *cobra.Command, path string) (w interface{ Write([]byte) (int, error) }, commit func(error) error, err error) {
	if fileio.IsStdio(path) {
		return cmd.OutOrStdout(), func(err error) error { return err }, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, nil, err
	}
	return tmp, func(err error) error {
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chmod(tmp.Name(), 0o644)
		}
		if err == nil {
			err = os.Rename(tmp.Name(), path)
		}
		if err != nil {
			os.Remove(tmp.Name())
			return err
		}
		return atomicfile.SyncDir(filepath.Dir(path))
	}, nil
}

// printDays prints a report summary as a table.
func printDays(w *tabwriter.Writer, days []usagereport.Day) {
	fmt.Fprintln(w, "DAY\tPRODUCT\tPEAK\tSEAT-HOURS\tREFUSED\tDEMO\tUSERS\tSESSIONS")
	for _, d := range days {
		fmt.Fprintf(w, "%s\t%s\t%d\t%.2f\t%d\t%d\t%d\t%d\n", d.Day, safetext.Clean(d.Product), d.Peak, d.SeatHours(), d.Refusals, d.Demo, d.Users, d.Sessions)
	}
}
