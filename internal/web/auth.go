package web

import (
	"crypto/subtle"
	"net/http"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/identity"
)

type authedHandler func(w http.ResponseWriter, r *http.Request, p *identity.Principal)

const maxFormBytes = 1 << 20

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// requireLogin answers and returns nil when the request has no valid
// caller. Failed credentials (an expired or revoked token, a dead session)
// and attempts to change something are audited; a plain anonymous read is
// not, so that crawlers cannot flood the log.
func (s *Server) requireLogin(w http.ResponseWriter, r *http.Request) *identity.Principal {
	st := state(r)
	if st.principal != nil {
		return st.principal
	}
	err := st.authErr
	if err == nil {
		err = apperr.New(apperr.Unauthenticated, "identity.login_required")
		if !unsafeMethod(r.Method) {
			s.fail(w, r, err)
			return nil
		}
	}
	if !isAPI(r) && !unsafeMethod(r.Method) {
		// A console page with a stale cookie: clear it and go to the login page.
		s.setCookie(w, sessionCookie, "", -1)
		s.fail(w, r, apperr.New(apperr.Unauthenticated, "identity.login_required"))
		return nil
	}
	s.deny(w, r, "auth.authenticate", "route", r.Pattern, err)
	return nil
}

// checkCSRF compares the token a session-authenticated change carries
// with the session's own. Bearer-token calls carry no ambient authority
// and need none.
func (s *Server) checkCSRF(w http.ResponseWriter, r *http.Request, p *identity.Principal, got string) bool {
	if p.SessionHash == "" || !unsafeMethod(r.Method) {
		return true
	}
	if got == "" {
		s.deny(w, r, "auth.csrf", "route", r.Pattern, apperr.New(apperr.Forbidden, "web.csrf_missing"))
		return false
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(p.CSRFToken)) != 1 {
		s.deny(w, r, "auth.csrf", "route", r.Pattern, apperr.New(apperr.Forbidden, "web.csrf_invalid"))
		return false
	}
	return true
}

// api wraps an API handler: a caller is required, and a session-cookie
// caller changing something must send the X-CSRF-Token header.
func (s *Server) api(h authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := s.requireLogin(w, r)
		if p == nil {
			return
		}
		if !s.checkCSRF(w, r, p, r.Header.Get("X-CSRF-Token")) {
			return
		}
		if unsafeMethod(r.Method) {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		}
		h(w, r, p)
	}
}

// page wraps a console handler: a session is required, and every form
// post must carry the session's CSRF token.
func (s *Server) page(h authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p := s.requireLogin(w, r)
		if p == nil {
			return
		}
		if unsafeMethod(r.Method) {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				s.fail(w, r, apperr.New(apperr.Invalid, "web.form_unreadable").Wrap(err))
				return
			}
			if err := checkValues(r.PostForm); err != nil {
				s.deny(w, r, "web.input", "route", r.Pattern, err)
				return
			}
			if !s.checkCSRF(w, r, p, r.PostFormValue("csrf_token")) {
				return
			}
		}
		h(w, r, p)
	}
}

// authorize checks a read in the web layer and audits a refusal.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, p *identity.Principal, a identity.Action, o identity.Object) bool {
	if err := identity.Authorize(s.regions, *p, a, o); err != nil {
		s.deny(w, r, string(a), "route", r.Pattern, err)
		return false
	}
	return true
}

// optionalPrincipal is the caller if signed in, else the anonymous one.
func optionalPrincipal(r *http.Request) identity.Principal {
	if st := state(r); st.principal != nil {
		return *st.principal
	}
	return identity.Principal{}
}
