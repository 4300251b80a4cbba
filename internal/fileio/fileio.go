// Package fileio reads every input of the airseal tools with a size bound
// enforced while reading, and writes their outputs with one rule: "-" is
// standard input or output, and an existing file is replaced only when the
// caller says so (--force).
//
// Security: the customer controls every file a tool reads. Read never
// allocates more than its limit plus one byte, whatever the file is
// (/dev/zero, a FIFO that never ends, a huge regular file), and refuses a
// directory at once.
package fileio

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/airseal/airseal/internal/atomicfile"
)

// Size limits of the formats the tools read. Each is the documented maximum
// of its format (see docs/spec/) with room to spare; an input over its limit
// is refused with a *TooLargeError before more than limit+1 bytes are read.
const (
	LimitLicense     = 64 << 10 // armored license file or typed code
	LimitRequest     = 64 << 10 // hwid license request (JSON)
	LimitPublicKey   = 4 << 10  // public key file, or a keyring of a few keys
	LimitKeyring     = 256 << 10
	LimitPrivateKey  = 4 << 10  // sealed private key file
	LimitPassphrase  = 4 << 10  // passphrase file
	LimitRevocations = 16 << 20 // signed revocation list (up to ~1,000,000 entries)
	LimitState       = 64 << 10 // clock-state file
	LimitToken       = 64 << 10 // a JWT given as a file
	LimitJWKS        = 256 << 10
	LimitClients     = 4 << 20  // token clients.json
	LimitConfig      = 1 << 20  // small JSON or text configuration files
	LimitDump        = 64 << 20 // hwid dump archive
)

// TooLargeError reports an input over its size limit.
type TooLargeError struct {
	Path  string // file name, or "-" for standard input
	What  string // what the file is meant to be, e.g. "license file"
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s: %s is larger than its %s limit; is it the right file?", name(e.Path), e.What, human(e.Limit))
}

// ErrNotRegular is matched by errors.Is for a directory given where a file
// is meant.
var ErrNotRegular = errors.New("not a regular file")

// ErrExists is matched by errors.Is when an output file exists and the
// caller did not allow replacing it.
var ErrExists = errors.New("output file exists")

func name(path string) string {
	if path == "-" {
		return "standard input"
	}
	return path
}

func human(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d-byte", n)
}

// Read reads the file at path, or stdin when path is "-", refusing more
// than limit bytes while reading and refusing a directory. what names the
// input in messages ("license file", "public key"). Character devices and
// FIFOs are read too, bounded the same way.
func Read(stdin io.Reader, path string, limit int64, what string) ([]byte, error) {
	if path == "-" {
		if stdin == nil {
			stdin = os.Stdin
		}
		return ReadFrom(stdin, "-", limit, what)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory, not a %s: %w", path, what, ErrNotRegular)
	}
	if st.Mode().IsRegular() && st.Size() > limit {
		return nil, &TooLargeError{Path: path, What: what, Limit: limit}
	}
	return ReadFrom(f, path, limit, what)
}

// ReadFrom reads r to its end, refusing more than limit bytes. path names
// the source in the error.
func ReadFrom(r io.Reader, path string, limit int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name(path), err)
	}
	if int64(len(b)) > limit {
		return nil, &TooLargeError{Path: path, What: what, Limit: limit}
	}
	return b, nil
}

// IsStdio reports whether path means standard input or output.
func IsStdio(path string) bool { return path == "-" }

// Write writes data to path: to stdout when path is "-"; otherwise a new
// file with mode perm, refused with ErrExists when the file exists unless
// force is set, in which case it is replaced atomically. The file is synced
// before Write returns.
func Write(stdout io.Writer, path string, data []byte, perm os.FileMode, force bool) error {
	if path == "-" {
		if stdout == nil {
			stdout = os.Stdout
		}
		_, err := stdout.Write(data)
		return err
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return dirError(path)
	}
	if force {
		return atomicfile.Write(path, data, perm)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ExistsError(path)
		}
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(path))
}

// ErrIsDir is matched by errors.Is when an output path names a directory:
// --force cannot help, a file name is needed.
var ErrIsDir = errors.New("is a directory")

// dirError is the error for an output path that is a directory.
func dirError(path string) error {
	return fmt.Errorf("%s: %w, not a file: give a file name for the output (for example %s)", path, ErrIsDir, filepath.Join(path, "NAME"))
}

// ExistsError returns the error for an output file that exists and may not
// be replaced. It matches ErrExists.
func ExistsError(path string) error {
	return fmt.Errorf("%s: %w; nothing was written (use --force to replace it, or choose another -o)", path, ErrExists)
}

// CheckOutput returns ExistsError when path exists and force is not set,
// and an error matching ErrIsDir when path is a directory (with or without
// force), so that a command can refuse before doing any work. "-" is
// always fine.
func CheckOutput(path string, force bool) error {
	if path == "-" || path == "" {
		return nil
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return dirError(path)
	}
	if force {
		return nil
	}
	if _, err := os.Lstat(path); err == nil {
		return ExistsError(path)
	}
	return nil
}
