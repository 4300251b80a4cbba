package seat

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"testing"
)

// BenchmarkVerifyReply is the client's cost per answer: query ID, key
// lookup, Ed25519 verification and the time check.
func BenchmarkVerifyReply(b *testing.B) {
	body := []byte(`{"ID":"L-0001","ClientSessionID":"session-0123456789abcdef","Product":"acme-db","Mode":"licensed","RenewEvery":60}`)
	tm := FakeEpoch.Format(TimeFormat)
	qid, kid, sig := signedRaw(201, tm, body)
	h := http.Header{}
	h.Set(HeaderQueryID, qid)
	h.Set(HeaderKey, kid)
	h.Set(HeaderSignature, sig)
	h.Set(HeaderTime, tm)
	pub := FakeResponseKey(0x40).Public().(ed25519.PublicKey)
	keys := map[string]ed25519.PublicKey{ResponseKeyID(pub): pub}
	r := &rawReply{server: "s", method: "POST", path: PathSessions, queryID: fuzzQueryID, status: 201, header: h, body: body}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := verifyReply(r, keys, FakeEpoch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckoutRelease is one signed checkout and release over
// loopback HTTP against the in-test server (trust cached).
func BenchmarkCheckoutRelease(b *testing.B) {
	vendor, clock := FakeVendor(1), NewFakeClock(FakeEpoch)
	key := FakeResponseKey(0x40)
	lic, err := IssueFakeServerLicense(vendor, "srv1", key.Public().(ed25519.PublicKey), nil)
	if err != nil {
		b.Fatal(err)
	}
	f := NewFakeServer(clock, key, lic, 1<<30)
	defer f.Close()
	rg := &rig{vendor: vendor, clock: clock, srvs: []*FakeServer{f}}
	c, err := New(rg.config(manual))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		l, err := c.Checkout(ctx, Request{AppName: "bench", UserName: "u", ComputerName: "c"})
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
