package license

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/keys"
)

// signedList returns an armored list with sequence seq, signed by k.
func signedList(t *testing.T, k *keys.PrivateKey, seq uint64, serials ...string) []byte {
	t.Helper()
	rl := (*RevocationList)(nil).Next(serials, tNow.Add(-time.Hour))
	rl.Sequence = seq
	if err := rl.Sign(k); err != nil {
		t.Fatal(err)
	}
	data, err := rl.Armor()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func checkOpts(t *testing.T, ring *keys.Keyring) CheckOptions {
	return CheckOptions{Keyring: ring, Now: tNow, Product: testProduct,
		State: StateFile{Path: filepath.Join(t.TempDir(), "verify.state")},
		Facts: func(string) (*Machine, error) { return liveMachine(), nil }}
}

// Issue 8 item 4: the list that revokes a license is remembered although
// the license fails, and the older list is then refused.
func TestCheckRemembersRevokingList(t *testing.T) {
	k := testKey(t, 1)
	l := signed(t, sampleLicense(1, false), k)
	in := mustArmor(t, l)
	o := checkOpts(t, keys.NewKeyring(k.Public()))
	o.Revocations = [][]byte{signedList(t, k, 2, l.Serial)}
	if _, err := Check(in, o); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoking list: err = %v, want ErrRevoked", err)
	} else if !strings.Contains(err.Error(), "on revocation list 2") || strings.Contains(err.Error(), "bundle") {
		t.Fatalf("revoking list: err = %v, want it to name revocation list 2 (not an update bundle)", err)
	}
	o.Revocations = [][]byte{signedList(t, k, 1)}
	_, err := Check(in, o)
	var ie *InputError
	if !errors.Is(err, ErrRevoked) || !errors.As(err, &ie) || ie.Input != "revocations" {
		t.Fatalf("older list after the revoking one: err = %v, want ErrRevoked on input revocations", err)
	}
}

// Issue 8 item 4: one floor across the vendor's keys: a list signed by the
// old key cannot undo a newer list signed by the new key.
func TestCheckRevocationFloorAcrossKeys(t *testing.T) {
	oldK, newK := testKey(t, 1), testKey(t, 2)
	l := signed(t, sampleLicense(1, false), newK)
	in := mustArmor(t, l)
	o := checkOpts(t, keys.NewKeyring(oldK.Public(), newK.Public()))
	o.Revocations = [][]byte{signedList(t, newK, 5, l.Serial)}
	if _, err := Check(in, o); !errors.Is(err, ErrRevoked) {
		t.Fatalf("new-key list: err = %v, want ErrRevoked", err)
	}
	o.Revocations = [][]byte{signedList(t, oldK, 4)}
	if _, err := Check(in, o); !errors.Is(err, ErrRevoked) {
		t.Fatalf("old-key list with a lower sequence: err = %v, want ErrRevoked", err)
	}
}

// Issue 8 item 5: the installed release's product must be the license's.
func TestCheckInstalledProduct(t *testing.T) {
	k := testKey(t, 1)
	in := mustArmor(t, signed(t, sampleLicense(1, false), k))
	o := checkOpts(t, keys.NewKeyring(k.Public()))
	o.Product = ""
	o.Installed = &Installed{Product: "Acme Studio", Version: "2.0.0", ReleaseDate: tNow.AddDate(0, 0, -10)}
	if _, err := Check(in, o); !errors.Is(err, ErrWrongProduct) {
		t.Fatalf("license for %q against installed Acme Studio: err = %v, want ErrWrongProduct", testProduct, err)
	}
	o.Installed.Product = testProduct
	if _, err := Check(in, o); err != nil {
		t.Fatalf("matching installed product: %v", err)
	}
}

// A bound license without a fact reader fails clearly; the clock state is
// raised by a passing check and refuses a clock set back.
func TestCheckFactsAndClock(t *testing.T) {
	k := testKey(t, 1)
	in := mustArmor(t, signed(t, sampleLicense(1, true), k))
	o := checkOpts(t, keys.NewKeyring(k.Public()))
	facts := o.Facts
	o.Facts = nil
	var ie *InputError
	if _, err := Check(in, o); !errors.Is(err, ErrNoFacts) || !errors.As(err, &ie) || ie.Input != "facts" {
		t.Fatalf("bound license without facts: err = %v", err)
	}
	o.Facts = facts
	if _, err := Check(in, o); err != nil {
		t.Fatalf("bound license on its machine: %v", err)
	}
	o.Now = tNow.Add(-48 * time.Hour)
	if _, err := Check(in, o); !errors.Is(err, ErrClockRollback) {
		t.Fatalf("clock set back two days: err = %v, want ErrClockRollback", err)
	}
}

// Issue 8 item 22: a file that is not a state file is refused without the
// advice to delete it; a damaged state file of ours gets that advice.
func TestStateFileNotOurs(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "passwd")
	os.WriteFile(p, []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644)
	_, err := StateFile{Path: p}.Load()
	if !errors.Is(err, ErrNotState) || strings.Contains(err.Error(), "delete") {
		t.Fatalf("foreign file: err = %v, want ErrNotState without 'delete'", err)
	}
	os.WriteFile(p, []byte(`{"version": 1, "newest_seen": "garbage"}`), 0o644)
	if _, err = (StateFile{Path: p}).Load(); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Fatalf("damaged state file: err = %v, want recovery advice", err)
	}
	if _, err = (StateFile{Path: dir}).Load(); !errors.Is(err, ErrNotState) {
		t.Fatalf("directory: err = %v, want ErrNotState", err)
	}
}

// Issue 9, Measures: a run within StateStep of the last write leaves the
// clock-state file alone (no rewrite, no fsync); a run StateStep later
// writes it, and so does a raised revocation floor whatever the time.
func TestCheckWritesStateOnlyPastStep(t *testing.T) {
	k := testKey(t, 1)
	in := mustArmor(t, signed(t, sampleLicense(1, false), k))
	o := checkOpts(t, keys.NewKeyring(k.Public()))
	path := o.State.(StateFile).Path
	stat := func() os.FileInfo {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	run := func(now time.Time) *Result {
		t.Helper()
		o.Now = now
		rep, err := Check(in, o)
		if err != nil {
			t.Fatalf("Check at %v: %v", now, err)
		}
		return rep
	}
	run(tNow)
	first := stat()
	if got, _ := (StateFile{Path: path}).Load(); !got.NewestSeen.Equal(tNow.UTC().Truncate(time.Second)) {
		t.Fatalf("first run: newest_seen = %v, want %v", got.NewestSeen, tNow)
	}

	rep := run(tNow.Add(StateStep - time.Second))
	if fi := stat(); !os.SameFile(first, fi) || !fi.ModTime().Equal(first.ModTime()) {
		t.Fatalf("a run %v after the last write replaced the state file", StateStep-time.Second)
	}
	if !rep.State.NewestSeen.Equal(tNow.UTC().Truncate(time.Second)) {
		t.Fatalf("unwritten run: Result.State.NewestSeen = %v, want the stored %v", rep.State.NewestSeen, tNow)
	}

	later := tNow.Add(StateStep)
	run(later)
	if os.SameFile(first, stat()) {
		t.Fatalf("a run %v after the last write did not replace the state file", StateStep)
	}
	if got, _ := (StateFile{Path: path}).Load(); !got.NewestSeen.Equal(later.UTC().Truncate(time.Second)) {
		t.Fatalf("after the step: newest_seen = %v, want %v", got.NewestSeen, later)
	}

	// A raised revocation floor is written within the step.
	second := stat()
	o.Revocations = [][]byte{signedList(t, k, 3)}
	run(later.Add(time.Second))
	if os.SameFile(second, stat()) {
		t.Fatal("a raised revocation floor within the step was not written")
	}
	if got, _ := (StateFile{Path: path}).Load(); got.RevocationFloor != 3 {
		t.Fatalf("revocation floor = %d, want 3", got.RevocationFloor)
	}
}
