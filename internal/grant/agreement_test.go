package grant_test

import (
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/grant"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/store/storetest"
)

// R10.1, R10.2: the selection follows the plan's method, admits only
// operators, and selects only one qualified on every item with evidence.
func TestSelection(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		pl := f.planIn(grant.PlanDecided)
		op := f.operator()
		m := must[grant.Selection](t)
		if _, err := f.svc.OpenSelection(f.ctx, f.ncAgency, pl.ID, grant.SelectionForm{Title: "运营机构遴选", Method: grant.Negotiation}); keyOf(err) != "grant.method_differs_from_plan" {
			t.Errorf("method other than the plan's: %v", err)
		}
		if _, err := f.svc.OpenSelection(f.ctx, f.ncAuthority, pl.ID, grant.SelectionForm{Title: "运营机构遴选", Method: grant.OpenTender}); keyOf(err) != "identity.forbidden" {
			t.Errorf("authority selecting: %v", err)
		}
		if _, err := f.svc.OpenSelection(f.ctx, f.ncAgency, f.planIn(grant.PlanSubmitted).ID, grant.SelectionForm{Title: "运营机构遴选", Method: grant.OpenTender}); keyOf(err) != "grant.plan_not_in_force" {
			t.Errorf("selection under an undecided plan: %v", err)
		}
		sel := m(f.svc.OpenSelection(f.ctx, f.ncAgency, pl.ID, grant.SelectionForm{Title: "运营机构遴选", Method: grant.OpenTender, NoticeRef: "公告2025-01"}))
		if _, err := f.svc.AddCandidate(f.ctx, f.ncAgency, sel.ID, f.department.OrgID); keyOf(err) != "grant.not_an_operator" {
			t.Errorf("a department as candidate: %v", err)
		}
		sel = m(f.svc.AddCandidate(f.ctx, f.ncAgency, sel.ID, op.OrgID))
		if _, err := f.svc.AddCandidate(f.ctx, f.ncAgency, sel.ID, op.OrgID); keyOf(err) != "grant.candidate_exists" {
			t.Errorf("candidate twice: %v", err)
		}
		if _, err := f.svc.CheckQualification(f.ctx, f.ncAgency, sel.ID, op.OrgID, grant.Check{Item: grant.QualCredit, Met: true}); keyOf(err) != "grant.evidence_required" {
			t.Errorf("met without evidence: %v", err)
		}
		for _, q := range grant.Qualifications[:4] {
			sel = m(f.svc.CheckQualification(f.ctx, f.ncAgency, sel.ID, op.OrgID, grant.Check{Item: q, Met: true, Evidence: "材料-" + string(q)}))
		}
		sel = m(f.svc.Evaluate(f.ctx, f.ncAgency, sel.ID, op.OrgID, 88, "技术方案完整"))
		_, err := f.svc.ConcludeSelection(f.ctx, f.ncAgency, sel.ID, op.OrgID, "")
		if ae, _ := asApp(err); ae.Key != "grant.candidate_unqualified" || ae.Args["item"] != "@grant.qualification.data_security" {
			t.Errorf("selecting without the data-security check: %v", err)
		}
		sel = m(f.svc.CheckQualification(f.ctx, f.ncAgency, sel.ID, op.OrgID, grant.Check{Item: grant.QualDataSecurity, Met: true, Evidence: "等保三级证书"}))
		if c := sel.Candidates[0]; !c.Qualified() || len(c.Checklist) != 5 || c.Checklist[4].CheckedBy != f.ncAgency.Login {
			t.Errorf("checklist = %+v", c)
		}
		sel = m(f.svc.ConcludeSelection(f.ctx, f.ncAgency, sel.ID, op.OrgID, "综合得分第一"))
		if sel.State != grant.SelectionConcluded || sel.WinnerOrgID != op.OrgID {
			t.Errorf("result = %+v", sel)
		}
		// Every step after the result is refused.
		if _, err := f.svc.AddCandidate(f.ctx, f.ncAgency, sel.ID, f.operator().OrgID); keyOf(err) != "grant.step_not_allowed" {
			t.Errorf("candidate after the result: %v", err)
		}
		if _, err := f.svc.ConcludeSelection(f.ctx, f.ncAgency, sel.ID, 0, "重新遴选"); keyOf(err) != "grant.step_not_allowed" {
			t.Errorf("second result: %v", err)
		}
		// A selection may end with no operator, for a stated reason.
		other := m(f.svc.OpenSelection(f.ctx, f.ncAgency, pl.ID, grant.SelectionForm{Title: "第二次遴选", Method: grant.OpenTender}))
		if _, err := f.svc.ConcludeSelection(f.ctx, f.ncAgency, other.ID, 0, ""); keyOf(err) != "grant.field_required" {
			t.Errorf("failed selection without reason: %v", err)
		}
		if other = m(f.svc.ConcludeSelection(f.ctx, f.ncAgency, other.ID, 0, "有效投标不足三家")); other.State != grant.SelectionFailed {
			t.Errorf("failed selection: %s", other.State)
		}
		tl, err := f.svc.Timeline(f.ctx, f.ncAuthority, "selection", sel.ID)
		if err != nil || len(tl) != 9 { // open, add, 4+1 checks, evaluate, conclude
			t.Errorf("selection timeline: %d events, %v", len(tl), err)
		}
		// The candidate sees the selection it took part in; another operator does not.
		if _, err := f.svc.Selection(f.ctx, op, sel.ID); err != nil {
			t.Errorf("candidate reading: %v", err)
		}
		if _, err := f.svc.Selection(f.ctx, f.operator(), sel.ID); keyOf(err) != "identity.forbidden" {
			t.Errorf("stranger reading: %v", err)
		}
	})
}

// Every step of the agreement life cycle from every state, legal and
// refused (R11.1 decision and signing, R16.1 suspension and termination,
// the term by the clock), each refusal naming the state and the step.
func TestAgreementTransitions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		steps := map[string]func(a grant.Agreement, op identity.Principal) (grant.Agreement, error){
			"decide": func(a grant.Agreement, _ identity.Principal) (grant.Agreement, error) { // R11.1
				return f.svc.DecideAgreement(f.ctx, f.ncAgency, a.ID, f.agencyDecision())
			},
			"sign": func(a grant.Agreement, op identity.Principal) (grant.Agreement, error) { // R11.1
				if _, err := f.svc.SignAgreement(f.ctx, f.ncAgency, a.ID, "张主任", nil); err != nil {
					return a, err
				}
				return f.svc.SignAgreement(f.ctx, op, a.ID, "李总经理", grant.Prohibitions)
			},
			"activate": func(a grant.Agreement, _ identity.Principal) (grant.Agreement, error) {
				return f.svc.ActivateAgreement(f.ctx, f.ncAgency, a.ID)
			},
			"suspend": func(a grant.Agreement, _ identity.Principal) (grant.Agreement, error) { // R16.1
				return f.svc.SuspendAgreement(f.ctx, f.ncAgency, a.ID, "违反安全要求")
			},
			"resume": func(a grant.Agreement, _ identity.Principal) (grant.Agreement, error) { // R16.1
				return f.svc.ResumeAgreement(f.ctx, f.ncAgency, a.ID, "整改完成")
			},
			"terminate": func(a grant.Agreement, _ identity.Principal) (grant.Agreement, error) { // R16.1
				return f.svc.TerminateAgreement(f.ctx, f.ncAgency, a.ID, "重大经营风险")
			},
		}
		for _, st := range grant.AgreementStates {
			for _, name := range []string{"decide", "sign", "activate", "suspend", "resume", "terminate"} {
				t.Run(string(st)+"/"+name, func(t *testing.T) {
					a, op := f.agreementIn(st)
					if a.State != st {
						t.Fatalf("setup gave %s", a.State)
					}
					if st == grant.AgreementSigned {
						f.day("2026-01-05") // within the term, so activation is possible
					}
					got, err := steps[name](a, op)
					want, legal := grant.AgreementCan(st, name)
					if legal {
						if err != nil || got.State != want {
							t.Fatalf("%s from %s: %v, state %s, want %s", name, st, err, got.State, want)
						}
						return
					}
					ae, _ := asApp(err)
					if ae.Key != "grant.step_not_allowed" || ae.Args["state"] != "@grant.state."+string(st) || ae.Args["step"] != "@grant.step."+name {
						t.Fatalf("%s from %s: want a refusal naming both, got %v", name, st, err)
					}
					if e := f.lastEntry(); e.Outcome != audit.Refused {
						t.Errorf("refusal not audited: %+v", e)
					}
				})
			}
		}
	})
}

// The term is enforced by the clock: a step on an agreement past its end
// is refused as expired before any sweep; the sweep then marks it (as the
// system), revokes, opens the handover and sets the retention (R16.2).
func TestAgreementExpiresByClock(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		a, op := f.agreementIn(grant.AgreementActive)
		ctx, cancel, err := f.svc.Work(f.ctx, op.OrgID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer cancel()
		if dl, ok := ctx.Deadline(); !ok || dl.UTC().Format(time.RFC3339) != "2028-12-31T15:59:59Z" {
			t.Errorf("work deadline = %v", dl)
		}
		f.day("2029-01-01")
		_, err = f.svc.SuspendAgreement(f.ctx, f.ncAgency, a.ID, "检查")
		if ae, _ := asApp(err); ae.Key != "grant.step_not_allowed" || ae.Args["state"] != "@grant.state.expired" {
			t.Errorf("suspending an agreement past its term: %v", err)
		}
		if err := f.svc.Authorize(f.ctx, op.OrgID, resGeneral, "普惠金融", f.clock()); keyOf(err) != grant.KeyExpired {
			t.Errorf("authorize past the term before the sweep: %v", err)
		}
		res, err := f.svc.Sweep(f.ctx, f.clock())
		if err != nil || len(res.Expired) != 1 || res.Expired[0] != a.ID {
			t.Fatalf("sweep = %+v, %v", res, err)
		}
		if ctx.Err() == nil {
			t.Error("the expiry must cancel running work")
		}
		if st, ok := grant.StopOf(ctx); !ok || st.State != grant.AgreementExpired {
			t.Errorf("stop = %+v", st)
		}
		got := must[grant.Agreement](t)(f.svc.Agreement(f.ctx, f.ncAgency, a.ID))
		if got.State != grant.AgreementExpired || got.EndedOn.Format(time.DateOnly) != "2028-12-31" ||
			got.RetentionUntil.Format(time.DateOnly) != "2031-12-31" || len(got.Handover) != len(grant.HandoverItems) {
			t.Errorf("after sweep: %s ended %s retained %s handover %d", got.State, got.EndedOn, got.RetentionUntil, len(got.Handover))
		}
		if f.rev.count(a.ID) != 1 {
			t.Errorf("revocations = %d", f.rev.count(a.ID))
		}
		es, _ := f.log.List(f.ctx, audit.Filter{Action: "agreement.expire"})
		if len(es) != 1 || es[0].Actor.Login != audit.System.Login {
			t.Errorf("expiry entries = %+v", es)
		}
		ret, _ := f.log.Retentions(f.ctx)
		if ret[op.OrgID].Format(time.DateOnly) != "2031-12-31" {
			t.Errorf("audit retention = %v", ret[op.OrgID])
		}
		// A second sweep finds nothing.
		if res, err := f.svc.Sweep(f.ctx, f.clock()); err != nil || len(res.Expired)+len(res.Retained) != 0 {
			t.Errorf("second sweep = %+v, %v", res, err)
		}
	})
}

// R16.2: termination sets the retention (end + 3 years) and opens a
// handover checklist the agency closes item by item.
func TestTerminationHandover(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		a, op := f.agreementIn(grant.AgreementActive)
		f.day("2026-03-10")
		a = must[grant.Agreement](t)(f.svc.TerminateAgreement(f.ctx, f.ncAgency, a.ID, "严重违约"))
		if a.State != grant.AgreementTerminated || a.EndedOn.Format(time.DateOnly) != "2026-03-10" ||
			a.RetentionUntil.Format(time.DateOnly) != "2029-03-10" || a.RetentionPending {
			t.Fatalf("terminated: %s ended %s retained %s", a.State, a.EndedOn, a.RetentionUntil)
		}
		if f.rev.count(a.ID) != 1 {
			t.Errorf("revocations = %d", f.rev.count(a.ID))
		}
		if _, err := f.svc.CloseHandoverItem(f.ctx, op, a.ID, "records", "已移交"); keyOf(err) != "identity.forbidden" {
			t.Errorf("operator closing the handover: %v", err)
		}
		if _, err := f.svc.CloseHandoverItem(f.ctx, f.ncAgency, a.ID, "records", ""); keyOf(err) != "grant.field_required" {
			t.Errorf("closing without evidence: %v", err)
		}
		for i, item := range grant.HandoverItems {
			a = must[grant.Agreement](t)(f.svc.CloseHandoverItem(f.ctx, f.ncAgency, a.ID, item, "移交确认书"+item))
			if (a.HandoverClosedAt != nil) != (i == len(grant.HandoverItems)-1) {
				t.Errorf("after %s: handover closed %v", item, a.HandoverClosedAt)
			}
		}
		if _, err := f.svc.CloseHandoverItem(f.ctx, f.ncAgency, a.ID, "records", "再次"); keyOf(err) != "grant.handover_item_not_open" {
			t.Errorf("closing twice: %v", err)
		}
		active, _ := f.agreementIn(grant.AgreementActive)
		if _, err := f.svc.CloseHandoverItem(f.ctx, f.ncAgency, active.ID, "records", "x1"); keyOf(err) != "grant.step_not_allowed" {
			t.Errorf("handover of an agreement in force: %v", err)
		}
	})
}

// R11.1, R15, R16: what an agreement may say, and who may sign it.
func TestAgreementChecks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		op := f.operator()
		pl := f.planIn(grant.PlanDecided)
		sel := f.selected(pl, op)
		cases := []struct {
			name  string
			edit  func(*grant.AgreementForm)
			key   string
			field string
		}{
			{"resource outside the plan (R11.1)", func(a *grant.AgreementForm) { a.ResourceIDs = []int64{resExtra} }, "grant.resource_not_in_plan", "resource_ids"},
			{"core data (R5.1)", func(a *grant.AgreementForm) { a.ResourceIDs = []int64{resCore} }, "grant.resource_core", "resource_ids"},
			{"term over the cap", func(a *grant.AgreementForm) { a.TermStart, a.TermEnd = date("2026-01-01"), date("2031-01-01") }, "grant.term_too_long", "term_end"},
			{"term outside the plan", func(a *grant.AgreementForm) { a.TermStart, a.TermEnd = date("2025-12-20"), date("2027-01-01") }, "grant.term_outside_plan", "term_end"},
			{"operator not selected (R10.1)", func(a *grant.AgreementForm) { a.OperatorOrgID = f.operator().OrgID }, "grant.operator_not_selected", "operator_org_id"},
			{"purpose outside the plan's scenarios (R7.1)", func(a *grant.AgreementForm) { a.Purposes = []string{"精准营销"} }, "grant.purpose_not_in_plan", "purposes"},
			{"no purpose under a by-scenario plan (R7.1)", func(a *grant.AgreementForm) { a.Purposes = nil }, "grant.mode_needs_scenarios", "purposes"},
			{"public interest not free", func(a *grant.AgreementForm) { a.Pricing.PublicInterestFree = false }, "grant.public_interest_not_free", "pricing.public_interest_free"},
			{"fee over the cap", func(a *grant.AgreementForm) { a.Pricing.Fees[0].PriceFen = 51 }, "grant.fee_over_cap", "pricing.fees"},
			{"fee without a cap", func(a *grant.AgreementForm) { a.Pricing.Fees[0].Unit = grant.PerVolume }, "grant.fee_without_cap", "pricing.fees"},
			{"cap without basis", func(a *grant.AgreementForm) { a.Pricing.Caps[0].Basis = "" }, "grant.fee_cap_basis", "pricing.caps"},
			{"no liability", func(a *grant.AgreementForm) { a.Liability = "" }, "grant.field_required", "liability"},
			{"no asset handling", func(a *grant.AgreementForm) { a.AssetHandling = "" }, "grant.field_required", "asset_handling"},
			{"return rate out of range", func(a *grant.AgreementForm) { a.Return.RateBasisPoints = 20000 }, "grant.return_range", "return"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				af := f.agreementForm(pl, sel, op)
				c.edit(&af)
				_, err := f.svc.DraftAgreement(f.ctx, f.ncAgency, af)
				ae, _ := asApp(err)
				if ae.Key != c.key || ae.Field != c.field {
					t.Fatalf("got %v (field %q), want %s on %s", err, ae.Field, c.key, c.field)
				}
			})
		}
		t.Run("excluded after the plan (R5.2)", func(t *testing.T) {
			f.ex.set(resImportant, "负面清单：涉及个人敏感信息")
			defer f.ex.unset(resImportant)
			af := f.agreementForm(pl, sel, op)
			af.ResourceIDs = []int64{resImportant}
			_, err := f.svc.DraftAgreement(f.ctx, f.ncAgency, af)
			if ae, _ := asApp(err); ae.Key != "grant.resource_excluded" || ae.Args["name"] != "企业登记信息" {
				t.Errorf("got %v", err)
			}
		})
		t.Run("only the region's agency drafts", func(t *testing.T) {
			if _, err := f.svc.DraftAgreement(f.ctx, f.provAgency, f.agreementForm(pl, sel, op)); keyOf(err) != "identity.forbidden" {
				t.Errorf("provincial agency drafting a Nanchang agreement: %v", err)
			}
		})
		a := must[grant.Agreement](t)(f.svc.DraftAgreement(f.ctx, f.ncAgency, f.agreementForm(pl, sel, op)))
		d := f.agencyDecision()
		d.Outcome = grant.Rejected
		if _, err := f.svc.DecideAgreement(f.ctx, f.ncAgency, a.ID, d); keyOf(err) != "grant.decision_not_approved" {
			t.Errorf("rejected decision: %v", err)
		}
		a = must[grant.Agreement](t)(f.svc.DecideAgreement(f.ctx, f.ncAgency, a.ID, f.agencyDecision()))
		if _, err := db.Exec(f.ctx, "UPDATE grant_agreements SET terms = '{}' WHERE id = ?", a.ID); err == nil {
			t.Error("the database let a decided agreement's terms change")
		}
		// R15: the operator acknowledges every prohibition, item by item.
		_, err := f.svc.SignAgreement(f.ctx, op, a.ID, "李总经理", grant.Prohibitions[:4])
		if ae, _ := asApp(err); ae.Key != "grant.prohibition_not_acknowledged" || ae.Args["item"] != "@grant.prohibition.r15_6" {
			t.Errorf("signing without R15.6: %v", err)
		}
		if _, err := f.svc.SignAgreement(f.ctx, f.operator(), a.ID, "王某", grant.Prohibitions); keyOf(err) != "identity.forbidden" {
			t.Errorf("another operator signing: %v", err)
		}
		a = must[grant.Agreement](t)(f.svc.SignAgreement(f.ctx, op, a.ID, "李总经理", grant.Prohibitions))
		if a.State != grant.AgreementDecided || a.OperatorSigned == nil || len(a.Acknowledged) != len(grant.Prohibitions) {
			t.Errorf("after the operator's signature: %s %+v", a.State, a.OperatorSigned)
		}
		if _, err := f.svc.SignAgreement(f.ctx, op, a.ID, "李总经理", grant.Prohibitions); keyOf(err) != "grant.already_signed" {
			t.Errorf("signing twice: %v", err)
		}
		// R11.1: filing falls due 20 working days after signing.
		f.day("2026-09-15")
		a = must[grant.Agreement](t)(f.svc.SignAgreement(f.ctx, f.ncAgency, a.ID, "张主任", nil))
		if a.State != grant.AgreementSigned || a.Filing == nil || a.Filing.Due.Format(time.DateOnly) != "2026-10-19" {
			t.Errorf("signed: %s filing %+v", a.State, a.Filing)
		}
		if _, err := f.svc.AcknowledgeAgreementFiling(f.ctx, f.provAuthority, a.ID, ""); keyOf(err) != "grant.filing_step_not_allowed" {
			t.Errorf("acknowledging before filing: %v", err)
		}
		a = must[grant.Agreement](t)(f.svc.FileAgreement(f.ctx, f.ncAgency, a.ID, "报送备案"))
		if _, err := f.svc.AcknowledgeAgreementFiling(f.ctx, f.ncAuthority, a.ID, ""); keyOf(err) != "identity.forbidden" {
			t.Errorf("city authority acknowledging: %v", err)
		}
		a = must[grant.Agreement](t)(f.svc.AcknowledgeAgreementFiling(f.ctx, f.provAuthority, a.ID, "同意备案"))
		if a.FilingState != grant.FilingAcknowledged || !a.Filing.Met || a.Filing.Late {
			t.Errorf("filing: %s %+v", a.FilingState, a.Filing)
		}
		// The term has not begun before its first day.
		draft, _ := f.agreementIn(grant.AgreementSigned)
		f.day("2025-12-31")
		if _, err := f.svc.ActivateAgreement(f.ctx, f.ncAgency, draft.ID); keyOf(err) != "grant.term_not_started" {
			t.Errorf("activation before the term: %v", err)
		}
		// The timeline lists each step with its audit entry.
		tl, err := f.svc.Timeline(f.ctx, f.ncAuthority, "agreement", a.ID)
		if err != nil {
			t.Fatal(err)
		}
		var steps []string
		for _, ev := range tl {
			steps = append(steps, ev.Step)
			es, err := f.log.List(f.ctx, audit.Filter{BeforeID: ev.AuditID + 1, Limit: 1})
			if err != nil || len(es) != 1 || es[0].ID != ev.AuditID || es[0].ObjectID != id64(a.ID) {
				t.Errorf("event %s: audit entry %d not found (%v)", ev.Step, ev.AuditID, err)
			}
		}
		want := []string{"draft", "decide", "sign", "sign", "file_filing", "acknowledge_filing"}
		if len(steps) != len(want) {
			t.Fatalf("timeline = %v, want %v", steps, want)
		}
		for i := range want {
			if steps[i] != want[i] {
				t.Fatalf("timeline = %v, want %v", steps, want)
			}
		}
		if tl[2].Actor.Login != op.Login || tl[1].Actor.Login != f.ncAgency.Login {
			t.Errorf("timeline actors: %+v %+v", tl[1].Actor, tl[2].Actor)
		}
	})
}
