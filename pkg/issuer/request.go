package issuer

import (
	"strings"

	"github.com/airseal/airseal/pkg/hwid"
)

// ParseRequest reads a license request: the JSON file written by 'hwid
// request', or its typed code (ASR1-...) however it was typed: in lower
// case, with dashes missing or misplaced, with spaces or line breaks.
func ParseRequest(data []byte) (*hwid.Request, error) {
	if code, ok := RequestCode(string(data)); ok {
		data = []byte(code)
	}
	return hwid.ParseRequest(data)
}

// RequestCode reports whether s is a license request's typed code, however
// typed, and returns it with its prefix in the canonical form ("ASR1-"
// followed by the rest without spaces or dashes), which hwid.ParseRequest
// reads. s that is not a code (a file name, JSON) returns false.
func RequestCode(s string) (string, bool) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '-' || r == ' ' || r == '\t' || r == '\r' || r == '\n':
		case r < 0x80 && (r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z'):
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	c := strings.ToUpper(b.String())
	p := hwid.CodePrefix
	if len(c) <= len(p)+4 || c[:len(p)] != p {
		return "", false
	}
	return p + "-" + c[len(p):], true
}
