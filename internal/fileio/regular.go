package fileio

import (
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

// ReadRegular is Read for inputs that must be regular files (keys,
// requests, lists, passphrase files): "-" reads stdin, bounded by limit;
// a FIFO, device, socket or directory is refused before a byte is read,
// with an error that names the path, what it is, and the limit
// ("fifo: a FIFO, not a regular file: give a license request file of at
// most 64 KiB"). The file is opened without blocking and checked on the
// open descriptor, so a FIFO nobody writes to cannot hang the caller and a
// path swapped after a check cannot slip through.
func ReadRegular(stdin io.Reader, path string, limit int64, what string) ([]byte, error) {
	if path == "-" {
		if stdin == nil {
			stdin = os.Stdin
		}
		return ReadFrom(stdin, "-", limit, what)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		file := what
		if !strings.HasSuffix(file, "file") {
			file += " file"
		}
		return nil, notRegular(fmt.Sprintf("%s: %s, not a regular file: give a %s of at most %s", path, KindOf(st.Mode()), file, human(limit)))
	}
	if st.Size() > limit {
		return nil, &TooLargeError{Path: path, What: what, Limit: limit}
	}
	return ReadFrom(f, path, limit, what)
}

// notRegular is an error matched by errors.Is(err, ErrNotRegular), whose
// text says so in its own words.
type notRegular string

func (e notRegular) Error() string { return string(e) }

// Is reports whether target is ErrNotRegular.
func (e notRegular) Is(target error) bool { return target == ErrNotRegular }

// KindOf names a file type that is not a regular file, with its article
// ("a FIFO", "a directory"), for messages that refuse it.
func KindOf(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	case m&os.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "a special file"
}
