// Package token mints, verifies and revokes long-lived OAuth 2.0 access
// tokens offline, and serves a small token endpoint inside a closed network.
//
// A token is a JWS compact serialization (RFC 7515) of a JWT access token
// following the RFC 9068 profile: header {"alg":"EdDSA","kid":KID,"typ":"at+jwt"},
// claims iss, sub, aud, exp, nbf, iat, jti, client_id and scope, optionally
// license_serial (the license the token is bound to) and grant (the jti of
// the long-lived grant a short-lived token was exchanged from). Signatures are
// Ed25519 (RFC 8037); the kid is the airseal key ID of the signing key (see
// package keys). The format is specified in docs/spec/token-v1.md.
//
// [Signer] mints, [Verifier] verifies in a fixed order of checks and
// [RevocationList] is a signed, monotonically numbered list of revoked jti
// values and license serials. This package is the pure logic: it reads no
// file and opens no socket. Package tokendir keeps the issuer's state on
// disk (keys, clients, the ledgers of minted and of issued tokens, the
// revocation list and the highest list number seen), and package
// tokenserver is the HTTP token endpoint.
//
// # Security
//
// Verification accepts exactly one algorithm, EdDSA with an Ed25519 key taken
// from the local key set by kid; the header may hold only alg, kid and typ, so
// "none", HMAC algorithms (including HMAC keyed with the public key), embedded
// keys (jwk, jku, x5c, x5u) and any crit parameter are refused before any
// cryptography runs. typ must be at+jwt, so a revocation list or another JWT
// signed by the same key is never taken for an access token. Claims are parsed
// only after the signature verifies. Base64url is decoded strictly, so a token
// has exactly one valid encoding.
//
// A token is a bearer credential: whoever holds it may use it until it
// expires or is revoked. Long lifetimes are capped at [MaxTTL]. Revocation
// works only where the verifier sees a current revocation list; the list
// carries a sequence number and a verifier that remembers the highest number it
// has seen refuses an older list, so a revocation cannot be rolled back by
// restoring an old file (see docs/spec/token-v1.md, section 4, for the one
// sequence rule of the product line). Nothing here protects a private key while it is
// decrypted in memory, and nothing stops a clock from being set back on a
// machine the attacker controls.
package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limits and defaults.
const (
	// MaxTTL is the longest lifetime a token may have: 3653 days (ten years
	// including leap days).
	MaxTTL = 3653 * 24 * time.Hour
	// DefaultTTL is the lifetime of a minted token when none is given: 3650 days.
	DefaultTTL = 3650 * 24 * time.Hour
	// DefaultLeeway is the clock skew tolerated by verification.
	DefaultLeeway = 300 * time.Second
	// MaxTokenSize is the largest token, in bytes, that verification reads.
	MaxTokenSize = 8 << 10
	// TypeAccessToken is the JOSE typ of access tokens (RFC 9068).
	TypeAccessToken = "at+jwt"
	// TypeRevocationList is the JOSE typ of a signed revocation list.
	TypeRevocationList = "revlist+jwt"
	// Algorithm is the only JWS algorithm issued and accepted.
	Algorithm = "EdDSA"
)

// Claims are the claims of an access token.
type Claims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  Audience `json:"aud"`
	ExpiresAt int64    `json:"exp"`
	NotBefore int64    `json:"nbf,omitempty"`
	IssuedAt  int64    `json:"iat"`
	ID        string   `json:"jti"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope,omitempty"`
	// LicenseSerial binds the token to a license: revoking the serial
	// revokes the token.
	LicenseSerial string `json:"license_serial,omitempty"`
	// Grant is the jti of the long-lived token this short-lived token was
	// exchanged from at the token endpoint; revoking the grant revokes it.
	// A token with a Grant cannot itself be exchanged.
	Grant string `json:"grant,omitempty"`
	// MemberID is the Bitrix24 portal member_id, carried so the endpoint
	// can answer in the Bitrix24 shape without a database.
	MemberID string `json:"member_id,omitempty"`
	// GrantType (gty) is the OAuth grant the endpoint minted the token for:
	// [GrantClientCredentials] for a client_credentials answer, empty for a
	// long-lived grant minted by "token mint" or a token exchanged from one.
	// Only a token without gty can be exchanged at the refresh_token grant.
	GrantType string `json:"gty,omitempty"`
}

// GrantClientCredentials is the gty of tokens minted for the
// client_credentials grant; such a token is never accepted as a refresh_token.
const GrantClientCredentials = "client_credentials"

// Audience is the aud claim. Tokens are minted with one audience, encoded as
// a JSON string; verification also accepts an array (RFC 7519 §4.1.3).
type Audience []string

// MarshalJSON encodes a single audience as a string.
func (a Audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

// UnmarshalJSON accepts a string or an array of strings.
func (a *Audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = Audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return errors.New("aud must be a string or an array of strings")
	}
	*a = l
	return nil
}

// Contains reports whether aud is one of the audiences.
func (a Audience) Contains(aud string) bool {
	for _, x := range a {
		if x == aud {
			return true
		}
	}
	return false
}

// ParseDuration parses a Go duration ("87600h", "15m") or a whole number of
// days ("3650d").
func ParseDuration(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(d, 10, 64)
		if err != nil || n < 0 || n > 100000 {
			return 0, fmt.Errorf("duration %q: want a whole number of days such as 3650d, or a Go duration such as 87600h", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want a Go duration such as 87600h or 15m, or days such as 3650d", s)
	}
	return d, nil
}

// NormalizeScope turns a comma- or space-separated scope list (Bitrix24 uses
// commas) into the space-separated form of RFC 6749 §3.3, dropping duplicates
// and keeping the first order seen.
func NormalizeScope(s string) string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	seen := make(map[string]bool, len(f))
	out := f[:0]
	for _, x := range f {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return strings.Join(out, " ")
}
