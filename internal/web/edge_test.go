package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/app"
	"github.com/gongshu/gongshu/internal/audit"
)

// Finding 12 of issue 15: /metrics could not be protected. With
// --metrics-token it answers only to that bearer token; a refusal is
// audited (folded like every anonymous refusal); without the flag it is
// open as before.
func TestMetricsToken(t *testing.T) {
	e := newEnvWith(t, false, func(c *app.Config) { c.MetricsToken = "m-Secret-2026" })
	c := &client{t: t, e: e, http: e.srv.Client()}
	for name, hdr := range map[string]map[string]string{
		"none":  nil,
		"wrong": {"Authorization": "Bearer m-Secret-2025"},
		"basic": {"Authorization": "Basic m-Secret-2026"},
	} {
		before := e.count("audit_entries")
		if r := c.do("GET", "/metrics", nil, hdr); r.status != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, r.status)
		}
		if e.count("audit_entries") != before+1 {
			t.Errorf("%s: refusal not audited", name)
		}
	}
	if r := c.do("GET", "/metrics", nil, map[string]string{"Authorization": "Bearer m-Secret-2026"}); r.status != http.StatusOK {
		t.Errorf("right token: %d", r.status)
	}
	open := newEnv(t, false)
	if r := (&client{t: t, e: open, http: open.srv.Client()}).get("/metrics"); r.status != http.StatusOK {
		t.Errorf("no token configured: %d", r.status)
	}
}

// Finding 10 of issue 15: X-Forwarded-For counts only from the reverse
// proxies named by --trusted-proxies, read from the right so that a
// client cannot choose its own address; from anyone else it is ignored.
// A spraying address is slowed down while another signs in.
func TestTrustedProxies(t *testing.T) {
	addrOf := func(e *env, xff string) string {
		t.Helper()
		c := e.client()
		c.do("POST", "/api/v1/tokens", nil, map[string]string{"X-Forwarded-For": xff, "Authorization": "Bearer bogus"})
		es, err := e.app.Audit.List(context.Background(), audit.Filter{Action: "auth.authenticate", Limit: 1})
		if err != nil || len(es) == 0 {
			t.Fatalf("no entry: %v", err)
		}
		return es[0].RemoteAddr
	}
	plain := newEnv(t, false)
	if got := addrOf(plain, "203.0.113.5"); got != "127.0.0.1" {
		t.Errorf("without trusted proxies, X-Forwarded-For counted: %s", got)
	}
	e := newEnvWith(t, false, func(c *app.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}
	})
	for xff, want := range map[string]string{
		"203.0.113.5":                       "203.0.113.5",
		"198.51.100.1, 10.1.2.3":            "198.51.100.1",
		"6.6.6.6, 203.0.113.7":              "203.0.113.7", // a forged first hop is ignored
		"6.6.6.6, not-an-address, 10.0.0.9": "10.0.0.9",    // the last hop known
		"":                                  "127.0.0.1",
	} {
		if got := addrOf(e, xff); got != want {
			t.Errorf("X-Forwarded-For %q: address %s, want %s", xff, got, want)
		}
	}
	// Spraying from one address through the proxy; another signs in.
	login := func(xff, l, pw string) int {
		c := e.client()
		tok := c.csrf("/login")
		return c.do("POST", "/login", strings.NewReader(url.Values{"login": {l}, "password": {pw}, "csrf_token": {tok}}.Encode()),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": xff}).status
	}
	for i := 0; i < 21; i++ {
		if s := login("203.0.113.99", fmt.Sprintf("spray%02d", i), "Spring-2026!"); s != http.StatusUnauthorized {
			t.Fatalf("spray %d: %d", i, s)
		}
	}
	if s := login("203.0.113.99", "dept.amr", e.account("dept.amr").Password); s != http.StatusUnauthorized {
		t.Errorf("right password from the spraying address: %d, want 401", s)
	}
	if s := login("198.51.100.20", "dept.amr", e.account("dept.amr").Password); s != http.StatusSeeOther {
		t.Errorf("another address during the spraying: %d, want 303", s)
	}
}

// Finding 12 of issue 15: the login form's CSRF token only had to equal
// its cookie, so a pair the attacker chose ("x"/"x") passed. The token is
// now a value the server signed, bound to the cookie's nonce and to an
// expiry; a chosen pair, a token of another cookie, an expired or altered
// token, and a cross-site post are refused and audited.
func TestLoginCSRFIsSigned(t *testing.T) {
	e := newEnv(t, false)
	a := e.account("user.huiqi")
	post := func(cookie, token string, hdr map[string]string) int {
		t.Helper()
		c := e.client()
		h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		if cookie != "" {
			h["Cookie"] = "gongshu_login_csrf=" + cookie
		}
		for k, v := range hdr {
			h[k] = v
		}
		return c.do("POST", "/login", strings.NewReader(url.Values{"login": {a.Login}, "password": {a.Password}, "csrf_token": {token}}.Encode()), h).status
	}
	// A real pair, to tamper with.
	c := e.client()
	tok := c.csrf("/login")
	u, _ := url.Parse(e.srv.URL)
	var nonce string
	for _, k := range c.http.Jar.Cookies(u) {
		if k.Name == "gongshu_login_csrf" {
			nonce = k.Value
		}
	}
	if nonce == "" || tok == nonce {
		t.Fatalf("cookie %q, token %q: the token must not be the cookie", nonce, tok)
	}
	other := e.client()
	otherTok := other.csrf("/login")
	before := e.count("audit_entries")
	for name, tc := range map[string]struct {
		cookie, token string
		hdr           map[string]string
	}{
		"chosen pair":     {"x", "x", nil},
		"cookie as token": {nonce, nonce, nil},
		"another's token": {nonce, otherTok, nil},
		"altered token":   {nonce, tok[:len(tok)-2] + "AA", nil},
		"no cookie":       {"", tok, nil},
		"cross-site post": {nonce, tok, map[string]string{"Sec-Fetch-Site": "cross-site"}},
	} {
		if s := post(tc.cookie, tc.token, tc.hdr); s != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, s)
		}
	}
	if got := e.count("audit_entries") - before; got < 5 {
		t.Errorf("%d refusals audited", got)
	}
	// Expired: an hour later the pair no longer works.
	e.clock.Advance(61 * time.Minute)
	if s := post(nonce, tok, nil); s != http.StatusForbidden {
		t.Errorf("expired token: %d", s)
	}
	// A fresh pair works.
	c = e.client()
	if r := c.login(a.Login, a.Password); r.status != http.StatusSeeOther {
		t.Errorf("a fresh pair: %d", r.status)
	}
}
