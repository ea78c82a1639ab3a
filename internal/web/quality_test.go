package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/quality"
	"github.com/gongshu/gongshu/internal/registry"
)

// enterpriseRules checks the enterprise CSV: one credit code in it has a
// wrong check character, capital must be positive.
const enterpriseRules = `{"key": "uscc", "rules": [
  {"type": "not_null", "column": "name"},
  {"type": "unique", "columns": ["uscc"]},
  {"type": "format", "column": "uscc", "format": "credit_code"},
  {"type": "range", "column": "capital", "min": "1"}
]}`

// checked loads the enterprise CSV into a new resource, sets its rules
// and runs them, as the holding department.
func (e *env) checked() (registry.Item, quality.Run) {
	e.t.Helper()
	it := e.loaded()
	tok := e.account("dept.amr").Token
	c := &client{t: e.t, e: e, http: e.srv.Client()}
	r := c.do("PUT", fmt.Sprintf("/api/v1/resources/%d/quality/rules", it.ID), strings.NewReader(enterpriseRules),
		map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + tok})
	if r.status != http.StatusOK {
		e.t.Fatalf("set rules: %d %s", r.status, r.body)
	}
	r = e.api("POST", fmt.Sprintf("/api/v1/resources/%d/quality/runs", it.ID), tok, nil)
	if r.status != http.StatusCreated {
		e.t.Fatalf("run: %d %s", r.status, r.body)
	}
	var run quality.Run
	r.json(e.t, &run)
	return it, run
}

func qualityCases(e *env) []apiCase {
	it, run := e.checked()
	// R4.1: the provincial resource is managed by provincial bodies and its
	// holder; Nanchang's authority and agency are refused.
	managers := []string{"admin", "agency", "authority", "dept.amr"}
	return []apiCase{
		{route: "GET /api/v1/resources/{id}/quality", call: get(fmt.Sprintf("/api/v1/resources/%d/quality", it.ID)), allowed: everyone, public: true},
		{route: "GET /api/v1/resources/{id}/quality/rules", call: get(fmt.Sprintf("/api/v1/resources/%d/quality/rules", it.ID)), allowed: everyone},
		{route: "PUT /api/v1/resources/{id}/quality/rules", call: func(e *env, login, token string) response {
			c := &client{t: e.t, e: e, http: e.srv.Client()}
			hdr := map[string]string{"Content-Type": "application/json"}
			if token != "" {
				hdr["Authorization"] = "Bearer " + token
			}
			return c.do("PUT", fmt.Sprintf("/api/v1/resources/%d/quality/rules", it.ID), strings.NewReader(enterpriseRules), hdr)
		}, allowed: managers},
		{route: "POST /api/v1/resources/{id}/quality/runs", call: func(e *env, login, token string) response {
			return e.api("POST", fmt.Sprintf("/api/v1/resources/%d/quality/runs", it.ID), token, nil)
		}, allowed: managers},
		// Failing rows are the holding department's and the agency's only.
		{route: "GET /api/v1/quality/runs/{id}/samples", call: get(fmt.Sprintf("/api/v1/quality/runs/%d/samples", run.ID)), allowed: []string{"admin", "agency", "dept.amr"}},
		{route: "GET /api/v1/quality/departments", call: get("/api/v1/quality/departments"), allowed: everyone},
	}
}

// R6.2, R5.1: the department declares rules, a load is checked against
// them, the score reaches the public page with counts and never a value,
// and the failing credit code is shown to the department alone.
func TestQualityConsoleAndPublicScore(t *testing.T) {
	e := newEnv(t, false)
	it, run := e.checked()
	if run.Status != quality.StatusOK || run.Rows != 3 {
		t.Fatalf("run = %+v", run)
	}
	failed := map[string]int64{}
	for _, r := range run.Results {
		failed[string(r.Type)] += r.Failed
	}
	// The CSV's credit codes are all valid and unique; capital ≥ 1.
	if failed["format"] != 0 || failed["unique"] != 0 || failed["range"] != 0 || run.Score != 100 {
		t.Errorf("results = %+v", run.Results)
	}
	page := fmt.Sprintf("/console/registry/%d/quality", it.ID)
	c := e.client()
	c.mustLogin("dept.amr")
	tok := c.csrf(page)
	// A rules file with a mistake is refused with the problem listed.
	bad := `{"rules": [{"type": "format", "column": "uscc", "format": "passport"}]}`
	r := c.postForm(page+"/rules", url.Values{"csrf_token": {tok}, "rules": {bad}})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="form-error"`) || !strings.Contains(r.body, "passport") {
		t.Fatalf("bad rules: %d %s", r.status, r.body)
	}
	// A stricter rule, then a new load: the load is checked in the background.
	strict := strings.Replace(enterpriseRules, `"min": "1"`, `"min": "200"`, 1)
	if r := c.postForm(page+"/rules", url.Values{"csrf_token": {tok}, "rules": {strict}}); r.status != http.StatusSeeOther {
		t.Fatalf("rules: %d %s", r.status, r.body)
	}
	up := e.upload(fmt.Sprintf("/api/v1/resources/%d/loads?name=ent2.csv", it.ID), e.account("dept.amr").Token, "text/csv", strings.NewReader(enterpriseCSV))
	if up.status != http.StatusCreated {
		t.Fatalf("second load: %d %s", up.status, up.body)
	}
	var latest quality.Run
	deadline := time.Now().Add(20 * time.Second)
	for {
		l, err := e.app.Quality.LatestScore(context.Background(), it.ID)
		if err == nil && l.DataVersion == 2 {
			latest = l
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second version was not checked after loading (%v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if latest.Score >= 100 {
		t.Errorf("capital under 200 should fail: %+v", latest.Results)
	}
	r = c.get(page)
	if !strings.Contains(r.body, `id="samples"`) || !strings.Contains(r.body, "120") || !strings.Contains(r.body, `id="trend"`) {
		t.Errorf("department's quality page lacks samples or trend: %s", r.body)
	}
	// An operator sees the score but no sample and no form.
	op := e.client()
	op.mustLogin("op.ganshu")
	r = op.get(page)
	if r.status != http.StatusOK || strings.Contains(r.body, `id="samples"`) || strings.Contains(r.body, `id="save-rules"`) {
		t.Errorf("operator's quality page: %d %s", r.status, r.body)
	}
	pub := e.client().get(fmt.Sprintf("/catalog/%d", it.ID))
	if !strings.Contains(pub.body, `id="quality-score"`) || strings.Contains(pub.body, "红谷贸易") {
		t.Errorf("public page: %s", pub.body)
	}
}
