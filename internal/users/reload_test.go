package users

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestFileFollowsOtherProcess (issue 11): a change made through another
// File on the same path (the CLI beside a running server) is seen within
// CheckEvery: a user added works, a removed one is gone, a new password
// replaces the old; a file changed into garbage keeps the users in force.
func TestFileFollowsOtherProcess(t *testing.T) {
	p := filepath.Join(t.TempDir(), "users.json")
	srv, err := OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	srv.CheckEvery = time.Millisecond
	if srv.Len() != 0 {
		t.Fatal("new store not empty")
	}
	cli, err := OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := Add(cli, "petrova", Viewer, "first long password"); err != nil {
		t.Fatal(err)
	}
	if err := Add(cli, "root", Admin, "root long password"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	if _, err := Login(srv, "petrova", "first long password"); err != nil {
		t.Fatalf("added user not seen: %v", err)
	}
	cli2, _ := OpenFile(p)
	if err := Passwd(cli2, "petrova", "second long password"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	if _, err := Login(srv, "petrova", "first long password"); err == nil {
		t.Fatal("old password still works after passwd")
	}
	if _, err := Login(srv, "petrova", "second long password"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	// A change made by the server itself keeps the other process's.
	if err := Add(srv, "scanner", Device, "scanner long password"); err != nil {
		t.Fatal(err)
	}
	cli3, _ := OpenFile(p)
	if err := Remove(cli3, "petrova"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	if _, err := srv.Get("petrova"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed user still there: %v", err)
	}
	if _, err := srv.Get("scanner"); err != nil {
		t.Fatalf("server's own user lost: %v", err)
	}
	if err := os.WriteFile(p, []byte("[{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(); err == nil {
		t.Fatal("malformed file loaded")
	}
	if _, err := srv.Get("root"); err != nil || srv.Err() == nil {
		t.Fatalf("users in force lost on a malformed file: %v, Err %v", err, srv.Err())
	}
	if err := os.WriteFile(p, []byte(`[{"name":"a","role":"admin","hash":"x"},{"name":"a","role":"viewer","hash":"y"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(); err == nil {
		t.Fatal("a user listed twice was loaded")
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(); err != nil || srv.Len() != 0 {
		t.Fatalf("removed file: %v, %d users", err, srv.Len())
	}
}

// TestGateBudget: over the budget a login is refused at once with a
// *BusyError, not queued; the budget refills with time; a right password
// is remembered (no argon2id), and a new password or a removed user
// ends that at once.
func TestGateBudget(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := NewMemory()
	if err := Add(s, "erp", Integration, "erp long password"); err != nil {
		t.Fatal(err)
	}
	g := NewGate(GateOptions{Share: 0.1, Burst: time.Second, Concurrency: 1, Now: clock})
	ctx := context.Background()
	busy := 0
	checks := 0
	// Checks charge their real duration and the fake clock earns no
	// budget: the loop runs about Burst worth of checks, then is refused.
	for i := 0; busy == 0 && i < 1_000_000; i++ {
		_, err := g.Login(ctx, s, "erp", "wrong password "+string(rune('a'+i%26)))
		var be *BusyError
		switch {
		case errors.As(err, &be):
			busy++
			if be.Wait <= 0 || !errors.Is(err, ErrBusy) {
				t.Fatalf("busy error %+v", be)
			}
		case err != nil:
			checks++
		}
	}
	if busy == 0 || checks == 0 {
		t.Fatalf("checks %d, busy %d: want both", checks, busy)
	}
	if _, err := g.Login(ctx, s, "erp", "erp long password"); !errors.Is(err, ErrBusy) {
		t.Fatalf("over budget, a right password was checked: %v", err)
	}
	advance(time.Minute) // 6 s of budget earned, capped at Burst
	if _, err := g.Login(ctx, s, "erp", "erp long password"); err != nil {
		t.Fatalf("after the refill: %v", err)
	}
	// Remembered: works with no budget left.
	g.mu.Lock()
	g.credit = -time.Hour
	g.mu.Unlock()
	if u, err := g.Login(ctx, s, "erp", "erp long password"); err != nil || u.Hash != "" || u.Role != Integration {
		t.Fatalf("remembered login: %+v %v", u, err)
	}
	if _, err := g.Login(ctx, s, "erp", "erp long password!"); !errors.Is(err, ErrBusy) {
		t.Fatalf("another password was not checked: %v", err)
	}
	if err := Passwd(s, "erp", "erp newer password"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Login(ctx, s, "erp", "erp long password"); !errors.Is(err, ErrBusy) {
		t.Fatalf("old password remembered after passwd: %v", err)
	}
	g.mu.Lock()
	g.credit = time.Second
	g.mu.Unlock()
	if _, err := g.Login(ctx, s, "erp", "erp long password"); err == nil || errors.Is(err, ErrBusy) {
		t.Fatalf("old password after passwd: %v", err)
	}
	if _, err := g.Login(ctx, s, "erp", "erp newer password"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("erp"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Login(ctx, s, "erp", "erp newer password"); err == nil {
		t.Fatal("removed user logged in from the remembered login")
	}
	// Expiry of the remembered login.
	if err := Add(s, "erp", Integration, "erp long password"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Login(ctx, s, "erp", "erp long password"); err != nil {
		t.Fatal(err)
	}
	advance(6 * time.Minute)
	g.mu.Lock()
	g.credit, g.last = -time.Hour, now
	g.mu.Unlock()
	if _, err := g.Login(ctx, s, "erp", "erp long password"); !errors.Is(err, ErrBusy) {
		t.Fatalf("remembered past Remember: %v", err)
	}
}

// TestGateConcurrency: with one slot taken, a second check waits at most
// about one check's time and is then refused, not queued for ever.
func TestGateConcurrency(t *testing.T) {
	g := NewGate(GateOptions{Share: 1, Burst: time.Hour, Concurrency: 1})
	g.sem <- struct{}{} // a check in progress
	s := NewMemory()
	t0 := time.Now()
	_, err := g.Login(context.Background(), s, "x", "y")
	if !errors.Is(err, ErrBusy) || time.Since(t0) > 5*time.Second {
		t.Fatalf("%v after %s", err, time.Since(t0))
	}
	<-g.sem
	if _, err := g.Login(context.Background(), s, "x", "y"); err == nil || errors.Is(err, ErrBusy) {
		t.Fatalf("free slot: %v", err)
	}
}
