package main

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/selfsigned"
)

func newCert() *cobra.Command {
	var hosts, out string
	var days int
	var force, asJSON bool
	c := &cobra.Command{
		Use:   "cert --host NAME[,IP...] [--out DIR] [--days N]",
		Short: "Write a self-signed TLS certificate for testing HTTPS, and how to trust it",
		Long: `cert writes server.crt and server.key (mode 0600) into --out (default: the
current directory): a self-signed ECDSA P-256 certificate whose subject
alternative names are the --host names and IP addresses, valid --days. Serve
with it:

  license-server serve --addr 0.0.0.0:9099 --tls-cert server.crt --tls-key server.key

and make each client trust exactly this certificate: seat --ca-file server.crt,
or seat.Config.CAFile in a program; in Windows, the certificate store (the
PowerShell commands printed below); in Debian or Ubuntu, update-ca-certificates.

Security: a self-signed certificate is for tests and small sites. Clients
must pin it; never turn verification off. Keep server.key on the server only.
An existing file is refused unless --force is given.`,
		Example: `  license-server cert --host lic1.corp.local,10.0.0.5
  license-server cert --host localhost,127.0.0.1 --out /var/lib/airseal-license-server --days 90`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var hs []string
			for _, h := range strings.Split(hosts, ",") {
				if h = strings.TrimSpace(h); h != "" {
					hs = append(hs, h)
				}
			}
			if len(hs) == 0 {
				return cli.Usage("--host is required: the names and IP addresses clients use to reach the server, e.g. --host lic1.corp.local,10.0.0.5")
			}
			if days < 1 || days > 825 {
				return cli.Usage("--days %d: give 1 to 825", days)
			}
			crt, key := filepath.Join(out, "server.crt"), filepath.Join(out, "server.key")
			if err := selfsigned.WriteFiles(crt, key, hs, time.Duration(days)*24*time.Hour, force); err != nil {
				return cli.Fail(cli.ExitError, err, "give other --host values, or --force to replace existing files")
			}
			if asJSON {
				return cli.JSON(cmd.OutOrStdout(), map[string]any{"cert": crt, "key": key, "hosts": hs, "days": days})
			}
			printTrust(cmd.OutOrStdout(), crt, key, hs)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&hosts, "host", "", "comma-separated host `NAME`s and IP addresses for the certificate")
	f.StringVar(&out, "out", ".", "write server.crt and server.key into `DIR`")
	f.IntVar(&days, "days", 365, "validity in `DAYS` (1 to 825)")
	f.BoolVar(&force, "force", false, "replace existing server.crt and server.key")
	f.BoolVar(&asJSON, "json", false, "print JSON on stdout")
	return c
}

// printTrust prints how to serve with the certificate and trust it on
// clients: the Cleverence seed's PowerShell recipe, adapted, and Linux.
func printTrust(w io.Writer, crt, key string, hosts []string) {
	addr := hosts[0]
	if ip := net.ParseIP(addr); ip != nil && ip.To4() == nil {
		addr = "[" + addr + "]"
	}
	fmt.Fprintf(w, `certificate  %s
key          %s (keep it on the server only)
names        %s

Serve with it:
  license-server serve --addr 0.0.0.0:9099 --tls-cert %s --tls-key %s --dir DIR

Trust it on a client (copy %s there first):
  seat / pkg/seat (pinned, preferred):
    seat diagnose --server https://%s:9099 --ca-file server.crt ...
  Windows (PowerShell as administrator):
    $cert = New-Object System.Security.Cryptography.X509Certificates.X509Certificate2 "C:\path\to\server.crt"
    $store = New-Object System.Security.Cryptography.X509Certificates.X509Store "Root", "LocalMachine"
    $store.Open("ReadWrite"); $store.Add($cert); $store.Close()
  Debian, Ubuntu:
    sudo cp server.crt /usr/local/share/ca-certificates/airseal-license-server.crt
    sudo update-ca-certificates
  RHEL, Fedora:
    sudo cp server.crt /etc/pki/ca-trust/source/anchors/airseal-license-server.crt && sudo update-ca-trust
`, crt, key, strings.Join(hosts, ", "), crt, key, crt, addr)
}
