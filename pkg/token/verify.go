package token

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/airseal/airseal/internal/strictjson"
	"github.com/airseal/airseal/pkg/keys"
)

// Sentinel errors of verification, matched with errors.Is. Every error
// returned by [Verifier.Verify] is an [*Error] that matches exactly one.
var (
	// ErrMalformed: not a well-formed token of ours (size, encoding, header
	// parameters, algorithm, typ, or claims missing).
	ErrMalformed = errors.New("malformed token")
	// ErrUnknownKey: the kid names no key in the verifier's key set.
	ErrUnknownKey = errors.New("unknown signing key")
	// ErrBadSignature: the signature does not verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrWrongIssuer: iss is not the expected issuer.
	ErrWrongIssuer = errors.New("wrong issuer")
	// ErrWrongAudience: aud does not contain the expected audience.
	ErrWrongAudience = errors.New("wrong audience")
	// ErrExpired: exp is in the past, beyond the leeway.
	ErrExpired = errors.New("token expired")
	// ErrNotYetValid: nbf or iat is in the future, beyond the leeway.
	ErrNotYetValid = errors.New("token not yet valid")
	// ErrRevoked: the jti, the grant it came from, or its license serial is
	// on the revocation list.
	ErrRevoked = errors.New("token revoked")
)

// Reason is the stable, scriptable name of a verification failure.
type Reason string

// Reasons, in the order the checks run.
const (
	ReasonMalformed     Reason = "malformed"
	ReasonBadHeader     Reason = "bad_header"
	ReasonUnknownKey    Reason = "unknown_key"
	ReasonBadSignature  Reason = "bad_signature"
	ReasonMissingClaim  Reason = "missing_claim"
	ReasonWrongIssuer   Reason = "wrong_issuer"
	ReasonWrongAudience Reason = "wrong_audience"
	ReasonExpired       Reason = "expired"
	ReasonNotYetValid   Reason = "not_yet_valid"
	ReasonRevoked       Reason = "revoked"
)

var reasonErr = map[Reason]error{
	ReasonMalformed:     ErrMalformed,
	ReasonBadHeader:     ErrMalformed,
	ReasonUnknownKey:    ErrUnknownKey,
	ReasonBadSignature:  ErrBadSignature,
	ReasonMissingClaim:  ErrMalformed,
	ReasonWrongIssuer:   ErrWrongIssuer,
	ReasonWrongAudience: ErrWrongAudience,
	ReasonExpired:       ErrExpired,
	ReasonNotYetValid:   ErrNotYetValid,
	ReasonRevoked:       ErrRevoked,
}

// Error is a verification failure.
type Error struct {
	Reason Reason
	Detail string
	// Claims are the verified claims when the signature was good but a later
	// check failed (audience, time, revocation); nil otherwise.
	Claims *Claims
}

// Error returns the sentinel's text and the detail.
func (e *Error) Error() string { return reasonErr[e.Reason].Error() + ": " + e.Detail }

// Unwrap returns the sentinel the reason belongs to.
func (e *Error) Unwrap() error { return reasonErr[e.Reason] }

func fail(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Verifier checks tokens. The zero Leeway means DefaultLeeway; set a
// negative Leeway for none.
type Verifier struct {
	// Keys are the trusted issuer keys, looked up by kid.
	Keys *keys.Keyring
	// Issuer, when set, must equal iss.
	Issuer string
	// Audience, when set, must be in aud.
	Audience string
	// Leeway is the tolerated clock skew.
	Leeway time.Duration
	// Revocations, when set, is consulted last.
	Revocations *RevocationList
}

func (v *Verifier) leeway() time.Duration {
	switch {
	case v.Leeway < 0:
		return 0
	case v.Leeway == 0:
		return DefaultLeeway
	}
	return v.Leeway
}

// Verify checks tok at time now, in this fixed order, and returns the claims
// or an [*Error] naming the first check that failed:
//
//  1. size at most MaxTokenSize, three base64url segments (malformed);
//  2. header: only alg, kid and typ; alg EdDSA; typ at+jwt (bad_header);
//  3. kid names a trusted key (unknown_key);
//  4. Ed25519 signature (bad_signature);
//  5. claims parse; iss, sub, aud, exp, iat, jti, client_id present (malformed, missing_claim);
//  6. iss equals Issuer when set (wrong_issuer);
//  7. aud contains Audience when set (wrong_audience);
//  8. exp not past, nbf and iat not future, within Leeway (expired, not_yet_valid);
//  9. jti, grant and license_serial not revoked (revoked).
func (v *Verifier) Verify(tok string, now time.Time) (*Claims, error) {
	payload, _, err := verifyJWS(v.Keys, tok, TypeAccessToken, MaxTokenSize)
	if err != nil {
		return nil, err
	}
	var c Claims
	// A claim twice or in another case ("EXP" for "exp") means one thing
	// to encoding/json and another to other JWT libraries: refused.
	// Claims this package does not know are allowed (RFC 7519).
	if err := strictjson.CheckFields(payload, &c, strictjson.FieldsOptions{AllowUnknown: true}); err != nil {
		return nil, fail(ReasonMalformed, "claims: %v", err)
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, fail(ReasonMalformed, "claims are not a JSON object of the expected types: %v", err)
	}
	switch {
	case c.Issuer == "":
		return nil, fail(ReasonMissingClaim, "no iss claim")
	case c.Subject == "":
		return nil, fail(ReasonMissingClaim, "no sub claim")
	case len(c.Audience) == 0:
		return nil, fail(ReasonMissingClaim, "no aud claim")
	case c.ExpiresAt == 0:
		return nil, fail(ReasonMissingClaim, "no exp claim")
	case c.IssuedAt == 0:
		return nil, fail(ReasonMissingClaim, "no iat claim")
	case c.ID == "":
		return nil, fail(ReasonMissingClaim, "no jti claim")
	case c.ClientID == "":
		return nil, fail(ReasonMissingClaim, "no client_id claim")
	}
	if v.Issuer != "" && c.Issuer != v.Issuer {
		return nil, &Error{Reason: ReasonWrongIssuer, Detail: fmt.Sprintf("iss is %q, want %q", c.Issuer, v.Issuer), Claims: &c}
	}
	if v.Audience != "" && !c.Audience.Contains(v.Audience) {
		return nil, &Error{Reason: ReasonWrongAudience, Detail: fmt.Sprintf("aud is %q, want %q", []string(c.Audience), v.Audience), Claims: &c}
	}
	l := v.leeway()
	t := now.Unix()
	ls := int64(l / time.Second)
	if t > c.ExpiresAt+ls {
		return nil, &Error{Reason: ReasonExpired, Detail: fmt.Sprintf("expired at %s (leeway %s)", time.Unix(c.ExpiresAt, 0).UTC().Format(time.RFC3339), l), Claims: &c}
	}
	if c.NotBefore > t+ls || c.IssuedAt > t+ls {
		nb := max(c.NotBefore, c.IssuedAt)
		return nil, &Error{Reason: ReasonNotYetValid, Detail: fmt.Sprintf("valid from %s (leeway %s); check this machine's clock", time.Unix(nb, 0).UTC().Format(time.RFC3339), l), Claims: &c}
	}
	if what := v.Revocations.revoked(&c); what != "" {
		return nil, &Error{Reason: ReasonRevoked, Detail: what + " is on revocation list #" + fmt.Sprint(v.Revocations.Seq), Claims: &c}
	}
	return &c, nil
}

// verifyJWS runs checks 1 to 4 on a compact JWS and returns its payload and
// the kid of the key that signed it.
// limit is the largest accepted size in bytes.
func verifyJWS(ring *keys.Keyring, tok string, typ string, limit int) ([]byte, keys.ID, error) {
	if len(tok) > limit {
		return nil, "", fail(ReasonMalformed, "%s is %d bytes, the limit is %d", typ, len(tok), limit)
	}
	h, rest, ok1 := strings.Cut(tok, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(s, '.') >= 0 {
		return nil, "", fail(ReasonMalformed, "want three dot-separated parts (JWS compact serialization)")
	}
	hdr, err := b64s.DecodeString(h)
	if err != nil {
		return nil, "", fail(ReasonMalformed, "header is not base64url: %v", err)
	}
	kid, err := checkHeader(hdr, typ)
	if err != nil {
		return nil, "", err
	}
	sig, err := b64s.DecodeString(s)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, "", fail(ReasonMalformed, "signature is not %d bytes of base64url", ed25519.SignatureSize)
	}
	payload, err := b64s.DecodeString(p)
	if err != nil {
		return nil, "", fail(ReasonMalformed, "payload is not base64url: %v", err)
	}
	k, ok := ring.Get(kid)
	if !ok {
		return nil, kid, fail(ReasonUnknownKey, "kid %q is not in the trusted key set", string(kid))
	}
	if !ed25519.Verify(k.Bytes(), []byte(tok[:len(h)+1+len(p)]), sig) {
		return nil, kid, fail(ReasonBadSignature, "signature does not verify under key %s", kid)
	}
	return payload, kid, nil
}

// b64s is strict base64url: trailing bits must be zero, so each token has
// exactly one encoding and no byte can be changed without detection.
var b64s = b64.Strict()

// checkHeader enforces the header rules and returns the kid.
func checkHeader(hdr []byte, typ string) (keys.ID, error) {
	// Fast path: the exact header Signer writes. Anything else, including
	// the same parameters in another order or spacing, takes the general path.
	const pre = `{"alg":"` + Algorithm + `","kid":"`
	if len(hdr) == len(pre)+keys.IDLen+len(`","typ":"`)+len(typ)+2 && string(hdr[:len(pre)]) == pre &&
		string(hdr[len(pre)+keys.IDLen:]) == `","typ":"`+typ+`"}` {
		if id, err := keys.ParseID(string(hdr[len(pre) : len(pre)+keys.IDLen])); err == nil {
			return id, nil
		}
	}
	if err := strictjson.Check(hdr); err != nil {
		return "", fail(ReasonBadHeader, "header: %v", err)
	}
	var m map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(hdr))
	if err := d.Decode(&m); err != nil || m == nil || d.More() {
		return "", fail(ReasonBadHeader, "header is not a JSON object")
	}
	var alg, kid, ty string
	for k, raw := range m {
		var dst *string
		switch k {
		case "alg":
			dst = &alg
		case "kid":
			dst = &kid
		case "typ":
			dst = &ty
		case "crit":
			return "", fail(ReasonBadHeader, "crit header parameter is not supported")
		default:
			return "", fail(ReasonBadHeader, "header parameter %q is not allowed (only alg, kid and typ)", k)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return "", fail(ReasonBadHeader, "header parameter %q is not a string", k)
		}
	}
	switch {
	case alg == "none" || strings.EqualFold(alg, "none"):
		return "", fail(ReasonBadHeader, "alg none (unsigned token) is refused")
	case strings.HasPrefix(strings.ToUpper(alg), "HS"):
		return "", fail(ReasonBadHeader, "alg %s (HMAC) is refused: only %s is accepted", alg, Algorithm)
	case alg != Algorithm:
		return "", fail(ReasonBadHeader, "alg %q is refused: only %s is accepted", alg, Algorithm)
	}
	if !strings.EqualFold(ty, typ) && !strings.EqualFold(ty, "application/"+typ) {
		return "", fail(ReasonBadHeader, "typ is %q, want %q", ty, typ)
	}
	if kid == "" {
		return "", fail(ReasonBadHeader, "no kid in the header")
	}
	return keys.ID(kid), nil
}
