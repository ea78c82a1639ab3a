package grant_test

import (
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/grant"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/store/storetest"
	"github.com/gongshu/gongshu/internal/workday"
)

// R9.1, R11.1: filing is due 20 working days after the decision or
// signature, on the official calendar (New Year, Spring Festival, National
// Day and their adjusted working days).
func TestFilingDue(t *testing.T) {
	svc := grant.New(nil, nil, nil, workday.Default(), nil, nil, nil, nil, nil, grant.Options{})
	for _, c := range []struct{ from, due string }{
		{"2025-12-15", "2026-01-13"}, // across New Year's Day 2026 (1-3 Jan off, 4 Jan worked)
		{"2026-09-15", "2026-10-19"}, // across National Day and Mid-Autumn 2026
	} {
		due, assumed := svc.FilingDue(date(c.from))
		if got := due.Format(time.DateOnly); got != c.due || len(assumed) != 0 {
			t.Errorf("FilingDue(%s) = %s %v, want %s", c.from, got, assumed, c.due)
		}
	}
	// A year without official data is counted Monday to Friday and says so.
	if _, assumed := svc.FilingDue(date("2027-12-20")); len(assumed) == 0 {
		t.Error("a deadline in a year without calendar data must warn")
	}
}

// R9.1: a city plan's filing deadline is stored from the decision, counts
// down on the official calendar with the injected clock, and turns
// overdue the day after; filing stops the countdown.
func TestPlanFilingCountdown(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		pl := f.planIn(grant.PlanDecided) // decided on 2025-12-15
		if !pl.FilingRequired || pl.Filing == nil || pl.Filing.Due.Format(time.DateOnly) != "2026-01-13" {
			t.Fatalf("filing = %+v, required %v", pl.Filing, pl.FilingRequired)
		}
		check := func(day string, left int, overdue bool) {
			t.Helper()
			f.day(day)
			got, err := f.svc.Plan(f.ctx, f.ncAuthority, pl.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Filing.Left != left || got.Filing.Overdue != overdue {
				t.Errorf("%s: left %d overdue %v, want %d %v", day, got.Filing.Left, got.Filing.Overdue, left, overdue)
			}
		}
		check("2025-12-15", 20, false)
		check("2025-12-31", 8, false) // 1-3 Jan are off, Sunday 4 Jan is worked
		check("2026-01-13", 0, false)
		check("2026-01-14", -1, true)
		overdue, err := f.svc.Plans(f.ctx, f.provAuthority, grant.PlanFilter{FilingOverdue: true})
		if err != nil || len(overdue) != 1 || overdue[0].ID != pl.ID {
			t.Fatalf("overdue list = %v, %v", overdue, err)
		}
		filed, err := f.svc.FilePlan(f.ctx, f.ncAuthority, pl.ID, "逾期报备，附说明")
		if err != nil {
			t.Fatal(err)
		}
		if !filed.Filing.Met || !filed.Filing.Late || filed.Filing.Overdue {
			t.Errorf("after late filing: %+v", filed.Filing)
		}
		// A provincial plan is not filed (R9.1 names city and county plans).
		f.at(base)
		prov, err := f.svc.DraftPlan(f.ctx, f.provAuthority, f.planForm(resProvince))
		if err != nil {
			t.Fatal(err)
		}
		if prov.FilingRequired {
			t.Error("provincial plan must not need filing")
		}
	})
}

// Every move of the plan machine from every state, legal and refused
// (R9.1 submission and decision, R9.2 frozen once submitted and revised by
// a new version).
func TestPlanTransitions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		steps := []struct {
			name string
			do   func(pl grant.Plan) (grant.Plan, error)
			ok   map[grant.PlanState]grant.PlanState // from → to where legal
		}{
			{"update", func(pl grant.Plan) (grant.Plan, error) { // R9.2
				return f.svc.UpdatePlan(f.ctx, f.ncAgency, pl.ID, f.planForm(resGeneral))
			}, map[grant.PlanState]grant.PlanState{grant.PlanDraft: grant.PlanDraft}},
			{"submit", func(pl grant.Plan) (grant.Plan, error) { // R9.1
				return f.svc.SubmitPlan(f.ctx, f.ncAuthority, pl.ID)
			}, map[grant.PlanState]grant.PlanState{grant.PlanDraft: grant.PlanSubmitted}},
			{"withdraw", func(pl grant.Plan) (grant.Plan, error) {
				return f.svc.WithdrawPlan(f.ctx, f.ncAuthority, pl.ID, "补充材料后再提交")
			}, map[grant.PlanState]grant.PlanState{grant.PlanSubmitted: grant.PlanDraft}},
			{"approve", func(pl grant.Plan) (grant.Plan, error) { // R9.1
				return f.svc.DecidePlan(f.ctx, f.ncGov, pl.ID, f.decision(grant.Day(f.clock())))
			}, map[grant.PlanState]grant.PlanState{grant.PlanSubmitted: grant.PlanDecided}},
			{"reject", func(pl grant.Plan) (grant.Plan, error) { // R9.1
				d := f.decision(grant.Day(f.clock()))
				d.Outcome = grant.Rejected
				return f.svc.DecidePlan(f.ctx, f.ncGov, pl.ID, d)
			}, map[grant.PlanState]grant.PlanState{grant.PlanSubmitted: grant.PlanRejected}},
			{"revise", func(pl grant.Plan) (grant.Plan, error) { // R9.2
				v2, err := f.svc.RevisePlan(f.ctx, f.ncAuthority, pl.ID, f.planForm(resGeneral), "调整授权范围")
				if err != nil {
					return v2, err
				}
				if v2.Version != pl.Version+1 || v2.PreviousID != pl.ID || v2.LineageID != pl.LineageID {
					t.Errorf("revision %+v of %+v", v2, pl)
				}
				return f.svc.Plan(f.ctx, f.ncAuthority, pl.ID) // the old version is unchanged
			}, map[grant.PlanState]grant.PlanState{grant.PlanDecided: grant.PlanDecided, grant.PlanRejected: grant.PlanRejected}},
		}
		for _, st := range []grant.PlanState{grant.PlanDraft, grant.PlanSubmitted, grant.PlanDecided, grant.PlanRejected, grant.PlanSuperseded} {
			for _, step := range steps {
				t.Run(string(st)+"/"+step.name, func(t *testing.T) {
					pl := f.planIn(st)
					if pl.State != st {
						t.Fatalf("setup gave %s", pl.State)
					}
					got, err := step.do(pl)
					want, legal := step.ok[st]
					if legal {
						if err != nil || got.State != want {
							t.Fatalf("%s from %s: %v, state %s, want %s", step.name, st, err, got.State, want)
						}
						return
					}
					if keyOf(err) != "grant.step_not_allowed" {
						t.Fatalf("%s from %s: want step_not_allowed, got %v", step.name, st, err)
					}
					if e := f.lastEntry(); e.Outcome != audit.Refused || e.Reason != "grant.step_not_allowed" {
						t.Errorf("refusal not audited: %+v", e)
					}
				})
			}
		}
	})
}

// R9.1: the filing's own machine (file → acknowledged | returned → file
// again), by the city authority and the provincial authority only.
func TestPlanFilingTransitions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		in := func(st grant.FilingState) grant.Plan {
			pl := f.planIn(grant.PlanDecided)
			m := must[grant.Plan](t)
			if st == grant.FilingNone {
				return pl
			}
			pl = m(f.svc.FilePlan(f.ctx, f.ncAuthority, pl.ID, ""))
			switch st {
			case grant.FilingAcknowledged:
				pl = m(f.svc.AcknowledgePlanFiling(f.ctx, f.provAuthority, pl.ID, ""))
			case grant.FilingReturned:
				pl = m(f.svc.ReturnPlanFiling(f.ctx, f.provAuthority, pl.ID, "缺少风险评估材料"))
			}
			return pl
		}
		steps := map[string]func(grant.Plan) (grant.Plan, error){
			"file": func(pl grant.Plan) (grant.Plan, error) { return f.svc.FilePlan(f.ctx, f.ncAuthority, pl.ID, "") },
			"acknowledge": func(pl grant.Plan) (grant.Plan, error) {
				return f.svc.AcknowledgePlanFiling(f.ctx, f.provAuthority, pl.ID, "")
			},
			"return": func(pl grant.Plan) (grant.Plan, error) {
				return f.svc.ReturnPlanFiling(f.ctx, f.provAuthority, pl.ID, "材料不全")
			},
		}
		legal := map[grant.FilingState]map[string]grant.FilingState{
			grant.FilingNone:         {"file": grant.FilingFiled},
			grant.FilingFiled:        {"acknowledge": grant.FilingAcknowledged, "return": grant.FilingReturned},
			grant.FilingAcknowledged: {},
			grant.FilingReturned:     {"file": grant.FilingFiled},
		}
		for st, moves := range legal {
			for name, do := range steps {
				t.Run(string(st)+"/"+name, func(t *testing.T) {
					pl := in(st)
					got, err := do(pl)
					if want, ok := moves[name]; ok {
						if err != nil || got.FilingState != want {
							t.Fatalf("got %v %s, want %s", err, got.FilingState, want)
						}
						return
					}
					if keyOf(err) != "grant.filing_step_not_allowed" {
						t.Fatalf("want filing_step_not_allowed, got %v", err)
					}
				})
			}
		}
		pl := in(grant.FilingReturned)
		if pl.InForce() {
			t.Error("a plan whose filing was returned grounds no agreement")
		}
		if pl.FilingNote != "缺少风险评估材料" {
			t.Errorf("return reason = %q", pl.FilingNote)
		}
		// Only the provincial authority acknowledges; Ganzhou's may not.
		pl = in(grant.FilingFiled)
		if _, err := f.svc.AcknowledgePlanFiling(f.ctx, f.gzAuthority, pl.ID, ""); keyOf(err) != "identity.forbidden" {
			t.Errorf("Ganzhou acknowledging: %v", err)
		}
		if _, err := f.svc.AcknowledgePlanFiling(f.ctx, f.ncAuthority, pl.ID, ""); keyOf(err) != "identity.forbidden" {
			t.Errorf("Nanchang acknowledging its own filing: %v", err)
		}
		if _, err := f.svc.ReturnPlanFiling(f.ctx, f.provAuthority, pl.ID, ""); keyOf(err) != "grant.field_required" {
			t.Errorf("return without reason: %v", err)
		}
	})
}

// R5.1, R5.2, R5.3, R8.1, R13.1: what a plan may cover and who may draft it.
func TestPlanChecks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		f.ex.set(resExtra, "负面清单：涉及企业商业秘密（洪府字〔2025〕5号）")
		cases := []struct {
			name  string
			edit  func(*grant.PlanForm)
			key   string
			field string
			arg   string
		}{
			{"core data refused naming it (R5.1)", func(p *grant.PlanForm) { p.ResourceIDs = []int64{resGeneral, resCore} }, "grant.resource_core", "resource_ids", "城市供水管网拓扑"},
			{"excluded refused with the exclusion (R5.2)", func(p *grant.PlanForm) { p.ResourceIDs = []int64{resExtra} }, "grant.resource_excluded", "resource_ids", "负面清单：涉及企业商业秘密（洪府字〔2025〕5号）"},
			{"unregistered refused (R13.1)", func(p *grant.PlanForm) { p.ResourceIDs = []int64{resDraft} }, "grant.resource_unregistered", "resource_ids", "公共交通刷卡记录"},
			{"another region's data refused (R4.1)", func(p *grant.PlanForm) { p.ResourceIDs = []int64{resGanzhou} }, "grant.resource_outside_region", "resource_ids", "赣州气象观测数据"},
			{"unknown resource", func(p *grant.PlanForm) { p.ResourceIDs = []int64{999} }, "grant.resource_unknown", "resource_ids", ""},
			{"by domain needs domains (R7.1)", func(p *grant.PlanForm) { p.Mode = grant.ModeDomain }, "grant.mode_needs_domains", "domains", ""},
			{"by scenario needs scenarios (R7.1)", func(p *grant.PlanForm) { p.Scenarios = nil }, "grant.mode_needs_scenarios", "scenarios", ""},
			{"unknown mode", func(p *grant.PlanForm) { p.Mode = "partial" }, "grant.field_choice", "mode", ""},
			{"unknown selection method (R10.1)", func(p *grant.PlanForm) { p.SelectionMethod = "direct_award" }, "grant.field_choice", "selection_method", ""},
			{"no necessity", func(p *grant.PlanForm) { p.Necessity = "" }, "grant.field_required", "necessity", ""},
			{"no exit arrangements", func(p *grant.PlanForm) { p.ExitArrangements = " " }, "grant.field_required", "exit_arrangements", ""},
			{"term backwards", func(p *grant.PlanForm) { p.TermEnd = date("2025-12-31") }, "grant.term_order", "term_end", ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				pf := f.planForm()
				c.edit(&pf)
				_, err := f.svc.DraftPlan(f.ctx, f.ncAgency, pf)
				if keyOf(err) != c.key {
					t.Fatalf("got %v, want %s", err, c.key)
				}
				ae, _ := asApp(err)
				if ae.Field != c.field {
					t.Errorf("field %q, want %q (%v)", ae.Field, c.field, err)
				}
				if c.arg != "" && ae.Args["name"] != c.arg && ae.Args["reason"] != c.arg {
					t.Errorf("refusal does not name %q: %v", c.arg, ae.Args)
				}
			})
		}
		// R8.1: drafted by the authority or the agency of the region only.
		for _, who := range []struct {
			name string
			p    func() error
		}{
			{"department", func() error { _, err := f.svc.DraftPlan(f.ctx, f.department, f.planForm()); return err }},
			{"operator", func() error { _, err := f.svc.DraftPlan(f.ctx, f.operator(), f.planForm()); return err }},
			{"government", func() error { _, err := f.svc.DraftPlan(f.ctx, f.ncGov, f.planForm()); return err }},
		} {
			if err := who.p(); keyOf(err) != "identity.forbidden" {
				t.Errorf("%s drafting: %v", who.name, err)
			}
		}
		// R9.1: the authority submits, the government decides.
		pl := f.planIn(grant.PlanDraft)
		if _, err := f.svc.SubmitPlan(f.ctx, f.ncAgency, pl.ID); keyOf(err) != "identity.forbidden" {
			t.Errorf("agency submitting: %v", err)
		}
		pl = f.planIn(grant.PlanSubmitted)
		if _, err := f.svc.DecidePlan(f.ctx, f.ncAgency, pl.ID, f.decision(grant.Day(f.clock()))); keyOf(err) != "identity.forbidden" {
			t.Errorf("agency deciding: %v", err)
		}
		// R21.1: the decision record is complete.
		bad := f.decision(grant.Day(f.clock()))
		bad.Rationale = ""
		if _, err := f.svc.DecidePlan(f.ctx, f.ncGov, pl.ID, bad); keyOf(err) != "grant.field_required" {
			t.Errorf("no rationale: %v", err)
		}
		bad = f.decision(grant.Day(f.clock()).AddDate(0, 0, 1))
		if _, err := f.svc.DecidePlan(f.ctx, f.ncGov, pl.ID, bad); keyOf(err) != "grant.decision_in_future" {
			t.Errorf("future decision: %v", err)
		}
		bad = f.decision(grant.Day(f.clock()))
		bad.MinutesHash = "abc"
		if _, err := f.svc.DecidePlan(f.ctx, f.ncGov, pl.ID, bad); keyOf(err) != "grant.minutes_hash" {
			t.Errorf("bad minutes hash: %v", err)
		}
		// R9.1: an exclusion approved after drafting stops the submission.
		pl = f.planIn(grant.PlanDraft)
		f.ex.set(resGeneral, "共享数据未取得提供单位同意")
		if _, err := f.svc.SubmitPlan(f.ctx, f.ncAuthority, pl.ID); keyOf(err) != "grant.resource_excluded" {
			t.Errorf("submission after exclusion: %v", err)
		}
	})
}

// R9.2: a decided plan is frozen by the database itself, and a new
// version, once decided, supersedes it.
func TestPlanFrozenAndVersions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		pl := f.planIn(grant.PlanDecided)
		if _, err := db.Exec(f.ctx, "UPDATE grant_plans SET title = 'changed' WHERE id = ?", pl.ID); err == nil {
			t.Error("the database let a decided plan change")
		}
		if _, err := db.Exec(f.ctx, "DELETE FROM grant_plan_resources WHERE plan_id = ?", pl.ID); err == nil {
			t.Error("the database let a decided plan's scope change")
		}
		if _, err := db.Exec(f.ctx, "UPDATE grant_events SET note = 'x'"); err == nil {
			t.Error("the timeline must be append-only")
		}
		m := must[grant.Plan](t)
		v2 := m(f.svc.RevisePlan(f.ctx, f.ncAuthority, pl.ID, f.planForm(resGeneral), "缩小范围"))
		// One open version at a time.
		if _, err := f.svc.RevisePlan(f.ctx, f.ncAuthority, pl.ID, f.planForm(resGeneral), "再次调整"); keyOf(err) != "grant.plan_version_open" {
			t.Errorf("second open version: %v", err)
		}
		if got := m(f.svc.Plan(f.ctx, f.ncAuthority, pl.ID)); !got.InForce() {
			t.Error("the decided version stays in force while the new one is decided")
		}
		m(f.svc.SubmitPlan(f.ctx, f.ncAuthority, v2.ID))
		v2 = m(f.svc.DecidePlan(f.ctx, f.ncGov, v2.ID, f.decision(grant.Day(f.clock()))))
		if got := m(f.svc.Plan(f.ctx, f.ncAuthority, pl.ID)); got.State != grant.PlanSuperseded || got.InForce() {
			t.Errorf("v1 after v2 decided: %s", got.State)
		}
		if v2.Filing == nil || v2.Filing.Due.Format(time.DateOnly) != "2026-01-13" {
			t.Errorf("v2 must be filed again (R9.2): %+v", v2.Filing)
		}
		versions, err := f.svc.Plans(f.ctx, f.ncAuthority, grant.PlanFilter{LineageID: pl.LineageID})
		if err != nil || len(versions) != 2 {
			t.Errorf("versions = %d, %v", len(versions), err)
		}
		// Reading: Ganzhou's authority does not see Nanchang's plans; the province does.
		if _, err := f.svc.Plan(f.ctx, f.gzAuthority, pl.ID); keyOf(err) != "identity.forbidden" {
			t.Errorf("Ganzhou reading: %v", err)
		}
		if _, err := f.svc.Plan(f.ctx, f.provAuthority, pl.ID); err != nil {
			t.Errorf("province reading: %v", err)
		}
	})
}
