package grant

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/region"
	"github.com/gongshu/gongshu/internal/store"
)

// Mode is how a plan authorizes (R7.1).
type Mode string

const (
	ModeWhole    Mode = "whole"    // 整体授权
	ModeDomain   Mode = "domain"   // 分领域授权
	ModeScenario Mode = "scenario" // 依场景授权
)

// Modes lists the modes in display order.
var Modes = []Mode{ModeWhole, ModeDomain, ModeScenario}

// Method is how the agency selects operators (R10.1).
type Method string

const (
	OpenTender    Method = "open_tender"    // 公开招标
	InvitedTender Method = "invited_tender" // 邀请招标
	Negotiation   Method = "negotiation"    // 谈判
)

// Methods lists the selection methods in display order.
var Methods = []Method{OpenTender, InvitedTender, Negotiation}

// PlanState is where a plan version stands.
type PlanState string

const (
	PlanDraft      PlanState = "draft"      // 草拟
	PlanSubmitted  PlanState = "submitted"  // 已提请审议
	PlanDecided    PlanState = "decided"    // 已决策
	PlanRejected   PlanState = "rejected"   // 未通过
	PlanSuperseded PlanState = "superseded" // 已被新版本取代
)

// FilingState is where a filing (备案) with the provincial authority stands.
type FilingState string

const (
	FilingNone         FilingState = ""             // not filed yet (or not needed)
	FilingFiled        FilingState = "filed"        // 已报备
	FilingAcknowledged FilingState = "acknowledged" // 已备案
	FilingReturned     FilingState = "returned"     // 已退回
)

// PlanForm is a plan's content, as the national implementation
// specification lists it.
type PlanForm struct {
	Title string `json:"title"`
	Mode  Mode   `json:"mode"`
	// ResourceIDs is the scope; Domains (by-domain mode) and Scenarios
	// (by-scenario mode) narrow what it is for.
	ResourceIDs []int64   `json:"resource_ids"`
	Domains     []string  `json:"domains,omitempty"`
	Scenarios   []string  `json:"scenarios,omitempty"`
	TermStart   time.Time `json:"term_start"`
	TermEnd     time.Time `json:"term_end"`
	// Necessity: why authorize (必要性).
	Necessity string `json:"necessity"`
	// OperatorConditions: the conditions operators must meet (运营机构条件).
	OperatorConditions string `json:"operator_conditions"`
	SelectionMethod    Method `json:"selection_method"`
	// SecurityRequirements (安全要求) and ExitArrangements (退出机制).
	SecurityRequirements string `json:"security_requirements"`
	ExitArrangements     string `json:"exit_arrangements"`
}

// ScopeResource is a resource as the plan or agreement recorded it.
type ScopeResource struct {
	ID    int64  `json:"id"`
	Code  string `json:"code"`
	Name  string `json:"name"`
	Grade string `json:"grade"`
}

// Plan is one version of an implementation plan.
type Plan struct {
	ID           int64           `json:"id"`
	LineageID    int64           `json:"lineage_id"`
	Version      int             `json:"version"`
	PreviousID   int64           `json:"previous_id,omitempty"`
	Region       string          `json:"region"`
	AuthorOrgID  int64           `json:"author_org_id"`
	AuthorName   string          `json:"author_name"`
	State        PlanState       `json:"state"`
	Form         PlanForm        `json:"form"`
	Resources    []ScopeResource `json:"resources"`
	ChangeReason string          `json:"change_reason,omitempty"`
	SubmittedAt  *time.Time      `json:"submitted_at,omitempty"`
	Decision     *Decision       `json:"decision,omitempty"`
	DecidedAt    *time.Time      `json:"decided_at,omitempty"`
	// FilingRequired is true for city and county plans (R9.1).
	FilingRequired bool        `json:"filing_required"`
	FilingState    FilingState `json:"filing_state"`
	// Filing is the deadline with its countdown, once decided.
	Filing         *Deadline  `json:"filing,omitempty"`
	FiledAt        *time.Time `json:"filed_at,omitempty"`
	FilingClosedAt *time.Time `json:"filing_closed_at,omitempty"`
	FilingNote     string     `json:"filing_note,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// InForce reports whether agreements may be made under the plan: decided,
// the current version, and its filing not returned.
func (p Plan) InForce() bool {
	return p.State == PlanDecided && p.FilingState != FilingReturned
}

func (p Plan) object() identity.Object {
	return identity.Object{OrgID: p.AuthorOrgID, Region: p.Region}
}

// validate checks a plan form and normalizes it.
func (f *PlanForm) validate() error {
	var err error
	if f.Title, err = text("title", f.Title, 4, 200); err != nil {
		return err
	}
	if !containsMode(f.Mode) {
		return apperr.New(apperr.Invalid, "grant.field_choice", "field", "@grant.field.mode").OnField("mode")
	}
	if len(f.ResourceIDs) == 0 {
		return apperr.New(apperr.Invalid, "grant.field_required", "field", "@grant.field.resource_ids").OnField("resource_ids")
	}
	seen := map[int64]bool{}
	for _, id := range f.ResourceIDs {
		if id <= 0 || seen[id] {
			return apperr.New(apperr.Invalid, "grant.resource_listed_twice", "id", id64(id)).OnField("resource_ids")
		}
		seen[id] = true
	}
	f.Domains, f.Scenarios = cleanList(f.Domains), cleanList(f.Scenarios)
	if f.Mode == ModeDomain && len(f.Domains) == 0 {
		return apperr.New(apperr.Invalid, "grant.mode_needs_domains").OnField("domains")
	}
	if f.Mode == ModeScenario && len(f.Scenarios) == 0 {
		return apperr.New(apperr.Invalid, "grant.mode_needs_scenarios").OnField("scenarios")
	}
	if err := checkTerm(&f.TermStart, &f.TermEnd, 0); err != nil {
		return err
	}
	if f.Necessity, err = text("necessity", f.Necessity, 10, 20000); err != nil {
		return err
	}
	if f.OperatorConditions, err = text("operator_conditions", f.OperatorConditions, 4, 20000); err != nil {
		return err
	}
	if !containsMethod(f.SelectionMethod) {
		return apperr.New(apperr.Invalid, "grant.field_choice", "field", "@grant.field.selection_method").OnField("selection_method")
	}
	if f.SecurityRequirements, err = text("security_requirements", f.SecurityRequirements, 4, 20000); err != nil {
		return err
	}
	if f.ExitArrangements, err = text("exit_arrangements", f.ExitArrangements, 4, 20000); err != nil {
		return err
	}
	return nil
}

// checkTerm normalizes a term to days and checks it; maxYears > 0 caps it.
func checkTerm(start, end *time.Time, maxYears int) error {
	if start.IsZero() {
		return apperr.New(apperr.Invalid, "grant.field_required", "field", "@grant.field.term_start").OnField("term_start")
	}
	if end.IsZero() {
		return apperr.New(apperr.Invalid, "grant.field_required", "field", "@grant.field.term_end").OnField("term_end")
	}
	*start = time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)
	*end = time.Date(end.Year(), end.Month(), end.Day(), 0, 0, 0, 0, time.UTC)
	if !end.After(*start) {
		return apperr.New(apperr.Invalid, "grant.term_order").OnField("term_end")
	}
	if maxYears > 0 && end.After(start.AddDate(maxYears, 0, -1)) {
		return apperr.New(apperr.Invalid, "grant.term_too_long", "years", itoa(maxYears),
			"last", formatDay(start.AddDate(maxYears, 0, -1))).OnField("term_end")
	}
	return nil
}

func cleanList(xs []string) []string {
	var out []string
	for _, x := range xs {
		if x = strings.TrimSpace(x); x != "" && !containsString(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func containsMode(m Mode) bool {
	for _, x := range Modes {
		if x == m {
			return true
		}
	}
	return false
}

func containsMethod(m Method) bool {
	for _, x := range Methods {
		if x == m {
			return true
		}
	}
	return false
}

// checkResources looks up each resource and refuses, naming it, one that
// cannot be authorized: unknown, unregistered (R13.1), outside the region
// (R4.1), of core grade (R5.1), or excluded (R5.2, R5.3).
func (s *Service) checkResources(ctx context.Context, regionCode string, ids []int64, at time.Time) ([]ResourceFacts, error) {
	out := make([]ResourceFacts, 0, len(ids))
	for _, id := range ids {
		r, err := s.resources.Resource(ctx, id)
		if apperr.IsCode(err, apperr.NotFound) {
			return nil, apperr.New(apperr.Invalid, "grant.resource_unknown", "id", id64(id)).OnField("resource_ids")
		}
		if err != nil {
			return nil, fmt.Errorf("resource %d: %w", id, err)
		}
		if !r.Registered {
			return nil, apperr.New(apperr.Invalid, "grant.resource_unregistered", "code", r.Code, "name", r.Name).OnField("resource_ids")
		}
		if !s.regions.Contains(regionCode, r.Region) {
			return nil, apperr.New(apperr.Invalid, "grant.resource_outside_region", "code", r.Code, "name", r.Name, "region", regionCode).OnField("resource_ids")
		}
		if r.Grade == "core" {
			return nil, apperr.New(apperr.Invalid, "grant.resource_core", "code", r.Code, "name", r.Name).OnField("resource_ids")
		}
		if why, excluded, err := s.excluded(ctx, id, at); err != nil {
			return nil, err
		} else if excluded {
			return nil, apperr.New(apperr.Invalid, "grant.resource_excluded", "code", r.Code, "name", r.Name, "reason", why).OnField("resource_ids")
		}
		out = append(out, r)
	}
	return out, nil
}

func (s *Service) excluded(ctx context.Context, id int64, at time.Time) (string, bool, error) {
	if s.exclusions == nil {
		return "", false, nil
	}
	why, ex, err := s.exclusions.Excluded(ctx, id, at)
	if err != nil {
		return "", false, fmt.Errorf("exclusions of resource %d: %w", id, err)
	}
	return why, ex, nil
}

// DraftPlan drafts a plan of the caller's region (R8.1): by the authority,
// or by the agency under its guidance. Core-grade and excluded resources
// are refused, naming the resource.
func (s *Service) DraftPlan(ctx context.Context, p identity.Principal, f PlanForm) (Plan, error) {
	o := newOp(p.Actor(), "plan.draft", "grant_plan", 0)
	o.e.Set("title", f.Title)
	if err := identity.Authorize(s.regions, p, identity.ActPlanDraft, identity.Object{OrgID: p.OrgID, Region: p.Region}); err != nil {
		return Plan{}, s.refuse(ctx, o, err)
	}
	return s.insertPlan(ctx, p, o, f, nil, "")
}

// RevisePlan starts a new version of a decided or rejected plan (R9.2): a
// major change goes through submission, decision and filing again, while
// the decided version stays in force until the new one is decided.
func (s *Service) RevisePlan(ctx context.Context, p identity.Principal, id int64, f PlanForm, why string) (Plan, error) {
	o := newOp(p.Actor(), "plan.revise", "grant_plan", id)
	why, err := text("change_reason", why, 4, 4000)
	if err != nil {
		return Plan{}, s.refuse(ctx, o, err)
	}
	prev, err := s.getPlan(ctx, s.db, id)
	if err != nil {
		return Plan{}, s.refuse(ctx, o, err)
	}
	if err := identity.Authorize(s.regions, p, identity.ActPlanDraft, prev.object()); err != nil {
		return Plan{}, s.refuse(ctx, o, err)
	}
	if prev.State != PlanDecided && prev.State != PlanRejected {
		return Plan{}, s.refuse(ctx, o, notAllowed("plan", "revise", string(prev.State)))
	}
	return s.insertPlan(ctx, p, o, f, &prev, why)
}

func (s *Service) insertPlan(ctx context.Context, p identity.Principal, o *op, f PlanForm, prev *Plan, why string) (Plan, error) {
	if err := f.validate(); err != nil {
		return Plan{}, s.refuse(ctx, o, err)
	}
	regionCode := p.Region
	if prev != nil {
		regionCode = prev.Region
	}
	now := s.clock()
	facts, err := s.checkResources(ctx, regionCode, f.ResourceIDs, now)
	if err != nil {
		return Plan{}, s.refuse(ctx, o, err)
	}
	contents, err := json.Marshal(f)
	if err != nil {
		return Plan{}, err
	}
	var id int64
	err = s.do(ctx, o, func(tx *store.Tx, o *op) error {
		version, lineage, previous := 1, int64(0), any(nil)
		if prev != nil {
			// One open version at a time, made from the latest.
			var open, latest int
			if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM grant_plans WHERE lineage_id = ? AND state IN (?, ?)",
				prev.LineageID, string(PlanDraft), string(PlanSubmitted)).Scan(&open); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, "SELECT MAX(version) FROM grant_plans WHERE lineage_id = ?", prev.LineageID).Scan(&latest); err != nil {
				return err
			}
			if open > 0 || latest != prev.Version {
				return apperr.New(apperr.Conflict, "grant.plan_version_open")
			}
			version, lineage, previous = latest+1, prev.LineageID, prev.ID
		}
		var err error
		id, err = tx.InsertID(ctx, `INSERT INTO grant_plans (lineage_id, version, previous_id, region_code, author_org_id, title, mode,
			term_start, term_end, contents, state, change_reason, created_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			lineage, version, previous, regionCode, p.OrgID, f.Title, string(f.Mode), formatDay(f.TermStart), formatDay(f.TermEnd),
			string(contents), string(PlanDraft), why, p.UserID, now, now)
		if err != nil {
			if store.IsUniqueViolation(err) {
				return apperr.New(apperr.Conflict, "grant.plan_version_open")
			}
			return err
		}
		if lineage == 0 {
			if _, err := tx.Exec(ctx, "UPDATE grant_plans SET lineage_id = ? WHERE id = ?", id, id); err != nil {
				return err
			}
		}
		if err := insertPlanResources(ctx, tx, id, facts); err != nil {
			return err
		}
		o.e.ObjectID = id64(id)
		o.e.Set("version", version)
		o.e.Set("resources", len(facts))
		step := "draft"
		if prev != nil {
			step = "revise"
			o.e.Set("previous", prev.ID)
			o.event("plan", prev.ID, "revise", string(prev.State), string(prev.State), "v"+itoa(version))
		}
		o.event("plan", id, step, "", string(PlanDraft), why)
		return nil
	})
	if err != nil {
		return Plan{}, err
	}
	return s.getPlan(ctx, s.db, id)
}

func insertPlanResources(ctx context.Context, tx *store.Tx, planID int64, facts []ResourceFacts) error {
	for _, r := range facts {
		if _, err := tx.Exec(ctx, "INSERT INTO grant_plan_resources (plan_id, resource_id, code, name, grade) VALUES (?, ?, ?, ?, ?)",
			planID, r.ID, r.Code, r.Name, r.Grade); err != nil {
			return err
		}
	}
	return nil
}

// UpdatePlan changes a draft; once submitted a plan is frozen (R9.2).
func (s *Service) UpdatePlan(ctx context.Context, p identity.Principal, id int64, f PlanForm) (Plan, error) {
	o := newOp(p.Actor(), "plan.update", "grant_plan", id)
	pl, err := s.getPlan(ctx, s.db, id)
	if err != nil {
		return Plan{}, s.refuse(ctx, o, err)
	}
	if err := identity.Authorize(s.regions, p, identity.ActPlanDraft, pl.object()); err != nil {
		return Plan{}, s.refuse(ctx, o, err)
	}
	if pl.State != PlanDraft {
		return Plan{}, s.refuse(ctx, o, notAllowed("plan", "update", string(pl.State)))
	}
	if err := f.validate(); err != nil {
		return Plan{}, s.refuse(ctx, o, err)
	}
	facts, err := s.checkResources(ctx, pl.Region, f.ResourceIDs, s.clock())
	if err != nil {
		return Plan{}, s.refuse(ctx, o, err)
	}
	contents, err := json.Marshal(f)
	if err != nil {
		return Plan{}, err
	}
	err = s.do(ctx, o, func(tx *store.Tx, o *op) error {
		if err := guardedUpdate(ctx, tx, "grant_plans", id, string(PlanDraft), map[string]any{
			"title": f.Title, "mode": string(f.Mode), "term_start": formatDay(f.TermStart), "term_end": formatDay(f.TermEnd),
			"contents": string(contents), "updated_at": s.clock(),
		}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM grant_plan_resources WHERE plan_id = ?", id); err != nil {
			return err
		}
		if err := insertPlanResources(ctx, tx, id, facts); err != nil {
			return err
		}
		o.event("plan", id, "update", string(PlanDraft), string(PlanDraft), "")
		return nil
	})
	if err != nil {
		return Plan{}, err
	}
	return s.getPlan(ctx, s.db, id)
}

// SubmitPlan submits a draft to the government's decision (R9.1); the
// resources are checked again, since a grade or the negative list may
// have changed since drafting.
func (s *Service) SubmitPlan(ctx context.Context, p identity.Principal, id int64) (Plan, error) {
	return s.planStep(ctx, p, id, "submit", identity.ActPlanSubmit, "", func(tx *store.Tx, pl *Plan, now time.Time) (map[string]any, PlanState, error) {
		if pl.State != PlanDraft {
			return nil, "", notAllowed("plan", "submit", string(pl.State))
		}
		if _, err := s.checkResources(ctx, pl.Region, pl.Form.ResourceIDs, now); err != nil {
			return nil, "", err
		}
		return map[string]any{"submitted_at": now}, PlanSubmitted, nil
	})
}

// WithdrawPlan takes a submitted plan back to draft, with a reason.
func (s *Service) WithdrawPlan(ctx context.Context, p identity.Principal, id int64, why string) (Plan, error) {
	return s.planStep(ctx, p, id, "withdraw", identity.ActPlanSubmit, why, func(tx *store.Tx, pl *Plan, now time.Time) (map[string]any, PlanState, error) {
		if pl.State != PlanSubmitted {
			return nil, "", notAllowed("plan", "withdraw", string(pl.State))
		}
		return map[string]any{"submitted_at": nil}, PlanDraft, nil
	})
}

// DecidePlan records the government's 三重一大 decision on a submitted
// plan (R9.1). An approved plan is frozen (R9.2) and supersedes the
// version it revises; a city or county plan's filing falls due
// FilingDays working days after the meeting.
func (s *Service) DecidePlan(ctx context.Context, p identity.Principal, id int64, d Decision) (Plan, error) {
	d.RecordedBy = p.Login
	return s.planStep(ctx, p, id, "decide", identity.ActPlanDecide, "", func(tx *store.Tx, pl *Plan, now time.Time) (map[string]any, PlanState, error) {
		if pl.State != PlanSubmitted {
			return nil, "", notAllowed("plan", "decide", string(pl.State))
		}
		var submitted time.Time
		if pl.SubmittedAt != nil {
			submitted = *pl.SubmittedAt
		}
		if err := d.validate(submitted, now); err != nil {
			return nil, "", err
		}
		rec, err := json.Marshal(d)
		if err != nil {
			return nil, "", err
		}
		set := map[string]any{"decision": string(rec), "decided_at": now}
		if d.Outcome == Rejected {
			return set, PlanRejected, nil
		}
		if pl.FilingRequired {
			due, _ := s.FilingDue(d.Date)
			set["filing_due"] = formatDay(due)
		}
		// The version this one revises, and any older decided one, give way.
		if _, err := tx.Exec(ctx, "UPDATE grant_plans SET state = ?, updated_at = ? WHERE lineage_id = ? AND id <> ? AND state = ?",
			string(PlanSuperseded), now, pl.LineageID, pl.ID, string(PlanDecided)); err != nil {
			return nil, "", err
		}
		return set, PlanDecided, nil
	})
}

// FilePlan files a decided city or county plan with the provincial
// authority (R9.1); a returned filing may be filed again.
func (s *Service) FilePlan(ctx context.Context, p identity.Principal, id int64, note string) (Plan, error) {
	return s.filingStep(ctx, p, id, "file", identity.ActPlanFile, note, false)
}

// AcknowledgePlanFiling is the provincial authority's receipt of a filing.
func (s *Service) AcknowledgePlanFiling(ctx context.Context, p identity.Principal, id int64, note string) (Plan, error) {
	return s.filingStep(ctx, p, id, "acknowledge", identity.ActPlanAckFiling, note, false)
}

// ReturnPlanFiling sends a filing back with the reason; the plan may not
// ground new agreements until it is filed again.
func (s *Service) ReturnPlanFiling(ctx context.Context, p identity.Principal, id int64, why string) (Plan, error) {
	return s.filingStep(ctx, p, id, "return", identity.ActPlanAckFiling, why, true)
}

func (s *Service) filingStep(ctx context.Context, p identity.Principal, id int64, step string, act identity.Action, note string, needReason bool) (Plan, error) {
	o := newOp(p.Actor(), "plan."+step+"_filing", "grant_plan", id)
	if needReason {
		r, err := reason(note)
		if err != nil {
			return Plan{}, s.refuse(ctx, o, err)
		}
		note = r
	}
	note = strings.TrimSpace(note)
	pl, err := s.getPlan(ctx, s.db, id)
	if err != nil {
		return Plan{}, s.refuse(ctx, o, err)
	}
	if err := identity.Authorize(s.regions, p, act, pl.object()); err != nil {
		return Plan{}, s.refuse(ctx, o, err)
	}
	if !pl.FilingRequired {
		return Plan{}, s.refuse(ctx, o, apperr.New(apperr.Conflict, "grant.filing_not_required"))
	}
	if pl.State != PlanDecided {
		return Plan{}, s.refuse(ctx, o, notAllowed("plan", step+"_filing", string(pl.State)))
	}
	now := s.clock()
	next, mv, err := filingMove(pl.FilingState, step, now)
	if err != nil {
		return Plan{}, s.refuse(ctx, o, err)
	}
	err = s.do(ctx, o, func(tx *store.Tx, o *op) error {
		set := map[string]any{"filing_state": string(next), "filing_note": note, "updated_at": now}
		mv.apply(set)
		if err := updateWhere(ctx, tx, "grant_plans", set, "id = ? AND state = ? AND filing_state = ?",
			id, string(PlanDecided), string(pl.FilingState)); err != nil {
			return err
		}
		o.e.Set("from", string(pl.FilingState))
		o.e.Set("to", string(next))
		if note != "" {
			o.e.Set("note", note)
		}
		o.event("plan", id, step+"_filing", filingLabel(pl.FilingState), filingLabel(next), note)
		return nil
	})
	if err != nil {
		return Plan{}, err
	}
	return s.getPlan(ctx, s.db, id)
}

// filingMove is the filing's own small machine: file from none or
// returned; acknowledge or return from filed. It returns the next state
// and the times to record.
func filingMove(cur FilingState, step string, now time.Time) (FilingState, filingTimes, error) {
	switch step {
	case "file":
		if cur == FilingNone || cur == FilingReturned {
			return FilingFiled, filingTimes{filed: &now}, nil
		}
	case "acknowledge":
		if cur == FilingFiled {
			return FilingAcknowledged, filingTimes{closed: &now}, nil
		}
	case "return":
		if cur == FilingFiled {
			return FilingReturned, filingTimes{closed: &now}, nil
		}
	}
	return "", filingTimes{}, apperr.New(apperr.Conflict, "grant.filing_step_not_allowed", "step", "@grant.step."+step+"_filing",
		"state", "@grant.filing."+filingLabel(cur))
}

type filingTimes struct{ filed, closed *time.Time }

// apply sets the filing columns: a new filing clears the previous answer.
func (t filingTimes) apply(set map[string]any) {
	if t.filed != nil {
		set["filed_at"], set["filing_closed_at"] = *t.filed, nil
	}
	if t.closed != nil {
		set["filing_closed_at"] = *t.closed
	}
}

func filingLabel(f FilingState) string {
	if f == FilingNone {
		return "none"
	}
	return string(f)
}

// planStep runs one move of a plan's machine: authorize on the plan,
// check and compute the move (check returns the columns to set and the
// next state), write it guarded by the current state, audit, timeline.
func (s *Service) planStep(ctx context.Context, p identity.Principal, id int64, step string, act identity.Action, why string,
	check func(tx *store.Tx, pl *Plan, now time.Time) (map[string]any, PlanState, error)) (Plan, error) {
	o := newOp(p.Actor(), "plan."+step, "grant_plan", id)
	if step == "withdraw" {
		r, err := reason(why)
		if err != nil {
			return Plan{}, s.refuse(ctx, o, err)
		}
		why = r
		o.e.Set("reason", why)
	}
	pl, err := s.getPlan(ctx, s.db, id)
	if err != nil {
		return Plan{}, s.refuse(ctx, o, err)
	}
	if err := identity.Authorize(s.regions, p, act, pl.object()); err != nil {
		return Plan{}, s.refuse(ctx, o, err)
	}
	err = s.do(ctx, o, func(tx *store.Tx, o *op) error {
		now := s.clock()
		set, next, err := check(tx, &pl, now)
		if err != nil {
			return err
		}
		set["state"], set["updated_at"] = string(next), now
		if err := guardedUpdate(ctx, tx, "grant_plans", id, string(pl.State), set); err != nil {
			return err
		}
		o.e.Set("from", string(pl.State))
		o.e.Set("to", string(next))
		o.event("plan", id, step, string(pl.State), string(next), why)
		return nil
	})
	if err != nil {
		return Plan{}, err
	}
	return s.getPlan(ctx, s.db, id)
}

const planColumns = `p.id, p.lineage_id, p.version, p.previous_id, p.region_code, p.author_org_id, o.name, p.state, p.contents,
	p.change_reason, p.submitted_at, p.decision, p.decided_at, p.filing_state, p.filing_due, p.filed_at, p.filing_closed_at,
	p.filing_note, p.created_at, p.updated_at`

const planFrom = " FROM grant_plans p JOIN organizations o ON o.id = p.author_org_id"

func (s *Service) scanPlan(r interface{ Scan(...any) error }, now time.Time) (Plan, error) {
	var pl Plan
	var prev sql.NullInt64
	var state, contents, decision, filing, due string
	var submitted, decided, filed, closed sql.NullTime
	if err := r.Scan(&pl.ID, &pl.LineageID, &pl.Version, &prev, &pl.Region, &pl.AuthorOrgID, &pl.AuthorName, &state, &contents,
		&pl.ChangeReason, &submitted, &decision, &decided, &filing, &due, &filed, &closed, &pl.FilingNote, &pl.CreatedAt, &pl.UpdatedAt); err != nil {
		return Plan{}, err
	}
	pl.PreviousID, pl.State, pl.FilingState = prev.Int64, PlanState(state), FilingState(filing)
	if err := json.Unmarshal([]byte(contents), &pl.Form); err != nil {
		return Plan{}, fmt.Errorf("plan %d contents: %w", pl.ID, err)
	}
	pl.Decision = decodeDecision(decision)
	pl.SubmittedAt, pl.DecidedAt, pl.FiledAt, pl.FilingClosedAt = nullTime(submitted), nullTime(decided), nullTime(filed), nullTime(closed)
	pl.CreatedAt, pl.UpdatedAt = pl.CreatedAt.UTC(), pl.UpdatedAt.UTC()
	r2, _ := s.regions.Lookup(pl.Region)
	pl.FilingRequired = r2.Level != region.Province
	if due != "" {
		pl.Filing = s.deadline(parseDay(due), pl.FiledAt, now)
	}
	return pl, nil
}

func (s *Service) getPlan(ctx context.Context, q querier, id int64) (Plan, error) {
	pl, err := s.scanPlan(q.QueryRow(ctx, "SELECT "+planColumns+planFrom+" WHERE p.id = ?", id), s.clock())
	if errors.Is(err, sql.ErrNoRows) {
		return Plan{}, apperr.New(apperr.NotFound, "grant.plan_not_found", "id", id64(id))
	}
	if err != nil {
		return Plan{}, fmt.Errorf("plan %d: %w", id, err)
	}
	rows, err := q.Query(ctx, "SELECT resource_id, code, name, grade FROM grant_plan_resources WHERE plan_id = ? ORDER BY resource_id", id)
	if err != nil {
		return Plan{}, fmt.Errorf("plan %d resources: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r ScopeResource
		if err := rows.Scan(&r.ID, &r.Code, &r.Name, &r.Grade); err != nil {
			return Plan{}, err
		}
		pl.Resources = append(pl.Resources, r)
	}
	return pl, rows.Err()
}

// Plan returns a plan version to those who run or oversee its region.
func (s *Service) Plan(ctx context.Context, p identity.Principal, id int64) (Plan, error) {
	pl, err := s.getPlan(ctx, s.db, id)
	if err != nil {
		return Plan{}, err
	}
	// A refused read is refused openly and audited like any other action;
	// plan numbers are sequential, so hiding them would hide nothing.
	if err := identity.Authorize(s.regions, p, identity.ActGrantReadAll, pl.object()); err != nil {
		return Plan{}, s.refuse(ctx, newOp(p.Actor(), "plan.read", "grant_plan", id), err)
	}
	return pl, nil
}

// PlanFilter selects plans for the console lists; zero fields do not filter.
type PlanFilter struct {
	// Region matches plans of the region and of regions within it.
	Region    string
	State     PlanState
	LineageID int64
	// FilingOverdue keeps plans whose filing is past due and not done.
	FilingOverdue bool
	// FilingPending keeps plans filed and awaiting the province.
	FilingPending bool
	Limit         int
}

// Plans lists the plan versions p may read, newest first.
func (s *Service) Plans(ctx context.Context, p identity.Principal, f PlanFilter) ([]Plan, error) {
	var where []string
	var args []any
	if f.State != "" {
		where, args = append(where, "p.state = ?"), append(args, string(f.State))
	}
	if f.LineageID != 0 {
		where, args = append(where, "p.lineage_id = ?"), append(args, f.LineageID)
	}
	if f.FilingPending {
		where, args = append(where, "p.filing_state = ?"), append(args, string(FilingFiled))
	}
	if f.FilingOverdue {
		where, args = append(where, "p.filing_due <> '' AND p.filed_at IS NULL AND p.filing_due < ?"), append(args, formatDay(Day(s.clock())))
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 200
	}
	q := "SELECT " + planColumns + planFrom
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY p.id DESC"
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("plans: %w", err)
	}
	defer rows.Close()
	now := s.clock()
	var out []Plan
	for rows.Next() && len(out) < limit {
		pl, err := s.scanPlan(rows, now)
		if err != nil {
			return nil, fmt.Errorf("plans: %w", err)
		}
		if f.Region != "" && !s.regions.Contains(f.Region, pl.Region) {
			continue
		}
		if identity.Authorize(s.regions, p, identity.ActGrantReadAll, pl.object()) != nil {
			continue
		}
		out = append(out, pl)
	}
	return out, rows.Err()
}
