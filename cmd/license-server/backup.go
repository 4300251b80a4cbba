package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/internal/seatserver"
)

func newBackup() *cobra.Command {
	g := &globals{}
	var out string
	c := &cobra.Command{
		Use:   "backup -o FILE --dir DIR",
		Short: "Copy the server's database, also while the server runs",
		Long: `backup writes a consistent copy of DIR/state.db (licenses, leases, tokens,
devices, settings and the usage log) to FILE, also while the server runs:
SQLite's VACUUM INTO copies one snapshot between two commits. The copy is
then checked (SQLite's integrity check, the state loads, the usage log's
hash chain holds) and removed if it fails. FILE is created 0600 and never
replaced. Keep the response key (DIR/response.key) and its passphrase
apart: the copy holds no key.

Restoring an older copy takes the usage log back; the vendor sees that
when the next usage report is checked against the previous one.`,
		Example: `  license-server backup -o /backup/license-server-$(date +%F).db --dir DIR`,
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := g.serverDir()
			if err != nil {
				return err
			}
			if d.DB != "" {
				return cli.Usage("--db: the state of a cluster is in PostgreSQL; back it up and restore it with PostgreSQL's own tools (pg_dump, pg_basebackup, a streaming standby)")
			}
			if out == "" {
				return cli.Usage("-o FILE is required")
			}
			if !d.Initialized() {
				return classify(fmt.Errorf("%w: %s has no response.key; create it with license-server init --dir %s", seatserver.ErrNotInitialized, d.Path, d.Path))
			}
			res, err := seatserver.Backup(context.Background(), d.StorePath(), out)
			if err != nil {
				return cli.Fail(cli.ExitError, err, "check that -o names a new file on a writable disk")
			}
			return printBackup(cmd, g, "backed up", res)
		},
	}
	addDir(c, g)
	addJSON(c, g)
	c.Flags().StringVarP(&out, "output", "o", "", "write the copy to `FILE` (must not exist)")
	return c
}

func newRestore() *cobra.Command {
	g := &globals{}
	c := &cobra.Command{
		Use:   "restore FILE --dir DIR",
		Short: "Put a backup in place of the server's database (server stopped)",
		Long: `restore checks FILE as backup does and puts it in place of DIR/state.db. The
server must be stopped: restore takes the directory's lock and refuses
(exit 27) while the server holds it. The database it replaces is kept
beside it as state.db.before-restore-TIME (with its WAL). After a restore
the server starts with the copy's leases and opens its reclaim window as
after any restart.`,
		Example: `  systemctl stop license-server
  license-server restore /backup/license-server-2026-12-01.db --dir DIR
  systemctl start license-server`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := g.serverDir()
			if err != nil {
				return err
			}
			if d.DB != "" {
				return cli.Usage("--db: the state of a cluster is in PostgreSQL; back it up and restore it with PostgreSQL's own tools (pg_dump, pg_basebackup, a streaming standby)")
			}
			if !d.Initialized() {
				return classify(fmt.Errorf("%w: %s has no response.key; create it with license-server init --dir %s", seatserver.ErrNotInitialized, d.Path, d.Path))
			}
			res, err := seatserver.Restore(context.Background(), d, args[0], time.Now())
			if errors.Is(err, seatserver.ErrBusy) {
				return classify(err)
			} else if errors.Is(err, seatserver.ErrBadBackup) {
				return cli.Fail(cli.ExitDamaged, err, "give a file license-server backup wrote; nothing was changed")
			} else if err != nil {
				return cli.Fail(cli.ExitError, err, "")
			}
			auditCLI(d, "restore store", safetext.Clean(args[0]))
			if res.Previous != "" && !g.json {
				fmt.Fprintf(cmd.ErrOrStderr(), "license-server: the replaced database is kept as %s\n", safetext.Clean(res.Previous))
			}
			return printBackup(cmd, g, "restored", res)
		},
	}
	addDir(c, g)
	addJSON(c, g)
	return c
}

func printBackup(cmd *cobra.Command, g *globals, what string, res any) error {
	if g.json {
		return cli.JSON(cmd.OutOrStdout(), res)
	}
	var b *seatserver.BackupResult
	switch r := res.(type) {
	case *seatserver.BackupResult:
		b = r
	case *seatserver.RestoreResult:
		b = &r.BackupResult
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s %s: %d bytes, %d licenses, %d leases, usage log of %d records (head %d), chain checked\n",
		what, safetext.Clean(b.File), b.Bytes, b.Licenses, b.Leases, b.Records, b.Head)
	return nil
}
