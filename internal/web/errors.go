package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
)

// apiError is the one error shape of the API.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
	Field     string `json:"field,omitempty"`
}

func httpStatus(c apperr.Code) int {
	switch c {
	case apperr.Invalid:
		return http.StatusBadRequest
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.Unauthenticated:
		return http.StatusUnauthorized
	case apperr.Forbidden:
		return http.StatusForbidden
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.Locked:
		return http.StatusLocked
	case apperr.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// message renders an error for a person in the request's language;
// internal errors are logged and shown only as a plain message.
func (s *Server) message(r *http.Request, err error) (apperr.Code, string, string) {
	st := state(r)
	if e, ok := apperr.As(err); ok && e.Code != apperr.Internal {
		return e.Code, s.cat.T(st.lang, e.Key, e.Args), e.Field
	}
	s.logger.Error("internal error", "request_id", st.id, "method", r.Method, "path", r.URL.Path, "err", err)
	return apperr.Internal, s.cat.T(st.lang, "error.internal", map[string]string{"request_id": st.id}), ""
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

// fail answers with err: JSON for the API, an error page for the console.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code, msg, field := s.message(r, err)
	status := httpStatus(code)
	if e, ok := apperr.As(err); ok && e.Code == apperr.Unavailable && e.Args["retry_after"] != "" {
		w.Header().Set("Retry-After", e.Args["retry_after"])
	}
	if isAPI(r) {
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gongshu"`)
		}
		writeJSON(w, status, apiError{apiErrorBody{Code: string(code), Message: msg, RequestID: state(r).id, Field: field}})
		return
	}
	// A page asked for without a sign-in goes to the login page; one asked
	// for with a bearer token that does not work gets its 401 (a redirect
	// would loop, the header going along).
	if status == http.StatusUnauthorized && r.Method == http.MethodGet && r.Header.Get("Authorization") == "" {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(safeNext(r.URL.RequestURI())), http.StatusSeeOther)
		return
	}
	s.render(w, r, status, "error", map[string]any{"Status": status, "Message": msg})
}

// deny audits a refusal decided in the web layer (a read that is not
// allowed, a missing CSRF token) and answers with it. A refusal of a
// caller without a valid credential goes through the folds (see fold.go).
func (s *Server) deny(w http.ResponseWriter, r *http.Request, action, objectType, objectID string, err error) {
	e := audit.Entry{Actor: s.actor(r), Action: action, ObjectType: objectType, ObjectID: objectID}
	e.Set("method", r.Method)
	// The path as sent, escaped when it is not clean text (a NUL cannot
	// be stored on PostgreSQL).
	if cleanText(r.URL.Path) {
		e.Set("path", r.URL.Path)
	} else {
		e.Set("path", r.URL.EscapedPath())
	}
	s.fail(w, r, s.refuseAnonymous(r, e, err))
}

// refuseAnonymous audits e as refused because of err: on its own for a
// signed-in caller, and for an anonymous one while its source is within
// the folds' limits; beyond them it is counted into the source's summary.
// It returns err (joined with any failure to write).
func (s *Server) refuseAnonymous(r *http.Request, e audit.Entry, err error) error {
	if state(r).principal == nil {
		reason := "internal"
		if ae, ok := apperr.As(err); ok {
			reason = ae.Key
		}
		own, due := s.folds.admit(sourceOf(remoteIP(r)), reason, routeOf(r), s.now())
		if len(due) > 0 {
			_ = s.recordFolds(r.Context(), due)
		}
		if !own {
			return err
		}
	}
	return s.audit.Refuse(r.Context(), e, err)
}

// routeOf is the request's route pattern (bounded), never its raw path.
func routeOf(r *http.Request) string {
	if r.Pattern != "" {
		return r.Pattern
	}
	if p := state(r).route; p != "" {
		return p
	}
	return "unmatched"
}

func (s *Server) actor(r *http.Request) audit.Actor {
	if p := state(r).principal; p != nil {
		return p.Actor()
	}
	return audit.Anonymous("")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// safeNext keeps a post-login redirect on this site: only an absolute
// path of this origin passes, re-serialized from its parsed form; anything
// else becomes /console. Browsers drop tabs and newlines from URLs and read
// a backslash as a slash, so "/\t/evil", "/\\evil" and "//evil" all lead off the
// site; a control character, a space or a backslash anywhere, a scheme, a
// host or user, and a path that decodes to "//" are refused (finding 5 of
// issue 15).
func safeNext(next string) string {
	const home = "/console"
	if len(next) > 2048 || !strings.HasPrefix(next, "/") || strings.ContainsAny(next, "\\ ") {
		return home
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") || strings.ContainsAny(u.Path, "\\ ") {
		return home
	}
	// Raw or percent-encoded, no control character.
	for _, c := range next + u.Path {
		if c < 0x20 || c == 0x7f {
			return home
		}
	}
	out := (&url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}).String()
	if !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") || strings.HasPrefix(out, "/\\") {
		return home
	}
	return out
}

// fixable says whether an error is one the person can fix on the page.
func (s *Server) fixable(r *http.Request, err error) (string, bool) {
	code, msg, _ := s.message(r, err)
	return msg, code == apperr.Invalid || code == apperr.Conflict
}
