package sandbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/store"
)

const jobCols = `id, workspace_id, agreement_id, operator_org_id, user_id, target, sql_text, fingerprint, status, code, rule, resources,
	epsilon_micros, rows_scanned, result_hash, result, manifest, signature, recipient, reviewer_id, review_reason, reviewed_at, created_at`

func scanJob(sc func(...any) error, withResult bool) (Job, error) {
	var j Job
	var target, code, resources, result, manifest string
	var reviewed sql.NullTime
	if err := sc(&j.ID, &j.WorkspaceID, &j.agreementID, &j.operatorOrgID, &j.userID, &target, &j.SQL, &j.Fingerprint, &j.Status, &code,
		&j.Rule, &resources, &j.epsMicros, &j.RowsScanned, &j.ResultHash, &result, &manifest, &j.Signature, &j.Recipient,
		&j.ReviewerID, &j.ReviewReason, &reviewed, &j.CreatedAt); err != nil {
		return Job{}, err
	}
	j.Target, j.EpsilonSpent, j.CreatedAt = Target(target), float64(j.epsMicros)/1e6, j.CreatedAt.UTC()
	if code != "" {
		j.Reason = &Reason{Code: code, Key: reasonKey(code)}
	}
	if resources != "" {
		j.Resources = strings.Split(resources, ",")
	}
	if reviewed.Valid {
		t := reviewed.Time.UTC()
		j.ReviewedAt = &t
	}
	if manifest != "" {
		var m Manifest
		if err := json.Unmarshal([]byte(manifest), &m); err == nil {
			j.Manifest = &m
		}
	}
	if result != "" {
		var r storedResult
		d := json.NewDecoder(strings.NewReader(result))
		d.UseNumber()
		if err := d.Decode(&r); err != nil {
			return Job{}, fmt.Errorf("job %d result: %w", j.ID, err)
		}
		if withResult {
			j.Columns, j.Rows = r.C, r.R
		}
		j.Privacy = r.P
		if j.Reason != nil && r.A != nil {
			j.Reason.Args = r.A
		}
	}
	return j, nil
}

// reasonKey is the message key of a stored code: policy's codes are
// "policy.<code>", the sandbox's and grant's own are kept whole.
func reasonKey(code string) string {
	switch code {
	case "halted", "budget_exceeded", "fusion_risk", "too_large", "timeout", "too_many_rows", "stopped", "bad_target",
		"mock_select_only", "engine_error", "mock_error", "held_size", "held_grade", "held_list", "rejected", "no_tables":
		return "sandbox." + code
	case "suspended", "terminated", "expired", "not_in_scope", "not_active", "not_started", "no_agreement", "excluded", "purpose_not_allowed":
		return "grant.authz." + code
	}
	return "policy." + code
}

// Jobs is a workspace's job history, newest first, without results.
func (s *Service) Jobs(ctx context.Context, p identity.Principal, workspaceID int64, limit int) ([]Job, error) {
	w, err := s.workspace(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	if !mayRead(p, w) {
		return nil, s.forbid(ctx, p, ActionReadJobs, "workspace", workspaceID)
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	return s.jobs(ctx, false, "SELECT "+jobCols+" FROM sandbox_jobs WHERE workspace_id = ? ORDER BY id DESC LIMIT ?", workspaceID, limit)
}

func (s *Service) jobs(ctx context.Context, withResult bool, q string, args ...any) ([]Job, error) {
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		j, err := scanJob(rows.Scan, withResult)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// Job returns one job; its rows only when released, or to the reviewing
// agency while held.
func (s *Service) Job(ctx context.Context, p identity.Principal, id int64) (Job, error) {
	j, err := scanJob(s.db.QueryRow(ctx, "SELECT "+jobCols+" FROM sandbox_jobs WHERE id = ?", id).Scan, true)
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, apperr.New(apperr.NotFound, KeyNotFound)
	}
	if err != nil {
		return Job{}, fmt.Errorf("job %d: %w", id, err)
	}
	own := p.OrgID == j.operatorOrgID
	reviewer := s.isReviewer(ctx, p, j.agreementID)
	if !own && !reviewer {
		return Job{}, s.forbid(ctx, p, ActionReadJob, "sandbox_job", id)
	}
	if j.Status != Released && !(reviewer && j.Status == Held) {
		j.Columns, j.Rows = nil, nil
	}
	return j, nil
}

// isReviewer: the agency that signed the agreement reviews its results.
func (s *Service) isReviewer(ctx context.Context, p identity.Principal, agreementID int64) bool {
	if !p.Has(identity.RoleAgency) {
		return false
	}
	a, err := s.grants.Agreement(ctx, p, agreementID)
	return err == nil && a.AgencyOrgID == p.OrgID
}

// ReviewQueue lists held results the agency may approve or reject, oldest
// first, with their rows.
func (s *Service) ReviewQueue(ctx context.Context, p identity.Principal) ([]Job, error) {
	if !p.Has(identity.RoleAgency) {
		return nil, s.forbid(ctx, p, ActionReviewQueue, "sandbox_job", 0)
	}
	all, err := s.jobs(ctx, true, "SELECT "+jobCols+" FROM sandbox_jobs WHERE status = ? ORDER BY id", Held)
	if err != nil {
		return nil, err
	}
	var out []Job
	for _, j := range all {
		if s.isReviewer(ctx, p, j.agreementID) {
			out = append(out, j)
		}
	}
	return out, nil
}

// Approve releases a held result with its signed manifest (audited).
func (s *Service) Approve(ctx context.Context, p identity.Principal, jobID int64, note string) (Job, error) {
	return s.review(ctx, p, jobID, true, note)
}

// Reject refuses a held result for good, with a reason (audited).
func (s *Service) Reject(ctx context.Context, p identity.Principal, jobID int64, reason string) (Job, error) {
	return s.review(ctx, p, jobID, false, reason)
}

func (s *Service) review(ctx context.Context, p identity.Principal, jobID int64, approve bool, why string) (Job, error) {
	action := ActionReject
	if approve {
		action = ActionApprove
	}
	e := audit.Entry{Actor: p.Actor(), Action: action, ObjectType: "sandbox_job", ObjectID: id64(jobID)}
	why = strings.TrimSpace(why)
	if !approve && why == "" {
		return Job{}, s.log.Refuse(ctx, e, apperr.New(apperr.Invalid, KeyReasonRequired).OnField("reason"))
	}
	j, err := scanJob(s.db.QueryRow(ctx, "SELECT "+jobCols+" FROM sandbox_jobs WHERE id = ?", jobID).Scan, true)
	if errors.Is(err, sql.ErrNoRows) {
		return Job{}, s.log.Refuse(ctx, e, apperr.New(apperr.NotFound, KeyNotFound))
	}
	if err != nil {
		return Job{}, fmt.Errorf("review job %d: %w", jobID, err)
	}
	if !s.isReviewer(ctx, p, j.agreementID) {
		return Job{}, s.log.Refuse(ctx, e, apperr.New(apperr.Forbidden, KeyForbidden))
	}
	if j.Status != Held {
		return Job{}, s.log.Refuse(ctx, e, apperr.New(apperr.Conflict, KeyNotHeld, "status", j.Status))
	}
	now := s.clock()
	err = s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		status := Rejected
		if approve {
			status = Released
		}
		res, err := tx.Exec(ctx, "UPDATE sandbox_jobs SET status = ?, reviewer_id = ?, review_reason = ?, reviewed_at = ? WHERE id = ? AND status = ?",
			status, p.UserID, why, now, jobID, Held)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, KeyNotHeld, "status", "changed")
		}
		j.Status, j.ReviewerID, j.ReviewReason, j.ReviewedAt = status, p.UserID, why, &now
		e.Set("workspace", j.WorkspaceID)
		e.Set("result_hash", j.ResultHash)
		e.Set("reason", why)
		if approve {
			return s.sign(ctx, tx, &j, now)
		}
		return nil
	})
	if err != nil {
		return Job{}, err
	}
	if !approve {
		j.Columns, j.Rows = nil, nil
	}
	return j, nil
}

// Resume lets a workspace halted on a fusion risk work again: only the
// agency that signed its agreement may, with a reason (R15.6, audited).
func (s *Service) Resume(ctx context.Context, p identity.Principal, workspaceID int64, reason string) (Workspace, error) {
	e := audit.Entry{Actor: p.Actor(), Action: ActionResume, ObjectType: "sandbox_workspace", ObjectID: id64(workspaceID)}
	reason = strings.TrimSpace(reason)
	w, err := s.workspace(ctx, workspaceID)
	if err != nil {
		return Workspace{}, s.log.Refuse(ctx, e, err)
	}
	if !s.isReviewer(ctx, p, w.AgreementID) {
		return Workspace{}, s.log.Refuse(ctx, e, apperr.New(apperr.Forbidden, KeyForbidden))
	}
	if reason == "" {
		return Workspace{}, s.log.Refuse(ctx, e, apperr.New(apperr.Invalid, KeyReasonRequired).OnField("reason"))
	}
	if w.State != StateHalted {
		return Workspace{}, s.log.Refuse(ctx, e, apperr.New(apperr.Conflict, KeyNotHalted))
	}
	err = s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		e.Set("reason", reason)
		e.Set("halted_reason", w.HaltedReason)
		_, err := tx.Exec(ctx, "UPDATE sandbox_workspaces SET state = ?, halted_reason = '', halted_at = NULL, updated_at = ? WHERE id = ?",
			StateActive, s.clock(), workspaceID)
		return err
	})
	if err != nil {
		return Workspace{}, err
	}
	return s.workspace(ctx, workspaceID)
}
