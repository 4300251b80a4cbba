// Package tokendir keeps a token issuer's state on disk: its keys, the
// registered OAuth clients, the ledgers of minted and of issued tokens, and
// the signed revocation list with the highest sequence number seen. The
// pure token and revocation-list logic is package token; the HTTP endpoint
// is package tokenserver. The layout is specified in docs/spec/token-v1.md,
// section 3.
package tokendir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/airseal/airseal/internal/atomicfile"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/token"
)

// File names inside a token directory. See docs/spec/token-v1.md.
const (
	StateFile       = "token.json"
	KeysDir         = "keys"
	ClientsFile     = "clients.json"
	LedgerFile      = "ledger.jsonl"
	RevocationsFile = "revocations.jwt"
	SeenFile        = "revocations.seq"
	lockFile        = ".lock"
)

// ErrNotInitialized means the directory holds no token state yet.
var ErrNotInitialized = errors.New("not a token directory")

// KeyStatus is the state of an issuer key.
type KeyStatus string

// Key states.
const (
	// KeyActive: the key that signs new tokens (exactly one) and verifies.
	KeyActive KeyStatus = "active"
	// KeyValid: no longer signs, still verifies tokens it signed.
	KeyValid KeyStatus = "valid"
	// KeyRetired: neither signs nor verifies; left out of the JWKS.
	KeyRetired KeyStatus = "retired"
)

// KeyInfo describes one issuer key in the state file.
type KeyInfo struct {
	ID      keys.ID    `json:"kid"`
	Status  KeyStatus  `json:"status"`
	Created time.Time  `json:"created"`
	Retired *time.Time `json:"retired,omitempty"`
}

// State is the content of token.json.
type State struct {
	Version int       `json:"version"`
	Issuer  string    `json:"issuer"`
	Keys    []KeyInfo `json:"keys"`
}

// Active returns the active key's ID.
func (s *State) Active() (keys.ID, error) {
	for _, k := range s.Keys {
		if k.Status == KeyActive {
			return k.ID, nil
		}
	}
	return "", errors.New("no active key; run 'token keys rotate' to create one")
}

// Dir is a token directory: issuer keys, registered clients, the ledgers of
// minted and of issued tokens, and the revocation list.
type Dir struct {
	// Path is the directory.
	Path string
	// Seal tunes the encryption of new private keys; nil means defaults.
	Seal *keys.SealOptions
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

func (d *Dir) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// File returns the path of name inside the directory.
func (d *Dir) File(name string) string { return filepath.Join(d.Path, name) }

func (d *Dir) keyFile(id keys.ID, ext string) string {
	return filepath.Join(d.Path, KeysDir, string(id)+ext)
}

// Lock takes an exclusive lock on the directory for a state change. Call
// the returned function to release it.
func (d *Dir) Lock() (func(), error) {
	f, err := os.OpenFile(d.File(lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: locking: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// Init creates the directory (mode 0700) with a first Ed25519 issuer key
// sealed under passphrase, an empty client list and the state file. It
// refuses a directory that is already initialised. An empty issuer means
// "urn:airseal:token:" followed by the first key's ID.
func (d *Dir) Init(issuer string, passphrase []byte) (*State, error) {
	if _, err := os.Stat(d.File(StateFile)); err == nil {
		return nil, fmt.Errorf("%s already exists; this directory is initialised (use 'token keys rotate' for a new key)", d.File(StateFile))
	}
	if err := os.MkdirAll(filepath.Join(d.Path, KeysDir), 0o700); err != nil {
		return nil, err
	}
	unlock, err := d.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Again under the lock: two inits racing must not both write a state.
	if _, err := os.Stat(d.File(StateFile)); err == nil {
		return nil, fmt.Errorf("%s already exists; this directory is initialised (use 'token keys rotate' for a new key)", d.File(StateFile))
	}
	k, err := d.newKey(passphrase)
	if err != nil {
		return nil, err
	}
	if issuer == "" {
		issuer = "urn:airseal:token:" + string(k.ID())
	}
	st := &State{Version: 1, Issuer: issuer, Keys: []KeyInfo{{ID: k.ID(), Status: KeyActive, Created: d.now().UTC().Truncate(time.Second)}}}
	if _, err := os.Stat(d.File(ClientsFile)); os.IsNotExist(err) {
		if err := d.saveClients(&clientFile{Version: 1, Clients: []Client{}}); err != nil {
			return nil, err
		}
	}
	if err := d.saveState(st); err != nil {
		return nil, err
	}
	return st, nil
}

func (d *Dir) newKey(passphrase []byte) (*keys.PrivateKey, error) {
	k, err := keys.Generate(nil)
	if err != nil {
		return nil, err
	}
	sealed, err := k.Seal(passphrase, d.Seal)
	if err != nil {
		return nil, err
	}
	if err := keys.WriteNew(d.keyFile(k.ID(), ".key"), sealed, 0o600); err != nil {
		return nil, err
	}
	if err := keys.WriteNew(d.keyFile(k.ID(), ".pub"), k.Public().MarshalPublic(), 0o644); err != nil {
		return nil, err
	}
	return k, atomicfile.SyncDir(filepath.Join(d.Path, KeysDir))
}

func (d *Dir) saveState(st *State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(d.File(StateFile), append(b, '\n'), 0o644)
}

// State reads token.json.
func (d *Dir) State() (*State, error) {
	b, err := fileio.ReadRegular(nil, d.File(StateFile), fileio.LimitConfig, "token state")
	if os.IsNotExist(err) {
		return nil, fmt.Errorf("%w: %s does not exist; initialise the directory first ('token init')", ErrNotInitialized, d.File(StateFile))
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %v; restore it from a backup", d.File(StateFile), err)
	}
	if st.Version != 1 {
		return nil, fmt.Errorf("%s: version %d is not supported (want 1)", d.File(StateFile), st.Version)
	}
	return &st, nil
}

// Keyring returns the public keys that verify: the active and valid ones.
// Each is read from its .pub file and must have the ID it is listed under.
func (d *Dir) Keyring() (*keys.Keyring, *State, error) {
	st, err := d.State()
	if err != nil {
		return nil, nil, err
	}
	ring := keys.NewKeyring()
	for _, ki := range st.Keys {
		if ki.Status == KeyRetired {
			continue
		}
		pk, err := loadPublic(d.keyFile(ki.ID, ".pub"))
		if err != nil {
			return nil, nil, fmt.Errorf("%w; %s lists key %s as %s: restore %s from a backup", err, d.File(StateFile), ki.ID, ki.Status, d.keyFile(ki.ID, ".pub"))
		}
		if pk.ID() != ki.ID {
			return nil, nil, fmt.Errorf("%s: holds key %s, but %s lists it as %s", d.keyFile(ki.ID, ".pub"), pk.ID(), StateFile, ki.ID)
		}
		ring.Add(pk)
	}
	return ring, st, nil
}

// Signer decrypts the active key with passphrase.
func (d *Dir) Signer(passphrase []byte) (*token.Signer, error) {
	st, err := d.State()
	if err != nil {
		return nil, err
	}
	id, err := st.Active()
	if err != nil {
		return nil, err
	}
	k, err := loadPrivate(d.keyFile(id, ".key"), passphrase)
	if err != nil {
		return nil, err
	}
	return token.NewSigner(st.Issuer, k), nil
}

// Rotate creates a new key, makes it the active signer and keeps the
// previous one valid for verification. passphrase must open the current
// active key, so every key stays under one passphrase.
func (d *Dir) Rotate(passphrase []byte) (KeyInfo, error) {
	unlock, err := d.Lock()
	if err != nil {
		return KeyInfo{}, err
	}
	defer unlock()
	if _, err := d.Signer(passphrase); err != nil {
		return KeyInfo{}, err
	}
	st, err := d.State()
	if err != nil {
		return KeyInfo{}, err
	}
	k, err := d.newKey(passphrase)
	if err != nil {
		return KeyInfo{}, err
	}
	for i := range st.Keys {
		if st.Keys[i].Status == KeyActive {
			st.Keys[i].Status = KeyValid
		}
	}
	ki := KeyInfo{ID: k.ID(), Status: KeyActive, Created: d.now().UTC().Truncate(time.Second)}
	st.Keys = append(st.Keys, ki)
	return ki, d.saveState(st)
}

// Retire stops trusting key id: tokens it signed no longer verify and it
// leaves the JWKS. The active key cannot be retired (rotate first). The
// revocation list, if any, is signed again by the active key so it keeps
// verifying.
func (d *Dir) Retire(id keys.ID, passphrase []byte) error {
	unlock, err := d.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	st, err := d.State()
	if err != nil {
		return err
	}
	i := -1
	for j, k := range st.Keys {
		if k.ID == id {
			i = j
		}
	}
	switch {
	case i < 0:
		return fmt.Errorf("no key %s in %s; 'token keys list' shows the keys", id, d.File(StateFile))
	case st.Keys[i].Status == KeyActive:
		return fmt.Errorf("key %s is the active signer; run 'token keys rotate' first, then retire it", id)
	case st.Keys[i].Status == KeyRetired:
		return nil
	}
	s, err := d.Signer(passphrase)
	if err != nil {
		return err
	}
	ring, _, err := d.Keyring()
	if err != nil {
		return err
	}
	cur, err := d.Revocations(ring, st.Issuer)
	if err != nil {
		return err
	}
	// Re-sign the list with the active key before the state stops trusting
	// the retired one: a crash in between leaves a list that still
	// verifies, never one signed only by a retired key.
	if cur != nil {
		next, _ := cur.Next(st.Issuer, nil, nil, d.now())
		if err := d.writeRevocations(s, next); err != nil {
			return err
		}
	}
	t := d.now().UTC().Truncate(time.Second)
	st.Keys[i].Status = KeyRetired
	st.Keys[i].Retired = &t
	return d.saveState(st)
}

// seenLimit bounds the file of the highest revocation list number seen
// (a decimal number and a newline).
const seenLimit = 1 << 10

// loadPublic reads a public key file of the directory, bounded.
func loadPublic(path string) (*keys.PublicKey, error) {
	b, err := fileio.ReadRegular(nil, path, fileio.LimitPublicKey, "public key")
	if err != nil {
		return nil, err
	}
	k, err := keys.ParsePublic(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// loadPrivate reads and decrypts a sealed key file of the directory, bounded.
func loadPrivate(path string, passphrase []byte) (*keys.PrivateKey, error) {
	b, err := fileio.ReadRegular(nil, path, fileio.LimitPrivateKey, "sealed private key")
	if err != nil {
		return nil, err
	}
	k, err := keys.Open(b, passphrase)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// readSeen returns the highest revocation sequence number recorded in path
// (0 when the file does not exist).
func readSeen(path string) (uint64, error) {
	b, err := fileio.ReadRegular(nil, path, seenLimit, "revocation floor")
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: want the decimal number of the newest revocation list seen: %v; restore it from a backup", path, err)
	}
	return n, nil
}

// markSeen raises the number recorded in path to seq. A lock file beside it
// keeps two processes from lowering each other's number.
func markSeen(path string, seq uint64) error {
	if cur, err := readSeen(path); err != nil || seq <= cur {
		return err // nothing to record: no lock, so read-only verifiers work
	}
	lf, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("%s: locking: %w", lf.Name(), err)
	}
	cur, err := readSeen(path)
	if err != nil || seq <= cur {
		return err
	}
	return atomicfile.Write(path, []byte(strconv.FormatUint(seq, 10)+"\n"), 0o644)
}

// RaiseRevocationFloor raises the directory's revocation floor
// ([SeenFile]) to seq when it is lower, for a verifier that holds list
// #seq in memory: the floor never falls below a list in use, even when the
// file was deleted.
func (d *Dir) RaiseRevocationFloor(seq uint64) error {
	return markSeen(d.File(SeenFile), seq)
}

// LoadRevocationFile reads and verifies the revocation list at path. When
// seenPath is not empty it holds the highest sequence number seen: an older
// list is refused with [ErrRevocationRollback], a newer one raises it.
func LoadRevocationFile(ring *keys.Keyring, path, seenPath, issuer string) (*token.RevocationList, error) {
	seen := uint64(0)
	if seenPath != "" {
		var err error
		if seen, err = readSeen(seenPath); err != nil {
			return nil, err
		}
	}
	b, err := fileio.ReadRegular(nil, path, token.MaxRevocationListSize, "revocation list")
	if errors.Is(err, os.ErrNotExist) && seen > 0 {
		return nil, fmt.Errorf("%w: %s is missing, and #%d was seen before; restore it from a backup", token.ErrRevocationRollback, path, seen)
	}
	if err != nil {
		return nil, err
	}
	l, err := token.ParseRevocations(ring, b, issuer)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := l.CheckSeq(seen); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if seenPath != "" {
		if err := markSeen(seenPath, l.Seq); err != nil {
			return nil, fmt.Errorf("recording the revocation list number: %w", err)
		}
	}
	return l, nil
}

// Revocations reads and verifies the directory's revocation list (nil when
// there is none yet). A list older than the highest sequence number seen
// before is refused with [ErrRevocationRollback]; a newer one raises the
// recorded number.
func (d *Dir) Revocations(ring *keys.Keyring, issuer string) (*token.RevocationList, error) {
	if _, err := os.Stat(d.File(RevocationsFile)); os.IsNotExist(err) {
		if seen, err := readSeen(d.File(SeenFile)); err != nil || seen == 0 {
			return nil, err // no revocations yet
		}
	}
	return LoadRevocationFile(ring, d.File(RevocationsFile), d.File(SeenFile), issuer)
}

func (d *Dir) writeRevocations(s *token.Signer, l *token.RevocationList) error {
	tok, err := s.SignRevocations(l)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(d.File(RevocationsFile), []byte(tok+"\n"), 0o644); err != nil {
		return err
	}
	return markSeen(d.File(SeenFile), l.Seq)
}

// NormalizeSerials returns serials in the spelling licenses carry
// (license.NormalizeSerial: a serial typed in lower case, without dashes or
// with spaces is the same serial), so a revocation always matches the
// license_serial claim of the tokens bound to it.
func NormalizeSerials(serials []string) []string {
	out := make([]string, len(serials))
	for i, s := range serials {
		out[i], _ = license.NormalizeSerial(s)
	}
	return out
}

// Revoke adds jtis and license serials to the revocation list, signing a new
// list with a higher sequence number. Serials are normalised first
// ([NormalizeSerials]). It returns the list in force after
// the call (unchanged when every entry was already listed).
func (d *Dir) Revoke(s *token.Signer, jtis, serials []string) (*token.RevocationList, error) {
	unlock, err := d.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	ring, st, err := d.Keyring()
	if err != nil {
		return nil, err
	}
	cur, err := d.Revocations(ring, st.Issuer)
	if err != nil {
		return nil, err
	}
	next, changed := cur.Next(st.Issuer, jtis, NormalizeSerials(serials), d.now())
	if !changed && cur != nil {
		return cur, nil
	}
	if err := d.writeRevocations(s, next); err != nil {
		return nil, err
	}
	return next, nil
}
