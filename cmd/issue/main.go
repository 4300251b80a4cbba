// Command issue is the vendor's side of airseal: it creates signing keys,
// signs licenses, revokes them, and keeps a ledger of everything issued.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/atomicfile"
	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/passphrase"
	"github.com/airseal/airseal/pkg/fingerprint"
	"github.com/airseal/airseal/pkg/hwid"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
)

func main() { os.Exit(run()) }

// run runs the command with os.Args and returns the exit code.
func run() int { return cli.Main(newRoot()) }

// now is the clock; tests may not change it (licenses carry real times).
var now = time.Now

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "issue",
		Short: "Create keys, sign licenses, revoke them and list what was issued",
		Long: `issue is the vendor's side of airseal. It creates an Ed25519 key pair, signs
licenses for customers (bound to a machine from a license request, or unbound),
revokes licenses with a signed revocation list, and records every license and
revocation in a crash-safe ledger (by default NAME.ledger next to NAME.key).

The passphrase of the private key comes from --passphrase-file, then the
AIRSEAL_PASSPHRASE environment variable, then a prompt on the terminal; never
from the command line.

Exit codes: 0 success, 1 error, 2 usage.`,
		Example: `  issue keygen -o vendor
  issue license --key vendor.key --product "Acme Writer" --customer "Example LLC" \
      --tax-id 7707083893 --request request.json --seats 5 --feature export=true \
      --feature max_documents=1000 --updates-until 2027-01-31 -o example.lic --code
  issue revoke --key vendor.key --serial 7K3M-Q9TX-4HZP-2W8R --list revoked.list -o revoked.list
  issue list
  issue show 7K3M-Q9TX-4HZP-2W8R`,
	}
	root.RunE = func(cmd *cobra.Command, args []string) error {
		return cli.Usage("missing command: keygen, license, revoke, list or show")
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(keygenCmd(), licenseCmd(), revokeCmd(), listCmd(), showCmd())
	return root
}

func keygenCmd() *cobra.Command {
	var out, passFile string
	var asJSON bool
	c := &cobra.Command{
		Use:   "keygen -o NAME",
		Short: "Create a signing key pair: NAME.key (encrypted, 0600) and NAME.pub",
		Long: `keygen creates an Ed25519 key pair. NAME.key holds the private key encrypted
with a passphrase (scrypt + XChaCha20-Poly1305), mode 0600; NAME.pub is the
public key to give to verify (--pub) or to compile into customer binaries
(copy it to keys/ before building). Existing files are never overwritten.

Security: keep NAME.key and its passphrase off customer machines and back
them up; anyone holding both can sign licenses.`,
		Example: `  issue keygen -o vendor                 # prompts twice for the passphrase
  issue keygen -o vendor --passphrase-file pass.txt`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return cli.Usage("keygen needs -o NAME")
			}
			keyPath, pubPath := strings.TrimSuffix(out, ".key")+".key", strings.TrimSuffix(out, ".key")+".pub"
			for _, p := range []string{keyPath, pubPath} {
				if _, err := os.Stat(p); err == nil {
					return cli.Fail(1, fmt.Errorf("%s already exists; refusing to overwrite it", p), "choose another -o NAME or move the old key away")
				}
			}
			pass, err := passphrase.Source{File: passFile}.Read("Passphrase for the new key", true)
			if err != nil {
				return err
			}
			k, err := keys.Generate(nil)
			if err != nil {
				return err
			}
			sealed, err := k.Seal(pass, nil)
			if err != nil {
				return err
			}
			if err := keys.WriteNew(keyPath, sealed, 0o600); err != nil {
				return err
			}
			if err := keys.WriteNew(pubPath, k.Public().MarshalPublic(), 0o644); err != nil {
				return err
			}
			if asJSON {
				return cli.JSON(cmd.OutOrStdout(), map[string]string{"key_id": string(k.ID()), "private_key": keyPath, "public_key": pubPath})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "key %s\n", k.ID())
			fmt.Fprintf(cmd.ErrOrStderr(), "issue: wrote %s (private, keep it secret) and %s (public)\n", keyPath, pubPath)
			fmt.Fprintf(cmd.ErrOrStderr(), "issue: hint: sign a license with: issue license --key %s --product P --customer ORG --unbound -o FILE\n", keyPath)
			return nil
		},
	}
	c.Flags().StringVarP(&out, "output", "o", "", "write NAME.key and NAME.pub")
	c.Flags().StringVar(&passFile, "passphrase-file", "", "read the passphrase from the first line of FILE")
	c.Flags().BoolVar(&asJSON, "json", false, "print the key ID and file names as JSON")
	return c
}

// defaultLedger returns the ledger path for a key: NAME.ledger next to NAME.key.
func defaultLedger(keyPath string) string {
	return strings.TrimSuffix(keyPath, filepath.Ext(keyPath)) + ".ledger"
}

func loadKey(path, passFile string) (*keys.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, cli.Fail(1, err, "give the private key file made by 'issue keygen -o NAME' (NAME.key)")
	}
	if !keys.IsPrivate(data) {
		return nil, cli.Fail(1, fmt.Errorf("%s is not a private key", path), "signing needs NAME.key, not NAME.pub")
	}
	pass, err := passphrase.Source{File: passFile}.Read("Passphrase for "+path, false)
	if err != nil {
		return nil, err
	}
	k, err := keys.Open(data, pass)
	if errors.Is(err, keys.ErrDecrypt) {
		return nil, cli.Fail(1, fmt.Errorf("%s: %w", path, err), "check the passphrase (--passphrase-file or AIRSEAL_PASSPHRASE)")
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

type licenseFlags struct {
	key, passFile, product, customer, taxID, request, kind, mainSerial, edition string
	notBefore, expires, updatesUntil, out, qr, ledger, comment, serial          string
	unbound, allowVirtual, code, qrTerminal, asJSON, commentSet                 bool
	seats                                                                       int
	features, demo                                                              []string
}

func licenseCmd() *cobra.Command {
	var f licenseFlags
	c := &cobra.Command{
		Use:   "license --key NAME.key --product P --customer ORG (--request FILE | --unbound) [flags]",
		Short: "Sign a license",
		Long: `license signs a license and writes it as an armored file (-o FILE, or stdout
when no other output is asked for), as a typed code (--code, on stdout) and as
a QR code (--qr FILE.png, --qr-terminal). All of them carry the same signed
license. Every license is recorded in the ledger before anything is written.

A license is bound to the machine described by a license request (--request,
the JSON file or ASR1 code that 'hwid request' makes on the customer's
machine), or to no machine (--unbound: site licenses, license servers). A
request made in a virtual machine or container is refused unless
--allow-virtual, which also lets the license run in one.

Times (T) are a date (2027-01-31, meaning 00:00 UTC at the start of that day)
or an RFC 3339 time. A feature is KEY=true|false or KEY=N.`,
		Example: `  issue license --key vendor.key --product "Acme Writer" --customer "Example LLC" \
      --request request.json --seats 5 --feature export=true --updates-until 2027-01-31 -o example.lic
  issue license --key vendor.key --product "Acme Writer" --customer "Example LLC" \
      --unbound --kind demo --expires 2026-06-30 --code --qr demo.png`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f.commentSet = cmd.Flags().Changed("comment")
			return issueLicense(cmd, &f)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.key, "key", "", "private key file NAME.key (required)")
	fl.StringVar(&f.passFile, "passphrase-file", "", "read the passphrase from the first line of FILE")
	fl.StringVar(&f.product, "product", "", "product name (taken from the request when omitted)")
	fl.StringVar(&f.customer, "customer", "", "customer organisation (taken from the request when omitted)")
	fl.StringVar(&f.taxID, "tax-id", "", "customer's tax ID (for example INN/KPP)")
	fl.StringVar(&f.request, "request", "", "bind to the machine in this license request (JSON file or ASR1 code; - for stdin)")
	fl.BoolVar(&f.unbound, "unbound", false, "bind to no machine")
	fl.BoolVar(&f.allowVirtual, "allow-virtual", false, "accept a request from a virtual machine or container and let the license run in one")
	fl.StringVar(&f.kind, "kind", "main", "license kind: main, additional or demo")
	fl.StringVar(&f.mainSerial, "main-serial", "", "for --kind additional: serial of the main license it extends")
	fl.StringVar(&f.edition, "edition", "", "product edition")
	fl.IntVar(&f.seats, "seats", 1, "number of seats")
	fl.StringArrayVar(&f.features, "feature", nil, "feature KEY=true|false|N (repeatable)")
	fl.StringArrayVar(&f.demo, "demo-limit", nil, "limit KEY=N that applies in demo mode (repeatable)")
	fl.StringVar(&f.notBefore, "not-before", "", "valid from T (default: now)")
	fl.StringVar(&f.expires, "expires", "never", "expires at T, or never")
	fl.StringVar(&f.updatesUntil, "updates-until", "", "update subscription ends at T (default: no end)")
	fl.StringVar(&f.serial, "serial", "", "serial number (default: a new random one)")
	fl.StringVar(&f.comment, "comment", "", "unsigned comment in the file (default: customer and product)")
	fl.StringVarP(&f.out, "output", "o", "", "write the license file to FILE (never overwrites)")
	fl.BoolVar(&f.code, "code", false, "print the typed code on stdout")
	fl.StringVar(&f.qr, "qr", "", "write a QR code of the typed code to FILE.png")
	fl.BoolVar(&f.qrTerminal, "qr-terminal", false, "draw the QR code on stdout")
	fl.StringVar(&f.ledger, "ledger", "", "ledger file (default: NAME.ledger next to NAME.key)")
	fl.BoolVar(&f.asJSON, "json", false, "print the result as JSON on stdout")
	return c
}

func readInput(cmd *cobra.Command, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(cmd.InOrStdin())
	}
	if hwid.CodePrefix != "" && strings.HasPrefix(strings.ToUpper(strings.TrimSpace(name)), hwid.CodePrefix+"-") {
		return []byte(name), nil
	}
	return os.ReadFile(name)
}

func issueLicense(cmd *cobra.Command, f *licenseFlags) error {
	if f.key == "" {
		return cli.Usage("license needs --key NAME.key")
	}
	if (f.request == "") == !f.unbound {
		return cli.Usage("give exactly one of --request FILE (bind to a machine) and --unbound")
	}
	if f.allowVirtual && f.unbound {
		return cli.Usage("--allow-virtual applies to a license bound with --request; an --unbound license already runs anywhere, virtual machines included")
	}
	if f.qr != "" && filepath.Ext(f.qr) != ".png" {
		return cli.Usage("--qr %s: the file name must end in .png", f.qr)
	}
	kind, err := license.ParseKind(f.kind)
	if err != nil {
		return cli.Usage("--kind: %v", err)
	}
	var req *hwid.Request
	if f.request != "" {
		data, err := readInput(cmd, f.request)
		if err != nil {
			return cli.Fail(1, fmt.Errorf("--request: %w", err), "give the request file (or ASR1 code) made by 'hwid request' on the customer's machine")
		}
		if req, err = hwid.ParseRequest(data); err != nil {
			return cli.Fail(1, fmt.Errorf("--request %s: %w", f.request, err), "ask the customer for a new request made by 'hwid request'")
		}
		if f.product == "" {
			f.product = req.Product
		} else if req.Product != f.product {
			return cli.Fail(1, fmt.Errorf("--request %s is for product %q, not %q", f.request, req.Product, f.product),
				"the machine hashes are salted with the product name; ask for a request made with --product "+fmt.Sprintf("%q", f.product))
		}
		if f.customer == "" {
			f.customer = req.Customer
		}
		if req.Virtualization.Type != "none" && !f.allowVirtual {
			return cli.Fail(1, fmt.Errorf("--request %s comes from a %s (%s); refusing to bind a license to it", f.request, req.Virtualization.Type, req.Virtualization.Technology),
				"add --allow-virtual if this customer may run in a virtual machine or container")
		}
	}
	switch {
	case f.product == "":
		return cli.Usage("license needs --product P")
	case f.customer == "" && req != nil:
		return cli.Usage("license needs --customer ORG: the request %s names no customer", f.request)
	case f.customer == "":
		return cli.Usage("license needs --customer ORG")
	}
	// Refuse existing outputs before anything is signed or recorded.
	for _, o := range []struct{ flag, path string }{{"-o", f.out}, {"--qr", f.qr}} {
		if o.path == "" {
			continue
		}
		if _, err := os.Lstat(o.path); err == nil {
			return cli.Fail(1, fmt.Errorf("%s %s already exists; refusing to overwrite it", o.flag, o.path), "move it away or choose another name")
		}
	}
	issued := now().UTC().Truncate(time.Second)
	l := &license.License{
		Serial: f.serial, Product: f.product, Edition: f.edition, Kind: kind, MainSerial: f.mainSerial,
		Customer: license.Customer{Name: f.customer, TaxID: f.taxID},
		IssuedAt: issued, NotBefore: issued, Seats: f.seats, AllowVirtual: f.allowVirtual,
	}
	if l.Serial == "" {
		if l.Serial, err = license.NewSerial(nil); err != nil {
			return err
		}
	}
	if f.notBefore != "" {
		if l.NotBefore, err = license.ParseTime(f.notBefore); err != nil {
			return cli.Usage("--not-before: %v", err)
		}
	}
	if f.expires != "never" && f.expires != "" {
		t, err := license.ParseTime(f.expires)
		if err != nil {
			return cli.Usage("--expires: %v (or never)", err)
		}
		l.Expires = &t
	}
	if kind == license.KindDemo && l.Expires == nil {
		return cli.Usage("a demo license must expire: add --expires T")
	}
	if f.updatesUntil != "" {
		t, err := license.ParseTime(f.updatesUntil)
		if err != nil {
			return cli.Usage("--updates-until: %v", err)
		}
		l.UpdatesUntil = &t
	}
	for _, list := range []struct {
		flag string
		in   []string
		out  *[]license.Feature
	}{{"--feature", f.features, &l.Features}, {"--demo-limit", f.demo, &l.DemoLimits}} {
		var fs []license.Feature
		for _, s := range list.in {
			ft, err := license.ParseFeature(s)
			if err != nil {
				return cli.Usage("%s: %v", list.flag, err)
			}
			fs = append(fs, ft)
		}
		if *list.out, err = license.SortFeatures(fs); err != nil {
			return cli.Usage("%s: %v", list.flag, err)
		}
	}
	if req != nil {
		fp := fingerprint.Fingerprint{Components: req.Fingerprint.Components, Need: req.Fingerprint.Need}
		l.Machine = &fp
	}
	l.Comment = fmt.Sprintf("%s, %s, serial %s", f.customer, f.product, l.Serial)
	if f.commentSet {
		l.Comment = strings.ReplaceAll(f.comment, "\n", " ")
	}
	l.KeyID = "0000000000000000" // checked before asking for the passphrase; Sign sets the real ID
	if err := l.Validate(); err != nil {
		return cli.Usage("%s", flagError(err))
	}

	k, err := loadKey(f.key, f.passFile)
	if err != nil {
		return err
	}
	if err := l.Sign(k); err != nil {
		return err
	}
	armored, err := l.Armor()
	if err != nil {
		return err
	}
	code, err := l.Code()
	if err != nil {
		return err
	}
	ledgerPath := f.ledger
	if ledgerPath == "" {
		ledgerPath = defaultLedger(f.key)
	}
	// Record first: nothing that leaves this program is missing from the ledger.
	if err := appendLicense(ledgerPath, l, string(armored)); err != nil {
		return cli.Fail(1, fmt.Errorf("ledger %s: %w", ledgerPath, err), "nothing was issued; fix the ledger (or give --ledger FILE) and run again")
	}
	stdout := cmd.OutOrStdout()
	var qrText string
	if f.qr != "" {
		png, err := l.QRPNG(0)
		if err != nil {
			return err
		}
		if err := keys.WriteNew(f.qr, png, 0o644); err != nil {
			return err
		}
	}
	if f.qrTerminal {
		if qrText, err = l.QRTerminal(); err != nil {
			return err
		}
	}
	if f.out != "" {
		if err := keys.WriteNew(f.out, armored, 0o644); err != nil {
			return cli.Fail(1, err, fmt.Sprintf("the license %s is in the ledger; write it again with: issue show %s > FILE", l.Serial, l.Serial))
		}
	}
	if f.asJSON {
		return cli.JSON(stdout, map[string]any{
			"serial": l.Serial, "file": f.out, "code": code, "qr": f.qr, "ledger": ledgerPath, "license": l,
		})
	}
	if f.out == "" && !f.code && f.qr == "" && !f.qrTerminal {
		stdout.Write(armored)
	}
	if f.code {
		fmt.Fprintln(stdout, code)
	}
	if f.qrTerminal {
		fmt.Fprint(stdout, qrText)
	}
	binding := "unbound"
	if l.Machine != nil {
		binding = "bound to machine " + l.Machine.ID()
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "issue: signed license %s for %s (%s, %s), key %s\n", l.Serial, l.Customer.Name, l.Product, binding, l.KeyID)
	return nil
}

func revokeCmd() *cobra.Command {
	var key, passFile, old, out, ledgerPath string
	var serials []string
	var asJSON bool
	c := &cobra.Command{
		Use:   "revoke --key NAME.key --serial S... [--list OLD] -o revoked.list",
		Short: "Add serials to the signed revocation list",
		Long: `revoke writes a new signed revocation list holding every serial of the
previous list plus the given ones, with the sequence number increased by one.
The previous list is OLD (--list) or, when not given, the last list recorded
in the ledger; an OLD older than the ledger's last list is refused, so a
revocation is never dropped. For the same reason an existing -o FILE is
replaced only by a list with a higher sequence that holds all its serials. Give the new list to customers' verify
(--revocations FILE); verify refuses a list signed by an untrusted key.`,
		Example: `  issue revoke --key vendor.key --serial 7K3M-Q9TX-4HZP-2W8R -o revoked.list
  issue revoke --key vendor.key --serial AAAA-BBBB-CCCC-DDDD --list revoked.list -o revoked.list`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if key == "" || out == "" || len(serials) == 0 {
				return cli.Usage("revoke needs --key NAME.key, at least one --serial and -o FILE")
			}
			if ledgerPath == "" {
				ledgerPath = defaultLedger(key)
			}
			recs, err := readLedger(ledgerPath)
			if err != nil {
				return err
			}
			k, err := loadKey(key, passFile)
			if err != nil {
				return err
			}
			var prev *license.RevocationList
			last := lastRevocation(recs)
			if old != "" {
				data, err := os.ReadFile(old)
				if err != nil {
					return cli.Fail(1, fmt.Errorf("--list: %w", err), "give the current revocation list, or omit --list to continue from the ledger")
				}
				prev, err = license.DecodeRevocations(data)
				if err != nil {
					return fmt.Errorf("--list %s: %w", old, err)
				}
				if prev.KeyID == k.ID() {
					if _, err := license.OpenRevocations(data, keys.NewKeyring(k.Public())); err != nil {
						return fmt.Errorf("--list %s: %w", old, err)
					}
				} else {
					fmt.Fprintf(cmd.ErrOrStderr(), "issue: warning: --list %s was signed by key %s, not %s; carrying its serials forward unverified\n", old, prev.KeyID, k.ID())
				}
				if last != nil && prev.Sequence < last.Sequence {
					return cli.Fail(1, fmt.Errorf("--list %s has sequence %d but the ledger records list %d", old, prev.Sequence, last.Sequence),
						"give the newest list, or omit --list to continue from the ledger")
				}
			} else if last != nil {
				prev = &license.RevocationList{Sequence: last.Sequence, Serials: last.Serials}
			}
			known := issuedSerials(recs)
			for _, s := range serials {
				if !known[s] {
					fmt.Fprintf(cmd.ErrOrStderr(), "issue: warning: serial %s is not in the ledger %s; check it for typos\n", s, ledgerPath)
				}
			}
			rl := prev.Next(serials, now())
			// -o is replaced: never by a list that would drop what it holds
			// (a lost or different ledger, a forgotten --list).
			if data, err := os.ReadFile(out); err == nil {
				cur, err := license.DecodeRevocations(data)
				if err != nil {
					return cli.Fail(1, fmt.Errorf("-o %s exists and is not a revocation list (%v); refusing to replace it", out, err), "choose another -o FILE")
				}
				if missing := missingSerials(cur.Serials, rl); cur.Sequence >= rl.Sequence || len(missing) > 0 {
					return cli.Fail(1, fmt.Errorf("-o %s holds revocation list %d (%d serials); the new list %d would not carry all of it forward", out, cur.Sequence, len(cur.Serials), rl.Sequence),
						fmt.Sprintf("continue from it: add --list %s", out))
				}
			}
			if err := rl.Sign(k); err != nil {
				return err
			}
			data, err := rl.Armor()
			if err != nil {
				return err
			}
			if err := appendRevocation(ledgerPath, rl); err != nil {
				return cli.Fail(1, fmt.Errorf("ledger %s: %w", ledgerPath, err), "nothing was written; fix the ledger and run again")
			}
			if err := atomicfile.Write(out, data, 0o644); err != nil {
				return err
			}
			if asJSON {
				return cli.JSON(cmd.OutOrStdout(), map[string]any{"file": out, "sequence": rl.Sequence, "issued_at": rl.IssuedAt, "key_id": rl.KeyID, "serials": rl.Serials})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revocation list %d: %d serials, written to %s\n", rl.Sequence, len(rl.Serials), out)
			return nil
		},
	}
	c.Flags().StringVar(&key, "key", "", "private key file NAME.key (required)")
	c.Flags().StringVar(&passFile, "passphrase-file", "", "read the passphrase from the first line of FILE")
	c.Flags().StringArrayVar(&serials, "serial", nil, "serial to revoke (repeatable)")
	c.Flags().StringVar(&old, "list", "", "previous revocation list to carry forward")
	c.Flags().StringVarP(&out, "output", "o", "", "write the new list to FILE (replaced atomically)")
	c.Flags().StringVar(&ledgerPath, "ledger", "", "ledger file (default: NAME.ledger next to NAME.key)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return c
}

func ledgerFlags(c *cobra.Command, ledgerPath, key *string) {
	c.Flags().StringVar(ledgerPath, "ledger", "", "ledger file")
	c.Flags().StringVar(key, "key", "", "find the ledger next to this key file (NAME.ledger); the key is not opened")
}

// findLedger resolves the ledger for list and show: --ledger, then
// AIRSEAL_LEDGER, then NAME.ledger next to --key, then the only *.ledger
// file in the current directory.
func findLedger(ledgerPath, key string) (string, error) {
	switch {
	case ledgerPath != "":
		return ledgerPath, nil
	case os.Getenv("AIRSEAL_LEDGER") != "":
		return os.Getenv("AIRSEAL_LEDGER"), nil
	case key != "":
		return defaultLedger(key), nil
	}
	m, _ := filepath.Glob("*.ledger")
	if len(m) == 1 {
		return m[0], nil
	}
	return "", cli.Usage("which ledger? give --ledger FILE or --key NAME.key, or set AIRSEAL_LEDGER (%d *.ledger files here)", len(m))
}

func listCmd() *cobra.Command {
	var ledgerPath, key string
	var asJSON bool
	c := &cobra.Command{
		Use:   "list [--json]",
		Short: "List every license and revocation list in the ledger",
		Args:  cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := findLedger(ledgerPath, key)
			if err != nil {
				return err
			}
			recs, err := readLedger(p)
			if err != nil {
				return err
			}
			if asJSON {
				if recs == nil {
					recs = []record{}
				}
				return cli.JSON(cmd.OutOrStdout(), recs)
			}
			w := cmd.OutOrStdout()
			for _, r := range recs {
				switch r.Type {
				case "license":
					exp := "perpetual"
					if r.Expires != nil {
						exp = "expires " + r.Expires.Format(time.DateOnly)
					}
					bound := "unbound"
					if r.Machine != "" {
						bound = "machine " + r.Machine
					}
					fmt.Fprintf(w, "%s  %s  %-10s %s  %q  seats %d  %s  %s\n", r.Serial, r.IssuedAt.Format(time.DateOnly), r.Kind, r.Product, r.Customer, r.Seats, exp, bound)
				case "revocation":
					fmt.Fprintf(w, "revocation list %d  %s  %d serials\n", r.Sequence, r.IssuedAt.Format(time.DateOnly), len(r.Serials))
				}
			}
			return nil
		},
	}
	ledgerFlags(c, &ledgerPath, &key)
	c.Flags().BoolVar(&asJSON, "json", false, "print the records as a JSON array")
	return c
}

func showCmd() *cobra.Command {
	var ledgerPath, key string
	var asJSON bool
	c := &cobra.Command{
		Use:   "show SERIAL",
		Short: "Print an issued license from the ledger (the license file on stdout)",
		Args:  cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := findLedger(ledgerPath, key)
			if err != nil {
				return err
			}
			recs, err := readLedger(p)
			if err != nil {
				return err
			}
			for _, r := range recs {
				if r.Type == "license" && strings.EqualFold(r.Serial, args[0]) {
					if asJSON {
						return cli.JSON(cmd.OutOrStdout(), r)
					}
					fmt.Fprint(cmd.OutOrStdout(), r.License)
					return nil
				}
			}
			return cli.Fail(1, fmt.Errorf("serial %s is not in the ledger %s", args[0], p), "run 'issue list' to see the serials")
		},
	}
	ledgerFlags(c, &ledgerPath, &key)
	c.Flags().BoolVar(&asJSON, "json", false, "print the ledger record as JSON")
	return c
}

// missingSerials returns the serials of old that rl does not hold.
func missingSerials(old []string, rl *license.RevocationList) []string {
	var m []string
	for _, s := range old {
		if !rl.Contains(s) {
			m = append(m, s)
		}
	}
	return m
}

// fieldFlags maps the license fields License.Validate names to the flags
// that set them.
var fieldFlags = []struct{ field, flag string }{
	{"serial", "--serial"}, {"product", "--product"}, {"edition", "--edition"},
	{"main_serial", "--main-serial"}, {"customer.name", "--customer"}, {"customer.tax_id", "--tax-id"},
	{"not_before", "--not-before"}, {"expires", "--expires"}, {"updates_until", "--updates-until"},
	{"seats", "--seats"}, {"features", "--feature"}, {"demo_limits", "--demo-limit"},
	{"machine", "--request"}, {"allow_virtual", "--allow-virtual"},
}

// flagError rewrites "field: problem" from License.Validate as
// "--flag (field): problem", so the message names what to change.
func flagError(err error) string {
	msg := err.Error()
	for _, f := range fieldFlags {
		if strings.HasPrefix(msg, f.field+": ") {
			return f.flag + " (" + f.field + "): " + strings.TrimPrefix(msg, f.field+": ")
		}
	}
	return msg
}
