// Package console is the license server's web console: server-rendered
// HTML (html/template) with a little plain JavaScript, every asset
// embedded in the binary (no CDN, no build step). Pages: overview,
// licenses, sessions, devices, users, IP lists, audit log and settings, in
// Russian or English as the browser asks (Accept-Language).
//
// # Security
//
// Sessions are server-side: the browser holds only a random 256-bit ID in
// a Secure, HttpOnly, SameSite=Strict cookie scoped to /console; sessions
// end after an idle time and a maximum age, and at logout. Every form
// carries the session's CSRF token and every POST without it is refused
// (403) before anything changes; the login form uses a double-submit
// token. Logins go through the shared failed-login limiter
// (internal/loginlimit; whitelisted addresses exempt) and argon2id
// (internal/users); a user whose password is one-time must change it
// before any page is shown. Only the admin role may change anything; a
// viewer sees every page without the forms it may not use, and the server
// refuses its POSTs anyway. Responses carry a strict Content-Security-
// Policy (scripts and styles from the console only), no framing, no
// caching. Every admin action is written to the audit log. Text shown
// comes from html/template's escaping; values typed in are validated by
// the packages that store them (devices, users, iplist, the license
// parser).
package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/airseal/airseal/internal/audit"
	"github.com/airseal/airseal/internal/devices"
	"github.com/airseal/airseal/internal/iplist"
	"github.com/airseal/airseal/internal/loginlimit"
	"github.com/airseal/airseal/internal/users"
	"github.com/airseal/airseal/pkg/seat"
)

// Prefix is where the console is served.
const Prefix = "/console"

// Session lifetimes.
const (
	IdleTimeout = 30 * time.Minute
	MaxAge      = 12 * time.Hour
	// PageSize is the rows per page of the long lists.
	PageSize = 50
	// MaxUpload bounds a license upload or a form.
	MaxUpload = 256 << 10
)

//go:embed assets
var assets embed.FS

// Product is one product on the overview.
type Product struct {
	Name     string
	Seats    int
	InUse    int
	Peak     int
	Unit     string
	Devices  int // devices approved with a seat
	Expires  *time.Time
	DaysLeft *int
}

// Settings are shown on the settings page.
type Settings struct {
	Lease    time.Duration
	Sweep    time.Duration
	Products []Product // for the counting mode of each
	Node     string
	KeyID    string
}

// Backend is what the console reads and changes: the seat server.
type Backend interface {
	Products() []Product
	Licences() []seat.Licence
	Install(ctx context.Context, code []byte, itn, iec string) (seat.Licence, error)
	RemoveLicence(ctx context.Context, serial string) error
	// Sessions returns the sessions from offset (at most limit, oldest
	// first) and how many there are: only a page is built.
	Sessions(offset, limit int) ([]seat.Session, int)
	ReleaseSession(ctx context.Context, id, by string) error
	Devices() []devices.Device
	ApproveDevice(ctx context.Context, code, by string) (devices.Device, error)
	DenyDevice(ctx context.Context, code, by string) (devices.Device, error)
	UnlinkDevice(ctx context.Context, code string) (devices.Device, error)
	Settings() Settings
}

// Options configure a Console.
type Options struct {
	Backend Backend
	Users   users.Store
	// Audit records admin actions; AuditPath is the same file, read for
	// the audit page ("" hides it).
	Audit     *audit.Writer
	AuditPath string
	// IPListDir holds whitelist.dat and blacklist.dat ("" : no IP lists).
	IPListDir string
	// IPListError reports the last reload error of the lists in force.
	IPListError func() error
	// Limiter counts failed logins; IPDecision exempts whitelisted
	// addresses.
	Limiter    *loginlimit.Limiter
	IPDecision func(netip.Addr) iplist.Decision
	// Gate bounds the argon2id work of logins (share the server's, so the
	// API and the console have one budget; nil: a Gate of its own).
	Gate   *users.Gate
	Now    func() time.Time
	Logger *slog.Logger
}

// Console is the web console's handler.
type Console struct {
	opt    Options
	pages  map[string]*template.Template
	mu     sync.Mutex
	sess   map[string]*session
	static http.Handler
}

type session struct {
	id, csrf   string
	user       string
	role       users.Role
	hash       string // the user's password hash at login (compared, never shown)
	mustChange bool
	created    time.Time
	seen       time.Time
}

// New returns the console.
func New(opt Options) (*Console, error) {
	if opt.Backend == nil || opt.Users == nil {
		return nil, errors.New("console: Backend and Users are required")
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Limiter == nil {
		opt.Limiter = loginlimit.New(loginlimit.DefaultLimit, loginlimit.DefaultWindow)
	}
	if opt.Gate == nil {
		opt.Gate = users.NewGate(users.GateOptions{})
	}
	if opt.IPDecision == nil {
		opt.IPDecision = func(netip.Addr) iplist.Decision { return iplist.Allowed }
	}
	c := &Console{opt: opt, pages: map[string]*template.Template{}, sess: map[string]*session{}}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "assets/templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(assets, "assets/templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "assets/templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(assets, n)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", n, err)
		}
		c.pages[name] = t
	}
	sub, _ := fs.Sub(assets, "assets/static")
	c.static = http.StripPrefix(Prefix+"/static/", http.FileServer(http.FS(sub)))
	return c, nil
}

func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

const cookieName = "airseal_console"
const loginCookie = "airseal_login"

func setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: Prefix, MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// current returns the request's live session, or nil. A session lives
// only while its user does with the password it logged in with: a user
// removed or given a new password (in the console, or by
// `license-server user` while the server runs, seen through the users
// store) loses every session at its next request; a changed role applies
// at once.
func (c *Console) current(r *http.Request) *session {
	ck, err := r.Cookie(cookieName)
	if err != nil || len(ck.Value) > 64 {
		return nil
	}
	c.mu.Lock()
	s := c.sess[ck.Value]
	var name string
	if s != nil {
		name = s.user
	}
	c.mu.Unlock()
	if s == nil {
		return nil
	}
	u, uerr := c.opt.Users.Get(name)
	now := c.opt.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if s = c.sess[ck.Value]; s == nil {
		return nil
	}
	if uerr != nil || !equalToken(u.Hash, s.hash) {
		delete(c.sess, s.id)
		c.opt.Logger.Info("console: session ended: the user was removed or its password changed", "user", s.user)
		return nil
	}
	if now.Sub(s.seen) > IdleTimeout || now.Sub(s.created) > MaxAge {
		delete(c.sess, s.id)
		return nil
	}
	s.seen = now
	s.role = u.Role
	cp := *s
	return &cp
}

// newSession starts a session for u; hash is u's password hash now.
func (c *Console) newSession(w http.ResponseWriter, u users.User, hash string, mustChange bool) {
	now := c.opt.Now()
	s := &session{id: randomToken(), csrf: randomToken(), user: u.Name, role: u.Role, hash: hash, mustChange: mustChange, created: now, seen: now}
	c.mu.Lock()
	for id, x := range c.sess { // drop expired sessions
		if now.Sub(x.seen) > IdleTimeout || now.Sub(x.created) > MaxAge {
			delete(c.sess, id)
		}
	}
	c.sess[s.id] = s
	c.mu.Unlock()
	setCookie(w, cookieName, s.id, int(MaxAge/time.Second))
}

func (c *Console) endSession(w http.ResponseWriter, s *session) {
	if s != nil {
		c.mu.Lock()
		delete(c.sess, s.id)
		c.mu.Unlock()
	}
	setCookie(w, cookieName, "", -1)
}

// endUserSessions ends every session of user (password changed, user
// removed).
func (c *Console) endUserSessions(user, keep string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, s := range c.sess {
		if s.user == user && id != keep {
			delete(c.sess, id)
		}
	}
}

// passwordChanged keeps session id alive after its user changed the
// password in it: the session takes the new hash and no longer must
// change the password.
func (c *Console) passwordChanged(id, hash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.sess[id]; s != nil {
		s.mustChange = false
		s.hash = hash
	}
}

func equalToken(a, b string) bool {
	return a != "" && len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// ServeHTTP serves the console under Prefix.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	path := r.URL.Path
	if path == "/" || path == Prefix {
		http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
		return
	}
	if strings.HasPrefix(path, Prefix+"/static/") {
		w.Header().Set("Cache-Control", "max-age=3600")
		c.static.ServeHTTP(w, r)
		return
	}
	lang := language(r)
	page := strings.TrimPrefix(path, Prefix)
	if page == "/login" {
		c.login(w, r, lang)
		return
	}
	s := c.current(r)
	if s == nil {
		if r.Method == http.MethodPost {
			c.refuse(w, r, lang, nil, http.StatusForbidden, T(lang, "err.session"))
			return
		}
		http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
		return
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, MaxUpload)
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			if err := r.ParseMultipartForm(MaxUpload); err != nil {
				c.refuse(w, r, lang, s, http.StatusBadRequest, T(lang, "err.form")+": "+err.Error())
				return
			}
		}
		if !equalToken(r.PostFormValue("csrf"), s.csrf) {
			c.opt.Logger.Warn("console: POST without a valid CSRF token refused", "path", path, "user", s.user, "from", r.RemoteAddr)
			c.refuse(w, r, lang, s, http.StatusForbidden, T(lang, "err.csrf"))
			return
		}
	}
	if page == "/logout" && r.Method == http.MethodPost {
		c.endSession(w, s)
		http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
		return
	}
	if page == "/password" {
		c.password(w, r, lang, s)
		return
	}
	if s.mustChange {
		http.Redirect(w, r, Prefix+"/password", http.StatusSeeOther)
		return
	}
	if r.Method == http.MethodPost && s.role != users.Admin {
		c.refuse(w, r, lang, s, http.StatusForbidden, T(lang, "err.role"))
		return
	}
	switch {
	case page == "/" && r.Method == http.MethodGet:
		c.overview(w, r, lang, s)
	case page == "/licenses":
		c.licenses(w, r, lang, s)
	case page == "/sessions":
		c.sessions(w, r, lang, s)
	case page == "/devices":
		c.devicesPage(w, r, lang, s)
	case page == "/users":
		c.usersPage(w, r, lang, s)
	case page == "/iplists":
		c.ipLists(w, r, lang, s)
	case page == "/audit" && r.Method == http.MethodGet:
		c.auditPage(w, r, lang, s)
	case page == "/settings" && r.Method == http.MethodGet:
		c.settings(w, r, lang, s)
	default:
		c.refuse(w, r, lang, s, http.StatusNotFound, T(lang, "err.notfound"))
	}
}

// audit records an admin action.
func (c *Console) audit(r *http.Request, s *session, what, detail string) {
	from := loginlimit.RemoteAddr(r).String()
	c.opt.Logger.Info("admin action", "caller", s.user, "what", what, "detail", detail, "from", from, "via", "console")
	if c.opt.Audit != nil {
		if err := c.opt.Audit.Append(c.opt.Now(), s.user, what, from, detail+" (console)"); err != nil {
			c.opt.Logger.Error("audit log", "err", err)
		}
	}
}
