package console

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/airseal/airseal/internal/atomicfile"
	"github.com/airseal/airseal/internal/audit"
	"github.com/airseal/airseal/internal/devices"
	"github.com/airseal/airseal/internal/fileio"
	"github.com/airseal/airseal/internal/iplist"
	"github.com/airseal/airseal/internal/loginlimit"
	"github.com/airseal/airseal/internal/users"
	"github.com/airseal/airseal/pkg/seat"
)

// pageData is what every template gets.
type pageData struct {
	Lang       string
	Page       string
	MustChange bool
	User       string
	Role       string
	CanAdmin   bool
	CSRF       string
	Flash      string
	Error      string
	Status     int
	Now        time.Time
	P          any
}

// T translates key into the page's language.
func (d *pageData) T(key string) string { return T(d.Lang, key) }

// pager is one page of a long list.
type pager struct {
	Page, Pages, Total, From, To int
	Prev, Next                   int
}

func paginate(r *http.Request, total int) pager {
	p, _ := strconv.Atoi(r.URL.Query().Get("page"))
	pages := max(1, (total+PageSize-1)/PageSize)
	p = min(max(p, 1), pages)
	from := (p - 1) * PageSize
	to := min(from+PageSize, total)
	pg := pager{Page: p, Pages: pages, Total: total, From: from, To: to}
	if p > 1 {
		pg.Prev = p - 1
	}
	if p < pages {
		pg.Next = p + 1
	}
	return pg
}

var funcs = template.FuncMap{
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"datep": func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.UTC().Format("2006-01-02")
	},
	"deref": func(p *int) int { return *p },
	// isDevice: a device's seat (unlinked on the devices page, not
	// released: the server would take it again).
	"isDevice": func(clientSessionID string) bool { return strings.HasPrefix(clientSessionID, "device-") },
	"pair": func(n1, t1, n2, t2 string) []namedText {
		return []namedText{{n1, t1}, {n2, t2}}
	},
}

// namedText is one IP list on its page.
type namedText struct{ Name, Text string }

func (c *Console) render(w http.ResponseWriter, lang, page string, s *session, status int, p any, flash, errText string) {
	d := &pageData{Lang: lang, Page: page, P: p, Flash: flash, Error: errText, Status: status, Now: c.opt.Now()}
	if s != nil {
		d.User, d.Role, d.CanAdmin, d.CSRF, d.MustChange = s.user, string(s.role), s.role == users.Admin && !s.mustChange, s.csrf, s.mustChange
	}
	t := c.pages[page]
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", d); err != nil {
		c.opt.Logger.Error("console: rendering", "page", page, "err", err)
		http.Error(w, "internal error; the server log has the details", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", lang)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (c *Console) refuse(w http.ResponseWriter, r *http.Request, lang string, s *session, status int, msg string) {
	c.render(w, lang, "error", s, status, nil, "", msg)
}

// done redirects after a successful POST with a message (PRG).
func done(w http.ResponseWriter, r *http.Request, to, msg string) {
	http.Redirect(w, r, Prefix+to+"?ok="+urlQueryEscape(msg), http.StatusSeeOther)
}

func urlQueryEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// flash is a message from a redirect, bounded.
func flash(r *http.Request) string {
	f := r.URL.Query().Get("ok")
	if len(f) > 300 {
		f = f[:300]
	}
	return f
}

// login: GET shows the form (with a double-submit CSRF cookie); POST
// checks the limiter, then the password.
func (c *Console) login(w http.ResponseWriter, r *http.Request, lang string) {
	if r.Method != http.MethodPost {
		tok := randomToken()
		setCookie(w, loginCookie, tok, 600)
		c.render(w, lang, "login", nil, http.StatusOK, map[string]string{"Token": tok}, "", "")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	ck, err := r.Cookie(loginCookie)
	if err != nil || !equalToken(r.PostFormValue("csrf"), ck.Value) {
		c.refuse(w, r, lang, nil, http.StatusForbidden, T(lang, "err.csrf"))
		return
	}
	tok := randomToken()
	setCookie(w, loginCookie, tok, 600)
	again := map[string]string{"Token": tok}
	addr := loginlimit.RemoteAddr(r)
	exempt := c.opt.IPDecision(addr) == iplist.Whitelisted
	key := loginlimit.AddrKey(addr)
	now := c.opt.Now()
	if !exempt {
		if wait, blocked := c.opt.Limiter.Blocked(key, now); blocked {
			secs := loginlimit.RetryAfter(wait)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			c.render(w, lang, "login", nil, http.StatusTooManyRequests, again, "", fmt.Sprintf(T(lang, "err.limit"), secs))
			return
		}
	}
	name, pw := r.PostFormValue("user"), r.PostFormValue("password")
	if len(name) > 64 || len(pw) > 256 {
		name, pw = "", ""
	}
	u, err := c.opt.Gate.Login(r.Context(), c.opt.Users, name, pw)
	var busy *users.BusyError
	if errors.As(err, &busy) {
		secs := int(busy.Wait.Seconds()) + 1
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		c.render(w, lang, "login", nil, http.StatusServiceUnavailable, again, "", fmt.Sprintf(T(lang, "err.busy"), secs))
		return
	}
	mustChange := errors.Is(err, users.ErrMustChange)
	if err != nil && !mustChange {
		if !exempt {
			c.opt.Limiter.Fail(key, now)
		}
		c.opt.Logger.Info("console: login failed", "user", safeName(name), "from", addr.String())
		c.render(w, lang, "login", nil, http.StatusUnauthorized, again, "", T(lang, "err.login"))
		return
	}
	if u.Role != users.Admin && u.Role != users.Viewer {
		c.render(w, lang, "login", nil, http.StatusForbidden, again, "", T(lang, "err.consolerole"))
		return
	}
	cur, err := c.opt.Users.Get(u.Name)
	if err != nil { // removed meanwhile
		c.render(w, lang, "login", nil, http.StatusUnauthorized, again, "", T(lang, "err.login"))
		return
	}
	c.newSession(w, u, cur.Hash, mustChange)
	c.opt.Logger.Info("console: login", "user", u.Name, "role", u.Role, "from", addr.String(), "must_change", mustChange)
	if mustChange {
		http.Redirect(w, r, Prefix+"/password", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
}

func safeName(n string) string {
	if users.CheckName(n) != nil {
		return "(invalid name)"
	}
	return n
}

// password changes the session user's password (forced after a one-time
// password).
func (c *Console) password(w http.ResponseWriter, r *http.Request, lang string, s *session) {
	if r.Method != http.MethodPost {
		c.render(w, lang, "password", s, http.StatusOK, nil, "", "")
		return
	}
	old, nw, again := r.PostFormValue("old"), r.PostFormValue("new"), r.PostFormValue("again")
	fail := func(msg string) { c.render(w, lang, "password", s, http.StatusBadRequest, nil, "", msg) }
	if nw != again {
		fail(T(lang, "err.mismatch"))
		return
	}
	_, err := c.opt.Gate.Login(r.Context(), c.opt.Users, s.user, old)
	var busy *users.BusyError
	if errors.As(err, &busy) {
		fail(fmt.Sprintf(T(lang, "err.busy"), int(busy.Wait.Seconds())+1))
		return
	}
	if err != nil && !errors.Is(err, users.ErrMustChange) {
		fail(T(lang, "err.oldpw"))
		return
	}
	if err := users.Passwd(c.opt.Users, s.user, nw); err != nil {
		fail(err.Error())
		return
	}
	u, err := c.opt.Users.Get(s.user)
	if err != nil {
		fail(err.Error())
		return
	}
	c.passwordChanged(s.id, u.Hash)
	c.endUserSessions(s.user, s.id)
	c.audit(r, s, "user passwd", s.user)
	done(w, r, "/", T(lang, "ok.password"))
}

type overviewData struct {
	Products []Product
	Pending  int
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, lang string, s *session) {
	pending := 0
	for _, d := range c.opt.Backend.Devices() {
		if d.State == devices.Pending {
			pending++
		}
	}
	c.render(w, lang, "overview", s, http.StatusOK, overviewData{Products: c.opt.Backend.Products(), Pending: pending}, flash(r), "")
}

func (c *Console) licenses(w http.ResponseWriter, r *http.Request, lang string, s *session) {
	errText := ""
	status := http.StatusOK
	if r.Method == http.MethodPost {
		switch r.PostFormValue("action") {
		case "install":
			code := []byte(strings.TrimSpace(r.PostFormValue("code")))
			if f, _, err := r.FormFile("file"); err == nil {
				b, rerr := io.ReadAll(io.LimitReader(f, MaxUpload))
				f.Close()
				if rerr == nil && len(bytes.TrimSpace(b)) > 0 {
					code = b
				}
			}
			if len(code) == 0 {
				errText, status = T(lang, "err.nolicense"), http.StatusBadRequest
				break
			}
			l, err := c.opt.Backend.Install(r.Context(), code, strings.TrimSpace(r.PostFormValue("itn")), strings.TrimSpace(r.PostFormValue("iec")))
			if err != nil {
				errText, status = err.Error(), http.StatusBadRequest
				break
			}
			c.audit(r, s, "install license", l.KeyNo+" ("+l.KeyID+")")
			done(w, r, "/licenses", T(lang, "ok.installed")+" "+l.KeyNo)
			return
		case "remove":
			serial := r.PostFormValue("serial")
			if err := c.opt.Backend.RemoveLicence(r.Context(), serial); err != nil {
				errText, status = err.Error(), http.StatusBadRequest
				break
			}
			c.audit(r, s, "remove license", serial)
			done(w, r, "/licenses", T(lang, "ok.removed")+" "+serial)
			return
		default:
			errText, status = T(lang, "err.form"), http.StatusBadRequest
		}
	}
	c.render(w, lang, "licenses", s, status, c.opt.Backend.Licences(), flash(r), errText)
}

type listData[T any] struct {
	Rows []T
	Pg   pager
}

func (c *Console) sessions(w http.ResponseWriter, r *http.Request, lang string, s *session) {
	if r.Method == http.MethodPost {
		id := r.PostFormValue("id")
		if err := c.opt.Backend.ReleaseSession(r.Context(), id, s.user); err != nil {
			c.refuse(w, r, lang, s, http.StatusBadRequest, err.Error())
			return
		}
		c.audit(r, s, "force-release seat", id)
		done(w, r, "/sessions", T(lang, "ok.released")+" "+id)
		return
	}
	_, total := c.opt.Backend.Sessions(0, 0)
	pg := paginate(r, total)
	rows, total := c.opt.Backend.Sessions(pg.From, PageSize)
	if pg.Total != total { // changed meanwhile
		pg = paginate(r, total)
		rows = rows[:min(len(rows), pg.To-pg.From)]
	}
	c.render(w, lang, "sessions", s, http.StatusOK, listData[seat.Session]{Rows: rows, Pg: pg}, flash(r), "")
}

type devicesData struct {
	Pending []devices.Device
	Others  []devices.Device
	Pg      pager
	PgPend  pager
}

func (c *Console) devicesPage(w http.ResponseWriter, r *http.Request, lang string, s *session) {
	if r.Method == http.MethodPost {
		code := r.PostFormValue("code")
		var err error
		var what string
		switch r.PostFormValue("action") {
		case "approve":
			what = "approve device"
			_, err = c.opt.Backend.ApproveDevice(r.Context(), code, s.user)
		case "deny":
			what = "deny device"
			_, err = c.opt.Backend.DenyDevice(r.Context(), code, s.user)
		case "unlink":
			what = "unlink device"
			_, err = c.opt.Backend.UnlinkDevice(r.Context(), code)
		default:
			err = errors.New(T(lang, "err.form"))
		}
		if err != nil {
			c.refuse(w, r, lang, s, http.StatusBadRequest, err.Error())
			return
		}
		c.audit(r, s, what, code)
		done(w, r, "/devices", T(lang, "ok.done")+": "+what+" "+code)
		return
	}
	var pend, others []devices.Device
	for _, d := range c.opt.Backend.Devices() {
		if d.State == devices.Pending {
			pend = append(pend, d)
		} else {
			others = append(others, d)
		}
	}
	pg := paginate(r, len(others))
	pp := paginate(r, len(pend))
	c.render(w, lang, "devices", s, http.StatusOK, devicesData{Pending: pend[pp.From:pp.To], Others: others[pg.From:pg.To], Pg: pg, PgPend: pp}, flash(r), "")
}

type userRow struct {
	Name       string
	Role       string
	MustChange bool
}

type usersData struct {
	Users   []userRow
	NewPass string
	NewUser string
	Roles   []string
}

func (c *Console) usersPage(w http.ResponseWriter, r *http.Request, lang string, s *session) {
	data := usersData{Roles: []string{"admin", "integration", "device", "viewer"}}
	errText, status := "", http.StatusOK
	if r.Method == http.MethodPost {
		name := r.PostFormValue("name")
		switch r.PostFormValue("action") {
		case "add", "reset":
			pw, err := users.RandomPassword()
			if err == nil {
				if r.PostFormValue("action") == "add" {
					role, perr := users.ParseRole(r.PostFormValue("role"))
					err = perr
					if err == nil {
						err = users.Add(c.opt.Users, name, role, pw)
					}
				} else {
					err = users.Passwd(c.opt.Users, name, pw)
				}
			}
			if err == nil {
				var u users.User
				if u, err = c.opt.Users.Get(name); err == nil {
					u.MustChange = true
					err = c.opt.Users.Put(u)
				}
			}
			if err != nil {
				errText, status = err.Error(), http.StatusBadRequest
				break
			}
			c.endUserSessions(name, "")
			c.audit(r, s, "user "+r.PostFormValue("action"), name)
			data.NewPass, data.NewUser = pw, name
		case "remove":
			if name == s.user {
				errText, status = T(lang, "err.self"), http.StatusBadRequest
				break
			}
			if err := users.Remove(c.opt.Users, name); err != nil {
				errText, status = err.Error(), http.StatusBadRequest
				break
			}
			c.endUserSessions(name, "")
			c.audit(r, s, "user remove", name)
			done(w, r, "/users", T(lang, "ok.done")+": "+name)
			return
		default:
			errText, status = T(lang, "err.form"), http.StatusBadRequest
		}
	}
	all, _ := c.opt.Users.List()
	for _, u := range all {
		data.Users = append(data.Users, userRow{Name: u.Name, Role: string(u.Role), MustChange: u.MustChange})
	}
	c.render(w, lang, "users", s, status, data, flash(r), errText)
}

type ipData struct {
	Enabled      bool
	White, Black string
	Reload       string
}

func (c *Console) ipLists(w http.ResponseWriter, r *http.Request, lang string, s *session) {
	dir := c.opt.IPListDir
	errText, status := "", http.StatusOK
	if r.Method == http.MethodPost && dir != "" {
		which := r.PostFormValue("list")
		if which != "whitelist" && which != "blacklist" {
			c.refuse(w, r, lang, s, http.StatusBadRequest, T(lang, "err.form"))
			return
		}
		text := strings.ReplaceAll(r.PostFormValue("text"), "\r\n", "\n")
		if _, err := iplist.Parse(which+".dat", strings.NewReader(text)); err != nil {
			errText, status = err.Error(), http.StatusBadRequest
		} else if err := atomicfile.Write(filepath.Join(dir, which+".dat"), []byte(text), 0o644); err != nil {
			errText, status = err.Error(), http.StatusInternalServerError
		} else {
			c.audit(r, s, "edit "+which+".dat", fmt.Sprintf("%d lines", strings.Count(text, "\n")))
			done(w, r, "/iplists", T(lang, "ok.saved")+" "+which+".dat")
			return
		}
	}
	d := ipData{Enabled: dir != ""}
	if dir != "" {
		var werr, berr error
		d.White, werr = readList(filepath.Join(dir, "whitelist.dat"))
		d.Black, berr = readList(filepath.Join(dir, "blacklist.dat"))
		if err := errors.Join(werr, berr); err != nil && errText == "" {
			// Shown instead of an empty editor whose saving would wipe the list.
			errText = err.Error()
		}
		if c.opt.IPListError != nil {
			if err := c.opt.IPListError(); err != nil {
				d.Reload = err.Error()
			}
		}
	}
	if status != http.StatusOK && r.PostFormValue("list") == "whitelist" {
		d.White = r.PostFormValue("text")
	} else if status != http.StatusOK {
		d.Black = r.PostFormValue("text")
	}
	c.render(w, lang, "iplists", s, status, d, flash(r), errText)
}

// readList reads an IP list file for the editor, bounded and refusing a
// FIFO or device (a file planted in the server's directory cannot hang the
// page); a missing file is an empty list.
func readList(path string) (string, error) {
	b, err := fileio.ReadRegular(nil, path, iplist.LimitFile, "IP list")
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	return string(b), err
}

// auditData is one page of the audit log, newest first, with the
// offsets of the pages beside it (-1: none).
type auditData struct {
	Rows         []audit.Record
	Older, Newer int64
}

// auditPage shows PageSize records of the audit log, newest first. It
// reads only that page from the file (audit.ReadBefore / ReadAfter: a
// few KiB from a byte offset, whatever the log's size); ?before=OFFSET
// pages to older records, ?after=OFFSET to newer ones.
func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, lang string, s *session) {
	data := auditData{Older: -1, Newer: -1}
	errText := ""
	status := http.StatusOK
	if c.opt.AuditPath != "" {
		p, err := readAuditPage(c.opt.AuditPath, r.URL.Query())
		switch {
		case errors.Is(err, os.ErrNotExist):
		case errors.Is(err, audit.ErrOffset), errors.Is(err, strconv.ErrSyntax), errors.Is(err, strconv.ErrRange):
			errText, status = T(lang, "err.form")+": "+err.Error(), http.StatusBadRequest
		case err != nil:
			errText = err.Error()
		default:
			data = auditData{Rows: p.Records, Older: p.Older, Newer: p.Newer}
		}
	}
	c.render(w, lang, "audit", s, status, data, "", errText)
}

// readAuditPage reads the page q asks for (before=, after=, or the
// newest) from the audit log at path.
func readAuditPage(path string, q url.Values) (*audit.Page, error) {
	// Opened without blocking and checked on the descriptor: a FIFO
	// planted as audit.log cannot hang the page.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %s, not a regular file: the audit log must be a file", path, fileio.KindOf(fi.Mode()))
	}
	size := fi.Size()
	if v := q.Get("after"); v != "" {
		off, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, err
		}
		return audit.ReadAfter(f, size, off, PageSize)
	}
	off := size
	if v := q.Get("before"); v != "" {
		if off, err = strconv.ParseInt(v, 10, 64); err != nil {
			return nil, err
		}
	}
	return audit.ReadBefore(f, size, off, PageSize)
}

func (c *Console) settings(w http.ResponseWriter, r *http.Request, lang string, s *session) {
	c.render(w, lang, "settings", s, http.StatusOK, c.opt.Backend.Settings(), "", "")
}
