// Command issue is the vendor's side of airseal: it creates signing keys,
// signs licenses, revokes them, and keeps a ledger of everything issued.
// It is flags and output over package issuer, which holds the rules.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/internal/passphrase"
	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/pkg/issuer"
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
from the command line. Outputs (-o FILE) are never replaced unless --force;
-o - writes to standard output.`,
		Example: `  issue keygen -o vendor
  issue license --key vendor.key --product "Acme Writer" --customer "Example LLC" \
      --tax-id 7707083893 --request request.json --seats 5 --feature export=true \
      --feature max_documents=1000 --updates-until 2030-01-31 -o example.lic --code
  issue revoke --key vendor.key --serial 7K3M-Q9TX-4HZP-2W8R -o revoked.list
  issue list
  issue show 7K3M-Q9TX-4HZP-2W8R`,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(keygenCmd(), withTransfer(licenseCmd()), revokeCmd(), listCmd(), showCmd(), reportCmd())
	return root
}

// fieldFlags maps the fields issuer.FieldError names to the flags that set
// them.
var fieldFlags = map[string]string{
	"serial": "--serial", "product": "--product", "edition": "--edition", "kind": "--kind",
	"main_serial": "--main-serial", "customer.name": "--customer", "customer.tax_id": "--tax-id",
	"not_before": "--not-before", "expires": "--expires", "updates_until": "--updates-until",
	"seats": "--seats", "features": "--feature", "demo_limits": "--demo-limit",
	"machine": "--request", "machine.need": "--need", "allow_virtual": "--allow-virtual", "comment": "--comment",
	"request": "--request", "request.node": "--request", "request.response_key": "--request", "seat_unit": "--seat-unit", "nodes": "--request",
	"request.product": "--request", "request.virtualization": "--request", "request.fingerprint": "--request", "request.customer": "--request",
	"qr": "--qr", "license": "--feature", "serials": "--serial", "list": "--list", "output": "-o", "revocations": "--serial",
}

// requestHints are the hints for problems with the customer's request (exit 1).
var requestHints = map[string]string{
	"request.product":        "the machine hashes are salted with the product name; ask for a request made with the same --product",
	"request.virtualization": "add --allow-virtual if this customer may run in a virtual machine or container",
	"request.fingerprint":    "ask the customer for a new request made by 'hwid request' (as root when possible)",
	"request.customer":       "give the customer's name with --customer",
	"request.node":           "each node of a cluster needs its own name: run 'license-server init --node NAME' there again",
	"request.response_key":   "each node of a cluster needs its own 'license-server init --dir DIR'; give each node's server-request.json once",
}

// fileHints are the hints for a refused input or output file (exit 1).
var fileHints = map[string]string{
	"list":   "give the newest revocation list issue wrote, or omit --list to continue from the ledger",
	"output": "continue from it: add --list with the same FILE (and --force to replace it)",
}

// fieldError turns an issuer.FieldError into the CLI's error, naming the
// flag: exit 1 with a hint for a problem in a request or file (files maps a
// field to the file name given for it), a usage error (2) otherwise.
func fieldError(err error, files map[string]string) error {
	var fe *issuer.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	flag := fieldFlags[fe.Field]
	if flag == "" {
		flag = fe.Field
	}
	if h, ok := requestHints[fe.Field]; ok {
		return cli.Fail(cli.ExitError, fmt.Errorf("%s %s: %s", flag, files["request"], fe.Reason), h)
	}
	if name, ok := files[fe.Field]; ok {
		msg := fmt.Errorf("%s %s: %s", flag, name, fe.Reason)
		if fe.Err != nil {
			msg = fmt.Errorf("%s %s: %w", flag, name, fe.Err)
		}
		if e := cli.Classify(msg, listRules); e.(*cli.Error).Code != cli.ExitError {
			return e
		}
		return cli.Fail(cli.ExitError, msg, fileHints[fe.Field])
	}
	return cli.Usage("%s (%s): %s", flag, fe.Field, fe.Reason)
}

// listRules map a refused previous revocation list to its exit code.
var listRules = []cli.Rule{
	{Err: license.ErrBadSignature, Code: cli.ExitMalformed, Hint: "the list was changed after signing; give the list issue wrote"},
	{Err: license.ErrMalformed, Code: cli.ExitMalformed, Hint: "give the revocation list issue wrote"},
}

// readFile reads a file-taking flag's regular file (or stdin for -),
// bounded by limit: a FIFO, device or directory is refused before reading.
func readFile(cmd *cobra.Command, flag, path string, limit int64, what string) ([]byte, error) {
	data, err := fileio.ReadRegular(cmd.InOrStdin(), path, limit, what)
	if err != nil {
		return nil, cli.Fail(cli.ExitError, fmt.Errorf("%s: %w", flag, err), "give the "+what)
	}
	return data, nil
}

// readPassphrase reads the key's passphrase: the first line of
// --passphrase-file (bounded), else the environment or a prompt.
func readPassphrase(cmd *cobra.Command, passFile, prompt string, confirm bool) ([]byte, error) {
	if passFile == "" {
		return passphrase.Source{}.Read(prompt, confirm)
	}
	data, err := readFile(cmd, "--passphrase-file", passFile, fileio.LimitPassphrase, "passphrase file")
	if err != nil {
		return nil, err
	}
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		data = data[:i]
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("--passphrase-file %s: the file is empty; write the passphrase on its first line", passFile)
	}
	return data, nil
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
			if out == "" || out == "-" {
				return cli.Usage("keygen needs -o NAME (it writes two files, NAME.key and NAME.pub)")
			}
			base := strings.TrimSuffix(out, ".key")
			keyPath, pubPath := base+".key", base+".pub"
			for _, p := range []string{keyPath, pubPath} {
				if _, err := os.Lstat(p); err == nil {
					return cli.Fail(1, fmt.Errorf("%s already exists; refusing to overwrite a key", p), "choose another -o NAME or move the old key away")
				}
			}
			pass, err := readPassphrase(cmd, passFile, "Passphrase for the new key", true)
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
	c.Flags().StringVarP(&out, "output", "o", "", "write `NAME`.key and NAME.pub")
	c.Flags().StringVar(&passFile, "passphrase-file", "", "read the passphrase from the first line of `FILE`")
	c.Flags().BoolVar(&asJSON, "json", false, "print the key ID and file names as JSON")
	return c
}

func loadKey(cmd *cobra.Command, path, passFile string) (*keys.PrivateKey, error) {
	data, err := fileio.ReadRegular(cmd.InOrStdin(), path, fileio.LimitPrivateKey, "private key file")
	if err != nil {
		return nil, cli.Fail(1, fmt.Errorf("--key: %w", err), "give the private key file made by 'issue keygen -o NAME' (NAME.key)")
	}
	if !keys.IsPrivate(data) {
		return nil, cli.Fail(1, fmt.Errorf("--key %s is not a private key", path), "signing needs NAME.key, not NAME.pub")
	}
	pass, err := readPassphrase(cmd, passFile, "Passphrase for "+path, false)
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

func ledgerFor(ledgerPath, key string) *issuer.Ledger {
	if ledgerPath == "" {
		ledgerPath = issuer.DefaultLedger(key)
	}
	return &issuer.Ledger{Path: ledgerPath}
}

func warnTorn(cmd *cobra.Command, torn bool, path string) {
	if torn {
		fmt.Fprintf(cmd.ErrOrStderr(), "issue: warning: %s: the last line is incomplete (an interrupted write) and is ignored; the next record replaces it\n", path)
	}
}

// clean makes text that came from outside (requests, ledgers) safe to print.
func clean(s string) string {
	if safetext.Check("", s) == nil {
		return s
	}
	return strings.Trim(fmt.Sprintf("%q", s), `"`)
}
