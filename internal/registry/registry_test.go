package registry_test

import (
	"context"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/region"
	"github.com/gongshu/gongshu/internal/registry"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/store/storetest"
	"github.com/gongshu/gongshu/internal/workday"
)

type fixture struct {
	db                    *store.DB
	log                   *audit.Log
	svc                   *registry.Service
	now                   time.Time
	authority, nanchangAu identity.Principal
	agency                identity.Principal
	dept, dept2, operator identity.Principal
	deptOrg, dept2Org     identity.Org
}

func (f *fixture) clock() time.Time { return f.now }

func setup(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{db: db, now: time.Date(2026, 9, 29, 2, 0, 0, 0, time.UTC)} // a Tuesday before National Day
	f.log = audit.New(db, f.clock)
	ids := identity.NewService(db, f.log, region.Default(), f.clock, identity.Options{})
	org := func(in identity.OrgInput) identity.Org {
		o, err := ids.CreateOrgAsSystem(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	prov := org(identity.OrgInput{Type: identity.OrgAuthority, Name: "江西省数据局", Region: "360000"})
	nc := org(identity.OrgInput{Type: identity.OrgAuthority, Name: "南昌市数据局", Region: "360100"})
	agency := org(identity.OrgInput{Type: identity.OrgAgency, Name: "江西省大数据中心", Region: "360000"})
	f.deptOrg = org(identity.OrgInput{Type: identity.OrgDepartment, Name: "江西省人力资源和社会保障厅", Region: "360000"})
	f.dept2Org = org(identity.OrgInput{Type: identity.OrgDepartment, Name: "江西省医疗保障局", Region: "360000"})
	op := org(identity.OrgInput{Type: identity.OrgOperator, Name: "江西数智运营有限公司", Region: "360100",
		CreditCode: identity.MakeCreditCode('9', '1', "360100", "MA35F7K2")})
	who := func(id int64, o identity.Org, r identity.Role) identity.Principal {
		return identity.Principal{UserID: id, Login: string(r), OrgID: o.ID, OrgType: o.Type, Region: o.Region, Roles: []identity.Role{r}}
	}
	f.authority, f.nanchangAu = who(1, prov, identity.RoleAuthority), who(2, nc, identity.RoleAuthority)
	f.agency = who(3, agency, identity.RoleAgency)
	f.dept, f.dept2 = who(4, f.deptOrg, identity.RoleDepartment), who(5, f.dept2Org, identity.RoleDepartment)
	f.operator = who(6, op, identity.RoleOperator)
	f.svc = registry.New(db, f.log, ids, region.Default(), workday.Default(), f.clock, nil)
	return f
}

func (f *fixture) form() registry.ResourceForm {
	return registry.ResourceForm{
		Name: "社会保险参保缴费信息", Description: "全省企业职工基本养老保险参保与缴费明细，按月更新。", HolderOrgID: f.deptOrg.ID,
		Domain: "social_security", Classification: "社会保障/参保缴费", Grade: "general-3", PersonalInfo: true,
		Frequency: "monthly", SourceSystem: "江西省社会保险信息系统", LegalBasis: "《社会保险法》第七十四条",
		StorageLocation: "省政务云", StorageMethod: "database", AccessMethod: "authorized",
		Items: []registry.DataItem{{Name: "id_no", Label: "公民身份号码", Standard: "GB 11643"}, {Name: "base", Label: "缴费基数"}},
	}
}

func (f *fixture) lastEntry(t *testing.T) audit.Entry {
	t.Helper()
	es, err := f.log.List(context.Background(), audit.Filter{Limit: 1})
	if err != nil || len(es) == 0 {
		t.Fatal("no audit entry", err)
	}
	return es[0]
}

func count(t *testing.T, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// R5.1, R5.3, R13.1: every field rule refuses with its own message and
// field, writes nothing but the refusal's audit entry.
func TestResourceFieldRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		cases := []struct {
			name  string
			edit  func(*registry.ResourceForm)
			key   string
			field string
		}{
			{"no name", func(r *registry.ResourceForm) { r.Name = "  " }, "registry.field_required", "name"},
			{"long name", func(r *registry.ResourceForm) { r.Name = string(make([]rune, 101)) }, "registry.field_length", "name"},
			{"short description", func(r *registry.ResourceForm) { r.Description = "太短" }, "registry.field_length", "description"},
			{"no holder", func(r *registry.ResourceForm) { r.HolderOrgID = 0 }, "registry.field_required", "holder_org_id"},
			{"bad domain", func(r *registry.ResourceForm) { r.Domain = "weather" }, "registry.field_choice", "domain"},
			{"no classification", func(r *registry.ResourceForm) { r.Classification = "" }, "registry.field_required", "classification"},
			{"bad grade", func(r *registry.ResourceForm) { r.Grade = "secret" }, "registry.field_choice", "grade"},
			{"bad frequency", func(r *registry.ResourceForm) { r.Frequency = "hourly" }, "registry.field_choice", "frequency"},
			{"no source", func(r *registry.ResourceForm) { r.SourceSystem = "" }, "registry.field_required", "source_system"},
			{"no legal basis", func(r *registry.ResourceForm) { r.LegalBasis = "" }, "registry.field_required", "legal_basis"},
			{"no storage", func(r *registry.ResourceForm) { r.StorageLocation = "" }, "registry.field_required", "storage_location"},
			{"bad storage method", func(r *registry.ResourceForm) { r.StorageMethod = "paper" }, "registry.field_choice", "storage_method"},
			{"bad access", func(r *registry.ResourceForm) { r.AccessMethod = "sold" }, "registry.field_choice", "access_method"},
			{"core into operation", func(r *registry.ResourceForm) { r.Grade = "core" }, "registry.core_not_operable", "access_method"},
			{"sensitive without personal", func(r *registry.ResourceForm) { r.PersonalInfo, r.SensitivePersonalInfo = false, true }, "registry.sensitive_needs_personal", "personal_info"},
			{"personal info open", func(r *registry.ResourceForm) { r.AccessMethod = "open" }, "registry.personal_not_open", "access_method"},
			{"shared without consent", func(r *registry.ResourceForm) {
				r.SharedOrigin = &registry.SharedFrom{ProviderName: "国家医保局", ProviderRegion: "100000"}
			}, "registry.shared_needs_consent", "shared_origin.consent_ref"},
			{"duplicate item", func(r *registry.ResourceForm) { r.Items = append(r.Items, registry.DataItem{Name: "ID_NO"}) }, "registry.item_duplicate", "items"},
			{"holder not a department", func(r *registry.ResourceForm) { r.HolderOrgID = f.operator.OrgID }, "registry.holder_not_department", "holder_org_id"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				form := f.form()
				c.edit(&form)
				_, err := f.svc.SubmitResource(ctx, f.dept, form)
				ae, ok := apperr.As(err)
				if !ok || ae.Key != c.key || ae.Field != c.field {
					t.Fatalf("got %v, want %s on %s", err, c.key, c.field)
				}
				if n := count(t, db, "registry_items"); n != 0 {
					t.Fatalf("%d items written", n)
				}
				if e := f.lastEntry(t); e.Outcome != audit.Refused || e.Reason != c.key || e.Action != "resource.submit" {
					t.Fatalf("refusal audited as %+v", e)
				}
			})
		}
		// Core data may be registered, but only for access on application.
		form := f.form()
		form.Grade, form.AccessMethod = "core", "application"
		if _, err := f.svc.SubmitResource(ctx, f.dept, form); err != nil {
			t.Fatal(err)
		}
	})
}

// R13.1: the whole registration flow with its working-day deadlines, the
// authority's steps, refusals of steps out of order or out of region, and
// the public lookup by identifier.
func TestRegistrationWorkflow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		cal := workday.Default()
		it, err := f.svc.SubmitResource(ctx, f.dept, f.form())
		if err != nil {
			t.Fatal(err)
		}
		if it.Status != registry.Submitted || it.Version != 1 {
			t.Fatalf("submitted as %+v", it)
		}
		if _, err := registry.ParseIdentifier(it.Code); err != nil || it.Code[:7] != "1360000" || it.Code[7:11] != "2026" {
			t.Fatalf("identifier %s: %v", it.Code, err)
		}
		// Three working days from 29 September 2026 cross the National Day
		// holiday: not 2 October.
		want := cal.Add(f.now, registry.AcceptDays).Date
		if !it.AcceptDue.Equal(want) || !it.AcceptDue.After(time.Date(2026, 10, 7, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("accept due %s, want %s (after the holiday)", it.AcceptDue, want)
		}
		// Not public yet: others do not even learn it exists.
		if _, err := f.svc.Get(ctx, f.dept2, it.ID); !apperr.IsCode(err, apperr.NotFound) {
			t.Fatalf("another department read an unpublished item: %v", err)
		}
		if _, err := f.svc.Get(ctx, f.agency, it.ID); err != nil {
			t.Fatal(err)
		}
		refused := []struct {
			name string
			p    identity.Principal
			step registry.Step
			code apperr.Code
		}{
			{"department accepts its own", f.dept, registry.StepAccept, apperr.Forbidden},
			{"city authority, provincial item", f.nanchangAu, registry.StepAccept, apperr.Forbidden},
			{"register before review", f.authority, registry.StepRegister, apperr.Conflict},
			{"announce before acceptance", f.authority, registry.StepAnnounce, apperr.Conflict},
			{"unknown step", f.authority, registry.Step("approve"), apperr.Invalid},
			{"reject without reason", f.authority, registry.StepReject, apperr.Invalid},
		}
		for _, c := range refused {
			if _, err := f.svc.Advance(ctx, c.p, it.ID, c.step, ""); !apperr.IsCode(err, c.code) {
				t.Errorf("%s: %v, want %s", c.name, err, c.code)
			}
			if e := f.lastEntry(t); e.Outcome != audit.Refused {
				t.Errorf("%s: not audited as a refusal: %+v", c.name, e)
			}
		}
		// Overdue: the acceptance deadline passes.
		f.now = time.Date(2026, 10, 12, 9, 0, 0, 0, time.UTC)
		late, err := f.svc.List(ctx, f.authority, registry.Filter{Overdue: true})
		if err != nil || len(late) != 1 || late[0].Overdue != "accept" {
			t.Fatalf("overdue list: %+v, %v", late, err)
		}
		step := func(p identity.Principal, s registry.Step, reason string) registry.Item {
			t.Helper()
			it, err := f.svc.Advance(ctx, p, it.ID, s, reason)
			if err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			return it
		}
		acc := step(f.authority, registry.StepAccept, "")
		if acc.Status != registry.Accepted || acc.ReviewDue == nil || !acc.ReviewDue.Equal(cal.Add(f.now, registry.ReviewDays).Date) {
			t.Fatalf("accepted as %+v", acc)
		}
		ann := step(f.authority, registry.StepAnnounce, "")
		if _, err := f.svc.Advance(ctx, f.authority, it.ID, registry.StepRegister, ""); !apperr.IsCode(err, apperr.Conflict) {
			t.Fatalf("registered during the announcement: %v", err)
		}
		f.now = ann.AnnounceEnd.Add(48 * time.Hour)
		reg := step(f.authority, registry.StepRegister, "")
		if reg.Status != registry.Registered || reg.LiveVersion != 1 || !reg.Public() {
			t.Fatalf("registered as %+v", reg)
		}
		// Public now: anyone, and the lookup by identifier (any case, spaces).
		if _, err := f.svc.Get(ctx, identity.Principal{}, it.ID); err != nil {
			t.Fatal(err)
		}
		found, err := f.svc.Lookup(ctx, " "+it.Code+" ")
		if err != nil || found.ID != it.ID {
			t.Fatalf("lookup: %+v %v", found, err)
		}
		// A change goes through review while version 1 stays in force.
		changed := f.form()
		changed.Name = "社会保险参保缴费信息（含失业保险）"
		ch, err := f.svc.RequestChange(ctx, f.dept, it.ID, changed)
		if err != nil || ch.Status != registry.Submitted || ch.Version != 2 || ch.LiveVersion != 1 {
			t.Fatalf("change: %+v %v", ch, err)
		}
		pub, _ := f.svc.Get(ctx, identity.Principal{}, it.ID)
		if form, _ := pub.Resource(); form.Name != f.form().Name {
			t.Fatalf("the public sees the pending change: %s", form.Name)
		}
		step(f.authority, registry.StepAccept, "")
		step(f.authority, registry.StepAnnounce, "")
		f.now = f.now.AddDate(0, 0, 20)
		reg2 := step(f.authority, registry.StepRegister, "")
		if form, _ := reg2.Resource(); reg2.LiveVersion != 2 || form.Name != changed.Name || reg2.Name != changed.Name {
			t.Fatalf("change registered as %+v", reg2)
		}
		// A correction by the authority takes effect at once, with a reason.
		fix := changed
		fix.Frequency = "daily"
		if _, err := f.svc.Correct(ctx, f.authority, it.ID, fix, ""); !apperr.IsCode(err, apperr.Invalid) {
			t.Fatalf("correction without a reason: %v", err)
		}
		if _, err := f.svc.Correct(ctx, f.dept, it.ID, fix, "更新频率登记有误"); !apperr.IsCode(err, apperr.Forbidden) {
			t.Fatalf("department corrected: %v", err)
		}
		cor, err := f.svc.Correct(ctx, f.authority, it.ID, fix, "更新频率登记有误")
		if err != nil || cor.LiveVersion != 3 || cor.Frequency != "daily" {
			t.Fatalf("correction: %+v %v", cor, err)
		}
		vs, err := f.svc.Versions(ctx, f.authority, it.ID)
		if err != nil || len(vs) != 3 || vs[2].Change != "correct" || vs[2].Reason != "更新频率登记有误" {
			t.Fatalf("versions: %+v %v", vs, err)
		}
		// Cancellation: the identifier stays, never reused.
		if _, err := f.svc.Advance(ctx, f.dept2, it.ID, registry.StepCancel, "数据停止采集"); !apperr.IsCode(err, apperr.Forbidden) {
			t.Fatalf("another department cancelled: %v", err)
		}
		can := step(f.dept, registry.StepCancel, "数据停止采集")
		if can.Status != registry.Cancelled || can.ClosedAt == nil {
			t.Fatalf("cancelled as %+v", can)
		}
		next, err := f.svc.SubmitResource(ctx, f.dept, f.form())
		if err != nil || next.Code == it.Code {
			t.Fatalf("identifier reused: %s %v", next.Code, err)
		}
		if id, _ := registry.ParseIdentifier(next.Code); id.Serial != 2 {
			t.Fatalf("second serial %d", id.Serial)
		}
	})
}

func (f *fixture) register(t *testing.T, p identity.Principal, form registry.ResourceForm) registry.Item {
	t.Helper()
	ctx := context.Background()
	it, err := f.svc.SubmitResource(ctx, p, form)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []registry.Step{registry.StepAccept, registry.StepAnnounce} {
		if it, err = f.svc.Advance(ctx, f.authority, it.ID, s, ""); err != nil {
			t.Fatal(err)
		}
	}
	f.now = it.AnnounceEnd.Add(48 * time.Hour)
	if it, err = f.svc.Advance(ctx, f.authority, it.ID, registry.StepRegister, ""); err != nil {
		t.Fatal(err)
	}
	return it
}

// R13.1, R13.2: operators register products on registered resources only,
// with a price and its basis.
func TestProductRegistration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		res := f.register(t, f.dept, f.form())
		pending, err := f.svc.SubmitResource(ctx, f.dept, f.form())
		if err != nil {
			t.Fatal(err)
		}
		form := registry.ProductForm{Name: "企业社保合规指数", Description: "按行业和地区统计的企业参保合规指数报告。", Type: "report",
			ResourceIDs: []int64{res.ID}, AgreementRef: "JX-2026-001", PriceFen: 500000, PriceUnit: "份", PricingBasis: "成本加合理利润，报价格主管部门备案"}
		cases := []struct {
			name string
			p    identity.Principal
			edit func(*registry.ProductForm)
			key  string
		}{
			{"department submits a product", f.dept, func(*registry.ProductForm) {}, "identity.forbidden"},
			{"no resources", f.operator, func(p *registry.ProductForm) { p.ResourceIDs = nil }, "registry.product_needs_resources"},
			{"unregistered resource", f.operator, func(p *registry.ProductForm) { p.ResourceIDs = []int64{pending.ID} }, "registry.product_resource_unregistered"},
			{"unknown resource", f.operator, func(p *registry.ProductForm) { p.ResourceIDs = []int64{9999} }, "registry.product_resource_unknown"},
			{"negative price", f.operator, func(p *registry.ProductForm) { p.PriceFen = -1 }, "registry.price_negative"},
			{"no pricing basis", f.operator, func(p *registry.ProductForm) { p.PricingBasis = "" }, "registry.field_required"},
			{"bad type", f.operator, func(p *registry.ProductForm) { p.Type = "nft" }, "registry.field_choice"},
		}
		before := count(t, db, "registry_items")
		for _, c := range cases {
			in := form
			c.edit(&in)
			_, err := f.svc.SubmitProduct(ctx, c.p, in)
			if ae, ok := apperr.As(err); !ok || ae.Key != c.key {
				t.Errorf("%s: %v, want %s", c.name, err, c.key)
			}
			if n := count(t, db, "registry_items"); n != before {
				t.Fatalf("%s: wrote an item", c.name)
			}
		}
		p, err := f.svc.SubmitProduct(ctx, f.operator, form)
		if err != nil {
			t.Fatal(err)
		}
		if p.Code[0] != '2' || p.Code[1:7] != "360100" || p.ProductType != "report" {
			t.Fatalf("product %+v", p)
		}
	})
}

// R6.1: the same data item registered by two departments is flagged to
// the authority with both sources.
func TestOneSourceOverlap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		a := f.register(t, f.dept, f.form())
		other := f.form()
		other.HolderOrgID = f.dept2Org.ID
		other.Name = "医疗保险参保人员信息"
		other.Items = []registry.DataItem{{Name: "sfzh", Label: "身份证号", Standard: "gb11643"}, {Name: "Base", Label: "缴费基数"}}
		b := f.register(t, f.dept2, other)
		got, err := f.svc.Overlaps(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("overlaps %+v", got)
		}
		for _, o := range got {
			if o.First.ID != a.ID || o.Second.ID != b.ID || o.First.Holder != f.deptOrg.Name || o.Second.Holder != f.dept2Org.Name {
				t.Errorf("overlap %+v", o)
			}
		}
		// The same department registering the item twice is not a conflict of sources.
		same := f.form()
		same.Name = "社会保险待遇发放信息"
		f.register(t, f.dept, same)
		if again, _ := f.svc.Overlaps(ctx); len(again) != 4 {
			// the new resource overlaps dept2's twice; not its own department's.
			t.Fatalf("after a same-department registration: %d overlaps", len(again))
		}
	})
}

// The public catalog shows registered resources only, with facet counts
// that apply the other facets' filters.
func TestBrowseCatalog(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		ctx := context.Background()
		a := f.register(t, f.dept, f.form())
		other := f.form()
		other.HolderOrgID, other.Name, other.Domain, other.Grade = f.dept2Org.ID, "医疗保险结算信息", "health", "important"
		f.register(t, f.dept2, other)
		if _, err := f.svc.SubmitResource(ctx, f.dept, f.form()); err != nil { // pending: not in the catalog
			t.Fatal(err)
		}
		all, err := f.svc.Browse(ctx, registry.BrowseQuery{})
		if err != nil || all.Total != 2 || len(all.Items) != 2 {
			t.Fatalf("browse: %+v %v", all, err)
		}
		got, err := f.svc.Browse(ctx, registry.BrowseQuery{Filters: map[string][]string{"domain": {"social_security"}}})
		if err != nil || got.Total != 1 || got.Items[0].ID != a.ID {
			t.Fatalf("by domain: %+v %v", got, err)
		}
		// The domain facet still counts both domains; grade counts only within the domain.
		if len(got.Facets["domain"]) != 2 || len(got.Facets["grade"]) != 1 {
			t.Fatalf("facets %+v", got.Facets)
		}
		if d := got.Facets["department"]; len(d) != 1 || d[0].Label != f.deptOrg.Name {
			t.Fatalf("department facet %+v", d)
		}
	})
}
