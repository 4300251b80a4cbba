//go:build gendocs

package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// GenDocsCommand is the name of the hidden command that writes man pages
// and shell completions. It exists only in binaries built with
// -tags gendocs (release.sh builds such a copy in a temporary directory);
// the binaries that ship do not have it.
const GenDocsCommand = "__gendocs"

// addGenDocs adds the hidden "__gendocs DIR" command to root. It writes,
// for the program installed as airseal-NAME:
//
//	DIR/man/airseal-NAME.1, DIR/man/airseal-NAME-SUB.1, ...
//	DIR/completion/bash/airseal-NAME
//	DIR/completion/zsh/_airseal-NAME
//	DIR/completion/fish/airseal-NAME.fish
func addGenDocs(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() == GenDocsCommand {
			return
		}
	}
	root.AddCommand(&cobra.Command{
		Use:    GenDocsCommand + " DIR",
		Short:  "Write man pages and shell completions into DIR (release builds only)",
		Hidden: true,
		Args:   ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return genDocs(cmd.Root(), args[0])
		},
	})
}

func genDocs(root *cobra.Command, dir string) error {
	// The installed name is airseal-NAME (/usr/bin/airseal-NAME): the bare
	// names collide with other packages.
	name := "airseal-" + root.Name()
	root.Use = name + strings.TrimPrefix(root.Use, root.Name())
	root.RemoveCommand(findCmd(root, GenDocsCommand))
	root.InitDefaultCompletionCmd()
	if c := findCmd(root, "completion"); c != nil {
		// Completion scripts are installed by the package; the command
		// stays usable but out of the man pages.
		c.Hidden = true
	}
	// The man page of the program says what its exit codes mean, like
	// its --help does.
	root.Long = strings.TrimRight(root.Long, "\n") + "\n\n" + ExitTableText()
	man := filepath.Join(dir, "man")
	for _, d := range []string{man, filepath.Join(dir, "completion", "bash"), filepath.Join(dir, "completion", "zsh"), filepath.Join(dir, "completion", "fish")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	header := &doc.GenManHeader{Title: strings.ToUpper(name), Section: "1", Source: "airseal " + VersionString(), Manual: "airseal manual"}
	// cobra/doc dates the pages from SOURCE_DATE_EPOCH when it is set, so
	// release builds stay reproducible.
	if err := doc.GenManTree(root, header, man); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	if err := root.GenBashCompletionFileV2(filepath.Join(dir, "completion", "bash", name), true); err != nil {
		return fmt.Errorf("bash completion: %w", err)
	}
	if err := root.GenZshCompletionFile(filepath.Join(dir, "completion", "zsh", "_"+name)); err != nil {
		return fmt.Errorf("zsh completion: %w", err)
	}
	if err := root.GenFishCompletionFile(filepath.Join(dir, "completion", "fish", name+".fish"), true); err != nil {
		return fmt.Errorf("fish completion: %w", err)
	}
	return nil
}

func findCmd(root *cobra.Command, name string) *cobra.Command {
	for _, c := range root.Commands() {
		if c.Name() == name {
			return c
		}
	}
	return nil
}
