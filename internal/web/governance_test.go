package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gongshu/gongshu/internal/governance"
	"github.com/gongshu/gongshu/internal/registry"
)

// opCase has op.ganshu raise a correction on a resource of dept.amr.
func (e *env) opCase(it registry.Item) governance.Case {
	e.t.Helper()
	c, err := e.app.Governance.Raise(context.Background(), e.principal("op.ganshu"),
		governance.RaiseInput{Kind: governance.Correction, ResourceID: it.ID, Description: "注册资本字段单位应为万元，现为元。"}, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// sharedResource registers a resource of dept.amr obtained through sharing.
func (e *env) sharedResource() registry.Item {
	e.t.Helper()
	ctx := context.Background()
	f := e.resourceForm("跨省企业迁移登记信息")
	f.SharedOrigin = &registry.SharedFrom{ProviderName: "国家市场监督管理总局", ProviderRegion: "100000", ConsentRef: "市监函〔2026〕3号"}
	it, err := e.app.Registry.SubmitResource(ctx, e.principal("dept.amr"), f)
	if err != nil {
		e.t.Fatal(err)
	}
	auth := e.principal("authority")
	for _, s := range []registry.Step{registry.StepAccept, registry.StepAnnounce} {
		if _, err := e.app.Registry.Advance(ctx, auth, it.ID, s, ""); err != nil {
			e.t.Fatal(err)
		}
	}
	e.clock.Advance(10 * 24 * time.Hour)
	if it, err = e.app.Registry.Advance(ctx, auth, it.ID, registry.StepRegister, ""); err != nil {
		e.t.Fatal(err)
	}
	return it
}

func (e *env) consent(it registry.Item) governance.Consent {
	e.t.Helper()
	c, err := e.app.Governance.RecordConsent(context.Background(), e.principal("dept.amr"), governance.ConsentInput{
		ResourceID: it.ID, DocumentRef: "市监函〔2026〕3号", Scope: "全部数据项用于本省授权运营", GrantedOn: e.clock.Now().Add(-24 * time.Hour)})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func governanceCases(e *env) []apiCase {
	pool := e.registeredPool(8)
	target := pool[0]
	shared := e.sharedResource()
	holders := []string{"admin", "agency", "dept.amr"}
	// R4.1: a provincial resource's case is not Nanchang's to read.
	seers := []string{"admin", "agency", "authority", "dept.amr", "op.ganshu"}
	shown := e.opCase(target)
	next := 1
	fresh := func() registry.Item { it := pool[next]; next++; return it }
	requested := func(it registry.Item) governance.NegativeEntry {
		n, err := e.app.Governance.RequestNegative(context.Background(), e.principal("dept.amr"), governance.NegativeRequest{ResourceID: it.ID, Basis: "《数据安全法》第二十一条"})
		if err != nil {
			e.t.Fatal(err)
		}
		return n
	}
	common := requested(fresh())
	return []apiCase{
		{route: "POST /api/v1/cases", call: func(e *env, login, token string) response {
			return e.api("POST", "/api/v1/cases", token, map[string]any{"kind": "objection", "resource_id": target.ID,
				"description": "企业地址与实际经营地址不符，请核实。", "contact": "13800138000"})
		}, allowed: everyone, public: true},
		{route: "GET /api/v1/cases", call: get("/api/v1/cases"), allowed: everyone},
		{route: "GET /api/v1/cases/{id}", call: get(fmt.Sprint("/api/v1/cases/", shown.ID)), allowed: seers},
		{route: "POST /api/v1/cases/{id}/steps", call: func(e *env, login, token string) response {
			return e.api("POST", fmt.Sprintf("/api/v1/cases/%d/steps", e.opCase(target).ID), token, map[string]string{"step": "accept"})
		}, allowed: holders},
		{route: "GET /api/v1/cases/by-ref/{ref}", call: get("/api/v1/cases/by-ref/" + shown.Ref), allowed: everyone, public: true},
		{route: "GET /api/v1/negative-list", call: get("/api/v1/negative-list"), allowed: everyone, public: true},
		{route: "GET /api/v1/negative-list/entries", call: get("/api/v1/negative-list/entries"), allowed: everyone},
		{route: "POST /api/v1/negative-list/entries", call: func(e *env, login, token string) response {
			it := target
			if login == "admin" || login == "agency" || login == "dept.amr" {
				it = fresh()
			}
			return e.api("POST", "/api/v1/negative-list/entries", token, map[string]any{"resource_id": it.ID, "basis": "《数据安全法》第二十一条"})
		}, allowed: holders},
		{route: "POST /api/v1/negative-list/entries/{id}/steps", call: func(e *env, login, token string) response {
			n := common
			if login == "authority" || login == "nc.authority" {
				n = requested(fresh())
			}
			return e.api("POST", fmt.Sprintf("/api/v1/negative-list/entries/%d/steps", n.ID), token, map[string]string{"step": "review"})
		}, allowed: []string{"authority"}},
		{route: "GET /api/v1/resources/{id}/consents", call: get(fmt.Sprintf("/api/v1/resources/%d/consents", shared.ID)), allowed: everyone},
		{route: "POST /api/v1/resources/{id}/consents", call: func(e *env, login, token string) response {
			return e.api("POST", fmt.Sprintf("/api/v1/resources/%d/consents", shared.ID), token, map[string]any{
				"document_ref": "市监函〔2026〕3号", "scope": "全部数据项", "granted_on": "2026-01-01T00:00:00Z"})
		}, allowed: holders},
		{route: "POST /api/v1/consents/{id}/withdraw", call: func(e *env, login, token string) response {
			return e.api("POST", fmt.Sprintf("/api/v1/consents/%d/withdraw", e.consent(shared).ID), token, map[string]string{"reason": "提供方来函撤回"})
		}, allowed: holders},
	}
}

var refField = regexp.MustCompile(`id="case-ref">([A-Z0-9-]+)<`)

// R6.2: a member of the public raises an objection on the portal with a
// contact, gets a reference number, follows the case without an account;
// the holding department answers in the console; the answer shows on the
// follow page, the contact never does. A robot filling the hidden field is
// refused and audited.
func TestPublicObjectionFlow(t *testing.T) {
	e := newEnv(t, false)
	it := e.registeredPool(1)[0]
	anon := e.client()
	if r := anon.get(fmt.Sprintf("/catalog/%d", it.ID)); !strings.Contains(r.body, `id="raise-objection"`) {
		t.Fatalf("no objection link on the resource page")
	}
	form := url.Values{"resource_id": {fmt.Sprint(it.ID)}, "kind": {"correction"}, "description": {"企业名称中的“赣”字录入为“贛”，请更正。"}, "contact": {"13800138000"}}
	before := e.count("audit_entries")
	bot := url.Values{}
	for k, v := range form {
		bot[k] = v
	}
	bot.Set("website", "http://spam.example")
	if r := anon.postForm("/objections", bot); r.status != http.StatusBadRequest || e.count("gov_cases") != 0 || e.count("audit_entries") <= before {
		t.Fatalf("robot: %d, cases %d", r.status, e.count("gov_cases"))
	}
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("contact", "call me")
	if r := anon.postForm("/objections", bad); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "11 位手机号") {
		t.Fatalf("bad contact: %d %s", r.status, r.body)
	}
	r := anon.postForm("/objections", form)
	m := refField.FindStringSubmatch(r.body)
	if r.status != http.StatusCreated || m == nil {
		t.Fatalf("raise: %d %s", r.status, r.body)
	}
	ref := m[1]
	// The department answers.
	c := e.client()
	c.mustLogin("dept.amr")
	list := c.get("/console/cases")
	if !strings.Contains(list.body, ref) {
		t.Fatalf("department's list lacks %s", ref)
	}
	cs, _ := e.app.Governance.Cases(context.Background(), e.principal("dept.amr"), governance.CaseFilter{})
	page := fmt.Sprintf("/console/cases/%d", cs[0].ID)
	if p := c.get(page); !strings.Contains(p.body, "13800138000") {
		t.Errorf("the department should see the contact")
	}
	tok := c.csrf(page)
	for _, step := range []url.Values{{"step": {"accept"}}, {"step": {"verify"}}, {"step": {"correct"}, "note": {"已更正为“赣”"}}} {
		step.Set("csrf_token", tok)
		if r := c.postForm(page+"/steps", step); r.status != http.StatusSeeOther {
			t.Fatalf("%s: %d %s", step.Get("step"), r.status, r.body)
		}
	}
	// A step out of order is refused with the state named.
	if r := c.postForm(page+"/steps", url.Values{"csrf_token": {tok}, "step": {"accept"}}); r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "已更正") {
		t.Errorf("out of order: %d", r.status)
	}
	f := anon.get("/objections?ref=" + ref)
	if !strings.Contains(f.body, "已更正为“赣”") || strings.Contains(f.body, "13800138000") {
		t.Errorf("follow page: %s", f.body)
	}
	// An operator sees none of the department's cases.
	op := e.client()
	op.mustLogin("op.ganshu")
	if r := op.get(page); r.status != http.StatusForbidden {
		t.Errorf("operator opens the case: %d", r.status)
	}
}

// R5.2, R5.3: the negative list from request to decision in the console,
// published on the portal; consent recorded on the data page lifts the
// exclusion of shared data.
func TestNegativeListAndConsentConsole(t *testing.T) {
	e := newEnv(t, false)
	it := e.registeredPool(1)[0]
	d := e.client()
	d.mustLogin("dept.amr")
	tok := d.csrf("/console/negative")
	r := d.postForm("/console/negative", url.Values{"csrf_token": {tok}, "resource_id": {fmt.Sprint(it.ID)}, "basis": {"《中华人民共和国数据安全法》第二十一条"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("request: %d %s", r.status, r.body)
	}
	entry := r.header.Get("Location")
	a := e.client()
	a.mustLogin("authority")
	atok := a.csrf(entry)
	for _, step := range []string{"review", "submit"} {
		if r := a.postForm(entry+"/steps", url.Values{"csrf_token": {atok}, "step": {step}}); r.status != http.StatusSeeOther {
			t.Fatalf("%s: %d %s", step, r.status, r.body)
		}
	}
	g := e.client()
	g.mustLogin("government")
	gtok := g.csrf(entry)
	// Without a decision record the approval is refused.
	if r := g.postForm(entry+"/steps", url.Values{"csrf_token": {gtok}, "step": {"approve"}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("approve without decision: %d", r.status)
	}
	r = g.postForm(entry+"/steps", url.Values{"csrf_token": {gtok}, "step": {"approve"}, "meeting": {"省政府第12次常务会议"},
		"decision_date": {"2026-09-30"}, "decision": {"同意列入"}, "decision_ref": {"赣府字〔2026〕18号"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("approve: %d %s", r.status, r.body)
	}
	pub := e.client().get("/negative-list")
	if !strings.Contains(pub.body, it.Code) || !strings.Contains(pub.body, "赣府字〔2026〕18号") {
		t.Errorf("published list: %s", pub.body)
	}
	if _, ok, _ := e.app.Governance.Excluded(context.Background(), it.ID, e.clock.Now()); !ok {
		t.Error("approved entry does not exclude")
	}

	shared := e.sharedResource()
	// Registering it moved the clock past the session's idle limit.
	d = e.client()
	d.mustLogin("dept.amr")
	page := fmt.Sprintf("/console/registry/%d/data", shared.ID)
	tok = d.csrf(page)
	p := d.get(page)
	if !strings.Contains(p.body, `id="exclusion"`) || !strings.Contains(p.body, "国家市场监督管理总局") {
		t.Fatalf("shared resource page: %s", p.body)
	}
	r = d.postForm(fmt.Sprintf("/console/registry/%d/consents", shared.ID), url.Values{"csrf_token": {tok}, "document_ref": {"市监函〔2026〕3号"},
		"scope": {"全部数据项"}, "granted_on": {e.clock.Now().Add(-48 * time.Hour).Format(time.DateOnly)}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("consent: %d %s", r.status, r.body)
	}
	if p := d.get(page); strings.Contains(p.body, `id="exclusion"`) {
		t.Errorf("still excluded after consent")
	}
}

// R6.2: the public objection end to end in a real browser.
func TestBrowserPublicObjection(t *testing.T) {
	p := page{t, browser(t)}
	e := newEnv(t, false)
	it := e.registeredPool(1)[0]
	p.do(
		chromedp.Navigate(fmt.Sprintf("%s/catalog/%d", e.srv.URL, it.ID)),
		chromedp.Click(chromedp.CSS("#raise-objection")),
		chromedp.WaitVisible(chromedp.CSS("#objection-form")),
		chromedp.SetValue(chromedp.CSS("#description"), "登记日期比实际晚了一天，请核实。"),
		chromedp.SetValue(chromedp.CSS("#contact"), "citizen@example.cn"),
		chromedp.Click(chromedp.CSS("#submit-objection")),
		chromedp.WaitVisible(chromedp.CSS("#case-ref")),
	)
	ref := p.text("#case-ref")
	if !strings.HasPrefix(ref, "JC") {
		t.Fatalf("reference %q", ref)
	}
	cs, err := e.app.Governance.Cases(context.Background(), e.principal("dept.amr"), governance.CaseFilter{})
	if err != nil || len(cs) != 1 {
		t.Fatal(cs, err)
	}
	for _, s := range []governance.CaseStep{governance.StepAccept, governance.StepReject} {
		if _, err := e.app.Governance.Advance(context.Background(), e.principal("dept.amr"), cs[0].ID, s, "经核实登记日期无误"); err != nil {
			t.Fatal(err)
		}
	}
	p.do(
		chromedp.Click(chromedp.CSS("#follow-link")),
		chromedp.WaitVisible(chromedp.CSS("#case-state")),
	)
	if got := p.text("#case-answer"); got != "经核实登记日期无误" {
		t.Errorf("answer %q", got)
	}
	if got := p.text("#case-state"); got != "不予采纳" {
		t.Errorf("state %q", got)
	}
}
