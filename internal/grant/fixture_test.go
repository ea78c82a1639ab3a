package grant_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/grant"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/region"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/workday"
)

// Resources of the fixture's registry.
const (
	resGeneral   int64 = 1 // 南昌, general-3
	resImportant int64 = 2 // 南昌, important
	resCore      int64 = 3 // 南昌, core
	resDraft     int64 = 4 // 南昌, not registered
	resGanzhou   int64 = 5 // 赣州, general-2
	resProvince  int64 = 6 // 省级, general-3
	resExtra     int64 = 7 // 南昌, general-2, not in the plans
)

type fakeResources struct{ byID map[int64]grant.ResourceFacts }

func (r fakeResources) Resource(_ context.Context, id int64) (grant.ResourceFacts, error) {
	f, ok := r.byID[id]
	if !ok {
		return grant.ResourceFacts{}, apperr.New(apperr.NotFound, "registry.not_found")
	}
	return f, nil
}

type fakeExclusions struct {
	mu  sync.Mutex
	why map[int64]string
}

func (x *fakeExclusions) Excluded(_ context.Context, id int64, _ time.Time) (string, bool, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	w, ok := x.why[id]
	return w, ok, nil
}

func (x *fakeExclusions) set(id int64, why string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.why[id] = why
}

func (x *fakeExclusions) unset(id int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.why, id)
}

type revocation struct{ operator, agreement int64 }

type fakeRevoker struct {
	mu    sync.Mutex
	calls []revocation
}

func (r *fakeRevoker) RevokeAgreement(ctx context.Context, tx *store.Tx, operator, agreement int64) error {
	// The revocation runs in the state change's transaction.
	var state string
	if err := tx.QueryRow(ctx, "SELECT state FROM grant_agreements WHERE id = ?", agreement).Scan(&state); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, revocation{operator, agreement})
	return nil
}

func (r *fakeRevoker) count(agreement int64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if c.agreement == agreement {
			n++
		}
	}
	return n
}

type fixture struct {
	t   *testing.T
	ctx context.Context
	db  *store.DB
	log *audit.Log
	ids *identity.Service
	svc *grant.Service
	ex  *fakeExclusions
	rev *fakeRevoker

	mu  sync.Mutex
	now time.Time

	provAuthority, provAgency      identity.Principal
	ncAuthority, ncGov, ncAgency   identity.Principal
	gzAuthority, department, admin identity.Principal
	operatorN                      int
}

// base is the day the measures came into force, 09:00 in Beijing.
var base = time.Date(2025, 12, 15, 1, 0, 0, 0, time.UTC)

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) at(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = t
}

// day sets the clock to 10:00 Beijing time of a date.
func (f *fixture) day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		f.t.Fatal(err)
	}
	t := d.Add(2 * time.Hour)
	f.at(t)
	return t
}

func setup(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), db: db, now: base}
	f.log = audit.New(db, f.clock)
	f.ids = identity.NewService(db, f.log, region.Default(), f.clock, identity.Options{})
	org := func(in identity.OrgInput) identity.Org {
		o, err := f.ids.CreateOrgAsSystem(f.ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	who := func(id int64, o identity.Org, r identity.Role) identity.Principal {
		return identity.Principal{UserID: id, Login: fmt.Sprintf("%s%d", r, id), OrgID: o.ID, OrgType: o.Type, Region: o.Region, Roles: []identity.Role{r}}
	}
	prov := org(identity.OrgInput{Type: identity.OrgAuthority, Name: "江西省数据局", Region: "360000"})
	provAg := org(identity.OrgInput{Type: identity.OrgAgency, Name: "江西省大数据中心", Region: "360000"})
	nc := org(identity.OrgInput{Type: identity.OrgAuthority, Name: "南昌市数据局", Region: "360100"})
	ncGov := org(identity.OrgInput{Type: identity.OrgGovernment, Name: "南昌市人民政府", Region: "360100"})
	ncAg := org(identity.OrgInput{Type: identity.OrgAgency, Name: "南昌市大数据中心", Region: "360100"})
	gz := org(identity.OrgInput{Type: identity.OrgAuthority, Name: "赣州市数据局", Region: "360700"})
	dept := org(identity.OrgInput{Type: identity.OrgDepartment, Name: "南昌市人力资源和社会保障局", Region: "360100"})
	f.provAuthority, f.provAgency = who(1, prov, identity.RoleAuthority), who(2, provAg, identity.RoleAgency)
	f.admin = who(9, provAg, identity.RoleAdmin)
	f.ncAuthority, f.ncGov, f.ncAgency = who(3, nc, identity.RoleAuthority), who(4, ncGov, identity.RoleGovernment), who(5, ncAg, identity.RoleAgency)
	f.gzAuthority, f.department = who(6, gz, identity.RoleAuthority), who(7, dept, identity.RoleDepartment)
	res := fakeResources{byID: map[int64]grant.ResourceFacts{}}
	add := func(id int64, code, name, grade, reg string, registered bool) {
		res.byID[id] = grant.ResourceFacts{ID: id, Code: code, Name: name, Grade: grade, Region: reg, HolderOrgID: dept.ID,
			Status: map[bool]string{true: "registered", false: "submitted"}[registered], Registered: registered}
	}
	add(resGeneral, "1360100202500001", "社会保险参保缴费信息", "general-3", "360100", true)
	add(resImportant, "1360100202500002", "企业登记信息", "important", "360100", true)
	add(resCore, "1360100202500003", "城市供水管网拓扑", "core", "360100", true)
	add(resDraft, "1360100202500004", "公共交通刷卡记录", "general-2", "360100", false)
	add(resGanzhou, "1360700202500001", "赣州气象观测数据", "general-2", "360700", true)
	add(resProvince, "1360000202500001", "全省法人库", "general-3", "360000", true)
	add(resExtra, "1360100202500005", "南昌市停车场泊位信息", "general-2", "360100", true)
	f.ex = &fakeExclusions{why: map[int64]string{}}
	f.rev = &fakeRevoker{}
	f.svc = grant.New(db, f.log, region.Default(), workday.Default(), f.clock, res, f.ex, f.rev, nil, grant.Options{})
	return f
}

// operator registers a new operator organisation and returns its user.
func (f *fixture) operator() identity.Principal {
	f.t.Helper()
	f.operatorN++
	n := f.operatorN
	o, err := f.ids.CreateOrgAsSystem(f.ctx, identity.OrgInput{Type: identity.OrgOperator, Name: fmt.Sprintf("江西数智运营有限公司%d", n),
		Region: "360100", CreditCode: identity.MakeCreditCode('9', '1', "360100", fmt.Sprintf("MA%06d", n))})
	if err != nil {
		f.t.Fatal(err)
	}
	return identity.Principal{UserID: 100 + int64(n), Login: fmt.Sprintf("op%d", n), OrgID: o.ID, OrgType: o.Type, Region: o.Region,
		Roles: []identity.Role{identity.RoleOperator}}
}

func must[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func date(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func (f *fixture) planForm(ids ...int64) grant.PlanForm {
	if len(ids) == 0 {
		ids = []int64{resGeneral, resImportant}
	}
	return grant.PlanForm{
		Title: "南昌市公共数据资源授权运营实施方案", Mode: grant.ModeScenario, ResourceIDs: ids,
		Scenarios: []string{"普惠金融", "人力资源服务"}, TermStart: date("2026-01-01"), TermEnd: date("2030-12-31"),
		Necessity:          "释放公共数据要素价值，支撑普惠金融和人力资源服务场景。",
		OperatorConditions: "具备数据开发运营能力的法人，信用良好，符合数据安全要求。",
		SelectionMethod:    grant.OpenTender, SecurityRequirements: "原始数据不出域，数据可用不可见。",
		ExitArrangements: "协议终止后返还或销毁数据，完成移交。",
	}
}

func (f *fixture) decision(d time.Time) grant.Decision {
	return grant.Decision{Meeting: "南昌市人民政府第12次常务会议", Date: d, Outcome: grant.Approved,
		MinutesRef: "洪府纪〔2025〕12号", Rationale: "方案符合管理办法，风险可控，同意实施。"}
}

// planIn returns a fresh Nanchang plan in the given state.
func (f *fixture) planIn(state grant.PlanState) grant.Plan {
	f.t.Helper()
	m := must[grant.Plan](f.t)
	f.at(base)
	pl := m(f.svc.DraftPlan(f.ctx, f.ncAgency, f.planForm()))
	if state == grant.PlanDraft {
		return pl
	}
	pl = m(f.svc.SubmitPlan(f.ctx, f.ncAuthority, pl.ID))
	if state == grant.PlanSubmitted {
		return pl
	}
	d := f.decision(grant.Day(f.clock()))
	if state == grant.PlanRejected {
		d.Outcome = grant.Rejected
	}
	pl = m(f.svc.DecidePlan(f.ctx, f.ncGov, pl.ID, d))
	if state != grant.PlanSuperseded {
		return pl
	}
	v2 := m(f.svc.RevisePlan(f.ctx, f.ncAuthority, pl.ID, f.planForm(resGeneral), "缩小授权范围"))
	v2 = m(f.svc.SubmitPlan(f.ctx, f.ncAuthority, v2.ID))
	m(f.svc.DecidePlan(f.ctx, f.ncGov, v2.ID, f.decision(grant.Day(f.clock()))))
	return m(f.svc.Plan(f.ctx, f.ncAuthority, pl.ID))
}

// selected runs a selection under the plan that chooses op.
func (f *fixture) selected(pl grant.Plan, op identity.Principal) grant.Selection {
	f.t.Helper()
	m := must[grant.Selection](f.t)
	sel := m(f.svc.OpenSelection(f.ctx, f.ncAgency, pl.ID, grant.SelectionForm{Title: "运营机构公开招标", Method: grant.OpenTender, NoticeRef: "JXNC-2025-001"}))
	sel = m(f.svc.AddCandidate(f.ctx, f.ncAgency, sel.ID, op.OrgID))
	for _, q := range grant.Qualifications {
		sel = m(f.svc.CheckQualification(f.ctx, f.ncAgency, sel.ID, op.OrgID, grant.Check{Item: q, Met: true, Evidence: "证明材料-" + string(q)}))
	}
	sel = m(f.svc.Evaluate(f.ctx, f.ncAgency, sel.ID, op.OrgID, 92, "综合评审第一名"))
	return m(f.svc.ConcludeSelection(f.ctx, f.ncAgency, sel.ID, op.OrgID, "中标"))
}

func (f *fixture) agreementForm(pl grant.Plan, sel grant.Selection, op identity.Principal) grant.AgreementForm {
	return grant.AgreementForm{
		PlanID: pl.ID, SelectionID: sel.ID, OperatorOrgID: op.OrgID, Title: "南昌市公共数据授权运营协议（普惠金融）",
		ResourceIDs: []int64{resGeneral}, Purposes: []string{"普惠金融"},
		TermStart: date("2026-01-01"), TermEnd: date("2028-12-31"),
		SecurityRequirements: "遵守数据安全管理制度，定期开展风险评估。",
		Pricing: grant.Pricing{PublicInterestFree: true, Caps: []grant.FeeCap{{Unit: grant.PerCall, CapFen: 50, Basis: "洪发改价〔2025〕8号"}},
			Fees: []grant.Fee{{Unit: grant.PerCall, PriceFen: 30}}},
		Return:        grant.Return{Method: "成本加合理利润", CostBasisFen: 100000000, RateBasisPoints: 800},
		AssetHandling: "到期后数据资产归授权主体。", ExitHandover: "终止后30日内完成移交。", Liability: "违约承担赔偿责任。",
	}
}

// agreementIn returns an agreement of a new operator in the given state,
// with the operator. States past signed move the clock into the term.
func (f *fixture) agreementIn(state grant.AgreementState) (grant.Agreement, identity.Principal) {
	f.t.Helper()
	m := must[grant.Agreement](f.t)
	op := f.operator()
	pl := f.planIn(grant.PlanDecided)
	sel := f.selected(pl, op)
	a := m(f.svc.DraftAgreement(f.ctx, f.ncAgency, f.agreementForm(pl, sel, op)))
	if state == grant.AgreementDraft {
		return a, op
	}
	a = m(f.svc.DecideAgreement(f.ctx, f.ncAgency, a.ID, f.agencyDecision()))
	if state == grant.AgreementDecided {
		return a, op
	}
	m(f.svc.SignAgreement(f.ctx, f.ncAgency, a.ID, "张主任", nil))
	a = m(f.svc.SignAgreement(f.ctx, op, a.ID, "李总经理", grant.Prohibitions))
	if state == grant.AgreementSigned {
		return a, op
	}
	f.day("2026-01-05")
	a = m(f.svc.ActivateAgreement(f.ctx, f.ncAgency, a.ID))
	switch state {
	case grant.AgreementSuspended:
		a = m(f.svc.SuspendAgreement(f.ctx, f.ncAgency, a.ID, "数据安全检查发现违规"))
	case grant.AgreementTerminated:
		a = m(f.svc.TerminateAgreement(f.ctx, f.ncAgency, a.ID, "严重违约，提前终止"))
	case grant.AgreementExpired:
		f.day("2029-01-02")
		if _, err := f.svc.Sweep(f.ctx, f.clock()); err != nil {
			f.t.Fatal(err)
		}
		a = m(f.svc.Agreement(f.ctx, f.ncAgency, a.ID))
	}
	return a, op
}

func (f *fixture) agencyDecision() grant.Decision {
	d := f.decision(grant.Day(f.clock()))
	d.Meeting, d.MinutesRef = "南昌市大数据中心党委会", "洪数中纪〔2025〕3号"
	return d
}

// keyOf returns the message key of an apperr error ("" for nil).
func keyOf(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := apperr.As(err); ok {
		return e.Key
	}
	return "internal: " + err.Error()
}

// lastEntry is the newest audit entry.
func (f *fixture) lastEntry() audit.Entry {
	f.t.Helper()
	es, err := f.log.List(f.ctx, audit.Filter{Limit: 1})
	if err != nil || len(es) == 0 {
		f.t.Fatal("no audit entry", err)
	}
	return es[0]
}

func asApp(err error) (apperr.Error, bool) {
	if e, ok := apperr.As(err); ok {
		return *e, true
	}
	return apperr.Error{}, false
}

func id64(n int64) string { return strconv.FormatInt(n, 10) }
