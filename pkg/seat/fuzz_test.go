package seat

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
)

const fuzzQueryID = "fuzz-query-0123456789"

// signedRaw builds a correctly signed answer for the fuzz seeds.
func signedRaw(status int, tm string, body []byte) (qid, keyID, sig string) {
	key := FakeResponseKey(0x40)
	s := Response{QueryID: fuzzQueryID, Method: "POST", Path: PathSessions, Status: status, Time: tm, Body: body}.Sign(key)
	return fuzzQueryID, ResponseKeyID(key.Public().(ed25519.PublicKey)), base64.StdEncoding.EncodeToString(s)
}

// FuzzVerifyReply: whatever the headers and body, an answer is accepted
// only when it echoes the query ID and its signature verifies under the
// license's key over exactly what was received.
func FuzzVerifyReply(f *testing.F) {
	body := []byte(`{"ID":"L-1","ClientSessionID":"session-0123456789abcdef","Product":"acme-db","Mode":"licensed"}`)
	tm := FakeEpoch.Format(TimeFormat)
	qid, kid, sig := signedRaw(201, tm, body)
	f.Add(qid, kid, sig, tm, 201, body)
	f.Add(qid, kid, sig, tm, 200, body)
	f.Add("other-query-0000000000", kid, sig, tm, 201, body)
	f.Add(qid, "0000000000000000", sig, tm, 201, body)
	f.Add(qid, kid, sig[:10], tm, 201, body)
	f.Add(qid, kid, sig, "2026-12-01T09:10:00Z", 201, body)
	f.Add(qid, kid, sig, "not a time", 201, []byte{})
	key := FakeResponseKey(0x40)
	pub := key.Public().(ed25519.PublicKey)
	ring := map[string]ed25519.PublicKey{ResponseKeyID(pub): pub}
	f.Fuzz(func(t *testing.T, qidH, keyH, sigH, timeH string, status int, body []byte) {
		h := http.Header{}
		for name, v := range map[string]string{HeaderQueryID: qidH, HeaderKey: keyH, HeaderSignature: sigH, HeaderTime: timeH} {
			if v != "" {
				h.Set(name, v)
			}
		}
		r := &rawReply{server: "http://127.0.0.1:9099", method: "POST", path: PathSessions, queryID: fuzzQueryID, status: status, header: h, body: body}
		got, err := verifyReply(r, ring, FakeEpoch)
		if strings.ContainsFunc(errText(err), safetext.IsControl) {
			t.Fatalf("control character in %q", err)
		}
		if err != nil {
			return
		}
		raw, derr := base64.StdEncoding.DecodeString(sigH)
		if qidH != fuzzQueryID || derr != nil || keyH != ResponseKeyID(pub) ||
			(Response{QueryID: fuzzQueryID, Method: "POST", Path: PathSessions, Status: status, Time: timeH, Body: body}).Verify(pub, raw) != nil {
			t.Fatalf("accepted an answer that is not signed for this query: %q %q %q %q", qidH, keyH, sigH, timeH)
		}
		if d := got.Sub(FakeEpoch); d > MaxResponseAge || d < -MaxResponseAge {
			t.Fatalf("accepted a stale time %v", got)
		}
	})
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// FuzzStatusError: any error body gives a typed error whose text is clean.
func FuzzStatusError(f *testing.F) {
	f.Add(409, []byte(`{"Code":409,"Text":"Conflict","Message":"1 of 1 seats of acme-db in use","Product":"acme-db","InUse":1,"Seats":1,"Holders":[{"UserName":"ivanov","ComputerName":"ws-17","Since":"2026-12-01T09:00:00Z"}]}`))
	f.Add(410, []byte(`{"Code":410,"Message":"seat lost","Reason":"license removed"}`))
	f.Add(403, []byte(`{"Code":403,"Message":"device","State":"pending"}`))
	f.Add(401, []byte(`{"Message":"\u202eevil\u0007"}`))
	f.Add(500, []byte(`not json`))
	f.Add(429, []byte(`{"Code":429,"Message":"too many failed logins"}`))
	f.Add(403, []byte(`{"Code":403,"State":"pending","state":"approved"}`))
	f.Add(409, []byte(`{"Code":409,"inuse":1,"Seats":1}`))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		err := statusError(&rawReply{server: "http://127.0.0.1:9099", status: status, body: body}, true)
		if err == nil {
			t.Fatal("nil error")
		}
		if msg := err.Error(); strings.ContainsFunc(msg, func(r rune) bool { return safetext.IsControl(r) || safetext.IsBidi(r) }) {
			t.Fatalf("unclean text %q", msg)
		}
		if status == http.StatusTooManyRequests && !errors.Is(err, ErrRateLimited) {
			t.Fatalf("429 is not ErrRateLimited: %v", err)
		}
		if status == http.StatusConflict && !errors.Is(err, ErrNoSeat) {
			t.Fatalf("409 is not ErrNoSeat: %v", err)
		}
	})
}

// FuzzSession: a lease body accepted has a known mode, a session ID equal
// to the one asked for, and a renewal interval of at least a second that
// comes before the expiry.
func FuzzSession(f *testing.F) {
	want := CheckoutRequest{Product: "acme-db", ClientSessionID: "session-0123456789abcdef"}
	ok, _ := json.Marshal(Session{ID: "L-1", ClientSessionID: want.ClientSessionID, Product: "acme-db", Mode: ModeLicensed,
		Granted: FakeEpoch, Expires: FakeEpoch.Add(5 * time.Minute), RenewEvery: 60, Features: map[string]int64{"lines": 3}})
	f.Add(ok)
	f.Add([]byte(`{"ClientSessionID":"session-0123456789abcdef","Product":"acme-db","Mode":"demo","Features":{"lines":3}}`))
	f.Add([]byte(`{"ID":"L-1","ClientSessionID":"session-0123456789abcdef","Product":"acme-db","Mode":"demo","mode":"licensed"}`))
	f.Add([]byte(`{"id":"L-1","ClientSessionID":"session-0123456789abcdef","Product":"acme-db","Mode":"licensed"}`))
	f.Add([]byte(`{"ID":"L-1","ClientSessionID":"session-0123456789abcdef","Product":"acme-db","Mode":"licensed","Expires":"2026-12-01T09:00:00Z","RenewEvery":-5}`))
	f.Add([]byte(`{"ID":"L-1","ClientSessionID":"session-0123456789abcdef","Product":"acme-db","Mode":"licensed","Expires":"2027-12-01T09:00:00Z","RenewEvery":99999999999}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r := &reply{rawReply: &rawReply{server: "s", body: body}, time: FakeEpoch}
		info, err := session(r, want)
		if err != nil {
			return
		}
		if info.ClientSessionID != want.ClientSessionID || info.Product != want.Product {
			t.Fatalf("accepted a lease for another session: %+v", info)
		}
		if info.Mode != ModeLicensed && info.Mode != ModeDemo || info.RenewEvery < time.Second {
			t.Fatalf("bad lease accepted: %+v", info)
		}
		if info.Mode == ModeLicensed && (info.ID == "" || !info.Expires.After(FakeEpoch) || FakeEpoch.Add(info.RenewEvery).After(info.Expires) && info.RenewEvery > time.Second) {
			t.Fatalf("licensed lease that cannot be renewed in time: %+v", info)
		}
	})
}

// FuzzServerInfo: the trust check accepts a serverinfo body only when a
// license in it verifies with the vendor's keyring, and trusts exactly
// the node keys of such licenses.
func FuzzServerInfo(f *testing.F) {
	vendor := FakeVendor(1)
	key := FakeResponseKey(0x40)
	lic, err := IssueFakeServerLicense(vendor, "srv1", key.Public().(ed25519.PublicKey), nil)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := json.Marshal(ServerInfo{ServerLicence: string(lic)})
	f.Add(good)
	many, _ := json.Marshal(ServerInfo{ServerLicences: []string{"junk", string(lic)}})
	f.Add(many)
	f.Add([]byte(`{"ServerLicence":""}`))
	f.Add([]byte(`{"serverlicence":"x"}`))
	f.Add([]byte(`{"ServerLicences":["a"],"ServerLicences":["b"]}`))
	f.Add([]byte(`{"ServerLicences":null}`))
	ring := keys.NewKeyring(vendor.Public())
	c, err := New(Config{Servers: []string{"http://127.0.0.1:9099"}, Keyring: ring, Clock: NewFakeClock(FakeEpoch)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, keysByID, _, err := c.verifyInfo(&rawReply{server: "http://127.0.0.1:9099", body: body})
		if err != nil {
			return
		}
		if _, err := license.VerifyServer(mustRaw(t, got), license.VerifyOptions{Keyring: ring, Now: FakeEpoch}); err != nil {
			t.Fatalf("trusted a license that does not verify: %v", err)
		}
		for id, pub := range keysByID {
			if ResponseKeyID(pub) != id {
				t.Fatalf("key %s filed under %s", ResponseKeyID(pub), id)
			}
		}
	})
}

func mustRaw(t *testing.T, s *license.ServerLicense) []byte {
	arm, err := s.Armor()
	if err != nil {
		t.Fatal(err)
	}
	return arm
}

// FuzzLeaseFile: a lease file (which the customer can edit) either loads
// or is refused with ErrNotLeaseFile or a JSON error, and what loads saves
// and loads again to the same leases.
func FuzzLeaseFile(f *testing.F) {
	f.Add([]byte(`{"version":1,"leases":{"session-0123456789abcdef":{"server":"https://lic1:9099","id":"L-1","client_session_id":"session-0123456789abcdef","product":"acme-db","mode":"licensed","granted":"2026-12-01T09:00:00Z","expires":"2026-12-01T09:05:00Z","features":{"lines":3},"server_time":"2026-12-01T09:00:00Z","renew_every_seconds":60}}}`))
	f.Add([]byte(`{"version":1,"leases":{"x":{"renew_every_seconds":-1}}}`))
	f.Add([]byte(`{"version":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseLeases(data)
		if err != nil {
			return
		}
		for _, l := range m {
			if l.RenewEvery < 0 {
				t.Fatalf("negative renewal interval loaded: %v", l.RenewEvery)
			}
		}
		out, err := marshalLeases(m)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseLeases(out)
		if err != nil || len(again) != len(m) {
			t.Fatalf("saved leases do not load again: %v (%d vs %d)", err, len(again), len(m))
		}
	})
}
