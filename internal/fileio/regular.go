package fileio

import (
	"fmt"
	"io"
	"os"
)

// ReadRegular reads the regular file at path (or stdin for "-"), refusing
// more than limit bytes while reading. A path that is not a regular file
// (a FIFO, a device such as /dev/zero, a directory, a socket) is refused
// before it is opened, since opening a FIFO waits for a writer and a
// device never ends; the error names the kind, what the file should be and
// the limit, and matches ErrNotRegular.
func ReadRegular(stdin io.Reader, path string, limit int64, what string) ([]byte, error) {
	if path != "-" {
		st, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		if !st.Mode().IsRegular() {
			return nil, NotRegularError(path, st.Mode(), limit, what)
		}
	}
	return Read(stdin, path, limit, what)
}

// NotRegularError is the error of ReadRegular for a path of mode m.
func NotRegularError(path string, m os.FileMode, limit int64, what string) error {
	return fmt.Errorf("%s: %s, not a regular file: give a %s file of at most %s: %w", path, KindOf(m), what, human(limit), ErrNotRegular)
}

// KindOf names the kind of a file that is not regular ("a FIFO").
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
	case m.IsRegular():
		return "a regular file"
	}
	return "a special file"
}
