package seat

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Errors returned by the Client, matched with errors.Is. cmd/seat maps each
// to an exit code of internal/cli.
var (
	// ErrUnreachable: no server of the list could be reached (connection
	// refused, name not resolved, timeout, TLS failure).
	ErrUnreachable = errors.New("no license server could be reached")
	// ErrUntrustedServer: the server's license does not verify with the
	// vendor's keys, or a response is not signed by a key that license
	// names. A fake server is refused with this error.
	ErrUntrustedServer = errors.New("the license server is not trusted")
	// ErrReplay: a response does not carry the query ID this client sent
	// (a recorded answer played back), or its signed time is too far from
	// this machine's clock (then it also matches ErrClockSkew).
	ErrReplay = errors.New("the response was replayed or is stale")
	// ErrClockSkew: the server's signed time and this machine's clock differ
	// by more than MaxResponseAge.
	ErrClockSkew = errors.New("server and client clocks differ too much")
	// ErrNoSeat: every seat of the product is in use (409). The error is a
	// *NoSeatError that says how many.
	ErrNoSeat = errors.New("no free seat")
	// ErrUnauthorized: the server refused the credentials (401).
	ErrUnauthorized = errors.New("authentication failed")
	// ErrForbidden: the credentials may not do this, or the server refuses
	// this address (IP list) (403).
	ErrForbidden = errors.New("not allowed")
	// ErrDeviceNotApproved: the device is pending or denied by the
	// administrator. The error is a *DeviceError with the state.
	ErrDeviceNotApproved = errors.New("device not approved")
	// ErrRateLimited: too many failed logins from this address (429); the
	// server refuses it, right credentials too, for a while.
	ErrRateLimited = errors.New("too many failed logins from this address")
	// ErrUnknownLease: the server does not know the lease (404): it expired
	// and was reclaimed, or it never existed.
	ErrUnknownLease = errors.New("unknown or expired lease")
	// ErrLeaseLost: the server took the seat away (410) because the license
	// that held it was removed, revoked or expired.
	ErrLeaseLost = errors.New("seat lost")
	// ErrStarting: the server is reclaiming leases after a restart (503);
	// the client retries later.
	ErrStarting = errors.New("server is starting")
	// ErrBadRequest: the server refused a request field (400).
	ErrBadRequest = errors.New("invalid request")
	// ErrServer: any other error status from a trusted server.
	ErrServer = errors.New("license server error")
	// ErrGraceEnded: every server stayed unreachable until the lease
	// expired; passed to OnLost (together with the last failure).
	ErrGraceEnded = errors.New("grace period ended: the lease expired while no server could be reached")
	// ErrClosed: the lease was closed by its owner.
	ErrClosed = errors.New("lease closed")
)

// StatusError is an error status answered by a license server, with the
// server's explanation (cleaned of control and bidi characters).
type StatusError struct {
	// Server is the base URL that answered.
	Server string
	// Status is the HTTP status code.
	Status int
	// Text is the short reason ("Conflict") and Message the server's
	// explanation naming the field and the fix.
	Text, Message string
	// Reason is why a seat was lost (410), when the server says.
	Reason string
	// Verified is true when the answer's signature verified. A refusal
	// from a server not (yet) trusted, e.g. a 401 before the server's
	// license could be fetched, is reported but not verified.
	Verified bool
}

func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d %s", e.Server, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	} else if e.Text != "" && e.Text != http.StatusText(e.Status) {
		b.WriteString(": " + e.Text)
	}
	if e.Reason != "" && !strings.Contains(e.Message, e.Reason) {
		b.WriteString(" (" + e.Reason + ")")
	}
	if !e.Verified {
		b.WriteString(" [answer not signed by a trusted key]")
	}
	return b.String()
}

// Unwrap returns the sentinel that matches the status.
func (e *StatusError) Unwrap() error {
	switch e.Status {
	case http.StatusUnauthorized:
		return ErrUnauthorized
	case http.StatusForbidden:
		return ErrForbidden
	case http.StatusNotFound:
		return ErrUnknownLease
	case http.StatusConflict:
		return ErrNoSeat
	case http.StatusGone:
		return ErrLeaseLost
	case http.StatusServiceUnavailable:
		return ErrStarting
	case http.StatusTooManyRequests:
		return ErrRateLimited
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return ErrBadRequest
	}
	return ErrServer
}

// NoSeatError is ErrNoSeat with how many seats are in use.
type NoSeatError struct {
	*StatusError
	// Product is the product asked for.
	Product string
	// InUse and Seats are the seats in use and licensed, when the server
	// says (0 when it does not).
	InUse, Seats int
	// Holders are who holds the seats; only an admin caller gets them.
	Holders []Holder
}

// Unwrap returns ErrNoSeat and the *StatusError.
func (e *NoSeatError) Unwrap() []error { return []error{ErrNoSeat, e.StatusError} }

// DeviceError is ErrDeviceNotApproved with the device's state and the
// message the client should show.
type DeviceError struct {
	*StatusError
	// State is pending, denied, no_seat or subscription_ended.
	State string
}

// Unwrap returns ErrDeviceNotApproved and the *StatusError.
func (e *DeviceError) Unwrap() []error { return []error{ErrDeviceNotApproved, e.StatusError} }

// ServerFailure is one server's failure during a pass over the list.
type ServerFailure struct {
	Server string
	Err    error
}

// ListError is returned when no server of the list gave an answer that
// could be used: every server's failure, in the order tried. It matches
// ErrUntrustedServer if any server was untrusted (a fake server in the
// list is never hidden behind "unreachable"), otherwise ErrUnreachable.
type ListError struct {
	Failures []ServerFailure
}

func (e *ListError) Error() string {
	parts := make([]string, len(e.Failures))
	for i, f := range e.Failures {
		parts[i] = f.Err.Error()
	}
	head := ErrUnreachable.Error()
	if errors.Is(e, ErrUntrustedServer) || !errors.Is(e, ErrUnreachable) {
		head = "no trusted license server answered"
	}
	return head + ": " + strings.Join(parts, "; ")
}

func (e *ListError) untrusted() error {
	for _, f := range e.Failures {
		if errors.Is(f.Err, ErrUntrustedServer) || errors.Is(f.Err, ErrReplay) {
			return f.Err
		}
	}
	return nil
}

// Unwrap returns the untrusted-server failure if there is one, else a
// refusal a server answered (e.g. 401 before its license could be
// fetched), else ErrUnreachable together with the last failure.
func (e *ListError) Unwrap() []error {
	if u := e.untrusted(); u != nil {
		return []error{u}
	}
	for _, f := range e.Failures {
		var se *StatusError
		if errors.As(f.Err, &se) && se.Status != http.StatusServiceUnavailable && se.Status < 500 {
			return []error{f.Err}
		}
	}
	errs := []error{ErrUnreachable}
	if n := len(e.Failures); n > 0 {
		errs = append(errs, e.Failures[n-1].Err)
	}
	return errs
}
