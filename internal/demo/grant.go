package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/gongshu/gongshu/internal/governance"
	"github.com/gongshu/gongshu/internal/grant"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/policy"
	"github.com/gongshu/gongshu/internal/sandbox"
)

// SeedGrant gives the demo an authorization to look at: a decided
// provincial plan over resources of four departments, a concluded
// selection, an active agreement with 江西赣数科技 (op.ganshu), a Nanchang
// plan whose filing with the province is counting down, a public objection
// awaiting its department, and a negative-list request under review.
// resources maps registered resource names to their IDs (SeedRegistry).
func SeedGrant(ctx context.Context, g *grant.Service, gov *governance.Service, ids *identity.Service, creds Credentials,
	resources map[string]int64, now time.Time) (agreementID int64, err error) {
	who := func(login string) (identity.Principal, error) {
		for _, a := range creds.Accounts {
			if a.Login == login {
				return ids.AuthenticateToken(ctx, a.Token)
			}
		}
		return identity.Principal{}, fmt.Errorf("demo: no account %s", login)
	}
	ps := map[string]identity.Principal{}
	for _, l := range []string{"authority", "government", "agency", "op.ganshu", "nc.authority", "dept.nr"} {
		p, err := who(l)
		if err != nil {
			return 0, err
		}
		ps[l] = p
	}
	pick := func(names ...string) ([]int64, error) {
		var out []int64
		for _, n := range names {
			id, ok := resources[n]
			if !ok {
				return nil, fmt.Errorf("demo: resource %s is not registered", n)
			}
			out = append(out, id)
		}
		return out, nil
	}
	day := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }
	today := day(now.In(time.FixedZone("CST", 8*3600)))
	scope, err := pick("企业登记信息", "纳税信用等级评价结果", "社会保险参保缴费信息", "企业用电量信息")
	if err != nil {
		return 0, err
	}
	form := grant.PlanForm{Title: "江西省企业信用数据授权运营实施方案", Mode: grant.ModeDomain, ResourceIDs: scope, Domains: []string{"market", "tax"},
		TermStart: today, TermEnd: today.AddDate(3, 0, 0),
		Necessity:          "以企业登记、纳税、社保和用电数据支撑普惠金融和营商环境评价，破解中小微企业融资难。",
		OperatorConditions: "注册于本省，具备数据安全管理体系认证和三年以上数据服务经验。", SelectionMethod: grant.OpenTender,
		SecurityRequirements: "原始数据不出域、数据可用不可见；查询经策略审查，输出经审核；全程审计。",
		ExitArrangements:     "协议终止后三十日内销毁授权数据及衍生数据，移交工作记录和产品。"}
	decision := grant.Decision{Meeting: "江西省人民政府第12次常务会议", Date: today, Outcome: grant.Approved,
		MinutesRef: "赣府常纪〔2026〕12号", Rationale: "会议认为方案符合《办法》要求，风险可控，同意实施。"}
	pl, err := g.DraftPlan(ctx, ps["authority"], form)
	if err != nil {
		return 0, fmt.Errorf("demo plan: %w", err)
	}
	if _, err = g.SubmitPlan(ctx, ps["authority"], pl.ID); err != nil {
		return 0, fmt.Errorf("demo plan: %w", err)
	}
	if pl, err = g.DecidePlan(ctx, ps["government"], pl.ID, decision); err != nil {
		return 0, fmt.Errorf("demo plan: %w", err)
	}
	agency := ps["agency"]
	sel, err := g.OpenSelection(ctx, agency, pl.ID, grant.SelectionForm{Title: "企业信用数据授权运营机构公开招标", Method: grant.OpenTender, NoticeRef: "JXZB-2026-0117"})
	if err != nil {
		return 0, fmt.Errorf("demo selection: %w", err)
	}
	op := ps["op.ganshu"]
	if _, err := g.AddCandidate(ctx, agency, sel.ID, op.OrgID); err != nil {
		return 0, fmt.Errorf("demo selection: %w", err)
	}
	for _, q := range grant.Qualifications {
		if _, err := g.CheckQualification(ctx, agency, sel.ID, op.OrgID, grant.Check{Item: q, Met: true, Evidence: "投标文件第" + string(q) + "章"}); err != nil {
			return 0, fmt.Errorf("demo selection: %w", err)
		}
	}
	if _, err := g.Evaluate(ctx, agency, sel.ID, op.OrgID, 91, "技术方案完整，安全体系健全"); err != nil {
		return 0, fmt.Errorf("demo selection: %w", err)
	}
	if _, err := g.ConcludeSelection(ctx, agency, sel.ID, op.OrgID, "综合评分第一，确定为运营机构"); err != nil {
		return 0, fmt.Errorf("demo selection: %w", err)
	}
	a, err := g.DraftAgreement(ctx, agency, grant.AgreementForm{PlanID: pl.ID, SelectionID: sel.ID, OperatorOrgID: op.OrgID,
		Title: "江西省企业信用数据授权运营协议", ResourceIDs: scope, TermStart: today, TermEnd: today.AddDate(2, 0, 0),
		SecurityRequirements: "在数据域内按策略使用数据，结果经审核后导出；发现融合风险立即停止并报告。",
		Pricing: grant.Pricing{PublicInterestFree: true, Caps: []grant.FeeCap{{Unit: grant.PerCall, CapFen: 50, Basis: "赣发改价格〔2026〕5号"},
			{Unit: grant.PerItem, CapFen: 2, Basis: "赣发改价格〔2026〕5号"}}},
		Return:        grant.Return{Method: "成本加成（成本基数 × 合理收益率）", CostBasisFen: 180000000, RateBasisPoints: 800},
		AssetHandling: "到期后数据产品和模型的权属按协议移交实施机构。", ExitHandover: "终止后三十日内完成数据销毁、账号关闭和记录移交。",
		Liability: "违反协议或禁止性规定的，实施机构可暂停或终止授权，并依法追究责任。"})
	if err != nil {
		return 0, fmt.Errorf("demo agreement: %w", err)
	}
	steps := []func() (grant.Agreement, error){
		func() (grant.Agreement, error) {
			d := decision
			d.Meeting, d.MinutesRef = "江西省大数据中心主任办公会", "赣数纪〔2026〕3号"
			return g.DecideAgreement(ctx, agency, a.ID, d)
		},
		func() (grant.Agreement, error) {
			return g.SignAgreement(ctx, agency, a.ID, "省大数据中心 王主任", nil)
		},
		func() (grant.Agreement, error) {
			return g.SignAgreement(ctx, op, a.ID, "江西赣数科技 李总经理", grant.Prohibitions)
		},
		func() (grant.Agreement, error) { return g.ActivateAgreement(ctx, agency, a.ID) },
	}
	for _, st := range steps {
		if _, err := st(); err != nil {
			return 0, fmt.Errorf("demo agreement: %w", err)
		}
	}
	// A Nanchang plan over the city's power data, decided and not yet
	// filed: the countdown shows in both consoles.
	city, err := pick("企业用电量信息")
	if err != nil {
		return 0, err
	}
	cf := form
	cf.Title, cf.Mode, cf.Domains, cf.ResourceIDs = "南昌市企业用电数据依场景授权实施方案", grant.ModeScenario, nil, city
	cf.Scenarios = []string{"企业经营活跃度监测", "绿色金融评价"}
	cp, err := g.DraftPlan(ctx, ps["nc.authority"], cf)
	if err != nil {
		return 0, fmt.Errorf("demo city plan: %w", err)
	}
	if _, err = g.SubmitPlan(ctx, ps["nc.authority"], cp.ID); err != nil {
		return 0, fmt.Errorf("demo city plan: %w", err)
	}
	cd := decision
	cd.Meeting, cd.MinutesRef = "南昌市人民政府第8次常务会议", "洪府常纪〔2026〕8号"
	if _, err = g.DecidePlan(ctx, ps["nc.authority"], cp.ID, cd); err != nil {
		return 0, fmt.Errorf("demo city plan: %w", err)
	}
	// Supply governance: a public objection and a negative-list request.
	ent, _ := pick("企业登记信息")
	if _, err := gov.Raise(ctx, identity.Principal{}, governance.RaiseInput{Kind: governance.Objection, ResourceID: ent[0],
		Description: "我公司已于上月完成住所变更登记，目录中的住所仍为旧地址，请核实更正。", Contact: "13970012345"}, "127.0.0.1"); err != nil {
		return 0, fmt.Errorf("demo objection: %w", err)
	}
	estate, err := pick("不动产交易登记信息")
	if err != nil {
		return 0, err
	}
	if _, err := gov.RequestNegative(ctx, ps["dept.nr"], governance.NegativeRequest{ResourceID: estate[0],
		Basis: "成交价格与权利人信息结合可识别个人财产状况，依据《中华人民共和国个人信息保护法》第二十八条暂不纳入授权运营。"}); err != nil {
		return 0, fmt.Errorf("demo negative list: %w", err)
	}
	return a.ID, nil
}

// SeedWorkspace opens the first demo operator's workspace named "demo" on
// the agreement SeedGrant made: resources of four departments in scope.
func SeedWorkspace(ctx context.Context, sbx *sandbox.Service, ids *identity.Service, creds Credentials, agreementID int64) error {
	for _, a := range creds.Accounts {
		if a.Login != "op.ganshu" {
			continue
		}
		p, err := ids.AuthenticateToken(ctx, a.Token)
		if err != nil {
			return err
		}
		ws, err := sbx.CreateWorkspace(ctx, p, agreementID, "demo", "企业经营活跃度指数与普惠金融授信评估")
		if err != nil {
			return fmt.Errorf("demo workspace: %w", err)
		}
		return seedPersonPolicy(ctx, sbx, ids, creds, p, ws.ID)
	}
	return fmt.Errorf("demo: no account op.ganshu")
}

// personBounds clamp one person's monthly amounts in the social-insurance
// resource (yuan): the agency's bounds for its sums and averages under
// differential privacy, the default rule for data on natural persons.
var personBounds = map[string][2]int64{
	"base": {0, 40000}, "pension_unit": {0, 8000}, "pension_person": {0, 4000}, "medical_unit": {0, 4000},
	"medical_person": {0, 1000}, "unemployment_unit": {0, 500}, "unemployment_person": {0, 500}, "injury_unit": {0, 1000},
}

// seedPersonPolicy has the agency put the person-level resource of the
// demo workspace under differential privacy with clamping bounds, so that
// sums and averages of contribution bases can be released with noise.
func seedPersonPolicy(ctx context.Context, sbx *sandbox.Service, ids *identity.Service, creds Credentials, op identity.Principal, workspaceID int64) error {
	ws, err := sbx.Workspace(ctx, op, workspaceID)
	if err != nil {
		return fmt.Errorf("demo workspace: %w", err)
	}
	var agency identity.Principal
	for _, a := range creds.Accounts {
		if a.Login == "agency" {
			if agency, err = ids.AuthenticateToken(ctx, a.Token); err != nil {
				return err
			}
		}
	}
	for _, r := range ws.Resources {
		if r.Name != "社会保险参保缴费信息" {
			continue
		}
		// Keyed by column name: the data may still be loading.
		rp := sandbox.ResourcePolicy{Rule: policy.RuleDP, Columns: map[string]sandbox.ColumnPolicy{}}
		for c, b := range personBounds {
			rp.Columns[c] = sandbox.ColumnPolicy{Role: policy.Aggregate, Lower: b[0], Upper: b[1]}
		}
		if err := sbx.SetPolicy(ctx, agency, r.ID, rp); err != nil {
			return fmt.Errorf("demo policy of %s: %w", r.Name, err)
		}
	}
	return nil
}
