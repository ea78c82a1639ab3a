package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/i18n"
	"github.com/gongshu/gongshu/internal/identity"
)

const (
	sessionCookie = "gongshu_session"
	langCookie    = "gongshu_lang"
	loginCSRF     = "gongshu_login_csrf"
)

// reqState is what the middleware learns about a request before a handler runs.
type reqState struct {
	id        string
	lang      string
	principal *identity.Principal
	// authErr is why credentials that were presented did not work (an
	// expired token, say).
	authErr error
	// route is the pattern the request matches, known before the handler.
	route string
	// addr is the client's address (see clientAddr).
	addr string
}

type stateKey struct{}

func state(r *http.Request) *reqState {
	if st, ok := r.Context().Value(stateKey{}).(*reqState); ok {
		return st
	}
	return &reqState{lang: i18n.ZH}
}

// statusWriter remembers the status for logs and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// remoteIP is the client's address: the one withRequest settled on (see
// clientAddr), else the connection's.
func remoteIP(r *http.Request) string {
	if st, ok := r.Context().Value(stateKey{}).(*reqState); ok && st.addr != "" {
		return st.addr
	}
	return peerIP(r)
}

func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// clientAddr is the address a request came from. Behind reverse proxies
// named by --trusted-proxies, X-Forwarded-For is read from the right,
// skipping the trusted proxies, and the first address that is not one is
// the client's; from anyone else the header is ignored, so that a caller
// cannot choose the address its throttles and rate limits count.
func (s *Server) clientAddr(r *http.Request) string {
	peer := peerIP(r)
	if len(s.cfg.TrustedProxies) == 0 || !s.trusted(peer) {
		return peer
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		for _, x := range strings.Split(h, ",") {
			hops = append(hops, strings.TrimSpace(x))
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			// An unreadable hop: what lies to its left cannot be trusted.
			return peer
		}
		if !s.trusted(a.Unmap().String()) {
			return a.Unmap().String()
		}
		peer = a.Unmap().String()
	}
	return peer
}

func (s *Server) trusted(addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// client describes the caller for the identity service: the address its
// sign-in failures are counted against, its user agent, and how to record
// the refusal of an attempt that was not heard (a throttled sign-in): like
// every anonymous refusal, through the folds, so that a spraying address
// cannot grow the log at the speed of its requests.
func (s *Server) client(r *http.Request) identity.ClientInfo {
	return identity.ClientInfo{RemoteAddr: remoteIP(r), UserAgent: r.UserAgent(),
		RefuseUnheard: func(ctx context.Context, e audit.Entry, err error) error {
			if state(r).principal != nil {
				return s.audit.Refuse(ctx, e, err)
			}
			return s.refuseAnonymous(r, e, err)
		}}
}

// withRequest wraps every request: request ID, security headers, language,
// credentials, panic recovery, the request log line and metrics.
func (s *Server) withRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		st := &reqState{id: newRequestID(), addr: s.clientAddr(r)}
		sw := &statusWriter{ResponseWriter: w}
		h := sw.Header()
		h.Set("X-Request-Id", st.id)
		setSecurityHeaders(h, r)
		st.lang = s.language(r)
		ctx := context.WithValue(r.Context(), stateKey{}, st)
		ctx = audit.WithRequest(ctx, st.id, st.addr)
		r = r.WithContext(ctx)
		s.metrics.inFlight.Add(1)
		defer func() {
			s.metrics.inFlight.Add(-1)
			if p := recover(); p != nil {
				s.logger.Error("panic", "request_id", st.id, "panic", p, "stack", string(debug.Stack()))
				if sw.status == 0 {
					s.fail(sw, r, errors.New("internal panic"))
				}
			}
			route := r.Pattern
			if route == "" {
				route = st.route
			}
			if route == "" {
				route = "unmatched"
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			elapsed := time.Since(start)
			s.metrics.observe(r.Method, route, status, elapsed)
			attrs := []any{"request_id", st.id, "method", r.Method, "path", r.URL.Path, "route", route,
				"status", status, "bytes", sw.bytes, "duration_ms", float64(elapsed.Microseconds()) / 1000, "remote", remoteIP(r)}
			if st.principal != nil {
				attrs = append(attrs, "user", st.principal.Login)
			}
			s.logger.Info("request", attrs...)
		}()
		_, st.route = s.mux.Handler(r)
		if !strings.HasPrefix(r.URL.Path, "/static/") && r.URL.Path != "/healthz" && r.URL.Path != "/metrics" {
			s.authenticate(r, st)
		}
		// A credential that was presented and did not work is refused, on
		// every route, public ones included: a script with an expired or
		// bogus token learns so instead of being served as anonymous
		// (finding 11 of issue 15). A stale session cookie on a page of
		// the portal or the console is not presented on purpose: it is
		// dropped there (see requireLogin), refused on the API.
		if st.authErr != nil && (isAPI(r) || r.Header.Get("Authorization") != "") {
			s.deny(sw, r, "auth.authenticate", "route", st.route, st.authErr)
			return
		}
		if err := checkURL(r); err != nil {
			s.deny(sw, r, "web.input", "route", st.route, err)
			return
		}
		next.ServeHTTP(sw, r)
	})
}

func setSecurityHeaders(h http.Header, r *http.Request) {
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "+
		"object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	if r.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	}
}

// language: an explicit choice (cookie) wins; the API also honours
// Accept-Language; everything else is Simplified Chinese, the default.
func (s *Server) language(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && c.Value != "" {
		return i18n.Normalize(c.Value)
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		if l := i18n.FromAcceptLanguage(r.Header.Get("Accept-Language")); l != "" {
			return l
		}
	}
	return i18n.ZH
}

// authenticate resolves the caller from a bearer token or a session cookie.
func (s *Server) authenticate(r *http.Request, st *reqState) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		scheme, tok, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			st.authErr = apperr.New(apperr.Unauthenticated, "identity.token_invalid")
			return
		}
		p, err := s.ids.AuthenticateToken(r.Context(), strings.TrimSpace(tok))
		if err != nil {
			st.authErr = err
			return
		}
		st.principal = &p
		return
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return
	}
	p, err := s.ids.Authenticate(r.Context(), c.Value)
	if err != nil {
		st.authErr = err
		return
	}
	st.principal = &p
}

func (s *Server) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name: name, Value: value, Path: "/", HttpOnly: true, Secure: !s.cfg.InsecureCookies,
		SameSite: http.SameSiteLaxMode,
	}
	switch {
	case maxAge < 0:
		c.MaxAge = -1
	case maxAge > 0:
		c.MaxAge = int(maxAge.Seconds())
	}
	http.SetCookie(w, c)
}
