package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
)

// formView is a form page's data: the values typed so far and the error
// to show beside its field, so a refused form comes back filled in.
type formView struct {
	Values url.Values
	Error  string
	Field  string
	Extra  any
}

func (f formView) Get(k string) string { return f.Values.Get(k) }

func (s *Server) formError(r *http.Request, err error) formView {
	_, msg, field := s.message(r, err)
	return formView{Values: r.PostForm, Error: msg, Field: field}
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if state(r).principal != nil {
		http.Redirect(w, r, "/console", http.StatusSeeOther)
		return
	}
	s.renderLogin(w, r, http.StatusOK, formView{Values: url.Values{"next": {safeNext(r.URL.Query().Get("next"))}}})
}

// renderLogin issues a fresh pre-session CSRF pair with the login form: a
// random nonce in a cookie, and in the form a token the server signed
// over that nonce and an expiry (see loginToken). Matching is not enough:
// a pair the sender chose is refused (finding 12 of issue 15).
func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, f formView) {
	nonce := newRequestID() + newRequestID()
	s.setCookie(w, loginCSRF, nonce, loginCSRFTTL)
	v := s.newView(r, "title.login", f)
	v.CSRF = s.loginToken(nonce, s.now().Add(loginCSRFTTL))
	s.renderView(w, r, status, "login", v)
}

// loginCSRFTTL is how long a login form may be submitted.
const loginCSRFTTL = time.Hour

// loginToken is expiry "." HMAC-SHA256(LoginKey, purpose, nonce, expiry),
// the expiry in Unix seconds, the MAC in base64url.
func (s *Server) loginToken(nonce string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	m := hmac.New(sha256.New, s.cfg.LoginKey)
	m.Write([]byte("gongshu login csrf\x00" + nonce + "\x00" + exp))
	return exp + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// loginTokenValid checks a submitted token against the cookie's nonce.
func (s *Server) loginTokenValid(nonce, token string) bool {
	exp, _, ok := strings.Cut(token, ".")
	sec, err := strconv.ParseInt(exp, 10, 64)
	if !ok || err != nil || nonce == "" || !s.now().Before(time.Unix(sec, 0)) {
		return false
	}
	return hmac.Equal([]byte(token), []byte(s.loginToken(nonce, time.Unix(sec, 0))))
}

// crossSite says whether the browser says the post came from another
// site. (Origin is not compared with Host: a reverse proxy may rewrite
// Host.)
func crossSite(r *http.Request) bool {
	return r.Header.Get("Sec-Fetch-Site") == "cross-site"
}

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, apperr.New(apperr.Invalid, "web.form_unreadable").Wrap(err))
		return
	}
	if err := checkValues(r.PostForm); err != nil {
		refusal := s.refuseAnonymous(r, audit.Entry{Actor: audit.Anonymous(""), Action: "web.input", ObjectType: "route", ObjectID: "POST /login"}, err)
		s.renderLogin(w, r, http.StatusBadRequest, s.formError(r, refusal))
		return
	}
	login := r.PostFormValue("login")
	c, err := r.Cookie(loginCSRF)
	sent := r.PostFormValue("csrf_token")
	if err != nil || sent == "" || crossSite(r) || !s.loginTokenValid(c.Value, sent) {
		key := "web.csrf_missing"
		if sent != "" {
			key = "web.csrf_invalid"
		}
		refusal := s.refuseAnonymous(r, audit.Entry{Actor: audit.Anonymous(login), Action: "auth.csrf", ObjectType: "route", ObjectID: "POST /login"},
			apperr.New(apperr.Forbidden, key))
		s.renderLogin(w, r, http.StatusForbidden, s.formError(r, refusal))
		return
	}
	sess, _, err := s.ids.Login(r.Context(), login, r.PostFormValue("password"), s.client(r))
	if err != nil {
		if e, ok := apperr.As(err); ok && e.Code == apperr.Unavailable && e.Args["retry_after"] != "" {
			w.Header().Set("Retry-After", e.Args["retry_after"])
		}
		f := s.formError(r, err)
		f.Values.Del("password")
		s.renderLogin(w, r, httpStatus(apperr.CodeOf(err)), f)
		return
	}
	s.setCookie(w, loginCSRF, "", -1)
	s.setCookie(w, sessionCookie, sess.Token, 0)
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if err := s.ids.Logout(r.Context(), *p); err != nil {
		s.fail(w, r, err)
		return
	}
	s.setCookie(w, sessionCookie, "", -1)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

type dashboardData struct {
	Org          identity.Org
	Recent       []audit.Entry
	AuditEntries int64
	OrgCounts    map[identity.OrgType]int
	OrgTypes     []identity.OrgType
	Loading      []LoadLine
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ctx := r.Context()
	org, err := s.ids.Org(ctx, p.OrgID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	recent, err := s.audit.List(ctx, audit.Filter{ActorUserID: p.UserID, Limit: 8})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	orgs, err := s.ids.Orgs(ctx, identity.OrgFilter{})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	counts := map[identity.OrgType]int{}
	for _, o := range orgs {
		counts[o.Type]++
	}
	n, _ := s.audit.Count(ctx)
	s.render(w, r, http.StatusOK, "dashboard", dashboardData{Org: org, Recent: recent, AuditEntries: n, OrgCounts: counts, OrgTypes: identity.OrgTypes,
		Loading: s.loading()})
}

type orgsData struct {
	Orgs      []identity.Org
	Names     map[int64]string
	Retention map[int64]time.Time
	CanCreate bool
	Type      string
	Types     []identity.OrgType
}

func (s *Server) orgsPage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	typ := r.URL.Query().Get("type")
	all, names, err := s.orgNames(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var orgs []identity.Org
	for _, o := range all {
		if typ == "" || string(o.Type) == typ {
			orgs = append(orgs, o)
		}
	}
	retention, err := s.audit.Retentions(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	can := identity.Authorize(s.regions, *p, identity.ActOrgCreate, identity.Object{Region: p.Region}) == nil
	s.render(w, r, http.StatusOK, "orgs", orgsData{Orgs: orgs, Names: names, Retention: retention, CanCreate: can, Type: typ, Types: identity.OrgTypes})
}

type orgFormExtra struct {
	Types       []identity.OrgType
	Authorities []identity.Org
}

func (s *Server) orgFormExtra(r *http.Request) orgFormExtra {
	auths, _ := s.ids.Orgs(r.Context(), identity.OrgFilter{Type: identity.OrgAuthority})
	return orgFormExtra{Types: identity.OrgTypes, Authorities: auths}
}

func (s *Server) orgNewPage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if !s.authorize(w, r, p, identity.ActOrgCreate, identity.Object{Region: p.Region}) {
		return
	}
	s.render(w, r, http.StatusOK, "org_new", formView{Values: url.Values{"region": {p.Region}}, Extra: s.orgFormExtra(r)})
}

func (s *Server) orgCreate(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	in := identity.OrgInput{
		Type: identity.OrgType(r.PostFormValue("type")), Name: r.PostFormValue("name"), NameEN: r.PostFormValue("name_en"),
		Region: r.PostFormValue("region"), CreditCode: r.PostFormValue("credit_code"),
	}
	if v := r.PostFormValue("files_with"); v != "" {
		in.FilesWith, _ = strconv.ParseInt(v, 10, 64)
	}
	if _, err := s.ids.CreateOrg(r.Context(), *p, in); err != nil {
		if apperr.IsCode(err, apperr.Forbidden) {
			s.fail(w, r, err)
			return
		}
		f := s.formError(r, err)
		f.Extra = s.orgFormExtra(r)
		s.render(w, r, httpStatus(apperr.CodeOf(err)), "org_new", f)
		return
	}
	http.Redirect(w, r, "/console/orgs?created=1", http.StatusSeeOther)
}

type usersData struct {
	Users []identity.User
	Names map[int64]string
}

func (s *Server) usersPage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	// The page lists every account, so it is the administrator's.
	if !s.authorize(w, r, p, identity.ActUserCreate, identity.Object{}) {
		return
	}
	users, err := s.ids.Users(r.Context(), *p, 0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	_, names, err := s.orgNames(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "users", usersData{Users: users, Names: names})
}

// orgNames lists every organisation with a map from ID to name, for pages
// that show organisations by name.
func (s *Server) orgNames(r *http.Request) ([]identity.Org, map[int64]string, error) {
	orgs, err := s.ids.Orgs(r.Context(), identity.OrgFilter{})
	names := make(map[int64]string, len(orgs))
	for _, o := range orgs {
		names[o.ID] = o.Name
	}
	return orgs, names, err
}

type userFormExtra struct {
	Orgs  []identity.Org
	Roles []identity.Role
}

func (s *Server) userFormExtra(r *http.Request) userFormExtra {
	orgs, _ := s.ids.Orgs(r.Context(), identity.OrgFilter{})
	return userFormExtra{Orgs: orgs, Roles: identity.Roles}
}

func (s *Server) userNewPage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if !s.authorize(w, r, p, identity.ActUserCreate, identity.Object{}) {
		return
	}
	s.render(w, r, http.StatusOK, "user_new", formView{Values: url.Values{}, Extra: s.userFormExtra(r)})
}

func (s *Server) userCreate(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	in := identity.UserInput{Login: r.PostFormValue("login"), Name: r.PostFormValue("name"), Password: r.PostFormValue("password")}
	in.OrgID, _ = strconv.ParseInt(r.PostFormValue("org_id"), 10, 64)
	for _, role := range r.PostForm["roles"] {
		in.Roles = append(in.Roles, identity.Role(role))
	}
	if _, err := s.ids.CreateUser(r.Context(), *p, in); err != nil {
		if apperr.IsCode(err, apperr.Forbidden) {
			s.fail(w, r, err)
			return
		}
		f := s.formError(r, err)
		f.Values.Del("password")
		f.Extra = s.userFormExtra(r)
		s.render(w, r, httpStatus(apperr.CodeOf(err)), "user_new", f)
		return
	}
	http.Redirect(w, r, "/console/users?created=1", http.StatusSeeOther)
}

type tokensData struct {
	Tokens []identity.Token
	Now    time.Time
	// Secret is shown once, right after creation.
	Secret string
	Form   formView
}

func (s *Server) tokensData(r *http.Request, p *identity.Principal) (tokensData, error) {
	ts, err := s.ids.Tokens(r.Context(), *p)
	return tokensData{Tokens: ts, Now: s.now(), Form: formView{Values: url.Values{}}}, err
}

func (s *Server) tokensPage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	d, err := s.tokensData(r, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "tokens", d)
}

func (s *Server) tokenCreate(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	days, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("expires_in_days")))
	if err != nil {
		days = -1
	}
	_, secret, cerr := s.ids.CreateToken(r.Context(), *p, r.PostFormValue("name"), time.Duration(days)*24*time.Hour)
	d, err := s.tokensData(r, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := http.StatusCreated
	if cerr != nil {
		d.Form = s.formError(r, cerr)
		status = httpStatus(apperr.CodeOf(cerr))
	}
	d.Secret = secret
	s.render(w, r, status, "tokens", d)
}

func (s *Server) tokenRevoke(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err == nil {
		err = s.ids.RevokeToken(r.Context(), *p, id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/console/tokens", http.StatusSeeOther)
}

func (s *Server) passwordPage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	v := url.Values{}
	q := r.URL.Query()
	if q.Get("changed") == "1" {
		// Counts only: what the change ended, shown back to its maker.
		v.Set("changed", "1")
		v.Set("sessions", strconv.Itoa(atoiOr0(q.Get("sessions"))))
		v.Set("tokens", strconv.Itoa(atoiOr0(q.Get("tokens"))))
	}
	s.render(w, r, http.StatusOK, "password", formView{Values: v})
}

func atoiOr0(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func (s *Server) passwordSubmit(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	next := r.PostFormValue("new_password")
	if next != r.PostFormValue("confirm_password") {
		err := s.audit.Refuse(r.Context(), audit.Entry{Actor: p.Actor(), Action: "user.set_password", ObjectType: "user",
			ObjectID: strconv.FormatInt(p.UserID, 10)}, apperr.New(apperr.Invalid, "identity.password_mismatch").OnField("confirm_password"))
		s.render(w, r, http.StatusBadRequest, "password", s.formError(r, err))
		return
	}
	done, err := s.ids.SetPassword(r.Context(), *p, identity.PasswordChange{Login: p.Login, Current: r.PostFormValue("current_password"),
		Next: next, KeepTokens: r.PostFormValue("keep_tokens") == "1", Client: s.client(r)})
	if err != nil {
		s.render(w, r, httpStatus(apperr.CodeOf(err)), "password", s.formError(r, err))
		return
	}
	// This session stays; every other one ended, and the API tokens were
	// revoked unless kept.
	http.Redirect(w, r, fmt.Sprintf("/console/password?changed=1&sessions=%d&tokens=%d", done.Sessions, done.Tokens), http.StatusSeeOther)
}

type auditData struct {
	Entries []audit.Entry
	All     bool
	Key     string
	Latest  audit.Checkpoint
	Filter  audit.Filter
	Query   url.Values
	Next    int64
	// Witnesses are the witnesses the checkpoints are submitted to; Behind
	// flags one that has not cosigned the latest checkpoint a minute on.
	Witnesses []witnessLine
}

type witnessLine struct {
	audit.WitnessStatus
	Behind bool
}

// witnessLines says how each witness keeps up with the latest checkpoint.
func (s *Server) witnessLines(latest audit.Checkpoint) []witnessLine {
	var out []witnessLine
	for _, w := range s.tree.WitnessStatuses() {
		out = append(out, witnessLine{WitnessStatus: w,
			Behind: w.Cosigned < latest.Size && s.now().Sub(latest.At) > time.Minute})
	}
	return out
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	f, err := auditFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if f.Limit == 0 {
		f.Limit = 50
	}
	all := identity.Authorize(s.regions, *p, identity.ActAuditReadAll, identity.Object{}) == nil
	es, ok := s.listAudit(w, r, p, &f)
	if !ok {
		return
	}
	latest, err := s.tree.Latest(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := auditData{Entries: es, All: all, Filter: f, Query: r.URL.Query(), Key: s.tree.VerifierKey(), Latest: latest, Witnesses: s.witnessLines(latest)}
	if len(es) == f.Limit {
		d.Next = es[len(es)-1].ID
	}
	s.render(w, r, http.StatusOK, "audit", d)
}
