package license

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/keys"
)

// The vectors of docs/spec/clock-state-v1.md, section "Vectors".
func TestClockStateVectors(t *testing.T) {
	seen := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	dir := filepath.Join("testdata", "clockstate")
	tests := []struct {
		file  string
		want  State
		isErr func(error) bool
	}{
		{"valid.state", State{NewestSeen: seen, RevocationFloor: 7}, nil},
		{"empty.state", State{}, nil},
		{"legacy-map.state", State{NewestSeen: seen, RevocationFloor: 9}, nil},
		{"floor-and-map.state", State{NewestSeen: seen, RevocationFloor: 5}, nil},
		{"missing.state", State{}, nil},
		{"version2.state", State{}, isDamaged},
		{"damaged.state", State{}, isDamaged},
		{"duplicate.state", State{}, isDamaged},
		{"not-state.state", State{}, isNotState},
	}
	for _, tc := range tests {
		got, err := StateFile{Path: filepath.Join(dir, tc.file)}.Load()
		switch {
		case tc.isErr == nil && err != nil:
			t.Errorf("%s: %v", tc.file, err)
		case tc.isErr != nil && !tc.isErr(err):
			t.Errorf("%s: err = %v, want the spec's verdict", tc.file, err)
		case tc.isErr == nil && (!got.NewestSeen.Equal(tc.want.NewestSeen) || got.RevocationFloor != tc.want.RevocationFloor):
			t.Errorf("%s: got %+v, want %+v", tc.file, got, tc.want)
		}
	}
}

func isDamaged(err error) bool {
	return err != nil && !errors.Is(err, ErrNotState) && strings.Contains(err.Error(), "damaged")
}

func isNotState(err error) bool { return errors.Is(err, ErrNotState) }

// A directory, a FIFO and an oversized file are refused as not a state
// file, the FIFO without waiting for a writer, the big file naming the limit.
func TestClockStateNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, []byte(strings.Repeat(" ", StateLimit+1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, fifo, big} {
		done := make(chan error, 1)
		go func() { _, err := StateFile{Path: p}.Load(); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotState) {
				t.Errorf("%s: err = %v, want ErrNotState", p, err)
			}
			if p == big && !strings.Contains(err.Error(), "64 KiB") {
				t.Errorf("%s: %v does not name the 64 KiB limit", p, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Load blocked", p)
		}
	}
}

// Writers write version 1, UTC whole seconds, and no per-key map; what is
// written reads back.
func TestClockStateRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "verify.state")
	st := State{NewestSeen: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), RevocationFloor: 1<<64 - 1}
	if err := (StateFile{Path: p}).Save(st); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	want := "{\n  \"version\": 1,\n  \"newest_seen\": \"2026-03-01T12:00:00Z\",\n  \"revocation_floor\": 18446744073709551615\n}\n"
	if string(data) != want {
		t.Errorf("written state:\n%s\nwant:\n%s", data, want)
	}
	got, err := StateFile{Path: p}.Load()
	if err != nil || got != st {
		t.Fatalf("read back %+v, %v; want %+v", got, err, st)
	}
}

// The last row of the spec's floor table: a list equal to the floor is the
// same list given again and is accepted.
func TestCheckRevocationFloorEqual(t *testing.T) {
	k := testKey(t, 1)
	in := mustArmor(t, signed(t, sampleLicense(1, false), k))
	o := checkOpts(t, keys.NewKeyring(k.Public()))
	o.Revocations = [][]byte{signedList(t, k, 5)}
	for i := 0; i < 2; i++ {
		rep, err := Check(in, o)
		if err != nil || rep.State.RevocationFloor != 5 {
			t.Fatalf("run %d: floor %d, err %v; want floor 5, valid", i+1, rep.State.RevocationFloor, err)
		}
	}
}

func TestDefaultStatePath(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/x/state")
	got := DefaultStatePath()
	want := "/x/state/airseal/verify.state"
	if os.Geteuid() == 0 {
		want = "/var/lib/airseal/verify.state"
	}
	if got != want {
		t.Fatalf("DefaultStatePath() = %q, want %q", got, want)
	}
}
