package license

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/airseal/airseal/internal/atomicfile"
	"github.com/airseal/airseal/internal/strictjson"
)

// StateLimit is the largest clock-state file read (docs/spec/clock-state-v1.md).
const StateLimit = 64 << 10

// StateStep is how far newest_seen must move forward before [Check] writes
// the clock state (docs/spec/clock-state-v1.md, Writing). A change of the
// revocation floor is written whatever the step. The floor it leaves behind
// lags the clock by less than StateStep, far less than DefaultSkew, so a
// rollback the skew would not tolerate is still refused.
const StateStep = time.Minute

// ErrNotState means a file given as the clock state is not one.
var ErrNotState = errors.New("not an airseal clock-state file")

// State is what a verifier remembers between runs (clock-state-v1).
type State struct {
	// NewestSeen is the newest trusted time seen on this machine.
	NewestSeen time.Time
	// RevocationFloor is the highest revocation list sequence whose
	// signature verified, across all of the vendor's keys.
	RevocationFloor uint64
}

// StateStore loads and saves the clock state.
type StateStore interface {
	// Load returns the stored state; a store that holds nothing yet
	// returns the zero State and no error.
	Load() (State, error)
	// Save stores st, replacing what was stored.
	Save(st State) error
}

// StateFile is a StateStore kept in one file (clock-state-v1), read bounded
// by StateLimit and replaced atomically.
type StateFile struct {
	// Path is the state file.
	Path string
}

type stateJSON struct {
	Version    int       `json:"version"`
	NewestSeen time.Time `json:"newest_seen"`
	// RevocationFloor is the one sequence floor.
	RevocationFloor uint64 `json:"revocation_floor"`
	// RevocationSequence is the per-key map older verify builds wrote; its
	// highest value is read as the floor.
	RevocationSequence map[string]uint64 `json:"revocation_sequence,omitempty"`
}

// Load reads the state file. A missing file is the zero State. A file that
// is not a state file (no JSON object with "version") is refused with
// ErrNotState; a state file that is damaged is refused with advice.
func (f StateFile) Load() (State, error) {
	// Stat before opening: opening a FIFO for reading would wait for a
	// writer (clock-state-v1: a path that is not a regular file is refused
	// before it is opened).
	fi, err := os.Stat(f.Path)
	if errors.Is(err, os.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return State{}, err
	}
	if !fi.Mode().IsRegular() {
		return State{}, fmt.Errorf("%s: %w (not a regular file); give the path of the state file the verifier writes", f.Path, ErrNotState)
	}
	if fi.Size() > StateLimit {
		return State{}, fmt.Errorf("%s: %w (larger than its 64 KiB limit); give the path of the state file the verifier writes", f.Path, ErrNotState)
	}
	fh, err := os.Open(f.Path)
	if err != nil {
		return State{}, err
	}
	defer fh.Close()
	if fi, err = fh.Stat(); err != nil {
		return State{}, err
	}
	if !fi.Mode().IsRegular() {
		return State{}, fmt.Errorf("%s: %w (not a regular file); give the path of the state file the verifier writes", f.Path, ErrNotState)
	}
	data, err := io.ReadAll(io.LimitReader(fh, StateLimit+1))
	if err != nil {
		return State{}, err
	}
	if len(data) > StateLimit {
		return State{}, fmt.Errorf("%s: %w (larger than its 64 KiB limit); give the path of the state file the verifier writes", f.Path, ErrNotState)
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(data, &probe) != nil || probe["version"] == nil {
		return State{}, fmt.Errorf("%s: %w; give the path of the state file the verifier writes", f.Path, ErrNotState)
	}
	var s stateJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := strictjson.CheckFields(data, &s, strictjson.FieldsOptions{AllowUnknown: true}); err != nil {
		return State{}, fmt.Errorf("state file %s is damaged (%v); delete it (the signed times still apply)", f.Path, err)
	}
	if err := dec.Decode(&s); err != nil || s.Version != 1 {
		return State{}, fmt.Errorf("state file %s is damaged; delete it (the signed times still apply)", f.Path)
	}
	st := State{NewestSeen: s.NewestSeen, RevocationFloor: s.RevocationFloor}
	for _, n := range s.RevocationSequence {
		st.RevocationFloor = max(st.RevocationFloor, n)
	}
	return st, nil
}

// Save writes st atomically, creating the directory.
func (f StateFile) Save(st State) error {
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(stateJSON{Version: 1, NewestSeen: st.NewestSeen.UTC(), RevocationFloor: st.RevocationFloor}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(f.Path, append(data, '\n'), 0o644)
}

// DefaultStatePath is the clock-state file shared by every airseal tool on
// a machine (verify, bundle apply --license), so that the clock floor and
// the revocation sequence floor are one per machine:
// /var/lib/airseal/verify.state for root, else
// $XDG_STATE_HOME/airseal/verify.state (~/.local/state/airseal/verify.state;
// the temporary directory when no home is known). A vendor embedding
// pkg/license may use it to share that floor with the tools.
func DefaultStatePath() string {
	if os.Geteuid() == 0 {
		return "/var/lib/airseal/verify.state"
	}
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return filepath.Join(os.TempDir(), "airseal-verify.state")
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "airseal", "verify.state")
}
