package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/governance"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/registry"
)

// Supply governance over HTTP: anyone raises a correction or an objection
// on a public resource and follows it by its reference number; the holding
// department answers in the console before its working-day deadline; the
// authority sees what is late. The negative list is requested, reviewed
// and decided in the console and published on the portal; the consent of
// a data-sharing provider is recorded on the resource's data page.

// honeypot is a form field people never see (hidden by CSS) and robots
// fill in; with the per-address and per-contact limits kept in the store
// it is the portal's captcha-free defence against abuse.
const honeypot = "website"

// API: cases.

func (s *Server) apiCaseRaise(w http.ResponseWriter, r *http.Request) {
	p := optionalPrincipal(r)
	if p.UserID != 0 && !s.checkCSRF(w, r, &p, r.Header.Get("X-CSRF-Token")) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	var in governance.RaiseInput
	if err := decode(r, &in); err != nil {
		s.refuseBody(w, r, governance.ActionRaise, "resource", err)
		return
	}
	c, err := s.gov.Raise(r.Context(), p, in, remoteIP(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, c.Public())
}

func (s *Server) apiCaseFollow(w http.ResponseWriter, r *http.Request) {
	c, err := s.gov.Follow(r.Context(), r.PathValue("ref"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func caseFilter(r *http.Request) governance.CaseFilter {
	q := r.URL.Query()
	f := governance.CaseFilter{State: governance.CaseState(q.Get("state")), Overdue: q.Get("overdue") == "1", Escalated: q.Get("escalated") == "1"}
	if id, err := strconv.ParseInt(q.Get("resource"), 10, 64); err == nil {
		f.ResourceID = id
	}
	return f
}

func (s *Server) apiCases(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	cs, err := s.gov.Cases(r.Context(), *p, caseFilter(r))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"cases": cs})
}

func (s *Server) apiCase(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, err := s.gov.Case(r.Context(), *p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

type caseStepInput struct {
	Step string `json:"step"`
	Note string `json:"note"`
}

func (s *Server) apiCaseStep(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in caseStepInput
	if err := decode(r, &in); err != nil {
		s.deny(w, r, governance.ActionCaseStep, "case", strconv.FormatInt(id, 10), err)
		return
	}
	c, err := s.gov.Advance(r.Context(), *p, id, governance.CaseStep(in.Step), in.Note)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// API: negative list.

func (s *Server) apiNegativePublished(w http.ResponseWriter, r *http.Request) {
	list, err := s.gov.NegativeList(r.Context(), governance.NLApproved)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for i := range list {
		list[i].Steps = nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": list})
}

func (s *Server) apiNegativeEntries(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	list, err := s.gov.NegativeList(r.Context(), governance.NegativeState(r.URL.Query().Get("state")))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": list})
}

func (s *Server) apiNegativeRequest(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	var in governance.NegativeRequest
	if err := decode(r, &in); err != nil {
		s.refuseBody(w, r, governance.ActionNegativeRequest, "resource", err)
		return
	}
	n, err := s.gov.RequestNegative(r.Context(), *p, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, n)
}

func (s *Server) apiNegativeStep(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in governance.NegativeAction
	if err := decode(r, &in); err != nil {
		s.deny(w, r, governance.ActionNegativeStep, "negative_entry", strconv.FormatInt(id, 10), err)
		return
	}
	n, err := s.gov.AdvanceNegative(r.Context(), *p, id, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}

// API: consent.

func (s *Server) apiConsents(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.visibleResource(r.Context(), *p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	cs, err := s.gov.Consents(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	x, err := s.gov.Exclude(r.Context(), id, s.now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"consents": cs, "exclusion": x})
}

func (s *Server) apiConsentRecord(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in governance.ConsentInput
	if err := decode(r, &in); err != nil {
		s.deny(w, r, governance.ActionConsentRecord, "resource", strconv.FormatInt(id, 10), err)
		return
	}
	in.ResourceID = id
	c, err := s.gov.RecordConsent(r.Context(), *p, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

type withdrawInput struct {
	Reason string `json:"reason"`
}

func (s *Server) apiConsentWithdraw(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in withdrawInput
	if err := decode(r, &in); err != nil {
		s.deny(w, r, governance.ActionConsentWithdraw, "consent", strconv.FormatInt(id, 10), err)
		return
	}
	c, err := s.gov.WithdrawConsent(r.Context(), *p, id, in.Reason)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// Portal.

type objectionPageData struct {
	Resource *registry.Item
	Case     *governance.Case
	Ref      string
	Error    string
	Field    string
	Form     governance.RaiseInput
	Days     int
	Raised   bool
}

// objectionPage shows the lookup by reference number and, for a public
// resource named by ?resource=, the form to raise a case on it.
func (s *Server) objectionPage(w http.ResponseWriter, r *http.Request) {
	d := &objectionPageData{Days: s.gov.AnswerDays(), Ref: r.URL.Query().Get("ref")}
	if v := r.URL.Query().Get("resource"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			s.fail(w, r, apperr.New(apperr.Invalid, "web.bad_id", "value", v).OnField("resource"))
			return
		}
		it, err := s.reg.Get(r.Context(), identity.Principal{}, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.Resource = &it
		d.Form.Kind = governance.Objection
	}
	if d.Ref != "" {
		c, err := s.gov.Follow(r.Context(), d.Ref)
		if err != nil {
			_, d.Error, _ = s.message(r, err)
			s.render(w, r, http.StatusNotFound, "objection", d)
			return
		}
		d.Case = &c
	}
	s.render(w, r, http.StatusOK, "objection", d)
}

func (s *Server) objectionSubmit(w http.ResponseWriter, r *http.Request) {
	p := optionalPrincipal(r)
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, apperr.New(apperr.Invalid, "web.form_unreadable").Wrap(err))
		return
	}
	if err := checkValues(r.PostForm); err != nil {
		s.deny(w, r, governance.ActionRaise, "resource", "", err)
		return
	}
	if p.UserID != 0 && !s.checkCSRF(w, r, &p, r.PostFormValue("csrf_token")) {
		return
	}
	id, _ := strconv.ParseInt(r.PostFormValue("resource_id"), 10, 64)
	in := governance.RaiseInput{Kind: governance.CaseKind(r.PostFormValue("kind")), ResourceID: id,
		Description: r.PostFormValue("description"), Contact: r.PostFormValue("contact")}
	d := &objectionPageData{Days: s.gov.AnswerDays(), Form: in}
	if it, err := s.reg.Get(r.Context(), identity.Principal{}, id); err == nil {
		d.Resource = &it
	}
	if r.PostFormValue(honeypot) != "" {
		// Refused like any other abuse, audited, and told nothing useful.
		err := apperr.New(apperr.Invalid, "governance.rate_limited", "max", "0")
		s.deny(w, r, governance.ActionRaise, "resource", strconv.FormatInt(id, 10), err)
		return
	}
	c, err := s.gov.Raise(r.Context(), p, in, remoteIP(r))
	if err != nil {
		code, msg, field := s.message(r, err)
		if code != apperr.Invalid && code != apperr.NotFound {
			s.fail(w, r, err)
			return
		}
		d.Error, d.Field = msg, field
		s.render(w, r, http.StatusUnprocessableEntity, "objection", d)
		return
	}
	pub := c.Public()
	d.Case, d.Ref, d.Raised = &pub, c.Ref, true
	s.render(w, r, http.StatusCreated, "objection", d)
}

func (s *Server) negativeListPage(w http.ResponseWriter, r *http.Request) {
	list, err := s.gov.NegativeList(r.Context(), governance.NLApproved)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "negative_public", list)
}

// Console: cases.

type casesPageData struct {
	Cases  []governance.Case
	Filter governance.CaseFilter
}

func (s *Server) casesPage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	f := caseFilter(r)
	cs, err := s.gov.Cases(r.Context(), *p, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "cases", casesPageData{Cases: cs, Filter: f})
}

type casePageData struct {
	Case  governance.Case
	Steps []governance.CaseStep
	Error string
}

func (s *Server) casePageData(r *http.Request, p *identity.Principal, id int64) (*casePageData, error) {
	c, err := s.gov.Case(r.Context(), *p, id)
	if err != nil {
		return nil, err
	}
	return &casePageData{Case: c, Steps: s.gov.StepsFor(r.Context(), *p, c)}, nil
}

func (s *Server) casePage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.casePageData(r, p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "case", d)
}

func (s *Server) caseStep(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	_, err = s.gov.Advance(r.Context(), *p, id, governance.CaseStep(r.PostFormValue("step")), r.PostFormValue("note"))
	if err != nil {
		msg, ok := s.fixable(r, err)
		if !ok {
			s.fail(w, r, err)
			return
		}
		d, derr := s.casePageData(r, p, id)
		if derr != nil {
			s.fail(w, r, derr)
			return
		}
		d.Error = msg
		s.render(w, r, http.StatusUnprocessableEntity, "case", d)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/cases/%d", id), http.StatusSeeOther)
}

// Console: negative list.

type negativePageData struct {
	Entries   []governance.NegativeEntry
	Resources []registry.Item
	Entry     *governance.NegativeEntry
	Steps     []governance.NegativeStep
	Orgs      []identity.Org
	Error     string
}

func (s *Server) negativePageData(r *http.Request, p *identity.Principal, id int64) (*negativePageData, error) {
	ctx := r.Context()
	d := &negativePageData{}
	var err error
	if id == 0 {
		if d.Entries, err = s.gov.NegativeList(ctx, ""); err != nil {
			return nil, err
		}
		if p.Has(identity.RoleDepartment) {
			items, err := s.reg.List(ctx, *p, registry.Filter{Kind: registry.KindResource, OrgID: p.OrgID})
			if err != nil {
				return nil, err
			}
			d.Resources = items
		}
		return d, nil
	}
	n, err := s.gov.Negative(ctx, id)
	if err != nil {
		return nil, err
	}
	d.Entry = &n
	d.Steps = s.gov.NegativeStepsFor(ctx, *p, n)
	if p.Has(identity.RoleAuthority) {
		if d.Orgs, err = s.ids.Orgs(ctx, identity.OrgFilter{Type: identity.OrgDepartment}); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (s *Server) negativePage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	var id int64
	if v := r.PathValue("id"); v != "" {
		var err error
		if id, err = pathID(r, "id"); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	d, err := s.negativePageData(r, p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "negative", d)
}

func (s *Server) negativeFormError(w http.ResponseWriter, r *http.Request, p *identity.Principal, id int64, err error) {
	msg, ok := s.fixable(r, err)
	if !ok {
		s.fail(w, r, err)
		return
	}
	d, derr := s.negativePageData(r, p, id)
	if derr != nil {
		s.fail(w, r, derr)
		return
	}
	d.Error = msg
	s.render(w, r, http.StatusUnprocessableEntity, "negative", d)
}

func (s *Server) negativeRequest(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	rid, _ := strconv.ParseInt(r.PostFormValue("resource_id"), 10, 64)
	n, err := s.gov.RequestNegative(r.Context(), *p, governance.NegativeRequest{ResourceID: rid, Basis: r.PostFormValue("basis")})
	if err != nil {
		s.negativeFormError(w, r, p, 0, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/negative/%d", n.ID), http.StatusSeeOther)
}

func (s *Server) negativeStep(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	a := governance.NegativeAction{Step: governance.NegativeStep(r.PostFormValue("step")), Note: r.PostFormValue("note")}
	a.OrgID, _ = strconv.ParseInt(r.PostFormValue("org_id"), 10, 64)
	if r.PostFormValue("meeting") != "" || r.PostFormValue("decision") != "" {
		date, _ := time.Parse(time.DateOnly, r.PostFormValue("decision_date"))
		a.Decision = &governance.Decision{Meeting: r.PostFormValue("meeting"), Date: date, Text: r.PostFormValue("decision"), Ref: r.PostFormValue("decision_ref")}
	}
	if _, err := s.gov.AdvanceNegative(r.Context(), *p, id, a); err != nil {
		s.negativeFormError(w, r, p, id, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/negative/%d", id), http.StatusSeeOther)
}

// Console: consent, from the resource's data page.

func (s *Server) consentRecord(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	in := governance.ConsentInput{ResourceID: id, DocumentRef: r.PostFormValue("document_ref"), Scope: r.PostFormValue("scope")}
	in.GrantedOn, _ = time.ParseInLocation(time.DateOnly, r.PostFormValue("granted_on"), shanghai)
	if v := strings.TrimSpace(r.PostFormValue("expires_on")); v != "" {
		if x, err := time.Parse(time.DateOnly, v); err == nil {
			in.ExpiresOn = &x
		}
	}
	if _, err := s.gov.RecordConsent(r.Context(), *p, in); err != nil {
		s.supplyFormError(w, r, p, id, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/registry/%d/data#consent", id), http.StatusSeeOther)
}

func (s *Server) consentWithdraw(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cid, err := pathID(r, "cid")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.gov.WithdrawConsent(r.Context(), *p, cid, r.PostFormValue("reason")); err != nil {
		s.supplyFormError(w, r, p, id, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/registry/%d/data#consent", id), http.StatusSeeOther)
}
