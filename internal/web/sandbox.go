package web

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/sandbox"
)

// The sandbox over HTTP (R12.1, R15, R17.1): an operator's workspaces with
// the resources in scope, their SQL names, columns and roles; queries on
// mock data or, through the policy, on real data; the job history; and
// the agency's review queue. A refusal's reason comes back in the caller's
// language with its stable code.

// localize renders a sandbox reason in the caller's language.
func (s *Server) localize(r *http.Request, rs *sandbox.Reason) {
	if rs == nil || rs.Key == "" {
		return
	}
	if msg := s.cat.T(state(r).lang, rs.Key, rs.Args); msg != "" && msg != rs.Key {
		rs.Message = msg
	}
}

// supervises says whether p may see workspace ws: its operator's members,
// or a body that may read its agreement, a decision by region (R4.1): the
// agency or authority of a city does not oversee the province's work.
func (s *Server) supervises(r *http.Request, p *identity.Principal, ws sandbox.Workspace) bool {
	return p.OrgID == ws.OperatorOrgID || s.grant.Readable(r.Context(), *p, "agreement", ws.AgreementID)
}

// workspaces lists the workspaces p sees, in p's region.
func (s *Server) workspaces(r *http.Request, p *identity.Principal) ([]sandbox.Workspace, error) {
	all, err := s.sandbox.Workspaces(r.Context(), *p)
	if err != nil {
		return nil, err
	}
	out := []sandbox.Workspace{}
	for _, ws := range all {
		if s.supervises(r, p, ws) {
			out = append(out, ws)
		}
	}
	return out, nil
}

// workspace reads one workspace, refusing (audited) one outside p's region.
func (s *Server) workspace(r *http.Request, p *identity.Principal, id int64) (sandbox.Workspace, error) {
	ws, err := s.sandbox.Workspace(r.Context(), *p, id)
	if err != nil {
		return ws, err
	}
	if !s.supervises(r, p, ws) {
		e := audit.Entry{Actor: p.Actor(), Action: sandbox.ActionReadWorkspace, ObjectType: "workspace", ObjectID: strconv.FormatInt(id, 10)}
		return sandbox.Workspace{}, s.audit.Refuse(r.Context(), e, apperr.New(apperr.Forbidden, "identity.forbidden", "action", sandbox.ActionReadWorkspace))
	}
	return ws, nil
}

func (s *Server) apiWorkspaces(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	ws, err := s.workspaces(r, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"workspaces": ws})
}

func (s *Server) apiWorkspace(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ws, err := s.workspace(r, p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ws)
}

type queryInput struct {
	SQL    string         `json:"sql"`
	Target sandbox.Target `json:"target"`
}

func (s *Server) apiQuery(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in queryInput
	if err := decode(r, &in); err != nil {
		s.deny(w, r, sandbox.ActionSubmit, "workspace", strconv.FormatInt(id, 10), err)
		return
	}
	if in.Target == "" {
		in.Target = sandbox.Mock
	}
	job, err := s.sandbox.Submit(r.Context(), *p, id, in.SQL, in.Target)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.localize(r, job.Reason)
	status := http.StatusOK
	if job.Status == sandbox.Refused {
		// A refusal is an answer, not an error: the body says why.
		status = http.StatusUnprocessableEntity
	}
	writeJSON(w, status, job)
}

func (s *Server) apiValidate(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in queryInput
	if err := decode(r, &in); err != nil {
		s.deny(w, r, sandbox.ActionSubmit, "workspace", strconv.FormatInt(id, 10), err)
		return
	}
	pv, err := s.sandbox.Validate(r.Context(), *p, id, in.SQL)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.localize(r, pv.Reason)
	writeJSON(w, http.StatusOK, pv)
}

func (s *Server) apiJobs(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.workspace(r, p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	jobs, err := s.sandbox.Jobs(r.Context(), *p, id, 100)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if jobs == nil {
		jobs = []sandbox.Job{}
	}
	for i := range jobs {
		s.localize(r, jobs[i].Reason)
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": jobs})
}

func (s *Server) apiJob(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	job, err := s.sandbox.Job(r.Context(), *p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.localize(r, job.Reason)
	writeJSON(w, http.StatusOK, job)
}

func (s *Server) apiReviewQueue(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	jobs, err := s.sandbox.ReviewQueue(r.Context(), *p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if jobs == nil {
		jobs = []sandbox.Job{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": jobs})
}

type reviewInput struct {
	Decision string `json:"decision"` // approve or reject
	Reason   string `json:"reason"`
}

func (s *Server) reviewDo(r *http.Request, p *identity.Principal, id int64, in reviewInput) (sandbox.Job, error) {
	switch in.Decision {
	case "approve":
		return s.sandbox.Approve(r.Context(), *p, id, in.Reason)
	case "reject":
		return s.sandbox.Reject(r.Context(), *p, id, in.Reason)
	}
	return sandbox.Job{}, apperr.New(apperr.Invalid, "sandbox.bad_review", "decision", in.Decision).OnField("decision")
}

func (s *Server) apiReview(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in reviewInput
	if err := decode(r, &in); err != nil {
		s.deny(w, r, sandbox.ActionApprove, "sandbox_job", strconv.FormatInt(id, 10), err)
		return
	}
	job, err := s.reviewDo(r, p, id, in)
	if err != nil {
		if e, ok := apperr.As(err); ok && e.Key == "sandbox.bad_review" {
			s.deny(w, r, sandbox.ActionApprove, "sandbox_job", strconv.FormatInt(id, 10), err)
			return
		}
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, job)
}

func (s *Server) apiWorkspaceResume(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var in reviewInput
	if err := decode(r, &in); err != nil {
		s.deny(w, r, sandbox.ActionResume, "workspace", strconv.FormatInt(id, 10), err)
		return
	}
	ws, err := s.sandbox.Resume(r.Context(), *p, id, in.Reason)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ws)
}

// Console.

type workspacePageData struct {
	Workspaces []sandbox.Workspace
	Workspace  *sandbox.Workspace
	Jobs       []sandbox.Job
	Result     *sandbox.Job
	Preview    *sandbox.Preview
	SQL        string
	Target     string
	Error      string
	Queue      []sandbox.Job
	IsAgency   bool
}

func (s *Server) workspacesPage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	d := &workspacePageData{IsAgency: p.Has(identity.RoleAgency)}
	var err error
	if d.Workspaces, err = s.workspaces(r, p); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.IsAgency {
		if d.Queue, err = s.sandbox.ReviewQueue(r.Context(), *p); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.render(w, r, http.StatusOK, "workspaces", d)
}

func (s *Server) workspaceData(r *http.Request, p *identity.Principal, id int64) (*workspacePageData, error) {
	ws, err := s.workspace(r, p, id)
	if err != nil {
		return nil, err
	}
	d := &workspacePageData{Workspace: &ws, Target: string(sandbox.Mock), IsAgency: p.Has(identity.RoleAgency)}
	if d.Jobs, err = s.sandbox.Jobs(r.Context(), *p, id, 20); err != nil {
		return nil, err
	}
	for i := range d.Jobs {
		s.localize(r, d.Jobs[i].Reason)
	}
	return d, nil
}

func (s *Server) workspacePage(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.workspaceData(r, p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "workspace", d)
}

// workspaceQuery runs or validates the editor's query and shows the
// result, or the refusal in the user's language, under the editor.
func (s *Server) workspaceQuery(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sqlText, target := r.PostFormValue("sql"), sandbox.Target(r.PostFormValue("target"))
	d, err := s.workspaceData(r, p, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.SQL, d.Target = sqlText, string(target)
	status := http.StatusOK
	if r.PostFormValue("action") == "validate" {
		pv, err := s.sandbox.Validate(r.Context(), *p, id, sqlText)
		if err != nil {
			if msg, ok := s.fixable(r, err); ok {
				d.Error = msg
				s.render(w, r, http.StatusUnprocessableEntity, "workspace", d)
				return
			}
			s.fail(w, r, err)
			return
		}
		s.localize(r, pv.Reason)
		d.Preview = &pv
	} else {
		job, err := s.sandbox.Submit(r.Context(), *p, id, sqlText, target)
		if err != nil {
			if msg, ok := s.fixable(r, err); ok {
				d.Error = msg
				s.render(w, r, http.StatusUnprocessableEntity, "workspace", d)
				return
			}
			s.fail(w, r, err)
			return
		}
		s.localize(r, job.Reason)
		d.Result = &job
		if job.Status == sandbox.Refused {
			status = http.StatusUnprocessableEntity
		}
		if d.Jobs, err = s.sandbox.Jobs(r.Context(), *p, id, 20); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.render(w, r, status, "workspace", d)
}

func (s *Server) reviewForm(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.reviewDo(r, p, id, reviewInput{Decision: r.PostFormValue("decision"), Reason: r.PostFormValue("reason")}); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/console/workspaces", http.StatusSeeOther)
}

func (s *Server) resumeForm(w http.ResponseWriter, r *http.Request, p *identity.Principal) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.sandbox.Resume(r.Context(), *p, id, r.PostFormValue("reason")); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/console/workspaces/%d", id), http.StatusSeeOther)
}
