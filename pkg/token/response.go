package token

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// OAuthResponse is an RFC 6749 §5.1 access token response.
type OAuthResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// NewOAuthResponse describes tok (with claims c) as an RFC 6749 response at
// time now. refresh may be empty.
func NewOAuthResponse(tok string, c *Claims, refresh string, now time.Time) *OAuthResponse {
	return &OAuthResponse{
		AccessToken: tok, TokenType: "Bearer", ExpiresIn: max(c.ExpiresAt-now.Unix(), 0),
		Scope: c.Scope, RefreshToken: refresh,
	}
}

// BitrixResponse is the token response shape of the Bitrix24 OAuth server
// (oauth.bitrix.info), which Bitrix24 SDKs and custom authorization
// providers expect: comma-separated scope, absolute expiry, portal fields,
// status "L" (local application). It has no token_type.
type BitrixResponse struct {
	AccessToken    string `json:"access_token"`
	RefreshToken   string `json:"refresh_token"`
	ExpiresIn      int64  `json:"expires_in"`
	Expires        int64  `json:"expires"`
	Scope          string `json:"scope"`
	Domain         string `json:"domain"`
	ServerEndpoint string `json:"server_endpoint"`
	ClientEndpoint string `json:"client_endpoint"`
	MemberID       string `json:"member_id"`
	UserID         any    `json:"user_id"`
	Status         string `json:"status"`
}

// DefaultBitrixServerEndpoint is the server_endpoint of a Bitrix24-shaped
// answer when the caller has none: the one real Bitrix24 OAuth answers
// carry. Clients store it; none of our tools serve under it.
const DefaultBitrixServerEndpoint = "https://oauth.bitrix.info/rest/"

// NewBitrixResponse describes tok in the Bitrix24 shape, as the real
// oauth.bitrix.info answers: client_endpoint is the audience (the portal's
// REST base, such as https://portal.local/rest/), server_endpoint is
// serverEndpoint (the authorization server's REST base;
// DefaultBitrixServerEndpoint when empty), domain is the host of
// server_endpoint (oauth.bitrix.info in a real answer), user_id is the
// subject (a number when it is one) and member_id comes from the token.
func NewBitrixResponse(tok string, c *Claims, refresh, serverEndpoint string, now time.Time) *BitrixResponse {
	aud := ""
	if len(c.Audience) > 0 {
		aud = c.Audience[0]
	}
	if serverEndpoint == "" {
		serverEndpoint = DefaultBitrixServerEndpoint
	}
	domain := serverEndpoint
	if u, err := url.Parse(serverEndpoint); err == nil && u.Host != "" {
		domain = u.Host
	}
	var user any = c.Subject
	if n, err := strconv.ParseInt(c.Subject, 10, 64); err == nil && strconv.FormatInt(n, 10) == c.Subject {
		user = n // only the canonical form: "007" and "+7" stay strings
	}
	return &BitrixResponse{
		AccessToken: tok, RefreshToken: refresh,
		ExpiresIn: max(c.ExpiresAt-now.Unix(), 0), Expires: c.ExpiresAt,
		Scope:  strings.Join(strings.Fields(c.Scope), ","),
		Domain: domain, ServerEndpoint: serverEndpoint, ClientEndpoint: aud,
		MemberID: c.MemberID, UserID: user, Status: "L",
	}
}

// Introspection is an RFC 7662 introspection response. Reason and Detail
// are set only by the local command line, never by the endpoint, which
// tells remote callers nothing beyond active false.
type Introspection struct {
	Active        bool     `json:"active"`
	Issuer        string   `json:"iss,omitempty"`
	Subject       string   `json:"sub,omitempty"`
	Audience      Audience `json:"aud,omitempty"`
	ClientID      string   `json:"client_id,omitempty"`
	Scope         string   `json:"scope,omitempty"`
	TokenType     string   `json:"token_type,omitempty"`
	ExpiresAt     int64    `json:"exp,omitempty"`
	IssuedAt      int64    `json:"iat,omitempty"`
	NotBefore     int64    `json:"nbf,omitempty"`
	ID            string   `json:"jti,omitempty"`
	LicenseSerial string   `json:"license_serial,omitempty"`
	Grant         string   `json:"grant,omitempty"`
	Reason        Reason   `json:"reason,omitempty"`
	Detail        string   `json:"error_description,omitempty"`
}

// Introspect describes verified claims as an active token.
func Introspect(c *Claims) *Introspection {
	return &Introspection{
		Active: true, Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience,
		ClientID: c.ClientID, Scope: c.Scope, TokenType: "Bearer",
		ExpiresAt: c.ExpiresAt, IssuedAt: c.IssuedAt, NotBefore: c.NotBefore, ID: c.ID,
		LicenseSerial: c.LicenseSerial, Grant: c.Grant,
	}
}
