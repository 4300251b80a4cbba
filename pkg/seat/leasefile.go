package seat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/airseal/airseal/internal/atomicfile"
	"github.com/airseal/airseal/internal/fileio"
)

// LeaseFileLimit is the largest lease file read.
const LeaseFileLimit = 1 << 20

// LeaseFile keeps leases between runs of a script (cmd/seat): what
// checkout granted, so that renew and release find the lease by its
// ClientSessionID. The file is JSON, written atomically with mode 0600. It
// is a convenience, not a security boundary: everything in it is checked
// again by the server, which alone decides.
type LeaseFile struct {
	// Path is the file; a missing file holds no leases.
	Path string
}

type leaseFileJSON struct {
	Version int                  `json:"version"`
	Leases  map[string]LeaseInfo `json:"leases"`
}

// ErrNotLeaseFile means the file is not a lease file.
var ErrNotLeaseFile = errors.New("not an airseal seat lease file")

// Load returns the leases by ClientSessionID.
func (f LeaseFile) Load() (map[string]LeaseInfo, error) {
	data, err := fileio.ReadRegular(nil, f.Path, LeaseFileLimit, "lease file")
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]LeaseInfo{}, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := parseLeases(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	return m, nil
}

// parseLeases decodes a lease file's bytes.
func parseLeases(data []byte) (map[string]LeaseInfo, error) {
	var v leaseFileJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil || v.Version != 1 {
		return nil, fmt.Errorf("%w (version 1 JSON expected); move it away, the leases in it expire by themselves", ErrNotLeaseFile)
	}
	if v.Leases == nil {
		v.Leases = map[string]LeaseInfo{}
	}
	return v.Leases, nil
}

// marshalLeases encodes leases as a lease file.
func marshalLeases(leases map[string]LeaseInfo) ([]byte, error) {
	data, err := json.MarshalIndent(leaseFileJSON{Version: 1, Leases: leases}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

// Save replaces the file with leases.
func (f LeaseFile) Save(leases map[string]LeaseInfo) error {
	data, err := marshalLeases(leases)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(f.Path, data, 0o600)
}

// Put records a lease under its ClientSessionID.
func (f LeaseFile) Put(info LeaseInfo) error {
	m, err := f.Load()
	if err != nil {
		return err
	}
	m[info.ClientSessionID] = info
	return f.Save(m)
}

// Delete forgets the lease of a session.
func (f LeaseFile) Delete(sessionID string) error {
	m, err := f.Load()
	if err != nil {
		return err
	}
	if _, ok := m[sessionID]; !ok {
		return nil
	}
	delete(m, sessionID)
	return f.Save(m)
}

// Sorted returns the leases ordered by server, product and session.
func Sorted(m map[string]LeaseInfo) []LeaseInfo {
	out := make([]LeaseInfo, 0, len(m))
	for _, l := range m {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Server != b.Server {
			return a.Server < b.Server
		}
		if a.Product != b.Product {
			return a.Product < b.Product
		}
		return a.ClientSessionID < b.ClientSessionID
	})
	return out
}
