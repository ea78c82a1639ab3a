package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/region"
)

// decode reads a JSON body strictly: unknown fields and trailing data are
// refused with a message that says so.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apperr.New(apperr.Invalid, "web.body_too_large").Wrap(err)
		}
		return apperr.New(apperr.Invalid, "web.body_invalid_json", "detail", err.Error()).Wrap(err)
	}
	if !utf8.Valid(body) {
		return badText("")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return apperr.New(apperr.Invalid, "web.body_too_large").Wrap(err)
		case errors.Is(err, io.EOF):
			return apperr.New(apperr.Invalid, "web.body_empty").Wrap(err)
		}
		return apperr.New(apperr.Invalid, "web.body_invalid_json", "detail", err.Error()).Wrap(err)
	}
	if dec.More() {
		return apperr.New(apperr.Invalid, "web.body_invalid_json", "detail", "trailing data").Wrap(errors.New("trailing data"))
	}
	return checkDecoded(reflect.ValueOf(v), "")
}

func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.New(apperr.Invalid, "web.bad_id", "value", r.PathValue(name)).OnField(name)
	}
	return id, nil
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDoc)
}

func (s *Server) apiNotFound(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, apperr.New(apperr.NotFound, "web.api_not_found", "path", r.URL.Path))
}

type meResponse struct {
	User         meUser       `json:"user"`
	Organization identity.Org `json:"organization"`
	Roles        []string     `json:"roles"`
	Via          string       `json:"via"`
}

type meUser struct {
	ID    int64  `json:"id"`
	Login string `json:"login"`
	Name  string `json:"name"`
}

func (s *Server) apiMe(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	org, err := s.ids.Org(r.Context(), p.OrgID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	roles := make([]string, len(p.Roles))
	for i, x := range p.Roles {
		roles[i] = string(x)
	}
	via := "session"
	if p.TokenID != 0 {
		via = "token"
	}
	writeJSON(w, http.StatusOK, meResponse{User: meUser{p.UserID, p.Login, p.Name}, Organization: org, Roles: roles, Via: via})
}

type regionJSON struct {
	Code   string       `json:"code"`
	Name   string       `json:"name"`
	NameEN string       `json:"name_en"`
	Level  region.Level `json:"level"`
	Parent string       `json:"parent,omitempty"`
}

// apiRegions is public: the division table is public reference data.
func (s *Server) apiRegions(w http.ResponseWriter, r *http.Request) {
	parent := r.URL.Query().Get("parent")
	var rs []region.Region
	if parent == "" {
		rs = s.regions.Provinces()
	} else {
		if _, ok := s.regions.Lookup(parent); !ok {
			s.fail(w, r, apperr.New(apperr.NotFound, "identity.region_unknown", "code", parent))
			return
		}
		rs = s.regions.Children(parent)
	}
	out := make([]regionJSON, len(rs))
	for i, x := range rs {
		out[i] = regionJSON{x.Code, x.NameZH, x.NameEN, x.Level, x.ParentCode()}
	}
	writeJSON(w, http.StatusOK, map[string]any{"regions": out})
}

func (s *Server) apiOrgs(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	if !s.authorize(w, r, p, identity.ActOrgRead, identity.Object{}) {
		return
	}
	q := r.URL.Query()
	orgs, err := s.ids.Orgs(r.Context(), identity.OrgFilter{Type: identity.OrgType(q.Get("type")), Region: q.Get("region")})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if orgs == nil {
		orgs = []identity.Org{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"organizations": orgs})
}

func (s *Server) apiOrg(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !s.authorize(w, r, p, identity.ActOrgRead, identity.Object{OrgID: id}) {
		return
	}
	org, err := s.ids.Org(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, org)
}

// refuseBody audits a request whose body could not be read as the action
// it was meant to be, so that even a malformed attempt leaves a trace.
func (s *Server) refuseBody(w http.ResponseWriter, r *http.Request, action, objectType string, err error) {
	s.deny(w, r, action, objectType, "", err)
}

func (s *Server) apiOrgCreate(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	var in identity.OrgInput
	if err := decode(r, &in); err != nil {
		s.refuseBody(w, r, "org.create", "organization", err)
		return
	}
	org, err := s.ids.CreateOrg(r.Context(), *p, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, org)
}

func (s *Server) apiUsers(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	var orgID int64
	if v := r.URL.Query().Get("org_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			s.fail(w, r, apperr.New(apperr.Invalid, "web.bad_id", "value", v).OnField("org_id"))
			return
		}
		orgID = id
	}
	obj := identity.Object{OrgID: orgID}
	if orgID == 0 && !p.Has(identity.RoleAdmin) {
		obj.OrgID = p.OrgID
	}
	if !s.authorize(w, r, p, identity.ActUserRead, obj) {
		return
	}
	users, err := s.ids.Users(r.Context(), *p, obj.OrgID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if users == nil {
		users = []identity.User{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": users})
}

func (s *Server) apiUserCreate(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	var in identity.UserInput
	if err := decode(r, &in); err != nil {
		s.refuseBody(w, r, "user.create", "user", err)
		return
	}
	u, err := s.ids.CreateUser(r.Context(), *p, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, u)
}

type passwordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
	KeepTokens      bool   `json:"keep_tokens"`
}

func (s *Server) apiUserPassword(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	var in passwordRequest
	if err := decode(r, &in); err != nil {
		s.refuseBody(w, r, "user.set_password", "user", err)
		return
	}
	if _, err := s.ids.SetPassword(r.Context(), *p, identity.PasswordChange{Login: r.PathValue("login"), Current: in.CurrentPassword,
		Next: in.NewPassword, KeepTokens: in.KeepTokens, Client: s.client(r)}); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiTokens(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ts, err := s.ids.Tokens(r.Context(), *p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ts == nil {
		ts = []identity.Token{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": ts})
}

type tokenRequest struct {
	Name          string `json:"name"`
	ExpiresInDays int    `json:"expires_in_days"`
}

type tokenCreated struct {
	identity.Token
	Secret string `json:"secret"`
}

func (s *Server) apiTokenCreate(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	var in tokenRequest
	if err := decode(r, &in); err != nil {
		s.refuseBody(w, r, "token.create", "api_token", err)
		return
	}
	ttl := time.Duration(in.ExpiresInDays) * 24 * time.Hour
	if in.ExpiresInDays < 0 {
		ttl = -1
	}
	t, secret, err := s.ids.CreateToken(r.Context(), *p, in.Name, ttl)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, tokenCreated{t, secret})
}

func (s *Server) apiTokenRevoke(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.refuseBody(w, r, "token.revoke", "api_token", err)
		return
	}
	if err := s.ids.RevokeToken(r.Context(), *p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// auditFilter reads the list filters shared by the API and the console.
func auditFilter(r *http.Request) (audit.Filter, error) {
	q := r.URL.Query()
	var f audit.Filter
	ints := []struct {
		name string
		dst  *int64
	}{{"actor", &f.ActorUserID}, {"org", &f.OrgID}, {"before", &f.BeforeID}}
	for _, x := range ints {
		if v := q.Get(x.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 {
				return f, apperr.New(apperr.Invalid, "web.bad_id", "value", v).OnField(x.name)
			}
			*x.dst = n
		}
	}
	f.Action, f.ObjectType, f.ObjectID = q.Get("action"), q.Get("object_type"), q.Get("object_id")
	if v := q.Get("outcome"); v != "" {
		switch audit.Outcome(v) {
		case audit.OK, audit.Refused, audit.Failed:
			f.Outcome = audit.Outcome(v)
		default:
			return f, apperr.New(apperr.Invalid, "web.bad_outcome", "value", v).OnField("outcome")
		}
	}
	for _, x := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(x.name); v != "" {
			t, err := parseTime(v)
			if err != nil {
				return f, apperr.New(apperr.Invalid, "web.bad_time", "value", v).OnField(x.name)
			}
			*x.dst = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 1000 {
			return f, apperr.New(apperr.Invalid, "web.bad_limit", "value", v).OnField("limit")
		}
		f.Limit = n
	}
	return f, nil
}

// parseTime accepts RFC 3339 or a date (taken as midnight in Asia/Shanghai).
func parseTime(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	t, err := time.ParseInLocation("2006-01-02", v, shanghai)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: want RFC 3339 or YYYY-MM-DD", v)
	}
	return t, nil
}

// scopeAudit restricts a filter to what p may read: everything for the
// roles that oversee the platform, the own organisation's entries otherwise.
func (s *Server) scopeAudit(w http.ResponseWriter, r *http.Request, p *identity.Principal, f *audit.Filter) bool {
	if identity.Authorize(s.regions, *p, identity.ActAuditReadAll, identity.Object{}) == nil {
		return true
	}
	if f.OrgID == 0 {
		f.OrgID = p.OrgID
	}
	return s.authorize(w, r, p, identity.ActAuditRead, identity.Object{OrgID: f.OrgID})
}

// listAudit scopes f to what p may read and lists the entries; on a
// refusal or an error it has answered and reports false.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, p *identity.Principal, f *audit.Filter) ([]audit.Entry, bool) {
	if !s.scopeAudit(w, r, p, f) {
		return nil, false
	}
	es, err := s.audit.List(r.Context(), *f)
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return es, true
}

func (s *Server) apiAuditEntries(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	f, err := auditFilter(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	es, ok := s.listAudit(w, r, p, &f)
	if !ok {
		return
	}
	if es == nil {
		es = []audit.Entry{}
	}
	resp := map[string]any{"entries": es}
	if n := len(es); n > 0 && (f.Limit == 0 && n == 100 || n == f.Limit) {
		resp["next_before"] = es[n-1].ID
	}
	writeJSON(w, http.StatusOK, resp)
}

// regionTable adapts the division table for templates.
type regionTable struct{ t *region.Table }

func (rt regionTable) Name(code, lang string) string {
	if r, ok := rt.t.Lookup(code); ok {
		return r.Name(lang)
	}
	return code
}
