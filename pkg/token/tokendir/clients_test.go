package tokendir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dummySecret is the public string whose hash an unknown client is
// compared against; no entry may ever authenticate with it.
const dummySecret = "airseal token: no such client"

func TestParseClientsStrict(t *testing.T) {
	good := `{"client_id":"ok.1","secret_sha256":"` + strings.Repeat("ab", 32) + `","created":"2026-01-01T00:00:00Z"}`
	cases := []struct {
		name, entry, wantLine, wantText string
	}{
		{"empty hash", `{"client_id":"x.1","secret_sha256":"","created":"2026-01-01T00:00:00Z"}`, ":4:", "secret_sha256"},
		{"missing hash", `{"client_id":"x.1","created":"2026-01-01T00:00:00Z"}`, ":4:", "secret_sha256"},
		{"short hash", `{"client_id":"x.1","secret_sha256":"abcd"}`, ":4:", "64 lower-case hex"},
		{"non-hex hash", `{"client_id":"x.1","secret_sha256":"` + strings.Repeat("zz", 32) + `"}`, ":4:", "hex"},
		{"unknown field", `{"client_id":"x.1","secret_sha256":"` + strings.Repeat("cd", 32) + `","admin":true}`, ":4:", "unknown field"},
		{"duplicate", good, ":4:", "listed twice (first on line 3)"},
		{"bad name", `{"client_id":"bad name","secret_sha256":"` + strings.Repeat("cd", 32) + `"}`, ":4:", "client name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := "{\n\"version\": 1, \"clients\": [\n" + good + ",\n" + tc.entry + "\n]}\n"
			_, err := ParseClients("clients.json", []byte(file))
			if !errors.Is(err, ErrClientsFile) {
				t.Fatalf("ParseClients: %v, want ErrClientsFile", err)
			}
			if !strings.Contains(err.Error(), "clients.json"+tc.wantLine) || !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error %q: want file:line %q and %q", err, tc.wantLine, tc.wantText)
			}
		})
	}
	if _, err := ParseClients("c.json", []byte(`{"version":1,"clients":[],"extra":1}`)); !errors.Is(err, ErrClientsFile) {
		t.Errorf("unknown top-level field: %v", err)
	}
	if _, err := ParseClients("c.json", []byte(`{"version":1,"clients":[]} {}`)); !errors.Is(err, ErrClientsFile) {
		t.Errorf("trailing data: %v", err)
	}
	cs, err := ParseClients("c.json", []byte(`{"version":1,"clients":[`+good+`]}`))
	if err != nil || cs.Len() != 1 {
		t.Fatalf("good file: %v", err)
	}
}

// An entry whose hash is not a hash never authenticates, even with the
// dummy secret, should it reach a Clients set some other way.
func TestAuthenticateMalformedEntryRefused(t *testing.T) {
	for _, h := range []string{"", "abcd", strings.Repeat("zz", 32)} {
		cs := &Clients{byID: map[string]*Client{"x.1": {ID: "x.1", SecretSHA256: h}}}
		if _, err := cs.Authenticate("x.1", dummySecret); !errors.Is(err, ErrClientAuth) {
			t.Errorf("hash %q: dummy secret authenticated", h)
		}
		if _, err := cs.Authenticate("x.1", ""); !errors.Is(err, ErrClientAuth) {
			t.Errorf("hash %q: empty secret authenticated", h)
		}
	}
	if _, err := (&Clients{}).Authenticate("nobody", dummySecret); !errors.Is(err, ErrClientAuth) {
		t.Error("unknown client authenticated with the dummy secret")
	}
}

func TestClientDisableRemove(t *testing.T) {
	d := newTestDir(t)
	_, secret, err := d.AddClient("app.1", "urn:a", "")
	if err != nil {
		t.Fatal(err)
	}
	auth := func() error {
		cs, err := d.Clients()
		if err != nil {
			t.Fatal(err)
		}
		_, err = cs.Authenticate("app.1", secret)
		return err
	}
	if err := auth(); err != nil {
		t.Fatalf("enabled: %v", err)
	}
	if _, err := d.SetClientDisabled("app.1", true); err != nil {
		t.Fatal(err)
	}
	if err := auth(); !errors.Is(err, ErrClientAuth) {
		t.Fatalf("disabled client authenticated: %v", err)
	}
	if _, err := d.SetClientDisabled("app.1", false); err != nil {
		t.Fatal(err)
	}
	if err := auth(); err != nil {
		t.Fatalf("re-enabled: %v", err)
	}
	if _, err := d.RemoveClient("app.1"); err != nil {
		t.Fatal(err)
	}
	if err := auth(); !errors.Is(err, ErrClientAuth) {
		t.Fatalf("removed client authenticated: %v", err)
	}
	if _, err := d.RemoveClient("app.1"); !errors.Is(err, ErrNoClient) {
		t.Fatalf("second remove: %v", err)
	}
	// A malformed file on disk is refused when loaded, naming file and line.
	os.WriteFile(filepath.Join(d.Path, ClientsFile), []byte("{\"version\":1,\"clients\":[\n{\"client_id\":\"y.1\",\"secret_sha256\":\"\"}]}"), 0o600)
	if _, err := d.Clients(); !errors.Is(err, ErrClientsFile) || !strings.Contains(err.Error(), ClientsFile+":2:") {
		t.Fatalf("malformed file: %v", err)
	}
}
