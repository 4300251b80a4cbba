package bundle

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/internal/strictjson"
	"github.com/airseal/airseal/pkg/keys"
)

// Format constants. See docs/spec/bundle-v1.md.
const (
	// FormatName is the value of Manifest.Format.
	FormatName = "airseal-bundle-v1"
	// PreambleSize is the fixed size of the unsigned preamble, signature
	// included.
	PreambleSize = 128
	// MaxManifestSize bounds the manifest a reader accepts.
	MaxManifestSize = 16 << 20
	// MaxFiles bounds the number of manifest entries.
	MaxFiles = 1 << 20
	// MaxWindow is the largest zstd window a reader accepts.
	MaxWindow = 8 << 20
	// MinChunkSize and MaxChunkSize bound Payload.ChunkSize.
	MinChunkSize = 64 << 10
	MaxChunkSize = 16 << 20
	// MaxLicenseSize bounds one carried license file.
	MaxLicenseSize = 64 << 10
	// MetaDir is the directory inside each installed release that holds the
	// signed header and carried licenses. Bundles may not contain it.
	MetaDir = ".airseal"

	magic        = "ASBUNDLE"
	sigContext   = "airseal-bundle-v1\x00"
	formatNumber = 1
)

// Mode is a file's permission bits (0 to 0777), written in JSON as an octal
// string such as "0755".
type Mode uint32

// MarshalJSON writes m as a 4-digit octal string.
func (m Mode) MarshalJSON() ([]byte, error) { return json.Marshal(fmt.Sprintf("%04o", uint32(m))) }

// UnmarshalJSON reads an octal string.
func (m *Mode) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("mode: want an octal string like \"0644\": %w", err)
	}
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || len(s) != 4 {
		return fmt.Errorf("mode %q: want 4 octal digits like \"0644\"", s)
	}
	*m = Mode(v)
	return nil
}

// File types in a manifest.
const (
	TypeFile    = "file"
	TypeDir     = "dir"
	TypeSymlink = "symlink"
)

// File is one entry of the release tree.
type File struct {
	Path   string `json:"path"`             // slash-separated, relative, clean
	Type   string `json:"type"`             // "file", "dir" or "symlink"
	Mode   Mode   `json:"mode"`             // permission bits; 0777 for symlinks
	Size   int64  `json:"size,omitempty"`   // bytes, files only
	SHA256 string `json:"sha256,omitempty"` // hex, files only
	Target string `json:"target,omitempty"` // symlinks only; relative, inside the release
}

// Hook phases.
const (
	// PhasePreSwitch hooks run in the staged, verified release before it
	// becomes current; a failure aborts the apply with nothing switched.
	PhasePreSwitch = "pre-switch"
	// PhasePostSwitch hooks run after the switch; a failure is reported
	// (exit code) but the new release stays current.
	PhasePostSwitch = "post-switch"
)

// Hook is a program from the release run during apply.
type Hook struct {
	Phase   string `json:"phase"`   // PhasePreSwitch or PhasePostSwitch
	Path    string `json:"path"`    // an executable file of the release
	Timeout int    `json:"timeout"` // seconds, 1 to 3600
}

// License is a license file carried by the bundle; apply stores it in
// DIR/releases/VERSION/.airseal/licenses/NAME.
type License struct {
	Name string `json:"name"`
	Data string `json:"data"`
}

// Payload describes the compressed payload.
type Payload struct {
	Compression     string   `json:"compression"` // "zstd"
	TarSize         int64    `json:"tar_size"`    // decompressed bytes
	Size            int64    `json:"size"`        // compressed bytes over all volumes
	ChunkSize       int64    `json:"chunk_size"`
	Chunks          []string `json:"chunks"` // hex SHA-256 of each compressed chunk
	Volumes         int      `json:"volumes"`
	ChunksPerVolume int      `json:"chunks_per_volume"`
}

// Manifest is the signed description of a release.
type Manifest struct {
	Format          string    `json:"format"`
	Product         string    `json:"product"`
	Version         string    `json:"version"`
	ReleaseDate     time.Time `json:"release_date"`
	FromVersions    []string  `json:"from_versions,omitempty"`
	Downgrade       bool      `json:"downgrade,omitempty"`
	Files           []File    `json:"files"`
	Hooks           []Hook    `json:"hooks,omitempty"`
	Licenses        []License `json:"licenses,omitempty"`
	TrustKeys       []string  `json:"trust_keys,omitempty"`
	RevokedKeys     []string  `json:"revoked_keys,omitempty"`
	RevokedLicenses []string  `json:"revoked_licenses,omitempty"`
	Payload         Payload   `json:"payload"`
}

// Header is a parsed volume header: the preamble, the signature and the raw
// manifest bytes, not yet verified.
type Header struct {
	VolumeIndex int     // 0-based, from the preamble (unsigned; checked against the manifest)
	VolumeCount int     // from the preamble
	KeyID       keys.ID // signing key
	Signature   []byte
	Manifest    []byte // the signed bytes
	Area        int64  // bytes reserved for the manifest (manifest + zero padding)
}

// PayloadOffset is where this volume's first chunk starts.
func (h *Header) PayloadOffset() int64 { return PreambleSize + h.Area }

// ReadHeader parses a volume header from r, reading exactly
// h.PayloadOffset() bytes. Nothing but the fixed preamble is interpreted;
// the manifest stays raw bytes until [Header.Verify].
func ReadHeader(r io.Reader) (*Header, error) {
	var pre [PreambleSize]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("%w: header: %v (the file is shorter than the %d-byte preamble)", ErrMalformed, err, PreambleSize)
	}
	if string(pre[0:8]) != magic {
		return nil, fmt.Errorf("%w: header: magic is %q, want %q (not a bundle, or the first bytes are damaged)", ErrMalformed, pre[0:8], magic)
	}
	if v := binary.BigEndian.Uint16(pre[8:10]); v != formatNumber {
		return nil, fmt.Errorf("%w: header: format %d, this program reads format %d (use a newer bundle)", ErrMalformed, v, formatNumber)
	}
	h := &Header{
		VolumeIndex: int(binary.BigEndian.Uint16(pre[10:12])),
		VolumeCount: int(binary.BigEndian.Uint16(pre[12:14])),
	}
	if !allZero(pre[14:16]) || !allZero(pre[40:64]) {
		return nil, fmt.Errorf("%w: header: reserved preamble bytes are not zero", ErrMalformed)
	}
	if h.VolumeCount < 1 || h.VolumeIndex >= h.VolumeCount {
		return nil, fmt.Errorf("%w: header: volume %d of %d", ErrMalformed, h.VolumeIndex+1, h.VolumeCount)
	}
	id, err := keys.ParseID(string(pre[16:32]))
	if err != nil {
		return nil, fmt.Errorf("%w: header: key ID: %v", ErrMalformed, err)
	}
	h.KeyID = id
	mlen := int64(binary.BigEndian.Uint32(pre[32:36]))
	h.Area = int64(binary.BigEndian.Uint32(pre[36:40]))
	if mlen == 0 || mlen > MaxManifestSize || h.Area < mlen || h.Area > MaxManifestSize+(1<<20) {
		return nil, fmt.Errorf("%w: header: manifest length %d / reserved %d out of range (max %d)", ErrMalformed, mlen, h.Area, MaxManifestSize)
	}
	h.Signature = append([]byte(nil), pre[64:128]...)
	// Read without trusting mlen for the allocation: a short file must not
	// cost 16 MiB.
	var mb bytes.Buffer
	if n, err := mb.ReadFrom(io.LimitReader(r, mlen)); err != nil || n != mlen {
		return nil, fmt.Errorf("%w: header: manifest: %d of %d bytes present (file truncated)", ErrMalformed, n, mlen)
	}
	h.Manifest = mb.Bytes()
	pad := h.Area - mlen
	buf := make([]byte, 32<<10)
	for pad > 0 {
		n := min(pad, int64(len(buf)))
		if _, err := io.ReadFull(r, buf[:n]); err != nil {
			return nil, fmt.Errorf("%w: header: padding: %v (file truncated)", ErrMalformed, err)
		}
		if !allZero(buf[:n]) {
			return nil, fmt.Errorf("%w: header: padding after the manifest is not zero", ErrMalformed)
		}
		pad -= n
	}
	return h, nil
}

// MarshalPreamble returns the 128-byte preamble for h.
func (h *Header) marshalPreamble() []byte {
	pre := make([]byte, PreambleSize)
	copy(pre, magic)
	binary.BigEndian.PutUint16(pre[8:], formatNumber)
	binary.BigEndian.PutUint16(pre[10:], uint16(h.VolumeIndex))
	binary.BigEndian.PutUint16(pre[12:], uint16(h.VolumeCount))
	copy(pre[16:32], h.KeyID)
	binary.BigEndian.PutUint32(pre[32:], uint32(len(h.Manifest)))
	binary.BigEndian.PutUint32(pre[36:], uint32(h.Area))
	copy(pre[64:], h.Signature)
	return pre
}

// Marshal returns the header bytes without padding (Area = len(Manifest)),
// the form stored in an installed release.
func (h *Header) Marshal() []byte {
	c := *h
	c.Area = int64(len(h.Manifest))
	return append(c.marshalPreamble(), h.Manifest...)
}

func signedMessage(manifest []byte) []byte {
	return append([]byte(sigContext), manifest...)
}

// Verify checks the signature over the manifest with ring and returns the
// decoded, validated manifest. Keys whose IDs are in revoked are refused.
// Errors match ErrUnknownKey, ErrBadSignature, ErrMalformed or ErrUnsafe.
func (h *Header) Verify(ring *keys.Keyring, revoked map[keys.ID]bool) (*Manifest, error) {
	if revoked[h.KeyID] {
		return nil, fmt.Errorf("%w: %w: key %s was revoked by a release applied to this target", ErrUnknownKey, ErrRevokedKey, h.KeyID)
	}
	k, ok := ring.Get(h.KeyID)
	if !ok {
		return nil, fmt.Errorf("%w: key %s is not trusted (trusted: %s)", ErrUnknownKey, h.KeyID, idList(ring))
	}
	if !k.Verify(signedMessage(h.Manifest), h.Signature) {
		return nil, fmt.Errorf("%w: the manifest signature does not verify with key %s (the header was altered or damaged)", ErrBadSignature, h.KeyID)
	}
	m, err := ParseManifest(h.Manifest)
	if err != nil {
		return nil, err
	}
	if slices.Contains(m.RevokedKeys, string(h.KeyID)) {
		// Current, such a release would revoke its own key: refused at
		// pack time, and here.
		return nil, fmt.Errorf("%w: manifest: revoked_keys lists %s, the key that signed it", ErrMalformed, h.KeyID)
	}
	if h.VolumeCount != m.Payload.Volumes {
		return nil, fmt.Errorf("%w: preamble says %d volumes, manifest says %d", ErrVolume, h.VolumeCount, m.Payload.Volumes)
	}
	return m, nil
}

func idList(ring *keys.Keyring) string {
	ids := ring.IDs()
	if len(ids) == 0 {
		return "none"
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return strings.Join(s, ", ")
}

// ParseManifest decodes and validates manifest JSON. It does not check any
// signature: call it only on verified bytes, or for inspection.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("%w: manifest is %d bytes, limit %d", ErrMalformed, len(data), MaxManifestSize)
	}
	var m Manifest
	// No member twice, in another case or unknown: encoding/json would
	// take "Files" for "files" and keep the last of two, another reader
	// of the same signed manifest would not.
	if err := strictjson.CheckFields(data, &m, strictjson.FieldsOptions{}); err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrMalformed, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: manifest: data after the JSON object", ErrMalformed)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks every rule of the format that does not need the payload.
// Errors match ErrMalformed or ErrUnsafe.
func (m *Manifest) Validate() error {
	if err := m.validateRelease(); err != nil {
		return err
	}
	return m.validatePayload()
}

// validateRelease checks everything but the payload description.
func (m *Manifest) validateRelease() error {
	bad := func(f string, a ...any) error {
		return fmt.Errorf("%w: manifest: "+f, append([]any{ErrMalformed}, a...)...)
	}
	unsafe := func(f string, a ...any) error {
		return fmt.Errorf("%w: manifest: "+f, append([]any{ErrUnsafe}, a...)...)
	}
	if m.Format != FormatName {
		return bad("format %q, want %q", m.Format, FormatName)
	}
	if err := checkText("product", m.Product); err != nil {
		return bad("%v", err)
	}
	if err := checkName("version", m.Version); err != nil {
		return bad("%v", err)
	}
	for _, v := range m.FromVersions {
		if err := checkName("from_versions", v); err != nil {
			return bad("%v", err)
		}
	}
	if m.ReleaseDate.IsZero() {
		return bad("release_date is missing")
	}
	if len(m.Files) > MaxFiles {
		return unsafe("%d entries, limit %d", len(m.Files), MaxFiles)
	}
	kinds := make(map[string]string, len(m.Files))
	folded := make(map[string]string, len(m.Files))
	for i, f := range m.Files {
		if err := checkPath(f.Path); err != nil {
			return unsafe("files[%d]: %v", i, err)
		}
		if kinds[f.Path] != "" {
			return unsafe("files[%d]: %q appears twice", i, f.Path)
		}
		if prev, ok := folded[strings.ToLower(f.Path)]; ok {
			return unsafe("files[%d]: %q and %q differ only in case", i, prev, f.Path)
		}
		if d := path.Dir(f.Path); d != "." && kinds[d] != TypeDir {
			return unsafe("files[%d]: %q: its parent %q is not a directory listed before it", i, f.Path, d)
		}
		if f.Mode > 0o777 {
			return unsafe("files[%d]: %q: mode %04o has setuid/setgid/sticky bits; only permission bits are allowed", i, f.Path, uint32(f.Mode))
		}
		switch f.Type {
		case TypeFile:
			if f.Size < 0 || f.Size > 1<<50 {
				return unsafe("files[%d]: %q: size %d out of range", i, f.Path, f.Size)
			}
			if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != 32 {
				return bad("files[%d]: %q: sha256 must be 64 hex digits", i, f.Path)
			}
			if f.Target != "" {
				return bad("files[%d]: %q: a file has no target", i, f.Path)
			}
		case TypeDir:
			if f.Size != 0 || f.SHA256 != "" || f.Target != "" {
				return bad("files[%d]: %q: a directory has no size, sha256 or target", i, f.Path)
			}
		case TypeSymlink:
			if f.Size != 0 || f.SHA256 != "" || f.Mode != 0o777 {
				return bad("files[%d]: %q: a symlink has mode 0777 and no size or sha256", i, f.Path)
			}
			if err := checkLinkTarget(f.Path, f.Target); err != nil {
				return unsafe("files[%d]: %v", i, err)
			}
		default:
			return unsafe("files[%d]: %q: type %q is not allowed (only file, dir, symlink: no devices, fifos or hard links)", i, f.Path, f.Type)
		}
		kinds[f.Path] = f.Type
		folded[strings.ToLower(f.Path)] = f.Path
	}
	for i, h := range m.Hooks {
		if h.Phase != PhasePreSwitch && h.Phase != PhasePostSwitch {
			return bad("hooks[%d]: phase %q, want %q or %q", i, h.Phase, PhasePreSwitch, PhasePostSwitch)
		}
		if kinds[h.Path] != TypeFile {
			return bad("hooks[%d]: %q is not a file of the release", i, h.Path)
		}
		if h.Timeout < 1 || h.Timeout > 3600 {
			return bad("hooks[%d]: timeout %d s out of range 1..3600", i, h.Timeout)
		}
	}
	lnames := map[string]bool{}
	for i, l := range m.Licenses {
		if err := checkName("licenses name", l.Name); err != nil || lnames[l.Name] {
			return bad("licenses[%d]: name %q must be a unique plain file name", i, l.Name)
		}
		lnames[l.Name] = true
		if len(l.Data) > MaxLicenseSize {
			return unsafe("licenses[%d]: %d bytes, limit %d", i, len(l.Data), MaxLicenseSize)
		}
	}
	for i, k := range m.TrustKeys {
		if _, err := keys.ParsePublic([]byte(k)); err != nil {
			return bad("trust_keys[%d]: %v", i, err)
		}
	}
	for i, id := range m.RevokedKeys {
		if _, err := keys.ParseID(id); err != nil {
			return bad("revoked_keys[%d]: %v", i, err)
		}
	}
	for i, s := range m.RevokedLicenses {
		if err := checkText("revoked_licenses", s); err != nil {
			return bad("revoked_licenses[%d]: %v", i, err)
		}
	}
	return nil
}

// validatePayload checks the payload description against the files.
func (m *Manifest) validatePayload() error {
	bad := func(f string, a ...any) error {
		return fmt.Errorf("%w: manifest: "+f, append([]any{ErrMalformed}, a...)...)
	}
	unsafe := func(f string, a ...any) error {
		return fmt.Errorf("%w: manifest: "+f, append([]any{ErrUnsafe}, a...)...)
	}
	var total int64
	for _, f := range m.Files {
		total += f.Size
	}
	p := m.Payload
	if p.Compression != "zstd" {
		return bad("payload.compression %q, want \"zstd\"", p.Compression)
	}
	if p.ChunkSize < MinChunkSize || p.ChunkSize > MaxChunkSize {
		return bad("payload.chunk_size %d out of range %d..%d", p.ChunkSize, MinChunkSize, MaxChunkSize)
	}
	if p.Size < 1 || p.TarSize < 1024 || p.TarSize < total {
		return bad("payload sizes: size %d, tar_size %d, files %d", p.Size, p.TarSize, total)
	}
	// tar overhead is at most a few headers per entry plus block padding.
	if lim := total + int64(len(m.Files)+4)*4096; p.TarSize > lim {
		return unsafe("payload.tar_size %d exceeds what the files need (%d)", p.TarSize, lim)
	}
	want := (p.Size + p.ChunkSize - 1) / p.ChunkSize
	if int64(len(p.Chunks)) != want {
		return bad("payload has %d chunk hashes, size %d needs %d", len(p.Chunks), p.Size, want)
	}
	for i, c := range p.Chunks {
		if b, err := hex.DecodeString(c); err != nil || len(b) != 32 {
			return bad("payload.chunks[%d] must be 64 hex digits", i)
		}
	}
	if p.Volumes < 1 || p.Volumes > 9999 || p.ChunksPerVolume < 1 ||
		int64(p.Volumes) != (want+int64(p.ChunksPerVolume)-1)/int64(p.ChunksPerVolume) {
		return bad("payload volumes %d with %d chunks each do not hold %d chunks", p.Volumes, p.ChunksPerVolume, want)
	}
	return nil
}

// MaxTextSize bounds a product name or license serial in bytes (the limit
// pkg/license applies to the same fields).
const MaxTextSize = safetext.MaxLen

// checkText accepts a product name or license serial under the rule
// pkg/license applies to them (internal/safetext), so that every license's
// product and serial can be named by a bundle: 1 to MaxTextSize bytes of
// valid UTF-8 without control or bidirectional formatting characters.
// Spaces are allowed ("Acme Writer"). Neither field is ever used in a file
// path.
func checkText(field, s string) error {
	if s == "" {
		return fmt.Errorf("%s must not be empty", field)
	}
	return safetext.Check(fmt.Sprintf("%s %q", field, s), s)
}

// checkName accepts a version or file name, which are used in file paths:
// 1 to 128 characters from [A-Za-z0-9._+~-], not starting with '.' or '-'.
func checkName(field, s string) error {
	if s == "" || len(s) > 128 {
		return fmt.Errorf("%s %q must be 1 to 128 characters", field, s)
	}
	if s[0] == '.' || s[0] == '-' {
		return fmt.Errorf("%s %q must not start with '.' or '-'", field, s)
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._+~-", c)) {
			return fmt.Errorf("%s %q: character %q not allowed (use letters, digits, . _ + ~ -)", field, s, c)
		}
	}
	return nil
}

func checkPath(p string) error {
	if p == "" || len(p) > 4096 {
		return fmt.Errorf("path %q: empty or longer than 4096 bytes", p)
	}
	if strings.HasPrefix(p, "/") {
		return fmt.Errorf("path %q is absolute", p)
	}
	if strings.ContainsAny(p, "\\\x00") {
		return fmt.Errorf("path %q contains a backslash or NUL", p)
	}
	if path.Clean(p) != p || p == "." {
		return fmt.Errorf("path %q is not clean", p)
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return fmt.Errorf("path %q contains \"..\"", p)
		}
	}
	if p == MetaDir || strings.HasPrefix(p, MetaDir+"/") {
		return fmt.Errorf("path %q is reserved for bundle metadata", p)
	}
	return checkChars("path", p)
}

// checkChars applies the one signed-text rule (internal/safetext) to a
// path or link target, which are printed by inspect, plan and errors:
// valid UTF-8 without control characters (C0 U+0000–U+001F, DEL U+007F,
// C1 U+0080–U+009F) or bidirectional formatting characters, so that a
// file name cannot repaint a terminal or disguise itself. No length limit
// beyond the path's own.
func checkChars(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s %q is not valid UTF-8", what, s)
	}
	for _, r := range s {
		if safetext.IsControl(r) {
			return fmt.Errorf("%s %q contains control character %U (terminal escape sequences are refused)", what, s, r)
		}
		if safetext.IsBidi(r) {
			return fmt.Errorf("%s %q contains bidirectional formatting character %U", what, s, r)
		}
	}
	return nil
}

func checkLinkTarget(p, target string) error {
	if target == "" || len(target) > 4096 || strings.ContainsAny(target, "\x00\\") {
		return fmt.Errorf("symlink %q: target %q is empty, too long or has NUL/backslash", p, target)
	}
	if err := checkChars("symlink "+strconv.Quote(p)+": target", target); err != nil {
		return err
	}
	if strings.HasPrefix(target, "/") {
		return fmt.Errorf("symlink %q points to absolute path %q, outside the release", p, target)
	}
	// Only leading "../" steps are allowed: they climb through the link's
	// parent directories, which the manifest guarantees are real
	// directories. A ".." after a name could climb out of another symlink
	// ("x" -> "." then "y" -> "x/.." would leave the release).
	rest := target
	for strings.HasPrefix(rest, "../") {
		rest = rest[3:]
	}
	// A clean remainder has no ".." left (path.Clean removes inner ones).
	if path.Clean(rest) != rest || rest == ".." {
		return fmt.Errorf("symlink %q: target %q must be clean, with '..' only as leading steps", p, target)
	}
	j := path.Join(path.Dir(p), target)
	if j == ".." || strings.HasPrefix(j, "../") {
		return fmt.Errorf("symlink %q points to %q, outside the release", p, target)
	}
	if j == MetaDir || strings.HasPrefix(j, MetaDir+"/") {
		return fmt.Errorf("symlink %q points into the reserved %s directory", p, MetaDir)
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// VolumeName returns the file name of volume i (0-based) of a bundle whose
// first volume is named base: base itself, then base.002, base.003, ...
func VolumeName(base string, i int) string {
	if i == 0 {
		return base
	}
	return fmt.Sprintf("%s.%03d", base, i+1)
}
