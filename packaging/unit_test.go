// Package packaging holds the files the Debian package ships besides the
// programs (systemd units, /etc/default settings, maintainer scripts); its
// tests check that the seat server's unit can run what it names. The .deb
// itself is checked end to end (lintian, dpkg -i, systemd-analyze verify
// and security, dpkg --purge) by cmd/bundle's TestReleaseScript.
package packaging

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// unit is a systemd unit file: every assignment of each key, in order,
// and the comment lines.
type unit struct {
	keys     map[string][]string
	comments []string
}

func readUnit(t *testing.T, path string) unit {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unit{keys: map[string][]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(l, "#"):
			u.comments = append(u.comments, strings.TrimSpace(strings.TrimPrefix(l, "#")))
		case l == "" || strings.HasPrefix(l, "["):
		default:
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				t.Fatalf("%s: not KEY=VALUE: %q", path, l)
			}
			u.keys[k] = append(u.keys[k], v)
		}
	}
	return u
}

func (u unit) last(key string) string {
	v := u.keys[key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// TestLicenseServerUnitLetsHwidRead checks that the sandbox of
// airseal-license-server.service leaves hwid the files it reads (the
// server checks its machine binding at start): an option that hides or
// replaces one of them would make the bound license fail on the real
// machine, or make hwid call the service a container.
func TestLicenseServerUnitLetsHwidRead(t *testing.T) {
	u := readUnit(t, "airseal-license-server.service")
	// ProcSubset=pid hides /proc/cpuinfo, /proc/modules, /proc/sys and
	// /proc/device-tree; PrivateNetwork replaces /sys/class/net; a private
	// cgroup namespace looks like a container (a non-root /sys/fs/cgroup).
	forbidden := map[string]string{
		"ProcSubset":           "pid",
		"PrivateNetwork":       "yes",
		"ProtectControlGroups": "private strict",
		"InaccessiblePaths":    "",
		"TemporaryFileSystem":  "",
		"BindPaths":            "",
		"BindReadOnlyPaths":    "",
		"RootDirectory":        "",
		"RootImage":            "",
		"NetworkNamespacePath": "",
	}
	for k, bad := range forbidden {
		v, set := u.keys[k]
		if !set {
			continue
		}
		last := v[len(v)-1]
		if bad == "" || strings.Contains(" "+bad+" ", " "+last+" ") {
			t.Errorf("%s=%s: it hides or replaces files hwid reads (/proc, /sys, /run/udev, /etc/machine-id)", k, last)
		}
	}
	// hwid reads these; RestrictFileSystems or an explicit list would
	// have to keep them.
	for _, p := range []string{"/proc", "/sys", "/run/udev", "/etc/machine-id"} {
		for _, k := range []string{"InaccessiblePaths", "TemporaryFileSystem"} {
			for _, v := range u.keys[k] {
				if strings.Contains(v, p) {
					t.Errorf("%s=%s hides %s", k, v, p)
				}
			}
		}
	}
	// The service must not run as root (it needs no privilege), and init,
	// whose request the license binds, must run as the same user: root
	// reads SMBIOS serials the service cannot.
	user := u.last("User")
	if user == "" || user == "root" || u.last("DynamicUser") == "yes" {
		t.Fatalf("User=%q DynamicUser=%q: want a fixed system user, the one init runs as", user, u.last("DynamicUser"))
	}
	initAs := regexp.MustCompile(`runuser -u (\S+) -- \\?$`)
	found := false
	for i, c := range u.comments {
		if m := initAs.FindStringSubmatch(c); m != nil && i+1 < len(u.comments) && strings.Contains(u.comments[i+1], "license-server init") {
			found = true
			if m[1] != user {
				t.Errorf("the set-up steps run init as %s, the service runs as %s: the license would bind a fingerprint the service does not see", m[1], user)
			}
		}
	}
	if !found {
		t.Error("the unit's comments do not show init run as the service user (runuser -u USER -- ... license-server init)")
	}
	dir := "/var/lib/" + u.last("StateDirectory")
	if !strings.Contains(u.last("ExecStart"), "--dir "+dir+" ") {
		t.Errorf("ExecStart does not serve StateDirectory %s: %s", dir, u.last("ExecStart"))
	}
	if u.last("StateDirectoryMode") != "0700" {
		t.Errorf("StateDirectoryMode=%s, want 0700 (the response key and the database)", u.last("StateDirectoryMode"))
	}
}

// TestLicenseServerUnitCommands runs the unit's ExecStart with its default
// environment against the real license-server (on an empty directory, so
// it must stop at "no response.key", not at a flag), and checks that every
// flag the unit's set-up steps and /etc/default/airseal-license-server name
// is a flag of that subcommand, and that every variable the latter sets is
// used by ExecStart or read by license-server serve.
func TestLicenseServerUnitCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds license-server")
	}
	bin := filepath.Join(t.TempDir(), "license-server")
	if o, err := exec.Command("go", "build", "-o", bin, "../cmd/license-server").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, o)
	}
	u := readUnit(t, "airseal-license-server.service")
	env := map[string]string{}
	for _, e := range u.keys["Environment"] {
		for _, kv := range strings.Fields(e) {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	dir := t.TempDir()
	pass := filepath.Join(t.TempDir(), "passphrase")
	if err := os.WriteFile(pass, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, w := range strings.Fields(u.last("ExecStart"))[1:] {
		switch {
		case strings.HasPrefix(w, "${") && strings.HasSuffix(w, "}"):
			args = append(args, env[w[2:len(w)-1]])
		case strings.HasPrefix(w, "$"):
			args = append(args, strings.Fields(env[w[1:]])...)
		case w == "%d/passphrase":
			args = append(args, pass)
		case w == "/var/lib/"+u.last("StateDirectory"):
			args = append(args, dir)
		default:
			args = append(args, w)
		}
	}
	o, err := exec.Command(bin, args...).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(o), "no response.key") {
		t.Fatalf("license-server %s: %v, want exit 1 'no response.key'\n%s", strings.Join(args, " "), err, o)
	}

	helpOf := map[string]string{}
	help := func(sub string) string {
		if h, ok := helpOf[sub]; ok {
			return h
		}
		o, err := exec.Command(bin, append(strings.Fields(sub), "--help")...).CombinedOutput()
		if err != nil {
			t.Fatalf("license-server %s --help: %v\n%s", sub, err, o)
		}
		helpOf[sub] = string(o)
		return string(o)
	}
	flag := regexp.MustCompile(`(?:^|\s)(--[a-z][a-z-]*)`)
	check := func(where, sub, line string) {
		t.Helper()
		h := help(sub)
		for _, m := range flag.FindAllStringSubmatch(line, -1) {
			if !strings.Contains(h, "  "+m[1]+" ") && !strings.Contains(h, ", "+m[1]+" ") {
				t.Errorf("%s: license-server %s has no flag %s", where, sub, m[1])
			}
		}
	}
	cmdLine := regexp.MustCompile(`airseal-license-server ((?:[a-z]+ )*?)(?:[-A-Z]|--|$)`)
	n := 0
	for _, c := range u.comments {
		if m := cmdLine.FindStringSubmatch(c); m != nil && strings.TrimSpace(m[1]) != "" {
			sub := strings.TrimSpace(m[1])
			check("the unit's comments", sub, c[strings.Index(c, m[0]):])
			n++
		}
	}
	if n < 2 {
		t.Fatalf("found %d license-server commands in the unit's comments, want init and license add at least", n)
	}
	def, err := os.ReadFile("deb/airseal-license-server.default")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(def), "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(l, "#"))
		switch {
		case strings.HasPrefix(l, "--"), strings.HasPrefix(l, "AIRSEAL_LICENSE_SERVER_OPTS="):
			check("/etc/default/airseal-license-server", "serve", " "+strings.TrimPrefix(l, "AIRSEAL_LICENSE_SERVER_OPTS="))
		case strings.HasPrefix(l, "AIRSEAL_"):
			k, _, _ := strings.Cut(l, "=")
			if !strings.Contains(u.last("ExecStart"), k) && !strings.Contains(help("serve"), "$"+k) {
				t.Errorf("/etc/default/airseal-license-server sets %s, which neither ExecStart nor license-server serve reads", k)
			}
		}
	}
}
