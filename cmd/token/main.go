// Command token mints, verifies and revokes long-lived OAuth access tokens
// offline and serves a token endpoint inside a closed network. See
// docs/spec/token-v1.md and package github.com/airseal/airseal/pkg/token.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/internal/passphrase"
	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/internal/tlsfiles"
	"github.com/airseal/airseal/internal/typedcode"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/token"
	"github.com/airseal/airseal/pkg/token/tokendir"
	"github.com/airseal/airseal/pkg/token/tokenserver"
)

// Exit codes of token verify: rows of the one airseal table (internal/cli).
const (
	exitMalformed  = cli.ExitMalformed     // malformed token, refused header or bad signature
	exitUnknownKey = cli.ExitUntrustedKey  // never issued, or retired
	exitAudience   = cli.ExitWrongAudience // wrong audience or issuer (19; 12 is a wrong machine)
	exitTime       = cli.ExitExpired       // expired or not yet valid
	exitRevoked    = cli.ExitRevoked
)

// reasonExit maps each refusal reason of token verify to its exit code
// (docs/spec/token-v1.md §1.3; TestSpecReasonExits keeps them equal).
var reasonExit = map[token.Reason]int{
	token.ReasonMalformed: exitMalformed, token.ReasonBadHeader: exitMalformed,
	token.ReasonBadSignature: exitMalformed, token.ReasonMissingClaim: exitMalformed,
	token.ReasonUnknownKey:  exitUnknownKey,
	token.ReasonWrongIssuer: exitAudience, token.ReasonWrongAudience: exitAudience,
	token.ReasonExpired: exitTime, token.ReasonNotYetValid: exitTime,
	token.ReasonRevoked: exitRevoked,
}

// defaultDir is used when neither --dir nor AIRSEAL_TOKEN_DIR is set.
const defaultDir = "/var/lib/airseal/token"

func main() { os.Exit(run()) }

func run() int { return cli.Main(newRoot()) }

type globals struct {
	cmd      *cobra.Command // the command; --dir is read from its flags
	passFile string
	json     bool
	out      string // -o FILE; "" and "-" mean stdout
	force    bool
}

// addOutput adds -o FILE and --force: "-" (the default) is standard output,
// and an existing FILE is replaced only with --force.
func addOutput(c *cobra.Command, g *globals, what string) {
	c.Flags().StringVarP(&g.out, "output", "o", "-", "write "+what+" to `FILE` (- for standard output)")
	c.Flags().BoolVar(&g.force, "force", false, "replace an existing -o FILE")
}

// checkOutput refuses an existing -o FILE without --force before any work.
func (g *globals) checkOutput() error {
	if err := fileio.CheckOutput(g.out, g.force); err != nil {
		return cli.Fail(cli.ExitError, err, "add --force to replace it, or give -o - for standard output")
	}
	return nil
}

// write writes data to -o (stdout for "-").
func (g *globals) write(cmd *cobra.Command, data []byte, perm os.FileMode) error {
	if err := fileio.Write(cmd.OutOrStdout(), g.out, data, perm, g.force); err != nil {
		return cli.Fail(cli.ExitError, err, "choose another -o FILE, or -o - for standard output")
	}
	return nil
}

// dir is the --dir flag: one persistent flag of the whole token family,
// given before or after the command (token --dir D mint, token mint --dir D).
func (g *globals) dir() string {
	if g.cmd == nil {
		return ""
	}
	d, _ := g.cmd.Flags().GetString("dir")
	return d
}

func (g *globals) tokenDir() *tokendir.Dir {
	d := g.dir()
	if d == "" {
		d = os.Getenv("AIRSEAL_TOKEN_DIR")
	}
	if d == "" {
		d = defaultDir
	}
	return &tokendir.Dir{Path: d}
}

func (g *globals) passphrase(confirm bool) ([]byte, error) {
	p, err := passphrase.Source{File: g.passFile}.Read("Issuer key passphrase", confirm)
	if err != nil {
		return nil, cli.Fail(cli.ExitError, err, "give --passphrase-file FILE or set "+passphrase.EnvVar)
	}
	return p, nil
}

func (g *globals) signer() (*token.Signer, error) {
	p, err := g.passphrase(false)
	if err != nil {
		return nil, err
	}
	s, err := g.tokenDir().Signer(p)
	if errors.Is(err, keys.ErrDecrypt) {
		return nil, cli.Fail(cli.ExitError, err, "check the passphrase (--passphrase-file or "+passphrase.EnvVar+")")
	}
	return s, dirErr(err)
}

func dirErr(err error) error {
	if errors.Is(err, tokendir.ErrNotInitialized) {
		return cli.Fail(cli.ExitError, err, "set --dir or AIRSEAL_TOKEN_DIR to the token directory, or create one with 'token init --dir DIR'")
	}
	return err
}

// addDir lets command c read the family's persistent --dir (see newRoot).
func addDir(c *cobra.Command, g *globals) { g.cmd = c }

func addPass(c *cobra.Command, g *globals) {
	c.Flags().StringVar(&g.passFile, "passphrase-file", "", "read the key passphrase from the first line of `FILE` (else $"+passphrase.EnvVar+", else a terminal prompt)")
}

func addJSON(c *cobra.Command, g *globals) {
	c.Flags().BoolVar(&g.json, "json", false, "print JSON on stdout")
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "token",
		Short: "Mint, verify and revoke long-lived OAuth access tokens offline; serve a token endpoint",
		Long: `token issues RFC 9068 JWT access tokens signed with Ed25519 (EdDSA) for
closed networks where the usual OAuth server cannot be reached, verifies
them offline, revokes them with a signed revocation list, and serves a
standard token endpoint (RFC 6749, 7662, 7009, 8414) inside the network.

State lives in a token directory (--dir, $AIRSEAL_TOKEN_DIR, else
` + defaultDir + `): issuer keys, clients, the ledgers of minted tokens
(ledger.jsonl) and of tokens the endpoint issued (issued.jsonl), and the
revocation list. Private keys are encrypted with a passphrase, read from
--passphrase-file, $AIRSEAL_PASSPHRASE or a terminal prompt, never from
the command line.`,
		Example: `  export AIRSEAL_TOKEN_DIR=/srv/token
  token init --issuer https://auth.portal.local
  token mint --aud https://portal.local/rest/ --sub 1 --client-id local.itgrix.1 --scope telephony,crm --format bitrix
  token verify --aud https://portal.local/rest/ "$TOKEN"
  token revoke --jti 3mJr7AoUXx7Wqd5pA6C9SQ`,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.PersistentFlags().String("dir", "", "token directory `DIR` (default $AIRSEAL_TOKEN_DIR, then "+defaultDir+")")
	root.AddCommand(newInit(), newKeys(), newClient(), newMint(), newVerify(), newRevoke(), newServe())
	return root
}

func newInit() *cobra.Command {
	g := &globals{}
	var issuer string
	c := &cobra.Command{
		Use:   "init [--dir DIR] [--issuer URI]",
		Short: "Create a token directory with a first issuer key",
		Long: `init creates the token directory (mode 0700) with an Ed25519 issuer key
whose private half is encrypted with the passphrase (asked twice on a
terminal). It refuses a directory that is already initialised.

--issuer is the iss claim of every token; use the endpoint's https URL when
a token server will run (RFC 8414), else the default urn:airseal:token:KID.`,
		Example: `  token init --dir /srv/token --issuer https://auth.portal.local`,
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := g.passphrase(true)
			if err != nil {
				return err
			}
			d := g.tokenDir()
			st, err := d.Init(issuer, p)
			if err != nil {
				return err
			}
			if g.json {
				out := map[string]any{"dir": d.Path, "issuer": st.Issuer, "kid": st.Keys[0].ID}
				if w := issuerWarning(st.Issuer); w != "" {
					out["warning"] = w
				}
				return cli.JSON(cmd.OutOrStdout(), out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", st.Keys[0].ID)
			fmt.Fprintf(cmd.ErrOrStderr(), "token: initialised %s (issuer %s); next: 'token client add NAME' or 'token mint'\n", d.Path, st.Issuer)
			if w := issuerWarning(st.Issuer); w != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "token: warning: %s\n", w)
			}
			return nil
		},
	}
	addDir(c, g)
	addPass(c, g)
	addJSON(c, g)
	c.Flags().StringVar(&issuer, "issuer", "", "`URI` in the iss claim of every token (default urn:airseal:token:KID)")
	return c
}

// issuerWarning returns a warning when iss cannot be the URL of a token
// endpoint: RFC 8414 clients fetch ISSUER/.well-known/oauth-authorization-server
// and refuse metadata whose issuer differs from the URL they asked.
func issuerWarning(iss string) string {
	u, err := url.Parse(iss)
	if err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.RawQuery == "" && u.Fragment == "" {
		return ""
	}
	return fmt.Sprintf("the issuer %q is not the URL of a token endpoint; standard OAuth clients (RFC 8414) check that the issuer equals the endpoint's URL, so if 'token serve' will run, create the directory with --issuer https://HOST[:PORT] (the URL clients use)", iss)
}

func newKeys() *cobra.Command {
	c := &cobra.Command{
		Use:   "keys rotate|retire KID|export|list",
		Short: "Rotate, retire, list and export the issuer keys",
		Long: `Several keys verify at once, so rotation never breaks tokens in use:
rotate makes a new key the signer and keeps the old ones verifying; retire
stops trusting a key (tokens it signed stop verifying and it leaves the
JWKS); export prints the public JWKS (RFC 7517) for resource servers.`,
		Example: `  token keys list
  token keys rotate
  token keys export > jwks.json
  token keys retire 1f0c5a2e9b7d4c13`,
	}
	g := &globals{}
	rotate := &cobra.Command{
		Use:   "rotate [--dir DIR]",
		Short: "Create a new signing key; older keys keep verifying",
		Long: `rotate creates a new Ed25519 issuer key and makes it the signer; the older
keys keep verifying tokens they signed until retired. Restart 'token serve'
and give resource servers the new JWKS ('token keys export').`,
		Example: `  token keys rotate --dir /srv/token`,
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := g.passphrase(false)
			if err != nil {
				return err
			}
			ki, err := g.tokenDir().Rotate(p)
			if err != nil {
				return dirErr(err)
			}
			if g.json {
				return cli.JSON(cmd.OutOrStdout(), ki)
			}
			fmt.Fprintln(cmd.OutOrStdout(), ki.ID)
			fmt.Fprintf(cmd.ErrOrStderr(), "token: %s now signs; restart 'token serve' and re-export the JWKS ('token keys export')\n", ki.ID)
			return nil
		},
	}
	addDir(rotate, g)
	addPass(rotate, g)
	addJSON(rotate, g)

	gr := &globals{}
	retire := &cobra.Command{
		Use:   "retire KID [--dir DIR]",
		Short: "Stop trusting a key: tokens it signed stop verifying",
		Long: `retire removes a key from the verifying set and the JWKS. The active key
cannot be retired: rotate first. The revocation list is signed again with
the active key, which needs the passphrase.`,
		Example: `  token keys retire 1f0c5a2e9b7d4c13`,
		Args:    cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := keys.ParseID(args[0])
			if err != nil {
				return cli.Usage("%v", err)
			}
			p, err := gr.passphrase(false)
			if err != nil {
				return err
			}
			if err := gr.tokenDir().Retire(id, p); err != nil {
				return dirErr(err)
			}
			if gr.json {
				return cli.JSON(cmd.OutOrStdout(), map[string]any{"kid": id, "status": tokendir.KeyRetired})
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "token: %s retired; re-export the JWKS and restart 'token serve'\n", id)
			return nil
		},
	}
	addDir(retire, gr)
	addPass(retire, gr)
	addJSON(retire, gr)

	ge := &globals{}
	export := &cobra.Command{
		Use:   "export [--dir DIR] [-o FILE]",
		Short: "Print the public JWKS (RFC 7517) on stdout, or write it to -o FILE",
		Long: `export prints the public keys that verify tokens (active and rotated, not
retired) as a JWKS, for resource servers and for 'token verify --jwks FILE'.
-o FILE writes it to FILE instead (- is standard output); an existing FILE
is replaced only with --force.`,
		Example: `  token keys export > jwks.json
  token keys export -o jwks.json --force`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := ge.checkOutput(); err != nil {
				return err
			}
			ring, _, err := ge.tokenDir().Keyring()
			if err != nil {
				return dirErr(err)
			}
			b, err := token.MarshalJWKS(ring)
			if err != nil {
				return err
			}
			return ge.write(cmd, append(b, '\n'), 0o644)
		},
	}
	addDir(export, ge)
	addOutput(export, ge, "the JWKS")
	export.Flags().BoolVar(&ge.json, "json", false, "accepted for symmetry: the JWKS is always JSON")

	gl := &globals{}
	list := &cobra.Command{
		Use:   "list [--dir DIR] [--json]",
		Short: "List the issuer keys and their status",
		Long: `list prints one line per issuer key: its ID, status (active: signs; valid:
verifies only; retired) and creation time; --json prints an array of kid, status, created
and retired.`,
		Example: `  token keys list
  token keys list --dir /srv/token --json`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := gl.tokenDir().State()
			if err != nil {
				return dirErr(err)
			}
			if gl.json {
				return cli.JSON(cmd.OutOrStdout(), st.Keys)
			}
			for _, k := range st.Keys {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %-7s %s\n", k.ID, k.Status, k.Created.Format(time.RFC3339))
			}
			return nil
		},
	}
	addDir(list, gl)
	addJSON(list, gl)
	c.AddCommand(rotate, retire, export, list)
	return c
}

func newClient() *cobra.Command {
	c := &cobra.Command{
		Use:   "client add|list|remove|disable|enable",
		Short: "Register, list, remove, disable and enable OAuth clients of the token endpoint",
		Long: `client manages DIR/clients.json, so that nobody edits it by hand. The
file is checked strictly whenever it is read: an entry with an unknown
field, a duplicate name or a secret hash that is not 64 hex digits is
refused, naming the file and line, and never authenticates.`,
		Example: `  token client add local.itgrix.1 --aud https://portal.local/rest/ --scope telephony,crm
  token client list
  token client disable local.itgrix.1`,
	}
	g := &globals{}
	var aud, scope string
	add := &cobra.Command{
		Use:   "add NAME [--aud A] [--scope S] [--json] [--dir DIR]",
		Short: "Register a client; prints its client_id and client_secret once",
		Long: `add registers client NAME (its client_id) and prints a random 256-bit
client_secret once; the directory keeps only its SHA-256. --aud and
--scope are what client_credentials tokens for this client get; a client
without --aud can only exchange grants (refresh_token). The client can
authenticate at once: a 'token serve' that is already running re-reads
clients.json when it changes (remove, disable and enable take effect at
once too).`,
		Example: `  token client add local.itgrix.1 --aud https://portal.local/rest/ --scope telephony,crm --json`,
		Args:    cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, secret, err := g.tokenDir().AddClient(args[0], aud, scope)
			if err != nil {
				return clientErr(err)
			}
			if g.json {
				return cli.JSON(cmd.OutOrStdout(), map[string]string{"client_id": cl.ID, "client_secret": secret, "takes_effect": "immediately"})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "client_id=%s\nclient_secret=%s\n", cl.ID, secret)
			fmt.Fprintln(cmd.ErrOrStderr(), "token: the secret is shown only now; store it in the client's configuration")
			fmt.Fprintln(cmd.ErrOrStderr(), "token: the client can authenticate at once, also at a 'token serve' that is already running (it re-reads "+tokendir.ClientsFile+" when it changes)")
			return nil
		},
	}
	addDir(add, g)
	addJSON(add, g)
	add.Flags().StringVar(&aud, "aud", "", "audience `URI` of this client's client_credentials tokens")
	add.Flags().StringVar(&scope, "scope", "", "`SCOPES` the client may request (space- or comma-separated)")

	gl := &globals{}
	list := &cobra.Command{
		Use:   "list [--json] [--dir DIR]",
		Short: "List the registered clients (never their secrets)",
		Long: `list prints the clients registered in DIR/clients.json with their audience,
scopes and whether they are disabled; the secrets are never shown (only
their hashes are kept).`,
		Example: `  token client list --json`,
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cs, err := gl.tokenDir().ClientList()
			if err != nil {
				return clientErr(err)
			}
			out := cmd.OutOrStdout()
			if gl.json {
				type row struct {
					ID       string    `json:"client_id"`
					Audience string    `json:"aud,omitempty"`
					Scope    string    `json:"scope,omitempty"`
					Created  time.Time `json:"created"`
					Status   string    `json:"status"`
				}
				rows := make([]row, 0, len(cs))
				for _, c := range cs {
					rows = append(rows, row{c.ID, c.Audience, c.Scope, c.Created, clientStatus(c)})
				}
				return cli.JSON(out, rows)
			}
			for _, c := range cs {
				fmt.Fprintf(out, "%s %-8s aud=%s scope=%q\n", c.ID, clientStatus(c), safetext.Clean(c.Audience), c.Scope)
			}
			return nil
		},
	}
	addDir(list, gl)
	addJSON(list, gl)

	c.AddCommand(add, list,
		clientEdit("remove", "Remove a client: its secret stops working", func(d *tokendir.Dir, id string) (*tokendir.Client, error) { return d.RemoveClient(id) }, "removed"),
		clientEdit("disable", "Disable a client: it keeps its entry but never authenticates", func(d *tokendir.Dir, id string) (*tokendir.Client, error) { return d.SetClientDisabled(id, true) }, "disabled"),
		clientEdit("enable", "Enable a disabled client again with its old secret", func(d *tokendir.Dir, id string) (*tokendir.Client, error) { return d.SetClientDisabled(id, false) }, "enabled"))
	return c
}

func clientStatus(c tokendir.Client) string {
	if c.Disabled {
		return "disabled"
	}
	return "enabled"
}

func clientErr(err error) error {
	switch {
	case errors.Is(err, tokendir.ErrClientsFile):
		return cli.Fail(cli.ExitError, err, "fix the named line of "+tokendir.ClientsFile+", or restore it from a backup")
	case errors.Is(err, tokendir.ErrNoClient):
		return cli.Fail(cli.ExitError, err, "'token client list' shows the registered names")
	}
	return dirErr(err)
}

func clientEdit(verb, short string, do func(d *tokendir.Dir, id string) (*tokendir.Client, error), done string) *cobra.Command {
	g := &globals{}
	c := &cobra.Command{
		Use:   verb + " NAME [--json] [--dir DIR]",
		Short: short,
		Long: verb + ` changes client NAME in DIR/clients.json (` + strings.ToLower(short) + `).
A running 'token serve' applies it within 5 s, or at once on SIGHUP.`,
		Example: "  token client " + verb + " local.itgrix.1",
		Args:    cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := do(g.tokenDir(), args[0])
			if err != nil {
				return clientErr(err)
			}
			if g.json {
				return cli.JSON(cmd.OutOrStdout(), map[string]string{"client_id": cl.ID, "status": done})
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "token: client %s %s; this takes effect at once, also at a 'token serve' that is already running\n", cl.ID, done)
			return nil
		},
	}
	addDir(c, g)
	addJSON(c, g)
	return c
}

func newMint() *cobra.Command {
	g := &globals{}
	var aud, sub, scope, clientID, ttlS, licFile, format, memberID, serverEndpoint string
	c := &cobra.Command{
		Use:   "mint --aud A --sub S [--scope X] [--client-id C] [--ttl DURATION] [--license FILE] [--format jwt|oauth|bitrix]",
		Short: "Mint a signed access token and record it in the ledger",
		Long: `mint signs an RFC 9068 access token (typ at+jwt, EdDSA) with the active
issuer key and appends jti, subject, audience and expiry to the ledger
before printing it. --ttl defaults to 3650d; above 3653d is refused.
Durations are Go durations (87600h) or days (3650d).

--license FILE binds the token to the license's serial: revoking that
serial ('token revoke --license-serial') revokes the token. The file is
read for its serial only; its signature is not checked here.

--format jwt prints the bare token; oauth an RFC 6749 token response;
bitrix the Bitrix24 OAuth response in the shape oauth.bitrix.info
answers (client_endpoint = --aud, server_endpoint = --server-endpoint,
by default the issuer + /rest/ when the issuer is an https URL, else
https://oauth.bitrix.info/rest/; domain = the host of server_endpoint;
user_id = --sub, member_id = --member-id, status "L"). Its refresh_token is the same
long-lived token: a Bitrix24 client stores both fields and, should its
access token be refused, refreshes with grant_type=refresh_token, which
'token serve --bitrix' answers with a short-lived token and the same
grant (it is never rotated). Both fields are the same bearer credential:
protect the refresh_token like the access token.`,
		Example: `  token mint --aud https://portal.local/rest/ --sub 1 --client-id local.itgrix.1 --scope telephony,crm
  token mint --aud urn:app:crm --sub svc:connector --ttl 30d --license customer.lic --format oauth`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if aud == "" || sub == "" {
				return cli.Usage("--aud and --sub are required")
			}
			if err := g.checkOutput(); err != nil {
				return err
			}
			if format != "jwt" && format != "oauth" && format != "bitrix" {
				return cli.Usage("--format %q: want jwt, oauth or bitrix", format)
			}
			if g.json && format != "jwt" {
				return cli.Usage("--json and --format %s both choose the output; give one", format)
			}
			ttl := token.DefaultTTL
			if ttlS != "" {
				var err error
				if ttl, err = token.ParseDuration(ttlS); err != nil {
					return cli.Usage("--ttl: %v", err)
				}
			}
			if ttl > token.MaxTTL {
				return cli.Fail(cli.ExitUsage, fmt.Errorf("--ttl %s: %w", ttlS, token.ErrTTLTooLong), "give --ttl 3653d or less; long-lived tokens are capped at ten years")
			}
			if ttl < time.Second {
				return cli.Usage("--ttl %s: give at least 1s", ttlS)
			}
			if clientID == "" {
				clientID = sub
			}
			var serial string
			if licFile != "" {
				data := []byte(licFile) // a typed code, however typed
				var err error
				if !typedcode.IsArg(licFile, license.CodePrefix) {
					if data, err = fileio.ReadRegular(cmd.InOrStdin(), licFile, fileio.LimitLicense, "license"); err != nil {
						return cli.Fail(cli.ExitError, fmt.Errorf("--license: %w", err), "--license names the customer's license file (- for stdin) or its typed code (ASL1-...)")
					}
				}
				l, err := license.Decode(data)
				if err != nil {
					name := safetext.Clean(licFile)
					if typedcode.IsArg(licFile, license.CodePrefix) {
						name = "(typed code)"
					}
					return cli.Fail(cli.ExitMalformed, fmt.Errorf("--license %s: %w", name, err), "--license takes a license file or code made by 'issue license'")
				}
				serial = l.Serial
			}
			s, err := g.signer()
			if err != nil {
				return err
			}
			now := time.Now()
			tok, claims, err := s.Mint(token.Request{Subject: sub, Audience: aud, ClientID: clientID, Scope: scope,
				TTL: ttl, LicenseSerial: serial, MemberID: memberID, Now: now})
			if err != nil {
				return err
			}
			if err := g.tokenDir().Record(s.KeyID(), claims); err != nil {
				return cli.Fail(cli.ExitError, fmt.Errorf("ledger: %w", err), "the token was not printed because it could not be recorded; fix the ledger and mint again")
			}
			var out bytes.Buffer
			switch {
			case g.json:
				err = cli.JSON(&out, map[string]any{"token": tok, "claims": claims})
			case format == "oauth":
				err = cli.JSON(&out, token.NewOAuthResponse(tok, claims, "", now))
			case format == "bitrix":
				if serverEndpoint == "" {
					serverEndpoint = defaultServerEndpoint(s.Issuer())
				}
				err = cli.JSON(&out, token.NewBitrixResponse(tok, claims, tok, serverEndpoint, now))
			default:
				out.WriteString(tok + "\n")
			}
			if err != nil {
				return err
			}
			// A token is a bearer credential: a file of it is private.
			return g.write(cmd, out.Bytes(), 0o600)
		},
	}
	addDir(c, g)
	addPass(c, g)
	addJSON(c, g)
	f := c.Flags()
	f.StringVar(&aud, "aud", "", "audience `URI`: the resource server, e.g. https://portal.local/rest/ (required)")
	f.StringVar(&sub, "sub", "", "subject `S`: the user or service the token acts as (required)")
	f.StringVar(&scope, "scope", "", "`SCOPES`, space- or comma-separated")
	f.StringVar(&clientID, "client-id", "", "`CLIENT_ID` claim; the client that may exchange this token at the endpoint (default: --sub)")
	f.StringVar(&ttlS, "ttl", "", "lifetime `DURATION`, e.g. 3650d or 87600h (default 3650d, at most 3653d)")
	f.StringVar(&licFile, "license", "", "bind the token to the serial of the license in `FILE` or of a typed code (ASL1-...)")
	f.StringVar(&format, "format", "jwt", "output `FORMAT`: jwt, oauth or bitrix")
	addOutput(c, g, "the token")
	f.StringVar(&memberID, "member-id", "", "Bitrix24 portal `MEMBER_ID` (kept in the token for --format bitrix and the endpoint)")
	f.StringVar(&serverEndpoint, "server-endpoint", "", "server_endpoint `URL` of --format bitrix (default: the issuer + /rest/ when it is an https URL, else https://oauth.bitrix.info/rest/)")
	return c
}

// defaultServerEndpoint is the server_endpoint of 'mint --format bitrix'
// without --server-endpoint: the issuer's /rest/ when the issuer is the
// endpoint's https URL, else the one real Bitrix24 answers carry.
func defaultServerEndpoint(iss string) string {
	if u, err := url.Parse(iss); err == nil && u.Scheme == "https" && u.Host != "" && u.RawQuery == "" {
		return strings.TrimSuffix(iss, "/") + "/rest/"
	}
	return token.DefaultBitrixServerEndpoint
}

func newVerify() *cobra.Command {
	g := &globals{}
	var aud, iss, leewayS, jwksFile, revFile, stateFile string
	c := &cobra.Command{
		Use:   "verify --aud A [--leeway DURATION] [--json] [--dir DIR | --jwks FILE] [TOKEN|-]",
		Short: "Verify a token offline",
		Long: `verify checks a token (argument, or stdin when absent or -) in a fixed
order; the first failure decides the exit code and reason:

  10 malformed: size above 8 KiB, not three base64url parts, a header other
     than {alg: EdDSA, kid, typ: at+jwt} (none, HS256, crit, jwk... refused),
     bad signature, or required claims missing
  11 unknown_key: the kid is not a trusted key (never issued, or retired)
  19 wrong_issuer / wrong_audience
  13 expired / not_yet_valid (beyond --leeway, default 300s)
  14 revoked: its jti, its grant or its license serial is on the list
   0 valid; 1 other errors (unreadable key set or revocation list, a
     revocation list older than one seen before); 2 usage

With --dir the directory's keys, issuer and revocation list are used and
the highest revocation list number seen is remembered there. With --jwks,
give --iss, --revocations and --state as needed. --json prints an RFC 7662
introspection object (active, iss, sub, aud, client_id, scope, exp, iat,
jti, ...) or {active: false, reason, error_description}.`,
		Example: `  token verify --aud https://portal.local/rest/ "$TOKEN"
  echo "$TOKEN" | token verify --aud urn:app:crm --jwks jwks.json --revocations revocations.jwt --state seen.seq --json`,
		Args: cli.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if aud == "" {
				return cli.Usage("--aud is required: the audience this verifier serves")
			}
			if jwksFile != "" && g.dir() != "" {
				return cli.Usage("give --dir or --jwks, not both")
			}
			v := &token.Verifier{Audience: aud, Issuer: iss}
			if leewayS != "" {
				l, err := token.ParseDuration(leewayS)
				if err != nil {
					return cli.Usage("--leeway: %v", err)
				}
				if l < 0 {
					return cli.Usage("--leeway %s: give 0s or more", leewayS)
				}
				v.Leeway = l
				if l == 0 {
					v.Leeway = -1
				}
			}
			tok, err := readToken(cmd, args)
			if err != nil {
				return err
			}
			if jwksFile != "" && revFile != "" && stateFile == "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "token: warning: --revocations without --state: an older list put back in its place cannot be detected; give --state FILE to remember the newest list number")
			}
			if err := loadTrust(g, v, jwksFile, revFile, stateFile); err != nil {
				return err
			}
			claims, err := v.Verify(tok, time.Now())
			return reportVerify(cmd, g.json, claims, err)
		},
	}
	addDir(c, g)
	addJSON(c, g)
	f := c.Flags()
	f.StringVar(&aud, "aud", "", "audience `URI` the token must carry (required)")
	f.StringVar(&iss, "iss", "", "issuer `URI` the token must carry (default with --dir: the directory's issuer)")
	f.StringVar(&leewayS, "leeway", "", "tolerated clock skew `DURATION` (default 300s)")
	f.StringVar(&jwksFile, "jwks", "", "trusted keys from the JWKS `FILE` instead of --dir")
	f.StringVar(&revFile, "revocations", "", "signed revocation list `FILE` (default with --dir: DIR/revocations.jwt)")
	f.StringVar(&stateFile, "state", "", "`FILE` remembering the highest revocation list number seen (default with --dir: DIR/revocations.seq)")
	return c
}

func readToken(cmd *cobra.Command, args []string) (string, error) {
	if len(args) == 1 && args[0] != "-" {
		return strings.TrimSpace(args[0]), nil
	}
	b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), token.MaxTokenSize+2))
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", cli.Usage("no token: give it as the argument or on stdin")
	}
	return tok, nil
}

// loadTrust fills v's keys, issuer and revocation list from --dir or --jwks.
func loadTrust(g *globals, v *token.Verifier, jwksFile, revFile, stateFile string) error {
	if jwksFile == "" {
		d := g.tokenDir()
		ring, st, err := d.Keyring()
		if err != nil {
			return dirErr(err)
		}
		v.Keys = ring
		if v.Issuer == "" {
			v.Issuer = st.Issuer
		}
		if revFile == "" && stateFile != "" {
			revFile = filepath.Join(d.Path, tokendir.RevocationsFile)
		}
		if stateFile == "" {
			// One floor per directory, whichever list file is checked.
			stateFile = filepath.Join(d.Path, tokendir.SeenFile)
		}
		if revFile == "" {
			l, err := d.Revocations(ring, st.Issuer)
			if err != nil {
				return cli.Fail(cli.ExitError, err, "a revocation list older than one already seen was put back, or it is damaged; restore the newest list")
			}
			v.Revocations = l
			return nil
		}
	} else {
		b, err := fileio.ReadRegular(nil, jwksFile, fileio.LimitJWKS, "JWKS")
		if err != nil {
			return cli.Fail(cli.ExitError, fmt.Errorf("--jwks: %w", err), "give the file 'token keys export' wrote on the issuer's machine")
		}
		ring, err := token.ParseJWKS(b)
		if err != nil {
			return cli.Fail(cli.ExitError, fmt.Errorf("%s: %w", jwksFile, err), "export the issuer's keys with 'token keys export'")
		}
		v.Keys = ring
	}
	if revFile == "" {
		if stateFile != "" {
			return cli.Usage("--state needs --revocations")
		}
		return nil
	}
	l, err := tokendir.LoadRevocationFile(v.Keys, revFile, stateFile, v.Issuer)
	if err != nil {
		return cli.Fail(cli.ExitError, err, "use the newest revocation list signed by the issuer ('token revoke' writes it)")
	}
	v.Revocations = l
	return nil
}

func reportVerify(cmd *cobra.Command, asJSON bool, claims *token.Claims, err error) error {
	out := cmd.OutOrStdout()
	if err == nil {
		if asJSON {
			return cli.JSON(out, token.Introspect(claims))
		}
		fmt.Fprintf(out, "valid: sub=%s aud=%s client_id=%s jti=%s expires %s\n", claims.Subject,
			strings.Join(claims.Audience, ","), claims.ClientID, claims.ID, time.Unix(claims.ExpiresAt, 0).UTC().Format(time.RFC3339))
		return nil
	}
	var ve *token.Error
	if !errors.As(err, &ve) {
		return err
	}
	code := reasonExit[ve.Reason]
	if asJSON {
		if err := cli.JSON(out, &token.Introspection{Active: false, Reason: ve.Reason, Detail: ve.Error()}); err != nil {
			return err
		}
	}
	reported := asJSON // --json: the introspection object is the one JSON result
	hint := map[token.Reason]string{
		token.ReasonUnknownKey:    "the key is not trusted here: it was retired, or the JWKS is out of date ('token keys export')",
		token.ReasonWrongAudience: "the token was minted for another resource server (--aud)",
		token.ReasonExpired:       "mint a new token, or check this machine's clock (--leeway widens the tolerance)",
		token.ReasonNotYetValid:   "check this machine's clock (--leeway widens the tolerance)",
		token.ReasonRevoked:       "the token was revoked; mint a new one if access should continue",
	}[ve.Reason]
	msg := fmt.Errorf("invalid token (%s): %s", ve.Reason, ve.Detail)
	if reported {
		return cli.Reported(code, msg, hint)
	}
	return cli.Fail(code, msg, hint)
}

func newRevoke() *cobra.Command {
	g := &globals{}
	var jtis, serials []string
	c := &cobra.Command{
		Use:   "revoke (--jti J | --license-serial S)... [--dir DIR]",
		Short: "Revoke tokens by jti or license serial in the signed revocation list",
		Long: `revoke adds entries to DIR/revocations.jwt and signs it again with a
sequence number one higher. Revoking a jti also revokes the short-lived
tokens 'token serve' exchanged from it; revoking a license serial revokes
every token bound to it. Copy the list to every verifier: they refuse a
list older than one they have seen, so a revocation cannot be undone by
putting an old file back.

A license serial may be typed in lower case, without dashes or with spaces:
it is normalised to the spelling licenses carry (7Q2M-4K9T-1XZ3-B8PD). A jti
or serial that no token in the ledger of minted tokens carries gives a
warning (a typo revokes nothing). A list holds 100,000 jtis and 100,000
serials and more (16 MiB); checking a token costs the same whatever its
length.`,
		Example: `  token revoke --jti 3mJr7AoUXx7Wqd5pA6C9SQ --license-serial 7Q2M4K9T1XZ3B8PD`,
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(jtis)+len(serials) == 0 {
				return cli.Usage("give at least one --jti or --license-serial")
			}
			for _, x := range append(append([]string{}, jtis...), serials...) {
				if strings.TrimSpace(x) == "" || len(x) > 256 {
					return cli.Usage("revocation entries must be 1 to 256 characters, got %q", x)
				}
			}
			s, err := g.signer()
			if err != nil {
				return err
			}
			d := g.tokenDir()
			l, err := d.Revoke(s, jtis, serials)
			if errors.Is(err, token.ErrRevocationList) || errors.Is(err, token.ErrRevocationRollback) {
				return cli.Fail(cli.ExitError, err, "restore the newest "+tokendir.RevocationsFile+" from a backup (or a verifier's copy); nothing was changed")
			}
			if err != nil {
				return err
			}
			// The ledger of minted tokens is at hand: a jti or serial no
			// minted token carries is probably a typo.
			unknownJ, unknownS, lerr := d.NotMinted(jtis, serials)
			if lerr != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "token: warning: could not check the entries against %s: %v\n", tokendir.LedgerFile, lerr)
			}
			for _, j := range unknownJ {
				fmt.Fprintf(cmd.ErrOrStderr(), "token: warning: no token in %s has jti %s; check it for typos (an endpoint token is revoked through its grant's jti)\n", tokendir.LedgerFile, safetext.Clean(j))
			}
			for _, x := range unknownS {
				fmt.Fprintf(cmd.ErrOrStderr(), "token: warning: no token in %s is bound to license serial %s; check it for typos\n", tokendir.LedgerFile, safetext.Clean(x))
			}
			if g.json {
				return cli.JSON(cmd.OutOrStdout(), map[string]any{"iss": l.Issuer, "seq": l.Seq, "iat": l.IssuedAt,
					"jti_count": len(l.JTIs), "license_serial_count": len(l.LicenseSerials),
					"revoked_jti": nonNil(jtis), "revoked_license_serial": nonNil(tokendir.NormalizeSerials(serials)),
					"not_minted_jti": nonNil(unknownJ), "not_minted_license_serial": nonNil(unknownS)})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d\n", l.Seq)
			fmt.Fprintf(cmd.ErrOrStderr(), "token: revocation list #%d holds %d jti and %d license serials; copy %s to every verifier\n",
				l.Seq, len(l.JTIs), len(l.LicenseSerials), tokendir.RevocationsFile)
			return nil
		},
	}
	addDir(c, g)
	addPass(c, g)
	addJSON(c, g)
	c.Flags().StringArrayVar(&jtis, "jti", nil, "revoke the token with this `JTI` (repeatable)")
	c.Flags().StringArrayVar(&serials, "license-serial", nil, "revoke every token bound to the license `SERIAL` (repeatable)")
	return c
}

// reloadOnSignal calls reload for every signal on sig (SIGHUP) until ctx
// is done, logging the outcome.
func reloadOnSignal(ctx context.Context, sig <-chan os.Signal, reload func() error, lg *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-sig:
			if err := reload(); err != nil {
				lg.Error("reload on SIGHUP failed; keeping the previous clients and revocation list", "err", err)
			} else {
				lg.Info("reloaded clients and revocation list on SIGHUP")
			}
		}
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func newServe() *cobra.Command {
	g := &globals{}
	var addr, certFile, keyFile, ttlS, publicURL, logLevel, issuedMaxS string
	var insecure, bitrix bool
	var issuedKeep int
	c := &cobra.Command{
		Use:   "serve --addr HOST:PORT [--tls-cert F --tls-key F] [--dir DIR]",
		Short: "Serve the OAuth token endpoint",
		Long: `serve answers, until SIGINT or SIGTERM (then requests in flight finish):

  POST /token        RFC 6749: client_credentials, and refresh_token with a
                     long-lived token as the grant, exchanged for a token of
                     --access-ttl (default 1h)
  POST /introspect   RFC 7662 (client authentication required)
  POST /revoke       RFC 7009: signs a new revocation list at once
  GET  /.well-known/jwks.json
  GET  /.well-known/oauth-authorization-server   RFC 8414
  GET|POST /oauth/token/   with --bitrix: Bitrix24-shaped responses

Every token issued is written to DIR/issued.jsonl before it is sent (if
that fails: 500 server_error and no token) and fsynced about 10 ms later,
so a crash of the server loses no record, a power cut those of the last
~10 ms. issued.jsonl is rotated when it reaches --issued-max-size (default
256MiB, about a million tokens): it becomes issued.jsonl.1, older files
move up one number, and only --issued-keep of them (default 8) are kept,
so the ledger never takes more than (keep + 1) x max-size of disk.
--issued-max-size 0 never rotates (then archive it yourself).

Clients authenticate with HTTP Basic or client_id and client_secret in the
body. After 10 failed authentications in a minute an IP address (an IPv6
/64) gets 429 with Retry-After. Bodies are limited to 16 KiB. Errors are
RFC 6749 JSON. Logs are JSON (log/slog) on stderr.

The signing key is decrypted once at start: the passphrase comes from
--passphrase-file (read once; e.g. a systemd credential) or
$AIRSEAL_PASSPHRASE, never from the command line. Without --tls-cert and
--tls-key, --addr must be a loopback address unless --insecure-listen is
given. clients.json is re-read as soon as it changes: a client added,
disabled or removed while the server runs takes effect on its next
request (a refusal of a client_id not loaded yet does not count toward
the failed-authentication limit). The revocation list is re-read every
5 s; SIGHUP re-reads both at once. Restart after 'token keys rotate' or
'retire'.`,
		Example: `  token serve --addr 127.0.0.1:8089 --passphrase-file /run/credentials/token.service/passphrase
  token serve --addr 0.0.0.0:8443 --tls-cert auth.crt --tls-key auth.key --bitrix`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if addr == "" {
				return cli.Usage("--addr is required, e.g. 127.0.0.1:8089")
			}
			if (certFile == "") != (keyFile == "") {
				return cli.Usage("give both --tls-cert and --tls-key, or neither")
			}
			if err := tokenserver.CheckListen(addr, certFile != "", insecure); errors.Is(err, tokenserver.ErrBadAddress) {
				return cli.Fail(cli.ExitUsage, fmt.Errorf("--addr: %w", err), "give --addr as HOST:PORT, e.g. 127.0.0.1:8089 or [::1]:8089")
			} else if err != nil {
				return cli.Fail(cli.ExitUsage, err, "give --tls-cert and --tls-key, listen on 127.0.0.1, or accept the risk with --insecure-listen")
			}
			opts := tokenserver.ServerOptions{Bitrix: bitrix, PublicURL: publicURL}
			maxSize, err := parseSize(issuedMaxS)
			if err != nil {
				return cli.Usage("--issued-max-size: %v", err)
			}
			if issuedKeep < 1 || issuedKeep > 1000 {
				return cli.Usage("--issued-keep %d: give 1 to 1000 rotated files", issuedKeep)
			}
			opts.IssuedMaxSize, opts.IssuedKeep = maxSize, issuedKeep
			if maxSize == 0 {
				opts.IssuedMaxSize = -1 // never rotate
			}
			if ttlS != "" {
				d, err := token.ParseDuration(ttlS)
				if err != nil {
					return cli.Usage("--access-ttl: %v", err)
				}
				if d < time.Second || d > token.MaxTTL {
					return cli.Usage("--access-ttl %s: give 1s to 3653d (one hour, the default, suits most clients)", ttlS)
				}
				opts.AccessTTL = d
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
			opts.Logger = slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: lvl}))
			s, err := g.signer()
			if err != nil {
				return err
			}
			srv, err := tokenserver.NewServer(g.tokenDir(), s, opts)
			if err != nil {
				return dirErr(err)
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				srv.Close()
				return cli.Fail(cli.ExitError, err, "is another server on "+addr+"? stop it or choose another --addr")
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go reloadOnSignal(ctx, hup, srv.Reload, opts.Logger)
			opts.Logger.Info("serving", "addr", ln.Addr().String(), "tls", certFile != "", "issuer", s.Issuer(), "kid", s.KeyID(), "bitrix", bitrix)
			if w := issuerWarning(s.Issuer()); w != "" {
				opts.Logger.Warn(w)
			} else if publicURL != "" && strings.TrimSuffix(publicURL, "/") != strings.TrimSuffix(s.Issuer(), "/") {
				opts.Logger.Warn("the issuer is not --public-url; RFC 8414 clients refuse metadata whose issuer differs from the URL they fetched it from", "issuer", s.Issuer(), "public_url", publicURL)
			}
			return srv.Run(ctx, ln, cert, 0)
		},
	}
	addDir(c, g)
	addPass(c, g)
	f := c.Flags()
	f.StringVar(&addr, "addr", "", "listen address `HOST:PORT` (required)")
	f.StringVar(&certFile, "tls-cert", "", "TLS certificate chain `FILE` (PEM)")
	f.StringVar(&keyFile, "tls-key", "", "TLS private key `FILE` (PEM)")
	f.BoolVar(&insecure, "insecure-listen", false, "allow plain HTTP on a non-loopback address (tokens cross the network in clear text)")
	f.BoolVar(&bitrix, "bitrix", false, "also serve /oauth/token/ in the Bitrix24 shape (GET with query allowed)")
	f.StringVar(&ttlS, "access-ttl", "", "lifetime `DURATION` of issued tokens (default 1h)")
	f.StringVar(&publicURL, "public-url", "", "base `URL` advertised in metadata (default: from each request)")
	f.StringVar(&logLevel, "log-level", "info", "`LEVEL`: debug, info, warn or error")
	f.StringVar(&issuedMaxS, "issued-max-size", "256MiB", "rotate issued.jsonl at this `SIZE` (bytes, or with KiB, MiB, GiB); 0 never rotates")
	f.IntVar(&issuedKeep, "issued-keep", 8, "keep this many rotated issued.jsonl.`N` files; the oldest is deleted")
	return c
}

// parseSize reads a size such as 1048576, 64KiB, 256MiB or 1GiB.
func parseSize(s string) (int64, error) {
	num, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("%q: want a size such as 256MiB, 1GiB or a number of bytes", s)
	}
	if n*mult != 0 && n*mult < 64<<10 {
		return 0, fmt.Errorf("%q: give at least 64KiB (or 0 to never rotate)", s)
	}
	return n * mult, nil
}
