package issuer

import "github.com/airseal/airseal/pkg/hwid"

// ParseRequest reads a license request: the JSON file written by 'hwid
// request', or its typed code (ASR1-...) however it was typed: in lower
// case, with dashes missing or misplaced, with spaces or line breaks
// (internal/typedcode's one test, which hwid.ParseRequest applies).
func ParseRequest(data []byte) (*hwid.Request, error) {
	return hwid.ParseRequest(data)
}
