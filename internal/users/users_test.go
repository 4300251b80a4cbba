package users

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFirstLoginMustChange(t *testing.T) {
	s := NewMemory()
	pw, err := InitAdmin(s, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Login(s, "admin", "admin"); err == nil || errors.Is(err, ErrMustChange) {
		t.Fatalf("admin/admin accepted: %v", err)
	}
	u, err := Login(s, "admin", pw)
	if !errors.Is(err, ErrMustChange) || u.Role != Admin || u.Hash != "" {
		t.Fatalf("first login: %v %+v", err, u)
	}
	if err := Passwd(s, "admin", pw); err == nil {
		t.Fatal("reusing one-time password accepted")
	}
	if err := Passwd(s, "admin", "a-new-long-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := Login(s, "admin", "a-new-long-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := Login(s, "admin", pw); err == nil {
		t.Fatal("old password still works")
	}
}

func TestVerifyBounds(t *testing.T) {
	if _, err := Verify("$argon2id$v=19$m=99999999,t=3,p=2$c2FsdHNhbHQ$"+strings.Repeat("A", 43), "x"); err == nil {
		t.Fatal("huge memory parameter accepted")
	}
	if _, err := Verify("plain", "x"); err == nil {
		t.Fatal("non-PHC accepted")
	}
}

func TestFileStoreAndRoles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "users.json")
	f, err := OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := InitAdmin(f, "root"); err != nil {
		t.Fatal(err)
	}
	if err := Add(f, "scanner1", Device, "0123456789ab"); err != nil {
		t.Fatal(err)
	}
	if err := Add(f, "bad name", Viewer, "0123456789ab"); err == nil {
		t.Fatal("bad name accepted")
	}
	if err := Add(f, "v", Role("root"), "0123456789ab"); err == nil {
		t.Fatal("bad role accepted")
	}
	if err := Remove(f, "root"); err == nil {
		t.Fatal("last admin removed")
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode().Perm())
	}
	g, err := OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	us, _ := g.List()
	if len(us) != 2 || us[0].Name != "root" || !us[0].MustChange || us[1].Role != Device {
		t.Fatalf("reloaded %+v", us)
	}
	if err := Remove(g, "scanner1"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Get("scanner1"); !errors.Is(err, ErrNotFound) {
		t.Fatal("not removed")
	}
}
