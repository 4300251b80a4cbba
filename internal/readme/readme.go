// Package readme reads the example blocks of the repository's README.md, so
// that a test can run them as written (issue 13 item 10) and check the
// README's promises: one product name, no example date in the past, one
// exit-code table.
//
// A fenced block whose info string starts with "sh" is runnable: the test
// runs every runnable block, in order, in one scratch copy of the
// repository, with a shell that stops at the first failing command
// (bash -e -o pipefail). Words after "sh" set what the block must do:
//
//	```sh              exit 0
//	```sh exit=N       exit N (a refusal the README shows on purpose)
//	```sh vm-exit=N    exit N on a virtual machine or container (as judged
//	                   by systemd-detect-virt), 0 on bare metal
//	```sh norun        shown, never run (say why next to it)
//
// A block whose info string is "text output" is what the runnable block
// just before it prints on stdout: the test compares the two after
// [Normalize] has replaced what depends on the run and the machine
// (serials, fingerprints, key IDs and hashes, dates, days left, the
// machine's match line).
//
// Every other block (text, json, go) is an illustration and is not run.
package readme

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Block is one fenced block of a Markdown file.
type Block struct {
	Line int    // line number of the opening fence (1-based)
	Info string // the info string, e.g. "sh exit=16"
	Text string // the lines between the fences, each ending in "\n"
}

// Lang is the first word of the info string ("sh", "json", "" for none).
func (b Block) Lang() string {
	f := strings.Fields(b.Info)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// Runnable reports whether the block is run by the README test.
func (b Block) Runnable() bool { return b.Lang() == "sh" && !b.has("norun") }

// Output reports whether the block is the expected stdout of the runnable
// block before it.
func (b Block) Output() bool { return b.Lang() == "text" && b.has("output") }

// Want is what a runnable block must do: its exit code on bare metal and on
// a virtual machine or container.
type Want struct {
	Exit, VMExit int
}

// Want returns the exit codes the block's info string asks for.
func (b Block) Want() (Want, error) {
	w := Want{}
	vmSet := false
	for _, f := range strings.Fields(b.Info)[1:] {
		k, v, ok := strings.Cut(f, "=")
		switch {
		case f == "norun":
		case ok && k == "exit":
			n, err := strconv.Atoi(v)
			if err != nil {
				return w, fmt.Errorf("README.md:%d: %s: not a number", b.Line, f)
			}
			w.Exit = n
		case ok && k == "vm-exit":
			n, err := strconv.Atoi(v)
			if err != nil {
				return w, fmt.Errorf("README.md:%d: %s: not a number", b.Line, f)
			}
			w.VMExit, vmSet = n, true
		default:
			return w, fmt.Errorf("README.md:%d: unknown word %q in the info string %q (want exit=N, vm-exit=N or norun)", b.Line, f, b.Info)
		}
	}
	if !vmSet {
		w.VMExit = w.Exit
	}
	return w, nil
}

func (b Block) has(word string) bool {
	for _, f := range strings.Fields(b.Info) {
		if f == word {
			return true
		}
	}
	return false
}

// Parse returns the fenced blocks of a Markdown text (``` fences only; an
// unclosed block is an error).
func Parse(md []byte) ([]Block, error) {
	var blocks []Block
	var cur *Block
	sc := bufio.NewScanner(bytes.NewReader(md))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if cur == nil {
			if strings.HasPrefix(line, "```") {
				cur = &Block{Line: n, Info: strings.TrimSpace(strings.TrimPrefix(line, "```"))}
			}
			continue
		}
		if strings.TrimSpace(line) == "```" {
			blocks = append(blocks, *cur)
			cur = nil
			continue
		}
		cur.Text += line + "\n"
	}
	if cur != nil {
		return nil, fmt.Errorf("README.md:%d: the block is never closed", cur.Line)
	}
	return blocks, sc.Err()
}

// normalizers replace, in order, what differs between runs and machines.
var normalizers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`(?m)^(  machine +bound to ).*$`), "${1}MACHINE"},
	{regexp.MustCompile(`\b[0-9A-Z]{5}(-[0-9A-Z]{5}){3}\b`), "FINGERPRINT"},
	{regexp.MustCompile(`\b[0-9A-Z]{4}(-[0-9A-Z]{4}){3}\b`), "SERIAL"},
	{regexp.MustCompile(`\b[0-9a-f]{12,}\b`), "HEX"},
	{regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}(T[0-9:.]+Z)?\b`), "DATE"},
	{regexp.MustCompile(`\b\d+ days? (left|ago)\b`), "N days $1"},
	{regexp.MustCompile(`(?m)[ \t]+$`), ""},
}

// Normalize replaces what depends on the run and the machine in a
// command's output (serials, fingerprints, key IDs and hashes, dates, the
// days left, the machine line of verify's summary) with fixed words, and
// drops trailing blanks, so that an example's output can be compared with
// the one the README shows.
func Normalize(s string) string {
	for _, n := range normalizers {
		s = n.re.ReplaceAllString(s, n.with)
	}
	return strings.TrimRight(s, "\n") + "\n"
}
