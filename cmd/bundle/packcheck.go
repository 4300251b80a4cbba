package main

import (
	"fmt"
	"os"
	"regexp"

	"github.com/airseal/airseal/internal/cli"
)

// versionRule is the release version accepted by pack: dot-separated
// numbers, then an optional pre-release suffix (1.2.3, 1.2.3-rc1).
var versionRule = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*(-[0-9A-Za-z]+(\.[0-9A-Za-z]+)*)?$`)

// checkFromDir refuses a --from-dir that is not a directory, and an empty
// one unless allowEmpty: both would silently make a bundle of no files.
func checkFromDir(dir string, allowEmpty bool) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return cli.Fail(cli.ExitError, fmt.Errorf("--from-dir: %w", err), "give the directory of the release to pack")
	}
	if !fi.IsDir() {
		return cli.Usage("--from-dir %s is not a directory: give the directory of the release to pack", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return cli.Fail(cli.ExitError, fmt.Errorf("--from-dir: %w", err), "")
	}
	if len(ents) == 0 && !allowEmpty {
		return cli.Usage("--from-dir %s is empty: nothing to pack (add --allow-empty to pack a bundle of no files)", dir)
	}
	return nil
}

// checkOutput refuses to replace an existing -o FILE without --force, the
// one output rule of every airseal binary.
func checkOutput(out string, force bool) error {
	if force {
		return nil
	}
	if _, err := os.Lstat(out); err == nil {
		return cli.Fail(cli.ExitError, fmt.Errorf("-o %s: the file exists", out), "give another -o FILE, or add --force to replace it")
	}
	return nil
}
