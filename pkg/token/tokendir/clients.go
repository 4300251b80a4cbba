package tokendir

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/airseal/airseal/internal/atomicfile"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/pkg/token"
)

// Client is a registered OAuth client. Only a SHA-256 of its secret is
// stored: secrets are 256-bit random values, so a slow password hash would
// add nothing but cost at the endpoint.
type Client struct {
	ID           string    `json:"client_id"`
	SecretSHA256 string    `json:"secret_sha256"`
	Audience     string    `json:"aud,omitempty"`
	Scope        string    `json:"scope,omitempty"`
	Created      time.Time `json:"created"`
	// Disabled clients never authenticate; 'token client enable' turns
	// them back on with the same secret.
	Disabled bool `json:"disabled,omitempty"`
}

type clientFile struct {
	Version int      `json:"version"`
	Clients []Client `json:"clients"`
}

// Clients is a set of registered clients, looked up by client_id.
type Clients struct {
	byID map[string]*Client
}

// ErrClientAuth means client authentication failed: unknown client_id,
// disabled client or wrong secret (deliberately not told apart).
var ErrClientAuth = errors.New("client authentication failed")

// ErrClientsFile means clients.json is malformed: not JSON, an unknown
// field, a duplicate client, or a secret hash that is not 64 hex digits.
var ErrClientsFile = errors.New("malformed clients file")

// ErrNoClient means a named client is not registered.
var ErrNoClient = errors.New("no such client")

// dummyHash is compared against when the client is unknown, so an unknown
// client_id costs the same time as a wrong secret. No secret is accepted
// against it: the comparison's result is discarded.
var dummyHash = sha256.Sum256([]byte("airseal token: no such client"))

// Authenticate checks id and secret in constant time (with respect to the
// secret) and returns the client. A disabled client never authenticates.
func (cs *Clients) Authenticate(id, secret string) (*Client, error) {
	got := sha256.Sum256([]byte(secret))
	c := cs.byID[id]
	want := dummyHash[:]
	known := false
	if c != nil {
		if h, err := hex.DecodeString(c.SecretSHA256); err == nil && len(h) == sha256.Size {
			want, known = h, true
		}
	}
	match := subtle.ConstantTimeCompare(got[:], want) == 1
	if !match || !known || c.Disabled {
		return nil, ErrClientAuth
	}
	return c, nil
}

// Has reports whether id is a registered client (enabled or not).
func (cs *Clients) Has(id string) bool {
	_, ok := cs.byID[id]
	return ok
}

// Scopes returns every scope some enabled client may request, sorted
// (RFC 8414 scopes_supported).
func (cs *Clients) Scopes() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range cs.byID {
		if c.Disabled {
			continue
		}
		for _, x := range strings.Fields(c.Scope) {
			if !seen[x] {
				seen[x] = true
				out = append(out, x)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Len returns the number of clients.
func (cs *Clients) Len() int { return len(cs.byID) }

func validClientID(id string) error {
	if id == "" || len(id) > 128 {
		return fmt.Errorf("client name %q: want 1 to 128 characters", id)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return fmt.Errorf("client name %q: use letters, digits, '.', '-' and '_' only (for example local.app.1)", id)
		}
	}
	return nil
}

func validSecretHash(h string) error {
	if len(h) != 2*sha256.Size {
		return fmt.Errorf("secret_sha256 has %d characters, want 64 lower-case hex digits", len(h))
	}
	for _, r := range h {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return fmt.Errorf("secret_sha256 %q: want 64 lower-case hex digits", h)
		}
	}
	return nil
}

// lineAt returns the 1-based line of the first byte at or after off that
// is not white space or a comma (the start of the next JSON value).
func lineAt(b []byte, off int64) int {
	i := int(min(off, int64(len(b))))
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r' || b[i] == ',') {
		i++
	}
	return bytes.Count(b[:i], []byte{'\n'}) + 1
}

// ParseClients parses a clients.json file strictly: unknown fields, a
// duplicate client_id, an invalid client name and a secret hash that is not
// 64 lower-case hex digits are refused, naming name and the line. Errors
// match [ErrClientsFile].
func ParseClients(name string, b []byte) (*Clients, error) {
	cf, err := parseClientFile(name, b)
	if err != nil {
		return nil, err
	}
	return cf.index(), nil
}

func (cf *clientFile) index() *Clients {
	cs := &Clients{byID: make(map[string]*Client, len(cf.Clients))}
	for i := range cf.Clients {
		cs.byID[cf.Clients[i].ID] = &cf.Clients[i]
	}
	return cs
}

func parseClientFile(name string, b []byte) (*clientFile, error) {
	bad := func(off int64, format string, args ...any) error {
		return fmt.Errorf("%w: %s:%d: %s; fix or remove the entry ('token client remove NAME' rewrites the file)",
			ErrClientsFile, name, lineAt(b, off), fmt.Sprintf(format, args...))
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, bad(0, "want a JSON object {\"version\": 1, \"clients\": [...]}")
	}
	cf := &clientFile{}
	seen := map[string]int{}
	var haveVersion, haveClients bool
	for d.More() {
		off := d.InputOffset()
		t, err := d.Token()
		if err != nil {
			return nil, bad(off, "%v", err)
		}
		key, _ := t.(string)
		switch key {
		case "version":
			if haveVersion {
				return nil, bad(off, "duplicate field \"version\"")
			}
			haveVersion = true
			if err := d.Decode(&cf.Version); err != nil {
				return nil, bad(off, "version: %v", err)
			}
		case "clients":
			if haveClients {
				return nil, bad(off, "duplicate field \"clients\"")
			}
			haveClients = true
			if t, err := d.Token(); err != nil || t != json.Delim('[') {
				return nil, bad(off, "clients: want a JSON array")
			}
			cf.Clients = []Client{}
			for d.More() {
				off := d.InputOffset()
				var c Client
				if err := d.Decode(&c); err != nil {
					return nil, bad(off, "%v", err)
				}
				if err := validClientID(c.ID); err != nil {
					return nil, bad(off, "%v", err)
				}
				if err := validSecretHash(c.SecretSHA256); err != nil {
					return nil, bad(off, "client %q: %v", c.ID, err)
				}
				if l, dup := seen[c.ID]; dup {
					return nil, bad(off, "client %q is listed twice (first on line %d)", c.ID, l)
				}
				seen[c.ID] = lineAt(b, off)
				cf.Clients = append(cf.Clients, c)
			}
			if _, err := d.Token(); err != nil {
				return nil, bad(d.InputOffset(), "%v", err)
			}
		default:
			return nil, bad(off, "unknown field %q (want version and clients)", key)
		}
	}
	if _, err := d.Token(); err != nil {
		return nil, bad(d.InputOffset(), "%v", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, bad(d.InputOffset(), "data after the JSON object")
	}
	if cf.Version != 1 {
		return nil, bad(0, "version %d is not supported (want 1)", cf.Version)
	}
	if cf.Clients == nil {
		cf.Clients = []Client{}
	}
	return cf, nil
}

func (d *Dir) loadClients() (*clientFile, error) {
	name := d.File(ClientsFile)
	b, err := fileio.ReadRegular(nil, name, fileio.LimitClients, "clients")
	if errors.Is(err, os.ErrNotExist) {
		return &clientFile{Version: 1, Clients: []Client{}}, nil
	}
	if err != nil {
		return nil, err
	}
	return parseClientFile(name, b)
}

func (d *Dir) saveClients(cf *clientFile) error {
	b, err := json.MarshalIndent(cf, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(d.File(ClientsFile), append(b, '\n'), 0o600)
}

// Clients reads the registered clients. A malformed file is refused with an
// error matching [ErrClientsFile] that names the file and line.
func (d *Dir) Clients() (*Clients, error) {
	cf, err := d.loadClients()
	if err != nil {
		return nil, err
	}
	return cf.index(), nil
}

// ClientList returns the registered clients in file order.
func (d *Dir) ClientList() ([]Client, error) {
	if _, err := d.State(); err != nil {
		return nil, err
	}
	cf, err := d.loadClients()
	if err != nil {
		return nil, err
	}
	return cf.Clients, nil
}

// AddClient registers client id with the audience and scope its
// client_credentials tokens get, and returns its secret. The secret is
// shown only here; the directory keeps its SHA-256.
func (d *Dir) AddClient(id, aud, scope string) (*Client, string, error) {
	if err := validClientID(id); err != nil {
		return nil, "", err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, "", err
	}
	secret := base64.RawURLEncoding.EncodeToString(raw[:])
	h := sha256.Sum256([]byte(secret))
	c := Client{ID: id, SecretSHA256: hex.EncodeToString(h[:]), Audience: aud, Scope: token.NormalizeScope(scope), Created: d.now().UTC().Truncate(time.Second)}
	err := d.editClients(func(cf *clientFile) error {
		for _, x := range cf.Clients {
			if x.ID == id {
				return fmt.Errorf("client %q already exists in %s; choose another name", id, d.File(ClientsFile))
			}
		}
		cf.Clients = append(cf.Clients, c)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return &c, secret, nil
}

// editClients applies edit to the client file under the directory lock.
func (d *Dir) editClients(edit func(cf *clientFile) error) error {
	if _, err := d.State(); err != nil {
		return err
	}
	unlock, err := d.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	cf, err := d.loadClients()
	if err != nil {
		return err
	}
	if err := edit(cf); err != nil {
		return err
	}
	return d.saveClients(cf)
}

func (d *Dir) findClient(cf *clientFile, id string) (int, error) {
	for i := range cf.Clients {
		if cf.Clients[i].ID == id {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%w %q in %s; 'token client list' shows the clients", ErrNoClient, id, d.File(ClientsFile))
}

// RemoveClient deletes client id; its secret stops working.
func (d *Dir) RemoveClient(id string) (*Client, error) {
	var removed Client
	err := d.editClients(func(cf *clientFile) error {
		i, err := d.findClient(cf, id)
		if err != nil {
			return err
		}
		removed = cf.Clients[i]
		cf.Clients = append(cf.Clients[:i], cf.Clients[i+1:]...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &removed, nil
}

// SetClientDisabled disables (or enables again) client id. A disabled
// client keeps its entry and secret hash but never authenticates.
func (d *Dir) SetClientDisabled(id string, disabled bool) (*Client, error) {
	var out Client
	err := d.editClients(func(cf *clientFile) error {
		i, err := d.findClient(cf, id)
		if err != nil {
			return err
		}
		cf.Clients[i].Disabled = disabled
		out = cf.Clients[i]
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}
