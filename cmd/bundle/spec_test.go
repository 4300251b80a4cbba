package main

import (
	"bufio"
	"bytes"
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/airseal/airseal/internal/cli"
)

// TestSpecExitCodes checks the exit-code table of docs/spec/bundle-v1.md
// against the code: every code bundle's rules can return is listed with the
// status word of the one table (internal/cli), and the spec lists no code
// bundle does not use (issue 8 item 17).
func TestSpecExitCodes(t *testing.T) {
	data, err := os.ReadFile("../../docs/spec/bundle-v1.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`^\| (\d+) \| ([a-z_]+) \| (.+) \|$`)
	spec := map[int]string{}
	in := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case l == "## Exit codes":
			in = true
		case in && len(l) > 3 && l[:3] == "## ":
			in = false
		case in:
			if m := row.FindStringSubmatch(l); m != nil {
				n, _ := strconv.Atoi(m[1])
				spec[n] = m[2]
			}
		}
	}
	used := map[int]bool{cli.ExitOK: true, cli.ExitError: true, cli.ExitUsage: true}
	for _, r := range append(append([]cli.Rule{}, rules...), licenseRules...) {
		used[r.Code] = true
	}
	for code := range used {
		st, ok := spec[code]
		if !ok {
			t.Errorf("exit code %d (%s) is used by bundle but missing from the spec's table", code, cli.StatusOf(code))
			continue
		}
		if st != cli.StatusOf(code) {
			t.Errorf("spec: exit code %d is %q, internal/cli says %q", code, st, cli.StatusOf(code))
		}
	}
	for code, st := range spec {
		if !used[code] {
			t.Errorf("spec lists exit code %d (%s), which bundle never returns", code, st)
		}
	}
	if len(spec) < 10 {
		t.Fatalf("found %d rows in the spec's exit-code table", len(spec))
	}
}
