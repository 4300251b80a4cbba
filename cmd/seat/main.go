// Command seat takes, renews and releases seats on an airseal license
// server from scripts, and diagnoses a connection to one step by step. See
// docs/spec/seat-protocol-v1.md and package github.com/airseal/airseal/pkg/seat.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/internal/safetext"
	embedded "github.com/airseal/airseal/keys"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/seat"
)

// Environment variables.
const (
	envServers = "AIRSEAL_SEAT_SERVERS"
	envUser    = "AIRSEAL_SEAT_USER"
	envToken   = "AIRSEAL_SEAT_TOKEN"
	envLeases  = "AIRSEAL_SEAT_LEASES"
)

func main() { os.Exit(run()) }

func run() int { return cli.Main(newRoot()) }

type globals struct {
	servers   string
	user      string
	tokenFile string
	caFile    string
	pubs      []string
	leases    string
	revFile   string
	allowHTTP bool
	timeout   time.Duration
	json      bool
}

// rules map the client's errors to the exit codes of internal/cli.
var rules = []cli.Rule{
	{Err: seat.ErrDeviceNotApproved, Code: cli.ExitNotApproved, Hint: "ask the administrator to approve this device in the license server's console"},
	{Err: seat.ErrClockSkew, Code: cli.ExitUntrustedServer, Hint: "set the clocks of this machine and the server right (NTP); run 'seat diagnose' for details"},
	{Err: seat.ErrReplay, Code: cli.ExitUntrustedServer, Hint: "the answer was not made for this request; run 'seat diagnose --server URL'"},
	{Err: seat.ErrUntrustedServer, Code: cli.ExitUntrustedServer, Hint: "the server could not prove it holds the vendor's license; run 'seat diagnose --server URL'"},
	{Err: seat.ErrNoSeat, Code: cli.ExitNoSeat, Hint: "every seat is in use: close unused sessions or ask the administrator for more seats"},
	{Err: seat.ErrLeaseLost, Code: cli.ExitNoSeat, Hint: "the server took the seat away (its license was removed or expired); check out again"},
	{Err: seat.ErrUnknownLease, Code: cli.ExitNoSeat, Hint: "the lease expired and was reclaimed; check out again"},
	{Err: seat.ErrBadAddress, Code: cli.ExitUsage, Hint: "give --server https://HOST:9099 or HOST[:PORT]"},
	{Err: seat.ErrBadRequest, Code: cli.ExitUsage, Hint: "fix the value named in the error"},
	{Err: seat.ErrRateLimited, Code: cli.ExitError, Hint: "wait a minute, then fix the token; the server refuses an address after 10 failed logins a minute"},
	{Err: seat.ErrUnauthorized, Code: cli.ExitError, Hint: "give --user NAME and the token (--token-file FILE or $" + envToken + ") from 'license-server token add NAME'"},
	{Err: seat.ErrForbidden, Code: cli.ExitError, Hint: "the server refuses this caller or address: ask the administrator (token role, IP lists)"},
	{Err: seat.ErrUnreachable, Code: cli.ExitUnreachable, Hint: "check the address and that the server runs; 'seat diagnose --server URL' checks each step"},
	{Err: seat.ErrStarting, Code: cli.ExitUnreachable, Hint: "the server restarted and is reclaiming leases; try again in a few minutes"},
}

func classify(err error) error { return cli.Classify(err, rules) }

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "seat",
		Short: "Take, renew and release seats on an airseal license server; diagnose the connection",
		Long: `seat talks to an airseal license server (license-server) for scripts:
it takes a seat of a product (checkout), renews and releases it, lists the
seats this machine took (status), and checks a connection step by step
(diagnose).

A server is trusted only when it presents a license signed by the vendor
(the keys built into this program plus every --pub) and signs every answer
with a key that license names; anything else is refused (exit 30).

Servers: --server takes a comma-separated list tried in order (the 1C
ReservedServers); each is https://HOST:PORT or HOST[:PORT] (port 9099).
Credentials: --user NAME and the token from --token-file FILE or $` + envToken + `
(never on the command line). Leases taken by checkout are kept in a lease
file (--leases, $` + envLeases + `, default in the user's state directory) so
that renew and release find them by --session-id.`,
		Example: `  seat diagnose --server https://lic1.corp:9099 --product acme-erp --ca-file lic-ca.pem
  seat checkout --server https://lic1.corp:9099,lic2.corp --product acme-erp --session-id nightly-report-0001 --user erp --token-file erp.token
  seat release --session-id nightly-report-0001 --user erp --token-file erp.token`,
		SilenceUsage: true, SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.servers, "server", "", "license server `URL[,URL...]`, tried in order (default $"+envServers+")")
	pf.StringVar(&g.user, "user", "", "token `NAME` for HTTP Basic auth (default $"+envUser+")")
	pf.StringVar(&g.tokenFile, "token-file", "", "read the API token from the first line of `FILE` (else $"+envToken+")")
	pf.StringVar(&g.caFile, "ca-file", "", "trust only this CA (or self-signed) certificate `FILE` for TLS")
	pf.StringArrayVar(&g.pubs, "pub", nil, "also trust this vendor public key `FILE` (repeatable)")
	pf.StringVar(&g.revFile, "revocations", "", "refuse servers whose license is on this signed revocation list `FILE` (from the vendor)")
	pf.StringVar(&g.leases, "leases", "", "lease file `FILE` (default $"+envLeases+", then the user's state directory)")
	pf.BoolVar(&g.allowHTTP, "allow-http", false, "allow plain http:// to hosts other than loopback (the token travels in clear text)")
	pf.DurationVar(&g.timeout, "timeout", 30*time.Second, "give up after `DURATION` in all")
	pf.BoolVar(&g.json, "json", false, "print JSON on stdout")
	root.AddCommand(checkoutCmd(g), renewCmd(g), releaseCmd(g), statusCmd(g), diagnoseCmd(g))
	return root
}

func (g *globals) leaseFile() (seat.LeaseFile, error) {
	p := g.leases
	if p == "" {
		p = os.Getenv(envLeases)
	}
	if p == "" {
		dir := os.Getenv("XDG_STATE_HOME")
		if dir == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return seat.LeaseFile{}, cli.Fail(cli.ExitError, err, "give --leases FILE")
			}
			dir = filepath.Join(home, ".local", "state")
		}
		p = filepath.Join(dir, "airseal", "seat-leases.json")
	}
	return seat.LeaseFile{Path: p}, nil
}

func (g *globals) keyring() (*keys.Keyring, error) {
	ring, err := embedded.Keyring()
	if err != nil {
		return nil, err
	}
	for _, p := range g.pubs {
		data, err := fileio.ReadRegular(nil, p, fileio.LimitPublicKey, "public key")
		if err != nil {
			return nil, cli.Fail(cli.ExitError, fmt.Errorf("--pub: %w", err), "give the vendor's public key file NAME.pub")
		}
		k, err := keys.ParsePublic(data)
		if errors.Is(err, keys.ErrPrivateKeyGiven) {
			return nil, cli.Fail(cli.ExitUsage, fmt.Errorf("--pub %s: %w", p, err), "give the public key NAME.pub; a private key must never leave the vendor")
		}
		if err != nil {
			return nil, cli.Fail(cli.ExitError, fmt.Errorf("--pub %s: %w", p, err), "give the vendor's public key file NAME.pub")
		}
		ring.Add(k)
	}
	if ring.Len() == 0 {
		return nil, cli.Fail(cli.ExitUsage, errors.New("no vendor key: this build embeds none and no --pub was given"), "give the vendor's public key with --pub NAME.pub")
	}
	return ring, nil
}

func (g *globals) token() (string, error) {
	if g.tokenFile != "" {
		data, err := fileio.ReadRegular(nil, g.tokenFile, 4<<10, "token file")
		if err != nil {
			return "", cli.Fail(cli.ExitError, fmt.Errorf("--token-file: %w", err), "give the file holding the token printed by 'license-server token add NAME'")
		}
		line, _, _ := strings.Cut(string(data), "\n")
		return strings.TrimSpace(line), nil
	}
	return os.Getenv(envToken), nil
}

func (g *globals) revocations() ([]byte, error) {
	if g.revFile == "" {
		return nil, nil
	}
	data, err := fileio.ReadRegular(nil, g.revFile, fileio.LimitRevocations, "revocation list")
	if err != nil {
		return nil, cli.Fail(cli.ExitError, fmt.Errorf("--revocations: %w", err), "give the signed revocation list the vendor sent")
	}
	return data, nil
}

// config builds the client configuration; servers may come from the lease.
func (g *globals) config(product string, servers []string) (seat.Config, error) {
	if len(servers) == 0 {
		list := g.servers
		if list == "" {
			list = os.Getenv(envServers)
		}
		for _, s := range strings.Split(list, ",") {
			if s = strings.TrimSpace(s); s != "" {
				servers = append(servers, s)
			}
		}
	}
	if len(servers) == 0 {
		return seat.Config{}, cli.Usage("--server is required (or $%s): the license server's URL, e.g. https://lic1.corp:9099", envServers)
	}
	ring, err := g.keyring()
	if err != nil {
		return seat.Config{}, err
	}
	tok, err := g.token()
	if err != nil {
		return seat.Config{}, err
	}
	user := g.user
	if user == "" {
		user = os.Getenv(envUser)
	}
	rev, err := g.revocations()
	if err != nil {
		return seat.Config{}, err
	}
	cas, err := g.rootCAs()
	if err != nil {
		return seat.Config{}, err
	}
	cfg := seat.Config{Servers: servers, Keyring: ring, Product: product, User: user, Token: tok, RootCAs: cas,
		AllowHTTP: g.allowHTTP, ManualRenew: true, Revocations: rev}
	if _, err := seat.New(cfg); err != nil {
		return seat.Config{}, cli.Fail(cli.ExitUsage, err, "fix the flag named in the error")
	}
	return cfg, nil
}

// rootCAs reads --ca-file (bounded: a FIFO or device is refused before a
// byte is read) into the pool of certificates to pin; nil without it.
func (g *globals) rootCAs() (*x509.CertPool, error) {
	if g.caFile == "" {
		return nil, nil
	}
	pool, err := seat.LoadCA(g.caFile)
	if err != nil {
		return nil, cli.Fail(cli.ExitError, fmt.Errorf("--ca-file: %w", err), "give the server's CA or self-signed certificate in PEM (license-server cert writes one)")
	}
	return pool, nil
}

func (g *globals) client(product string, servers []string) (*seat.Client, error) {
	cfg, err := g.config(product, servers)
	if err != nil {
		return nil, err
	}
	return seat.New(cfg)
}

func (g *globals) context() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), g.timeout)
}

// leaseOut is the --json output of checkout, renew and release.
type leaseOut struct {
	Status string         `json:"status"`
	Lease  seat.LeaseInfo `json:"lease"`
}

func printLease(cmd *cobra.Command, g *globals, status string, info seat.LeaseInfo) error {
	if g.json {
		return cli.JSON(cmd.OutOrStdout(), leaseOut{Status: status, Lease: info})
	}
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "status\t%s\n", status)
	fmt.Fprintf(w, "session\t%s\n", info.ClientSessionID)
	fmt.Fprintf(w, "product\t%s\n", safetext.Clean(info.Product))
	fmt.Fprintf(w, "mode\t%s\n", info.Mode)
	if info.ID != "" {
		fmt.Fprintf(w, "lease\t%s\n", info.ID)
		fmt.Fprintf(w, "expires\t%s\n", info.Expires.UTC().Format(time.RFC3339))
		fmt.Fprintf(w, "renew every\t%s\n", info.RenewEvery)
	}
	fmt.Fprintf(w, "server\t%s\n", info.Server)
	names := make([]string, 0, len(info.Features))
	for k := range info.Features {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(w, "feature\t%s = %d\n", safetext.Clean(k), info.Features[k])
	}
	return w.Flush()
}

func checkoutCmd(g *globals) *cobra.Command {
	var product, session, app, userName, computer string
	c := &cobra.Command{
		Use:   "checkout --server URL[,URL...] --product P [--session-id ID]",
		Short: "Take a seat of a product",
		Long: `checkout takes a seat of the product from the first server of the list that
answers, and records the lease in the lease file. With --session-id, a
checkout repeated with the same ID returns the same lease (the server never
counts it twice), so a script may simply retry. Without it a random ID is
chosen and printed. The lease expires unless renewed ('seat renew') every
"renew every"; release it with 'seat release'.

A server without a valid license of the product answers in demo mode: the
lease is printed with mode "demo" and seat exits 28.`,
		Example: `  seat checkout --server https://lic1.corp:9099,lic2.corp --product acme-erp --user erp --token-file erp.token
  seat checkout --server lic1.corp --product acme-erp --session-id nightly-report-0001 --json`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if product == "" {
				return cli.Usage("--product is required")
			}
			cl, err := g.client(product, nil)
			if err != nil {
				return err
			}
			ctx, cancel := g.context()
			defer cancel()
			l, err := cl.Checkout(ctx, seat.Request{ClientSessionID: session, AppName: app, UserName: userName, ComputerName: computer})
			if err != nil {
				return classify(err)
			}
			info := l.Info()
			lf, err := g.leaseFile()
			if err != nil {
				return err
			}
			if err := lf.Put(info); err != nil {
				return cli.Fail(cli.ExitError, fmt.Errorf("the seat was taken but not recorded: %w", err), "release it with 'seat release --session-id "+info.ClientSessionID+"' after fixing --leases, or let it expire")
			}
			if info.Mode == seat.ModeDemo {
				if err := printLease(cmd, g, "demo", info); err != nil {
					return err
				}
				return cli.Reported(cli.ExitNoSeat, fmt.Errorf("the server has no valid license of %s: demo mode", product),
					"install a license of the product on the server (license-server license add)")
			}
			return printLease(cmd, g, "granted", info)
		},
	}
	f := c.Flags()
	f.StringVar(&product, "product", "", "product `NAME` whose seat to take (required)")
	f.StringVar(&session, "session-id", "", "client session `ID` (16-64 of A-Z a-z 0-9 _ -); default a random one")
	f.StringVar(&app, "app", "seat", "application `NAME` shown to the administrator")
	f.StringVar(&userName, "user-name", "", "user `NAME` shown to the administrator (default the OS user)")
	f.StringVar(&computer, "computer", "", "computer `NAME` (default the host name; per-computer licenses count one seat per name)")
	return c
}

// lookup finds a recorded lease by session ID.
func (g *globals) lookup(session string) (seat.LeaseFile, seat.LeaseInfo, error) {
	if session == "" {
		return seat.LeaseFile{}, seat.LeaseInfo{}, cli.Usage("--session-id is required")
	}
	lf, err := g.leaseFile()
	if err != nil {
		return lf, seat.LeaseInfo{}, err
	}
	m, err := lf.Load()
	if err != nil {
		return lf, seat.LeaseInfo{}, cli.Fail(cli.ExitError, err, "give another --leases FILE")
	}
	info, ok := m[session]
	if !ok {
		return lf, seat.LeaseInfo{}, cli.Fail(cli.ExitError, fmt.Errorf("no lease of session %s in %s", session, lf.Path),
			"take one with 'seat checkout --session-id "+session+"' (repeating a checkout with the same ID renews it)")
	}
	return lf, info, nil
}

// servers returns --server when given, else the lease's server.
func (g *globals) serversFor(info seat.LeaseInfo) []string {
	if g.servers != "" || os.Getenv(envServers) != "" {
		return nil
	}
	return []string{info.Server}
}

func renewCmd(g *globals) *cobra.Command {
	var session string
	c := &cobra.Command{
		Use:   "renew --session-id ID [--server URL[,URL...]]",
		Short: "Renew a lease taken by 'seat checkout'",
		Long: `renew extends the lease of the session by its lifetime. When the server
holding it does not answer, the next server of --server gets the same
session ID and carries the lease over. The lease file is updated.`,
		Example: `  seat renew --server https://lic1.corp:9099,lic2.corp --session-id nightly-report-0001`,
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lf, info, err := g.lookup(session)
			if err != nil {
				return err
			}
			cl, err := g.client(info.Product, g.serversFor(info))
			if err != nil {
				return err
			}
			l, err := cl.Resume(info)
			if err != nil {
				return cli.Fail(cli.ExitUsage, err, "list the server that holds the lease in --server")
			}
			ctx, cancel := g.context()
			defer cancel()
			if err := cl.Renew(ctx, l); err != nil {
				if l.Err() != nil {
					_ = lf.Delete(session)
				}
				return classify(err)
			}
			info = l.Info()
			if err := lf.Put(info); err != nil {
				return cli.Fail(cli.ExitError, err, "fix --leases")
			}
			return printLease(cmd, g, "renewed", info)
		},
	}
	c.Flags().StringVar(&session, "session-id", "", "client session `ID` given to checkout (required)")
	return c
}

func releaseCmd(g *globals) *cobra.Command {
	var session string
	c := &cobra.Command{
		Use:   "release --session-id ID [--server URL[,URL...]]",
		Short: "Give a seat back",
		Long: `release gives the seat of the session back to the server that holds it (or
another node of its cluster) and forgets the lease. A lease the server no
longer knows counts as released.`,
		Example: `  seat release --server https://lic1.corp:9099 --session-id nightly-report-0001`,
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lf, info, err := g.lookup(session)
			if err != nil {
				return err
			}
			cl, err := g.client(info.Product, g.serversFor(info))
			if err != nil {
				return err
			}
			l, err := cl.Resume(info)
			if err != nil {
				return cli.Fail(cli.ExitUsage, err, "list the server that holds the lease in --server")
			}
			ctx, cancel := g.context()
			defer cancel()
			if err := cl.Release(ctx, l); err != nil {
				return classify(err)
			}
			if err := lf.Delete(session); err != nil {
				return cli.Fail(cli.ExitError, err, "fix --leases")
			}
			return printLease(cmd, g, "released", info)
		},
	}
	c.Flags().StringVar(&session, "session-id", "", "client session `ID` given to checkout (required)")
	return c
}

// statusLease is one row of 'seat status --json'.
type statusLease struct {
	Lease   seat.LeaseInfo `json:"lease"`
	Expired bool           `json:"expired"`
}

func statusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "List the leases recorded in the lease file",
		Long: `status lists the leases 'seat checkout' recorded, with when each expires
unless renewed. It asks no server: run 'seat renew' to refresh one.`,
		Example: `  seat status
  seat status --json --leases /var/lib/report/seat-leases.json`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			lf, err := g.leaseFile()
			if err != nil {
				return err
			}
			m, err := lf.Load()
			if err != nil {
				return cli.Fail(cli.ExitError, err, "give another --leases FILE")
			}
			now := time.Now()
			rows := []statusLease{}
			for _, l := range seat.Sorted(m) {
				rows = append(rows, statusLease{Lease: l, Expired: l.Mode == seat.ModeLicensed && !now.Before(l.Expires)})
			}
			if g.json {
				return cli.JSON(cmd.OutOrStdout(), struct {
					File   string        `json:"file"`
					Leases []statusLease `json:"leases"`
				}{lf.Path, rows})
			}
			if len(rows) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "no leases recorded in %s\n", lf.Path)
				return nil
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "SESSION\tPRODUCT\tMODE\tLEASE\tEXPIRES\tSERVER")
			for _, row := range rows {
				r := row.Lease
				exp := r.Expires.UTC().Format(time.RFC3339)
				if row.Expired {
					exp += " (expired)"
				}
				if r.Mode != seat.ModeLicensed {
					exp = "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ClientSessionID, safetext.Clean(r.Product), r.Mode, orDash(r.ID), exp, r.Server)
			}
			return w.Flush()
		},
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func diagnoseCmd(g *globals) *cobra.Command {
	var product string
	c := &cobra.Command{
		Use:   "diagnose --server URL[,URL...] [--product P]",
		Short: "Check a connection to the license server step by step",
		Long: `diagnose checks each step a connection needs and prints a table of what
failed, why, and how to fix it: the address, name resolution, the TCP
connection, TLS and the server's certificate (against --ca-file when
given), the seat API (and a refusal by the server's IP lists),
authentication, the server's license and the vendor's signature on it, the
signature of the answers, the clock difference, and with --product whether
the product is licensed and a seat is free (a seat is taken for a moment
and given back) or the device waits for the administrator's approval.

The exit code is that of the first failed step (0 when all pass).`,
		Example: `  seat diagnose --server https://lic1.corp:9099 --product acme-erp --ca-file lic-ca.pem --user erp --token-file erp.token
  seat diagnose --server lic1.corp,lic2.corp --json`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.diagnoseConfig(product)
			if err != nil {
				return err
			}
			ctx, cancel := g.context()
			defer cancel()
			ds := seat.Diagnose(ctx, cfg)
			var first error
			for _, d := range ds {
				if err := d.Err(); err != nil && first == nil {
					first = err
				}
			}
			code := cli.ExitOK
			if first != nil {
				var e *cli.Error
				if errors.As(classify(first), &e) {
					code = e.Code
				}
			}
			if g.json {
				if err := cli.JSON(cmd.OutOrStdout(), struct {
					Status   string            `json:"status"`
					ExitCode int               `json:"exit_code"`
					Servers  []*seat.Diagnosis `json:"servers"`
				}{cli.StatusOf(code), code, ds}); err != nil {
					return err
				}
			} else {
				printDiagnosis(cmd.OutOrStdout(), ds)
			}
			if first != nil {
				fs := failedStep(ds)
				return cli.Reported(code, fmt.Errorf("%s: %s", fs.Name, fs.Cause), fs.Fix)
			}
			return nil
		},
	}
	c.Flags().StringVar(&product, "product", "", "also check the license of product `NAME` and a free seat")
	return c
}

// diagnoseConfig is config without the checks that diagnose reports as
// steps (a bad address is its first row, not a usage error).
func (g *globals) diagnoseConfig(product string) (seat.Config, error) {
	cfg, err := g.config(product, nil)
	var e *cli.Error
	if err != nil && errors.As(err, &e) && e.Code == cli.ExitUsage && strings.Contains(err.Error(), "seat: Servers") {
		ring, kerr := g.keyring()
		if kerr != nil {
			return seat.Config{}, kerr
		}
		tok, terr := g.token()
		if terr != nil {
			return seat.Config{}, terr
		}
		list := g.servers
		if list == "" {
			list = os.Getenv(envServers)
		}
		rev, rerr := g.revocations()
		if rerr != nil {
			return seat.Config{}, rerr
		}
		user := g.user
		if user == "" {
			user = os.Getenv(envUser)
		}
		cas, cerr := g.rootCAs()
		if cerr != nil {
			return seat.Config{}, cerr
		}
		return seat.Config{Servers: strings.Split(list, ","), Keyring: ring, Product: product, User: user, Token: tok,
			RootCAs: cas, AllowHTTP: g.allowHTTP, Revocations: rev}, nil
	}
	return cfg, err
}

func failedStep(ds []*seat.Diagnosis) *seat.Step {
	for _, d := range ds {
		if s := d.Failed(); s != nil {
			return s
		}
	}
	return nil
}

func printDiagnosis(out io.Writer, ds []*seat.Diagnosis) {
	var b bytes.Buffer
	for i, d := range ds {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "server %s\n", d.Server)
		w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "STEP\tRESULT\tDETAIL / CAUSE")
		for _, s := range d.Steps {
			text := s.Detail
			switch {
			case s.Result == seat.StepFail:
				text = s.Cause
			case s.Result == seat.StepWarn && s.Detail != "":
				text = s.Cause + " (" + s.Detail + ")"
			case s.Result == seat.StepWarn:
				text = s.Cause
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", s.Name, s.Result, safetext.Clean(text))
			if s.Fix != "" && (s.Result == seat.StepFail || s.Result == seat.StepWarn) {
				fmt.Fprintf(w, "\t\tfix: %s\n", safetext.Clean(s.Fix))
			}
		}
		w.Flush()
	}
	sc := bufio.NewScanner(&b)
	for sc.Scan() {
		fmt.Fprintln(out, strings.TrimRight(sc.Text(), " "))
	}
}
