package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/governance"
	"github.com/gongshu/gongshu/internal/grant"
	"github.com/gongshu/gongshu/internal/registry"
)

// day is a calendar day at UTC midnight, as grant stores days.
// dayOf is the calendar day in Shanghai, as grant counts days: the UTC
// date differs from it every evening after 16:00 UTC.
func dayOf(t time.Time) time.Time { return grant.Day(t) }

func (e *env) planForm(title string, ids ...int64) grant.PlanForm {
	now := e.clock.Now()
	return grant.PlanForm{Title: title, Mode: grant.ModeWhole, ResourceIDs: ids, TermStart: dayOf(now), TermEnd: dayOf(now.AddDate(3, 0, 0)),
		Necessity: "释放公共数据要素价值，服务企业融资和营商环境", OperatorConditions: "具备数据安全管理能力和相应资质",
		SelectionMethod: grant.OpenTender, SecurityRequirements: "原始数据不出域，数据可用不可见，全程审计", ExitArrangements: "到期数据销毁并移交工作记录"}
}

func (e *env) decision(outcome grant.Outcome) grant.Decision {
	return grant.Decision{Meeting: "省政府第12次常务会议", Date: dayOf(e.clock.Now()), Outcome: outcome, MinutesRef: "赣府常纪〔2026〕12号",
		Rationale: "经集体研究，同意按实施方案开展授权运营"}
}

// grantFixture is a decided provincial plan over pool resources, with a
// concluded selection that chose op.ganshu.
type grantFixture struct {
	plan grant.Plan
	sel  grant.Selection
	res  []registry.Item
}

func (e *env) grantFixture() grantFixture {
	e.t.Helper()
	ctx := context.Background()
	res := e.registeredPool(3)
	auth, gov, agency := e.principal("authority"), e.principal("government"), e.principal("agency")
	ids := []int64{res[0].ID, res[1].ID, res[2].ID}
	pl, err := e.app.Grant.DraftPlan(ctx, auth, e.planForm("江西省公共数据整体授权运营实施方案", ids...))
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err = e.app.Grant.SubmitPlan(ctx, auth, pl.ID); err != nil {
		e.t.Fatal(err)
	}
	if pl, err = e.app.Grant.DecidePlan(ctx, gov, pl.ID, e.decision(grant.Approved)); err != nil {
		e.t.Fatal(err)
	}
	sel := e.concludedSelection(pl.ID)
	_ = agency
	return grantFixture{plan: pl, sel: sel, res: res}
}

func (e *env) openSelection(planID int64) grant.Selection {
	e.t.Helper()
	sel, err := e.app.Grant.OpenSelection(context.Background(), e.principal("agency"), planID,
		grant.SelectionForm{Title: "授权运营机构公开招标", Method: grant.OpenTender, NoticeRef: "JXZB-2026-001"})
	if err != nil {
		e.t.Fatal(err)
	}
	return sel
}

func (e *env) concludedSelection(planID int64) grant.Selection {
	e.t.Helper()
	ctx := context.Background()
	agency := e.principal("agency")
	sel := e.openSelection(planID)
	op := e.account("op.ganshu").OrgID
	if _, err := e.app.Grant.AddCandidate(ctx, agency, sel.ID, op); err != nil {
		e.t.Fatal(err)
	}
	for _, q := range grant.Qualifications {
		if _, err := e.app.Grant.CheckQualification(ctx, agency, sel.ID, op, grant.Check{Item: q, Met: true, Evidence: "证明材料-" + string(q)}); err != nil {
			e.t.Fatal(err)
		}
	}
	if _, err := e.app.Grant.Evaluate(ctx, agency, sel.ID, op, 92, "综合评分第一"); err != nil {
		e.t.Fatal(err)
	}
	sel, err := e.app.Grant.ConcludeSelection(ctx, agency, sel.ID, op, "确定为运营机构")
	if err != nil {
		e.t.Fatal(err)
	}
	return sel
}

func (e *env) agreementForm(f grantFixture) grant.AgreementForm {
	now := e.clock.Now()
	return grant.AgreementForm{PlanID: f.plan.ID, SelectionID: f.sel.ID, OperatorOrgID: e.account("op.ganshu").OrgID,
		Title: "企业信用数据授权运营协议", ResourceIDs: []int64{f.res[0].ID, f.res[1].ID}, TermStart: dayOf(now), TermEnd: dayOf(now.AddDate(2, 0, 0)),
		SecurityRequirements: "在数据域内按策略使用数据，结果经审核后导出",
		Pricing:              grant.Pricing{PublicInterestFree: true, Caps: []grant.FeeCap{{Unit: grant.PerCall, CapFen: 50, Basis: "赣发改价〔2026〕5号"}}},
		Return:               grant.Return{Method: "成本加合理利润", CostBasisFen: 100000000, RateBasisPoints: 800},
		AssetHandling:        "到期后数据产品按协议移交实施机构", ExitHandover: "终止后三十日内完成数据销毁和记录移交", Liability: "违反协议的依法承担责任"}
}

func (e *env) draftAgreement(f grantFixture) grant.Agreement {
	e.t.Helper()
	a, err := e.app.Grant.DraftAgreement(context.Background(), e.principal("agency"), e.agreementForm(f))
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// activeAgreement takes a drafted agreement to active.
func (e *env) activeAgreement(f grantFixture) grant.Agreement {
	e.t.Helper()
	ctx := context.Background()
	agency, op := e.principal("agency"), e.principal("op.ganshu")
	a := e.draftAgreement(f)
	steps := []func() (grant.Agreement, error){
		func() (grant.Agreement, error) {
			return e.app.Grant.DecideAgreement(ctx, agency, a.ID, e.decision(grant.Approved))
		},
		func() (grant.Agreement, error) { return e.app.Grant.SignAgreement(ctx, agency, a.ID, "张主任", nil) },
		func() (grant.Agreement, error) {
			return e.app.Grant.SignAgreement(ctx, op, a.ID, "李总经理", grant.Prohibitions)
		},
		func() (grant.Agreement, error) { return e.app.Grant.ActivateAgreement(ctx, agency, a.ID) },
	}
	for i, st := range steps {
		var err error
		if a, err = st(); err != nil {
			e.t.Fatalf("step %d: %v", i, err)
		}
	}
	return a
}

func grantCases(e *env) []apiCase {
	f := e.grantFixture()
	readers := []string{"admin", "authority", "government", "agency", "regulator.cac"}
	agencies := []string{"admin", "agency"}
	draftPlan := func() grant.Plan {
		pl, err := e.app.Grant.DraftPlan(context.Background(), e.principal("authority"), e.planForm("分领域授权实施方案", f.res[0].ID))
		if err != nil {
			e.t.Fatal(err)
		}
		return pl
	}
	shared := draftPlan()
	agr := e.activeAgreement(f)
	fresh := func(login string, ok ...string) bool {
		for _, o := range ok {
			if o == login {
				return true
			}
		}
		return false
	}
	return []apiCase{
		{route: "GET /api/v1/plans", call: get("/api/v1/plans"), allowed: everyone},
		{route: "POST /api/v1/plans", call: func(e *env, login, token string) response {
			return e.api("POST", "/api/v1/plans", token, e.planForm("整体授权实施方案", f.res[0].ID))
		}, allowed: []string{"admin", "authority", "agency"}, wants: map[string]int{"nc.authority": http.StatusBadRequest, "nc.agency": http.StatusBadRequest}},
		{route: "GET /api/v1/plans/{id}", call: get(fmt.Sprint("/api/v1/plans/", f.plan.ID)), allowed: readers},
		{route: "PUT /api/v1/plans/{id}", call: func(e *env, login, token string) response {
			return e.api("PUT", fmt.Sprint("/api/v1/plans/", shared.ID), token, e.planForm("分领域授权实施方案（修改）", f.res[0].ID))
		}, allowed: []string{"admin", "authority", "agency"}},
		{route: "POST /api/v1/plans/{id}/steps", call: func(e *env, login, token string) response {
			pl := shared
			if fresh(login, "authority") {
				pl = draftPlan()
			}
			return e.api("POST", fmt.Sprintf("/api/v1/plans/%d/steps", pl.ID), token, map[string]string{"step": "submit"})
		}, allowed: []string{"authority"}},
		{route: "GET /api/v1/plans/{id}/timeline", call: get(fmt.Sprintf("/api/v1/plans/%d/timeline", f.plan.ID)), allowed: readers},
		{route: "POST /api/v1/plans/{id}/selections", call: func(e *env, login, token string) response {
			return e.api("POST", fmt.Sprintf("/api/v1/plans/%d/selections", f.plan.ID), token, grant.SelectionForm{Title: "第二批运营机构公开招标", Method: grant.OpenTender, NoticeRef: "JXZB-2026-009"})
		}, allowed: agencies},
		{route: "GET /api/v1/selections/{id}", call: get(fmt.Sprint("/api/v1/selections/", f.sel.ID)), allowed: []string{"admin", "authority", "government", "agency", "regulator.cac", "op.ganshu"}},
		{route: "POST /api/v1/selections/{id}/steps", call: func(e *env, login, token string) response {
			sel := f.sel
			if fresh(login, agencies...) {
				sel = e.openSelection(f.plan.ID)
			}
			return e.api("POST", fmt.Sprintf("/api/v1/selections/%d/steps", sel.ID), token, map[string]any{"step": "add_candidate", "operator_org_id": e.account("op.hongtu").OrgID})
		}, allowed: agencies},
		{route: "GET /api/v1/agreements", call: get("/api/v1/agreements"), allowed: everyone},
		{route: "POST /api/v1/agreements", call: func(e *env, login, token string) response {
			return e.api("POST", "/api/v1/agreements", token, e.agreementForm(f))
		}, allowed: agencies},
		{route: "GET /api/v1/agreements/{id}", call: get(fmt.Sprint("/api/v1/agreements/", agr.ID)), allowed: append([]string{"op.ganshu"}, readers...)},
		{route: "POST /api/v1/agreements/{id}/steps", call: func(e *env, login, token string) response {
			a := agr
			if fresh(login, agencies...) {
				a = e.draftAgreement(f)
			}
			return e.api("POST", fmt.Sprintf("/api/v1/agreements/%d/steps", a.ID), token, map[string]any{"step": "decide", "decision": e.decision(grant.Approved)})
		}, allowed: agencies},
		{route: "GET /api/v1/agreements/{id}/timeline", call: get(fmt.Sprintf("/api/v1/agreements/%d/timeline", agr.ID)), allowed: append([]string{"op.ganshu"}, readers...)},
		{route: "GET /api/v1/disclosures", call: get("/api/v1/disclosures"), allowed: everyone, public: true},
		{route: "GET /api/v1/disclosures/{year}", call: get(fmt.Sprintf("/api/v1/disclosures/%d?agency=%d", e.clock.Now().Year(), e.account("agency").OrgID)), allowed: everyone, public: true},
	}
}

// R16.2: suspending an agreement ends the operator's sessions and tokens
// at once: its next API call and page load are refused; the portal's
// disclosure shows the suspension; resuming does not bring old tokens back.
func TestSuspensionRevokesAccess(t *testing.T) {
	e := newEnv(t, false)
	f := e.grantFixture()
	a := e.activeAgreement(f)
	op := e.client()
	op.mustLogin("op.ganshu")
	if r := op.get("/console"); r.status != http.StatusOK {
		t.Fatalf("operator console before: %d", r.status)
	}
	tok := e.account("op.ganshu").Token
	if r := e.api("GET", "/api/v1/me", tok, nil); r.status != http.StatusOK {
		t.Fatalf("operator API before: %d", r.status)
	}
	if err := e.app.Grant.Authorize(context.Background(), e.account("op.ganshu").OrgID, f.res[0].ID, "企业信用评估", e.clock.Now()); err != nil {
		t.Fatalf("in scope before suspension: %v", err)
	}
	r := e.api("POST", fmt.Sprintf("/api/v1/agreements/%d/steps", a.ID), e.account("agency").Token, map[string]string{"step": "suspend", "note": "发现超范围使用数据，暂停授权"})
	if r.status != http.StatusOK || !strings.Contains(r.body, `"state":"suspended"`) {
		t.Fatalf("suspend: %d %s", r.status, r.body)
	}
	if r := e.api("GET", "/api/v1/me", tok, nil); r.status != http.StatusUnauthorized {
		t.Errorf("operator API after suspension: %d", r.status)
	}
	if r := op.get("/console"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login") {
		t.Errorf("operator page after suspension: %d %s", r.status, r.header.Get("Location"))
	}
	err := e.app.Grant.Authorize(context.Background(), e.account("op.ganshu").OrgID, f.res[0].ID, "企业信用评估", e.clock.Now())
	if err == nil || !strings.Contains(err.Error(), "suspend") {
		t.Errorf("scope check after suspension: %v", err)
	}
	pub := e.api("GET", "/api/v1/disclosures", "", nil)
	if !strings.Contains(pub.body, `"state":"suspended"`) {
		t.Errorf("disclosure after suspension: %s", pub.body)
	}
}

// cityResource registers a resource of the Nanchang power utility (R23.1),
// which a Nanchang plan may cover.
func (e *env) cityResource() registry.Item {
	e.t.Helper()
	ctx := context.Background()
	f := e.resourceForm("南昌市居民用电量统计")
	f.HolderOrgID = e.account("utility.power").OrgID
	f.Domain = "utilities"
	f.Classification = "公用事业/用电"
	it, err := e.app.Registry.SubmitResource(ctx, e.principal("utility.power"), f)
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

// R9.1, R11.1, R16.1: in a real browser, a Nanchang plan goes from draft
// to filed with the province (with its working-day countdown), a
// provincial agreement from draft to active (the operator acknowledging
// each prohibition), and the agency suspends it; the operator's next page
// load sends it to the login page.
func TestBrowserPlanAgreementSuspension(t *testing.T) {
	p := page{t, browser(t)}
	e := newEnv(t, false)
	city := e.cityResource()
	f := e.grantFixture()
	base := e.srv.URL
	today := dayOf(e.clock.Now().In(time.FixedZone("CST", 8*3600))).Format(time.DateOnly)
	later := dayOf(e.clock.Now().AddDate(3, 0, 0)).Format(time.DateOnly)

	p.login(base, "nc.authority", e.account("nc.authority").Password)
	p.do(chromedp.WaitVisible(chromedp.CSS("#who")))
	p.do(
		chromedp.Navigate(base+"/console/plans"),
		chromedp.WaitVisible(chromedp.CSS("#new-plan")),
		chromedp.SetValue(chromedp.CSS("#plan-title"), "南昌市公共数据依场景授权运营实施方案"),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[data-code="%s"]`, city.Code))),
		chromedp.SetValue(chromedp.CSS("#plan-start"), today),
		chromedp.SetValue(chromedp.CSS("#plan-end"), later),
		chromedp.SetValue(chromedp.CSS("#plan-necessity"), "支撑城市能源精细化管理和普惠金融"),
		chromedp.SetValue(chromedp.CSS("#plan-conditions"), "具备数据安全能力认证"),
		chromedp.SetValue(chromedp.CSS("#plan-security"), "原始数据不出域，结果经审核导出"),
		chromedp.SetValue(chromedp.CSS("#plan-exit"), "到期销毁数据并移交记录"),
		chromedp.Click(chromedp.CSS("#plan-create")),
		chromedp.WaitVisible(chromedp.CSS("#plan-state")),
		chromedp.Click(chromedp.CSS(`button[data-step="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#decide-form")),
		chromedp.SetValue(chromedp.CSS("#decide-form .meeting"), "南昌市人民政府第8次常务会议"),
		chromedp.SetValue(chromedp.CSS("#decide-form .decision-date"), today),
		chromedp.SetValue(chromedp.CSS("#decide-form .minutes-ref"), "洪府常纪〔2026〕8号"),
		chromedp.SetValue(chromedp.CSS("#decide-form .rationale"), "经集体研究同意"),
		chromedp.Click(chromedp.CSS(`button[data-step="decide"]`)),
		chromedp.WaitVisible(chromedp.CSS("#filing-countdown")),
	)
	if got := p.text("#plan-filing"); !strings.Contains(got, "剩余 20 个工作日") {
		t.Errorf("filing countdown %q", got)
	}
	p.do(
		chromedp.Click(chromedp.CSS(`button[data-step="file"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-step="acknowledge"]`)),
	)
	if got := p.text("#plan-filing"); !strings.Contains(got, "已报备") {
		t.Errorf("after filing %q", got)
	}

	// The agreement: drafted and decided by the agency, signed by both.
	p.login(base, "agency", e.account("agency").Password)
	p.do(chromedp.WaitVisible(chromedp.CSS("#who")))
	p.do(
		chromedp.Navigate(base+"/console/agreements"),
		chromedp.WaitVisible(chromedp.CSS("#new-agreement")),
		chromedp.SetValue(chromedp.CSS("#agr-plan"), fmt.Sprint(f.plan.ID)),
		chromedp.SetValue(chromedp.CSS("#agr-selection"), fmt.Sprint(f.sel.ID)),
		chromedp.SetValue(chromedp.CSS("#agr-operator"), fmt.Sprint(e.account("op.ganshu").OrgID)),
		chromedp.SetValue(chromedp.CSS("#agr-title"), "企业信用数据授权运营协议"),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[data-code="%s"]`, f.res[0].Code))),
		chromedp.SetValue(chromedp.CSS("#agr-start"), today),
		chromedp.SetValue(chromedp.CSS("#agr-end"), dayOf(e.clock.Now().AddDate(2, 0, 0)).Format(time.DateOnly)),
		chromedp.SetValue(chromedp.CSS("#agr-security"), "在数据域内按策略使用"),
		chromedp.SetValue(chromedp.CSS("#agr-cap"), "50"),
		chromedp.SetValue(chromedp.CSS("#agr-cap-basis"), "赣发改价〔2026〕5号"),
		chromedp.SetValue(chromedp.CSS("#agr-return"), "成本加合理利润"),
		chromedp.SetValue(chromedp.CSS("#agr-assets"), "到期产品移交实施机构"),
		chromedp.SetValue(chromedp.CSS("#agr-exit"), "三十日内完成数据销毁"),
		chromedp.SetValue(chromedp.CSS("#agr-liability"), "违约依法担责"),
		chromedp.Click(chromedp.CSS("#agr-create")),
		chromedp.WaitVisible(chromedp.CSS("#agr-decide")),
		chromedp.SetValue(chromedp.CSS("#agr-decide .meeting"), "省大数据中心主任办公会"),
		chromedp.SetValue(chromedp.CSS("#agr-decide .decision-date"), today),
		chromedp.SetValue(chromedp.CSS("#agr-decide .minutes-ref"), "赣数纪〔2026〕3号"),
		chromedp.SetValue(chromedp.CSS("#agr-decide .rationale"), "同意签订"),
		chromedp.Click(chromedp.CSS(`button[data-step="decide"]`)),
		chromedp.WaitVisible(chromedp.CSS("#agr-sign")),
		chromedp.SetValue(chromedp.CSS("#signer"), "张主任"),
		chromedp.Click(chromedp.CSS(`button[data-step="sign"]`)),
		// The page before the post has the state too: wait for the step.
		chromedp.WaitVisible(chromedp.CSS(`#timeline li[data-step="sign"]`)),
	)
	var agreementURL string
	if _, err := chromedp.Run(p.ctx, chromedp.Location()); err == nil {
		agreementURL, _ = chromedp.Run(p.ctx, chromedp.Location())
	}
	p.login(base, "op.ganshu", e.account("op.ganshu").Password)
	p.do(chromedp.WaitVisible(chromedp.CSS("#who")))
	p.do(
		chromedp.Navigate(agreementURL),
		chromedp.WaitVisible(chromedp.CSS("#agr-sign")),
		chromedp.SetValue(chromedp.CSS("#signer"), "李总经理"),
		chromedp.Click(chromedp.CSS(`button[data-step="sign"]`)),
		chromedp.WaitVisible(chromedp.CSS("#form-error")),
	)
	if got := p.text("#form-error"); !strings.Contains(got, "确认") {
		t.Errorf("signing without the acknowledgements: %q", got)
	}
	p.do(
		chromedp.SetValue(chromedp.CSS("#signer"), "李总经理"),
		chromedp.Click(chromedp.CSS(`input.ack[value="R15.1"]`)),
		chromedp.Click(chromedp.CSS(`input.ack[value="R15.2"]`)),
		chromedp.Click(chromedp.CSS(`input.ack[value="R15.3"]`)),
		chromedp.Click(chromedp.CSS(`input.ack[value="R15.4"]`)),
		chromedp.Click(chromedp.CSS(`input.ack[value="R15.6"]`)),
		chromedp.Click(chromedp.CSS(`button[data-step="sign"]`)),
	)
	p.waitText("#agreement-state", "已签订") // after both signatures
	p.login(base, "agency", e.account("agency").Password)
	p.do(chromedp.WaitVisible(chromedp.CSS("#who")))
	p.do(
		chromedp.Navigate(agreementURL),
		chromedp.Click(chromedp.CSS(`button[data-step="activate"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-step="suspend"]`)),
	)
	if got := p.text("#agreement-state"); got != "履行中" {
		t.Fatalf("after activation: %q", got)
	}
	pub := e.api("GET", "/api/v1/disclosures", "", nil)
	if !strings.Contains(pub.body, "企业信用数据授权运营协议") {
		t.Errorf("not disclosed on activation: %s", pub.body)
	}
	// The operator is signed in elsewhere when the agency suspends.
	opc := e.client()
	opc.mustLogin("op.ganshu")
	p.do(
		chromedp.SetValue(chromedp.CSS("#suspend-reason"), "发现超范围使用数据"),
		chromedp.Click(chromedp.CSS(`button[data-step="suspend"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[data-step="resume"]`)),
	)
	if got := p.text("#agreement-state"); !strings.Contains(got, "已暂停") {
		t.Errorf("after suspension: %q", got)
	}
	if r := opc.get("/console"); r.status != http.StatusSeeOther {
		t.Errorf("operator's next page load: %d", r.status)
	}
}

// R5.2, R5.3: the negative list and shared-data consent reach the scope
// check and a plan's scope, each refusal naming its reason.
func TestExclusionsInScope(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	f := e.grantFixture()
	a := e.activeAgreement(f)
	op := e.account("op.ganshu").OrgID
	if err := e.app.Grant.Authorize(ctx, op, f.res[1].ID, "企业信用评估", e.clock.Now()); err != nil {
		t.Fatalf("before the negative list: %v", err)
	}
	// The government approves a negative-list entry for resource 1.
	n, err := e.app.Governance.RequestNegative(ctx, e.principal("dept.amr"), governance.NegativeRequest{ResourceID: f.res[1].ID, Basis: "《中华人民共和国数据安全法》第二十一条"})
	if err != nil {
		t.Fatal(err)
	}
	auth, gov := e.principal("authority"), e.principal("government")
	for _, s := range []governance.NegativeAction{{Step: governance.NLStepReview}, {Step: governance.NLStepSubmit}} {
		if _, err := e.app.Governance.AdvanceNegative(ctx, auth, n.ID, s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.app.Governance.AdvanceNegative(ctx, gov, n.ID, governance.NegativeAction{Step: governance.NLStepApprove,
		Decision: &governance.Decision{Meeting: "省政府常务会议", Date: dayOf(e.clock.Now()), Text: "同意列入", Ref: "赣府字〔2026〕18号"}}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	err = e.app.Grant.Authorize(ctx, op, f.res[1].ID, "企业信用评估", e.clock.Now())
	if err == nil || !strings.Contains(fmt.Sprint(err), "FMQD-") {
		t.Errorf("scope check after the negative list: %v", err)
	}
	if a.ID == 0 {
		t.Fatal("no agreement")
	}
	_, err = e.app.Grant.DraftPlan(ctx, auth, e.planForm("含负面清单资源的方案", f.res[1].ID))
	if e2, ok := apperr.As(err); !ok || e2.Key != "grant.resource_excluded" || !strings.Contains(e2.Args["reason"], "FMQD-") {
		t.Errorf("plan over a negative-listed resource: %v", err)
	}
	// Shared data without consent is out, with the provider named; once
	// consent is recorded a plan may cover it.
	shared := e.sharedResource()
	_, err = e.app.Grant.DraftPlan(ctx, auth, e.planForm("含共享数据的方案", shared.ID))
	if e2, ok := apperr.As(err); !ok || e2.Key != "grant.resource_excluded" || !strings.Contains(e2.Args["reason"], "国家市场监督管理总局") {
		t.Errorf("plan over unconsented shared data: %v", err)
	}
	e.consent(shared)
	if _, err := e.app.Grant.DraftPlan(ctx, auth, e.planForm("含共享数据的方案", shared.ID)); err != nil {
		t.Errorf("after consent: %v", err)
	}
}
