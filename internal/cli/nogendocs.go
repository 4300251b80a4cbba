//go:build !gendocs

package cli

import "github.com/spf13/cobra"

// addGenDocs does nothing in the binaries that ship: the hidden __gendocs
// command exists only with -tags gendocs (see gendocs.go).
func addGenDocs(*cobra.Command) {}
