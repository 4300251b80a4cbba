package license

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/airseal/airseal/internal/cli"
)

// exitWords are words one of which a spec row must use to describe a code
// of internal/cli's table: a row that gives a meaning another code has is
// caught.
var exitWords = map[int][]string{
	cli.ExitOK:              {"success", "valid"},
	cli.ExitError:           {"read", "error", "i/o", "passphrase", "policy", "limit", "damaged"},
	cli.ExitUsage:           {"flag", "argument", "usage", "private key", "text rule", "command line", "where none is taken"},
	cli.ExitMalformed:       {"malformed", "not a valid", "typo", "signature", "damaged"},
	cli.ExitUntrustedKey:    {"key"},
	cli.ExitWrongMachine:    {"machine"},
	cli.ExitExpired:         {"expired", "not yet valid", "expires"},
	cli.ExitRevoked:         {"revoked", "revocation", "older"},
	cli.ExitClockRollback:   {"clock"},
	cli.ExitVirtual:         {"virtual"},
	cli.ExitUpdatesExpired:  {"subscription", "updates"},
	cli.ExitWrongProduct:    {"product"},
	cli.ExitUntrustedServer: {"response"},
}

// Issue 8 item 17: every spec of the license family has an exit-code table,
// and every code in it is in internal/cli's one table, with a meaning that
// fits that code.
func TestSpecExitCodeTables(t *testing.T) {
	known := map[int]bool{}
	for _, c := range cli.ExitCodes {
		known[c.Code] = true
	}
	row := regexp.MustCompile(`(?m)^\|\s*(\d+)\s*\|\s*(.*?)\s*\|\s*$`)
	verifyRow := regexp.MustCompile("(?m)^\\|\\s*\\d+\\s*\\|(.*)\\|\\s*`(Err\\w+)`.*\\|\\s*(\\d+)\\s*\\|\\s*$")
	for _, name := range []string{"license-v1", "license-v2", "request-v1", "keys-v1", "typedcode-v1", "clock-state-v1"} {
		b, err := os.ReadFile("../../docs/spec/" + name + ".md")
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		i := regexp.MustCompile(`(?m)^## (\d+a?\. )?Exit codes$`).FindStringIndex(s)
		if i == nil && name != "license-v1" {
			t.Errorf("%s.md has no \"## Exit codes\" section", name)
			continue
		}
		var rows [][]string
		if i != nil {
			sec := s[i[1]:]
			if j := strings.Index(sec, "\n## "); j >= 0 {
				sec = sec[:j]
			}
			rows = row.FindAllStringSubmatch(sec, -1)
		}
		// license-v1's verification table: check | error | exit.
		for _, m := range verifyRow.FindAllStringSubmatch(s, -1) {
			rows = append(rows, []string{m[0], m[3], m[1] + " " + m[2]})
		}
		if len(rows) == 0 {
			t.Errorf("%s.md: no exit-code rows", name)
		}
		for _, r := range rows {
			code, _ := strconv.Atoi(r[1])
			if !known[code] {
				t.Errorf("%s.md: exit %d is not in internal/cli's table", name, code)
				continue
			}
			words, ok := exitWords[code]
			if !ok {
				continue
			}
			desc := strings.ToLower(r[2])
			fits := false
			for _, w := range words {
				fits = fits || strings.Contains(desc, w)
			}
			if !fits {
				t.Errorf("%s.md: exit %d described as %q, which is not what internal/cli's %d means", name, code, r[2], code)
			}
		}
	}
}
