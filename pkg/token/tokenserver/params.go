package tokenserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// OAuthError is an RFC 6749 §5.2 error response with its HTTP status.
type OAuthError struct {
	Status      int    `json:"-"`
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	// RetryAfter, in seconds, is sent as a Retry-After header when set.
	RetryAfter int `json:"-"`
}

// Error returns the error code and description.
func (e *OAuthError) Error() string { return e.Code + ": " + e.Description }

func oauthErr(status int, code, format string, args ...any) *OAuthError {
	return &OAuthError{Status: status, Code: code, Description: errorText(fmt.Sprintf(format, args...))}
}

// errorText makes s a valid error_description (RFC 6749 §5.2: printable
// ASCII without '"' and '\'): double quotes become single ones, anything
// else outside the set becomes '?', and it is cut to 200 characters, since
// parts of it (a path, a grant type) come from the request.
func errorText(s string) string {
	b := make([]byte, 0, min(len(s), 200))
	for _, r := range s {
		if len(b) >= 200 {
			break
		}
		switch {
		case r == '"':
			b = append(b, '\'')
		case r == '\\' || r < 0x20 || r > 0x7e:
			b = append(b, '?')
		default:
			b = append(b, byte(r))
		}
	}
	return string(b)
}

// ParseParams parses the parameters of an OAuth request body. Bodies are
// application/x-www-form-urlencoded as RFC 6749 requires; a flat JSON object
// of strings is also accepted for clients that send JSON. A parameter given
// twice, an unknown content type or a body that does not parse is an
// invalid_request error.
func ParseParams(contentType string, body []byte) (url.Values, *OAuthError) {
	mt, _, err := mime.ParseMediaType(contentType)
	if contentType == "" || err != nil {
		return nil, oauthErr(http.StatusBadRequest, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
	}
	switch mt {
	case "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, oauthErr(http.StatusBadRequest, "invalid_request", "body is not valid form encoding")
		}
		return v, checkOnce(v)
	case "application/json":
		v, ok := parseJSONParams(body)
		if !ok {
			return nil, oauthErr(http.StatusBadRequest, "invalid_request", "body is not a JSON object of string values")
		}
		return v, checkOnce(v)
	}
	return nil, oauthErr(http.StatusBadRequest, "invalid_request", "Content-Type %q is not supported; use application/x-www-form-urlencoded", mt)
}

// checkOnce enforces RFC 6749 §3.1: parameters must not be repeated.
func checkOnce(v url.Values) *OAuthError {
	for k, x := range v {
		if len(x) > 1 {
			return oauthErr(http.StatusBadRequest, "invalid_request", "parameter %q is given more than once", k)
		}
	}
	return nil
}

// ParseBasicAuth decodes an HTTP Basic Authorization header value into a
// client_id and secret, undoing the form-encoding RFC 6749 §2.3.1 applies to
// both. ok is false when the header is not Basic or does not decode.
func ParseBasicAuth(h string) (id, secret string, ok bool) {
	const prefix = "Basic "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(h[len(prefix):]))
	if err != nil {
		return "", "", false
	}
	i, s, found := strings.Cut(string(raw), ":")
	if !found {
		return "", "", false
	}
	id, err1 := url.QueryUnescape(i)
	secret, err2 := url.QueryUnescape(s)
	if err1 != nil || err2 != nil {
		return "", "", false
	}
	return id, secret, true
}

// parseJSONParams reads a flat JSON object of strings, keeping repeated
// keys so that checkOnce can refuse them.
func parseJSONParams(body []byte) (url.Values, bool) {
	d := json.NewDecoder(bytes.NewReader(body))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	v := url.Values{}
	for d.More() {
		k, err := d.Token()
		if err != nil {
			return nil, false
		}
		x, err := d.Token()
		xs, ok := x.(string)
		if err != nil || !ok {
			return nil, false
		}
		v.Add(k.(string), xs)
	}
	if t, err := d.Token(); err != nil || t != json.Delim('}') {
		return nil, false
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, false
	}
	return v, true
}
