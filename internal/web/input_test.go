package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/web"
)

// lastEntry returns the newest audit entry.
func (e *env) lastEntry() audit.Entry {
	e.t.Helper()
	es, err := e.app.Audit.List(t0(), audit.Filter{Limit: 1})
	if err != nil || len(es) == 0 {
		e.t.Fatalf("no audit entry: %v", err)
	}
	return es[0]
}

// Bad input gets a clear message in the caller's language, writes nothing
// but the audit entry of the refusal. (R4.1 regions, R10.2 credit codes.)
func TestBadInputRefusedClearlyAndAudited(t *testing.T) {
	e := newEnv(t, false)
	admin := e.account("admin").Token
	cases := []struct {
		name   string
		table  string
		call   func(lang string) response
		field  string
		zh, en string // fragments the message must contain
		reason string
	}{
		{"unknown region", "organizations", func(lang string) response {
			return e.apiLang("POST", "/api/v1/organizations", admin, lang, identity.OrgInput{Type: "department", Name: "某局", Region: "369999"})
		}, "region", "行政区划代码“369999”不存在", "not an administrative region code", "identity.region_unknown"},
		{"wrong credit-code check character", "organizations", func(lang string) response {
			good := identity.MakeCreditCode('9', '1', "360100", "MA35F7K2")
			bad := good[:17] + string("0123456789ABCDEFGHJKLMNPQRTUWXY"[(strings.IndexByte("0123456789ABCDEFGHJKLMNPQRTUWXY", good[17])+1)%31])
			return e.apiLang("POST", "/api/v1/organizations", admin, lang, identity.OrgInput{Type: "operator", Name: "某公司", Region: "360100", CreditCode: bad})
		}, "credit_code", "校验位不正确", "check character", "identity.credit_code_check"},
		{"weak password", "users", func(lang string) response {
			return e.apiLang("POST", "/api/v1/users", admin, lang, identity.UserInput{Login: "weak.user", Name: "弱", OrgID: e.account("op.ganshu").OrgID,
				Roles: []identity.Role{"operator"}, Password: "abcdefghijkl"})
		}, "password", "至少三类", "three of", "identity.password_weak_kinds"},
		{"role not matching the organisation", "users", func(lang string) response {
			return e.apiLang("POST", "/api/v1/users", admin, lang, identity.UserInput{Login: "wrong.role", Name: "错", OrgID: e.account("op.ganshu").OrgID,
				Roles: []identity.Role{"authority"}, Password: "Strong-Passw0rd-2026"})
		}, "roles", "不能授予", "cannot be given", "identity.role_not_allowed"},
		{"malformed JSON", "organizations", func(lang string) response {
			c := &client{t: t, e: e, http: e.srv.Client(), lang: lang}
			return c.do("POST", "/api/v1/organizations", strings.NewReader(`{"type": "operator",`), map[string]string{"Authorization": "Bearer " + admin})
		}, "", "不是有效的 JSON", "not valid JSON", "web.body_invalid_json"},
		{"unknown field", "organizations", func(lang string) response {
			c := &client{t: t, e: e, http: e.srv.Client(), lang: lang}
			return c.do("POST", "/api/v1/organizations", strings.NewReader(`{"type":"operator","nam":"x"}`), map[string]string{"Authorization": "Bearer " + admin})
		}, "", "不是有效的 JSON", "not valid JSON", "web.body_invalid_json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			for _, lang := range []string{"", "en-US,en;q=0.9"} {
				rows := e.count(c.table)
				entries := e.count("audit_entries")
				r := c.call(lang)
				if r.status != http.StatusBadRequest {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				er := r.apiError(t)
				want := c.zh
				if lang != "" {
					want = c.en
				}
				if !strings.Contains(er.Error.Message, want) {
					t.Errorf("lang %q: message %q lacks %q", lang, er.Error.Message, want)
				}
				if er.Error.Field != c.field || er.Error.Code != "invalid" || er.Error.RequestID == "" {
					t.Errorf("error = %+v", er.Error)
				}
				if n := e.count(c.table); n != rows {
					t.Errorf("%s grew from %d to %d rows", c.table, rows, n)
				}
				if n := e.count("audit_entries"); n != entries+1 {
					t.Errorf("audit entries %d → %d, want exactly one more", entries, n)
				}
				last := e.lastEntry()
				if last.Outcome != audit.Refused || last.Reason != c.reason {
					t.Errorf("audit entry = %+v", last)
				}
			}
		})
	}
}

// An expired token is refused with a message that says it expired and when.
func TestExpiredTokenRefused(t *testing.T) {
	e := newEnv(t, false)
	tok := e.account("op.ganshu").Token
	if r := e.api("GET", "/api/v1/me", tok, nil); r.status != http.StatusOK {
		t.Fatalf("fresh token: %d", r.status)
	}
	e.clock.Advance(91 * 24 * time.Hour)
	entries := e.count("audit_entries")
	r := e.api("GET", "/api/v1/me", tok, nil)
	if r.status != http.StatusUnauthorized {
		t.Fatalf("expired token: status %d", r.status)
	}
	er := r.apiError(t)
	if !strings.Contains(er.Error.Message, "过期") || r.header.Get("WWW-Authenticate") == "" {
		t.Errorf("error = %+v", er.Error)
	}
	if e.count("audit_entries") != entries+1 || e.lastEntry().Reason != "identity.token_expired" {
		t.Errorf("expired-token use not audited: %+v", e.lastEntry())
	}
}

func TestRevokedTokenRefused(t *testing.T) {
	e := newEnv(t, false)
	tok := e.account("user.huiqi").Token
	var me struct {
		User struct{ ID int64 }
	}
	e.api("GET", "/api/v1/me", tok, nil).json(t, &me)
	var list struct{ Tokens []identity.Token }
	e.api("GET", "/api/v1/tokens", tok, nil).json(t, &list)
	if len(list.Tokens) != 1 {
		t.Fatalf("tokens = %+v", list)
	}
	if r := e.api("DELETE", "/api/v1/tokens/"+itoa(list.Tokens[0].ID), tok, nil); r.status != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	r := e.api("GET", "/api/v1/me", tok, nil)
	if r.status != http.StatusUnauthorized || !strings.Contains(r.apiError(t).Error.Message, "吊销") {
		t.Fatalf("revoked token: %d %s", r.status, r.body)
	}
}

// A console form without its CSRF token is refused, writes nothing and is audited.
func TestMissingCSRFRefused(t *testing.T) {
	e := newEnv(t, false)
	c := e.client()
	c.mustLogin("admin")
	orgs, entries := e.count("organizations"), e.count("audit_entries")
	form := url.Values{"type": {"department"}, "name": {"无令牌局"}, "region": {"360000"}}
	r := c.postForm("/console/orgs", form)
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "安全令牌") {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	form.Set("csrf_token", "forged")
	if r := c.postForm("/console/orgs", form); r.status != http.StatusForbidden {
		t.Fatalf("forged token: status %d", r.status)
	}
	if e.count("organizations") != orgs {
		t.Error("an organisation was created without a CSRF token")
	}
	if got := e.count("audit_entries"); got != entries+2 {
		t.Errorf("audit entries %d → %d, want two refusals", entries, got)
	}
	if last := e.lastEntry(); last.Action != "auth.csrf" || last.Outcome != audit.Refused {
		t.Errorf("last entry = %+v", last)
	}
	// With the token the same form works.
	form.Set("csrf_token", c.csrf("/console/orgs/new"))
	if r := c.postForm("/console/orgs", form); r.status != http.StatusSeeOther {
		t.Fatalf("with token: status %d: %s", r.status, r.body)
	}
	// The API with a session cookie needs the header too.
	r = c.do("POST", "/api/v1/tokens", strings.NewReader(`{"name":"x"}`), map[string]string{"Content-Type": "application/json"})
	if r.status != http.StatusForbidden || r.apiError(t).Error.Code != "forbidden" {
		t.Fatalf("API without X-CSRF-Token: %d %s", r.status, r.body)
	}
	// The login form has its own token.
	anon := e.client()
	r = anon.postForm("/login", url.Values{"login": {"admin"}, "password": {e.account("admin").Password}})
	if r.status != http.StatusForbidden {
		t.Fatalf("login without CSRF: status %d", r.status)
	}
}

// Finding 3 of issue 15 (R12.2, OWASP ASVS V2.2.1): repeated failures
// slow the login down instead of locking it. A wrong password, an unknown
// login and an attempt during a wait get the same status and message; the
// account's API token keeps working; the wait passes on its own; every
// attempt is audited.
func TestLoginThrottle(t *testing.T) {
	e := newEnv(t, false)
	c := e.client()
	wrong := c.login("op.ganshu", "wrong-password-1A!")
	if wrong.status != http.StatusUnauthorized || !strings.Contains(wrong.body, "账号或密码不正确") {
		t.Fatalf("first failure: status %d", wrong.status)
	}
	msg := loginMessage(t, wrong.body)
	for i := 2; i <= 6; i++ {
		if r := c.login("op.ganshu", "wrong-password-1A!"); r.status != http.StatusUnauthorized || loginMessage(t, r.body) != msg {
			t.Fatalf("failure %d: status %d", i, r.status)
		}
	}
	// During the wait even the right password gets the same answer.
	if r := c.login("op.ganshu", e.account("op.ganshu").Password); r.status != http.StatusUnauthorized || loginMessage(t, r.body) != msg {
		t.Fatalf("right password during the wait: status %d", r.status)
	}
	if r := e.client().login("nobody", "whatever-Pass-1"); r.status != http.StatusUnauthorized || loginMessage(t, r.body) != msg {
		t.Fatalf("unknown login: status %d", r.status)
	}
	// Nothing was locked: the operator's token still works.
	if r := e.api("GET", "/api/v1/me", e.account("op.ganshu").Token, nil); r.status != http.StatusOK {
		t.Errorf("token during the wait: %d", r.status)
	}
	es, _ := e.app.Audit.List(t0(), audit.Filter{Action: "session.login"})
	if len(es) != 8 {
		t.Errorf("login entries = %d, want 8", len(es))
	}
	for _, x := range es {
		if x.Outcome != audit.Refused {
			t.Errorf("failed login audited as %s", x.Outcome)
		}
	}
	e.clock.Advance(2 * time.Second)
	if r := c.login("op.ganshu", e.account("op.ganshu").Password); r.status != http.StatusSeeOther {
		t.Fatalf("after the wait: status %d", r.status)
	}
}

var formErrorText = regexp.MustCompile(`(?s)<p class="alert error"[^>]*>(.*?)</p>`)

// loginMessage is the error the login page shows.
func loginMessage(t *testing.T, body string) string {
	t.Helper()
	m := formErrorText.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no error on the login page: %s", body)
	}
	return strings.TrimSpace(m[1])
}

// Attempts refused unheard during a wait cost the sender nothing, so they
// are folded like any anonymous refusal (finding 4 of issue 15 by way of
// the login form): 50 of them add at most the source's 5 entries of the
// interval, and the interval's summary counts the rest exactly.
func TestThrottledLoginsAreFolded(t *testing.T) {
	e := newEnv(t, false)
	c := e.client()
	for i := 0; i < 6; i++ {
		c.login("op.ganshu", "wrong-password-1A!")
	}
	before := e.count("audit_entries")
	for i := 0; i < 50; i++ {
		if r := c.login("op.ganshu", "wrong-password-1A!"); r.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, r.status)
		}
	}
	if got := e.count("audit_entries") - before; got > 5 {
		t.Errorf("50 throttled attempts wrote %d entries", got)
	}
	e.clock.Advance(2 * time.Minute)
	if err := e.app.Web.FlushRefusals(t0(), false); err != nil {
		t.Fatal(err)
	}
	es, _ := e.app.Audit.List(t0(), audit.Filter{Action: web.FoldAction})
	var folded float64
	for _, x := range es {
		folded += x.Details["count"].(float64)
	}
	if own := e.count("audit_entries") - before - len(es); float64(own)+folded != 50 {
		t.Errorf("%d entries on their own + %v folded, want 50 in all", own, folded)
	}
}
