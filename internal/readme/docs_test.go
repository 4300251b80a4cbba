package readme

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/airseal/airseal/pkg/seat"
)

// TestHADocCommands checks the commands of docs/ha.md against the
// binaries, so that the page cannot drift from them: every license-server,
// issue and seat command line in its blocks names subcommands that exist
// and flags that the subcommand takes, and the flags it puts in
// AIRSEAL_LICENSE_SERVER_OPTS are flags of license-server serve; the fields
// its Go example sets are fields of seat.Config. (The page's PostgreSQL
// commands are PostgreSQL's and are not run.)
func TestHADocCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds license-server, issue and seat")
	}
	md, err := os.ReadFile(filepath.Join(root, "docs", "ha.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := Parse(md)
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+string(filepath.Separator), "./cmd/license-server", "./cmd/issue", "./cmd/seat")
	build.Dir = root
	if o, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, o)
	}
	help := map[string]string{}
	helpOf := func(path []string) string {
		key := strings.Join(path, " ")
		if h, ok := help[key]; ok {
			return h
		}
		o, err := exec.Command(filepath.Join(bin, path[0]), append(path[1:], "--help")...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s --help: %v\n%s", key, err, o)
		}
		help[key] = string(o)
		return string(o)
	}
	// subcommands lists the "Available Commands" of a help text.
	subcommands := func(h string) map[string]bool {
		out := map[string]bool{}
		_, rest, ok := strings.Cut(h, "Available Commands:\n")
		if !ok {
			return out
		}
		for _, l := range strings.Split(rest, "\n") {
			if !strings.HasPrefix(l, "  ") {
				break
			}
			if f := strings.Fields(l); len(f) > 0 {
				out[f[0]] = true
			}
		}
		return out
	}
	hasFlag := func(h, flag string) bool {
		re := regexp.MustCompile(`(?m)^\s+(-[A-Za-z], )?` + regexp.QuoteMeta(flag) + `(\s|$)`)
		return re.MatchString(h)
	}
	check := func(line int, words []string) {
		t.Helper()
		path := []string{words[0]}
		i := 1
		for ; i < len(words) && !strings.HasPrefix(words[i], "-"); i++ {
			if !subcommands(helpOf(path))[words[i]] {
				break
			}
			path = append(path, words[i])
		}
		if len(path) == 1 && len(subcommands(helpOf(path))) > 0 {
			t.Errorf("docs/ha.md:%d: %s: no subcommand of %s (it has %v)", line, strings.Join(words, " "), path[0], keys(subcommands(helpOf(path))))
			return
		}
		h := helpOf(path)
		for _, w := range words[i:] {
			if !strings.HasPrefix(w, "--") || w == "--" {
				continue
			}
			flag, _, _ := strings.Cut(w, "=")
			if !hasFlag(h, flag) {
				t.Errorf("docs/ha.md:%d: %s has no flag %s", line, strings.Join(path, " "), flag)
			}
		}
	}
	n := 0
	config := reflect.TypeOf(seat.Config{})
	field := regexp.MustCompile(`\b([A-Z][A-Za-z]*):\s`)
	for _, b := range blocks {
		if b.Lang() == "go" {
			// The client example: every field it sets is a seat.Config field.
			for _, m := range field.FindAllStringSubmatch(b.Text, -1) {
				if _, ok := config.FieldByName(m[1]); !ok {
					t.Errorf("docs/ha.md:%d: seat.Config has no field %s", b.Line, m[1])
				}
				n++
			}
			continue
		}
		lines := strings.Split(b.Text, "\n")
		for j := 0; j < len(lines); j++ {
			start := j
			l := strings.TrimSpace(lines[j])
			for strings.HasSuffix(l, "\\") && j+1 < len(lines) { // a continued line
				j++
				l = strings.TrimSuffix(l, "\\") + " " + strings.TrimSpace(lines[j])
			}
			if opts, ok := strings.CutPrefix(l, "AIRSEAL_LICENSE_SERVER_OPTS="); ok {
				check(b.Line+1+start, append([]string{"license-server", "serve"}, strings.Fields(opts)...))
				n++
				continue
			}
			words := shellWords(l)
			if len(words) > 0 && (words[0] == "license-server" || words[0] == "issue" || words[0] == "seat") {
				check(b.Line+1+start, words)
				n++
			}
		}
	}
	if n < 8 {
		t.Fatalf("found %d license-server, issue and seat commands in docs/ha.md, want at least 8: the scan is broken", n)
	}
	t.Logf("%d commands of docs/ha.md checked", n)
}

// shellWords splits a command line into words, keeping quoted text in one
// word (without the quotes) and stopping at a comment.
func shellWords(l string) []string {
	var words []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == '#' && !in:
			return words
		case c == ' ' || c == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
