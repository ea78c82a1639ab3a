package web

import (
	"bytes"
	"fmt"
	"github.com/gongshu/gongshu/internal/supply"
	"html/template"
	"net/http"
	"time"

	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/i18n"
	"github.com/gongshu/gongshu/internal/identity"
)

// shanghai is where times are shown; they are stored in UTC.
var shanghai = time.FixedZone("CST", 8*3600)

var templateFuncs = template.FuncMap{
	"cst": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(shanghai).Format("2006-01-02 15:04:05")
	},
	"dict": func(kv ...any) map[string]any {
		m := make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
	"list": func(xs ...string) []string { return xs },
	// deref shows an optional number.
	"deref": func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	},
	// day shows a deadline date (stored as a UTC midnight) as that date.
	"day": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			return v.UTC().Format("2006-01-02")
		case *time.Time:
			if v != nil {
				return v.UTC().Format("2006-01-02")
			}
		}
		return ""
	},
	"yuan": func(fen int64) string { return fmt.Sprintf("¥%d.%02d", fen/100, fen%100) },
	// pct shows a 0..1 confidence as a percentage.
	"pct": func(f float64) float64 { return f * 100 },
	// short abbreviates a hash; the whole one is in the title attribute.
	"short": func(h string) string { return h[:min(len(h), 12)] },
	"tagOf": func(tags []supply.ColumnTag, column string) *supply.ColumnTag {
		for i := range tags {
			if tags[i].Column == column {
				return &tags[i]
			}
		}
		return nil
	},
	"profileOf": func(ps []supply.ColumnProfile, column string) *supply.ColumnProfile {
		for i := range ps {
			if ps[i].Name == column {
				return &ps[i]
			}
		}
		return nil
	},
	"cstp": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.In(shanghai).Format("2006-01-02 15:04")
	},
}

// view is what every page template receives.
type view struct {
	Lang      string
	Title     string
	Principal *identity.Principal
	Nav       []navItem
	Active    string
	CSRF      string
	Path      string
	RequestID string
	Version   string
	Data      any
	// Sealed is the integrity alarm that stops writes, shown on every page.
	Sealed  *audit.Alarm
	CanAck  bool
	cat     *i18n.Catalog
	regions regionNamer
	// readable and auditable decide whether a link is shown: a link
	// appears only when the page behind it would open.
	readable  func(kind string, id int64) bool
	auditable func(orgID int64) bool
}

// Readable reports whether the viewer may open the plan or agreement.
func (v *view) Readable(kind string, id int64) bool { return v.readable != nil && v.readable(kind, id) }

// AuditLink reports whether the viewer may open entries written by a
// member of the organisation.
func (v *view) AuditLink(orgID int64) bool { return v.auditable != nil && v.auditable(orgID) }

type regionNamer interface {
	Name(code, lang string) string
}

// T translates a message key; args are pairs of placeholder and value.
func (v *view) T(key string, args ...string) string {
	var m map[string]string
	if len(args) > 1 {
		m = make(map[string]string, len(args)/2)
		for i := 0; i+1 < len(args); i += 2 {
			m[args[i]] = args[i+1]
		}
	}
	return v.cat.T(v.Lang, key, m)
}

// OrgType, RoleName and Outcome render enumerations through the catalogs.
func (v *view) OrgType(t identity.OrgType) string { return v.T("org.type." + string(t)) }
func (v *view) RoleName(r identity.Role) string   { return v.T("role." + string(r)) }
func (v *view) Outcome(o string) string           { return v.T("audit.outcome." + o) }
func (v *view) Region(code string) string         { return v.regions.Name(code, v.Lang) }

// Enum renders a registry enumeration value ("grade", "general-3").
func (v *view) Enum(kind, value string) string {
	if value == "" {
		return ""
	}
	return v.T("registry." + kind + "." + value)
}

// OtherLang is the language the switch offers.
func (v *view) OtherLang() string {
	if v.Lang == i18n.EN {
		return i18n.ZH
	}
	return i18n.EN
}

type navItem struct {
	Key, Href string
}

// navFor builds the console navigation for a principal from what it may
// do, so a link is shown exactly when the page behind it would open.
func (s *Server) navFor(p *identity.Principal) []navItem {
	items := []navItem{{"nav.dashboard", "/console"}, {"nav.orgs", "/console/orgs"}, {"nav.registry", "/console/registry"},
		{"nav.plans", "/console/plans"}, {"nav.agreements", "/console/agreements"}, {"nav.workspaces", "/console/workspaces"},
		{"nav.cases", "/console/cases"}, {"nav.negative", "/console/negative"}}
	if identity.Authorize(s.regions, *p, identity.ActUserCreate, identity.Object{}) == nil {
		items = append(items, navItem{"nav.users", "/console/users"})
	}
	if identity.Authorize(s.regions, *p, identity.ActAuditReadAll, identity.Object{}) == nil {
		items = append(items, navItem{"nav.audit", "/console/audit"})
	} else {
		items = append(items, navItem{"nav.audit_own", "/console/audit"})
	}
	items = append(items, navItem{"nav.tokens", "/console/tokens"}, navItem{"nav.password", "/console/password"})
	return items
}

func (s *Server) newView(r *http.Request, title string, data any) *view {
	st := state(r)
	v := &view{Lang: st.lang, Title: title, Principal: st.principal, Path: r.URL.RequestURI(), RequestID: st.id,
		Version: s.cfg.Version, Data: data, cat: s.cat, regions: regionTable{s.regions}}
	if st.principal != nil {
		v.Nav = s.navFor(st.principal)
		v.CSRF = st.principal.CSRFToken
		v.Sealed = s.audit.Sealed()
		v.CanAck = identity.Authorize(s.regions, *st.principal, identity.ActAuditAck, identity.Object{}) == nil
		p := *st.principal
		v.readable = func(kind string, id int64) bool { return s.grant != nil && s.grant.Readable(r.Context(), p, kind, id) }
		all := identity.Authorize(s.regions, p, identity.ActAuditReadAll, identity.Object{}) == nil
		v.auditable = func(orgID int64) bool {
			return all || identity.Authorize(s.regions, p, identity.ActAuditRead, identity.Object{OrgID: orgID}) == nil
		}
	}
	return v
}

// render writes a page; it renders into a buffer first so a template
// error becomes a clean 500 rather than half a page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	s.renderView(w, r, status, name, s.newView(r, "title."+name, data))
}

func (s *Server) renderView(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	t, ok := s.pages[name]
	if !ok {
		s.logger.Error("no such page template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		s.logger.Error("render page", "name", name, "request_id", v.RequestID, "err", err)
		http.Error(w, "internal error "+v.RequestID, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
