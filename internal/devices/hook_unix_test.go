//go:build unix

package devices

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeScript(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHookCommand runs a real script: it gets the device's values in the
// environment and as JSON on stdin, its fixed arguments unchanged, none
// of the server's own environment, and shell syntax in a device name is
// never run.
func TestHookCommand(t *testing.T) {
	t.Setenv("AIRSEAL_TEST_SECRET", "s3cret")
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	pwned := filepath.Join(dir, "pwned")
	script := writeScript(t, dir, `
{
  echo "args=$#:$1:$2"
  echo "code=$AIRSEAL_DEVICE_CODE"
  echo "name=$AIRSEAL_DEVICE_NAME"
  echo "app=$AIRSEAL_DEVICE_APP"
  echo "ip=$AIRSEAL_DEVICE_IP"
  echo "time=$AIRSEAL_DEVICE_TIME"
  echo "state=$AIRSEAL_DEVICE_STATE"
  echo "event=$AIRSEAL_EVENT"
  echo "secret=$AIRSEAL_TEST_SECRET"
  echo "stdin=$(cat)"
} > "$1"
`)
	var hookErr error
	r, _, _ := newReg(t, 1, Options{
		Hook:      &Hook{Command: []string{script, out, "fixed arg"}},
		HookError: func(_ Device, err error) { hookErr = err },
	})
	name := `x"; touch ` + pwned + `; echo "$(touch ` + pwned + `)`
	mustRegister(t, r, Request{Code: "dev:42", Name: name, App: "shop15", IP: netip.MustParseAddr("192.168.1.20")})
	if hookErr != nil {
		t.Fatal(hookErr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{
		"args=2:" + out + ":fixed arg\n",
		"code=dev:42\n",
		"name=" + name + "\n",
		"app=shop15\n",
		"ip=192.168.1.20\n",
		"time=2026-12-01T09:00:00Z\n",
		"state=pending\n",
		"event=device-registered\n",
		"secret=\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("hook output lacks %q:\n%s", want, got)
		}
	}
	_, js, _ := strings.Cut(got, "stdin=")
	var n Notice
	if err := json.Unmarshal([]byte(js), &n); err != nil || n.Name != name || n.Code != "dev:42" || n.IP != "192.168.1.20" {
		t.Fatalf("stdin JSON %q: %v %+v", js, err, n)
	}
	if _, err := os.Stat(pwned); err == nil {
		t.Fatal("shell syntax in the device name was run")
	}
	// A retry of the same pending request does not notify again.
	if err := os.Remove(out); err != nil {
		t.Fatal(err)
	}
	mustRegister(t, r, Request{Code: "dev:42", Name: name, App: "shop15", IP: netip.MustParseAddr("192.168.1.20")})
	if _, err := os.Stat(out); err == nil {
		t.Fatal("hook ran for a retry")
	}
}

func TestHookFailureAndTimeout(t *testing.T) {
	dir := t.TempDir()
	fail := writeScript(t, dir, "echo 'smtp: relay refused' >&2\nexit 3\n")
	var hookErr error
	r, _, _ := newReg(t, 1, Options{
		Hook:      &Hook{Command: []string{fail}},
		HookError: func(_ Device, err error) { hookErr = err },
	})
	d, err := r.Register(req("d1", "10.0.0.1"))
	if err != nil || d.State != Pending {
		t.Fatalf("registration must succeed when the hook fails: %v", err)
	}
	if hookErr == nil || !strings.Contains(hookErr.Error(), "exit status 3") || !strings.Contains(hookErr.Error(), "relay refused") {
		t.Fatalf("hook error %v", hookErr)
	}

	// A hook that hangs (and leaves a child holding its output open) is
	// killed at the timeout.
	slow := filepath.Join(dir, "slow.sh")
	if err := os.WriteFile(slow, []byte("#!/bin/sh\nsleep 30 &\nsleep 30\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	h := &Hook{Command: []string{slow}, Timeout: 200 * time.Millisecond}
	start := time.Now()
	err = h.Notify(Device{Code: "d2", Name: "n", App: "a", IP: "10.0.0.2", State: Pending, Registered: t0})
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("hook not stopped at its timeout: %v", took)
	}
	if err == nil || !strings.Contains(err.Error(), "did not finish") {
		t.Fatalf("timeout error %v", err)
	}
}

func TestHookDir(t *testing.T) {
	dir := t.TempDir()
	r, _, c := newReg(t, 1, Options{Hook: &Hook{Dir: dir}})
	mustRegister(t, r, req("dev:1", "10.0.0.1"))
	if _, err := r.Deny("dev:1", "root"); err != nil {
		t.Fatal(err)
	}
	c.now = t0.Add(time.Minute)
	mustRegister(t, r, req("dev:1", "10.0.0.1")) // re-register: a new request, a new file
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 2 {
		t.Fatalf("files %v %v", ents, err)
	}
	for _, e := range ents {
		if strings.ContainsAny(e.Name(), ":/") || !strings.HasSuffix(e.Name(), "-dev_1.json") {
			t.Fatalf("file name %q", e.Name())
		}
		st, _ := e.Info()
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v", st.Mode().Perm())
		}
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		var n Notice
		if err := json.Unmarshal(b, &n); err != nil || n.Code != "dev:1" || n.State != "pending" {
			t.Fatalf("notice %s: %v", b, err)
		}
	}
	// A notice for the same request again never replaces its file.
	h := &Hook{Dir: dir}
	d := Device{Code: "dev:1", Name: "n", App: "shop15", IP: "10.0.0.1", State: Pending, Registered: t0}
	if err := h.Notify(d); err == nil {
		t.Fatal("existing notice file replaced")
	}
}

func TestHookConfig(t *testing.T) {
	ms := NewMemorySeats(nil)
	for _, h := range []*Hook{
		{},
		{Command: []string{"notify.sh"}},
		{Dir: filepath.Join(t.TempDir(), "missing")},
	} {
		if _, err := New(ms, Options{Hook: h}); err == nil {
			t.Errorf("hook %+v accepted", h)
		}
	}
}
