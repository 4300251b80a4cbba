package token

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/airseal/airseal/pkg/keys"
)

// ErrTokenTooLarge means the claims make a token above [MaxTokenSize], which
// verification would refuse; it is refused at creation instead.
var ErrTokenTooLarge = errors.New("token above the size limit")

// ErrTTLTooLong means a requested lifetime is above [MaxTTL].
var ErrTTLTooLong = errors.New("token lifetime above the 3653-day cap")

var b64 = base64.RawURLEncoding

// Signer mints tokens with one issuer key. It is safe for concurrent use.
type Signer struct {
	issuer string
	key    ed25519.PrivateKey
	kid    keys.ID
	// headers holds the encoded protected header for each typ.
	atHeader, rlHeader string
	rand               io.Reader
}

// NewSigner returns a signer for issuer using key.
func NewSigner(issuer string, key *keys.PrivateKey) *Signer {
	return &Signer{
		issuer:   issuer,
		key:      key.Ed25519(),
		kid:      key.ID(),
		atHeader: encodeHeader(key.ID(), TypeAccessToken),
		rlHeader: encodeHeader(key.ID(), TypeRevocationList),
		rand:     rand.Reader,
	}
}

// encodeHeader returns the base64url protected header. Keys are in sorted
// order, as go-jose and most libraries write them.
func encodeHeader(kid keys.ID, typ string) string {
	return b64.EncodeToString([]byte(`{"alg":"` + Algorithm + `","kid":"` + string(kid) + `","typ":"` + typ + `"}`))
}

// KeyID returns the kid the signer writes.
func (s *Signer) KeyID() keys.ID { return s.kid }

// Issuer returns the iss the signer writes.
func (s *Signer) Issuer() string { return s.issuer }

// Request describes a token to mint.
type Request struct {
	Subject  string
	Audience string
	ClientID string
	Scope    string // space- or comma-separated; normalised
	// TTL is the lifetime; 0 means DefaultTTL. Above MaxTTL is refused.
	TTL           time.Duration
	LicenseSerial string
	Grant         string
	MemberID      string
	// GrantType is the gty claim; see [Claims.GrantType].
	GrantType string
	// Now is the issue time; zero means time.Now().
	Now time.Time
}

// Mint signs a new access token and returns it with its claims.
func (s *Signer) Mint(r Request) (string, *Claims, error) {
	ttl := r.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl > MaxTTL {
		return "", nil, fmt.Errorf("%w: %s is %.1f days", ErrTTLTooLong, ttl, ttl.Hours()/24)
	}
	if ttl < time.Second {
		return "", nil, fmt.Errorf("token lifetime %s is too short: give at least 1s", ttl)
	}
	if r.Subject == "" || r.Audience == "" || r.ClientID == "" {
		return "", nil, errors.New("a token needs a subject, an audience and a client_id")
	}
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}
	jti, err := s.newID()
	if err != nil {
		return "", nil, err
	}
	c := &Claims{
		Issuer:        s.issuer,
		Subject:       r.Subject,
		Audience:      Audience{r.Audience},
		IssuedAt:      now.Unix(),
		NotBefore:     now.Unix(),
		ExpiresAt:     now.Add(ttl).Unix(),
		ID:            jti,
		ClientID:      r.ClientID,
		Scope:         NormalizeScope(r.Scope),
		LicenseSerial: r.LicenseSerial,
		Grant:         r.Grant,
		MemberID:      r.MemberID,
		GrantType:     r.GrantType,
	}
	tok, err := s.sign(s.atHeader, c)
	if err != nil {
		return "", nil, err
	}
	if len(tok) > MaxTokenSize {
		return "", nil, fmt.Errorf("%w: the token would be %d bytes, the limit is %d (%d KiB); shorten the audience, scope, subject or serial",
			ErrTokenTooLarge, len(tok), MaxTokenSize, MaxTokenSize>>10)
	}
	return tok, c, nil
}

// newID returns a random 128-bit jti in base64url (22 characters).
func (s *Signer) newID() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return "", fmt.Errorf("random jti: %w", err)
	}
	return b64.EncodeToString(b[:]), nil
}

// sign returns header.payload.signature for claims v.
func (s *Signer) sign(header string, v any) (string, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	n := len(header) + 1 + b64.EncodedLen(len(payload))
	buf := make([]byte, 0, n+1+b64.EncodedLen(ed25519.SignatureSize))
	buf = append(buf, header...)
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, payload)
	sig := ed25519.Sign(s.key, buf)
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, sig)
	return string(buf), nil
}
