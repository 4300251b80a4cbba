package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/internal/seatserver"
	"github.com/airseal/airseal/internal/users"
)

// initialAdmin is the user `license-server init` creates.
const initialAdmin = "admin"

// ensureAdmin creates the first admin with a one-time random password
// when the server has no user yet, and prints the password once (on
// stderr: stdout may be --json). It does nothing when users exist.
func ensureAdmin(d seatserver.Dir, stderr io.Writer) (string, error) {
	us, err := users.OpenFile(d.UsersPath())
	if err != nil {
		return "", cli.Fail(cli.ExitError, err, "restore "+d.UsersPath()+" from a backup, or move it away")
	}
	all, err := us.List()
	if err != nil || len(all) > 0 {
		return "", err
	}
	pw, err := users.InitAdmin(us, initialAdmin)
	if err != nil {
		return "", err
	}
	auditCLI(d, "user add", initialAdmin+" (admin, one-time password)")
	fmt.Fprintf(stderr, "license-server: console user %q, one-time password: %s\n", initialAdmin, pw)
	fmt.Fprintf(stderr, "license-server: hint: it is shown only now; the first console login must change it\n")
	return pw, nil
}

func newUser() *cobra.Command {
	c := &cobra.Command{Use: "user", Short: "People who log in to the console and the API (admin, integration, device, viewer)",
		Long: `user manages DIR/users.json: people with a name, a role and an argon2id
password hash. Roles: admin (everything), integration (opens sessions for
others through the API), device (takes a seat for itself), viewer (reads the
console, changes nothing). A running server follows the file: a user added
works, and a user removed or given a new password loses its console
sessions and its old password, within about a second, without a restart.
Every change is written to the audit log.`,
		Example: `  license-server user add petrova --role viewer --dir DIR
  license-server user list --dir DIR`,
		Args: cli.NoArgs}
	c.AddCommand(newUserAdd(), newUserPasswd(), newUserRemove(), newUserList())
	return c
}

// readPassword reads a password from the first line of file ("-": stdin),
// or, when file is empty, makes a one-time random one.
func readPassword(stdin io.Reader, file string) (pw string, oneTime bool, err error) {
	if file == "" {
		pw, err := users.RandomPassword()
		return pw, true, err
	}
	b, err := fileio.ReadRegular(stdin, file, 4096, "password file")
	if err != nil {
		return "", false, cli.Fail(cli.ExitError, fmt.Errorf("--password-file: %w", err), "give a file whose first line is the password")
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimRight(line, "\r")
	if len(line) < users.MinPassword {
		return "", false, cli.Usage("--password-file: the password must have at least %d characters", users.MinPassword)
	}
	return line, false, nil
}

func openUsers(g *globals) (seatserver.Dir, *users.File, error) {
	d, err := g.serverDir()
	if err != nil {
		return d, nil, err
	}
	if !d.Initialized() {
		return d, nil, classify(fmt.Errorf("%w: %s has no response.key; create it with license-server init --dir %s", seatserver.ErrNotInitialized, d.Path, d.Path))
	}
	us, err := users.OpenFile(d.UsersPath())
	if err != nil {
		return d, nil, cli.Fail(cli.ExitError, err, "restore "+d.UsersPath()+" from a backup, or move it away")
	}
	return d, us, nil
}

// userResult is the --json answer of add and passwd.
type userResult struct {
	Name       string `json:"name"`
	Role       string `json:"role"`
	Password   string `json:"one_time_password,omitempty"`
	MustChange bool   `json:"must_change"`
}

func printOneTime(cmd *cobra.Command, g *globals, res userResult) error {
	if g.json {
		return cli.JSON(cmd.OutOrStdout(), res)
	}
	if res.Password != "" {
		fmt.Fprintf(cmd.OutOrStdout(), "%s\n", res.Password)
		fmt.Fprintf(cmd.ErrOrStderr(), "license-server: one-time password of %s shown above; the first console login must change it\n", res.Name)
	}
	return nil
}

func newUserAdd() *cobra.Command {
	g := &globals{}
	var role, pwFile string
	c := &cobra.Command{
		Use:   "add NAME --role admin|integration|device|viewer [--password-file F] --dir DIR",
		Short: "Add a user",
		Long: `add creates a user. Without --password-file a one-time random password is
printed (on stdout) and must be changed at the first console login. There is
no default password.`,
		Example: `  license-server user add petrova --role viewer --dir DIR
  license-server user add erp-integration --role integration --password-file pw.txt --dir DIR`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, us, err := openUsers(g)
			if err != nil {
				return err
			}
			r, err := users.ParseRole(role)
			if err != nil {
				return cli.Usage("--role: %v", err)
			}
			pw, oneTime, err := readPassword(cmd.InOrStdin(), pwFile)
			if err != nil {
				return err
			}
			if err := users.Add(us, args[0], r, pw); err != nil {
				return cli.Fail(cli.ExitUsage, err, "choose another name, or license-server user list --dir "+d.Path)
			}
			if oneTime {
				u, _ := us.Get(args[0])
				u.MustChange = true
				if err := us.Put(u); err != nil {
					return err
				}
			}
			auditCLI(d, "user add", fmt.Sprintf("%s (%s)", args[0], r))
			res := userResult{Name: args[0], Role: string(r), MustChange: oneTime}
			if oneTime {
				res.Password = pw
			}
			return printOneTime(cmd, g, res)
		},
	}
	addDir(c, g)
	addJSON(c, g)
	c.Flags().StringVar(&role, "role", "", "`ROLE`: admin, integration, device or viewer")
	c.Flags().StringVar(&pwFile, "password-file", "", "read the password from the first line of `FILE` (- for stdin)")
	return c
}

func newUserPasswd() *cobra.Command {
	g := &globals{}
	var pwFile string
	c := &cobra.Command{
		Use:   "passwd NAME [--password-file F] --dir DIR",
		Short: "Set a user's password (a forgotten one, or a new one-time password)",
		Long: `passwd sets a user's password. Without --password-file a new one-time
random password is printed and must be changed at the next console login.`,
		Example: `  license-server user passwd admin --dir DIR`,
		Args:    cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, us, err := openUsers(g)
			if err != nil {
				return err
			}
			pw, oneTime, err := readPassword(cmd.InOrStdin(), pwFile)
			if err != nil {
				return err
			}
			if err := users.Passwd(us, args[0], pw); errors.Is(err, users.ErrNotFound) {
				return cli.Fail(cli.ExitUsage, fmt.Errorf("user %s: %w", safetext.Clean(args[0]), err), "license-server user list --dir "+d.Path)
			} else if err != nil {
				return cli.Fail(cli.ExitUsage, err, "choose another password")
			}
			u, _ := us.Get(args[0])
			if oneTime {
				u.MustChange = true
				if err := us.Put(u); err != nil {
					return err
				}
			}
			auditCLI(d, "user passwd", args[0])
			res := userResult{Name: u.Name, Role: string(u.Role), MustChange: oneTime}
			if oneTime {
				res.Password = pw
			}
			return printOneTime(cmd, g, res)
		},
	}
	addDir(c, g)
	addJSON(c, g)
	c.Flags().StringVar(&pwFile, "password-file", "", "read the password from the first line of `FILE` (- for stdin)")
	return c
}

func newUserRemove() *cobra.Command {
	g := &globals{}
	c := &cobra.Command{
		Use:   "remove NAME --dir DIR",
		Short: "Remove a user (never the last admin)",
		Long: `remove deletes user NAME from DIR/users.json and writes it to the audit
log. The last admin cannot be removed: add another admin first.`,
		Example: `  license-server user remove petrova --dir DIR`,
		Args:    cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, us, err := openUsers(g)
			if err != nil {
				return err
			}
			if err := users.Remove(us, args[0]); err != nil {
				return cli.Fail(cli.ExitUsage, fmt.Errorf("user %s: %w", safetext.Clean(args[0]), err), "license-server user list --dir "+d.Path)
			}
			auditCLI(d, "user remove", args[0])
			if g.json {
				return cli.JSON(cmd.OutOrStdout(), map[string]string{"removed": args[0]})
			}
			return nil
		},
	}
	addDir(c, g)
	addJSON(c, g)
	return c
}

// userRow is one user in `user list` (never the hash).
type userRow struct {
	Name       string `json:"name"`
	Role       string `json:"role"`
	MustChange bool   `json:"must_change"`
}

func newUserList() *cobra.Command {
	g := &globals{}
	c := &cobra.Command{
		Use:   "list [--json] --dir DIR",
		Short: "List users and roles (never their password hashes)",
		Long: `list prints each user's name, role and whether the password must be
changed at the next login (--json for scripts). Password hashes are never
printed.`,
		Example: `  license-server user list --dir DIR`,
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, us, err := openUsers(g)
			if err != nil {
				return err
			}
			all, err := us.List()
			if err != nil {
				return err
			}
			rows := make([]userRow, 0, len(all))
			for _, u := range all {
				rows = append(rows, userRow{Name: u.Name, Role: string(u.Role), MustChange: u.MustChange})
			}
			if g.json {
				return cli.JSON(cmd.OutOrStdout(), map[string]any{"users": rows})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tPASSWORD")
			for _, r := range rows {
				st := "set"
				if r.MustChange {
					st = "one-time (must change)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Role, st)
			}
			return tw.Flush()
		},
	}
	addDir(c, g)
	addJSON(c, g)
	return c
}
