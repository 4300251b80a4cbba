package seat

// This file holds the JSON bodies of every seat-server endpoint
// (docs/spec/seat-protocol-v1.md, docs/api.md), shared by the server
// (internal/seatserver) and the client. Field names follow the 1C licensing
// server (СЛК) where it has one; times are UTC ISO 8601 with seconds
// ("2026-12-01T22:25:00Z").

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/airseal/airseal/internal/strictjson"
)

// Protocol names the seat protocol version (GET /api, Protocol).
const Protocol = "airseal-seat-v1"

// DefaultPort is the seat server's default TCP port (the 1C server's).
const DefaultPort = 9099

// HTTP headers of the signed-response scheme.
const (
	// HeaderQueryID is sent by the client (16–64 of [A-Za-z0-9_-]) and
	// echoed by the server.
	HeaderQueryID = "Licence-QueryID"
	// HeaderTime is the server time the signature covers.
	HeaderTime = "Licence-Time"
	// HeaderKey is the key ID (ResponseKeyID) of the signing key.
	HeaderKey = "Licence-Key"
	// HeaderSignature is the standard base64 of the Ed25519 signature.
	HeaderSignature = "Licence-Signature"
	// HeaderLicenceSet names the set of server licenses the server
	// presents in GET /api/serverinfo (LicenceSetID). It is not signed: a
	// client that sees it differ from the value it saw when it verified
	// the licenses verifies them again before it accepts the answer (a
	// license removed or replaced takes effect at the next request, not at
	// the next scheduled re-check).
	HeaderLicenceSet = "Licence-Set"
)

// decodeAnswer decodes the body of a server's answer into v. A member
// given twice (also in another case) or named in another case than the
// protocol's ("mode" for "Mode") is refused: encoding/json would take
// it, keeping the last of two, and a client in another language would
// read the same signed answer differently. Members the client does not
// know are accepted (a newer server's additions; docs/spec/
// seat-protocol-v1.md, "JSON member names").
func decodeAnswer(body []byte, v any) error {
	if err := strictjson.CheckFields(body, v, strictjson.FieldsOptions{AllowUnknown: true}); err != nil {
		return err
	}
	return json.Unmarshal(body, v)
}

// LicenceSetID returns the Licence-Set value of the armored server
// licenses a server presents: the first 16 bytes of the SHA-256 of the
// sorted licenses, each preceded by its length, in hex ("-" for none).
func LicenceSetID(armored []string) string {
	if len(armored) == 0 {
		return "-"
	}
	sorted := append([]string(nil), armored...)
	slices.Sort(sorted)
	h := sha256.New()
	for _, a := range sorted {
		fmt.Fprintf(h, "%d:", len(a))
		h.Write([]byte(a))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// TimeFormat is the layout of every time on the wire.
const TimeFormat = "2006-01-02T15:04:05Z"

// Endpoint paths. {ID} and {KeyNo} are path segments.
const (
	PathAPI         = "/api"
	PathHealth      = "/healthz"
	PathServerInfo  = "/api/serverinfo"
	PathLicences    = "/api/licences"
	PathConnections = "/api/connections"
	PathSessions    = "/api/sessions"
)

// SessionPath returns /api/sessions/{id}.
func SessionPath(id string) string { return PathSessions + "/" + id }

// RenewPath returns /api/sessions/{id}/renew.
func RenewPath(id string) string { return PathSessions + "/" + id + "/renew" }

// Modes of a session.
const (
	ModeLicensed = "licensed"
	ModeDemo     = "demo"
)

// Roles of API callers.
const (
	RoleClient      = "client"
	RoleIntegration = "integration"
	RoleAdmin       = "admin"
)

// Error is the body of every error response (the 1C shape). Code is the
// HTTP status, Text its reason phrase, Message what went wrong and how to
// fix it, Exception empty unless the server runs with debug. The other
// fields are set by the errors that need them.
type Error struct {
	Code      int    `json:"Code"`
	Text      string `json:"Text"`
	Message   string `json:"Message"`
	Exception string `json:"Exception"`
	// Product, InUse and Seats: a 409 (no seat free).
	Product string `json:"Product,omitempty"`
	InUse   int    `json:"InUse,omitempty"`
	Seats   int    `json:"Seats,omitempty"`
	// Holders: a 409 answered to an admin caller only.
	Holders []Holder `json:"Holders,omitempty"`
	// Reason: a 410 (seat lost), why the seat was taken away.
	Reason string `json:"Reason,omitempty"`
	// RetryAfter: a 503 during the reclaim window, seconds to wait (also in
	// the Retry-After header).
	RetryAfter int `json:"RetryAfter,omitempty"`
}

// Error implements error: the status and the message.
func (e *Error) Error() string {
	return fmt.Sprintf("seat server: %d %s: %s", e.Code, e.Text, e.Message)
}

// Holder is a session holding a seat, as a 409 shows it to an admin.
type Holder struct {
	ID           string    `json:"ID"`
	UserName     string    `json:"UserName"`
	ComputerName string    `json:"ComputerName"`
	AppName      string    `json:"AppName"`
	Since        time.Time `json:"Since"`
}

// APIInfo is the body of GET /api.
type APIInfo struct {
	Version  string   `json:"Version"`
	Protocol string   `json:"Protocol"`
	Urns     []string `json:"Urns"`
}

// ServerInfo is the body of GET /api/serverinfo. ServerLicences are the
// armored v2 licenses installed, each naming this server's response key
// (ResponseKey is its key ID); a client verifies one with its vendor's
// keys. ServerLicence is the first of them ("" when none). Mode is
// "licensed", "demo" (no license installed) or "reclaim" during the window
// after a restart.
type ServerInfo struct {
	ComputerName   string    `json:"ComputerName"`
	OSType         string    `json:"OSType"`
	CPU            string    `json:"CPU"`
	PID            int       `json:"PID"`
	Version        string    `json:"Version"`
	Started        time.Time `json:"Started"`
	Time           time.Time `json:"Time"`
	ComputerID     string    `json:"ComputerID"`
	Node           string    `json:"Node"`
	ResponseKey    string    `json:"ResponseKey"`
	ServerLicence  string    `json:"ServerLicence"`
	ServerLicences []string  `json:"ServerLicences"`
	Mode           string    `json:"Mode"`
	LeaseSeconds   int       `json:"LeaseSeconds"`
}

// Licence is one installed license (GET /api/licences/{KeyNo}). KeyNo is
// the serial, KeyID the product (the 1C "series"), KeyType 3 main, 4
// additional, 5 demo as in 1C (Kind says it in words).
type Licence struct {
	KeyNo          string           `json:"KeyNo"`
	KeyID          string           `json:"KeyID"`
	KeyType        int              `json:"KeyType"`
	Kind           string           `json:"Kind"`
	MainKeyNo      string           `json:"MainKeyNo,omitempty"`
	Enabled        bool             `json:"Enabled"`
	Workable       bool             `json:"Workable"`
	Expired        bool             `json:"Expired"`
	Revoked        bool             `json:"Revoked"`
	LicenceCount   int              `json:"LicenceCount"`
	SeatUnit       string           `json:"SeatUnit"`
	InUse          int              `json:"InUse"`
	Peak           int              `json:"Peak"`
	ActivationDate time.Time        `json:"ActivationDate"`
	StartDate      time.Time        `json:"StartDate"`
	ExpireDate     *time.Time       `json:"ExpireDate"`
	DaysLeft       *int             `json:"DaysLeft"`
	CustomerName   string           `json:"CustomerName"`
	ITN            TaxID            `json:"ITN"`
	IEC            TaxID            `json:"IEC"`
	Features       map[string]int64 `json:"Features"`
	DemoLimits     map[string]int64 `json:"DemoLimits,omitempty"`
}

// Licences is the body of GET /api/licences.
type Licences struct {
	Licences []Licence `json:"Licences"`
}

// InstallRequest is the body of POST /api/licences. ActivationCodeString
// is a typed code (ASL1-…) or the armored license text. ITN and IEC
// (ИНН/КПП) must equal the tax ID signed into the license ("ITN/IEC", or
// "ITN" alone when IEC is empty). BlankKeyNo is accepted for 1C scripts
// and must be empty (there are no hardware carriers).
type InstallRequest struct {
	ActivationCodeString string `json:"ActivationCodeString"`
	ITN                  TaxID  `json:"ITN"`
	IEC                  TaxID  `json:"IEC"`
	BlankKeyNo           TaxID  `json:"BlankKeyNo,omitempty"`
}

// TaxID is an ИНН or КПП. 1C scripts send it as a JSON number or null,
// others as a string; all three decode, and it always encodes as a string
// ("" for none).
type TaxID string

// UnmarshalJSON accepts a string, a non-negative integer or null.
func (t *TaxID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*t = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = TaxID(s)
		return nil
	}
	if _, err := strconv.ParseUint(string(b), 10, 64); err != nil {
		return fmt.Errorf("tax ID %.20q: want a string, a whole number or null", b)
	}
	*t = TaxID(b)
	return nil
}

// CheckoutRequest is the body of POST /api/sessions. Product names the
// product; KeyID (the 1C "series") is accepted in its place, and when both
// are given they must be equal. SessionStarted is ISO 8601, with or
// without a zone (none means UTC, as 1C sends it).
type CheckoutRequest struct {
	Product         string `json:"Product,omitempty"`
	KeyID           string `json:"KeyID,omitempty"`
	ClientSessionID string `json:"ClientSessionID"`
	AppName         string `json:"AppName"`
	UserName        string `json:"UserName"`
	ComputerName    string `json:"ComputerName"`
	SessionStarted  string `json:"SessionStarted,omitempty"`
}

// Session is a lease: the body of a checkout, a renewal, and GET
// /api/sessions/{ID}. A demo-mode answer has Mode "demo", no ID and the
// license's demo limits in Features. RenewEvery is how often (seconds) the
// client renews; Expires is when the server reclaims the seat if it does
// not. KeyID repeats Product and UsedLicence names the product's main
// license, for 1C scripts.
type Session struct {
	ID              string           `json:"ID"`
	ClientSessionID string           `json:"ClientSessionID"`
	Product         string           `json:"Product"`
	KeyID           string           `json:"KeyID"`
	Mode            string           `json:"Mode"`
	UsedLicence     string           `json:"UsedLicence,omitempty"`
	AppName         string           `json:"AppName"`
	UserName        string           `json:"UserName"`
	ComputerName    string           `json:"ComputerName"`
	SessionStarted  *time.Time       `json:"SessionStarted"`
	Granted         time.Time        `json:"Granted"`
	Expires         time.Time        `json:"Expires"`
	ExpireTime      time.Time        `json:"ExpireTime"`
	Expired         bool             `json:"Expired"`
	RenewEvery      int              `json:"RenewEvery"`
	Features        map[string]int64 `json:"Features"`
}

// Sessions is the body of GET /api/sessions.
type Sessions struct {
	Sessions []Session `json:"Sessions"`
}

// Release is the body of DELETE /api/sessions/{ID}: Released is false
// (status 202) when there was no such lease any more.
type Release struct {
	ID       string `json:"ID"`
	Released bool   `json:"Released"`
}

// Connection is a computer holding seats (GET /api/connections/{ID}). ID
// is derived from the computer name.
type Connection struct {
	ID           string    `json:"ID"`
	ComputerName string    `json:"ComputerName"`
	Products     []string  `json:"Products"`
	Sessions     int       `json:"Sessions"`
	Created      time.Time `json:"Created"`
	ExpireTime   time.Time `json:"ExpireTime"`
}

// Connections is the body of GET /api/connections.
type Connections struct {
	Connections []Connection `json:"Connections"`
}

// RevocationsRequest is the body of POST /api/revocations: a revocation
// list signed by a vendor key the server trusts (armored or raw base64).
type RevocationsRequest struct {
	RevocationList string `json:"RevocationList"`
}

// RevocationsResult is the answer: the list applied and the installed
// licenses it revoked (their seats go at once; sessions are told at their
// next renewal).
type RevocationsResult struct {
	KeyID    string   `json:"KeyID"`
	Sequence uint64   `json:"Sequence"`
	Revoked  []string `json:"Revoked"`
}

// PathRevocations is the endpoint that takes revocation lists.
const PathRevocations = "/api/revocations"
