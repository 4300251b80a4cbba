package loginlimit

import (
	"fmt"
	"testing"
	"time"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// TestEleventhRefused: ten failures in a minute pass, the address is then
// refused until the window ends (a right password included: the caller
// asks Blocked before it checks credentials), then allowed again.
func TestEleventhRefused(t *testing.T) {
	l := New(DefaultLimit, DefaultWindow)
	k := Key("192.0.2.7:5555")
	for i := range DefaultLimit {
		if _, b := l.Blocked(k, testNow); b {
			t.Fatalf("blocked after %d failures", i)
		}
		l.Fail(k, testNow.Add(time.Duration(i)*time.Second))
	}
	wait, b := l.Blocked(k, testNow.Add(30*time.Second))
	if !b || wait != 30*time.Second || RetryAfter(wait) != 30 {
		t.Fatalf("11th attempt: blocked %v, wait %v", b, wait)
	}
	if _, b := l.Blocked(Key("192.0.2.8"), testNow); b {
		t.Error("another address blocked")
	}
	if _, b := l.Blocked(k, testNow.Add(DefaultWindow)); b {
		t.Error("still blocked after the window")
	}
}

func TestKeyIPv6By64(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:80", "192.0.2.1"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::9]:443", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"not-an-ip", "not-an-ip"},
	} {
		if got := Key(c.in); got != c.want {
			t.Errorf("Key(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	l := New(2, time.Minute)
	l.Fail(Key("2001:db8::1"), testNow)
	l.Fail(Key("2001:db8::2"), testNow)
	if _, b := l.Blocked(Key("2001:db8::ffff"), testNow); !b {
		t.Error("another address of the same /64 not blocked")
	}
}

// TestBounded: the table never grows past its bound, expired entries are
// swept, and a flood of new addresses does not sweep on every failure.
func TestBounded(t *testing.T) {
	l := New(2, time.Minute)
	l.maxEntries = 4
	now := testNow
	for i := range 4 {
		l.Fail(fmt.Sprint("10.0.0.", i), now)
	}
	for i := range 100 {
		l.Fail(fmt.Sprint("10.0.1.", i), now.Add(time.Second))
	}
	if len(l.m) != 4 || l.sweeps != 1 {
		t.Fatalf("%d entries after %d sweeps; want 4 entries, 1 sweep", len(l.m), l.sweeps)
	}
	l.Fail("10.0.0.0", now.Add(time.Second))
	if _, blocked := l.Blocked("10.0.0.0", now.Add(2*time.Second)); !blocked {
		t.Error("tracked address not blocked after 2 failures")
	}
	later := now.Add(time.Minute + time.Second)
	l.Fail("10.0.2.1", later)
	if l.sweeps != 2 || len(l.m) != 1 || l.m["10.0.2.1"] == nil {
		t.Fatalf("after expiry: %d entries, %d sweeps", len(l.m), l.sweeps)
	}
}
