// Package tokenserver is the HTTP token endpoint of package token: RFC 6749
// client_credentials and refresh_token grants, RFC 7662 introspection,
// RFC 7009 revocation, RFC 8414 metadata and the JWKS, with an optional
// Bitrix24-compatible token path. It reads its keys, clients and revocation
// list from a token directory (package tokendir) and records every token it
// issues in the directory's issued ledger before sending it. Behaviour is
// specified in docs/spec/token-v1.md, section 5.
package tokenserver

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/airseal/airseal/internal/ledger"
	"github.com/airseal/airseal/internal/loginlimit"
	"github.com/airseal/airseal/internal/tlsfiles"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/token"
	"github.com/airseal/airseal/pkg/token/tokendir"
)

// Server limits and defaults.
const (
	// MaxRequestBody is the largest request body the endpoint reads.
	MaxRequestBody = 16 << 10
	// DefaultAccessTTL is the lifetime of tokens the endpoint issues.
	DefaultAccessTTL = time.Hour
	// FailLimit failed client authentications per FailWindow from one IP
	// address are answered; past that the address gets 429 until the
	// window ends.
	FailLimit  = 10
	FailWindow = time.Minute
)

// ServerOptions configure a [Server].
type ServerOptions struct {
	// AccessTTL is the lifetime of issued tokens; 0 means DefaultAccessTTL.
	AccessTTL time.Duration
	// Bitrix enables the Bitrix24-compatible token path /oauth/token/,
	// which also accepts GET with query parameters and answers in the
	// Bitrix24 shape.
	Bitrix bool
	// PublicURL is the base URL advertised in metadata; empty means the
	// scheme and Host of each request.
	PublicURL string
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Now returns the time; nil means time.Now.
	Now func() time.Time
	// IssuedMaxSize rotates the ledger of issued tokens
	// ([tokendir.IssuedFile]) when it reaches this many bytes; 0 means the
	// default ([tokendir.IssuedRotation], 256 MiB), a negative value never
	// rotates.
	IssuedMaxSize int64
	// IssuedKeep is how many rotated ledgers are kept (IssuedFile.1 …
	// IssuedFile.N, the oldest deleted); 0 means the default (8).
	IssuedKeep int
}

func (o *ServerOptions) issuedRotation() ledger.WriterOptions {
	r := tokendir.IssuedRotation
	switch {
	case o.IssuedMaxSize < 0:
		r.MaxSize = 0
	case o.IssuedMaxSize > 0:
		r.MaxSize = o.IssuedMaxSize
	}
	if o.IssuedKeep > 0 {
		r.Keep = o.IssuedKeep
	}
	return r
}

// Server is the HTTP token endpoint. Create it with [NewServer].
type Server struct {
	dir     *tokendir.Dir
	signer  *token.Signer
	ring    *keys.Keyring
	issuer  string
	jwks    []byte
	opts    ServerOptions
	log     *slog.Logger
	clients atomic.Pointer[tokendir.Clients]
	revs    atomic.Pointer[token.RevocationList]
	limiter *loginlimit.Limiter
	revMu   sync.Mutex
	issued  *ledger.Writer

	// clientsMu serialises reloads of the clients file; clientsID is the
	// identity (inode, size, mtime) of the file last loaded and
	// clientsOK whether that load succeeded.
	clientsMu   sync.Mutex
	clientsID   fileID
	clientsOK   atomic.Bool
	clientsStat atomic.Int64 // unix nanos of the last stat, for rate limiting
}

// fileID identifies a version of a file: a rewrite (atomic rename gives a
// new inode) or an edit in place changes it.
type fileID struct {
	ino, size int64
	mtime     int64
	exists    bool
}

func statID(path string) fileID {
	st, err := os.Stat(path)
	if err != nil {
		return fileID{}
	}
	id := fileID{size: st.Size(), mtime: st.ModTime().UnixNano(), exists: true}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		id.ino = int64(sys.Ino)
	}
	return id
}

// ClientsStatInterval is how often, at most, an authentication of a known
// client checks whether the clients file changed. A client_id that is not
// loaded always checks, so a client added while the server runs works
// from its first request.
const ClientsStatInterval = 250 * time.Millisecond

// reloadClients reads the clients file again when it changed since the
// last load (or force is set). It reports whether the clients held now are
// those of the file as it is, and the error of a refused file it read.
func (s *Server) reloadClients(force bool) (bool, error) {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	path := s.dir.File(tokendir.ClientsFile)
	id := statID(path)
	if !force && id == s.clientsID {
		return s.clientsOK.Load(), nil // unchanged: a refused file is not read again
	}
	cs, err := s.dir.Clients()
	if err != nil {
		if id != s.clientsID && s.clients.Load() != nil {
			s.log.Error("clients file refused; keeping the clients loaded before", "file", path, "err", err)
		}
		s.clientsID = id
		s.clientsOK.Store(false)
		return false, err
	}
	s.clients.Store(cs)
	s.clientsID = id
	s.clientsOK.Store(true)
	return true, nil
}

// lookupClients returns the clients to authenticate id against, re-reading
// the clients file first when it changed: always for an id that is not
// loaded, at most every ClientsStatInterval otherwise. current is false when
// the file could not be read as it is now (then a refusal of an unknown id
// may be a client that is not loaded yet).
func (s *Server) lookupClients(id string, now time.Time) (cs *tokendir.Clients, current bool) {
	cs = s.clients.Load()
	last := s.clientsStat.Load()
	if cs.Has(id) && now.UnixNano()-last < int64(ClientsStatInterval) && now.UnixNano() >= last {
		return cs, s.clientsOK.Load()
	}
	s.clientsStat.Store(now.UnixNano())
	current, _ = s.reloadClients(false) // a refused file is logged
	return s.clients.Load(), current
}

// NewServer returns a server that issues tokens with signer, reads keys,
// clients and the revocation list from d and records issued tokens in d's
// [tokendir.IssuedFile]. Call [Server.Close] when done with it ([Server.Run] does).
func NewServer(d *tokendir.Dir, signer *token.Signer, opts ServerOptions) (*Server, error) {
	ring, st, err := d.Keyring()
	if err != nil {
		return nil, err
	}
	if _, ok := ring.Get(signer.KeyID()); !ok {
		return nil, fmt.Errorf("signing key %s is not among the directory's valid keys", signer.KeyID())
	}
	jwks, err := token.MarshalJWKS(ring)
	if err != nil {
		return nil, err
	}
	if opts.AccessTTL == 0 {
		opts.AccessTTL = DefaultAccessTTL
	}
	if opts.AccessTTL > token.MaxTTL {
		return nil, fmt.Errorf("%w: access token lifetime %s", token.ErrTTLTooLong, opts.AccessTTL)
	}
	if opts.AccessTTL < time.Second {
		return nil, fmt.Errorf("access token lifetime %s is too short: give at least 1s", opts.AccessTTL)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	lg := opts.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	s := &Server{dir: d, signer: signer, ring: ring, issuer: st.Issuer, jwks: jwks, opts: opts, log: lg,
		limiter: loginlimit.New(FailLimit, FailWindow)}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	if s.issued, err = ledger.OpenWriter(d.File(tokendir.IssuedFile), opts.issuedRotation()); err != nil {
		return nil, fmt.Errorf("the ledger of issued tokens: %w", err)
	}
	return s, nil
}

// Close writes and fsyncs the records already handed to the endpoint's
// ledger ([tokendir.IssuedFile]) and closes it; token requests after Close
// fail with 500 server_error. It returns an fsync error met while serving, if any. [Server.Run]
// calls it when it returns.
func (s *Server) Close() error {
	return s.issued.Close()
}

// Reload reads the clients and the revocation list again (the server also
// re-reads the clients file by itself whenever it changes, see
// [ClientsStatInterval]). A revocation list older than the one held is
// refused and the held one kept.
func (s *Server) Reload() error {
	if _, err := s.reloadClients(true); err != nil {
		return err
	}
	// The list held is a floor too, should the floor file have been
	// deleted or lowered.
	if cur := s.revs.Load(); cur != nil {
		if err := s.dir.RaiseRevocationFloor(cur.Seq); err != nil {
			return fmt.Errorf("recording the revocation list number: %w", err)
		}
	}
	l, err := s.dir.Revocations(s.ring, s.issuer)
	if err != nil {
		return err
	}
	return s.setRevocations(l)
}

func (s *Server) setRevocations(l *token.RevocationList) error {
	if l == nil {
		return nil
	}
	for {
		cur := s.revs.Load()
		if cur != nil {
			if err := l.CheckSeq(cur.Seq); err != nil {
				return err
			}
		}
		if s.revs.CompareAndSwap(cur, l) {
			return nil
		}
	}
}

// Handler returns the HTTP handler with every endpoint.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/token", s.handleToken)
	if s.opts.Bitrix {
		mux.HandleFunc("/oauth/token/{$}", s.handleToken)
		mux.HandleFunc("/oauth/token", s.handleToken)
	}
	mux.HandleFunc("/introspect", s.handleIntrospect)
	mux.HandleFunc("/revoke", s.handleRevoke)
	mux.HandleFunc("/.well-known/jwks.json", s.handleJWKS)
	mux.HandleFunc("/.well-known/oauth-authorization-server", s.handleMetadata)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, oauthErr(http.StatusNotFound, "invalid_request", "no endpoint at %s", r.URL.Path))
	})
	return s.recoverer(mux)
}

func (s *Server) recoverer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("internal error", "path", r.URL.Path, "panic", fmt.Sprint(v))
				s.writeError(w, r, oauthErr(http.StatusInternalServerError, "server_error", "internal error"))
			}
		}()
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, e *OAuthError) {
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="airseal-token"`)
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	s.log.Info("request refused", "path", r.URL.Path, "remote", remoteIP(r), "status", e.Status, "error", e.Code, "description", e.Description)
	writeJSON(w, e.Status, e)
}

// limitKey is the failed-authentication limiter's key for a remote
// address (internal/loginlimit: the IPv4 address, or the IPv6 /64).
func limitKey(ip string) string { return loginlimit.Key(ip) }

func remoteIP(r *http.Request) string {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return h
}

// params reads the request's parameters: a POST body, or with allowGet the
// query of a GET request.
func (s *Server) params(w http.ResponseWriter, r *http.Request, allowGet bool) (url.Values, *OAuthError) {
	switch {
	case r.Method == http.MethodPost:
	case allowGet && r.Method == http.MethodGet:
		v, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return nil, oauthErr(http.StatusBadRequest, "invalid_request", "query is not valid form encoding")
		}
		return v, checkOnce(v)
	default:
		allow := "POST"
		if allowGet {
			allow = "GET, POST"
		}
		w.Header().Set("Allow", allow)
		return nil, oauthErr(http.StatusMethodNotAllowed, "invalid_request", "use %s", allow)
	}
	if r.ContentLength > MaxRequestBody {
		return nil, oauthErr(http.StatusRequestEntityTooLarge, "invalid_request", "request body above %d bytes", MaxRequestBody)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, oauthErr(http.StatusRequestEntityTooLarge, "invalid_request", "request body above %d bytes", MaxRequestBody)
		}
		return nil, oauthErr(http.StatusBadRequest, "invalid_request", "reading the body failed")
	}
	return ParseParams(r.Header.Get("Content-Type"), body)
}

// authenticate checks client credentials from HTTP Basic or the form, and
// enforces the per-IP failure limit.
func (s *Server) authenticate(r *http.Request, v url.Values) (*tokendir.Client, *OAuthError) {
	ip := limitKey(remoteIP(r))
	now := s.opts.Now()
	if wait, blocked := s.limiter.Blocked(ip, now); blocked {
		// RFC 6749 section 5.2 defines no code for rate limiting at the
		// token endpoint: invalid_client (authentication refused), with
		// 429 and Retry-After telling the client it is a pause.
		secs := int((wait + time.Second - 1) / time.Second)
		e := oauthErr(http.StatusTooManyRequests, "invalid_client", "too many failed client authentications from this address; client authentication is refused for %d s (see Retry-After)", secs)
		e.RetryAfter = secs
		return nil, e
	}
	id, secret, basic := "", "", false
	if h := r.Header.Get("Authorization"); h != "" {
		var ok bool
		id, secret, ok = ParseBasicAuth(h)
		if !ok {
			s.limiter.Fail(ip, now)
			return nil, oauthErr(http.StatusUnauthorized, "invalid_client", "Authorization header is not valid HTTP Basic")
		}
		basic = true
		if v.Has("client_secret") {
			return nil, oauthErr(http.StatusBadRequest, "invalid_request", "use one client authentication method: HTTP Basic or client_secret in the body, not both")
		}
	} else {
		id, secret = v.Get("client_id"), v.Get("client_secret")
		if id == "" || secret == "" {
			s.limiter.Fail(ip, now)
			return nil, oauthErr(http.StatusUnauthorized, "invalid_client", "client authentication required (HTTP Basic, or client_id and client_secret)")
		}
	}
	if basic && v.Has("client_id") && v.Get("client_id") != id {
		return nil, oauthErr(http.StatusBadRequest, "invalid_request", "client_id in the body differs from the one in HTTP Basic")
	}
	cs, current := s.lookupClients(id, now)
	c, err := cs.Authenticate(id, secret)
	if err != nil {
		// An id the clients file does not hold while that file cannot be
		// read as it is now may be a client not loaded yet: not counted.
		if cs.Has(id) || current {
			s.limiter.Fail(ip, now)
		}
		s.log.Warn("client authentication failed", "remote", remoteIP(r), "client_id", id, "known", cs.Has(id))
		return nil, oauthErr(http.StatusUnauthorized, "invalid_client", "client authentication failed")
	}
	return c, nil
}

func (s *Server) verifier() *token.Verifier {
	return &token.Verifier{Keys: s.ring, Issuer: s.issuer, Revocations: s.revs.Load()}
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	bitrix := s.opts.Bitrix && (r.URL.Path == "/oauth/token/" || r.URL.Path == "/oauth/token")
	v, e := s.params(w, r, bitrix)
	if e != nil {
		s.writeError(w, r, e)
		return
	}
	c, e := s.authenticate(r, v)
	if e != nil {
		s.writeError(w, r, e)
		return
	}
	now := s.opts.Now()
	var (
		req     token.Request
		refresh string
	)
	switch gt := v.Get("grant_type"); gt {
	case "client_credentials":
		if c.Audience == "" {
			s.writeError(w, r, oauthErr(http.StatusBadRequest, "unauthorized_client", "client %s has no audience for client_credentials; register it with an audience", c.ID))
			return
		}
		scope := token.NormalizeScope(v.Get("scope"))
		if scope == "" {
			scope = c.Scope
		} else if !scopeSubset(scope, c.Scope) {
			s.writeError(w, r, oauthErr(http.StatusBadRequest, "invalid_scope", "requested scope is beyond the client's"))
			return
		}
		req = token.Request{Subject: c.ID, Audience: c.Audience, ClientID: c.ID, Scope: scope, TTL: s.opts.AccessTTL, GrantType: token.GrantClientCredentials, Now: now}
	case "refresh_token":
		grant := v.Get("refresh_token")
		if grant == "" {
			s.writeError(w, r, oauthErr(http.StatusBadRequest, "invalid_request", "refresh_token is required"))
			return
		}
		g, err := s.verifier().Verify(grant, now)
		if err != nil {
			s.log.Info("grant refused", "remote", remoteIP(r), "client_id", c.ID, "reason", reasonOf(err))
			s.writeError(w, r, oauthErr(http.StatusBadRequest, "invalid_grant", "the grant is invalid, expired or revoked"))
			return
		}
		if g.Grant != "" || g.GrantType != "" || g.ClientID != c.ID {
			s.log.Info("grant refused", "remote", remoteIP(r), "client_id", c.ID, "jti", g.ID, "grant_client_id", g.ClientID, "exchanged", g.Grant != "", "gty", g.GrantType)
			s.writeError(w, r, oauthErr(http.StatusBadRequest, "invalid_grant", "the grant was not issued to this client or cannot be exchanged"))
			return
		}
		scope := token.NormalizeScope(v.Get("scope"))
		if scope == "" {
			scope = g.Scope
		} else if !scopeSubset(scope, g.Scope) {
			s.writeError(w, r, oauthErr(http.StatusBadRequest, "invalid_scope", "requested scope is beyond the grant's"))
			return
		}
		ttl := min(s.opts.AccessTTL, time.Unix(g.ExpiresAt, 0).Sub(now))
		if ttl < time.Second {
			s.writeError(w, r, oauthErr(http.StatusBadRequest, "invalid_grant", "the grant is invalid, expired or revoked"))
			return
		}
		req = token.Request{Subject: g.Subject, Audience: g.Audience[0], ClientID: c.ID, Scope: scope, TTL: ttl,
			LicenseSerial: g.LicenseSerial, Grant: g.ID, MemberID: g.MemberID, Now: now}
		refresh = grant
	case "":
		s.writeError(w, r, oauthErr(http.StatusBadRequest, "invalid_request", "grant_type is required"))
		return
	default:
		s.writeError(w, r, oauthErr(http.StatusBadRequest, "unsupported_grant_type", "grant_type %q is not supported (client_credentials, refresh_token)", gt))
		return
	}
	tok, claims, err := s.signer.Mint(req)
	if err != nil {
		s.log.Error("minting failed", "client_id", c.ID, "err", err)
		s.writeError(w, r, oauthErr(http.StatusInternalServerError, "server_error", "internal error"))
		return
	}
	// Written to the ledger before it is sent (and fsynced soon after): a
	// token that was handed out is in the ledger, even after the process
	// crashes.
	if err := s.issued.Append(tokendir.NewLedgerRecord(s.signer.KeyID(), claims)); err != nil {
		s.log.Error("token not recorded; not sent", "client_id", c.ID, "jti", claims.ID, "file", s.issued.Path(), "err", err)
		// No RFC 6749 section 5.2 code describes a failure of the server;
		// server_error (RFC 6749 section 4.1.2.1) with 500 says so without
		// blaming the request.
		s.writeError(w, r, oauthErr(http.StatusInternalServerError, "server_error", "the token could not be recorded on the server, so none was issued; the operator must check the disk of the token directory"))
		return
	}
	s.log.Info("token issued", "client_id", c.ID, "jti", claims.ID, "grant", claims.Grant, "sub", claims.Subject, "exp", claims.ExpiresAt)
	if bitrix {
		writeJSON(w, http.StatusOK, token.NewBitrixResponse(tok, claims, refresh, s.baseURL(r)+"/rest/", now))
		return
	}
	writeJSON(w, http.StatusOK, token.NewOAuthResponse(tok, claims, refresh, now))
}

func reasonOf(err error) token.Reason {
	var e *token.Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// clientAndToken reads the parameters of an introspection or revocation
// request, authenticates the client and returns it with the token
// parameter. On failure it has written the error response and ok is false.
func (s *Server) clientAndToken(w http.ResponseWriter, r *http.Request) (c *tokendir.Client, tok string, ok bool) {
	v, e := s.params(w, r, false)
	if e != nil {
		s.writeError(w, r, e)
		return nil, "", false
	}
	c, e = s.authenticate(r, v)
	if e != nil {
		s.writeError(w, r, e)
		return nil, "", false
	}
	tok = v.Get("token")
	if tok == "" {
		s.writeError(w, r, oauthErr(http.StatusBadRequest, "invalid_request", "token is required"))
		return nil, "", false
	}
	return c, tok, true
}

func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	c, tok, ok := s.clientAndToken(w, r)
	if !ok {
		return
	}
	claims, err := s.verifier().Verify(tok, s.opts.Now())
	if err != nil {
		s.log.Info("introspection: inactive", "client_id", c.ID, "reason", reasonOf(err))
		writeJSON(w, http.StatusOK, &token.Introspection{Active: false})
		return
	}
	writeJSON(w, http.StatusOK, token.Introspect(claims))
}

func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	c, tok, ok := s.clientAndToken(w, r)
	if !ok {
		return
	}
	// RFC 7009 §2.2: an invalid, expired or already revoked token is answered 200.
	claims, err := (&token.Verifier{Keys: s.ring, Issuer: s.issuer}).Verify(tok, s.opts.Now())
	if err != nil || s.revs.Load().HasJTI(claims.ID) {
		writeJSON(w, http.StatusOK, struct{}{})
		return
	}
	if claims.ClientID != c.ID {
		s.writeError(w, r, oauthErr(http.StatusBadRequest, "unauthorized_client", "the token was not issued to this client"))
		return
	}
	s.revMu.Lock()
	l, err := s.dir.Revoke(s.signer, []string{claims.ID}, nil)
	if err == nil {
		err = s.setRevocations(l)
	}
	s.revMu.Unlock()
	if err != nil {
		s.log.Error("revocation not saved", "client_id", c.ID, "jti", claims.ID, "err", err)
		// RFC 7009 section 2.2.1: 503, and the client must assume the
		// token is still valid and may retry.
		e := oauthErr(http.StatusServiceUnavailable, "server_error", "the revocation could not be saved on the server; the token is still valid, retry later")
		e.RetryAfter = 5
		s.writeError(w, r, e)
		return
	}
	s.log.Info("token revoked", "client_id", c.ID, "jti", claims.ID, "seq", l.Seq)
	writeJSON(w, http.StatusOK, struct{}{})
}

func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.writeError(w, r, oauthErr(http.StatusMethodNotAllowed, "invalid_request", "use GET"))
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "max-age=300")
	w.Write(s.jwks)
}

func (s *Server) baseURL(r *http.Request) string {
	if s.opts.PublicURL != "" {
		return strings.TrimSuffix(s.opts.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// ResponseTypes is response_types_supported of the metadata. RFC 8414
// section 2 requires a non-empty list; the endpoint has no authorization
// endpoint, so the only true value is "none" (OAuth 2.0 Multiple Response
// Type Encoding Practices, section 4): no credential is ever returned from
// an authorization request. Tokens come from the token endpoint only.
var ResponseTypes = []string{"none"}

// Metadata is the RFC 8414 authorization server metadata.
type Metadata struct {
	Issuer                   string   `json:"issuer"`
	TokenEndpoint            string   `json:"token_endpoint"`
	JWKSURI                  string   `json:"jwks_uri"`
	IntrospectionEndpoint    string   `json:"introspection_endpoint"`
	RevocationEndpoint       string   `json:"revocation_endpoint"`
	GrantTypes               []string `json:"grant_types_supported"`
	ResponseTypes            []string `json:"response_types_supported"`
	Scopes                   []string `json:"scopes_supported,omitempty"`
	TokenAuthMethods         []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionAuthMethods []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationAuthMethods    []string `json:"revocation_endpoint_auth_methods_supported"`
}

func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.writeError(w, r, oauthErr(http.StatusMethodNotAllowed, "invalid_request", "use GET"))
		return
	}
	b := s.baseURL(r)
	auth := []string{"client_secret_basic", "client_secret_post"}
	m := Metadata{
		Issuer: s.issuer, TokenEndpoint: b + "/token", JWKSURI: b + "/.well-known/jwks.json",
		IntrospectionEndpoint: b + "/introspect", RevocationEndpoint: b + "/revoke",
		GrantTypes: []string{"client_credentials", "refresh_token"}, ResponseTypes: ResponseTypes,
		Scopes:           s.clients.Load().Scopes(),
		TokenAuthMethods: auth, IntrospectionAuthMethods: auth, RevocationAuthMethods: auth,
	}
	w.Header().Set("Cache-Control", "max-age=300")
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(m)
}

// ErrBadAddress means a listen address is not HOST:PORT.
var ErrBadAddress = tlsfiles.ErrBadAddress

// CheckListen refuses a listen address that is not HOST:PORT
// ([ErrBadAddress]), and a plain-HTTP address that is not loopback unless
// insecure is set: bearer tokens and client secrets must not cross a
// network in clear text.
func CheckListen(addr string, useTLS, insecure bool) error {
	return tlsfiles.CheckListen(addr, useTLS, insecure, "127.0.0.1:8089", "tokens and client secrets")
}

// Run serves on ln until ctx is done, then shuts down gracefully, letting
// requests in flight finish for up to 10 s, and closes s. With a certificate
// it serves TLS (1.2 or later). It reloads clients and the
// revocation list every reload interval (0 means 5 s).
func (s *Server) Run(ctx context.Context, ln net.Listener, cert *tls.Certificate, reload time.Duration) (err error) {
	defer func() {
		if cerr := s.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12},
	}
	if cert != nil {
		srv.TLSConfig.Certificates = []tls.Certificate{*cert}
	}
	if reload <= 0 {
		reload = 5 * time.Second
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(reload)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := s.Reload(); err != nil {
					s.log.Error("reload failed; keeping the previous clients and revocation list", "err", err)
				}
			}
		}
	}()
	errc := make(chan error, 1)
	go func() {
		if cert != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// scopeSubset reports whether every scope in want is in have (both
// space-separated).
func scopeSubset(want, have string) bool {
	hs := strings.Fields(have)
	for _, w := range strings.Fields(want) {
		ok := false
		for _, h := range hs {
			if h == w {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
