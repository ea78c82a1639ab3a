package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gongshu/gongshu/internal/governance"
)

// consolePage is one console page and the logins that may open it; every
// other signed-in login must get 403 and an anonymous one the login page.
type consolePage struct {
	route   string // the pattern as registered
	path    string
	allowed []string
}

// consolePages lists every console page (GET /console…) with objects of
// the province (a provincial department's resource, plan, agreement,
// workspace, case and negative-list entry), so that Nanchang's bodies are
// checked against them by region (R4.1).
func consolePages(e *env) []consolePage {
	it, _ := e.checked()
	sf := e.sandboxFixture()
	g := e.grantFixture()
	agr := e.activeAgreement(g)
	c := e.opCase(it)
	n, err := e.app.Governance.RequestNegative(context.Background(), e.principal("dept.amr"), governance.NegativeRequest{ResourceID: it.ID, Basis: "《数据安全法》第二十一条"})
	if err != nil {
		e.t.Fatal(err)
	}
	readers := []string{"admin", "authority", "government", "agency", "regulator.cac"}
	return []consolePage{
		{"GET /console", "/console", everyone},
		{"GET /console/orgs", "/console/orgs", everyone},
		{"GET /console/orgs/new", "/console/orgs/new", []string{"admin", "authority", "nc.authority"}},
		{"GET /console/users", "/console/users", []string{"admin"}},
		{"GET /console/users/new", "/console/users/new", []string{"admin"}},
		{"GET /console/tokens", "/console/tokens", everyone},
		{"GET /console/password", "/console/password", everyone},
		{"GET /console/audit", "/console/audit", everyone},
		{"GET /console/audit", "/console/audit?org=" + fmt.Sprint(e.account("op.hongtu").OrgID), []string{"admin", "authority", "nc.authority", "agency", "nc.agency", "regulator.cac"}},
		{"GET /console/audit/{id}", fmt.Sprint("/console/audit/", otherEntry(e)), []string{"admin", "authority", "nc.authority", "agency", "nc.agency", "regulator.cac"}},
		{"GET /console/registry", "/console/registry", everyone},
		{"GET /console/registry/new", "/console/registry/new", []string{"dept.amr", "utility.power", "agency", "nc.agency", "admin"}},
		{"GET /console/registry/{id}", fmt.Sprint("/console/registry/", it.ID), everyone},
		{"GET /console/registry/{id}/data", fmt.Sprintf("/console/registry/%d/data", it.ID), everyone},
		{"GET /console/registry/{id}/quality", fmt.Sprintf("/console/registry/%d/quality", it.ID), everyone},
		{"GET /console/plans", "/console/plans", everyone},
		{"GET /console/plans/{id}", fmt.Sprint("/console/plans/", g.plan.ID), readers},
		{"GET /console/selections/{id}", fmt.Sprint("/console/selections/", g.sel.ID), append([]string{"op.ganshu"}, readers...)},
		{"GET /console/agreements", "/console/agreements", everyone},
		{"GET /console/agreements/{id}", fmt.Sprint("/console/agreements/", agr.ID), append([]string{"op.ganshu"}, readers...)},
		{"GET /console/workspaces", "/console/workspaces", everyone},
		{"GET /console/workspaces/{id}", fmt.Sprint("/console/workspaces/", sf.ws.ID), []string{"admin", "agency", "authority", "regulator.cac", "op.ganshu"}},
		{"GET /console/cases", "/console/cases", everyone},
		{"GET /console/cases/{id}", fmt.Sprint("/console/cases/", c.ID), []string{"admin", "agency", "authority", "dept.amr", "op.ganshu"}},
		{"GET /console/negative", "/console/negative", everyone},
		{"GET /console/negative/{id}", fmt.Sprint("/console/negative/", n.ID), everyone},
	}
}

// Console pages each role must and must not see, by role and by region
// (R4.1: each body acts in its own role and region), and every console
// page of the server has a row here.
func TestConsolePagesEveryRole(t *testing.T) {
	e := newEnv(t, false)
	pages := consolePages(e)
	covered := map[string]bool{}
	for _, p := range pages {
		covered[p.route] = true
	}
	for _, route := range e.app.Web.Routes() {
		if strings.HasPrefix(route, "GET /console") && !covered[route] {
			t.Errorf("console page %s has no row in the authorization test", route)
		}
	}
	for _, login := range roleLogins {
		c := e.client()
		if login != "" {
			c.mustLogin(login)
		}
		for _, p := range pages {
			r := c.get(p.path)
			allowed := false
			for _, a := range p.allowed {
				allowed = allowed || a == login
			}
			switch {
			case login == "":
				if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login") {
					t.Errorf("anonymous %s: status %d location %q, want redirect to login", p.path, r.status, r.header.Get("Location"))
				}
			case allowed && r.status != http.StatusOK:
				t.Errorf("%s %s: status %d, want 200", login, p.path, r.status)
			case !allowed && r.status != http.StatusForbidden:
				t.Errorf("%s %s: status %d, want 403", login, p.path, r.status)
			}
		}
		if login != "" {
			// The navigation offers exactly the pages the role may open.
			nav := c.get("/console").body
			hasUsers := strings.Contains(nav, `data-nav="/console/users"`)
			if hasUsers != (login == "admin") {
				t.Errorf("%s: users link shown = %v", login, hasUsers)
			}
		}
	}
}

// Finding 1 of issue 15 (R4.1, PIPL): a public objector's phone number is
// personal data for the case's handler alone. The holding department and
// the provincial agency read it; the provincial authority oversees the
// case without it; Nanchang's authority and agency neither list nor read
// a provincial resource's case, and their attempts are audited as refused.
func TestObjectorContactOnlyToHandler(t *testing.T) {
	e := newEnv(t, false)
	it := e.registeredPool(1)[0]
	const phone = "13800138000"
	r := e.api("POST", "/api/v1/cases", "", map[string]any{"kind": "objection", "resource_id": it.ID,
		"description": "企业地址与实际经营地址不符，请核实。", "contact": phone})
	if r.status != http.StatusCreated {
		t.Fatalf("raise: %d %s", r.status, r.body)
	}
	var c governance.Case
	r.json(t, &c)
	if strings.Contains(r.body, phone) {
		t.Errorf("the raiser's receipt repeats the contact: %s", r.body)
	}
	for _, tc := range []struct {
		login       string
		read, shown bool
	}{
		{"dept.amr", true, true}, {"agency", true, true}, {"admin", true, true},
		{"authority", true, false},
		{"nc.authority", false, false}, {"nc.agency", false, false}, {"op.ganshu", false, false},
	} {
		tok := e.account(tc.login).Token
		list := e.api("GET", "/api/v1/cases", tok, nil)
		if list.status != http.StatusOK || strings.Contains(list.body, phone) != tc.shown || strings.Contains(list.body, c.Ref) != tc.read {
			t.Errorf("%s lists: %d, shows the case %v (want %v), the phone %v (want %v)", tc.login, list.status,
				strings.Contains(list.body, c.Ref), tc.read, strings.Contains(list.body, phone), tc.shown)
		}
		refused := e.refusals()
		one := e.api("GET", fmt.Sprint("/api/v1/cases/", c.ID), tok, nil)
		switch {
		case tc.read && (one.status != http.StatusOK || strings.Contains(one.body, phone) != tc.shown):
			t.Errorf("%s reads: %d, phone shown %v, want %v", tc.login, one.status, strings.Contains(one.body, phone), tc.shown)
		case !tc.read && (one.status != http.StatusForbidden || e.refusals() != refused+1):
			t.Errorf("%s reads: %d (want 403), refusals %d → %d", tc.login, one.status, refused, e.refusals())
		}
		cl := e.client()
		cl.mustLogin(tc.login)
		page := cl.get(fmt.Sprint("/console/cases/", c.ID))
		if tc.read && (page.status != http.StatusOK || strings.Contains(page.body, phone) != tc.shown) {
			t.Errorf("%s case page: %d, phone shown %v, want %v", tc.login, page.status, strings.Contains(page.body, phone), tc.shown)
		}
		if l := cl.get("/console/cases"); !tc.shown && strings.Contains(l.body, phone) {
			t.Errorf("%s: the cases page shows the phone", tc.login)
		}
	}
}

// refusals counts audit entries recorded as refused.
func (e *env) refusals() int {
	e.t.Helper()
	var n int
	if err := e.app.DB.QueryRow(context.Background(), "SELECT COUNT(*) FROM audit_entries WHERE outcome = 'refused'").Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// consoleForms maps every console form (POST) to the API route whose row
// of the role matrix proves the same service decision; a form without one
// fails TestConsoleFormsByRegion.
var consoleForms = map[string]string{
	"POST /logout":                                        "", // one's own session
	"POST /login":                                         "", // TestLogin*
	"POST /objections":                                    "POST /api/v1/cases",
	"POST /console/orgs":                                  "POST /api/v1/organizations",
	"POST /console/users":                                 "POST /api/v1/users",
	"POST /console/tokens":                                "POST /api/v1/tokens",
	"POST /console/tokens/{id}/revoke":                    "DELETE /api/v1/tokens/{id}",
	"POST /console/password":                              "POST /api/v1/users/{login}/password",
	"POST /console/audit/alarms/{id}/acknowledge":         "POST /api/v1/audit/alarms/{id}/acknowledge",
	"POST /console/registry":                              "POST /api/v1/registry/resources",
	"POST /console/registry/{id}/steps":                   "POST /api/v1/registry/items/{id}/steps",
	"POST /console/registry/{id}/data/upload":             "POST /api/v1/resources/{id}/previews",
	"POST /console/registry/{id}/data/load":               "POST /api/v1/resources/{id}/loads",
	"POST /console/registry/{id}/data/tags":               "POST /api/v1/resources/{id}/tags",
	"POST /console/registry/{id}/data/unit":               "PUT /api/v1/resources/{id}/privacy-unit",
	"POST /console/plans":                                 "POST /api/v1/plans",
	"POST /console/plans/{id}/steps":                      "POST /api/v1/plans/{id}/steps",
	"POST /console/plans/{id}/selections":                 "POST /api/v1/plans/{id}/selections",
	"POST /console/selections/{id}/steps":                 "POST /api/v1/selections/{id}/steps",
	"POST /console/agreements":                            "POST /api/v1/agreements",
	"POST /console/agreements/{id}/steps":                 "POST /api/v1/agreements/{id}/steps",
	"POST /console/workspaces/{id}/queries":               "POST /api/v1/workspaces/{id}/queries",
	"POST /console/workspaces/{id}/resume":                "POST /api/v1/workspaces/{id}/resume",
	"POST /console/jobs/{id}/review":                      "POST /api/v1/jobs/{id}/review",
	"POST /console/cases/{id}/steps":                      "POST /api/v1/cases/{id}/steps",
	"POST /console/negative":                              "POST /api/v1/negative-list/entries",
	"POST /console/negative/{id}/steps":                   "POST /api/v1/negative-list/entries/{id}/steps",
	"POST /console/registry/{id}/consents":                "POST /api/v1/resources/{id}/consents",
	"POST /console/registry/{id}/consents/{cid}/withdraw": "POST /api/v1/consents/{id}/withdraw",
	"POST /console/registry/{id}/quality/rules":           "PUT /api/v1/resources/{id}/quality/rules",
	"POST /console/registry/{id}/quality/run":             "POST /api/v1/resources/{id}/quality/runs",
}

// R4.1, finding 1 of issue 15: the console's forms on a provincial
// resource refuse Nanchang's agency and authority, and audit each refusal
// as refused; every console form is mapped to its API twin in the matrix.
func TestConsoleFormsByRegion(t *testing.T) {
	e := newEnv(t, false)
	routes := map[string]bool{}
	for _, r := range e.app.Web.Routes() {
		routes[r] = true
	}
	for _, r := range e.app.Web.Routes() {
		if !strings.HasPrefix(r, "POST /") || strings.HasPrefix(r, "POST /api/") {
			continue
		}
		twin, ok := consoleForms[r]
		if !ok {
			t.Errorf("console form %s has no row in consoleForms", r)
		} else if twin != "" && !routes[twin] {
			t.Errorf("console form %s: twin %s is not a route", r, twin)
		}
	}
	it, _ := e.checked()
	c := e.opCase(it)
	shared := e.sharedResource()
	con := e.consent(shared)
	n, err := e.app.Governance.RequestNegative(context.Background(), e.principal("dept.amr"), governance.NegativeRequest{ResourceID: it.ID, Basis: "《数据安全法》第二十一条"})
	if err != nil {
		t.Fatal(err)
	}
	forms := []struct {
		path string
		form map[string]string
	}{
		{fmt.Sprintf("/console/registry/%d/data/tags", it.ID), map[string]string{"column": "name", "tag": "none", "reason": "企业名称为公示信息"}},
		{fmt.Sprintf("/console/registry/%d/data/unit", it.ID), map[string]string{"column": "name", "reason": "按名称计"}},
		{fmt.Sprintf("/console/registry/%d/quality/rules", it.ID), map[string]string{"rules": enterpriseRules}},
		{fmt.Sprintf("/console/registry/%d/quality/run", it.ID), nil},
		{fmt.Sprintf("/console/cases/%d/steps", c.ID), map[string]string{"step": "reject", "note": "经核实数据无误"}},
		{"/console/negative", map[string]string{"resource_id": fmt.Sprint(it.ID), "basis": "《数据安全法》第二十一条"}},
		{fmt.Sprintf("/console/negative/%d/steps", n.ID), map[string]string{"step": "review"}},
		{fmt.Sprintf("/console/registry/%d/consents", shared.ID), map[string]string{"document_ref": "洪数函〔2026〕1号", "scope": "全部数据项", "granted_on": "2026-01-01"}},
		{fmt.Sprintf("/console/registry/%d/consents/%d/withdraw", shared.ID, con.ID), map[string]string{"reason": "提供方来函撤回"}},
	}
	for _, login := range []string{"nc.agency", "nc.authority"} {
		cl := e.client()
		cl.mustLogin(login)
		tok := cl.csrf("/console/tokens")
		for _, f := range forms {
			v := url.Values{"csrf_token": {tok}}
			for k, x := range f.form {
				v.Set(k, x)
			}
			refused := e.refusals()
			r := cl.postForm(f.path, v)
			if r.status != http.StatusForbidden {
				t.Errorf("%s %s: status %d, want 403", login, f.path, r.status)
			}
			if e.refusals() != refused+1 {
				t.Errorf("%s %s: refusal not audited as refused", login, f.path)
			}
		}
	}
}
