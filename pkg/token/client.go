package token

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/airseal/airseal/internal/atomicfile"
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
}

type clientFile struct {
	Version int      `json:"version"`
	Clients []Client `json:"clients"`
}

// Clients is a set of registered clients, looked up by client_id.
type Clients struct {
	byID map[string]*Client
}

// ErrClientAuth means client authentication failed: unknown client_id or
// wrong secret (deliberately not told apart).
var ErrClientAuth = errors.New("client authentication failed")

// dummyHash is compared against when the client is unknown, so an unknown
// client_id costs the same time as a wrong secret.
var dummyHash = sha256.Sum256([]byte("airseal token: no such client"))

// Authenticate checks id and secret in constant time (with respect to the
// secret) and returns the client.
func (cs *Clients) Authenticate(id, secret string) (*Client, error) {
	got := sha256.Sum256([]byte(secret))
	c := cs.byID[id]
	want := dummyHash[:]
	if c != nil {
		if h, err := hex.DecodeString(c.SecretSHA256); err == nil && len(h) == sha256.Size {
			want = h
		}
	}
	if subtle.ConstantTimeCompare(got[:], want) != 1 || c == nil {
		return nil, ErrClientAuth
	}
	return c, nil
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

func (d *Dir) loadClients() (*clientFile, error) {
	b, err := os.ReadFile(d.file(ClientsFile))
	if os.IsNotExist(err) {
		return &clientFile{Version: 1, Clients: []Client{}}, nil
	}
	if err != nil {
		return nil, err
	}
	var cf clientFile
	if err := json.Unmarshal(b, &cf); err != nil {
		return nil, fmt.Errorf("%s: %v; restore it from a backup", d.file(ClientsFile), err)
	}
	if cf.Version != 1 {
		return nil, fmt.Errorf("%s: version %d is not supported (want 1)", d.file(ClientsFile), cf.Version)
	}
	return &cf, nil
}

func (d *Dir) saveClients(cf *clientFile) error {
	b, err := json.MarshalIndent(cf, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(d.file(ClientsFile), append(b, '\n'), 0o600)
}

// Clients reads the registered clients.
func (d *Dir) Clients() (*Clients, error) {
	cf, err := d.loadClients()
	if err != nil {
		return nil, err
	}
	cs := &Clients{byID: make(map[string]*Client, len(cf.Clients))}
	for i := range cf.Clients {
		c := &cf.Clients[i]
		cs.byID[c.ID] = c
	}
	return cs, nil
}

// AddClient registers client id with the audience and scope its
// client_credentials tokens get, and returns its secret. The secret is
// shown only here; the directory keeps its SHA-256.
func (d *Dir) AddClient(id, aud, scope string) (*Client, string, error) {
	if err := validClientID(id); err != nil {
		return nil, "", err
	}
	if _, err := d.State(); err != nil {
		return nil, "", err
	}
	unlock, err := d.Lock()
	if err != nil {
		return nil, "", err
	}
	defer unlock()
	cf, err := d.loadClients()
	if err != nil {
		return nil, "", err
	}
	for _, c := range cf.Clients {
		if c.ID == id {
			return nil, "", fmt.Errorf("client %q already exists in %s; choose another name", id, d.file(ClientsFile))
		}
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, "", err
	}
	secret := b64.EncodeToString(raw[:])
	h := sha256.Sum256([]byte(secret))
	c := Client{ID: id, SecretSHA256: hex.EncodeToString(h[:]), Audience: aud, Scope: NormalizeScope(scope), Created: d.now().UTC().Truncate(time.Second)}
	cf.Clients = append(cf.Clients, c)
	if err := d.saveClients(cf); err != nil {
		return nil, "", err
	}
	return &c, secret, nil
}
