package supply

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/pii"
	"github.com/gongshu/gongshu/internal/region"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/store/storetest"
)

type fakeResources map[int64]ResourceRef

func (f fakeResources) Resource(ctx context.Context, id int64) (ResourceRef, error) {
	r, ok := f[id]
	if !ok {
		return ResourceRef{}, apperr.New(apperr.NotFound, "registry.not_found")
	}
	return r, nil
}

var (
	holder = identity.Principal{UserID: 7, Login: "liu.dept", OrgID: 10, OrgType: identity.OrgDepartment, Roles: []identity.Role{identity.RoleDepartment}}
	other  = identity.Principal{UserID: 8, Login: "wang.other", OrgID: 11, OrgType: identity.OrgDepartment, Roles: []identity.Role{identity.RoleDepartment}}
	agency = identity.Principal{UserID: 9, Login: "zhao.agency", OrgID: 2, OrgType: identity.OrgAgency, Region: "360000", Roles: []identity.Role{identity.RoleAgency}}
	// ncAgency is a city's agency: it acts on its city's resources only.
	ncAgency = identity.Principal{UserID: 13, Login: "xu.nc", OrgID: 3, OrgType: identity.OrgAgency, Region: "360100", Roles: []identity.Role{identity.RoleAgency}}
	oper     = identity.Principal{UserID: 12, Login: "qian.op", OrgID: 20, OrgType: identity.OrgOperator, Roles: []identity.Role{identity.RoleOperator}}
)

type fixture struct {
	svc *Service
	eng *fakeEngine
	log *audit.Log
	db  *store.DB
	now time.Time
}

func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	log := audit.New(db, clock)
	eng := newFakeEngine()
	res := fakeResources{
		1: {ID: 1, Code: "360000-R-0001", HolderOrgID: 10, Region: "360000", Grade: "general-2", Name: "社保缴费"},
		2: {ID: 2, Code: "360000-R-0002", HolderOrgID: 10, Region: "360000", Grade: "core", Name: "核心"},
		3: {ID: 3, Code: "360100-R-0003", HolderOrgID: 14, Region: "360100", Grade: "general-2", Name: "南昌公交刷卡"},
	}
	return &fixture{svc: NewService(db, log, eng, res, region.Default(), clock), eng: eng, log: log, db: db, now: now}
}

func (f *fixture) entries(t *testing.T, action string) []audit.Entry {
	t.Helper()
	es, err := f.log.List(context.Background(), audit.Filter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestLoadVersions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		src := Source{Format: CSV, Path: "testdata/people.csv"}
		for want := 1; want <= 2; want++ {
			v, err := f.svc.Load(ctx, holder, 1, src, nil)
			if err != nil {
				t.Fatal(err)
			}
			if v.Version != want || v.Table != fmt.Sprintf("r1_v%d", want) || v.Rows != 4 || len(v.SHA256) != 64 {
				t.Fatalf("version %+v", v)
			}
		}
		vs, err := f.svc.Versions(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 2 || vs[1].LoadedByAs != "liu.dept" || !vs[1].LoadedAt.Equal(f.now) || len(vs[1].Columns) != 6 {
			t.Fatalf("versions %+v", vs)
		}
		profs, err := f.svc.Profiles(ctx, vs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(profs) != 6 {
			t.Fatalf("profiles %+v", profs)
		}
		for _, p := range profs {
			// Identifying columns get counts, never values.
			if (p.Name == "id_card" || p.Name == "name") && p.Top != nil {
				t.Errorf("%s profiled with values %+v", p.Name, p.Top)
			}
			if p.Name == "district" && len(p.Top) != 1 {
				t.Errorf("district top %+v", p.Top)
			}
		}
		tags, err := f.svc.Tags(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]pii.Tag{}
		for _, tg := range tags {
			got[tg.Column] = tg.Tag
		}
		if got["id_card"] != pii.DirectIdentifier || got["name"] != pii.DirectIdentifier || got["salary"] != pii.Sensitive {
			t.Fatalf("proposed tags %v", got)
		}
		es := f.entries(t, "supply.load")
		if len(es) != 2 || es[0].Outcome != audit.OK || es[0].Details["rows"] == nil || es[0].Details["sha256"] == nil {
			t.Fatalf("audit %+v", es)
		}
	})
}

// TestFailedLoadsLeaveNoVersion: a malformed source and a cancelled load
// leave no table and no version row, but an audit entry each.
func TestFailedLoadsLeaveNoVersion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		_, err := f.svc.Load(ctx, holder, 1, Source{Format: CSV, Path: "testdata/malformed.csv"}, nil)
		if ae, ok := apperr.As(err); !ok || ae.Key != "supply.load_failed" {
			t.Fatalf("malformed: %v", err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := f.svc.Load(cctx, holder, 1, Source{Format: CSV, Path: "testdata/people.csv"}, nil); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled: %v", err)
		}
		if vs, _ := f.svc.Versions(ctx, 1); len(vs) != 0 {
			t.Fatalf("versions %+v", vs)
		}
		if n := f.eng.names(); len(n) != 0 {
			t.Fatalf("tables %v", n)
		}
		es := f.entries(t, "supply.load")
		if len(es) != 2 {
			t.Fatalf("audit entries %+v", es)
		}
		outcomes := map[audit.Outcome]int{}
		for _, e := range es {
			outcomes[e.Outcome]++
		}
		if outcomes[audit.Refused] != 1 || outcomes[audit.Failed] != 1 {
			t.Fatalf("outcomes %v", outcomes)
		}
	})
}

// TestControlPlaneFailureDropsTable: when the version cannot be recorded
// the data-plane table is dropped.
func TestControlPlaneFailureDropsTable(t *testing.T) {
	db := storetest.SQLite(t)
	f := newFixture(t, db)
	ctx := context.Background()
	if _, err := db.Exec(ctx, "CREATE TRIGGER no_versions BEFORE INSERT ON supply_versions BEGIN SELECT RAISE(ABORT, 'refused'); END"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Load(ctx, holder, 1, Source{Format: CSV, Path: "testdata/people.csv"}, nil); err == nil {
		t.Fatal("load recorded despite the trigger")
	}
	if n := f.eng.names(); len(n) != 0 || len(f.eng.dropped) != 1 {
		t.Fatalf("tables %v dropped %v", n, f.eng.dropped)
	}
	if es := f.entries(t, "supply.load"); len(es) != 1 || es[0].Outcome != audit.Failed {
		t.Fatalf("audit %+v", es)
	}
}

func TestAuthorization(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		src := Source{Format: CSV, Path: "testdata/people.csv"}
		tests := []struct {
			name string
			p    identity.Principal
			res  int64
			code apperr.Code
			key  string
		}{
			{"other department", other, 1, apperr.Forbidden, "supply.forbidden"},
			{"operator", oper, 1, apperr.Forbidden, "supply.forbidden"},
			// R4.1: a city body acts only inside its region; a provincial
			// resource is the provincial bodies' and its holder's.
			{"city agency on a provincial resource", ncAgency, 1, apperr.Forbidden, "supply.forbidden"},
			{"anonymous", identity.Principal{}, 1, apperr.Unauthenticated, "identity.login_required"},
			// Core data never enters authorized operation.
			{"core grade", holder, 2, apperr.Forbidden, "supply.core_grade"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := f.svc.Load(ctx, tt.p, tt.res, src, nil)
				if ae, ok := apperr.As(err); !ok || ae.Code != tt.code || ae.Key != tt.key {
					t.Fatalf("err %v, want %s %s", err, tt.code, tt.key)
				}
			})
		}
		if _, err := f.svc.Preview(ctx, other, 1, src); err == nil {
			t.Fatal("other department previewed")
		}
		refused := 0
		for _, e := range append(f.entries(t, "supply.load"), f.entries(t, "supply.preview")...) {
			if e.Outcome == audit.Refused {
				refused++
			}
		}
		if refused != 6 {
			t.Fatalf("%d refusals audited, want 6", refused)
		}
		if n := f.eng.names(); len(n) != 0 {
			t.Fatalf("tables %v", n)
		}
		// The agency may load on the holder's behalf.
		if _, err := f.svc.Load(ctx, agency, 1, src, nil); err != nil {
			t.Fatal(err)
		}
		// R4.1: the city agency may not describe the provincial resource
		// (tags, privacy unit), and each refusal is audited as refused.
		before := len(f.entries(t, ""))
		if err := f.svc.ConfirmTag(ctx, ncAgency, 1, "phone", pii.None, "不是个人信息"); err == nil {
			t.Error("city agency confirmed a tag of a provincial resource")
		}
		if err := f.svc.SetPrivacyUnit(ctx, ncAgency, 1, "phone", "按手机号计"); err == nil {
			t.Error("city agency set the privacy unit of a provincial resource")
		}
		if _, err := f.svc.ProposeTags(ctx, ncAgency, 1); err == nil {
			t.Error("city agency ran the detectors on a provincial resource")
		}
		if f.svc.MayHandle(ctx, ncAgency, 1) || !f.svc.MayHandle(ctx, agency, 3) || !f.svc.MayHandle(ctx, ncAgency, 3) {
			t.Error("MayHandle does not follow the region")
		}
		es := f.entries(t, "")
		if len(es)-before != 3 {
			t.Fatalf("%d entries for 3 refusals", len(es)-before)
		}
		for _, e := range es[:3] {
			if e.Outcome != audit.Refused {
				t.Errorf("%s audited as %s, want refused", e.Action, e.Outcome)
			}
		}
	})
}

func TestPreview(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t))
	pv, err := f.svc.Preview(context.Background(), holder, 1, Source{Format: CSV, Path: "testdata/people.csv"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pv.Columns) != 6 || len(pv.Rows) != 4 || pv.Proposals[0].Tag != pii.DirectIdentifier {
		t.Fatalf("preview %+v", pv)
	}
}

// TestConfirmTag: a confirmation records who, when and why, keeps the
// history, and a detector never overrides it.
func TestConfirmTag(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		src := Source{Format: CSV, Path: "testdata/people.csv"}
		if err := f.svc.ConfirmTag(ctx, holder, 1, "district", pii.QuasiIdentifier, "区县"); err == nil {
			t.Fatal("confirmed a tag before any version")
		}
		if _, err := f.svc.Load(ctx, holder, 1, src, nil); err != nil {
			t.Fatal(err)
		}
		bad := []struct {
			column string
			tag    pii.Tag
			reason string
			key    string
		}{
			{"district", pii.QuasiIdentifier, "  ", "supply.reason_required"},
			{"district", "secret", "x", "supply.bad_tag"},
			{"nope", pii.None, "x", "supply.unknown_column"},
		}
		for _, b := range bad {
			err := f.svc.ConfirmTag(ctx, holder, 1, b.column, b.tag, b.reason)
			if ae, ok := apperr.As(err); !ok || ae.Key != b.key {
				t.Errorf("%+v: %v", b, err)
			}
		}
		if err := f.svc.ConfirmTag(ctx, other, 1, "district", pii.None, "x"); err == nil {
			t.Fatal("other department confirmed a tag")
		}
		if err := f.svc.ConfirmTag(ctx, holder, 1, "district", pii.QuasiIdentifier, "区县与出生日期组合可识别个人"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.ProposeTags(ctx, holder, 1); err != nil {
			t.Fatal(err)
		}
		hist, err := f.svc.TagHistory(ctx, 1, "district")
		if err != nil {
			t.Fatal(err)
		}
		last := hist[len(hist)-1]
		if !last.Confirmed() || last.Tag != pii.QuasiIdentifier || last.ConfirmedByLogin != "liu.dept" ||
			!last.ConfirmedAt.Equal(f.now) || last.Reason == "" || len(hist) != 2 {
			t.Fatalf("history %+v", hist)
		}
		es := f.entries(t, "supply.confirm_tag")
		ok, refused := 0, 0
		for _, e := range es {
			switch e.Outcome {
			case audit.OK:
				ok++
			case audit.Refused:
				refused++
			}
		}
		if ok != 1 || refused != 5 {
			t.Fatalf("confirm audit ok %d refused %d", ok, refused)
		}
		// A later load proposes nothing over the confirmed column, and
		// profiles it without values.
		if _, err := f.svc.Load(ctx, holder, 1, src, nil); err != nil {
			t.Fatal(err)
		}
		if h2, _ := f.svc.TagHistory(ctx, 1, "district"); len(h2) != 2 {
			t.Fatalf("history after reload %+v", h2)
		}
		v, _ := f.svc.Latest(ctx, 1)
		profs, _ := f.svc.Profiles(ctx, v.ID)
		for _, p := range profs {
			if p.Name == "district" && p.Top != nil {
				t.Fatalf("quasi-identifier profiled with values: %+v", p)
			}
		}
		if err := f.svc.SetPrivacyUnit(ctx, holder, 1, "id_card", "每行一名参保人"); err != nil {
			t.Fatal(err)
		}
		if u, err := f.svc.PrivacyUnit(ctx, 1); err != nil || u != "id_card" {
			t.Fatalf("privacy unit %q %v", u, err)
		}
	})
}

func TestDefaultRoles(t *testing.T) {
	tags := map[string]pii.Tag{"id": pii.DirectIdentifier, "birth": pii.QuasiIdentifier, "salary": pii.Sensitive, "district": pii.None}
	tests := []struct {
		grade string
		want  map[string]Role
	}{
		{"general-2", map[string]Role{"id": RoleHidden, "birth": RoleGroup, "salary": RoleAggregate, "district": RoleVisible}},
		{"一般", map[string]Role{"id": RoleHidden, "birth": RoleGroup, "salary": RoleAggregate, "district": RoleVisible}},
		{"important", map[string]Role{"id": RoleHidden, "birth": RoleHidden, "salary": RoleAggregate, "district": RoleVisible}},
		{"重要", map[string]Role{"id": RoleHidden, "birth": RoleHidden, "salary": RoleAggregate, "district": RoleVisible}},
	}
	for _, tt := range tests {
		t.Run(tt.grade, func(t *testing.T) {
			got, err := DefaultRoles(tt.grade, tags)
			if err != nil {
				t.Fatal(err)
			}
			for c, r := range tt.want {
				if got[c] != r {
					t.Errorf("%s: %s, want %s", c, got[c], r)
				}
			}
		})
	}
	for _, g := range []string{"core", "核心"} {
		if _, err := DefaultRoles(g, tags); err == nil {
			t.Errorf("%s data given roles", g)
		}
	}
}

// TestSameItems: R6.1, one data item has one source.
func TestSameItems(t *testing.T) {
	sigs := []ItemSignature{
		{ResourceID: 1, HolderOrgID: 10, Column: "身份证号", Type: "VARCHAR", Tag: pii.DirectIdentifier},
		{ResourceID: 2, HolderOrgID: 11, Column: "id_card", Type: "text", Tag: pii.DirectIdentifier},
		{ResourceID: 3, HolderOrgID: 10, Column: "公民身份号码", Type: "VARCHAR", Tag: pii.DirectIdentifier}, // same org as 1
		{ResourceID: 1, HolderOrgID: 10, Column: "缴费金额", Type: "DECIMAL(12,2)", StandardCode: "JX-0042"},
		{ResourceID: 4, HolderOrgID: 12, Column: "pay_amount", Type: "DOUBLE", StandardCode: "jx-0042"},
		{ResourceID: 1, HolderOrgID: 10, Column: "id", Type: "BIGINT"},
		{ResourceID: 2, HolderOrgID: 11, Column: "ID", Type: "BIGINT"},
		{ResourceID: 2, HolderOrgID: 11, Column: "station", Type: "VARCHAR"},
	}
	got := SameItems(sigs)
	if len(got) != 2 {
		t.Fatalf("overlaps %+v", got)
	}
	if got[0].Key != "resident_id|text|direct_identifier" || len(got[0].Sources) != 3 {
		t.Errorf("first overlap %+v", got[0])
	}
	if got[1].Key != "std:JX-0042" || len(got[1].Sources) != 2 || got[1].Sources[0].HolderOrgID != 10 {
		t.Errorf("second overlap %+v", got[1])
	}
}
