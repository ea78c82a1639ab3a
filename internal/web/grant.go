package web

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/grant"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/registry"
)

// Authorization over HTTP (R7–R11, R16, R19.2): implementation plans and
// their decisions and filings, operator selection, agreements through
// their life cycle, each with its timeline; and the public disclosure of
// every authorization in force. The JSON API takes one step per call,
// named in the body, so a client follows the same state machine the
// console shows.

// API: plans.

func (s *Server) apiPlans(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	q := r.URL.Query()
	ps, err := s.grant.Plans(r.Context(), *p, grant.PlanFilter{Region: q.Get("region"), State: grant.PlanState(q.Get("state")),
		FilingOverdue: q.Get("filing_overdue") == "1", FilingPending: q.Get("filing_pending") == "1"})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ps == nil {
		ps = []grant.Plan{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"plans": ps})
}

func (s *Server) apiPlanDraft(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	var f grant.PlanForm
	if err := decode(r, &f); err != nil {
		s.refuseBody(w, r, "plan.draft", "grant_plan", err)
		return
	}
	pl, err := s.grant.DraftPlan(r.Context(), *p, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, pl)
}

func (s *Server) apiPlan(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	pl, err := s.grant.Plan(r.Context(), *p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pl)
}

func (s *Server) apiPlanUpdate(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var f grant.PlanForm
	if err := decode(r, &f); err != nil {
		s.deny(w, r, "plan.update", "grant_plan", strconv.FormatInt(id, 10), err)
		return
	}
	pl, err := s.grant.UpdatePlan(r.Context(), *p, id, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pl)
}

// planStep is one step on a plan: submit, withdraw, decide, file,
// acknowledge, return or revise.
type planStep struct {
	Step     string          `json:"step"`
	Note     string          `json:"note,omitempty"`
	Decision *grant.Decision `json:"decision,omitempty"`
	Form     *grant.PlanForm `json:"form,omitempty"`
}

func (s *Server) planDo(r *http.Request, p *identity.Principal, id int64, in planStep) (grant.Plan, error) {
	ctx := r.Context()
	switch in.Step {
	case "submit":
		return s.grant.SubmitPlan(ctx, *p, id)
	case "withdraw":
		return s.grant.WithdrawPlan(ctx, *p, id, in.Note)
	case "decide":
		if in.Decision == nil {
			return grant.Plan{}, s.unreached(r, p, "plan.decide", "grant_plan", id, apperr.New(apperr.Invalid, "grant.decision_required").OnField("decision"))
		}
		return s.grant.DecidePlan(ctx, *p, id, *in.Decision)
	case "file":
		return s.grant.FilePlan(ctx, *p, id, in.Note)
	case "acknowledge":
		return s.grant.AcknowledgePlanFiling(ctx, *p, id, in.Note)
	case "return":
		return s.grant.ReturnPlanFiling(ctx, *p, id, in.Note)
	case "revise":
		if in.Form == nil {
			return grant.Plan{}, s.unreached(r, p, "plan.revise", "grant_plan", id, apperr.New(apperr.Invalid, "grant.form_required").OnField("form"))
		}
		return s.grant.RevisePlan(ctx, *p, id, *in.Form, in.Note)
	}
	return grant.Plan{}, s.unreached(r, p, "plan."+in.Step, "grant_plan", id, apperr.New(apperr.Invalid, "grant.unknown_step", "step", in.Step).OnField("step"))
}

func (s *Server) apiPlanStep(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in planStep
	if err := decode(r, &in); err != nil {
		s.deny(w, r, "plan.step", "grant_plan", strconv.FormatInt(id, 10), err)
		return
	}
	pl, err := s.planDo(r, p, id, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pl)
}

// unreached audits a step refused before the grant service saw it (an
// unknown step, or one missing its record); the service audits its own
// refusals. The API and the console both come through here.
func (s *Server) unreached(r *http.Request, p *identity.Principal, action, objectType string, id int64, err *apperr.Error) error {
	return s.audit.Refuse(r.Context(), actionEntry(p, action, objectType, id), err)
}

func (s *Server) apiTimeline(objectType string) authedHandler {
	return func(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
		id, err := pathID(r, "id")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ev, err := s.grant.Timeline(r.Context(), *p, objectType, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if ev == nil {
			ev = []grant.Event{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"events": ev})
	}
}

// API: selections.

func (s *Server) apiSelectionOpen(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var f grant.SelectionForm
	if err := decode(r, &f); err != nil {
		s.deny(w, r, "selection.open", "grant_plan", strconv.FormatInt(id, 10), err)
		return
	}
	sel, err := s.grant.OpenSelection(r.Context(), *p, id, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, sel)
}

func (s *Server) apiSelection(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sel, err := s.grant.Selection(r.Context(), *p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sel)
}

// selectionStep is one step of a selection: add_candidate, check,
// evaluate or conclude.
type selectionStep struct {
	Step       string       `json:"step"`
	OperatorID int64        `json:"operator_org_id"`
	Check      *grant.Check `json:"check,omitempty"`
	Score      int          `json:"score,omitempty"`
	Evaluation string       `json:"evaluation,omitempty"`
	Note       string       `json:"note,omitempty"`
}

func (s *Server) selectionDo(r *http.Request, p *identity.Principal, id int64, in selectionStep) (grant.Selection, error) {
	ctx := r.Context()
	switch in.Step {
	case "add_candidate":
		return s.grant.AddCandidate(ctx, *p, id, in.OperatorID)
	case "check":
		if in.Check == nil {
			return grant.Selection{}, s.unreached(r, p, "selection.check", "grant_selection", id, apperr.New(apperr.Invalid, "grant.form_required").OnField("check"))
		}
		return s.grant.CheckQualification(ctx, *p, id, in.OperatorID, *in.Check)
	case "evaluate":
		return s.grant.Evaluate(ctx, *p, id, in.OperatorID, in.Score, in.Evaluation)
	case "conclude":
		return s.grant.ConcludeSelection(ctx, *p, id, in.OperatorID, in.Note)
	}
	return grant.Selection{}, s.unreached(r, p, "selection."+in.Step, "grant_selection", id, apperr.New(apperr.Invalid, "grant.unknown_step", "step", in.Step).OnField("step"))
}

func (s *Server) apiSelectionStep(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in selectionStep
	if err := decode(r, &in); err != nil {
		s.deny(w, r, "selection.step", "grant_selection", strconv.FormatInt(id, 10), err)
		return
	}
	sel, err := s.selectionDo(r, p, id, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sel)
}

// API: agreements.

func (s *Server) apiAgreements(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	q := r.URL.Query()
	f := grant.AgreementFilter{Region: q.Get("region"), State: grant.AgreementState(q.Get("state")),
		FilingOverdue: q.Get("filing_overdue") == "1", FilingPending: q.Get("filing_pending") == "1"}
	if v, err := strconv.ParseInt(q.Get("plan"), 10, 64); err == nil {
		f.PlanID = v
	}
	as, err := s.grant.Agreements(r.Context(), *p, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if as == nil {
		as = []grant.Agreement{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"agreements": as})
}

func (s *Server) apiAgreementDraft(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	var f grant.AgreementForm
	if err := decode(r, &f); err != nil {
		s.refuseBody(w, r, "agreement.draft", "grant_agreement", err)
		return
	}
	a, err := s.grant.DraftAgreement(r.Context(), *p, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, a)
}

func (s *Server) apiAgreement(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a, err := s.grant.Agreement(r.Context(), *p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// agreementStep is one step on an agreement: decide, sign, activate,
// file, acknowledge, return, suspend, resume, terminate or close_handover.
type agreementStep struct {
	Step     string              `json:"step"`
	Decision *grant.Decision     `json:"decision,omitempty"`
	Signer   string              `json:"signer,omitempty"`
	Acks     []grant.Prohibition `json:"acks,omitempty"`
	Note     string              `json:"note,omitempty"`
	Item     string              `json:"item,omitempty"`
	Evidence string              `json:"evidence,omitempty"`
}

func (s *Server) agreementDo(r *http.Request, p *identity.Principal, id int64, in agreementStep) (grant.Agreement, error) {
	ctx := r.Context()
	switch in.Step {
	case "decide":
		if in.Decision == nil {
			return grant.Agreement{}, s.unreached(r, p, "agreement.decide", "grant_agreement", id, apperr.New(apperr.Invalid, "grant.decision_required").OnField("decision"))
		}
		return s.grant.DecideAgreement(ctx, *p, id, *in.Decision)
	case "sign":
		return s.grant.SignAgreement(ctx, *p, id, in.Signer, in.Acks)
	case "activate":
		return s.grant.ActivateAgreement(ctx, *p, id)
	case "file":
		return s.grant.FileAgreement(ctx, *p, id, in.Note)
	case "acknowledge":
		return s.grant.AcknowledgeAgreementFiling(ctx, *p, id, in.Note)
	case "return":
		return s.grant.ReturnAgreementFiling(ctx, *p, id, in.Note)
	case "suspend":
		return s.grant.SuspendAgreement(ctx, *p, id, in.Note)
	case "resume":
		return s.grant.ResumeAgreement(ctx, *p, id, in.Note)
	case "terminate":
		return s.grant.TerminateAgreement(ctx, *p, id, in.Note)
	case "close_handover":
		return s.grant.CloseHandoverItem(ctx, *p, id, in.Item, in.Evidence)
	}
	return grant.Agreement{}, s.unreached(r, p, "agreement."+in.Step, "grant_agreement", id, apperr.New(apperr.Invalid, "grant.unknown_step", "step", in.Step).OnField("step"))
}

func (s *Server) apiAgreementStep(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in agreementStep
	if err := decode(r, &in); err != nil {
		s.deny(w, r, "agreement.step", "grant_agreement", strconv.FormatInt(id, 10), err)
		return
	}
	a, err := s.agreementDo(r, p, id, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// Public disclosure (R19.2).

func (s *Server) apiDisclosures(w http.ResponseWriter, r *http.Request) {
	ds, err := s.grant.Disclosures(r.Context(), r.URL.Query().Get("region"), s.now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ds == nil {
		ds = []grant.Disclosure{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"disclosures": ds})
}

// yearly reads the year and agency of a yearly disclosure request.
func (s *Server) yearly(r *http.Request) (grant.YearlyDisclosure, error) {
	year, err := strconv.Atoi(r.PathValue("year"))
	if err != nil || year < 2000 || year > 2200 {
		return grant.YearlyDisclosure{}, apperr.New(apperr.Invalid, "web.bad_number", "name", "year", "value", r.PathValue("year")).OnField("year")
	}
	agency, err := strconv.ParseInt(r.URL.Query().Get("agency"), 10, 64)
	if err != nil || agency <= 0 {
		return grant.YearlyDisclosure{}, apperr.New(apperr.Invalid, "web.bad_number", "name", "agency", "value", r.URL.Query().Get("agency")).OnField("agency")
	}
	return s.grant.Yearly(r.Context(), agency, year)
}

func (s *Server) apiYearlyDisclosure(w http.ResponseWriter, r *http.Request) {
	y, err := s.yearly(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if r.URL.Query().Get("format") == "csv" {
		s.writeYearlyCSV(w, r, y)
		return
	}
	writeJSON(w, http.StatusOK, y)
}

func (s *Server) writeYearlyCSV(w http.ResponseWriter, r *http.Request, y grant.YearlyDisclosure) {
	var buf bytes.Buffer
	lang := state(r).lang
	if err := grant.WriteYearlyCSV(&buf, y, func(key string) string { return s.cat.T(lang, key, nil) }); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", "attachment; filename=\"disclosure-"+r.PathValue("year")+".csv\"")
	_, _ = w.Write(buf.Bytes())
}

// dayParam reads a yyyy-mm-dd form field as a day.
func dayParam(v string) time.Time {
	t, _ := time.Parse(time.DateOnly, v)
	return t
}

// Console.

// formDecision reads a decision record from a form.
func formDecision(r *http.Request) *grant.Decision {
	if r.PostFormValue("meeting") == "" && r.PostFormValue("rationale") == "" {
		return nil
	}
	return &grant.Decision{Meeting: r.PostFormValue("meeting"), Date: dayParam(r.PostFormValue("decision_date")),
		Outcome: grant.Outcome(r.PostFormValue("outcome")), MinutesRef: r.PostFormValue("minutes_ref"),
		MinutesHash: r.PostFormValue("minutes_hash"), Rationale: r.PostFormValue("rationale")}
}

func formIDs(r *http.Request, name string) []int64 {
	var out []int64
	for _, v := range r.PostForm[name] {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			out = append(out, id)
		}
	}
	return out
}

func formInt(r *http.Request, name string) int64 {
	v, _ := strconv.ParseInt(r.PostFormValue(name), 10, 64)
	return v
}

func formList(v string) []string {
	var out []string
	for _, s := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '，' || r == '、' || r == '\n' }) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

type grantPageData struct {
	Plans      []grant.Plan
	Plan       *grant.Plan
	Selections []grant.Selection
	Selection  *grant.Selection
	Agreements []grant.Agreement
	Agreement  *grant.Agreement
	Timeline   []grant.Event
	Resources  []registry.Item
	Operators  []identity.Org
	Error      string
	// What the lists and forms offer.
	Modes          []grant.Mode
	Methods        []grant.Method
	Units          []grant.Unit
	Qualifications []grant.Qualification
	Prohibitions   []grant.Prohibition
	HandoverItems  []string
	CanDraftPlan   bool
	CanDraftAgr    bool
	IsOperator     bool
}

func (s *Server) newGrantPage(r *http.Request, p *identity.Principal) *grantPageData {
	return &grantPageData{Modes: grant.Modes, Methods: grant.Methods, Units: grant.Units, Qualifications: grant.Qualifications,
		Prohibitions: grant.Prohibitions, HandoverItems: grant.HandoverItems,
		CanDraftPlan: identity.Authorize(s.regions, *p, identity.ActPlanDraft, identity.Object{OrgID: p.OrgID, Region: p.Region}) == nil,
		CanDraftAgr:  p.Has(identity.RoleAgency),
		IsOperator:   p.Has(identity.RoleOperator)}
}

// registeredResources are what a plan's or agreement's scope is chosen from.
func (s *Server) registeredResources(r *http.Request, p *identity.Principal) ([]registry.Item, error) {
	return s.reg.List(r.Context(), *p, registry.Filter{Kind: registry.KindResource, Status: registry.Registered, Limit: 500})
}

func (s *Server) plansPage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	s.renderPlans(w, r, p, http.StatusOK, "")
}

func (s *Server) renderPlans(w http.ResponseWriter, r *http.Request, p *identity.Principal, status int, msg string) {
	d := s.newGrantPage(r, p)
	var err error
	if d.Plans, err = s.grant.Plans(r.Context(), *p, grant.PlanFilter{}); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.CanDraftPlan {
		if d.Resources, err = s.registeredResources(r, p); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	d.Error = msg
	s.render(w, r, status, "plans", d)
}

func planForm(r *http.Request) grant.PlanForm {
	return grant.PlanForm{Title: r.PostFormValue("title"), Mode: grant.Mode(r.PostFormValue("mode")), ResourceIDs: formIDs(r, "resource_ids"),
		Domains: formList(r.PostFormValue("domains")), Scenarios: formList(r.PostFormValue("scenarios")),
		TermStart: dayParam(r.PostFormValue("term_start")), TermEnd: dayParam(r.PostFormValue("term_end")),
		Necessity: r.PostFormValue("necessity"), OperatorConditions: r.PostFormValue("operator_conditions"),
		SelectionMethod: grant.Method(r.PostFormValue("selection_method")), SecurityRequirements: r.PostFormValue("security_requirements"),
		ExitArrangements: r.PostFormValue("exit_arrangements")}
}

func (s *Server) planCreate(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	pl, err := s.grant.DraftPlan(r.Context(), *p, planForm(r))
	if err != nil {
		if msg, ok := s.fixable(r, err); ok {
			s.renderPlans(w, r, p, http.StatusUnprocessableEntity, msg)
			return
		}
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/plans/%d", pl.ID), http.StatusSeeOther)
}

func (s *Server) planPage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderPlan(w, r, p, id, http.StatusOK, "")
}

func (s *Server) renderPlan(w http.ResponseWriter, r *http.Request, p *identity.Principal, id int64, status int, msg string) {
	ctx := r.Context()
	pl, err := s.grant.Plan(ctx, *p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := s.newGrantPage(r, p)
	d.Plan, d.Error = &pl, msg
	if d.Timeline, err = s.grant.Timeline(ctx, *p, "plan", id); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Selections, err = s.grant.Selections(ctx, *p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, "plan", d)
}

func (s *Server) planStepForm(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	in := planStep{Step: r.PostFormValue("step"), Note: r.PostFormValue("note"), Decision: formDecision(r)}
	if in.Step == "revise" {
		f := planForm(r)
		in.Form = &f
	}
	pl, err := s.planDo(r, p, id, in)
	if err != nil {
		if msg, ok := s.fixable(r, err); ok {
			s.renderPlan(w, r, p, id, http.StatusUnprocessableEntity, msg)
			return
		}
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/plans/%d", pl.ID), http.StatusSeeOther)
}

func (s *Server) selectionCreate(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sel, err := s.grant.OpenSelection(r.Context(), *p, id, grant.SelectionForm{Title: r.PostFormValue("title"),
		Method: grant.Method(r.PostFormValue("method")), NoticeRef: r.PostFormValue("notice_ref")})
	if err != nil {
		if msg, ok := s.fixable(r, err); ok {
			s.renderPlan(w, r, p, id, http.StatusUnprocessableEntity, msg)
			return
		}
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/selections/%d", sel.ID), http.StatusSeeOther)
}

func (s *Server) selectionPage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderSelection(w, r, p, id, http.StatusOK, "")
}

func (s *Server) renderSelection(w http.ResponseWriter, r *http.Request, p *identity.Principal, id int64, status int, msg string) {
	ctx := r.Context()
	sel, err := s.grant.Selection(ctx, *p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := s.newGrantPage(r, p)
	d.Selection, d.Error = &sel, msg
	if d.Timeline, err = s.grant.Timeline(ctx, *p, "selection", id); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Operators, err = s.ids.Orgs(ctx, identity.OrgFilter{Type: identity.OrgOperator}); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, "selection", d)
}

func (s *Server) selectionStepForm(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	in := selectionStep{Step: r.PostFormValue("step"), OperatorID: formInt(r, "operator_org_id"), Score: int(formInt(r, "score")),
		Evaluation: r.PostFormValue("evaluation"), Note: r.PostFormValue("note")}
	if in.Step == "check" {
		in.Check = &grant.Check{Item: grant.Qualification(r.PostFormValue("item")), Met: r.PostFormValue("met") == "on",
			Evidence: r.PostFormValue("evidence"), Note: r.PostFormValue("check_note")}
	}
	if _, err := s.selectionDo(r, p, id, in); err != nil {
		if msg, ok := s.fixable(r, err); ok {
			s.renderSelection(w, r, p, id, http.StatusUnprocessableEntity, msg)
			return
		}
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/selections/%d", id), http.StatusSeeOther)
}

func (s *Server) agreementsPage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	s.renderAgreements(w, r, p, http.StatusOK, "")
}

func (s *Server) renderAgreements(w http.ResponseWriter, r *http.Request, p *identity.Principal, status int, msg string) {
	ctx := r.Context()
	d := s.newGrantPage(r, p)
	var err error
	if d.Agreements, err = s.grant.Agreements(ctx, *p, grant.AgreementFilter{}); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.CanDraftAgr {
		if d.Plans, err = s.grant.Plans(ctx, *p, grant.PlanFilter{State: grant.PlanDecided}); err != nil {
			s.fail(w, r, err)
			return
		}
		for _, pl := range d.Plans {
			sels, err := s.grant.Selections(ctx, *p, pl.ID)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			d.Selections = append(d.Selections, sels...)
		}
		if d.Resources, err = s.registeredResources(r, p); err != nil {
			s.fail(w, r, err)
			return
		}
		if d.Operators, err = s.ids.Orgs(ctx, identity.OrgFilter{Type: identity.OrgOperator}); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	d.Error = msg
	s.render(w, r, status, "agreements", d)
}

func agreementForm(r *http.Request) grant.AgreementForm {
	f := grant.AgreementForm{PlanID: formInt(r, "plan_id"), SelectionID: formInt(r, "selection_id"), OperatorOrgID: formInt(r, "operator_org_id"),
		Title: r.PostFormValue("title"), ResourceIDs: formIDs(r, "resource_ids"), Purposes: formList(r.PostFormValue("purposes")),
		TermStart: dayParam(r.PostFormValue("term_start")), TermEnd: dayParam(r.PostFormValue("term_end")),
		SecurityRequirements: r.PostFormValue("security_requirements"), AssetHandling: r.PostFormValue("asset_handling"),
		ExitHandover: r.PostFormValue("exit_handover"), Liability: r.PostFormValue("liability"), OtherObligations: r.PostFormValue("other_obligations")}
	f.Pricing.PublicInterestFree = r.PostFormValue("public_interest_free") == "on"
	if u := r.PostFormValue("cap_unit"); u != "" {
		f.Pricing.Caps = []grant.FeeCap{{Unit: grant.Unit(u), CapFen: formInt(r, "cap_fen"), Basis: r.PostFormValue("cap_basis")}}
	}
	f.Return = grant.Return{Method: r.PostFormValue("return_method"), CostBasisFen: formInt(r, "cost_basis_fen"),
		RateBasisPoints: int(formInt(r, "rate_basis_points"))}
	return f
}

func (s *Server) agreementCreate(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	a, err := s.grant.DraftAgreement(r.Context(), *p, agreementForm(r))
	if err != nil {
		if msg, ok := s.fixable(r, err); ok {
			s.renderAgreements(w, r, p, http.StatusUnprocessableEntity, msg)
			return
		}
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/agreements/%d", a.ID), http.StatusSeeOther)
}

func (s *Server) agreementPage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderAgreement(w, r, p, id, http.StatusOK, "")
}

func (s *Server) renderAgreement(w http.ResponseWriter, r *http.Request, p *identity.Principal, id int64, status int, msg string) {
	ctx := r.Context()
	a, err := s.grant.Agreement(ctx, *p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := s.newGrantPage(r, p)
	d.Agreement, d.Error = &a, msg
	if d.Timeline, err = s.grant.Timeline(ctx, *p, "agreement", id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, "agreement", d)
}

func (s *Server) agreementStepForm(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	in := agreementStep{Step: r.PostFormValue("step"), Decision: formDecision(r), Signer: r.PostFormValue("signer"),
		Note: r.PostFormValue("note"), Item: r.PostFormValue("item"), Evidence: r.PostFormValue("evidence")}
	for _, v := range r.PostForm["acks"] {
		in.Acks = append(in.Acks, grant.Prohibition(v))
	}
	if _, err := s.agreementDo(r, p, id, in); err != nil {
		if msg, ok := s.fixable(r, err); ok {
			s.renderAgreement(w, r, p, id, http.StatusUnprocessableEntity, msg)
			return
		}
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/agreements/%d", id), http.StatusSeeOther)
}

// Portal.

type disclosurePageData struct {
	Disclosures []grant.Disclosure
	Yearly      *grant.YearlyDisclosure
	Agencies    []identity.Org
	Year        int
}

func (s *Server) disclosuresPage(w http.ResponseWriter, r *http.Request) {
	ds, err := s.grant.Disclosures(r.Context(), r.URL.Query().Get("region"), s.now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	agencies, err := s.ids.Orgs(r.Context(), identity.OrgFilter{Type: identity.OrgAgency})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "disclosures", disclosurePageData{Disclosures: ds, Agencies: agencies, Year: s.now().In(shanghai).Year() - 1})
}

func (s *Server) yearlyDisclosurePage(w http.ResponseWriter, r *http.Request) {
	y, err := s.yearly(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if r.URL.Query().Get("format") == "csv" {
		s.writeYearlyCSV(w, r, y)
		return
	}
	s.render(w, r, http.StatusOK, "disclosures", disclosurePageData{Yearly: &y, Year: y.Year})
}
