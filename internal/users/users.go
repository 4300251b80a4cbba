// Package users holds the license server's people: a name, a role and an
// argon2id password hash.
//
// Roles: admin (everything), integration (opens sessions for others through
// the API), device (takes a seat for itself), viewer (read-only console).
//
// # Security
//
// Passwords are hashed with argon2id (RFC 9106) with Time=3, Memory=64 MiB,
// Threads=2, a 16-byte random salt and a 32-byte key, stored as a PHC string
// ($argon2id$v=19$m=65536,t=3,p=2$salt$hash); verification compares in
// constant time and refuses parameters above the limits so a stored hash
// cannot make a login cost unbounded memory. There is no default password:
// InitAdmin makes a one-time random password and marks the user MustChange.
// User names are checked (letters, digits, . _ -, 1–64) before they are
// stored or printed. Hashes are never part of String or the listing.
package users

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/airseal/airseal/internal/atomicfile"
	"github.com/airseal/airseal/internal/fileio"
)

// Role is what a user may do.
type Role string

// The roles.
const (
	Admin       Role = "admin"
	Integration Role = "integration"
	Device      Role = "device"
	Viewer      Role = "viewer"
)

// ParseRole checks a role name from outside.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case Admin, Integration, Device, Viewer:
		return r, nil
	}
	return "", fmt.Errorf("role %q unknown (hint: admin, integration, device or viewer)", strings.ToValidUTF8(s, "?"))
}

// Argon2id parameters (see the package Security section).
// They are variables only so tests can run with cheaper ones.
var (
	argonTime    uint32 = 3
	argonMemory  uint32 = 64 * 1024
	argonThreads uint8  = 2
)

const (
	argonKeyLen = 32
	saltLen     = 16
	// MinPassword is the shortest password accepted.
	MinPassword = 10
)

// User is one account. Hash is a PHC string.
type User struct {
	Name       string `json:"name"`
	Role       Role   `json:"role"`
	Hash       string `json:"hash"`
	MustChange bool   `json:"must_change,omitempty"`
}

// Hash returns the PHC string for password.
func Hash(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	k := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	e := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads, e.EncodeToString(salt), e.EncodeToString(k)), nil
}

// Verify reports whether password matches the PHC string.
func Verify(phc, password string) (bool, error) {
	p := strings.Split(phc, "$")
	if len(p) != 6 || p[1] != "argon2id" || p[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return false, errors.New("stored hash is not an argon2id PHC string")
	}
	var m, t uint32
	var th uint8
	if _, err := fmt.Sscanf(p[3], "m=%d,t=%d,p=%d", &m, &t, &th); err != nil {
		return false, errors.New("stored hash parameters malformed")
	}
	if m == 0 || m > 256*1024 || t == 0 || t > 10 || th == 0 || th > 16 {
		return false, errors.New("stored hash parameters out of bounds")
	}
	e := base64.RawStdEncoding
	salt, err1 := e.DecodeString(p[4])
	want, err2 := e.DecodeString(p[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(want) < 16 || len(want) > 64 {
		return false, errors.New("stored hash salt or key malformed")
	}
	got := argon2.IDKey([]byte(password), salt, t, m, th, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// CheckName checks a user name from outside.
func CheckName(name string) error {
	if len(name) == 0 || len(name) > 64 {
		return errors.New("user name must be 1 to 64 characters")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("user name %q: only letters, digits, '.', '_' and '-'", strings.ToValidUTF8(name, "?"))
		}
	}
	return nil
}

// passwordAlphabet leaves out look-alike characters (0 O 1 l I o).
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// passwordLen characters of passwordAlphabet carry 20·log2(56) ≈ 116 bits.
const passwordLen = 20

// RandomPassword returns a 20-character random password (about 116 bits),
// each character uniform over a 56-character alphabet.
func RandomPassword() (string, error) { return randomPassword(rand.Reader) }

// randomPassword draws from r by rejection sampling: a byte at or above
// the largest multiple of len(passwordAlphabet) that fits in a byte (224)
// is thrown away, so every character is equally likely (byte % 56 alone
// would favour the first 32 characters).
func randomPassword(r io.Reader) (string, error) {
	const n = len(passwordAlphabet)
	const accept = 256 - 256%n
	out := make([]byte, 0, passwordLen)
	buf := make([]byte, 32)
	for len(out) < passwordLen {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("random password: %w", err)
		}
		for _, c := range buf {
			if int(c) < accept && len(out) < passwordLen {
				out = append(out, passwordAlphabet[int(c)%n])
			}
		}
	}
	return string(out), nil
}

// ErrNotFound is returned for an unknown user.
var ErrNotFound = errors.New("no such user (hint: license-server user list)")

// ErrMustChange is returned by Login when the password is right but must be
// changed before anything else.
var ErrMustChange = errors.New("password must be changed at first login")

// Store keeps users. Get returns a copy.
type Store interface {
	Get(name string) (User, error)
	Put(u User) error
	Delete(name string) error
	List() ([]User, error)
}

// Memory is an in-memory Store, safe for concurrent use.
type Memory struct {
	mu sync.Mutex
	m  map[string]User
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{m: map[string]User{}} }

// Get implements Store.
func (s *Memory) Get(name string) (User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.m[name]
	if !ok {
		return User{}, ErrNotFound
	}
	return u, nil
}

func (s *Memory) get(name string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.m[name]
	return u, ok
}

// Put implements Store.
func (s *Memory) Put(u User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[u.Name] = u
	return nil
}

// Delete implements Store.
func (s *Memory) Delete(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[name]; !ok {
		return ErrNotFound
	}
	delete(s.m, name)
	return nil
}

// List implements Store, sorted by name.
func (s *Memory) List() ([]User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.m))
	for _, u := range s.m {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// File is a Store kept in a JSON file (mode 0600, atomic writes).
//
// A File follows changes made to its file by another process (the
// `license-server user add|passwd|remove` commands beside a running
// server): Get, List, Put and Delete look at the file's size, time and
// inode at most once every CheckEvery and read it again when they changed,
// so a user added, removed or given a new password takes effect within
// about a second, without a restart. A file changed into something that
// does not load (malformed, too large) keeps the users in force; Err
// reports why. A file that disappears is an empty store, as at OpenFile.
type File struct {
	Path string
	// CheckEvery is the least time between two looks at the file
	// (0: DefaultCheckEvery; negative: never, the file is read once).
	CheckEvery time.Duration
	mem        *Memory
	mu         sync.Mutex // guards the fields below and writes
	stamp      string     // the file's size, time and inode when last read
	checked    time.Time
	loadErr    error
}

// DefaultCheckEvery is how often a File looks for changes by default.
const DefaultCheckEvery = time.Second

// LimitFile is the largest users file OpenFile reads (about 25,000 users).
const LimitFile = 4 << 20

// OpenFile loads path (a missing file is an empty store). The file is read
// with internal/fileio: a directory is refused, and a file over LimitFile is
// refused with a *fileio.TooLargeError before more than LimitFile+1 bytes
// are read.
func OpenFile(path string) (*File, error) {
	if fileio.IsStdio(path) {
		return nil, errors.New(`users file "-": standard input cannot be a store (hint: give the path of users.json)`)
	}
	f := &File{Path: path, mem: NewMemory()}
	m, stamp, err := readFile(path)
	if err != nil {
		return nil, err
	}
	f.mem.m, f.stamp, f.checked = m, stamp, time.Now()
	return f, nil
}

// fileStamp describes path's current version ("" when it is missing).
func fileStamp(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	return fmt.Sprint(fi.Size(), fi.ModTime().UnixNano(), ino)
}

// readFile reads and checks the users file; a missing file is empty.
func readFile(path string) (map[string]User, string, error) {
	stamp := fileStamp(path)
	m := map[string]User{}
	b, err := fileio.ReadRegular(nil, path, LimitFile, "users file")
	if errors.Is(err, os.ErrNotExist) {
		return m, "", nil
	}
	if err != nil {
		return nil, stamp, err
	}
	var us []User
	if err := json.Unmarshal(b, &us); err != nil {
		return nil, stamp, fmt.Errorf("%s: %v (hint: restore the file from a backup)", path, err)
	}
	for i, u := range us {
		if err := CheckName(u.Name); err != nil {
			return nil, stamp, fmt.Errorf("%s: user %d: %v", path, i+1, err)
		}
		if _, err := ParseRole(string(u.Role)); err != nil {
			return nil, stamp, fmt.Errorf("%s: user %s: %v", path, u.Name, err)
		}
		if _, dup := m[u.Name]; dup {
			return nil, stamp, fmt.Errorf("%s: user %s is listed twice (hint: remove one of them)", path, u.Name)
		}
		m[u.Name] = u
	}
	return m, stamp, nil
}

// refresh reads the file again when it changed since it was last read
// (looked at most once every CheckEvery). The caller holds f.mu.
func (f *File) refreshLocked(force bool) {
	every := f.CheckEvery
	if every == 0 {
		every = DefaultCheckEvery
	}
	now := time.Now()
	if !force && (every < 0 || now.Sub(f.checked) < every) {
		return
	}
	f.checked = now
	stamp := fileStamp(f.Path)
	if stamp == f.stamp {
		return
	}
	m, stamp, err := readFile(f.Path)
	if err != nil {
		f.loadErr = err
		f.stamp = stamp // not again until it changes once more
		return
	}
	f.loadErr = nil
	f.stamp = stamp
	f.mem.mu.Lock()
	f.mem.m = m
	f.mem.mu.Unlock()
}

func (f *File) refresh() {
	f.mu.Lock()
	f.refreshLocked(false)
	f.mu.Unlock()
}

// Reload reads the file now if it changed, and returns the error of the
// last read (nil when the users in force are the file's).
func (f *File) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshLocked(true)
	return f.loadErr
}

// Err returns why the file's last change was not loaded (nil when the
// users in force are the file's).
func (f *File) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.loadErr
}

// Len returns how many users there are.
func (f *File) Len() int {
	f.refresh()
	f.mem.mu.Lock()
	defer f.mem.mu.Unlock()
	return len(f.mem.m)
}

func (f *File) save() error {
	us, _ := f.mem.List()
	b, err := json.MarshalIndent(us, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(f.Path, append(b, '\n'), 0o600); err != nil {
		return err
	}
	f.stamp, f.checked = fileStamp(f.Path), time.Now()
	return nil
}

// Get implements Store.
func (f *File) Get(name string) (User, error) {
	f.refresh()
	return f.mem.Get(name)
}

// List implements Store.
func (f *File) List() ([]User, error) {
	f.refresh()
	return f.mem.List()
}

// Put implements Store. The file is read again first, so a change made
// by another process meanwhile is kept.
func (f *File) Put(u User) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshLocked(true)
	old, had := f.mem.get(u.Name)
	_ = f.mem.Put(u)
	if err := f.save(); err != nil {
		if had {
			_ = f.mem.Put(old)
		} else {
			_ = f.mem.Delete(u.Name)
		}
		return err
	}
	return nil
}

// Delete implements Store.
func (f *File) Delete(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refreshLocked(true)
	old, err := f.mem.Get(name)
	if err != nil {
		return err
	}
	_ = f.mem.Delete(name)
	if err := f.save(); err != nil {
		_ = f.mem.Put(old)
		return err
	}
	return nil
}

// InitAdmin creates user name as admin with a one-time random password
// (returned, to be printed once) flagged MustChange.
func InitAdmin(s Store, name string) (string, error) {
	if err := CheckName(name); err != nil {
		return "", err
	}
	if _, err := s.Get(name); err == nil {
		return "", fmt.Errorf("user %s exists (hint: license-server user passwd %s)", name, name)
	}
	pw, err := RandomPassword()
	if err != nil {
		return "", err
	}
	h, err := Hash(pw)
	if err != nil {
		return "", err
	}
	return pw, s.Put(User{Name: name, Role: Admin, Hash: h, MustChange: true})
}

// Add creates a user.
func Add(s Store, name string, role Role, password string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return err
	}
	if len(password) < MinPassword {
		return fmt.Errorf("password shorter than %d characters", MinPassword)
	}
	if _, err := s.Get(name); err == nil {
		return fmt.Errorf("user %s exists", name)
	}
	h, err := Hash(password)
	if err != nil {
		return err
	}
	return s.Put(User{Name: name, Role: role, Hash: h})
}

// Passwd sets a new password and clears MustChange.
func Passwd(s Store, name, password string) error {
	u, err := s.Get(name)
	if err != nil {
		return err
	}
	if len(password) < MinPassword {
		return fmt.Errorf("password shorter than %d characters", MinPassword)
	}
	if ok, _ := Verify(u.Hash, password); ok && u.MustChange {
		return errors.New("the new password must differ from the one-time password")
	}
	if u.Hash, err = Hash(password); err != nil {
		return err
	}
	u.MustChange = false
	return s.Put(u)
}

// Remove deletes a user; the last admin cannot be removed.
func Remove(s Store, name string) error {
	u, err := s.Get(name)
	if err != nil {
		return err
	}
	if u.Role == Admin {
		all, err := s.List()
		if err != nil {
			return err
		}
		n := 0
		for _, x := range all {
			if x.Role == Admin {
				n++
			}
		}
		if n <= 1 {
			return errors.New("cannot remove the last admin (hint: add another admin first)")
		}
	}
	return s.Delete(name)
}

// Login checks name and password. A wrong name or password gives the same
// error. With the right password and MustChange set it returns the user
// and ErrMustChange.
func Login(s Store, name, password string) (User, error) {
	bad := errors.New("wrong user name or password")
	u, err := s.Get(name)
	if err != nil {
		_, _ = Verify(dummyHash, password) // same cost for unknown users
		return User{}, bad
	}
	ok, err := Verify(u.Hash, password)
	if err != nil || !ok {
		return User{}, bad
	}
	u.Hash = ""
	if u.MustChange {
		return u, ErrMustChange
	}
	return u, nil
}

var dummyHash = func() string { h, _ := Hash("dummy-password"); return h }()
