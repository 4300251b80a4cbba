package seat

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/pkg/license"
)

// Protocol limits (docs/spec/seat-protocol-v1.md).
const (
	// MaxResponseAge is how far a response's signed Licence-Time may be
	// from this machine's clock, either way.
	MaxResponseAge = 5 * time.Minute
	// MaxResponseSize is the largest response body read; a larger one is
	// refused without reading on.
	MaxResponseSize = 1 << 20
	// QueryIDBytes is the number of random bytes in a query ID (128 bits).
	QueryIDBytes = 16
	// TrustTTL is how long a verified server license is used before it is
	// fetched and verified again (an expired or revoked server license
	// stops being trusted within this time, or at once at its expiry).
	TrustTTL = time.Hour
)

// server is one base URL and what the client trusts about it.
type server struct {
	base string

	mu      sync.Mutex
	lic     *license.ServerLicense
	keys    map[string]ed25519.PublicKey // response key ID → key
	checked time.Time                    // when lic was verified (client clock)
	until   time.Time                    // the earliest expiry of the licenses keys come from (zero: none)
	set     string                       // Licence-Set of the serverinfo answer verified
}

func (s *server) trusted() (*license.ServerLicense, map[string]ed25519.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lic, s.keys
}

// stale reports whether the cached licenses must be verified again at
// now: never verified, verified TrustTTL ago (or in the future: the clock
// went back), or one of the licenses the keys come from has expired.
func (s *server) stale(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lic == nil || now.Sub(s.checked) >= TrustTTL || now.Before(s.checked) ||
		!s.until.IsZero() && !now.Before(s.until)
}

func (s *server) setTrust(lic *license.ServerLicense, keys map[string]ed25519.PublicKey, until time.Time, set string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lic, s.keys, s.until, s.set, s.checked = lic, keys, until, set, now
}

// dropTrust forgets the verified licenses: the next request verifies
// them again, and nothing is accepted until they verify.
func (s *server) dropTrust() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lic, s.keys, s.until, s.set = nil, nil, time.Time{}, ""
}

// setChanged reports whether an answer's Licence-Set differs from the one
// of the licenses trusted (an answer without the header says nothing).
func (s *server) setChanged(h http.Header) bool {
	v := h.Get(HeaderLicenceSet)
	s.mu.Lock()
	defer s.mu.Unlock()
	return v != "" && s.set != "" && v != s.set
}

// rawReply is an answer as received, before its signature is checked.
type rawReply struct {
	server, method, path string
	queryID              string // the one this client sent
	status               int
	header               http.Header
	body                 []byte
}

// reply is a verified answer.
type reply struct {
	*rawReply
	time time.Time // the signed server time
}

// newQueryID returns 128 random bits, base64url without padding (22
// characters, within the protocol's 16 to 64 of [A-Za-z0-9_-]).
func newQueryID() string {
	b := make([]byte, QueryIDBytes)
	if _, err := rand.Read(b); err != nil {
		panic("seat: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// unreachable marks a transport failure of one server.
func unreachable(base string, err error) error {
	return fmt.Errorf("%w: %s: %v", ErrUnreachable, base, err)
}

// roundTrip sends one request with a fresh query ID and reads the answer
// bounded. It checks nothing but the size.
func (c *Client) roundTrip(ctx context.Context, s *server, method, path string, in any) (*rawReply, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("seat: encoding request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("seat: %s %s: %w", method, s.base+path, err)
	}
	qid := newQueryID()
	req.Header.Set(HeaderQueryID, qid)
	req.Header.Set(HeaderSignatureBatch, BatchAccept)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cfg.User != "" || c.cfg.Token != "" {
		req.SetBasicAuth(c.cfg.User, c.cfg.Token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
			return nil, ctx.Err()
		}
		return nil, unreachable(s.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseSize+1))
	if err != nil {
		return nil, unreachable(s.base, fmt.Errorf("reading the response: %v", err))
	}
	if len(data) > MaxResponseSize {
		return nil, fmt.Errorf("%w: %s: response body over %d bytes; refused unread", ErrUntrustedServer, s.base, MaxResponseSize)
	}
	return &rawReply{server: s.base, method: method, path: req.URL.EscapedPath(), queryID: qid,
		status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// verifyReply checks a received answer against the keys of the server's
// verified license: the query ID must be the one sent (else ErrReplay),
// Licence-Key must name one of keys (else ErrUntrustedServer), the
// signature must verify over the query ID, method, path, status, time
// and body, alone or as one answer of a batch with its
// Licence-Signature-Proof (else ErrUntrustedServer), and Licence-Time must be within
// MaxResponseAge of now (else ErrReplay and ErrClockSkew). It returns the
// signed time. It is pure: bytes, keys and time in, verdict out.
func verifyReply(r *rawReply, keys map[string]ed25519.PublicKey, now time.Time) (time.Time, error) {
	got := r.header.Values(HeaderQueryID)
	switch {
	case len(got) == 0:
		return time.Time{}, fmt.Errorf("%w: %s: the response has no %s header; this is not an airseal license server, or a proxy answered", ErrUntrustedServer, r.server, HeaderQueryID)
	case len(got) > 1 || got[0] != r.queryID:
		return time.Time{}, fmt.Errorf("%w: %s: the response answers query %q, this client asked %q: a recorded answer was played back", ErrReplay, r.server, safetext.Clean(strings.Join(got, ",")), r.queryID)
	}
	keyID, sigText, timeText := r.header.Get(HeaderKey), r.header.Get(HeaderSignature), r.header.Get(HeaderTime)
	for _, h := range []struct{ name, v string }{{HeaderKey, keyID}, {HeaderSignature, sigText}, {HeaderTime, timeText}} {
		if h.v == "" {
			return time.Time{}, fmt.Errorf("%w: %s: the response has no %s header", ErrUntrustedServer, r.server, h.name)
		}
	}
	pub, ok := keys[keyID]
	if !ok {
		return time.Time{}, fmt.Errorf("%w: %s: the response is signed by key %q, which the server's vendor-signed license does not name", ErrUntrustedServer, r.server, safetext.Clean(keyID))
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(sigText)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return time.Time{}, fmt.Errorf("%w: %s: %s is not a base64 Ed25519 signature", ErrUntrustedServer, r.server, HeaderSignature)
	}
	proofs := r.header.Values(HeaderSignatureProof)
	if len(proofs) > 1 || len(proofs) == 1 && proofs[0] == "" {
		return time.Time{}, fmt.Errorf("%w: %s: the response has %d %s headers with %d bytes; want one non-empty header or none", ErrUntrustedServer, r.server, len(proofs), HeaderSignatureProof, len(strings.Join(proofs, "")))
	}
	resp := Response{QueryID: r.queryID, Method: r.method, Path: r.path, Status: r.status, Time: timeText, Body: r.body}
	if err := resp.VerifyAnswer(pub, sig, strings.Join(proofs, "")); err != nil {
		if errors.Is(err, ErrBadProof) {
			return time.Time{}, fmt.Errorf("%w: %s: %s: %v", ErrUntrustedServer, r.server, HeaderSignatureProof, err)
		}
		return time.Time{}, fmt.Errorf("%w: %s: the response signature does not verify: the answer was changed on the way or forged", ErrUntrustedServer, r.server)
	}
	t, err := time.Parse(time.RFC3339, timeText)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s: %s %q is not a UTC ISO 8601 time", ErrUntrustedServer, r.server, HeaderTime, safetext.Clean(timeText))
	}
	if d := t.Sub(now); d > MaxResponseAge || d < -MaxResponseAge {
		return t, &SkewError{Server: r.server, ServerTime: t, ClientTime: now}
	}
	return t, nil
}

// SkewError is a response whose signed time is more than MaxResponseAge
// from this machine's clock. It matches ErrReplay and ErrClockSkew.
type SkewError struct {
	Server                 string
	ServerTime, ClientTime time.Time
}

func (e *SkewError) Error() string {
	d := e.ServerTime.Sub(e.ClientTime).Round(time.Second)
	return fmt.Sprintf("%v: %s: the server's signed time %s is %s from this machine's clock %s (at most %s allowed): a stale answer or a wrong clock; set both clocks right (NTP)",
		ErrReplay, e.Server, e.ServerTime.UTC().Format(time.RFC3339), d, e.ClientTime.UTC().Format(time.RFC3339), MaxResponseAge)
}

// Is matches ErrReplay and ErrClockSkew.
func (e *SkewError) Is(target error) bool { return target == ErrReplay || target == ErrClockSkew }

// deviceState is the device state some refusals carry (issue 11).
type deviceState struct {
	State string `json:"State"`
}

// statusError builds the typed error of an error answer.
func statusError(r *rawReply, verified bool) error {
	var eb Error
	var ds deviceState
	// A body that is not the error shape (or names a member twice or in
	// another case) still gives the status, nothing more.
	if decodeAnswer(r.body, &eb) != nil || decodeAnswer(r.body, &ds) != nil {
		eb, ds = Error{}, deviceState{}
	}
	se := &StatusError{Server: r.server, Status: r.status, Text: clean(eb.Text, 200), Message: clean(eb.Message, 1000),
		Reason: clean(eb.Reason, 500), Verified: verified}
	switch {
	case r.status == http.StatusConflict:
		hs := make([]Holder, 0, len(eb.Holders))
		for i, h := range eb.Holders {
			if i == 1000 {
				break
			}
			hs = append(hs, Holder{ID: clean(h.ID, 100), UserName: clean(h.UserName, 200), ComputerName: clean(h.ComputerName, 200),
				AppName: clean(h.AppName, 200), Since: h.Since})
		}
		return &NoSeatError{StatusError: se, Product: clean(eb.Product, 200), InUse: max(eb.InUse, 0), Seats: max(eb.Seats, 0), Holders: hs}
	case ds.State != "" && r.status == http.StatusForbidden:
		return &DeviceError{StatusError: se, State: clean(ds.State, 40)}
	}
	return se
}

// clean makes server text safe to print and bounds its length.
func clean(s string, limit int) string {
	s = safetext.Clean(s)
	if len(s) > limit {
		cut := limit
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// trust returns the keys of s's verified license, fetching and verifying
// GET /api/serverinfo first when there is none yet (or refresh is set).
func (c *Client) trust(ctx context.Context, s *server, refresh bool) (map[string]ed25519.PublicKey, error) {
	if _, keys := s.trusted(); !refresh && !s.stale(c.clock.Now()) {
		return keys, nil
	}
	r, err := c.roundTrip(ctx, s, http.MethodGet, PathServerInfo, nil)
	if err != nil {
		return nil, err
	}
	if r.status != http.StatusOK {
		// The answer cannot be verified without the license it withholds;
		// a refusal is reported, never trusted for anything else.
		if qid := r.header.Get(HeaderQueryID); qid != "" && qid != r.queryID {
			return nil, fmt.Errorf("%w: %s: the response answers another query", ErrReplay, s.base)
		}
		return nil, statusError(r, false)
	}
	lic, keys, until, err := c.verifyInfo(r)
	if err != nil {
		// The server no longer presents a license that verifies (removed,
		// replaced by one for another key, expired, revoked): what was
		// trusted before is trusted no more.
		s.dropTrust()
		return nil, err
	}
	t, err := verifyReply(r, keys, c.clock.Now())
	if err != nil {
		return nil, err
	}
	c.raiseFloor(t)
	set := r.header.Get(HeaderLicenceSet)
	if set == "" {
		set = "-" // a server that does not send it: never "changed"
	}
	s.setTrust(lic, keys, until, set, c.clock.Now())
	return keys, nil
}

// maxServerLicences bounds how many licenses of a serverinfo answer are
// verified.
const maxServerLicences = 64

// verifyInfo checks the server licenses in a serverinfo body with the
// vendor's keyring and returns the first that verifies, with the response
// keys of the nodes of every license that verifies, by key ID, and the
// earliest expiry among those licenses (zero: none expires). Licenses of
// other vendors installed on the same server are skipped.
func (c *Client) verifyInfo(r *rawReply) (*license.ServerLicense, map[string]ed25519.PublicKey, time.Time, error) {
	var info ServerInfo
	if err := decodeAnswer(r.body, &info); err != nil {
		return nil, nil, time.Time{}, fmt.Errorf("%w: %s: %s is refused: %v", ErrUntrustedServer, r.server, PathServerInfo, safetext.Clean(err.Error()))
	}
	cands := info.ServerLicences
	if info.ServerLicence != "" && !slices.Contains(cands, info.ServerLicence) {
		cands = append([]string{info.ServerLicence}, cands...)
	}
	if len(cands) == 0 {
		return nil, nil, time.Time{}, fmt.Errorf("%w: %s: %s carries no ServerLicence; the server must present the license the vendor issued for it (license-server license add)", ErrUntrustedServer, r.server, PathServerInfo)
	}
	if len(cands) > maxServerLicences {
		cands = cands[:maxServerLicences]
	}
	var first *license.ServerLicense
	var firstErr error
	var until time.Time
	keys := map[string]ed25519.PublicKey{}
	for _, cand := range cands {
		lic, err := license.VerifyServer([]byte(cand), license.VerifyOptions{
			Keyring: c.cfg.Keyring, Now: c.clock.Now(), ClockFloor: c.ClockFloor(), Revocations: c.cfg.Revocations})
		if err != nil && !errors.Is(err, license.ErrUpdatesExpired) {
			// Another vendor's license says least; keep the most telling error.
			if firstErr == nil || errors.Is(firstErr, license.ErrUnknownKey) && !errors.Is(err, license.ErrUnknownKey) {
				firstErr = err
			}
			continue
		}
		if first == nil {
			first = lic
		}
		if lic.Expires != nil && (until.IsZero() || lic.Expires.Before(until)) {
			until = *lic.Expires
		}
		for _, n := range lic.Nodes {
			keys[ResponseKeyID(n.ResponseKey)] = n.ResponseKey
		}
	}
	if first == nil {
		return nil, nil, time.Time{}, &LicenseError{Server: r.server, Err: firstErr}
	}
	return first, keys, until, nil
}

// LicenseError is a server license that does not verify with the vendor's
// keys. It matches ErrUntrustedServer and the license package's sentinel
// (license.ErrUnknownKey, license.ErrBadSignature, license.ErrExpired, ...).
type LicenseError struct {
	Server string
	Err    error
}

func (e *LicenseError) Error() string {
	return fmt.Sprintf("%v: %s: the server's license: %v", ErrUntrustedServer, e.Server, e.Err)
}

// Unwrap returns ErrUntrustedServer and the license error.
func (e *LicenseError) Unwrap() []error { return []error{ErrUntrustedServer, e.Err} }

// call sends one request to s and returns the verified answer. Error
// statuses come back as typed errors (StatusError, NoSeatError,
// DeviceError). A response naming a key the cached license does not know
// makes the client fetch the license once more (a node added to the
// cluster), then refuse. A response whose Licence-Set differs from the
// one of the licenses trusted (a license removed, replaced or added on
// the server) makes the client verify the licenses again before it
// accepts the answer: it is accepted only if a license that verifies now
// still names its key, except a refusal (status 300 and above) signed by
// the key trusted until then, which cannot grant anything.
func (c *Client) call(ctx context.Context, s *server, method, path string, in any) (*reply, error) {
	keys, err := c.trust(ctx, s, false)
	if err != nil {
		return nil, err
	}
	r, err := c.roundTrip(ctx, s, method, path, in)
	if err != nil {
		return nil, err
	}
	if s.setChanged(r.header) {
		fresh, err := c.trust(ctx, s, true)
		if err != nil {
			// No license names the key any more. A refusal signed by the
			// key trusted until now is still the server's verdict (the seat
			// taken away when its license was removed); nothing it grants
			// is accepted.
			if r.status >= 300 {
				if t, verr := verifyReply(r, keys, c.clock.Now()); verr == nil {
					c.raiseFloor(t)
					return nil, statusError(r, true)
				}
			}
			return nil, err
		}
		keys = fresh
	} else if _, known := keys[r.header.Get(HeaderKey)]; !known && r.header.Get(HeaderKey) != "" {
		if fresh, err := c.trust(ctx, s, true); err == nil {
			keys = fresh
		}
	}
	t, err := verifyReply(r, keys, c.clock.Now())
	if err != nil {
		return nil, err
	}
	c.raiseFloor(t)
	if r.status >= 300 {
		return nil, statusError(r, true)
	}
	return &reply{rawReply: r, time: t}, nil
}
