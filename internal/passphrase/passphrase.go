// Package passphrase obtains the passphrase that protects a private key,
// never from the command line: from a file named by --passphrase-file, from
// the AIRSEAL_PASSPHRASE environment variable, or from a prompt on the
// controlling terminal.
package passphrase

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"golang.org/x/term"

	"github.com/airseal/airseal/internal/fileio"
)

// EnvVar is the environment variable that may hold the passphrase.
const EnvVar = "AIRSEAL_PASSPHRASE"

// ErrNone means no passphrase source was available.
var ErrNone = errors.New("no passphrase: use --passphrase-file FILE, set " + EnvVar + ", or run in a terminal to be prompted")

// Source says where to look for a passphrase.
type Source struct {
	// File is the --passphrase-file value; empty for none. It is read
	// bounded (fileio.LimitPassphrase); "-" reads standard input.
	File string
	// Getenv looks up environment variables; nil means os.Getenv.
	Getenv func(string) string
}

// Read returns the passphrase. With confirm, a terminal prompt asks twice and
// the answers must match (for creating a key). An empty passphrase is refused.
func (s Source) Read(prompt string, confirm bool) ([]byte, error) {
	if s.File != "" {
		// Bounded, and a FIFO or device is refused before it is read.
		data, err := fileio.ReadRegular(nil, s.File, fileio.LimitPassphrase, "passphrase file")
		if err != nil {
			return nil, fmt.Errorf("--passphrase-file: %w", err)
		}
		// Only the first line counts, so editors' trailing newlines do no harm.
		if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
			data = data[:i]
		}
		if len(data) == 0 {
			return nil, fmt.Errorf("--passphrase-file %s: the file is empty; write the passphrase on its first line", s.File)
		}
		return data, nil
	}
	getenv := s.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if v := getenv(EnvVar); v != "" {
		return []byte(v), nil
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, ErrNone
	}
	defer tty.Close()
	if !term.IsTerminal(int(tty.Fd())) {
		return nil, ErrNone
	}
	ask := func(p string) ([]byte, error) {
		fmt.Fprint(tty, p)
		b, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(tty)
		return b, err
	}
	p, err := ask(prompt + ": ")
	if err != nil {
		return nil, fmt.Errorf("reading passphrase: %w", err)
	}
	if len(p) == 0 {
		return nil, errors.New("empty passphrase: a private key must be protected by a passphrase")
	}
	if confirm {
		again, err := ask("Repeat the passphrase: ")
		if err != nil {
			return nil, fmt.Errorf("reading passphrase: %w", err)
		}
		if !bytes.Equal(p, again) {
			return nil, errors.New("the passphrases do not match; run the command again")
		}
	}
	return p, nil
}
