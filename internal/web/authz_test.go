package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gongshu/gongshu/internal/identity"
)

// The demo logins that stand for each role, with Nanchang's authority and
// agency beside the provincial ones, so that every row is also checked by
// region (R4.1); "" is an anonymous caller.
var roleLogins = []string{"admin", "authority", "nc.authority", "government", "agency", "nc.agency", "dept.amr", "utility.power",
	"op.ganshu", "user.huiqi", "regulator.cac", ""}

// apiCase is one endpoint and who may call it.
type apiCase struct {
	route string // the pattern as registered
	// call performs the request for a login and returns the response.
	call func(e *env, login, token string) response
	// allowed lists the logins that must get a success; everyone else with
	// a token must get 403, anonymous callers 401 (unless public).
	allowed []string
	public  bool
	// want is the status an allowed caller gets, when not a 2xx.
	want int
	// wants overrides want for one login: a caller the rules admit whose
	// request still fails on its content (a city authority drafting a
	// plan over provincial resources gets 400, not 403).
	wants map[string]int
}

var everyone = []string{"admin", "authority", "nc.authority", "government", "agency", "nc.agency", "dept.amr", "utility.power", "op.ganshu", "user.huiqi", "regulator.cac"}

func get(path string) func(e *env, login, token string) response {
	return func(e *env, login, token string) response { return e.api("GET", path, token, nil) }
}

func apiCases(e *env) []apiCase {
	otherOrg := fmt.Sprint(e.account("op.hongtu").OrgID)
	return append(append(append(append(append(append(registryCases(e), supplyCases(e)...), qualityCases(e)...), governanceCases(e)...), grantCases(e)...), sandboxCases(e)...), []apiCase{
		{route: "GET /api/v1/openapi.json", call: get("/api/v1/openapi.json"), allowed: everyone, public: true},
		{route: "GET /api/v1/me", call: get("/api/v1/me"), allowed: everyone},
		{route: "GET /api/v1/regions", call: get("/api/v1/regions?parent=360000"), allowed: everyone, public: true},
		{route: "GET /api/v1/organizations", call: get("/api/v1/organizations?type=operator"), allowed: everyone},
		{route: "POST /api/v1/organizations", call: func(e *env, login, token string) response {
			return e.api("POST", "/api/v1/organizations", token, identity.OrgInput{
				Type: identity.OrgDepartment, Name: "南昌市测试局-" + login, Region: "360102"})
		}, allowed: []string{"admin", "authority", "nc.authority"}},
		{route: "GET /api/v1/organizations/{id}", call: get("/api/v1/organizations/" + otherOrg), allowed: everyone},
		{route: "GET /api/v1/users", call: get("/api/v1/users?org_id=" + otherOrg), allowed: []string{"admin"}},
		{route: "POST /api/v1/users", call: func(e *env, login, token string) response {
			return e.api("POST", "/api/v1/users", token, identity.UserInput{Login: "new." + strings.ReplaceAll(login, ".", "-"),
				Name: "新用户", OrgID: e.account("op.hongtu").OrgID, Roles: []identity.Role{identity.RoleOperator}, Password: "Strong-Passw0rd-2026"})
		}, allowed: []string{"admin"}},
		{route: "POST /api/v1/users/{login}/password", call: func(e *env, login, token string) response {
			return e.api("POST", "/api/v1/users/op.hongtu/password", token, map[string]string{"new_password": "Another-Str0ng-Pass!"})
		}, allowed: []string{"admin"}},
		{route: "GET /api/v1/tokens", call: get("/api/v1/tokens"), allowed: everyone},
		{route: "POST /api/v1/tokens", call: func(e *env, login, token string) response {
			return e.api("POST", "/api/v1/tokens", token, map[string]any{"name": "script", "expires_in_days": 7})
		}, allowed: everyone},
		{route: "DELETE /api/v1/tokens/{id}", call: func(e *env, login, token string) response {
			// Someone else's token: only the administrator may revoke it.
			_, _, err := e.app.Identity.CreateTokenAsSystem(context.Background(), "op.hongtu", "victim", 0)
			if err != nil {
				e.t.Fatal(err)
			}
			var id int64
			if err := e.app.DB.QueryRow(context.Background(), "SELECT MAX(id) FROM api_tokens").Scan(&id); err != nil {
				e.t.Fatal(err)
			}
			return e.api("DELETE", fmt.Sprint("/api/v1/tokens/", id), token, nil)
		}, allowed: []string{"admin"}},
		{route: "GET /api/v1/audit/entries", call: get("/api/v1/audit/entries?org=" + otherOrg), allowed: []string{"admin", "authority", "nc.authority", "agency", "nc.agency", "regulator.cac"}},
		{route: "GET /api/v1/audit/entries/{id}/proof", call: get(fmt.Sprint("/api/v1/audit/entries/", otherEntry(e), "/proof")),
			allowed: []string{"admin", "authority", "nc.authority", "agency", "nc.agency", "regulator.cac"}},
		{route: "GET /api/v1/audit/checkpoint", call: get("/api/v1/audit/checkpoint"), allowed: everyone, public: true},
		{route: "GET /api/v1/audit/key", call: get("/api/v1/audit/key"), allowed: everyone, public: true},
		{route: "GET /api/v1/audit/proof/consistency", call: get("/api/v1/audit/proof/consistency?from=1&to=2"), allowed: everyone, public: true},
		{route: "GET /api/v1/audit/checkpoints/{size}", call: get(fmt.Sprint("/api/v1/audit/checkpoints/", latestSize(e))), allowed: everyone, public: true},
		{route: "GET /api/v1/audit/cosigners", call: get("/api/v1/audit/cosigners"), allowed: everyone, public: true},
		// Authorized callers reach the key check: a bad key is a 400.
		{route: "POST /api/v1/audit/cosigners", call: func(e *env, login, token string) response {
			return e.api("POST", "/api/v1/audit/cosigners", token, map[string]any{"verifier_key": "not-a-key"})
		}, allowed: []string{"admin"}, want: http.StatusBadRequest},
		{route: "POST /api/v1/audit/checkpoint/cosign", call: func(e *env, login, token string) response {
			return e.api("POST", "/api/v1/audit/checkpoint/cosign", token, map[string]any{"note": "not a note"})
		}, allowed: []string{"admin", "authority", "nc.authority", "regulator.cac"}, want: http.StatusBadRequest},
		// No alarm is open: the administrator passes authorization and learns so (404).
		{route: "POST /api/v1/audit/alarms/{id}/acknowledge", call: func(e *env, login, token string) response {
			return e.api("POST", "/api/v1/audit/alarms/1/acknowledge", token, map[string]string{"statement": "已核实并处置完毕，恢复写入"})
		}, allowed: []string{"admin"}, want: http.StatusNotFound},
	}...)
}

// Every API endpoint, every role: allowed callers succeed, others get 403
// with the error shape, anonymous callers 401; every refusal is audited.
func TestAPIAuthorizationEveryRole(t *testing.T) {
	e := newEnv(t, false)
	cases := apiCases(e)
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.route] = true
		t.Run(c.route, func(t *testing.T) {
			e.t = t
			for _, login := range roleLogins {
				token := ""
				if login != "" {
					token = e.account(login).Token
				}
				allowed := login == "" && c.public
				for _, a := range c.allowed {
					allowed = allowed || a == login
				}
				before, refusedBefore := e.count("audit_entries"), e.refusals()
				r := c.call(e, login, token)
				if w, ok := c.wants[login]; ok {
					if r.status != w {
						t.Errorf("%s as %q: status %d, want %d: %s", c.route, login, r.status, w, r.body)
					}
					continue
				}
				switch {
				case allowed && c.want != 0:
					if r.status != c.want {
						t.Errorf("%s as %q: status %d, want %d: %s", c.route, login, r.status, c.want, r.body)
					}
				case allowed:
					if r.status >= 300 {
						t.Errorf("%s as %q: status %d, want success: %s", c.route, login, r.status, r.body)
					}
				case login == "":
					if r.status != http.StatusUnauthorized {
						t.Errorf("%s anonymous: status %d, want 401", c.route, r.status)
					}
					r.apiError(t)
				default:
					if r.status != http.StatusForbidden {
						t.Errorf("%s as %q: status %d, want 403: %s", c.route, login, r.status, r.body)
					}
					if r.apiError(t).Error.Code != "forbidden" {
						t.Errorf("%s as %q: code %s", c.route, login, r.body)
					}
					if e.count("audit_entries") <= before {
						t.Errorf("%s as %q: refusal not audited", c.route, login)
					}
					// Finding 1 of issue 15: refusals were audited as "ok".
					if e.refusals() <= refusedBefore {
						t.Errorf("%s as %q: refusal not audited as refused", c.route, login)
					}
				}
			}
		})
	}
	for _, route := range e.app.Web.Routes() {
		if strings.Contains(route, "/api/v1/") && !covered[route] {
			t.Errorf("route %s has no row in the authorization test", route)
		}
	}
}

// otherEntry makes op.hongtu's organisation write an entry, integrates it
// and returns its ID: an entry other organisations' operators may not read.
func otherEntry(e *env) int64 {
	e.t.Helper()
	if r := e.api("POST", "/api/v1/tokens", e.account("op.hongtu").Token, map[string]any{"name": "for the proof test"}); r.status != http.StatusCreated {
		e.t.Fatalf("token: %d", r.status)
	}
	if _, err := e.app.Tree.Integrate(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	var id int64
	if err := e.app.DB.QueryRow(context.Background(), "SELECT MAX(id) FROM audit_entries WHERE actor_org_id = ?", e.account("op.hongtu").OrgID).Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// latestSize integrates what is pending and returns the signed tree size.
func latestSize(e *env) uint64 {
	e.t.Helper()
	if _, err := e.app.Tree.Integrate(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	cp, err := e.app.Tree.Latest(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return cp.Size
}
