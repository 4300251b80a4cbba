// Package selfsigned writes a self-signed TLS certificate and key for
// testing HTTPS on the license server (ECDSA P-256).
//
// # Security
//
// The certificate is for tests and small sites only: clients must pin it
// (trust this one file), never disable verification. Host names are checked
// (letters, digits, '-', '.', '*' only) before they enter the certificate.
// The key file is written with mode 0600 through internal/atomicfile, and
// an existing file is refused unless force is set.
package selfsigned

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"time"

	"github.com/airseal/airseal/internal/atomicfile"
)

// Generate makes a certificate (PEM) and key (PEM) valid from now for
// validity, with the given host names and IP addresses as SANs.
func Generate(hosts []string, validity time.Duration, now time.Time) (certPEM, keyPEM []byte, err error) {
	if len(hosts) == 0 {
		return nil, nil, errors.New("no host given (hint: --host NAME[,IP...])")
	}
	if validity <= 0 || validity > 825*24*time.Hour {
		return nil, nil, errors.New("validity must be between 1s and 825 days")
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: hosts[0], Organization: []string{"airseal license-server (self-signed test)"}},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			continue
		}
		if !validHost(h) {
			return nil, nil, fmt.Errorf("host %q: not a host name or IP address", h)
		}
		tmpl.DNSNames = append(tmpl.DNSNames, h)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '*') {
			return false
		}
	}
	return true
}

// WriteFiles generates and writes certPath (0644) and keyPath (0600).
// Existing files are refused unless force.
func WriteFiles(certPath, keyPath string, hosts []string, validity time.Duration, force bool) error {
	if !force {
		for _, p := range []string{certPath, keyPath} {
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("%s exists (hint: --force to replace it)", p)
			}
		}
	}
	c, k, err := Generate(hosts, validity, time.Now())
	if err != nil {
		return err
	}
	if err := atomicfile.Write(keyPath, k, 0o600); err != nil {
		return err
	}
	return atomicfile.Write(certPath, c, 0o644)
}
