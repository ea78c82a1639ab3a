package web

import (
	"net/http"
	"net/url"
	"time"

	"github.com/gongshu/gongshu/internal/i18n"
	"github.com/gongshu/gongshu/internal/identity"
)

type portalData struct {
	Operators []identity.Org
	Counts    map[identity.OrgType]int
	Types     []identity.OrgType
}

// portalHome is the public face: what the platform is and who takes part,
// with no login and no data.
func (s *Server) portalHome(w http.ResponseWriter, r *http.Request) {
	orgs, err := s.ids.Orgs(r.Context(), identity.OrgFilter{})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := portalData{Counts: map[identity.OrgType]int{}, Types: identity.OrgTypes}
	for _, o := range orgs {
		d.Counts[o.Type]++
		if o.Type == identity.OrgOperator {
			d.Operators = append(d.Operators, o)
		}
	}
	s.render(w, r, http.StatusOK, "portal", d)
}

// switchLanguage sets the language cookie and returns to the page the
// person was on.
func (s *Server) switchLanguage(w http.ResponseWriter, r *http.Request) {
	lang := i18n.Normalize(r.URL.Query().Get("to"))
	s.setCookie(w, langCookie, lang, 365*24*time.Hour)
	next := r.URL.Query().Get("next")
	if next == "" {
		next = "/"
	}
	if u, err := url.Parse(next); err != nil || u.IsAbs() || u.Host != "" {
		next = "/"
	}
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}
