package seatserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/airseal/airseal/internal/loginlimit"
	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/internal/users"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/seat"
)

// RoleViewer may read the admin lists but change nothing (a console user
// of internal/users).
const RoleViewer = "viewer"

// caller is who made a request.
type caller struct {
	name string
	role string // seat.RoleClient, RoleIntegration, RoleAdmin or RoleViewer
}

// request is what a handler gets.
type request struct {
	r      *http.Request
	qid    string // the client's Licence-QueryID
	caller caller
	params params
	body   []byte
	// pre is the answer encoded ahead (applyThen), signed and sent when
	// the handler answers with its status.
	pre *signedAnswer
}

// signedAnswer is an encoded answer, signed or to be signed.
type signedAnswer struct {
	status  int
	body    []byte
	time    string
	sig     string
	proof   string // Licence-Signature-Proof; "" when signed alone
	encoded bool   // false: encoding failed, writeJSON answers 500

	// An answer prepared ahead is signed in writeSigned: msg is what to
	// sign, leaf its leaf hash when batch (its client accepts a batched
	// signature).
	msg   []byte
	leaf  seat.Hash
	batch bool
}

// prepare encodes v as q's answer with status ahead of time, while the
// change commits, with its signed message and leaf hash. The signature
// itself is made when the answer is sent (writeSigned): the answers of
// one commit become ready at the same instant, so they share one
// signature (batchsign.go).
func (q *request) prepare(s *Server, status int, v any) {
	a := s.encodeAnswer(q.r, q.qid, status, v)
	q.pre = &a
}

// answer is what a handler returns: a status and a value to encode.
type answer struct {
	status int
	body   any
}

type handlerFunc func(s *Server, q *request) (answer, error)

// Route is one endpoint of the API: method, path pattern ({Name} matches
// one segment), the roles allowed (nil: no authentication) and a summary.
type Route struct {
	Method  string
	Pattern string
	Roles   []string
	Summary string
	handle  handlerFunc
}

var (
	anyCaller = []string{seat.RoleClient, seat.RoleIntegration, seat.RoleAdmin, RoleViewer}
	seatUsers = []string{seat.RoleClient, seat.RoleIntegration, seat.RoleAdmin}
	readers   = []string{seat.RoleAdmin, RoleViewer}
	admins    = []string{seat.RoleAdmin}
)

// routes is the API. docs/api.md documents exactly these (TestAPIDocs).
// (Set in init: getAPI reads it.)
var routes []Route

func init() {
	routes = []Route{
		{"GET", seat.PathAPI, nil, "protocol version and endpoints", (*Server).getAPI},
		{"GET", seat.PathServerInfo, anyCaller, "the server, its time and its licenses", (*Server).getServerInfo},
		{"GET", seat.PathLicences, readers, "installed licenses", (*Server).getLicences},
		{"POST", seat.PathLicences, admins, "install a license", (*Server).postLicences},
		{"GET", seat.PathLicences + "/{KeyNo}", readers, "one installed license", (*Server).getLicence},
		{"DELETE", seat.PathLicences + "/{KeyNo}", admins, "remove a license", (*Server).deleteLicence},
		{"POST", seat.PathRevocations, admins, "apply a signed revocation list", (*Server).postRevocations},
		{"GET", seat.PathConnections, readers, "computers holding seats", (*Server).getConnections},
		{"GET", seat.PathConnections + "/{ID}", readers, "one computer", (*Server).getConnection},
		{"GET", seat.PathSessions, readers, "every lease", (*Server).getSessions},
		{"POST", seat.PathSessions, seatUsers, "check out a seat", (*Server).postSessions},
		{"GET", seat.PathSessions + "/{ID}", anyCaller, "one lease", (*Server).getSession},
		{"DELETE", seat.PathSessions + "/{ID}", seatUsers, "release a lease (admin: force-release)", (*Server).deleteSession},
		{"POST", seat.PathSessions + "/{ID}/renew", seatUsers, "renew a lease", (*Server).renewSession},
	}
	routes = append(routes, deviceRoutes()...)
}

// Routes returns the API's endpoints (for docs and tests).
func Routes() []Route { return append([]Route(nil), routes...) }

// params are the {Name} segments of a request's path (a pattern has at
// most maxParams; TestRoutePatterns).
type params struct {
	n     int
	names [maxParams]string
	vals  [maxParams]string
}

const maxParams = 2

// get returns the segment named name ("" when the pattern has none).
func (p *params) get(name string) string {
	for i := 0; i < p.n; i++ {
		if p.names[i] == name {
			return p.vals[i]
		}
	}
	return ""
}

func match(pattern, path string, ps *params) bool {
	// Segment by segment without splitting or allocating: every request
	// tries the routes until one matches.
	ps.n = 0
	for {
		p, prest, pmore := strings.Cut(pattern, "/")
		x, xrest, xmore := strings.Cut(path, "/")
		if len(p) >= 2 && p[0] == '{' && p[len(p)-1] == '}' {
			if x == "" || ps.n == maxParams {
				return false
			}
			ps.names[ps.n], ps.vals[ps.n] = p[1:len(p)-1], x
			ps.n++
		} else if p != x {
			return false
		}
		if pmore != xmore {
			return false
		}
		if !pmore {
			return true
		}
		pattern, path = prest, xrest
	}
}

// queryIDKey is the Licence-QueryID header's key as net/http keeps it
// (canonical: "Licence-Queryid"), so reading and setting it needs no
// canonicalisation (and no allocation) per request.
var queryIDKey = textproto.CanonicalMIMEHeaderKey(seat.HeaderQueryID)

// Handler returns the HTTP handler: /healthz, and the API under /api.
// A server opened without its private key (Config.PublicKey) cannot sign
// and answers every request with an unsigned 503.
func (s *Server) Handler() http.Handler {
	if s.cfg.Key == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "license server opened without its response key", http.StatusServiceUnavailable)
		})
	}
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if path == seat.PathHealth {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		if s.DatabaseDown() {
			w.Header().Set("Retry-After", strconv.Itoa(DatabaseRetryAfter))
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "database unreachable\n")
			return
		}
		_, _ = io.WriteString(w, "ok\n")
		return
	}
	if s.serveConsole(w, r) {
		return
	}
	if path != seat.PathAPI && !strings.HasPrefix(path, seat.PathAPI+"/") {
		s.writeJSON(w, r, "", false, http.StatusNotFound, errBody(http.StatusNotFound, "no such page: the API is under /api (GET /api lists it) and health under /healthz"))
		return
	}
	var qid string
	if v := r.Header[queryIDKey]; len(v) > 0 {
		qid = v[0]
	}
	if qid != "" {
		if err := CheckQueryID(qid); err != nil {
			s.fail(w, r, "", caller{}, err)
			return
		}
	}
	if s.refuseAddr(w, r, qid) {
		return
	}
	q := &request{r: r, qid: qid}
	var rt *Route
	for i := range routes {
		if routes[i].Method == r.Method && match(routes[i].Pattern, path, &q.params) {
			rt = &routes[i]
			break
		}
	}
	if rt == nil {
		var allow []string
		var ps params
		for i := range routes {
			if match(routes[i].Pattern, path, &ps) {
				allow = append(allow, routes[i].Method)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.fail(w, r, qid, caller{}, &statusError{http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s; use %s", safetext.Clean(r.Method), safetext.Clean(path), strings.Join(allow, " or "))})
			return
		}
		s.fail(w, r, qid, caller{}, &statusError{http.StatusNotFound, fmt.Sprintf("no endpoint %s; GET /api lists them", safetext.Clean(path))})
		return
	}
	if rt.Roles != nil {
		c, err := s.authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Basic realm="airseal license server", charset="UTF-8"`)
			s.fail(w, r, qid, caller{}, err)
			return
		}
		q.caller = c
		allowed := false
		for _, role := range rt.Roles {
			allowed = allowed || role == c.role
		}
		if !allowed {
			s.fail(w, r, qid, c, &statusError{http.StatusForbidden, fmt.Sprintf("%s %s needs the role %s; %s has the role %s", rt.Method, rt.Pattern, strings.Join(rt.Roles, " or "), c.name, c.role)})
			return
		}
	}
	// (A POST without a body, a renewal, has nothing to read.)
	if r.Method == http.MethodPost && r.Body != http.NoBody {
		limit := int64(MaxBody)
		switch rt.Pattern {
		case seat.PathLicences:
			limit = MaxLicenceBody
		case seat.PathRevocations:
			limit = MaxRevocationsBody
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				s.fail(w, r, qid, q.caller, &statusError{http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over %d bytes", limit)})
				return
			}
			s.fail(w, r, qid, q.caller, badRequest("reading the body: %v", err))
			return
		}
		q.body = body
	}
	a, err := rt.handle(s, q)
	if err != nil {
		s.fail(w, r, qid, q.caller, err)
		return
	}
	if q.pre != nil && q.pre.status == a.status && q.pre.encoded {
		s.writeSigned(w, qid, *q.pre)
	} else {
		s.writeJSON(w, r, qid, true, a.status, a.body)
	}
	s.log.Debug("request", "method", r.Method, "path", safetext.Clean(path), "status", a.status, "caller", q.caller.name)
}

// statusError is an error with its HTTP status.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return e.msg }

func errBody(status int, msg string) *seat.Error {
	return &seat.Error{Code: status, Text: http.StatusText(status), Message: msg}
}

// fail answers err as the 1C error body with the status its kind maps to.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, qid string, c caller, err error) {
	e := s.errorBody(err, c)
	if (e.Code == http.StatusServiceUnavailable || e.Code == http.StatusTooManyRequests) && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	lvl := "client error"
	if e.Code >= 500 {
		lvl = "server error"
		s.log.Error(lvl, "method", r.Method, "path", safetext.Clean(r.URL.Path), "status", e.Code, "caller", c.name, "err", safetext.Clean(err.Error()))
	} else {
		s.log.Info(lvl, "method", r.Method, "path", safetext.Clean(r.URL.Path), "status", e.Code, "caller", c.name, "msg", e.Message)
	}
	s.writeJSON(w, r, qid, true, e.Code, e)
}

// errorBody maps an error to the 1C error body.
func (s *Server) errorBody(err error, c caller) *seat.Error {
	status := http.StatusInternalServerError
	msg := err.Error()
	var se *statusError
	var nse *seats.NoSeatError
	var le *limitError
	var be *users.BusyError
	var e *seat.Error
	switch {
	case errors.As(err, &le):
		e = errBody(http.StatusTooManyRequests, le.Error())
		e.RetryAfter = loginlimit.RetryAfter(le.wait)
	case errors.As(err, &be):
		e = errBody(http.StatusServiceUnavailable, be.Error()+"; API tokens are not affected (license-server token add)")
		e.RetryAfter = int(be.Wait.Seconds()) + 1
	case errors.As(err, &se):
		status = se.status
	case errors.As(err, &nse):
		e = errBody(http.StatusConflict, fmt.Sprintf("%s; try again later, or ask the administrator to free a seat", nse.Error()))
		e.Product, e.InUse, e.Seats = nse.Product, nse.InUse, nse.Seats
		if c.role == seat.RoleAdmin {
			holders := nse.Holders
			if holders == nil {
				s.mu.Lock()
				holders = s.core.Holders(nse.Product, seats.MaxHolders)
				s.mu.Unlock()
			}
			e.Holders = make([]seat.Holder, 0, len(holders))
			for _, h := range holders {
				e.Holders = append(e.Holders, seat.Holder{ID: h.ID, UserName: h.UserName, ComputerName: h.ComputerName, AppName: h.AppName, Since: wireTime(h.Granted)})
			}
		}
	case errors.Is(err, seats.ErrStarting):
		status = http.StatusServiceUnavailable
		e = errBody(status, "the server restarted and is waiting one lease lifetime for its sessions to renew before it hands out freed seats; retry after Retry-After seconds")
		if d := s.ReclaimUntil().Sub(s.now()); d > 0 {
			e.RetryAfter = int(d.Seconds()) + 1
		} else {
			e.RetryAfter = 1
		}
	case errors.Is(err, seats.ErrUnknownLease):
		status = http.StatusNotFound
		msg = "no such lease: it was released, or it expired and was reclaimed; check out a new seat"
	case errors.Is(err, seats.ErrLost):
		e = errBody(http.StatusGone, "the seat was taken away: "+strings.TrimPrefix(msg, seats.ErrLost.Error()+": "))
		e.Reason = strings.TrimPrefix(msg, seats.ErrLost.Error()+": ")
	case errors.Is(err, ErrNoLicense):
		status = http.StatusNotFound
	case errors.Is(err, ErrBadRequest), errors.Is(err, seats.ErrRequest), errors.Is(err, seats.ErrInstall),
		errors.Is(err, ErrTaxID), errors.Is(err, ErrNotServerLicense),
		errors.Is(err, license.ErrMalformed), errors.Is(err, license.ErrUnknownKey), errors.Is(err, license.ErrBadSignature),
		errors.Is(err, license.ErrExpired), errors.Is(err, license.ErrNotYetValid), errors.Is(err, license.ErrRevoked),
		errors.Is(err, license.ErrWrongMachine), errors.Is(err, license.ErrVirtualMachine), errors.Is(err, license.ErrWrongProduct),
		errors.Is(err, license.ErrClockRollback):
		status = http.StatusBadRequest
	case errors.Is(err, ErrDatabaseUnreachable):
		e = errBody(http.StatusServiceUnavailable, "this node cannot reach the seat database (PostgreSQL), so it grants and renews no seat until it can: use another node of the cluster, or retry after Retry-After seconds")
		e.RetryAfter = DatabaseRetryAfter
	case errors.Is(err, errCommitterClosed), errors.Is(err, errNotDurable):
		e = errBody(http.StatusServiceUnavailable, "the change could not be saved; nothing was acknowledged, retry")
		e.RetryAfter = 1
	}
	if e == nil {
		if status == http.StatusInternalServerError {
			msg = "internal error; the server log has the details"
		}
		e = errBody(status, safetext.Clean(msg))
	} else {
		e.Message = safetext.Clean(e.Message)
	}
	if s.cfg.Debug {
		e.Exception = fmt.Sprintf("%T: %s", err, safetext.Clean(err.Error()))
	}
	return e
}

// errNotDurable: the store could not save a change (503, retry).
var errNotDurable = errors.New("not durable")

// writeJSON writes v as the response; signed adds the signature headers.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, qid string, signed bool, status int, v any) {
	if signed {
		s.writeSigned(w, qid, s.sign(r, qid, status, v))
		return
	}
	body, status, _ := encodeJSON(s, status, v)
	s.writeBody(w, status, body)
}

// encodeJSON is v's JSON and a newline, or a 500 error body when v does
// not encode (ok false).
func encodeJSON(s *Server, status int, v any) (body []byte, st int, ok bool) {
	// The answer to every checkout and renewal, encoded without
	// reflection (encode.go).
	if sess, isSession := v.(seat.Session); isSession {
		if b, ok := appendSession(make([]byte, 0, 640), &sess); ok {
			return append(b, '\n'), status, true
		}
	}
	body, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encoding a response", "err", err)
		return []byte(`{"Code":500,"Text":"Internal Server Error","Message":"internal error; the server log has the details","Exception":""}` + "\n"), http.StatusInternalServerError, false
	}
	return append(body, '\n'), status, true
}

// sign encodes v and signs it as the answer to r with status: alone, or,
// when r's client accepts it (Licence-Signature-Batch) and other answers
// are being signed at the same time, as one of a batch (batchsign.go).
func (s *Server) sign(r *http.Request, qid string, status int, v any) signedAnswer {
	a := s.encodeAnswer(r, qid, status, v)
	s.signAnswer(&a)
	return a
}

// encodeAnswer encodes v as the answer to r with status, its signed
// message and, when r's client accepts batches, its leaf hash: all but
// the signature.
func (s *Server) encodeAnswer(r *http.Request, qid string, status int, v any) signedAnswer {
	body, status, ok := encodeJSON(s, status, v)
	t := s.now().UTC().Format(seat.TimeFormat)
	resp := seat.Response{QueryID: qid, Method: r.Method, Path: r.URL.EscapedPath(), Status: status, Time: t, Body: body}
	a := signedAnswer{status: status, body: body, time: t, encoded: ok, msg: resp.Message(), batch: acceptsBatch(r)}
	if a.batch {
		a.leaf = seat.MessageLeafHash(a.msg)
	}
	return a
}

// signAnswer signs an encoded answer (once).
func (s *Server) signAnswer(a *signedAnswer) {
	if a.msg == nil {
		return
	}
	sig, proof := s.signer.sign(s.cfg.Key, a.msg, a.leaf, a.batch)
	a.sig, a.proof, a.msg = base64.StdEncoding.EncodeToString(sig), proof, nil
}

// acceptsBatch reports whether r's client verifies batched signatures:
// exactly one Licence-Signature-Batch header, of value 1.
func acceptsBatch(r *http.Request) bool {
	v := r.Header[seat.HeaderSignatureBatch]
	return len(v) == 1 && v[0] == seat.BatchAccept
}

// writeSigned signs a (when not yet signed) and writes it.
func (s *Server) writeSigned(w http.ResponseWriter, qid string, a signedAnswer) {
	s.signAnswer(&a)
	h := w.Header()
	if qid != "" {
		h[queryIDKey] = []string{qid}
	}
	h.Set(seat.HeaderTime, a.time)
	h.Set(seat.HeaderKey, s.keyID)
	h.Set(seat.HeaderLicenceSet, s.licenceSet())
	h.Set(seat.HeaderSignature, a.sig)
	if a.proof != "" {
		h.Set(seat.HeaderSignatureProof, a.proof)
	}
	s.writeBody(w, a.status, a.body)
}

// smallBody is the largest body net/http gives a Content-Length itself
// (its buffer before it would send chunks).
const smallBody = 2000

func (s *Server) writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	// One array for the values (h.Set allocates one each); each value's
	// slice has capacity 1, so an append elsewhere copies.
	v := [...]string{"application/json; charset=utf-8", "no-store", "nosniff", ""}
	vals := v[:]
	h["Content-Type"] = vals[0:1:1]
	h["Cache-Control"] = vals[1:2:2]
	h["X-Content-Type-Options"] = vals[2:3:3]
	// net/http sets Content-Length itself for a body it holds whole when
	// the handler returns (up to its 2048-byte buffer: every checkout and
	// renewal). Leaving it out keeps a signed answer's headers at eight
	// or fewer, the most a Go map holds without a table of its own (both
	// the handler's header map and the copy net/http makes of it).
	if len(body) > smallBody {
		vals[3] = strconv.Itoa(len(body))
		h["Content-Length"] = vals[3:4:4]
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// authenticate checks HTTP Basic credentials: an API token, else a user
// of internal/users.
func (s *Server) authenticate(r *http.Request) (caller, error) {
	name, secret, ok := r.BasicAuth()
	if !ok {
		return caller{}, &statusError{http.StatusUnauthorized, "authentication required: HTTP Basic with a token name and token (license-server token add NAME), or an admin user"}
	}
	addr := loginlimit.RemoteAddr(r)
	limited := s.cfg.Exempt == nil || !s.cfg.Exempt(addr)
	key := loginlimit.AddrKey(addr)
	if limited {
		if wait, blocked := s.cfg.LoginLimit.Blocked(key, s.now()); blocked {
			return caller{}, &limitError{wait}
		}
	}
	c, err := s.checkCredentials(r, name, secret)
	if err != nil && limited {
		var se *statusError
		if errors.As(err, &se) && se.status == http.StatusUnauthorized {
			s.cfg.LoginLimit.Fail(key, s.now())
		}
	}
	return c, err
}

// limitError: too many failed logins from this address (429).
type limitError struct{ wait time.Duration }

func (e *limitError) Error() string {
	return fmt.Sprintf("too many failed logins from this address; retry in %d s", loginlimit.RetryAfter(e.wait))
}

// checkCredentials checks a token, else a user's password.
func (s *Server) checkCredentials(r *http.Request, name, secret string) (caller, error) {
	bad := &statusError{http.StatusUnauthorized, "wrong name or token"}
	if len(name) > 64 || len(secret) > 256 {
		return caller{}, bad
	}
	sum := sha256.Sum256([]byte(secret))
	s.mu.Lock()
	t, found := s.tokens[name]
	s.mu.Unlock()
	if !found && s.tokensMayHaveChanged() {
		// A name the server does not know may be a token added since: with
		// a stamp file, when the stamp changed (a stat, no store read for
		// unknown names otherwise); without one, at most one reload per
		// tokenReload.
		s.reloadTokens(r.Context())
		s.mu.Lock()
		t, found = s.tokens[name]
		s.mu.Unlock()
	}
	if found {
		if subtle.ConstantTimeCompare(sum[:], t.SHA256[:]) == 1 {
			return caller{name: name, role: t.Role}, nil
		}
		return caller{}, bad
	}
	if s.cfg.Users == nil {
		return caller{}, bad
	}
	// With no user at all, a wrong password costs no argon2id.
	if l, ok := s.cfg.Users.(interface{ Len() int }); ok && l.Len() == 0 {
		return caller{}, bad
	}
	// argon2id costs 64 MiB and about 200 ms of two cores: the Gate
	// bounds it (a *users.BusyError is a 503), so password guessing
	// cannot slow down the seat API (bench/seat/logins.sh).
	u, err := s.passGate.Login(r.Context(), s.cfg.Users, name, secret)
	var busy *users.BusyError
	if errors.As(err, &busy) {
		return caller{}, busy
	}
	if errors.Is(err, users.ErrMustChange) {
		return caller{}, &statusError{http.StatusForbidden, fmt.Sprintf("user %s must change the one-time password before using the API", safetext.Clean(name))}
	}
	if err != nil {
		return caller{}, bad
	}
	switch u.Role {
	case users.Admin:
		return caller{name: u.Name, role: seat.RoleAdmin}, nil
	case users.Integration:
		return caller{name: u.Name, role: seat.RoleIntegration}, nil
	case users.Device:
		return caller{name: u.Name, role: seat.RoleClient}, nil
	case users.Viewer:
		return caller{name: u.Name, role: RoleViewer}, nil
	}
	return caller{}, bad
}

// tokenReload is the shortest time between two reloads of the tokens
// from the store (a token added by `license-server token add` while the
// server runs is found at its first use).
const tokenReload = 5 * time.Second

// tokensMayHaveChanged reports whether a token unknown to the server may
// have been added since its last reload: without a stamp file, always;
// with one, when the stamp differs from the one last reloaded.
func (s *Server) tokensMayHaveChanged() bool {
	if s.cfg.TokenStamp == "" {
		return true
	}
	st := s.tokenStamp()
	s.mu.Lock()
	defer s.mu.Unlock()
	return st != s.stampSeen
}

// reloadTokens reloads the tokens after a miss: when the stamp file
// changed, at once (a token added by `license-server token add` works at
// its first use); without a stamp file, at most once per tokenReload.
func (s *Server) reloadTokens(ctx context.Context) {
	if s.cfg.TokenStamp != "" {
		s.reloadTokensIfStamped(ctx)
		return
	}
	s.mu.Lock()
	if s.now().Sub(s.lastLoad) < tokenReload {
		s.mu.Unlock()
		return
	}
	s.lastLoad = s.now()
	s.mu.Unlock()
	s.loadTokens(ctx)
}

// reloadTokensIfStamped reloads the tokens when the stamp file differs
// from the one last reloaded, and reports whether it did.
func (s *Server) reloadTokensIfStamped(ctx context.Context) bool {
	st := s.tokenStamp()
	s.mu.Lock()
	if st == s.stampSeen {
		s.mu.Unlock()
		return false
	}
	s.stampSeen = st
	s.mu.Unlock()
	s.loadTokens(ctx)
	return true
}

// loadTokens replaces the tokens with the store's.
func (s *Server) loadTokens(ctx context.Context) {
	st, err := s.cfg.Store.Load(ctx)
	if err != nil {
		s.log.Error("reloading tokens", "err", err)
		return
	}
	s.mu.Lock()
	s.tokens = make(map[string]seatstore.TokenRecord, len(st.Tokens))
	for _, t := range st.Tokens {
		s.tokens[t.Name] = t
	}
	s.mu.Unlock()
}
