package governance

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/store"
)

// NegativeState is where a negative-list entry is (R5.2): a department
// requests, the authority reviews (consulting other departments as it
// sees fit) and submits, the government decides. Only an approved entry
// keeps the resource out of authorized operation; a later decision may
// lift it.
type NegativeState string

const (
	NLRequested NegativeState = "requested"
	NLReviewing NegativeState = "reviewing"
	NLSubmitted NegativeState = "submitted"
	NLApproved  NegativeState = "approved"
	NLRejected  NegativeState = "rejected"
	NLWithdrawn NegativeState = "withdrawn"
	NLLifted    NegativeState = "lifted"
)

// NegativeStep is an action on an entry.
type NegativeStep string

const (
	NLStepReview   NegativeStep = "review"
	NLStepConsult  NegativeStep = "consult"
	NLStepSubmit   NegativeStep = "submit"
	NLStepApprove  NegativeStep = "approve"
	NLStepReject   NegativeStep = "reject"
	NLStepWithdraw NegativeStep = "withdraw"
	NLStepLift     NegativeStep = "lift"
)

// who may take each step, and from which states.
var negativeMoves = map[NegativeStep]struct {
	from []NegativeState
	to   NegativeState
	by   string // holder, authority or government
}{
	NLStepReview:   {[]NegativeState{NLRequested}, NLReviewing, "authority"},
	NLStepConsult:  {[]NegativeState{NLReviewing}, NLReviewing, "authority"},
	NLStepSubmit:   {[]NegativeState{NLReviewing}, NLSubmitted, "authority"},
	NLStepApprove:  {[]NegativeState{NLSubmitted}, NLApproved, "government"},
	NLStepReject:   {[]NegativeState{NLSubmitted}, NLRejected, "government"},
	NLStepWithdraw: {[]NegativeState{NLRequested, NLReviewing}, NLWithdrawn, "holder"},
	NLStepLift:     {[]NegativeState{NLApproved}, NLLifted, "government"},
}

// negativeActions is the authorization action behind each party of the
// procedure, decided on the resource's holder and region (R4.1).
var negativeActions = map[string]identity.Action{
	"authority":  identity.ActNegativeReview,
	"government": identity.ActNegativeDecide,
	"holder":     identity.ActNegativeRequest,
}

// NegativeEntry is one entry of the negative list.
type NegativeEntry struct {
	ID           int64         `json:"id"`
	Code         string        `json:"code"`
	ResourceID   int64         `json:"resource_id"`
	ResourceCode string        `json:"resource_code"`
	ResourceName string        `json:"resource_name"`
	HolderOrgID  int64         `json:"holder_org_id"`
	Basis        string        `json:"basis"`
	State        NegativeState `json:"state"`
	RequestedAt  time.Time     `json:"requested_at"`
	DecidedAt    *time.Time    `json:"decided_at,omitempty"`
	Decision     *Decision     `json:"decision,omitempty"`
	LiftedAt     *time.Time    `json:"lifted_at,omitempty"`
	Reason       string        `json:"reason,omitempty"`
	Steps        []Step        `json:"steps,omitempty"`
}

// Decision is the government's decision record.
type Decision struct {
	Meeting string    `json:"meeting"`
	Date    time.Time `json:"date"`
	Text    string    `json:"decision"`
	Ref     string    `json:"document_ref"`
}

// negativeCode is the entry's public number.
func negativeCode(id int64) string { return fmt.Sprintf("FMQD-%04d", id) }

// NegativeRequest asks for a resource to stay out of authorized operation.
type NegativeRequest struct {
	ResourceID int64  `json:"resource_id"`
	Basis      string `json:"basis"`
}

// NegativeAction is a step with what it needs: a note (the consulted
// department's opinion, a reason), the consulted department, or the
// decision record.
type NegativeAction struct {
	Step     NegativeStep `json:"step"`
	Note     string       `json:"note,omitempty"`
	OrgID    int64        `json:"org_id,omitempty"`
	Decision *Decision    `json:"decision,omitempty"`
}

// Audit actions of the negative list.
const (
	ActionNegativeRequest = "governance.negative_request"
	ActionNegativeStep    = "governance.negative_step"
)

// RequestNegative records a department's request, with its policy basis.
func (s *Service) RequestNegative(ctx context.Context, p identity.Principal, in NegativeRequest) (NegativeEntry, error) {
	e := entry(p, ActionNegativeRequest, "resource", in.ResourceID)
	var out NegativeEntry
	err := s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		r, err := s.resources.Resource(ctx, in.ResourceID)
		if err != nil {
			return err
		}
		if !s.may(p, identity.ActNegativeRequest, r, 0) {
			return apperr.New(apperr.Forbidden, "governance.holder_only", "resource", r.Code)
		}
		basis, err := text("basis", in.Basis, 6, 2000)
		if err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM gov_negative WHERE resource_id = ? AND state IN ('requested', 'reviewing', 'submitted', 'approved')`,
			r.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return apperr.New(apperr.Conflict, "governance.negative_exists", "resource", r.Code)
		}
		now := s.clock()
		id, err := tx.InsertID(ctx, `INSERT INTO gov_negative (resource_id, holder_org_id, basis, state, requested_by, requested_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, r.ID, r.HolderOrgID, basis, string(NLRequested), p.Login, now, now)
		if err != nil {
			return fmt.Errorf("negative list request for %s: %w", r.Code, err)
		}
		if err := s.negativeStep(ctx, tx, id, "request", p, 0, basis); err != nil {
			return err
		}
		e.ObjectType, e.ObjectID = "negative_entry", strconv.FormatInt(id, 10)
		e.Set("resource", r.Code)
		out, err = s.loadNegative(ctx, tx, id)
		return err
	})
	return out, err
}

func (s *Service) negativeStep(ctx context.Context, tx *store.Tx, id int64, step string, p identity.Principal, org int64, note string) error {
	_, err := tx.Exec(ctx, `INSERT INTO gov_negative_steps (entry_id, step, org_id, actor_login, note, at) VALUES (?, ?, ?, ?, ?, ?)`,
		id, step, org, p.Login, note, s.clock())
	return err
}

const negativeColumns = `id, resource_id, holder_org_id, basis, state, requested_at, decided_at, decision_meeting, decision_date,
	decision, decision_ref, lifted_at, reason`

func (s *Service) scanNegative(ctx context.Context, sc scanner) (NegativeEntry, error) {
	var n NegativeEntry
	var state string
	var decided, ddate, lifted sql.NullTime
	var d Decision
	if err := sc(&n.ID, &n.ResourceID, &n.HolderOrgID, &n.Basis, &state, &n.RequestedAt, &decided, &d.Meeting, &ddate,
		&d.Text, &d.Ref, &lifted, &n.Reason); err != nil {
		return n, err
	}
	n.Code, n.State, n.RequestedAt = negativeCode(n.ID), NegativeState(state), n.RequestedAt.UTC()
	n.DecidedAt, n.LiftedAt = nullTime(decided), nullTime(lifted)
	if ddate.Valid {
		d.Date = ddate.Time.UTC()
		n.Decision = &d
	}
	if r, err := s.resources.Resource(ctx, n.ResourceID); err == nil {
		n.ResourceCode, n.ResourceName = r.Code, r.Name
	}
	return n, nil
}

func (s *Service) loadNegative(ctx context.Context, q querier, id int64) (NegativeEntry, error) {
	n, err := s.scanNegative(ctx, q.QueryRow(ctx, `SELECT `+negativeColumns+` FROM gov_negative WHERE id = ?`, id).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return n, apperr.New(apperr.NotFound, "governance.no_negative")
	}
	if err != nil {
		return n, fmt.Errorf("negative entry %d: %w", id, err)
	}
	rows, err := q.Query(ctx, `SELECT step, org_id, actor_login, note, at FROM gov_negative_steps WHERE entry_id = ? ORDER BY id`, id)
	if err != nil {
		return n, err
	}
	defer rows.Close()
	for rows.Next() {
		var st Step
		if err := rows.Scan(&st.Step, &st.OrgID, &st.Login, &st.Note, &st.At); err != nil {
			return n, err
		}
		st.At = st.At.UTC()
		n.Steps = append(n.Steps, st)
	}
	return n, rows.Err()
}

// Negative returns one entry with its steps.
func (s *Service) Negative(ctx context.Context, id int64) (NegativeEntry, error) {
	return s.loadNegative(ctx, s.db, id)
}

// AdvanceNegative takes a step on an entry: the authority reviews,
// records consultations and submits; the government approves, rejects or
// later lifts, each with its decision record; the requesting department
// may withdraw before submission.
func (s *Service) AdvanceNegative(ctx context.Context, p identity.Principal, id int64, a NegativeAction) (NegativeEntry, error) {
	e := entry(p, ActionNegativeStep, "negative_entry", id)
	e.Set("step", string(a.Step))
	var out NegativeEntry
	err := s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		n, err := s.loadNegative(ctx, tx, id)
		if err != nil {
			return err
		}
		move, ok := negativeMoves[a.Step]
		if !ok {
			return apperr.New(apperr.Invalid, "governance.bad_step", "step", string(a.Step)).OnField("step")
		}
		r, err := s.resources.Resource(ctx, n.ResourceID)
		if err != nil {
			return err
		}
		if !s.may(p, negativeActions[move.by], r, 0) {
			return apperr.New(apperr.Forbidden, "governance."+move.by+"_only", "resource", r.Code)
		}
		legal := false
		for _, f := range move.from {
			legal = legal || f == n.State
		}
		if !legal {
			return apperr.New(apperr.Conflict, "governance.negative_bad_move", "step", "@governance.nl_step."+string(a.Step),
				"state", "@governance.nl_state."+string(n.State))
		}
		now := s.clock()
		note := strings.TrimSpace(a.Note)
		set := "state = ?, updated_at = ?"
		args := []any{string(move.to), now}
		switch a.Step {
		case NLStepReview:
			set += ", reviewed_at = ?"
			args = append(args, now)
		case NLStepConsult:
			if a.OrgID == 0 {
				return apperr.New(apperr.Invalid, "governance.consult_org_required").OnField("org_id")
			}
			if note, err = text("opinion", note, 2, 2000); err != nil {
				return err
			}
			e.Set("org", a.OrgID)
		case NLStepSubmit:
			set += ", submitted_at = ?"
			args = append(args, now)
		case NLStepApprove, NLStepReject, NLStepLift:
			d, err := checkDecision(a.Decision)
			if err != nil {
				return err
			}
			if a.Step == NLStepLift {
				set += ", lifted_at = ?"
				args = append(args, now)
			} else {
				set += ", decided_at = ?"
				args = append(args, now)
			}
			set += ", decision_meeting = ?, decision_date = ?, decision = ?, decision_ref = ?"
			args = append(args, d.Meeting, d.Date, d.Text, d.Ref)
			e.Set("meeting", d.Meeting)
			e.Set("decision_ref", d.Ref)
			note = d.Text
		case NLStepWithdraw:
			if note, err = text("reason", note, 2, 1000); err != nil {
				return err
			}
			set += ", reason = ?"
			args = append(args, note)
		}
		args = append(args, id, string(n.State))
		res, err := tx.Exec(ctx, `UPDATE gov_negative SET `+set+` WHERE id = ? AND state = ?`, args...)
		if err != nil {
			return fmt.Errorf("negative entry %d %s: %w", id, a.Step, err)
		}
		if k, _ := res.RowsAffected(); k != 1 {
			return apperr.New(apperr.Conflict, "governance.case_changed")
		}
		if err := s.negativeStep(ctx, tx, id, string(a.Step), p, a.OrgID, note); err != nil {
			return err
		}
		e.Set("resource", n.ResourceCode)
		out, err = s.loadNegative(ctx, tx, id)
		return err
	})
	return out, err
}

func checkDecision(d *Decision) (Decision, error) {
	if d == nil {
		return Decision{}, apperr.New(apperr.Invalid, "governance.decision_required").OnField("decision")
	}
	var err error
	out := *d
	if out.Meeting, err = text("meeting", d.Meeting, 2, 200); err != nil {
		return out, err
	}
	if out.Text, err = text("decision", d.Text, 2, 2000); err != nil {
		return out, err
	}
	if out.Ref, err = text("document_ref", d.Ref, 2, 200); err != nil {
		return out, err
	}
	if d.Date.IsZero() {
		return out, apperr.New(apperr.Invalid, "governance.required", "field", "@governance.field.decision_date").OnField("decision.date")
	}
	out.Date = d.Date.UTC()
	return out, nil
}

// NegativeList lists entries: all of them for the console (state empty),
// or the approved ones, which the portal publishes.
func (s *Service) NegativeList(ctx context.Context, state NegativeState) ([]NegativeEntry, error) {
	q := `SELECT ` + negativeColumns + ` FROM gov_negative`
	var args []any
	if state != "" {
		q += ` WHERE state = ?`
		args = append(args, string(state))
	}
	rows, err := s.db.Query(ctx, q+` ORDER BY id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("negative list: %w", err)
	}
	defer rows.Close()
	out := []NegativeEntry{}
	for rows.Next() {
		n, err := s.scanNegative(ctx, rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// NegativeStepsFor lists the steps p may take on n now.
func (s *Service) NegativeStepsFor(ctx context.Context, p identity.Principal, n NegativeEntry) []NegativeStep {
	var out []NegativeStep
	for _, step := range []NegativeStep{NLStepReview, NLStepConsult, NLStepSubmit, NLStepApprove, NLStepReject, NLStepWithdraw, NLStepLift} {
		move := negativeMoves[step]
		if r, err := s.resources.Resource(ctx, n.ResourceID); err != nil || !s.may(p, negativeActions[move.by], r, 0) {
			continue
		}
		for _, f := range move.from {
			if f == n.State {
				out = append(out, step)
			}
		}
	}
	return out
}
