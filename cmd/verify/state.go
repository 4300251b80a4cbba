package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/airseal/airseal/internal/atomicfile"
)

// state is what verify remembers between runs to detect a clock set back.
// It is not secret and not signed: deleting it loses only the times it
// adds to the signed ones (the license's issued-at, the revocation list's
// time, an installed bundle's release date), which verify applies anyway.
type state struct {
	Version int `json:"version"`
	// NewestSeen is the newest trusted time seen on this machine: the clock
	// at the last successful run, or a newer signed time.
	NewestSeen time.Time `json:"newest_seen"`
	// RevocationSequence is the highest revocation list sequence seen,
	// per signing key ID.
	RevocationSequence map[string]uint64 `json:"revocation_sequence"`
}

// testStatePath replaces the default state path; only the test binary sets it.
var testStatePath string

// defaultStatePath is /var/lib/airseal/verify.state for root, else
// $XDG_STATE_HOME/airseal/verify.state (~/.local/state/airseal/verify.state).
func defaultStatePath() string {
	if testStatePath != "" {
		return testStatePath
	}
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

// loadState reads the state file; a missing file is an empty state. A
// damaged file is an error: silently ignoring it would let anyone reset the
// floor by writing garbage.
func loadState(path string) (*state, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &state{Version: 1}, nil
	}
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil || s.Version != 1 {
		return nil, fmt.Errorf("state file %s is damaged; delete it (the signed times still apply)", path)
	}
	return &s, nil
}

func saveState(path string, s *state) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'), 0o644)
}
