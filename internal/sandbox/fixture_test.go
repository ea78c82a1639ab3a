package sandbox_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/engine"
	"github.com/gongshu/gongshu/internal/grant"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/pii"
	"github.com/gongshu/gongshu/internal/policy"
	"github.com/gongshu/gongshu/internal/region"
	"github.com/gongshu/gongshu/internal/sandbox"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/store/storetest"
	"github.com/gongshu/gongshu/internal/supply"
	"github.com/gongshu/gongshu/internal/workday"
)

type resources struct{ byID map[int64]grant.ResourceFacts }

func (r resources) Resource(_ context.Context, id int64) (grant.ResourceFacts, error) {
	f, ok := r.byID[id]
	if !ok {
		return grant.ResourceFacts{}, apperr.New(apperr.NotFound, "registry.not_found")
	}
	return f, nil
}

// fakeSupply holds what supply would know of the loaded versions.
type fakeSupply struct {
	versions map[int64]supply.Version
	tags     map[int64][]supply.ColumnTag
	units    map[int64]string
}

func (f *fakeSupply) Latest(_ context.Context, id int64) (supply.Version, error) {
	v, ok := f.versions[id]
	if !ok {
		return supply.Version{}, apperr.New(apperr.NotFound, "supply.no_version")
	}
	return v, nil
}
func (f *fakeSupply) Tags(_ context.Context, id int64) ([]supply.ColumnTag, error) {
	return f.tags[id], nil
}
func (f *fakeSupply) PrivacyUnit(_ context.Context, id int64) (string, error) {
	return f.units[id], nil
}
func (f *fakeSupply) Profiles(_ context.Context, _ int64) ([]supply.ColumnProfile, error) {
	return []supply.ColumnProfile{{Name: "district", Top: []supply.ValueCount{{Value: "360102", Count: 500}, {Value: "360999", Count: 2}}}}, nil
}

// tableSpec is one resource of the test world, shaped like the catalog of
// internal/policy's tests.
type tableSpec struct {
	id     int64
	alias  string
	grade  string
	dept   int
	unit   string
	policy sandbox.ResourcePolicy
	tags   map[string]string // column → tag/detector
}

const (
	resSocial   int64 = 1
	resEnt      int64 = 2
	resTax      int64 = 3
	resDistrict int64 = 4
	resMedical  int64 = 5
	resSlow     int64 = 6
)

func specs() []tableSpec {
	c := func(r policy.Role, aggs ...string) sandbox.ColumnPolicy {
		return sandbox.ColumnPolicy{Role: r, Aggregates: aggs}
	}
	return []tableSpec{
		{id: resSocial, alias: "social_insurance", grade: "general-2", dept: 0, unit: "person_id",
			policy: sandbox.ResourcePolicy{Alias: "social_insurance", K: 10, Rule: policy.RuleAggregation,
				ThresholdException: "测试数据：验证阈值规则的查询改写", Columns: map[string]sandbox.ColumnPolicy{
					"person_id": c(policy.Filter), "insured_status": c(policy.Filter), "employer_code": c(policy.Join),
					"amount": c(policy.Aggregate, "count", "sum", "avg", "stddev", "max")}},
			tags: map[string]string{"person_id": "direct_identifier/resident_id", "name": "direct_identifier/person_name",
				"phone": "direct_identifier/mobile", "district": "quasi_identifier/address", "gender": "quasi_identifier/gender",
				"birth_year": "quasi_identifier/birth_date", "amount": "sensitive/sensitive_name"}},
		{id: resEnt, alias: "enterprise", grade: "general-1", dept: 1, unit: "credit_code",
			policy: sandbox.ResourcePolicy{Alias: "enterprise", K: 5, Columns: map[string]sandbox.ColumnPolicy{
				"ent_name": c(policy.Hidden), "registered_capital": c(policy.Aggregate, "count", "sum", "avg"),
				"district": c(policy.Group), "industry": c(policy.Group), "status": c(policy.Group), "founding_date": c(policy.Group)}},
			tags: map[string]string{"credit_code": "direct_identifier/credit_code", "legal_rep": "direct_identifier/person_name",
				"district": "quasi_identifier/address"}},
		{id: resTax, alias: "tax_grade", grade: "general-1", dept: 2, unit: "credit_code",
			policy: sandbox.ResourcePolicy{Alias: "tax_grade", K: 5, Columns: map[string]sandbox.ColumnPolicy{
				"grade": c(policy.Group), "year": c(policy.Group)}},
			tags: map[string]string{"credit_code": "direct_identifier/credit_code"}},
		{id: resDistrict, alias: "district_info", grade: "general-1", dept: 3,
			policy: sandbox.ResourcePolicy{Alias: "district_info", Rule: policy.RuleList, RowCap: 200, Columns: map[string]sandbox.ColumnPolicy{
				"category": c(policy.Group)}}},
		{id: resMedical, alias: "medical_visits", grade: "general-2", dept: 4, unit: "person_id",
			policy: sandbox.ResourcePolicy{Alias: "medical_visits", Rule: policy.RuleDP, MaxGroupsPerUnit: 3, MaxRowsPerGroup: 2,
				Columns: map[string]sandbox.ColumnPolicy{"person_id": c(policy.Filter),
					"cost": {Role: policy.Aggregate, Lower: 0, Upper: 5000}}},
			tags: map[string]string{"person_id": "direct_identifier/resident_id", "cost": "sensitive/sensitive_name"}},
		{id: resSlow, alias: "slow_events", grade: "general-2", dept: 4, unit: "u",
			policy: sandbox.ResourcePolicy{Alias: "slow_events", Columns: map[string]sandbox.ColumnPolicy{"k": c(policy.Join)}}},
	}
}

// world is the generated data, also kept for the invariant checks.
type world struct {
	csv       map[int64]string
	protected map[string]bool // raw values of protected identifier columns
}

func genWorld(slowRows int) world {
	rng := rand.New(rand.NewPCG(7, 11))
	w := world{csv: map[int64]string{}, protected: map[string]bool{}}
	districts := []string{"360102", "360103", "360104", "360105", "360111", "360112", "360113", "360121", "360123", "360124"}
	industries := []string{"A", "C", "E", "F", "G", "H", "I", "K"}
	grades := []string{"A", "B", "C", "D", "M"}
	surnames := []rune("王李张刘陈杨黄赵吴周")
	given := []rune("伟芳娜敏静丽强磊军洋")
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	var b strings.Builder
	// enterprises
	ents := make([]string, 1500)
	b.WriteString("credit_code,ent_name,legal_rep,district,industry,status,founding_date,registered_capital\n")
	for i := range ents {
		ents[i] = identity.MakeCreditCode('9', '1', "360100", fmt.Sprintf("MA%06d", i+1))
		rep := string(surnames[rng.IntN(10)]) + string(given[rng.IntN(10)]) + string(given[rng.IntN(10)])
		name := fmt.Sprintf("南昌%s科技有限公司%d", string(given[rng.IntN(10)]), i)
		w.protected[ents[i]], w.protected[rep], w.protected[name] = true, true, true
		status := "open"
		if rng.IntN(10) == 0 {
			status = "closed"
		}
		fd := time.Date(2005+rng.IntN(20), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), 0, 0, 0, 0, time.UTC)
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s,%s,%d\n", ents[i], name, rep, pick(districts), pick(industries), status, fd.Format(time.DateOnly), 10000*(1+rng.IntN(500)))
	}
	w.csv[resEnt] = b.String()
	b.Reset()
	b.WriteString("credit_code,grade,year\n")
	for _, e := range ents {
		for _, y := range []int{2023, 2024} {
			fmt.Fprintf(&b, "%s,%s,%d\n", e, pick(grades), y)
		}
	}
	w.csv[resTax] = b.String()
	b.Reset()
	b.WriteString("person_id,name,phone,insured_status,district,industry,gender,birth_year,month,employer_code,amount\n")
	for i := 0; i < 3000; i++ {
		first := fmt.Sprintf("%s%d%04d%03d", pick(districts), 1950+rng.IntN(55), 101+rng.IntN(12)*100+rng.IntN(28), rng.IntN(1000))
		first = first[:17]
		pid := first + string(pii.ResidentCheckDigit(first))
		name := string(surnames[rng.IntN(10)]) + string(given[rng.IntN(10)])
		phone := fmt.Sprintf("138%08d", rng.IntN(100000000))
		w.protected[pid], w.protected[phone] = true, true
		d, ind, g := pick(districts), pick(industries), []string{"F", "M"}[rng.IntN(2)]
		by := 1955 + rng.IntN(50)
		emp := ents[rng.IntN(len(ents))]
		st := "active"
		if rng.IntN(8) == 0 {
			st = "stopped"
		}
		for m := 0; m < 1+rng.IntN(6); m++ {
			month := fmt.Sprintf("%d-%02d", 2024+rng.IntN(2), 1+rng.IntN(12))
			fmt.Fprintf(&b, "%s,%s,%s,%s,%s,%s,%s,%d,%s,%s,%d\n", pid, name, phone, st, d, ind, g, by, month, emp, 300+rng.IntN(3000))
		}
	}
	w.csv[resSocial] = b.String()
	b.Reset()
	b.WriteString("district,district_name,population,category\n")
	for i, d := range districts {
		fmt.Fprintf(&b, "%s,区县%d,%d,%s\n", d, i, 50000+rng.IntN(900000), []string{"urban", "rural"}[i%2])
	}
	w.csv[resDistrict] = b.String()
	b.Reset()
	b.WriteString("person_id,district,visit_month,cost\n")
	for i := 0; i < 4000; i++ {
		fmt.Fprintf(&b, "P%05d,%s,2025-%02d,%d\n", rng.IntN(1500), pick(districts), 1+rng.IntN(6), rng.IntN(6000))
	}
	w.csv[resMedical] = b.String()
	b.Reset()
	b.WriteString("u,k\n")
	for i := 0; i < slowRows; i++ {
		fmt.Fprintf(&b, "U%d,1\n", i)
	}
	w.csv[resSlow] = b.String()
	return w
}

type fixture struct {
	t     testing.TB
	ctx   context.Context
	db    *store.DB
	log   *audit.Log
	ids   *identity.Service
	grant *grant.Service
	eng   *engine.Engine
	svc   *sandbox.Service
	// exact is the same service counting distinct units on every query.
	exact *sandbox.Service
	world world
	// direct runs the tests' own queries straight on the engine (see
	// directRunner).
	direct *engine.Runner

	mu  sync.Mutex
	now time.Time

	ncAuthority, ncGov, ncAgency, op identity.Principal
	agreement                        grant.Agreement
	ws                               sandbox.Workspace
}

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

func must[T any](t testing.TB) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func date(s string) time.Time {
	d, _ := time.Parse(time.DateOnly, s)
	return d
}

// extraTable is a resource a test adds to the world: its spec, its CSV
// and the columns kept as text.
type extraTable struct {
	spec  tableSpec
	csv   string
	types map[string]string
}

// eachSetup runs fn on SQLite + DuckDB, and on PostgreSQL for both planes
// when GONGSHU_TEST_POSTGRES is set.
func eachSetup(t *testing.T, opt sandbox.Options, fn func(t *testing.T, f *fixture)) {
	eachSetupWith(t, opt, nil, fn)
}

// eachSetupWith is eachSetup with extra tables in the world.
func eachSetupWith(t *testing.T, opt sandbox.Options, extra []extraTable, fn func(t *testing.T, f *fixture)) {
	t.Run("duckdb", func(t *testing.T) { fn(t, setupWith(t, storetest.SQLite(t), "", opt, extra)) })
	if os.Getenv(storetest.EnvPostgres) == "" {
		return
	}
	t.Run("postgres", func(t *testing.T) {
		u := storetest.PostgresURL(t)
		db, err := store.Open(context.Background(), "", u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if _, err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		pu, _ := url.Parse(u)
		q := pu.Query()
		q.Set("domain_schema", q.Get("search_path"))
		pu.RawQuery = q.Encode()
		fn(t, setupWith(t, db, pu.String(), opt, extra))
	})
}

func setup(t testing.TB, db *store.DB, domain string, opt sandbox.Options) *fixture {
	t.Helper()
	return setupWith(t, db, domain, opt, nil)
}

func setupWith(t testing.TB, db *store.DB, domain string, opt sandbox.Options, extra []extraTable) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{t: t, ctx: ctx, db: db, now: time.Date(2025, 12, 15, 1, 0, 0, 0, time.UTC)}
	f.log = audit.New(db, f.clock)
	f.ids = identity.NewService(db, f.log, region.Default(), f.clock, identity.Options{})
	org := func(in identity.OrgInput) identity.Org {
		return must[identity.Org](t)(f.ids.CreateOrgAsSystem(ctx, in))
	}
	who := func(id int64, o identity.Org, r identity.Role) identity.Principal {
		return identity.Principal{UserID: id, Login: fmt.Sprintf("%s%d", r, id), OrgID: o.ID, OrgType: o.Type, Region: o.Region, Roles: []identity.Role{r}}
	}
	org(identity.OrgInput{Type: identity.OrgAuthority, Name: "江西省数据局", Region: "360000"})
	nc := org(identity.OrgInput{Type: identity.OrgAuthority, Name: "南昌市数据局", Region: "360100"})
	ncGov := org(identity.OrgInput{Type: identity.OrgGovernment, Name: "南昌市人民政府", Region: "360100"})
	ncAg := org(identity.OrgInput{Type: identity.OrgAgency, Name: "南昌市大数据中心", Region: "360100"})
	var depts []identity.Org
	for _, n := range []string{"南昌市人力资源和社会保障局", "南昌市市场监督管理局", "国家税务总局南昌市税务局", "南昌市统计局", "南昌市卫生健康委员会"} {
		depts = append(depts, org(identity.OrgInput{Type: identity.OrgDepartment, Name: n, Region: "360100"}))
	}
	opOrg := org(identity.OrgInput{Type: identity.OrgOperator, Name: "江西数智运营有限公司", Region: "360100",
		CreditCode: identity.MakeCreditCode('9', '1', "360100", "MA000001")})
	f.ncAuthority, f.ncGov, f.ncAgency = who(3, nc, identity.RoleAuthority), who(4, ncGov, identity.RoleGovernment), who(5, ncAg, identity.RoleAgency)
	f.op = who(100, opOrg, identity.RoleOperator)

	res := resources{byID: map[int64]grant.ResourceFacts{}}
	sup := &fakeSupply{versions: map[int64]supply.Version{}, tags: map[int64][]supply.ColumnTag{}, units: map[int64]string{}}
	var err error
	f.eng, err = engine.Open(ctx, t.TempDir(), domain)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.eng.Close() })
	f.world = genWorld(20000)
	all := specs()
	types := map[int64]map[string]string{}
	for _, x := range extra {
		all = append(all, x.spec)
		f.world.csv[x.spec.id], types[x.spec.id] = x.csv, x.types
	}
	dir := t.TempDir()
	var ids []int64
	for _, s := range all {
		ids = append(ids, s.id)
		res.byID[s.id] = grant.ResourceFacts{ID: s.id, Code: fmt.Sprintf("13601002025%05d", s.id), Name: s.alias, Grade: s.grade,
			Region: "360100", HolderOrgID: depts[s.dept].ID, Status: "registered", Registered: true}
		p := filepath.Join(dir, s.alias+".csv")
		if err := os.WriteFile(p, []byte(f.world.csv[s.id]), 0o644); err != nil {
			t.Fatal(err)
		}
		table := supply.TableName(s.id, 1)
		tt := textTypes(s.id)
		if x, ok := types[s.id]; ok {
			tt = x
		}
		lr, err := f.eng.Load(ctx, table, engine.Source{Path: p, Format: engine.CSV, Types: tt}, nil)
		if err != nil {
			t.Fatal(err)
		}
		v := supply.Version{ID: s.id * 10, ResourceID: s.id, Version: 1, Table: table, Rows: lr.Rows}
		for _, c := range lr.Schema.Columns {
			v.Columns = append(v.Columns, supply.Column{Name: c.Name, Type: c.Type})
		}
		sup.versions[s.id] = v
		sup.units[s.id] = s.unit
		for col, td := range s.tags {
			tag, det, _ := strings.Cut(td, "/")
			sup.tags[s.id] = append(sup.tags[s.id], supply.ColumnTag{Column: col, Tag: pii.Tag(tag), Detector: det})
		}
	}
	f.grant = grant.New(db, f.log, region.Default(), workday.Default(), f.clock, res, nil, nil, nil, grant.Options{})
	runner, err := engine.NewRunner(ctx, f.eng, engine.RunnerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { runner.Close() })
	mock, err := engine.OpenMock(ctx, engine.RunnerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mock.Close() })
	_, key, _ := ed25519.GenerateKey(nil)
	if opt.Random == nil {
		opt.Random = rand.NewChaCha8([32]byte{1})
	}
	f.svc = sandbox.New(db, f.log, f.grant, res, sup, runner, mock, key, f.clock, opt)
	xopt := opt
	xopt.ExactThreshold = true
	f.exact = sandbox.New(db, f.log, f.grant, res, sup, runner, mock, key, f.clock, xopt)
	for _, s := range all {
		if err := f.svc.SetPolicy(ctx, f.ncAgency, s.id, s.policy); err != nil {
			t.Fatalf("policy of %s: %v", s.alias, err)
		}
	}
	f.agree(ids)
	f.ws = must[sandbox.Workspace](t)(f.svc.CreateWorkspace(ctx, f.op, f.agreement.ID, "demo", ""))
	return f
}

// agree runs a plan, a selection and an agreement covering ids to active.
func (f *fixture) agree(ids []int64) {
	t, ctx := f.t, f.ctx
	mp, ms, ma := must[grant.Plan](t), must[grant.Selection](t), must[grant.Agreement](t)
	pl := mp(f.grant.DraftPlan(ctx, f.ncAgency, grant.PlanForm{
		Title: "南昌市公共数据资源授权运营实施方案", Mode: grant.ModeScenario, ResourceIDs: ids,
		Scenarios: []string{"普惠金融"}, TermStart: date("2026-01-01"), TermEnd: date("2030-12-31"),
		Necessity: "释放公共数据要素价值，支撑普惠金融场景。", OperatorConditions: "具备数据开发运营能力的法人，信用良好。",
		SelectionMethod: grant.OpenTender, SecurityRequirements: "原始数据不出域，数据可用不可见。", ExitArrangements: "协议终止后完成移交。",
	}))
	pl = mp(f.grant.SubmitPlan(ctx, f.ncAuthority, pl.ID))
	dec := grant.Decision{Meeting: "南昌市人民政府第12次常务会议", Date: grant.Day(f.clock()), Outcome: grant.Approved,
		MinutesRef: "洪府纪〔2025〕12号", Rationale: "方案符合管理办法，风险可控，同意实施。"}
	pl = mp(f.grant.DecidePlan(ctx, f.ncGov, pl.ID, dec))
	sel := ms(f.grant.OpenSelection(ctx, f.ncAgency, pl.ID, grant.SelectionForm{Title: "运营机构公开招标", Method: grant.OpenTender, NoticeRef: "JXNC-2025-001"}))
	sel = ms(f.grant.AddCandidate(ctx, f.ncAgency, sel.ID, f.op.OrgID))
	for _, q := range grant.Qualifications {
		sel = ms(f.grant.CheckQualification(ctx, f.ncAgency, sel.ID, f.op.OrgID, grant.Check{Item: q, Met: true, Evidence: "证明材料"}))
	}
	sel = ms(f.grant.Evaluate(ctx, f.ncAgency, sel.ID, f.op.OrgID, 92, "综合评审第一名"))
	sel = ms(f.grant.ConcludeSelection(ctx, f.ncAgency, sel.ID, f.op.OrgID, "中标"))
	a := ma(f.grant.DraftAgreement(ctx, f.ncAgency, grant.AgreementForm{
		PlanID: pl.ID, SelectionID: sel.ID, OperatorOrgID: f.op.OrgID, Title: "南昌市公共数据授权运营协议",
		ResourceIDs: ids, Purposes: []string{"普惠金融"}, TermStart: date("2026-01-01"), TermEnd: date("2028-12-31"),
		SecurityRequirements: "遵守数据安全管理制度。",
		Pricing: grant.Pricing{PublicInterestFree: true, Caps: []grant.FeeCap{{Unit: grant.PerCall, CapFen: 50, Basis: "洪发改价〔2025〕8号"}},
			Fees: []grant.Fee{{Unit: grant.PerCall, PriceFen: 30}}},
		Return:        grant.Return{Method: "成本加合理利润", CostBasisFen: 100000000, RateBasisPoints: 800},
		AssetHandling: "到期后数据资产归授权主体。", ExitHandover: "终止后30日内完成移交。", Liability: "违约承担赔偿责任。",
	}))
	dec.Meeting, dec.MinutesRef = "南昌市大数据中心党委会", "洪数中纪〔2025〕3号"
	a = ma(f.grant.DecideAgreement(ctx, f.ncAgency, a.ID, dec))
	ma(f.grant.SignAgreement(ctx, f.ncAgency, a.ID, "张主任", nil))
	ma(f.grant.SignAgreement(ctx, f.op, a.ID, "李总经理", grant.Prohibitions))
	f.at(time.Date(2026, 1, 5, 2, 0, 0, 0, time.UTC))
	f.agreement = ma(f.grant.ActivateAgreement(ctx, f.ncAgency, a.ID))
}

func (f *fixture) submit(sql string, target sandbox.Target) sandbox.Job {
	f.t.Helper()
	j, err := f.svc.Submit(f.ctx, f.op, f.ws.ID, sql, target)
	if err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
	return j
}

// textTypes keeps codes as text, as departments deliver them.
func textTypes(id int64) map[string]string {
	switch id {
	case resSocial:
		return map[string]string{"person_id": "VARCHAR", "phone": "VARCHAR", "district": "VARCHAR", "month": "VARCHAR"}
	case resEnt, resDistrict:
		return map[string]string{"district": "VARCHAR"}
	case resMedical:
		return map[string]string{"district": "VARCHAR", "visit_month": "VARCHAR"}
	}
	return nil
}
