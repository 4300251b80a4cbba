// Package tlsfiles loads a server's TLS certificate and key from PEM files
// the operator names (--tls-cert, --tls-key), bounded like every other
// input: a FIFO, device or directory is refused before a byte is read, and
// a file over the limit is refused, so a wrong path cannot hang or exhaust
// a server at start. token serve and license-server share it.
package tlsfiles

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/airseal/airseal/internal/fileio"
)

// Load reads the PEM certificate chain at certFile and the PEM private key
// at keyFile (each at most fileio.LimitConfig) and parses them once. Errors
// name the flag (--tls-cert or --tls-key) and the file.
func Load(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := fileio.ReadRegular(nil, certFile, fileio.LimitConfig, "PEM certificate chain")
	if err != nil {
		return nil, fmt.Errorf("--tls-cert: %w", err)
	}
	keyPEM, err := fileio.ReadRegular(nil, keyFile, fileio.LimitConfig, "PEM private key")
	if err != nil {
		return nil, fmt.Errorf("--tls-key: %w", err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert %s, --tls-key %s: %w", certFile, keyFile, err)
	}
	return &c, nil
}

// Hint is what to tell an operator whose files Load refused.
const Hint = "give the PEM certificate chain and its matching PEM private key (license-server cert writes a test pair)"

// ErrBadAddress: a listen address that is not HOST:PORT.
var ErrBadAddress = errors.New("malformed listen address")

// CheckListen is the one rule for where a server may listen without TLS:
// plain HTTP only on a loopback address (or localhost) unless insecure is
// set, because credentials would cross the network in clear text. example
// is a HOST:PORT for the error; secrets names what would leak ("tokens and
// passwords").
func CheckListen(addr string, useTLS, insecure bool, example, secrets string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w %q: want HOST:PORT such as %s", ErrBadAddress, addr, example)
	}
	if useTLS || insecure || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("listen address %s is not a loopback address and no TLS certificate was given: %s would cross the network in clear text", addr, secrets)
}
