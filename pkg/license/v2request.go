package license

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/airseal/airseal/internal/strictjson"
	"github.com/airseal/airseal/pkg/hwid"
)

// MaxServerRequest is the largest server request ParseServerRequest reads.
const MaxServerRequest = 1 << 20

// ServerRequest is what `license-server init` writes for the vendor: a
// machine license request (hwid.Request, the machine's fingerprint and
// virtualization verdict) plus the node's name and the server's public
// response key. The vendor issues a v2 license from it that binds that
// machine and that key (pkg/issuer). It is not signed: the vendor decides
// whether to trust it, and the binding rule is always the vendor's policy.
//
// Its JSON is the v1 request's with two more fields, "node" and
// "response_key" (standard base64 of the 32-byte key). The v1 parser
// (hwid.ParseRequest) refuses it for those unknown fields, so a server
// request can never be issued as a client license by mistake.
type ServerRequest struct {
	hwid.Request
	// Node is the node's name: 1..64 characters of a-z, 0-9, '_', '.', '-'.
	Node string `json:"node"`
	// ResponseKey is the server's Ed25519 public response key.
	ResponseKey ed25519.PublicKey `json:"response_key"`
}

// Validate checks that a server request is complete and within limits.
func (r *ServerRequest) Validate() error {
	if err := r.Request.Validate(); err != nil {
		return fmt.Errorf("server %w", err)
	}
	if err := checkName(r.Node); err != nil {
		return fmt.Errorf("server license request: node: %v", err)
	}
	if len(r.ResponseKey) != ed25519.PublicKeySize {
		return fmt.Errorf("server license request: response_key is %d bytes, want %d (base64 of an Ed25519 public key)", len(r.ResponseKey), ed25519.PublicKeySize)
	}
	return nil
}

// Marshal returns the request as indented JSON ending in a newline.
func (r *ServerRequest) Marshal() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ParseServerRequest reads a server request written by `license-server
// init`. Unknown fields, trailing data and oversized input are refused.
func ParseServerRequest(data []byte) (*ServerRequest, error) {
	if len(data) > MaxServerRequest {
		return nil, fmt.Errorf("server license request is %d bytes; at most %d", len(data), MaxServerRequest)
	}
	if !strings.HasPrefix(strings.TrimSpace(string(data)), "{") {
		return nil, errors.New("not a server license request: want the server-request.json written by license-server init")
	}
	if err := strictjson.Check(data); err != nil {
		return nil, fmt.Errorf("server license request: %w", err)
	}
	var r ServerRequest
	if err := strictjson.CheckFields(data, &r, strictjson.FieldsOptions{}); err != nil {
		return nil, fmt.Errorf("server license request: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("server license request: %w", err)
	}
	if dec.More() {
		return nil, errors.New("server license request: data after the JSON object")
	}
	if r.Virtualization.Evidence == nil {
		r.Virtualization.Evidence = []string{}
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Code refuses: a server request carries a public key too long to type, so
// it travels only as the file. (It shadows hwid.Request.Code, whose code
// would leave the key out.)
func (r *ServerRequest) Code() (string, error) {
	return "", errors.New("a server license request has no typed code: send the server-request.json file to the vendor")
}
