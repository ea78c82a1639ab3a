package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/gongshu/gongshu/internal/audit"
)

func TestHealthzAndMetrics(t *testing.T) {
	e := newEnv(t, false)
	r := e.api("GET", "/healthz", "", nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, `"ok"`) {
		t.Fatalf("healthz: %d %s", r.status, r.body)
	}
	e.api("GET", "/api/v1/me", e.account("admin").Token, nil)
	m := e.api("GET", "/metrics", "", nil)
	for _, want := range []string{
		`gongshu_http_requests_total{method="GET",route="GET /api/v1/me",status="200"} 1`,
		`gongshu_http_request_duration_seconds_count{route="GET /healthz"} 1`,
		"# TYPE gongshu_http_requests_total counter",
		"gongshu_audit_entries ",
		"go_goroutines ",
	} {
		if !strings.Contains(m.body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if ct := m.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("metrics content type %q", ct)
	}
}

func TestSecurityHeadersAndCookies(t *testing.T) {
	e := newEnv(t, false)
	c := e.client()
	r := c.get("/login")
	for h, want := range map[string]string{
		"Content-Security-Policy":   "default-src 'self'",
		"X-Content-Type-Options":    "nosniff",
		"X-Frame-Options":           "DENY",
		"Referrer-Policy":           "same-origin",
		"Strict-Transport-Security": "max-age=",
	} {
		if !strings.Contains(r.header.Get(h), want) {
			t.Errorf("%s = %q", h, r.header.Get(h))
		}
	}
	a := e.account("agency")
	tok := c.csrf("/login")
	resp := c.postForm("/login", map[string][]string{"login": {a.Login}, "password": {a.Password}, "csrf_token": {tok}})
	cookie := strings.Join(resp.header.Values("Set-Cookie"), "\n")
	for _, want := range []string{"gongshu_session=", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("session cookie lacks %s: %s", want, cookie)
		}
	}
}

// /api/v1/me says who the caller is, by token and by session.
func TestMe(t *testing.T) {
	e := newEnv(t, false)
	var me struct {
		User         struct{ Login string }
		Organization struct{ Name, Type, Region string }
		Roles        []string
		Via          string
	}
	e.api("GET", "/api/v1/me", e.account("admin").Token, nil).json(t, &me)
	if me.User.Login != "admin" || me.Organization.Name != "江西省大数据中心" || me.Via != "token" ||
		strings.Join(me.Roles, ",") != "admin,agency" {
		t.Errorf("me = %+v", me)
	}
	c := e.client()
	c.mustLogin("op.ganshu")
	c.get("/api/v1/me").json(t, &me)
	if me.User.Login != "op.ganshu" || me.Organization.Type != "operator" || me.Via != "session" {
		t.Errorf("me by session = %+v", me)
	}
}

// The OpenAPI document is valid 3.1 and matches the routes exactly.
func TestOpenAPIDocumentMatchesRoutes(t *testing.T) {
	e := newEnv(t, false)
	r := e.api("GET", "/api/v1/openapi.json", "", nil)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData([]byte(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("invalid OpenAPI document: %v", err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	registered := map[string]bool{}
	for _, route := range e.app.Web.Routes() {
		method, path, ok := strings.Cut(route, " ")
		if !ok || !strings.HasPrefix(path, "/api/v1/") {
			continue
		}
		registered[route] = true
		if !documented[method+" "+path] {
			t.Errorf("route %s is not in the OpenAPI document", route)
		}
	}
	for op := range documented {
		if !registered[op] {
			t.Errorf("documented %s is not a route", op)
		}
	}
}

func TestUnknownAPIPathUsesErrorShape(t *testing.T) {
	e := newEnv(t, false)
	r := e.api("GET", "/api/v1/nothing-here", e.account("admin").Token, nil)
	if r.status != http.StatusNotFound || r.apiError(t).Error.Code != "not_found" {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

// The console speaks Simplified Chinese by default and switches to English.
func TestLanguageSwitch(t *testing.T) {
	e := newEnv(t, false)
	c := e.client()
	home := c.get("/")
	if !strings.Contains(home.body, "江西省公共数据资源授权运营") || !strings.Contains(home.body, `lang="zh-CN"`) {
		t.Fatalf("portal is not in Chinese by default")
	}
	r := c.get("/lang?to=en&next=/")
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/" {
		t.Fatalf("switch: %d %q", r.status, r.header.Get("Location"))
	}
	home = c.get("/")
	if !strings.Contains(home.body, "Authorized operation of Jiangxi") || !strings.Contains(home.body, `lang="en"`) {
		t.Fatalf("portal did not switch to English")
	}
	if r := c.get("/lang?to=zh-CN&next=https://evil.example/"); r.header.Get("Location") != "/" {
		t.Errorf("open redirect: %q", r.header.Get("Location"))
	}
}

// The portal needs no login and lists the licensed operators (R19.3 starts here).
func TestPortalPublic(t *testing.T) {
	e := newEnv(t, false)
	r := e.client().get("/")
	if r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	for _, name := range []string{"江西赣数科技有限公司", "江西洪城数据运营有限公司", "江西红土数智科技有限公司"} {
		if !strings.Contains(r.body, name) {
			t.Errorf("portal lacks operator %s", name)
		}
	}
}

// A person creates an organisation and a user through the console forms;
// a refused form comes back filled in with the message beside it.
func TestConsoleForms(t *testing.T) {
	e := newEnv(t, false)
	c := e.client()
	c.mustLogin("admin")
	tok := c.csrf("/console/orgs/new")
	form := map[string][]string{"csrf_token": {tok}, "type": {"department"}, "name": {"江西省统计局"}, "region": {"369999"}}
	r := c.postForm("/console/orgs", form)
	if r.status != http.StatusBadRequest || !strings.Contains(r.body, "369999") || !strings.Contains(r.body, "江西省统计局") {
		t.Fatalf("refused form: %d", r.status)
	}
	form["region"] = []string{"360000"}
	if r := c.postForm("/console/orgs", form); r.status != http.StatusSeeOther {
		t.Fatalf("org form: %d %s", r.status, r.body)
	}
	if !strings.Contains(c.get("/console/orgs").body, "江西省统计局") {
		t.Error("new organisation not listed")
	}
	// Token page shows the secret once.
	r = c.postForm("/console/tokens", map[string][]string{"csrf_token": {tok}, "name": {"报表脚本"}, "expires_in_days": {"30"}})
	if r.status != http.StatusCreated || !strings.Contains(r.body, "gst_") {
		t.Fatalf("token form: %d", r.status)
	}
	if strings.Contains(c.get("/console/tokens").body, "<pre><code>gst_") {
		t.Error("token secret shown again")
	}
	// Logout ends the session.
	if r := c.postForm("/logout", map[string][]string{"csrf_token": {tok}}); r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.status)
	}
	if r := c.get("/console"); r.status != http.StatusSeeOther {
		t.Fatalf("after logout: %d", r.status)
	}
}

// Finding 6 of issue 15: a password change ends every other session and
// revokes the API tokens (unless kept); the session it was made in stays;
// old passwords stop working; a wrong current password through the API
// counts as a failed sign-in, so a stolen token cannot guess it quickly.
func TestPasswordChange(t *testing.T) {
	e := newEnv(t, false)
	c := e.client()
	c.mustLogin("dept.tax")
	other := e.client()
	other.mustLogin("dept.tax")
	tok := c.csrf("/console/password")
	old := e.account("dept.tax").Password
	r := c.postForm("/console/password", map[string][]string{"csrf_token": {tok}, "current_password": {old},
		"new_password": {"New-Tax-Passw0rd!"}, "confirm_password": {"New-Tax-Passw0rd!"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("change: %d %s", r.status, r.body)
	}
	if page := c.get(r.header.Get("Location")); page.status != http.StatusOK || !strings.Contains(page.body, `id="password-changed"`) {
		t.Errorf("the session the change was made in: %d", page.status)
	}
	if r := other.get("/console"); r.status != http.StatusSeeOther {
		t.Errorf("other session survived the password change: %d", r.status)
	}
	if r := e.api("GET", "/api/v1/me", e.account("dept.tax").Token, nil); r.status != http.StatusUnauthorized {
		t.Errorf("API token survived the password change: %d", r.status)
	}
	if r := e.client().login("dept.tax", old); r.status != http.StatusUnauthorized {
		t.Errorf("old password still works: %d", r.status)
	}
	if r := e.client().login("dept.tax", "New-Tax-Passw0rd!"); r.status != http.StatusSeeOther {
		t.Errorf("new password: %d", r.status)
	}
	// Guessing the current password with a (stolen) token: after five
	// wrong guesses even the right one is refused until the wait passes.
	stolen := e.account("dept.hpf").Token
	for i := 0; i < 6; i++ {
		r := e.api("POST", "/api/v1/users/dept.hpf/password", stolen, map[string]string{"current_password": fmt.Sprint("guess-", i), "new_password": "Stolen-Passw0rd-1"})
		if r.status != http.StatusBadRequest {
			t.Fatalf("guess %d: %d %s", i, r.status, r.body)
		}
	}
	r = e.api("POST", "/api/v1/users/dept.hpf/password", stolen, map[string]string{"current_password": e.account("dept.hpf").Password, "new_password": "Stolen-Passw0rd-1"})
	if r.status != http.StatusBadRequest {
		t.Fatalf("right current password during the wait: %d %s", r.status, r.body)
	}
}

// Audit scope: an operator reads its own organisation's entries only.
func TestAuditScope(t *testing.T) {
	e := newEnv(t, false)
	op := e.account("op.ganshu")
	e.api("POST", "/api/v1/tokens", op.Token, map[string]any{"name": "own action"})
	e.api("POST", "/api/v1/tokens", e.account("op.hongcheng").Token, map[string]any{"name": "other org's action"})
	var got struct{ Entries []audit.Entry }
	e.api("GET", "/api/v1/audit/entries?limit=1000", op.Token, nil).json(t, &got)
	if len(got.Entries) == 0 {
		t.Fatal("operator sees no entries of its own")
	}
	for _, en := range got.Entries {
		if en.Actor.OrgID != op.OrgID {
			t.Fatalf("operator sees entry of org %d: %+v", en.Actor.OrgID, en)
		}
	}
	e.api("GET", "/api/v1/audit/entries?limit=1000", e.account("regulator.cac").Token, nil).json(t, &got)
	orgs := map[int64]bool{}
	for _, en := range got.Entries {
		orgs[en.Actor.OrgID] = true
	}
	if len(orgs) < 3 {
		t.Errorf("regulator sees entries of %d organisations only", len(orgs))
	}
	if r := e.api("GET", "/api/v1/audit/entries?outcome=maybe", op.Token, nil); r.status != http.StatusBadRequest {
		t.Errorf("bad outcome filter: %d", r.status)
	}
}

// Many clients at once: sessions, tokens and audit writes stay consistent (run with -race).
func TestConcurrentClients(t *testing.T) {
	e := newEnv(t, false)
	var wg sync.WaitGroup
	logins := []string{"admin", "authority", "agency", "dept.amr", "op.ganshu", "op.hongcheng", "regulator.cac", "user.huiqi"}
	errs := make(chan string, 200)
	before := e.count("audit_entries")
	for _, login := range logins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := e.account(login).Token
			for i := 0; i < 5; i++ {
				r := e.api("GET", "/api/v1/me", tok, nil)
				if r.status != http.StatusOK {
					errs <- login + ": me " + r.body
				}
				r = e.api("POST", "/api/v1/tokens", tok, map[string]any{"name": "burst"})
				if r.status != http.StatusCreated {
					errs <- login + ": token " + r.body
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	if got := e.count("audit_entries") - before; got != len(logins)*5 {
		t.Errorf("audit entries added = %d, want %d", got, len(logins)*5)
	}
	var list struct{ Tokens []json.RawMessage }
	e.api("GET", "/api/v1/tokens", e.account("admin").Token, nil).json(t, &list)
	if len(list.Tokens) != 6 {
		t.Errorf("admin tokens = %d, want 6", len(list.Tokens))
	}
}

// The same API flow on PostgreSQL, when CI provides one.
func TestAPIOnPostgres(t *testing.T) {
	e := newEnv(t, true)
	admin := e.account("admin").Token
	r := e.api("POST", "/api/v1/organizations", admin, map[string]any{"type": "operator", "name": "江西测试运营有限公司", "region": "360100",
		"credit_code": mintCode()})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	r = e.api("POST", "/api/v1/organizations", admin, map[string]any{"type": "operator", "name": "江西测试运营有限公司", "region": "360100",
		"credit_code": mintCode()})
	if r.status != http.StatusConflict || r.apiError(t).Error.Code != "conflict" {
		t.Fatalf("duplicate: %d %s", r.status, r.body)
	}
	c := e.client()
	c.mustLogin("authority")
	if r := c.get("/console/audit"); r.status != http.StatusOK || !strings.Contains(r.body, "org.create") {
		t.Fatalf("audit page: %d", r.status)
	}
}
