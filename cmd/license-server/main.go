// Command license-server is the on-premise seat server: licenses installed
// on one machine, seats leased to sessions over a REST API in the shape of
// the 1C licensing server, every answer signed with the server's own
// response key. See docs/api.md, docs/spec/seat-protocol-v1.md and package
// github.com/airseal/airseal/internal/seatserver.
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"os/user"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/audit"
	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/internal/passphrase"
	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatserver"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/internal/tlsfiles"
	"github.com/airseal/airseal/internal/typedcode"
	"github.com/airseal/airseal/internal/users"
	embedded "github.com/airseal/airseal/keys"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/seat"
)

func main() { os.Exit(run()) }

func run() int { return cli.Main(newRoot()) }

// globals are the flags most commands share.
type globals struct {
	dir      string
	db       string
	root     string
	passFile string
	json     bool
}

func (g *globals) serverDir() (seatserver.Dir, error) {
	d := g.dir
	if d == "" {
		d = os.Getenv("AIRSEAL_LICENSE_SERVER_DIR")
	}
	if d == "" {
		if os.Geteuid() != 0 {
			return seatserver.Dir{}, cli.Usage("--dir is required (as root it defaults to %s)", seatserver.DefaultDir)
		}
		d = seatserver.DefaultDir
	}
	db := g.db
	if db == "" {
		db = os.Getenv(envDB)
	}
	return seatserver.Dir{Path: d, DB: db}, nil
}

// envDB names the shared database when --db is not given.
const envDB = "AIRSEAL_LICENSE_SERVER_DB"

func addDir(c *cobra.Command, g *globals) {
	c.Flags().StringVar(&g.dir, "dir", "", "server `DIR`ectory (default $AIRSEAL_LICENSE_SERVER_DIR; as root "+seatserver.DefaultDir+")")
	c.Flags().StringVar(&g.db, "db", "", "keep the state in the PostgreSQL database `URL` (postgres://USER@HOST:PORT/DB) shared by the cluster's nodes, instead of DIR/state.db (default $"+envDB+")")
}

func addRoot(c *cobra.Command, g *globals) {
	c.Flags().StringVar(&g.root, "root", "", "read machine facts from the directory tree `TREE` instead of the machine (an unpacked 'hwid dump', or a test fixture)")
}

func addPass(c *cobra.Command, g *globals) {
	c.Flags().StringVar(&g.passFile, "passphrase-file", "", "read the response key passphrase from the first line of `FILE` (else $"+passphrase.EnvVar+", else a terminal prompt)")
}

func addJSON(c *cobra.Command, g *globals) {
	c.Flags().BoolVar(&g.json, "json", false, "print JSON on stdout")
}

func (g *globals) passphrase(confirm bool) ([]byte, error) {
	p, err := passphrase.Source{File: g.passFile}.Read("Response key passphrase", confirm)
	if err != nil {
		return nil, cli.Fail(cli.ExitError, err, "give --passphrase-file FILE or set "+passphrase.EnvVar)
	}
	return p, nil
}

// rules map library errors to exit codes and hints.
var rules = []cli.Rule{
	{Err: seatserver.ErrBusy, Code: cli.ExitBusy, Hint: "the server is running: change licenses through its API (POST /api/licences, DELETE /api/licences/SERIAL, POST /api/revocations; see docs/api.md), or stop it first"},
	{Err: seatserver.ErrNotInitialized, Code: cli.ExitError, Hint: "create the directory with license-server init --dir DIR --product PRODUCT"},
	{Err: seatserver.ErrVirtual, Code: cli.ExitVirtual, Hint: "run the server on a physical machine, or pass --allow-virtual if the vendor allows a virtual server"},
	{Err: license.ErrWrongMachine, Code: cli.ExitWrongMachine, Hint: "this license is bound to another machine: send this server's server-request.json to the vendor for a new license"},
	{Err: license.ErrVirtualMachine, Code: cli.ExitVirtual, Hint: "the license does not allow a virtual machine: run the server on the physical machine it was issued for"},
	{Err: license.ErrUnknownKey, Code: cli.ExitUntrustedKey, Hint: "the license names another server's key or comes from a vendor key not in DIR/vendor-keys (license-server init --pub VENDOR.pub)"},
	{Err: license.ErrBadSignature, Code: cli.ExitMalformed, Hint: "the license was changed or damaged: ask the vendor for the original file"},
	{Err: license.ErrMalformed, Code: cli.ExitMalformed, Hint: "give the license file or typed code exactly as the vendor sent it"},
	{Err: seatserver.ErrNotServerLicense, Code: cli.ExitMalformed, Hint: "send DIR/server-request.json to the vendor: 'issue license --request server-request.json' makes a server license"},
	{Err: license.ErrExpired, Code: cli.ExitExpired, Hint: "ask the vendor for a renewed license"},
	{Err: license.ErrNotYetValid, Code: cli.ExitExpired, Hint: "check the clock, or install the license when it becomes valid"},
	{Err: license.ErrRevoked, Code: cli.ExitRevoked, Hint: "the vendor revoked this license, or the revocation list is older than one applied; ask the vendor"},
	{Err: license.ErrClockRollback, Code: cli.ExitClockRollback, Hint: "set the clock right"},
	{Err: seatserver.ErrTaxID, Code: cli.ExitError, Hint: "give --itn (and --iec) exactly as on the order the license was issued for"},
	{Err: seats.ErrInstall, Code: cli.ExitError, Hint: "license-server license list shows what is installed"},
	{Err: seatserver.ErrNoLicense, Code: cli.ExitNotInstalled, Hint: "license-server license list shows what is installed"},
	{Err: seatserver.ErrTokenExists, Code: cli.ExitError, Hint: "choose another name"},
	{Err: seatserver.ErrNoToken, Code: cli.ExitError, Hint: "license-server token list shows the tokens"},
	{Err: keys.ErrDecrypt, Code: cli.ExitError, Hint: "check the passphrase (--passphrase-file or " + passphrase.EnvVar + ")"},
}

func classify(err error) error { return cli.Classify(err, rules) }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "license-server",
		Short: "On-premise seat server: licenses installed on one machine, seats leased to sessions",
		Long: `license-server counts concurrent seats inside a closed network. The vendor
issues a server license (format v2) for this machine and this server's own
response key; the server installs it (and any additional licenses), leases
seats to sessions over a REST API in the shape of the 1C licensing server
(port 9099, /api), and signs every answer with its response key over the
client's query ID, so a client that trusts only the vendor's keys can tell
this server from a fake one.

Start with 'license-server init', send server-request.json to the vendor,
install what comes back with 'license-server license add', create client
tokens with 'license-server token add', and run 'license-server serve'.`,
		Example: `  license-server init --dir /var/lib/airseal-license-server --product acme-erp --pub acme.pub
  license-server license add acme-server.lic --itn 7701234567 --iec 770101001 --dir DIR
  license-server token add erp-app --dir DIR
  license-server serve --addr 0.0.0.0:9099 --tls-cert srv.crt --tls-key srv.key --dir DIR`,
	}
	lic := &cobra.Command{Use: "license", Short: "Install, list and remove licenses",
		Long: `license manages the licenses installed on the server (1C "keys"): server
licenses the vendor issued for this machine and this server's response key.`,
		Example: "  license-server license list --dir DIR"}
	lic.AddCommand(newLicenseAdd(), newLicenseList(), withTransfer(newLicenseRemove()))
	tok := &cobra.Command{Use: "token", Short: "API tokens of machine clients",
		Long:    `token manages the API tokens machine clients authenticate with (HTTP Basic).`,
		Example: "  license-server token add erp-app --dir DIR"}
	tok.AddCommand(newTokenAdd(), newTokenList(), newTokenRemove())
	rev := &cobra.Command{Use: "revocations", Short: "Signed revocation lists",
		Long:    `revocations applies the vendor's signed revocation lists to the installed licenses.`,
		Example: "  license-server revocations add revoked.txt --dir DIR"}
	rev.AddCommand(newRevocationsAdd())
	root.AddCommand(newInit(), lic, tok, rev, newServe(), newStatus(), newUsage(), newReport(), newBackup(), newRestore(), newUser(), newCert())
	return root
}

func newInit() *cobra.Command {
	g := &globals{}
	var o seatserver.InitOptions
	var pubs []string
	c := &cobra.Command{
		Use:   "init --dir DIR --product PRODUCT [--pub VENDOR.pub]... [--allow-virtual]",
		Short: "Create the server's response key and the license request for the vendor",
		Long: `init creates DIR (0700) with the server's Ed25519 response key, encrypted
with a passphrase (--passphrase-file, $AIRSEAL_PASSPHRASE or a prompt, asked
twice), and writes DIR/server-request.json: this machine's hardware
fingerprint for PRODUCT plus the public response key. Send that file to the
vendor; the license that comes back binds this machine and this key.

A virtual machine or container is refused unless --allow-virtual is given
(the vendor must allow it too). Re-running init is safe: it keeps the key
(asking its passphrase) and writes a new request, for example for another
product. --pub copies vendor public keys into DIR/vendor-keys, the keys
installed licenses may be signed by (besides those compiled in).`,
		Example: `  license-server init --dir /var/lib/airseal-license-server --product acme-erp --pub acme.pub
  license-server init --dir ./srv --product acme-erp --customer "Romashka LLC" --json`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := g.serverDir()
			if err != nil {
				return err
			}
			if o.Product == "" {
				return cli.Usage("--product is required: the request's machine fingerprint is salted with it")
			}
			var pubData [][]byte
			for _, p := range pubs {
				b, err := fileio.ReadRegular(cmd.InOrStdin(), p, fileio.LimitPublicKey, "vendor public key")
				if err != nil {
					return cli.Fail(cli.ExitError, fmt.Errorf("--pub: %w", err), "give the vendor's public key file (NAME.pub)")
				}
				if keys.IsPrivate(b) {
					return cli.Fail(cli.ExitUsage, fmt.Errorf("--pub %s is a private key", safetext.Clean(p)), "give the vendor's public key (NAME.pub); a private key never belongs on a customer server")
				}
				pubData = append(pubData, b)
			}
			pass, err := g.passphrase(!d.Initialized())
			if err != nil {
				return err
			}
			o.Root, o.Passphrase, o.Now = g.root, pass, time.Now()
			res, err := seatserver.Init(d, o)
			if err != nil {
				return classify(err)
			}
			var ids []string
			for _, b := range pubData {
				id, err := d.AddVendorKey(b)
				if err != nil {
					return cli.Fail(cli.ExitUsage, fmt.Errorf("--pub: %w", err), "give the vendor's public key file (NAME.pub)")
				}
				ids = append(ids, string(id))
			}
			st, err := openStore(d)
			if err != nil {
				return err
			}
			if err := st.Close(); err != nil {
				return err
			}
			adminPW, err := ensureAdmin(d, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if g.json {
				return cli.JSON(cmd.OutOrStdout(), struct {
					*seatserver.InitResult
					VendorKeys    []string `json:"vendor_keys"`
					AdminPassword string   `json:"admin_one_time_password,omitempty"`
				}{res, d.VendorKeyIDs(), adminPW})
			}
			w := cmd.OutOrStdout()
			if res.KeyCreated {
				fmt.Fprintf(w, "response key   %s (new, encrypted in %s)\n", res.KeyID, d.KeyPath())
			} else {
				fmt.Fprintf(w, "response key   %s (kept)\n", res.KeyID)
			}
			fmt.Fprintf(w, "node           %s\nproduct        %s\nfingerprint    %s\nrequest        %s\n", res.Node, res.Product, res.Fingerprint, res.Request)
			for _, id := range ids {
				fmt.Fprintf(w, "vendor key     %s\n", id)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "license-server: next: send %s to the vendor, then: license-server license add FILE --dir %s\n", res.Request, d.Path)
			return nil
		},
	}
	addDir(c, g)
	addRoot(c, g)
	addPass(c, g)
	addJSON(c, g)
	f := c.Flags()
	f.StringVar(&o.Product, "product", "", "`PRODUCT` the server license is for (salts the fingerprint)")
	f.StringVar(&o.Customer, "customer", "", "your organisation `NAME`, for the vendor's records")
	f.StringVar(&o.Node, "node", "", "this server's node `NAME` (default: the host name)")
	f.BoolVar(&o.AllowVirtual, "allow-virtual", false, "write a request from a virtual machine or container")
	f.StringArrayVar(&pubs, "pub", nil, "trust the vendor public key file `NAME.pub` for installed licenses (repeatable)")
	return c
}

// openStore opens the server's store in its directory.
func openStore(d seatserver.Dir) (seatstore.Store, error) {
	if d.DB != "" {
		st, err := seatstore.OpenPostgres(context.Background(), d.DB)
		if err != nil {
			return nil, cli.Fail(cli.ExitError, err, "check --db (postgres://USER@HOST:PORT/DATABASE), that PostgreSQL runs and that this node may connect")
		}
		return st, nil
	}
	st, err := seatstore.OpenSQLite(d.StorePath())
	if err != nil {
		return nil, cli.Fail(cli.ExitError, err, "check that "+d.StorePath()+" is the server's database and the disk is writable")
	}
	return st, nil
}

// opened is a server state opened by an offline command.
type opened struct {
	srv    *seatserver.Server
	store  seatstore.Store
	unlock func()
}

func (o *opened) close() error {
	err := o.srv.Close()
	if cerr := o.store.Close(); err == nil {
		err = cerr
	}
	if o.unlock != nil {
		o.unlock()
	}
	return err
}

// open loads the server state without the private key. With lock, the
// directory is locked (the server must not be running) and changes are
// allowed; without, the state is read-only.
func open(d seatserver.Dir, g *globals, lock bool) (*opened, error) {
	pub, err := d.PublicKey()
	if err != nil {
		return nil, classify(err)
	}
	ring, err := keyring(d)
	if err != nil {
		return nil, err
	}
	var unlock func()
	if lock {
		if unlock, err = d.Lock(); err != nil {
			return nil, classify(err)
		}
	}
	st, err := openStore(d)
	if err != nil {
		if unlock != nil {
			unlock()
		}
		return nil, err
	}
	srv, err := seatserver.New(context.Background(), seatserver.Config{Store: st, PublicKey: pub, Keyring: ring,
		Machine: seatserver.HostMachine(g.root), ReadOnly: !lock})
	if err != nil {
		st.Close()
		if unlock != nil {
			unlock()
		}
		return nil, classify(err)
	}
	return &opened{srv: srv, store: st, unlock: unlock}, nil
}

// auditCLI records an admin action taken on the command line (the change
// is made already; a failure to record it is reported on stderr).
func auditCLI(d seatserver.Dir, what, detail string) {
	who := "cli"
	if u, err := user.Current(); err == nil {
		who = "cli:" + u.Username
	}
	w, err := audit.Open(d.AuditPath())
	if err == nil {
		err = w.Append(time.Now(), who, what, "local", detail)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "license-server: warning: audit log %s: %v\n", d.AuditPath(), err)
	}
}

func keyring(d seatserver.Dir) (*keys.Keyring, error) {
	builtin, err := embedded.Keyring()
	if err != nil {
		return nil, cli.Fail(cli.ExitError, fmt.Errorf("compiled-in keys: %w", err), "rebuild with valid keys/*.pub")
	}
	ring, err := d.Keyring(builtin)
	if err != nil {
		return nil, cli.Fail(cli.ExitError, err, "keep only vendor public keys (NAME.pub) in "+d.VendorKeysDir())
	}
	return ring, nil
}

func newLicenseAdd() *cobra.Command {
	g := &globals{}
	var itn, iec string
	c := &cobra.Command{
		Use:   "add (FILE | CODE | -) [--itn N] [--iec N] --dir DIR",
		Short: "Install a license (file, typed code, or - for stdin)",
		Long: `add installs a server license: it must be signed by a trusted vendor key,
name this server's response key, be bound to this machine, be valid now and
not revoked, and follow the stacking rules (an additional license needs its
main license installed; a demo license is not combined with other licenses
of its product). When the license carries the customer's tax ID, --itn
(ИНН) and --iec (КПП) must match it. Nothing is installed unless every
check passes. While the server runs, install through its API instead
(POST /api/licences); this command then exits 27.`,
		Example: `  license-server license add acme-server.lic --itn 7701234567 --iec 770101001 --dir DIR
  license-server license add ASL1-XXXXX-... --dir DIR --json`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := g.serverDir()
			if err != nil {
				return err
			}
			input, err := readLicenseArg(cmd.InOrStdin(), args[0])
			if err != nil {
				return err
			}
			o, err := open(d, g, true)
			if err != nil {
				return err
			}
			res, err := o.srv.Install(context.Background(), input, itn, iec)
			if cerr := o.close(); err == nil && cerr != nil {
				err = cerr
			}
			if err != nil {
				return classify(err)
			}
			if res.Created {
				auditCLI(d, "install license", res.Licence.KeyNo+" ("+res.Licence.KeyID+", "+res.Licence.Kind+")")
			}
			if g.json {
				return cli.JSON(cmd.OutOrStdout(), struct {
					Installed bool         `json:"installed"`
					Licence   seat.Licence `json:"licence"`
				}{res.Created, res.Licence})
			}
			what := "installed"
			if !res.Created {
				what = "already installed"
			}
			l := res.Licence
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s: %s, %s, %d seats per %s\n", what, l.KeyNo, l.KeyID, l.Kind, l.LicenceCount, l.SeatUnit)
			return nil
		},
	}
	addDir(c, g)
	addRoot(c, g)
	addJSON(c, g)
	c.Flags().StringVar(&itn, "itn", "", "the customer's ITN (ИНН) `N`, as on the order")
	c.Flags().StringVar(&iec, "iec", "", "the customer's IEC (КПП) `N`, as on the order")
	return c
}

// readLicenseArg reads a license file, stdin (-), or takes a typed code.
func readLicenseArg(stdin io.Reader, arg string) ([]byte, error) {
	if arg != "-" {
		if _, err := os.Stat(arg); err != nil {
			if typedcode.LooksLike(arg, license.CodePrefix) {
				return []byte(arg), nil
			}
			return nil, cli.Fail(cli.ExitError, fmt.Errorf("%s: no such file, and not a typed code (ASL1-…)", safetext.Clean(arg)), "give the license file the vendor sent, or its typed code")
		}
	}
	b, err := fileio.ReadRegular(stdin, arg, fileio.LimitLicense, "license")
	if err != nil {
		return nil, cli.Fail(cli.ExitError, err, "give the license file the vendor sent, or its typed code")
	}
	return b, nil
}

func newLicenseList() *cobra.Command {
	g := &globals{}
	c := &cobra.Command{
		Use:   "list --dir DIR",
		Short: "List the installed licenses",
		Long: `list prints the installed licenses: serial, product, kind, seats, seat unit,
the product's seats in use and peak, expiry and state (ok, expired, revoked,
not counting). It reads the state also while the server runs.`,
		Example: "  license-server license list --dir DIR --json",
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := g.serverDir()
			if err != nil {
				return err
			}
			o, err := open(d, g, false)
			if err != nil {
				return err
			}
			ls := o.srv.Licences()
			if err := o.close(); err != nil {
				return err
			}
			if g.json {
				return cli.JSON(cmd.OutOrStdout(), seat.Licences{Licences: ls})
			}
			printLicences(cmd.OutOrStdout(), ls)
			return nil
		},
	}
	addDir(c, g)
	addRoot(c, g)
	addJSON(c, g)
	return c
}

func printLicences(out io.Writer, ls []seat.Licence) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SERIAL\tPRODUCT\tKIND\tSEATS\tUNIT\tIN USE\tPEAK\tEXPIRES\tSTATE")
	for _, l := range ls {
		exp := "never"
		if l.ExpireDate != nil {
			exp = l.ExpireDate.Format("2006-01-02")
		}
		state := "ok"
		switch {
		case l.Revoked:
			state = "revoked"
		case l.Expired:
			state = "expired"
		case !l.Workable:
			state = "not counting"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%d\t%d\t%s\t%s\n", l.KeyNo, l.KeyID, l.Kind, l.LicenceCount, l.SeatUnit, l.InUse, l.Peak, exp, state)
	}
	w.Flush()
}

func newLicenseRemove() *cobra.Command {
	g := &globals{}
	c := &cobra.Command{
		Use:   "remove SERIAL --dir DIR",
		Short: "Remove an installed license",
		Long: `remove uninstalls a license. Sessions holding its seats are told at their
next renewal (410 with the reason), never dropped silently. While the server
runs, remove through its API (DELETE /api/licences/SERIAL).`,
		Example: "  license-server license remove ABCD-EFGH-JKMN-PQRS --dir DIR",
		Args:    cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := g.serverDir()
			if err != nil {
				return err
			}
			o, err := open(d, g, true)
			if err != nil {
				return err
			}
			err = o.srv.Remove(context.Background(), args[0])
			if cerr := o.close(); err == nil && cerr != nil {
				err = cerr
			}
			if err != nil {
				return classify(err)
			}
			auditCLI(d, "remove license", args[0])
			if g.json {
				return cli.JSON(cmd.OutOrStdout(), map[string]any{"removed": safetext.Clean(args[0])})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", safetext.Clean(args[0]))
			return nil
		},
	}
	addDir(c, g)
	addRoot(c, g)
	addJSON(c, g)
	return c
}

func newRevocationsAdd() *cobra.Command {
	g := &globals{}
	c := &cobra.Command{
		Use:   "add FILE --dir DIR",
		Short: "Apply a signed revocation list",
		Long: `add applies a revocation list signed by a trusted vendor key: installed
licenses on it stop counting at once (their sessions are told at their next
renewal) and can never be installed again. A list older (lower sequence)
than one already applied for the same key is refused (exit 14), since it
could hide a revocation. While the server runs, use POST /api/revocations.`,
		Example: "  license-server revocations add revoked.txt --dir DIR",
		Args:    cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := g.serverDir()
			if err != nil {
				return err
			}
			data, err := fileio.ReadRegular(cmd.InOrStdin(), args[0], fileio.LimitRevocations, "revocation list")
			if err != nil {
				return cli.Fail(cli.ExitError, err, "give the revocation list file the vendor sent")
			}
			o, err := open(d, g, true)
			if err != nil {
				return err
			}
			res, err := o.srv.AddRevocations(context.Background(), data)
			if cerr := o.close(); err == nil && cerr != nil {
				err = cerr
			}
			if err != nil {
				return classify(err)
			}
			auditCLI(d, "apply revocation list", fmt.Sprintf("key %s sequence %d, revoked %v", res.KeyID, res.Sequence, res.Revoked))
			if g.json {
				return cli.JSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "applied revocation list %d of key %s; installed licenses revoked: %d\n", res.Sequence, res.KeyID, len(res.Revoked))
			for _, s := range res.Revoked {
				fmt.Fprintf(cmd.OutOrStdout(), "  %s\n", s)
			}
			return nil
		},
	}
	addDir(c, g)
	addRoot(c, g)
	addJSON(c, g)
	return c
}

func newTokenAdd() *cobra.Command {
	g := &globals{}
	var role string
	c := &cobra.Command{
		Use:   "add NAME [--role client|integration|admin] --dir DIR",
		Short: "Create an API token (printed once)",
		Long: `add creates an API token for a machine client: 256 random bits, printed
once on stdout; only its SHA-256 is stored. The client authenticates with
HTTP Basic, user NAME and the token as password. Roles: client (check out,
renew and release seats), integration (the same, for sessions of others:
the 1C "external connection"), admin (everything, including installing
licenses and force-releasing seats). A running server picks up a new token
within a second (DIR/tokens.stamp).`,
		Example: `  license-server token add erp-app --dir DIR
  license-server token add ops --role admin --dir DIR --json`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := g.serverDir()
			if err != nil {
				return err
			}
			if !d.Initialized() {
				return classify(fmt.Errorf("%w: %s has no response.key; create it with license-server init --dir %s", seatserver.ErrNotInitialized, d.Path, d.Path))
			}
			if err := users.CheckName(args[0]); err != nil {
				return cli.Usage("token name: %v", err)
			}
			st, err := openStore(d)
			if err != nil {
				return err
			}
			tok, err := seatserver.NewToken(context.Background(), st, args[0], role, time.Now())
			if cerr := st.Close(); err == nil && cerr != nil {
				err = cerr
			}
			if err != nil {
				if strings.Contains(err.Error(), "token role") {
					return cli.Usage("--role %q: want client, integration or admin", role)
				}
				return classify(err)
			}
			touchTokens(cmd, d)
			if g.json {
				return cli.JSON(cmd.OutOrStdout(), map[string]string{"name": args[0], "role": role, "token": tok})
			}
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			fmt.Fprintf(cmd.ErrOrStderr(), "license-server: token %s (%s) created; it is shown only now: store it in the client's configuration\n", args[0], role)
			return nil
		},
	}
	addDir(c, g)
	addJSON(c, g)
	c.Flags().StringVar(&role, "role", seat.RoleClient, "`ROLE`: client, integration or admin")
	return c
}

// touchTokens tells a running server to reload its tokens.
func touchTokens(cmd *cobra.Command, d seatserver.Dir) {
	if err := d.TouchTokens(time.Now()); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "license-server: warning: %v: a running server sees the change only after a restart\n", err)
	}
}

func newTokenList() *cobra.Command {
	g := &globals{}
	c := &cobra.Command{
		Use:     "list --dir DIR",
		Short:   "List the API tokens (names, roles; never the tokens)",
		Long:    `list prints each token's name, role and creation time. The tokens themselves are not stored and cannot be shown.`,
		Example: "  license-server token list --dir DIR --json",
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := g.serverDir()
			if err != nil {
				return err
			}
			if !d.Initialized() {
				return classify(fmt.Errorf("%w: %s has no response.key; create it with license-server init --dir %s", seatserver.ErrNotInitialized, d.Path, d.Path))
			}
			st, err := openStore(d)
			if err != nil {
				return err
			}
			defer st.Close()
			state, err := st.Load(context.Background())
			if err != nil {
				return err
			}
			type row struct {
				Name    string    `json:"name"`
				Role    string    `json:"role"`
				Created time.Time `json:"created"`
			}
			rows := []row{}
			for _, t := range state.Tokens {
				rows = append(rows, row{t.Name, t.Role, t.Created.UTC()})
			}
			if g.json {
				return cli.JSON(cmd.OutOrStdout(), rows)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tROLE\tCREATED")
			for _, r := range rows {
				fmt.Fprintf(w, "%s\t%s\t%s\n", r.Name, r.Role, r.Created.Format(seat.TimeFormat))
			}
			return w.Flush()
		},
	}
	addDir(c, g)
	addJSON(c, g)
	return c
}

func newTokenRemove() *cobra.Command {
	g := &globals{}
	c := &cobra.Command{
		Use:   "remove NAME --dir DIR",
		Short: "Remove an API token (a running server refuses it within a second)",
		Long: `remove deletes a token: a leaked or retired token stops working. A running
server reloads its tokens within a second (DIR/tokens.stamp); its leases stay.`,
		Example: "  license-server token remove erp-app --dir DIR",
		Args:    cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := g.serverDir()
			if err != nil {
				return err
			}
			if !d.Initialized() {
				return classify(fmt.Errorf("%w: %s has no response.key; create it with license-server init --dir %s", seatserver.ErrNotInitialized, d.Path, d.Path))
			}
			st, err := openStore(d)
			if err != nil {
				return err
			}
			err = seatserver.RemoveToken(context.Background(), st, args[0])
			if cerr := st.Close(); err == nil && cerr != nil {
				err = cerr
			}
			if err != nil {
				return classify(err)
			}
			touchTokens(cmd, d)
			auditCLI(d, "remove token", args[0])
			if g.json {
				return cli.JSON(cmd.OutOrStdout(), map[string]string{"removed": safetext.Clean(args[0])})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "removed token %s\n", safetext.Clean(args[0]))
			return nil
		},
	}
	addDir(c, g)
	addJSON(c, g)
	return c
}

func newServe() *cobra.Command {
	g := &globals{}
	var addr, certFile, keyFile, logLevel, metricsAddr string
	var lease, sweep time.Duration
	var insecure, debug bool
	var xf extrasFlags
	c := &cobra.Command{
		Use:   "serve --addr HOST:PORT [--tls-cert F --tls-key F] --dir DIR",
		Short: "Serve the seat API until SIGINT or SIGTERM",
		Long: `serve answers the REST API of docs/api.md under /api, and /healthz, until
SIGINT or SIGTERM; then it finishes the requests in flight and stops. Leases
stay in the store: after a restart, known sessions renew for one lease
lifetime before freed seats go to new sessions (503 with Retry-After
meanwhile), so a restart neither forgets seats nor counts them twice.

At start every installed license is checked again: the vendor's signature,
this server's response key among its nodes, and this machine (a license
bound to another machine exits 12, a virtual machine its node does not
allow 16, a license naming another key 11). Every change is durable in
DIR/state.db before it is answered. Expired leases are reclaimed every
--sweep. Bodies are limited to 64 KiB; logs are JSON (log/slog) on stderr.

With --db postgres://USER@HOST:PORT/DATABASE the node is one of a cluster:
the state is that database's, shared with the other nodes named in the
license, and every seat is decided by PostgreSQL (one seat count for the
cluster; a lease taken on one node renews and releases on any other). A
node that cannot reach the database grants and renews nothing: 503 with
Retry-After, /healthz 503, so clients move to the next node. Licenses and
tokens installed through one node reach the others within 2 seconds.

The response key is decrypted once at start (--passphrase-file, e.g. a
systemd credential, or $AIRSEAL_PASSPHRASE). Without --tls-cert and
--tls-key, --addr must be a loopback address unless --insecure-listen is
given: tokens and passwords would cross the network in clear text.`,
		Example: `  license-server serve --dir DIR --passphrase-file /run/credentials/airseal-license-server.service/passphrase
  license-server serve --addr 0.0.0.0:9099 --tls-cert srv.crt --tls-key srv.key --dir DIR
  license-server serve --addr 0.0.0.0:9099 --tls-cert srv.crt --tls-key srv.key --dir DIR --db postgres://airseal@db1/airseal`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := g.serverDir()
			if err != nil {
				return err
			}
			if (certFile == "") != (keyFile == "") {
				return cli.Usage("give both --tls-cert and --tls-key, or neither")
			}
			if err := seatserver.CheckListen(addr, certFile != "", insecure); errors.Is(err, seatserver.ErrBadAddress) {
				return cli.Fail(cli.ExitUsage, fmt.Errorf("--addr: %w", err), "give --addr as HOST:PORT, e.g. 127.0.0.1:9099 or [::1]:9099")
			} else if err != nil {
				return cli.Fail(cli.ExitUsage, err, "give --tls-cert and --tls-key, listen on 127.0.0.1, or accept the risk with --insecure-listen")
			}
			if lease < seatserver.MinLease || lease > seatserver.MaxLease {
				return cli.Usage("--lease %s: give 1m to 60m", lease)
			}
			if sweep < time.Second || sweep > lease {
				return cli.Usage("--sweep %s: give 1s up to the lease lifetime", sweep)
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return cli.Usage("--log-level %q: want debug, info, warn or error", logLevel)
			}
			var cert *tls.Certificate
			if certFile != "" {
				c, err := tlsfiles.Load(certFile, keyFile)
				if err != nil {
					return cli.Fail(cli.ExitError, err, tlsfiles.Hint)
				}
				cert = c
			}
			if !d.Initialized() {
				return classify(fmt.Errorf("%w: %s has no response.key; create it with license-server init --dir %s", seatserver.ErrNotInitialized, d.Path, d.Path))
			}
			unlock, err := d.Lock()
			if err != nil {
				return classify(err)
			}
			defer unlock()
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
			logger := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: lvl}))
			cfg := seatserver.Config{Key: key, Keyring: ring, Machine: seatserver.HostMachine(g.root), Lease: lease,
				Logger: logger, Version: cli.VersionString(), Debug: debug, TokenStamp: d.TokenStampPath()}
			if req, err := d.ReadRequest(); err == nil {
				cfg.Node, cfg.ComputerID = req.Node, req.Fingerprint.ID()
			}
			if err := xf.apply(&cfg, d, sweep); err != nil {
				return err
			}
			u, err := users.OpenFile(d.UsersPath())
			if err != nil {
				return cli.Fail(cli.ExitError, err, "restore "+d.UsersPath()+" from a backup, or move it away")
			}
			// The file is followed while the server runs: user add, passwd
			// and remove take effect within a second (users.File). With no
			// user, a wrong password costs no argon2id at all.
			cfg.Users = u
			aud, err := audit.Open(d.AuditPath())
			if err != nil {
				return cli.Fail(cli.ExitError, err, "check that "+d.AuditPath()+" is writable")
			}
			defer aud.Close()
			cfg.Audit = aud
			st, err := openStore(d)
			if err != nil {
				return err
			}
			defer st.Close()
			cfg.Store = st
			var metrics *seatserver.Metrics
			if metricsAddr != "" {
				metrics = seatserver.NewMetrics()
				cfg.Store = metrics.Store(st)
			}
			srv, err := seatserver.New(context.Background(), cfg)
			if err != nil {
				return classify(err)
			}
			if metrics != nil {
				metrics.Attach(srv)
				stopMetrics, err := serveMetrics(metricsAddr, metrics, logger)
				if err != nil {
					srv.Close()
					return err
				}
				defer stopMetrics()
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				srv.Close()
				return cli.Fail(cli.ExitError, err, "is another server on "+addr+"? stop it or choose another --addr")
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			reclaim := "none"
			if t := srv.ReclaimUntil(); !t.IsZero() {
				reclaim = t.UTC().Format(seat.TimeFormat)
			}
			logger.Info("serving", "addr", ln.Addr().String(), "tls", certFile != "", "dir", d.Path,
				"response_key", srv.KeyID(), "lease", lease.String(), "reclaim_until", reclaim)
			return srv.Run(ctx, ln, seatserver.RunOptions{Certificate: cert, Sweep: sweep, Metrics: metrics})
		},
	}
	addDir(c, g)
	addRoot(c, g)
	addPass(c, g)
	f := c.Flags()
	f.StringVar(&addr, "addr", fmt.Sprintf("127.0.0.1:%d", seat.DefaultPort), "listen address `HOST:PORT`")
	f.StringVar(&certFile, "tls-cert", "", "TLS certificate chain `FILE` (PEM)")
	f.StringVar(&keyFile, "tls-key", "", "TLS private key `FILE` (PEM)")
	f.BoolVar(&insecure, "insecure-listen", false, "allow plain HTTP on a non-loopback address (tokens cross the network in clear text)")
	f.DurationVar(&lease, "lease", seatserver.DefaultLease, "lease lifetime `DURATION` (1m to 60m); clients renew every fifth of it")
	f.DurationVar(&sweep, "sweep", seatserver.DefaultSweep, "`INTERVAL` at which expired leases are reclaimed")
	f.StringVar(&logLevel, "log-level", "info", "log `LEVEL`: debug, info, warn or error")
	f.BoolVar(&debug, "debug", false, "put error details in the Exception field of API errors")
	f.StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus /metrics on the loopback `HOST:PORT` (seats, refusals, reclaimed leases, latencies; no token)")
	addExtrasFlags(c, &xf)
	return c
}

func newStatus() *cobra.Command {
	g := &globals{}
	c := &cobra.Command{
		Use:   "status [--json] --dir DIR",
		Short: "Show licenses, seats in use and the peak",
		Long: `status reads the server's state (also while it runs) and prints, per
product, the seats licensed, in use and the most ever in use, then the
installed licenses.`,
		Example: "  license-server status --dir DIR --json",
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := g.serverDir()
			if err != nil {
				return err
			}
			o, err := open(d, g, false)
			if err != nil {
				return err
			}
			st := o.srv.Status()
			if err := o.close(); err != nil {
				return err
			}
			if g.json {
				return cli.JSON(cmd.OutOrStdout(), st)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "response key  %s\nleases        %d\n\n", st.ResponseKey, st.Leases)
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PRODUCT\tSEATS\tIN USE\tPEAK\tUNIT")
			for _, p := range st.Products {
				fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%s\n", p.Product, p.Seats, p.InUse, p.Peak, p.SeatUnit)
			}
			w.Flush()
			fmt.Fprintln(out)
			printLicences(out, st.Licences)
			return nil
		},
	}
	addDir(c, g)
	addRoot(c, g)
	addJSON(c, g)
	return c
}

func newUsage() *cobra.Command {
	g := &globals{}
	var from, to string
	c := &cobra.Command{
		Use:   "usage [--from TIME] [--to TIME] [--json] --dir DIR",
		Short: "Print the usage log (grants, renewals, releases, expiries, losses, refusals)",
		Long: `usage prints the server's append-only usage log, oldest first: every grant,
renewal, release, expiry, seat lost and refusal, with its time, product,
lease, session and user. --from and --to (RFC 3339, or a date) bound it,
--to excluded. With --json, one JSON object per line. It reads the log also
while the server runs, streaming (memory does not grow with the log).`,
		Example: `  license-server usage --dir DIR --from 2026-12-01 --to 2026-12-02
  license-server usage --dir DIR --json | jq 'select(.kind == "refuse")'`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := g.serverDir()
			if err != nil {
				return err
			}
			var tFrom, tTo time.Time
			if from != "" {
				if tFrom, err = license.ParseTime(from); err != nil {
					return cli.Usage("--from %q: %v", from, err)
				}
			}
			if to != "" {
				if tTo, err = license.ParseTime(to); err != nil {
					return cli.Usage("--to %q: %v", to, err)
				}
			}
			if !d.Initialized() {
				return classify(fmt.Errorf("%w: %s has no response.key; create it with license-server init --dir %s", seatserver.ErrNotInitialized, d.Path, d.Path))
			}
			st, err := openStore(d)
			if err != nil {
				return err
			}
			defer st.Close()
			out := cmd.OutOrStdout()
			w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			enc := json.NewEncoder(out) // one object per line
			enc.SetEscapeHTML(false)
			if !g.json {
				fmt.Fprintln(w, "SEQ\tTIME\tKIND\tPRODUCT\tLEASE\tSESSION\tUSER\tDETAIL")
			}
			err = st.Events(context.Background(), tFrom, tTo, func(e seatstore.LoggedEvent) error {
				if g.json {
					return enc.Encode(usageLine{Seq: e.Seq, Time: e.Time.UTC(), Kind: string(e.Kind), Product: e.Product,
						Lease: e.LeaseID, Session: e.Session, User: e.User, Detail: e.Detail})
				}
				_, err := fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.UTC().Format(seat.TimeFormat), e.Kind,
					safetext.Clean(e.Product), e.LeaseID, safetext.Clean(e.Session), safetext.Clean(e.User), safetext.Clean(e.Detail))
				return err
			})
			if err != nil {
				return cli.Fail(cli.ExitError, err, "check that "+d.StorePath()+" is the server's database")
			}
			if !g.json {
				return w.Flush()
			}
			return nil
		},
	}
	addDir(c, g)
	addJSON(c, g)
	c.Flags().StringVar(&from, "from", "", "first `TIME` to print (RFC 3339 or YYYY-MM-DD)")
	c.Flags().StringVar(&to, "to", "", "print events before `TIME` (RFC 3339 or YYYY-MM-DD)")
	return c
}

// usageLine is one usage-log event in usage --json.
type usageLine struct {
	Seq     int64     `json:"seq"`
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Product string    `json:"product"`
	Lease   string    `json:"lease,omitempty"`
	Session string    `json:"session,omitempty"`
	User    string    `json:"user,omitempty"`
	Detail  string    `json:"detail,omitempty"`
}
