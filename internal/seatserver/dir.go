package seatserver

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/pkg/hwid"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/seat"
)

// DefaultDir is the server directory when the server runs as root and no
// --dir is given.
const DefaultDir = "/var/lib/airseal-license-server"

// Dir is the server's directory:
//
//	response.key         the response-signing key, encrypted (pkg/keys), 0600
//	response.pub         its public half
//	server-request.json  the license request for the vendor
//	vendor-keys/*.pub    vendor public keys installed licenses may be signed by
//	state.db             the store (licenses, leases, tokens, usage log)
//	users.json           people who log in with a password (internal/users)
//	audit.log            admin actions, hash-chained (internal/audit)
//	server.lock          held by the running server
//
// With DB set (a cluster node) the store is that PostgreSQL database,
// shared with the other nodes, instead of state.db; the key, request,
// vendor keys, users and audit log stay in the node's own directory.
type Dir struct {
	Path string
	// DB is the shared PostgreSQL database's URL (postgres://...), or ""
	// for DIR/state.db.
	DB string
}

// KeyPath is the encrypted response key.
func (d Dir) KeyPath() string { return filepath.Join(d.Path, "response.key") }

// PublicKeyPath is the response key's public half.
func (d Dir) PublicKeyPath() string { return filepath.Join(d.Path, "response.pub") }

// RequestPath is the server license request for the vendor.
func (d Dir) RequestPath() string { return filepath.Join(d.Path, "server-request.json") }

// VendorKeysDir holds the vendor public keys licenses may be signed by.
func (d Dir) VendorKeysDir() string { return filepath.Join(d.Path, "vendor-keys") }

// StorePath is the SQLite store.
func (d Dir) StorePath() string { return filepath.Join(d.Path, "state.db") }

// UsersPath is the users file (internal/users).
func (d Dir) UsersPath() string { return filepath.Join(d.Path, "users.json") }

// TokenStampPath is touched by every token change made outside the
// running server, which reloads its tokens when the file changes.
func (d Dir) TokenStampPath() string { return filepath.Join(d.Path, "tokens.stamp") }

// TouchTokens tells a running server that the tokens changed.
func (d Dir) TouchTokens(now time.Time) error {
	return writeFile(d.TokenStampPath(), []byte(now.UTC().Format(time.RFC3339Nano)+"\n"), 0o600)
}

// AuditPath is the audit log (internal/audit).
func (d Dir) AuditPath() string { return filepath.Join(d.Path, "audit.log") }

func (d Dir) lockPath() string { return filepath.Join(d.Path, "server.lock") }

// Errors about the directory.
var (
	// ErrNotInitialized: the directory has no response key.
	ErrNotInitialized = errors.New("not a license-server directory")
	// ErrBusy: another process (the running server) holds the directory.
	ErrBusy = errors.New("the license server directory is in use")
)

// Initialized reports whether the directory has a response key.
func (d Dir) Initialized() bool {
	_, err := os.Stat(d.KeyPath())
	return err == nil
}

func (d Dir) notInitialized() error {
	return fmt.Errorf("%w: %s has no response.key; create it with license-server init --dir %s", ErrNotInitialized, d.Path, d.Path)
}

// Lock takes the directory for a process that changes licenses or serves
// (an advisory lock on server.lock, released when the process ends). A
// second such process gets ErrBusy at once.
func (d Dir) Lock() (unlock func(), err error) {
	f, err := os.OpenFile(d.lockPath(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: another license-server process (the running server?) holds %s", ErrBusy, d.lockPath())
		}
		return nil, err
	}
	return func() { f.Close() }, nil
}

// PublicKey reads the response key's public half.
func (d Dir) PublicKey() (ed25519.PublicKey, error) {
	if !d.Initialized() {
		return nil, d.notInitialized()
	}
	data, err := fileio.ReadRegular(nil, d.PublicKeyPath(), fileio.LimitPublicKey, "response public key")
	if err != nil {
		return nil, err
	}
	pk, err := keys.ParsePublic(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.PublicKeyPath(), err)
	}
	return pk.Bytes(), nil
}

// PrivateKey decrypts the response key.
func (d Dir) PrivateKey(passphrase []byte) (ed25519.PrivateKey, error) {
	if !d.Initialized() {
		return nil, d.notInitialized()
	}
	data, err := fileio.ReadRegular(nil, d.KeyPath(), fileio.LimitPrivateKey, "response key")
	if err != nil {
		return nil, err
	}
	k, err := keys.Open(data, passphrase)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.KeyPath(), err)
	}
	return k.Ed25519(), nil
}

// Keyring returns the vendor keys: those given (compiled in) plus every
// vendor-keys/*.pub. A private key there is refused.
func (d Dir) Keyring(builtin *keys.Keyring) (*keys.Keyring, error) {
	ring := keys.NewKeyring()
	if builtin != nil {
		for _, id := range builtin.IDs() {
			k, _ := builtin.Get(id)
			ring.Add(k)
		}
	}
	entries, err := os.ReadDir(d.VendorKeysDir())
	if errors.Is(err, os.ErrNotExist) {
		return ring, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".pub") {
			continue
		}
		p := filepath.Join(d.VendorKeysDir(), e.Name())
		data, err := fileio.ReadRegular(nil, p, fileio.LimitPublicKey, "vendor public key")
		if err != nil {
			return nil, err
		}
		if keys.IsPrivate(data) {
			return nil, fmt.Errorf("%s is a private key: only the vendor's public key (NAME.pub) belongs on a customer server; delete it", p)
		}
		k, err := keys.ParsePublic(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		ring.Add(k)
	}
	return ring, nil
}

// AddVendorKey copies a vendor public key into vendor-keys/ as
// KEYID.pub. A private key is refused.
func (d Dir) AddVendorKey(data []byte) (keys.ID, error) {
	if keys.IsPrivate(data) {
		return "", errors.New("this is a private key: give the vendor's public key (NAME.pub); a private key never belongs on a customer server")
	}
	k, err := keys.ParsePublic(data)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(d.VendorKeysDir(), 0o755); err != nil {
		return "", err
	}
	p := filepath.Join(d.VendorKeysDir(), string(k.ID())+".pub")
	if _, err := os.Stat(p); err == nil {
		return k.ID(), nil
	}
	return k.ID(), keys.WriteNew(p, k.MarshalPublic(), 0o644)
}

// InitOptions are what Init needs.
type InitOptions struct {
	// Product salts the machine fingerprint of the request (hwid).
	Product string
	// Customer is the organisation, for the vendor's records.
	Customer string
	// Node names this server (default: the host name made to fit).
	Node string
	// Root reads machine facts from a directory tree (tests, dumps).
	Root string
	// AllowVirtual writes a request from a VM or container.
	AllowVirtual bool
	// Passphrase encrypts a new response key, or opens the existing one.
	Passphrase []byte
	// LogN is the scrypt work factor of a new key (0: pkg/keys default).
	LogN int
	// Now is the request's creation time.
	Now time.Time
}

// InitResult says what Init did.
type InitResult struct {
	Dir         string `json:"dir"`
	KeyCreated  bool   `json:"key_created"`
	KeyID       string `json:"response_key_id"`
	Request     string `json:"request"`
	Node        string `json:"node"`
	Product     string `json:"product"`
	Fingerprint string `json:"fingerprint"`
	Virtual     string `json:"virtualization"`
}

// ErrVirtual: the machine is virtual and AllowVirtual was not given.
var ErrVirtual = hwid.ErrVirtual

// Init creates the directory and the response key (or keeps the one there,
// so re-running is safe) and writes server-request.json for the vendor:
// this machine's fingerprint for Product and the public response key.
func Init(d Dir, o InitOptions) (*InitResult, error) {
	if o.Product == "" {
		return nil, errors.New("--product is required: the machine fingerprint of the request is salted with the product name")
	}
	rep, err := hwid.Collect(hwid.Options{Root: o.Root, Product: o.Product})
	if err != nil {
		return nil, err
	}
	if rep.Virtualization.Virtual() && !o.AllowVirtual {
		return nil, rep.Virtualization.Err()
	}
	if err := os.MkdirAll(d.Path, 0o700); err != nil {
		return nil, err
	}
	res := &InitResult{Dir: d.Path, Product: o.Product, Fingerprint: rep.ID(), Virtual: rep.Virtualization.Type}
	var k *keys.PrivateKey
	if d.Initialized() {
		pk, err := d.PrivateKey(o.Passphrase)
		if err != nil {
			return nil, err
		}
		if k, err = keys.NewPrivateKey(pk.Seed()); err != nil {
			return nil, err
		}
	} else {
		if k, err = keys.Generate(nil); err != nil {
			return nil, err
		}
		sealed, err := k.Seal(o.Passphrase, &keys.SealOptions{LogN: o.LogN})
		if err != nil {
			return nil, err
		}
		if err := keys.WriteNew(d.KeyPath(), sealed, 0o600); err != nil {
			return nil, err
		}
		res.KeyCreated = true
	}
	pub := k.Public().Bytes()
	if err := writeFile(d.PublicKeyPath(), k.Public().MarshalPublic(), 0o644); err != nil {
		return nil, err
	}
	node := o.Node
	if node == "" {
		node = NodeName(rep.Hostname)
	}
	hr, err := hwid.NewRequest(rep, o.Product, o.Customer, o.Now, nil)
	if err != nil {
		return nil, err
	}
	req := &license.ServerRequest{Request: *hr, Node: node, ResponseKey: pub}
	b, err := req.Marshal()
	if err != nil {
		return nil, err
	}
	if err := writeFile(d.RequestPath(), b, 0o644); err != nil {
		return nil, err
	}
	res.KeyID, res.Request, res.Node = seat.ResponseKeyID(pub), d.RequestPath(), node
	return res, nil
}

// NodeName makes a host name fit the node alphabet (a-z 0-9 _ . -, at
// most 64): lower case, other characters as '-'; "server" when nothing is
// left.
func NodeName(host string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(host) {
		if b.Len() == 64 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	if s := strings.Trim(b.String(), "-."); s != "" {
		return s
	}
	return "server"
}

// writeFile replaces path atomically (temporary file, sync, rename).
func writeFile(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// HostMachine returns a MachineFunc reading this machine's facts (or
// root's, a directory tree) with hwid.
func HostMachine(root string) MachineFunc {
	return func(product string) (*license.Machine, error) {
		rep, err := hwid.Collect(hwid.Options{Root: root, Product: product})
		if err != nil {
			return nil, err
		}
		return &license.Machine{Components: rep.Fingerprint.Components, RootRead: rep.RootRead,
			Virtualization: rep.Virtualization.Type, Technology: rep.Virtualization.Technology}, nil
	}
}

// ReadRequest reads server-request.json for ComputerID and Node.
func (d Dir) ReadRequest() (*license.ServerRequest, error) {
	data, err := fileio.ReadRegular(nil, d.RequestPath(), license.MaxServerRequest, "server request")
	if err != nil {
		return nil, err
	}
	return license.ParseServerRequest(data)
}

// VendorKeyIDs lists the vendor keys in vendor-keys/, for messages.
func (d Dir) VendorKeyIDs() []string {
	entries, _ := os.ReadDir(d.VendorKeysDir())
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".pub") {
			out = append(out, safetext.Clean(strings.TrimSuffix(e.Name(), ".pub")))
		}
	}
	sort.Strings(out)
	return out
}
