package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/internal/passphrase"
	"github.com/airseal/airseal/pkg/install"
	"github.com/airseal/airseal/pkg/keys"
)

// readInput reads the file of a file-taking flag, or stdin for "-",
// bounded by limit (issue 13 item 1), with fileio.ReadRegular: a FIFO,
// device, socket or directory is refused before a byte is read, naming the
// limit, and a file over the limit is refused after at most limit+1 bytes.
func readInput(cmd *cobra.Command, flag, path string, limit int64, what string) ([]byte, error) {
	data, err := fileio.ReadRegular(cmd.InOrStdin(), path, limit, what)
	if err != nil {
		return nil, cli.Fail(cli.ExitError, fmt.Errorf("%s: %w", flag, err), "")
	}
	return data, nil
}

func human(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// loadPubs returns the keys of the --pub files, each read bounded.
func loadPubs(cmd *cobra.Command, flag string, pubs []string) (*keys.Keyring, error) {
	ring := keys.NewKeyring()
	for _, p := range pubs {
		data, err := readInput(cmd, flag, p, fileio.LimitPublicKey, "public key")
		if err != nil {
			return nil, err
		}
		k, err := keys.ParsePublic(data)
		if errors.Is(err, keys.ErrPrivateKeyGiven) {
			return nil, cli.Fail(cli.ExitUsage, fmt.Errorf("%s %s: %w", flag, p, err), "give the .pub file, never the private key")
		}
		if err != nil {
			return nil, cli.Fail(cli.ExitError, fmt.Errorf("%s %s: %w", flag, p, err), "give a public key file made by 'issue keygen' (NAME.pub)")
		}
		ring.Add(k)
	}
	return ring, nil
}

// loadPrivate reads the signing key bounded, then its passphrase (from a
// --passphrase-file read bounded too, by internal/passphrase), and opens
// the key.
func loadPrivate(cmd *cobra.Command, path, passFile string) (*keys.PrivateKey, error) {
	data, err := readInput(cmd, "--key", path, fileio.LimitPrivateKey, "private key")
	if err != nil {
		return nil, err
	}
	if passFile == "-" {
		return nil, cli.Usage("--passphrase-file -: give a file; standard input is not read for passphrases")
	}
	// internal/passphrase reads --passphrase-file bounded, refusing a FIFO
	// or device before reading.
	pass, err := passphrase.Source{File: passFile}.Read("Passphrase for "+path, false)
	if err != nil {
		return nil, cli.Fail(cli.ExitError, err, "give --passphrase-file FILE or set "+passphrase.EnvVar)
	}
	k, err := keys.Open(data, pass)
	if err != nil {
		return nil, cli.Fail(cli.ExitError, fmt.Errorf("--key %s: %w", path, err), "check the key file and its passphrase")
	}
	return k, nil
}

// checkVolumes refuses bundle and volume arguments that are not regular
// files before they are opened: a bundle is read at offsets and must be a
// file (a FIFO would block the open, a device never ends).
func checkVolumes(args []string) error {
	for _, a := range args {
		if a == "-" {
			return cli.Usage("a bundle is read at offsets and cannot come from standard input: give the bundle FILE")
		}
		st, err := os.Stat(a)
		if err != nil {
			continue // reported by the open, with the file's name
		}
		if !st.Mode().IsRegular() {
			return cli.Fail(cli.ExitError, fmt.Errorf("%s: %s, not a regular file: give the bundle file (its header is read up to %s, then only the chunks its signed manifest lists)",
				a, fileio.KindOf(st.Mode()), human(install.HeaderLimit)), "")
		}
	}
	return nil
}
