package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gongshu/gongshu/internal/sandbox"
)

// sandboxFixture is an active agreement over a loaded enterprise resource
// (privacy unit: the credit code) and op.ganshu's workspace on it.
type sandboxFixture struct {
	ws    sandbox.Workspace
	table string
	job   sandbox.Job
}

func (e *env) sandboxFixture() sandboxFixture {
	e.t.Helper()
	ctx := context.Background()
	f := e.grantFixture()
	dept := e.account("dept.amr").Token
	r := e.upload(fmt.Sprintf("/api/v1/resources/%d/loads?name=ent.csv", f.res[0].ID), dept, "text/csv", strings.NewReader(enterpriseCSV))
	if r.status != http.StatusCreated {
		e.t.Fatalf("load: %d %s", r.status, r.body)
	}
	if r := e.api("PUT", fmt.Sprintf("/api/v1/resources/%d/privacy-unit", f.res[0].ID), dept, map[string]string{"column": "uscc", "reason": "每行一个企业"}); r.status != http.StatusOK {
		e.t.Fatalf("privacy unit: %d %s", r.status, r.body)
	}
	a := e.activeAgreement(f)
	ws, err := e.app.Sandbox.CreateWorkspace(ctx, e.principal("op.ganshu"), a.ID, "demo", "企业信用评估")
	if err != nil {
		e.t.Fatal(err)
	}
	if ws, err = e.app.Sandbox.Workspace(ctx, e.principal("op.ganshu"), ws.ID); err != nil {
		e.t.Fatal(err)
	}
	table := ""
	for _, res := range ws.Resources {
		if res.ID == f.res[0].ID {
			table = res.Table
		}
	}
	job, err := e.app.Sandbox.Submit(ctx, e.principal("op.ganshu"), ws.ID, "SELECT district, count(*) AS n FROM "+table+" GROUP BY district", sandbox.Mock)
	if err != nil {
		e.t.Fatal(err)
	}
	return sandboxFixture{ws: ws, table: table, job: job}
}

func sandboxCases(e *env) []apiCase {
	f := e.sandboxFixture()
	op := []string{"op.ganshu"}
	// R4.1: Nanchang's bodies do not oversee a provincial agreement's workspace.
	overseers := []string{"admin", "agency", "authority", "regulator.cac", "op.ganshu"}
	q := map[string]string{"sql": "SELECT district, count(*) AS n FROM " + f.table + " GROUP BY district", "target": "mock"}
	return []apiCase{
		{route: "GET /api/v1/workspaces", call: get("/api/v1/workspaces"), allowed: everyone},
		// The agency, the authorities and the regulators oversee; they see
		// the workspace and released results, never more.
		{route: "GET /api/v1/workspaces/{id}", call: get(fmt.Sprint("/api/v1/workspaces/", f.ws.ID)), allowed: overseers},
		{route: "POST /api/v1/workspaces/{id}/queries", call: func(e *env, login, token string) response {
			return e.api("POST", fmt.Sprintf("/api/v1/workspaces/%d/queries", f.ws.ID), token, q)
		}, allowed: op},
		{route: "POST /api/v1/workspaces/{id}/validate", call: func(e *env, login, token string) response {
			return e.api("POST", fmt.Sprintf("/api/v1/workspaces/%d/validate", f.ws.ID), token, q)
		}, allowed: op},
		{route: "GET /api/v1/workspaces/{id}/jobs", call: get(fmt.Sprintf("/api/v1/workspaces/%d/jobs", f.ws.ID)), allowed: overseers},
		// The workspace is not halted: the agency gets past authorization and learns so.
		{route: "POST /api/v1/workspaces/{id}/resume", call: func(e *env, login, token string) response {
			return e.api("POST", fmt.Sprintf("/api/v1/workspaces/%d/resume", f.ws.ID), token, map[string]string{"reason": "已核查融合风险"})
		}, allowed: []string{"admin", "agency"}, want: http.StatusConflict},
		{route: "GET /api/v1/jobs/{id}", call: get(fmt.Sprint("/api/v1/jobs/", f.job.ID)), allowed: []string{"admin", "agency", "op.ganshu"}},
		{route: "GET /api/v1/review-queue", call: get("/api/v1/review-queue"), allowed: []string{"admin", "agency", "nc.agency"}},
		// The job was released, not held: the agency passes authorization and is told it is not waiting.
		{route: "POST /api/v1/jobs/{id}/review", call: func(e *env, login, token string) response {
			return e.api("POST", fmt.Sprintf("/api/v1/jobs/%d/review", f.job.ID), token, map[string]string{"decision": "approve", "reason": "核对无误"})
		}, allowed: []string{"admin", "agency"}, want: http.StatusConflict},
	}
}

// R12.1, R15.3: the operator's console: the schema browser shows roles,
// a mock query runs, a real query that leaks is refused with the reason in
// Chinese, and an aggregate over real data is released.
func TestWorkspaceConsole(t *testing.T) {
	e := newEnv(t, false)
	f := e.sandboxFixture()
	c := e.client()
	c.mustLogin("op.ganshu")
	page := fmt.Sprintf("/console/workspaces/%d", f.ws.ID)
	r := c.get(page)
	if r.status != http.StatusOK || !strings.Contains(r.body, f.table) || !strings.Contains(r.body, "仅关联") {
		t.Fatalf("workspace page: %d %s", r.status, r.body)
	}
	tok := c.csrf(page)
	run := func(sql, target string) response {
		return c.postForm(page+"/queries", url.Values{"csrf_token": {tok}, "sql": {sql}, "target": {target}, "action": {"run"}})
	}
	if r := run("SELECT uscc FROM "+f.table, "real"); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="reason-code"`) {
		t.Errorf("leaking query: %d %s", r.status, r.body)
	}
	if r := run("SELECT district, count(*) AS n FROM "+f.table+" GROUP BY district", "mock"); r.status != http.StatusOK || !strings.Contains(r.body, `data-status="released"`) {
		t.Errorf("mock query: %d %s", r.status, r.body)
	}
	// Three enterprises are fewer than k: the real aggregate releases no group.
	r = run("SELECT district, count(*) AS n FROM "+f.table+" GROUP BY district", "real")
	if r.status != http.StatusOK || strings.Contains(r.body, "360102</td>") {
		t.Errorf("real aggregate: %d %s", r.status, r.body)
	}
	// The agency sees the workspace; another operator does not.
	other := e.client()
	other.mustLogin("op.hongtu")
	if r := other.get(page); r.status != http.StatusForbidden && r.status != http.StatusNotFound {
		t.Errorf("another operator opens the workspace: %d", r.status)
	}
}
