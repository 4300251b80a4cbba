package seatstore

import (
	"os"
	"syscall"
)

// fdatasync syncs f's data and the metadata needed to read it back (not
// its times): cheaper than fsync for an overwrite.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
