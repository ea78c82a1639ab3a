package quality

import (
	"context"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/i18n"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/region"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/store/storetest"
)

// fakeResources is the registry and supply as quality sees them.
type fakeResources map[int64]struct {
	res Resource
	t   Target
}

func (f fakeResources) Resource(ctx context.Context, id int64) (Resource, error) {
	r, ok := f[id]
	if !ok {
		return Resource{}, apperr.New(apperr.NotFound, "registry.not_found")
	}
	return r.res, nil
}

func (f fakeResources) Latest(ctx context.Context, id int64) (Target, error) {
	r, ok := f[id]
	if !ok || r.t.Table == "" {
		return Target{}, apperr.New(apperr.NotFound, "supply.no_version")
	}
	return r.t, nil
}

const holderOrg, otherDeptOrg, agencyOrg, operatorOrg = 10, 11, 1, 20

var (
	deptUser  = identity.Principal{UserID: 1, Login: "dept", OrgID: holderOrg, OrgType: identity.OrgDepartment, Roles: []identity.Role{identity.RoleDepartment}}
	otherDept = identity.Principal{UserID: 2, Login: "other", OrgID: otherDeptOrg, OrgType: identity.OrgDepartment, Roles: []identity.Role{identity.RoleDepartment}}
	agency    = identity.Principal{UserID: 3, Login: "agency", OrgID: agencyOrg, OrgType: identity.OrgAgency, Region: "360000", Roles: []identity.Role{identity.RoleAgency}}
	// Nanchang's bodies act inside Nanchang only (R4.1).
	ncAgency    = identity.Principal{UserID: 5, Login: "nc.agency", OrgID: 30, OrgType: identity.OrgAgency, Region: "360100", Roles: []identity.Role{identity.RoleAgency}}
	ncAuthority = identity.Principal{UserID: 6, Login: "nc.authority", OrgID: 31, OrgType: identity.OrgAuthority, Region: "360100", Roles: []identity.Role{identity.RoleAuthority}}
	operator    = identity.Principal{UserID: 4, Login: "op", OrgID: operatorOrg, OrgType: identity.OrgOperator, Roles: []identity.Role{identity.RoleOperator}}
)

type fixture struct {
	svc *Service
	log *audit.Log
	now *time.Time
}

func newFixture(t *testing.T, db *store.DB) fixture {
	t.Helper()
	d := openDuck(t)
	loadDefects(t, d)
	now := defectNow
	clock := func() time.Time { return now }
	log := audit.New(db, clock)
	res := fakeResources{
		1: {Resource{ID: 1, Code: "R1", HolderOrgID: holderOrg, Region: "360000", Frequency: "daily"}, Target{Table: "r1_v1", Version: 1, LoadedAt: defectNow.Add(-time.Hour)}},
		// The department's own district code table, which resource 1's
		// reference rule checks against.
		2: {Resource{ID: 2, Code: "R2", HolderOrgID: holderOrg, Region: "360000", Frequency: "yearly"}, Target{Table: "r2_v1", Version: 1, LoadedAt: defectNow}},
		// The same table held by another department.
		3: {Resource{ID: 3, Code: "R3", HolderOrgID: otherDeptOrg, Region: "360000", Frequency: "yearly"}, Target{Table: "r2_v1", Version: 1, LoadedAt: defectNow}},
	}
	return fixture{svc: NewService(db, log, d, res, region.Default(), clock), log: log, now: &now}
}

func outcomes(t *testing.T, log *audit.Log, action string) []audit.Outcome {
	t.Helper()
	es, err := log.List(context.Background(), audit.Filter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Outcome
	for i := len(es) - 1; i >= 0; i-- {
		out = append(out, es[i].Outcome)
	}
	return out
}

// TestServiceRunsAndScores sets rules, runs them on load and by hand,
// and reads the score, the trend and the department scores, on both
// control-plane stores. R6.2: monitoring and evaluation of data quality;
// R19.1: per-department quality as a contribution input.
func TestServiceRunsAndScores(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		set, err := f.svc.SetRules(ctx, deptUser, 1, defectRules())
		if err != nil {
			t.Fatal(err)
		}
		if set.Version != 1 {
			t.Fatalf("version %d", set.Version)
		}
		got, err := f.svc.Rules(ctx, 1)
		if err != nil || len(got.Rules.Rules) != 12 || got.SetByLogin != "dept" || got.Rules.Schedule != "daily" {
			t.Fatalf("rules %+v %v", got, err)
		}
		target := Target{Table: "r1_v1", Version: 1, LoadedAt: defectNow.Add(-time.Hour)}
		run, err := f.svc.Run(ctx, identity.Principal{}, 1, target, TriggerLoad)
		if err != nil {
			t.Fatal(err)
		}
		if run.Status != StatusOK || run.Score != 84.1 || run.Rows != 12 || run.RunByLogin != "system" {
			t.Fatalf("run %+v", run)
		}
		latest, err := f.svc.LatestScore(ctx, 1)
		if err != nil || latest.ID != run.ID || latest.Score != 84.1 || len(latest.Results) != 12 || len(latest.Dimensions) != 5 {
			t.Fatalf("latest %+v %v", latest, err)
		}
		if r := latest.Results[9]; r.RuleID != "reference:district" || r.Failed != 2 || r.Dimension != Consistency {
			t.Errorf("stored result %+v", r)
		}
		// A manual run by the agency after the rules drop the stale column.
		rs := defectRules()
		rs.Rules = rs.Rules[:10]
		if _, err := f.svc.SetRules(ctx, agency, 1, rs); err != nil {
			t.Fatal(err)
		}
		*f.now = f.now.Add(time.Hour)
		run2, err := f.svc.Run(ctx, agency, 1, target, TriggerManual)
		if err != nil {
			t.Fatal(err)
		}
		if run2.RulesVersion != 2 || run2.Score <= run.Score {
			t.Fatalf("second run %+v", run2)
		}
		trend, err := f.svc.Trend(ctx, 1, 10)
		if err != nil || len(trend) != 2 || trend[0].RunID != run.ID || trend[1].Score != run2.Score || trend[0].Dimensions[Timeliness] != 0.5 {
			t.Fatalf("trend %+v %v", trend, err)
		}
		deps, err := f.svc.DepartmentScores(ctx)
		if err != nil || len(deps) != 1 || deps[0].OrgID != holderOrg || deps[0].Resources != 1 || deps[0].Score != run2.Score {
			t.Fatalf("departments %+v %v", deps, err)
		}
		if o := outcomes(t, f.log, ActionRun); len(o) != 2 || o[0] != audit.OK || o[1] != audit.OK {
			t.Errorf("run audit %v", o)
		}
	})
}

// TestSamplesOnlyForHolder: failing rows are the holding department's and
// the agency's to see; an operator or another department is refused, and
// each refusal is audited. R12.1 (operators never see raw data), R6.2.
func TestSamplesOnlyForHolder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		if _, err := f.svc.SetRules(ctx, deptUser, 1, defectRules()); err != nil {
			t.Fatal(err)
		}
		run, err := f.svc.Run(ctx, identity.Principal{}, 1, Target{Table: "r1_v1", Version: 1, LoadedAt: defectNow}, TriggerSchedule)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []identity.Principal{deptUser, agency} {
			s, err := f.svc.Samples(ctx, p, run.ID)
			if err != nil || len(s) != 11 || s[0].RuleID != "not_null:id_card" || s[0].Key != "2" {
				t.Fatalf("%s: samples %+v %v", p.Login, s, err)
			}
		}
		for _, p := range []identity.Principal{operator, otherDept} {
			if _, err := f.svc.Samples(ctx, p, run.ID); !apperr.IsCode(err, apperr.Forbidden) {
				t.Fatalf("%s: %v, want forbidden", p.Login, err)
			}
		}
		if _, err := f.svc.Samples(ctx, identity.Principal{}, run.ID); !apperr.IsCode(err, apperr.Unauthenticated) {
			t.Fatalf("anonymous: %v", err)
		}
		want := []audit.Outcome{audit.OK, audit.OK, audit.Refused, audit.Refused, audit.Refused}
		if o := outcomes(t, f.log, ActionReadSamples); len(o) != len(want) || o[2] != audit.Refused || o[0] != audit.OK {
			t.Errorf("sample audit %v, want %v", o, want)
		}
		// The run's audit entry counts samples and never carries a value.
		es, _ := f.log.List(ctx, audit.Filter{Action: ActionRun})
		if len(es) != 1 || es[0].Details["samples"] != float64(11) {
			t.Errorf("run entry %+v", es)
		}
	})
}

// TestSetRulesRefusals: only the holder, the agency or the authority
// declares rules; a declaration with mistakes is refused naming each one;
// every refusal is audited.
func TestSetRulesRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		if _, err := f.svc.SetRules(ctx, operator, 1, defectRules()); !apperr.IsCode(err, apperr.Forbidden) {
			t.Fatalf("operator: %v", err)
		}
		if _, err := f.svc.SetRules(ctx, otherDept, 1, defectRules()); !apperr.IsCode(err, apperr.Forbidden) {
			t.Fatalf("other department: %v", err)
		}
		bad := Rules{Rules: []Rule{{Type: NotNull}, {Type: Format, Column: "x", Format: "phone"}}}
		_, err := f.svc.SetRules(ctx, deptUser, 1, bad)
		if ps := Problems(err); len(ps) != 2 || ps[0].Key != "quality.column_required" || ps[1].Key != "quality.bad_format" {
			t.Fatalf("bad rules: %v", err)
		}
		// Checked against the loaded version's columns at once.
		_, err = f.svc.SetRules(ctx, deptUser, 1, Rules{Rules: []Rule{{Type: NotNull, Column: "idcard"}}})
		if ps := Problems(err); len(ps) != 1 || ps[0].Key != "quality.unknown_column" {
			t.Fatalf("unknown column: %v", err)
		}
		if _, err := f.svc.Run(ctx, operator, 1, Target{Table: "r1_v1"}, TriggerManual); !apperr.IsCode(err, apperr.Forbidden) {
			t.Fatalf("operator run: %v", err)
		}
		if o := outcomes(t, f.log, ActionSetRules); len(o) != 4 || o[0] != audit.Refused || o[3] != audit.Refused {
			t.Errorf("set_rules audit %v", o)
		}
	})
}

// TestReferenceOtherDepartment: a reference rule reads the referenced
// table, and its failing samples tell which values it lacks; a department
// may therefore reference only resources it holds itself. A reference to
// another department's resource is refused when declared and fails the
// run when met in rules stored earlier, audited either way; no sample is
// kept. (Finding 2 of issue 15, R6.2, R12.2.)
func TestReferenceOtherDepartment(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		foreign := Rules{Rules: []Rule{{Type: Reference, Column: "district", Resource: 3, RefColumn: "name"}}}
		for _, p := range []identity.Principal{deptUser, agency} {
			_, err := f.svc.SetRules(ctx, p, 1, foreign)
			if ae, ok := apperr.As(err); !ok || ae.Code != apperr.Forbidden || ae.Key != "quality.reference_foreign" {
				t.Fatalf("%s: reference to another department's resource: %v", p.Login, err)
			}
		}
		if o := outcomes(t, f.log, ActionSetRules); len(o) != 2 || o[0] != audit.Refused || o[1] != audit.Refused {
			t.Errorf("set_rules audit %v", o)
		}
		// Rules stored before the check (written here straight to the store).
		if _, err := db.Exec(ctx, `INSERT INTO quality_rules (resource_id, version, holder_org_id, rule_count, schedule, rules_json,
			set_by, set_by_login, set_at) VALUES (1, 1, ?, 1, 'daily', ?, 1, 'dept', ?)`, holderOrg,
			`{"rules":[{"id":"reference:district","type":"reference","column":"district","resource":3,"ref_column":"name"}]}`, defectNow); err != nil {
			t.Fatal(err)
		}
		run, err := f.svc.Run(ctx, identity.Principal{}, 1, Target{Table: "r1_v1", Version: 1, LoadedAt: defectNow}, TriggerSchedule)
		if err != nil {
			t.Fatal(err)
		}
		if run.Status != StatusFailed || run.Error != "quality.reference_foreign" {
			t.Fatalf("run with a foreign reference: %+v", run)
		}
		if s, err := f.svc.Samples(ctx, deptUser, run.ID); err != nil || len(s) != 0 {
			t.Fatalf("samples of the refused run: %v %v", s, err)
		}
	})
}

// TestQualityByRegion: Nanchang's agency and authority may neither declare
// nor run rules of a provincial department's resource, nor read its
// failing rows; each refusal is audited as refused. (Finding 1, R4.1.)
func TestQualityByRegion(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		if _, err := f.svc.SetRules(ctx, deptUser, 1, defectRules()); err != nil {
			t.Fatal(err)
		}
		run, err := f.svc.Run(ctx, identity.Principal{}, 1, Target{Table: "r1_v1", Version: 1, LoadedAt: defectNow}, TriggerLoad)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []identity.Principal{ncAgency, ncAuthority} {
			if _, err := f.svc.SetRules(ctx, p, 1, defectRules()); !apperr.IsCode(err, apperr.Forbidden) {
				t.Errorf("%s set rules: %v", p.Login, err)
			}
			if _, err := f.svc.Run(ctx, p, 1, Target{Table: "r1_v1"}, TriggerManual); !apperr.IsCode(err, apperr.Forbidden) {
				t.Errorf("%s ran rules: %v", p.Login, err)
			}
			if _, err := f.svc.Samples(ctx, p, run.ID); !apperr.IsCode(err, apperr.Forbidden) {
				t.Errorf("%s read samples: %v", p.Login, err)
			}
		}
		if o := outcomes(t, f.log, ActionSetRules); len(o) != 3 || o[1] != audit.Refused || o[2] != audit.Refused {
			t.Errorf("set_rules audit %v", o)
		}
		if o := outcomes(t, f.log, ActionReadSamples); len(o) != 2 || o[0] != audit.Refused || o[1] != audit.Refused {
			t.Errorf("read_samples audit %v", o)
		}
	})
}

// TestDue lists resources whose scheduled run is due, with an injected
// clock.
func TestDue(t *testing.T) {
	db := storetest.SQLite(t)
	f := newFixture(t, db)
	ctx := context.Background()
	if due, _ := f.svc.Due(ctx, defectNow); len(due) != 0 {
		t.Fatalf("due without rules: %v", due)
	}
	if _, err := f.svc.SetRules(ctx, deptUser, 1, defectRules()); err != nil {
		t.Fatal(err)
	}
	if due, _ := f.svc.Due(ctx, defectNow); len(due) != 1 || due[0] != 1 {
		t.Fatalf("never run: %v", due)
	}
	if _, err := f.svc.Run(ctx, identity.Principal{}, 1, Target{Table: "r1_v1", LoadedAt: defectNow}, TriggerLoad); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		after time.Duration
		due   bool
	}{{time.Hour, false}, {23 * time.Hour, false}, {24 * time.Hour, true}} {
		due, err := f.svc.Due(ctx, defectNow.Add(tt.after))
		if err != nil || (len(due) == 1) != tt.due {
			t.Errorf("after %s: due %v (%v), want %v", tt.after, due, err, tt.due)
		}
	}
	rs := defectRules()
	rs.Schedule = "off"
	if _, err := f.svc.SetRules(ctx, deptUser, 1, rs); err != nil {
		t.Fatal(err)
	}
	if due, _ := f.svc.Due(ctx, defectNow.Add(48*time.Hour)); len(due) != 0 {
		t.Fatalf("schedule off: %v", due)
	}
}

// TestMessagesExist: every message key this package uses is in both
// catalogs.
func TestMessagesExist(t *testing.T) {
	c, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`"(quality\.[a-z_]+)"`)
	files, _ := os.ReadDir(".")
	n := 0
	for _, fi := range files {
		name := fi.Name()
		if len(name) < 3 || name[len(name)-3:] != ".go" || regexp.MustCompile(`_test\.go$`).MatchString(name) {
			continue
		}
		b, _ := os.ReadFile(name)
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			if m[1] == ActionSetRules || m[1] == ActionRun || m[1] == ActionReadSamples {
				continue
			}
			n++
			if !c.Has(m[1]) {
				t.Errorf("%s uses %s, missing from the catalogs", name, m[1])
			}
		}
	}
	if n < 20 {
		t.Fatalf("found only %d keys", n)
	}
}
