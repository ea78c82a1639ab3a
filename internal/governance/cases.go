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

// CaseKind says what a case asks of the department.
type CaseKind string

const (
	// Correction (问题数据纠错): a value is wrong and should be fixed.
	Correction CaseKind = "correction"
	// Objection (异议): the raiser disputes the data and asks for a check.
	Objection CaseKind = "objection"
)

// Source is who raised a case.
type Source string

const (
	FromPublic   Source = "public"
	FromOperator Source = "operator"
	FromRule     Source = "rule"
)

// CaseState is where a case is in its life cycle:
// raised → accepted → verifying → corrected | rejected → closed.
type CaseState string

const (
	Raised    CaseState = "raised"
	Accepted  CaseState = "accepted"
	Verifying CaseState = "verifying"
	Corrected CaseState = "corrected"
	Rejected  CaseState = "rejected"
	Closed    CaseState = "closed"
)

// CaseStep is an action on a case.
type CaseStep string

const (
	StepAccept  CaseStep = "accept"
	StepVerify  CaseStep = "verify"
	StepCorrect CaseStep = "correct"
	StepReject  CaseStep = "reject"
	StepClose   CaseStep = "close"
)

// caseMoves lists the legal transitions.
var caseMoves = map[CaseStep]struct {
	from []CaseState
	to   CaseState
}{
	StepAccept:  {[]CaseState{Raised}, Accepted},
	StepVerify:  {[]CaseState{Accepted}, Verifying},
	StepCorrect: {[]CaseState{Verifying}, Corrected},
	StepReject:  {[]CaseState{Raised, Accepted, Verifying}, Rejected},
	StepClose:   {[]CaseState{Corrected, Rejected}, Closed},
}

// open says the department still owes an answer.
func (st CaseState) open() bool { return st == Raised || st == Accepted || st == Verifying }

// Case is one correction or objection.
type Case struct {
	ID          int64      `json:"id"`
	Ref         string     `json:"ref"`
	Kind        CaseKind   `json:"kind"`
	ResourceID  int64      `json:"resource_id"`
	ResourceRef string     `json:"resource_code"`
	HolderOrgID int64      `json:"holder_org_id"`
	Source      Source     `json:"source"`
	RaiserUser  int64      `json:"raiser_user_id,omitempty"`
	RaiserOrg   int64      `json:"raiser_org_id,omitempty"`
	Contact     string     `json:"contact,omitempty"`
	Description string     `json:"description"`
	Rule        string     `json:"rule,omitempty"`
	State       CaseState  `json:"state"`
	RaisedAt    time.Time  `json:"raised_at"`
	DueOn       time.Time  `json:"due_on"`
	Assumed     []int      `json:"calendar_assumed_years,omitempty"`
	AcceptedAt  *time.Time `json:"accepted_at,omitempty"`
	VerifyingAt *time.Time `json:"verifying_at,omitempty"`
	AnsweredAt  *time.Time `json:"answered_at,omitempty"`
	ClosedAt    *time.Time `json:"closed_at,omitempty"`
	EscalatedAt *time.Time `json:"escalated_at,omitempty"`
	Answer      string     `json:"answer,omitempty"`
	Overdue     bool       `json:"overdue"`
	Steps       []Step     `json:"steps,omitempty"`
}

// Step is one recorded action on a case or a negative-list entry.
type Step struct {
	Step  string    `json:"step"`
	Login string    `json:"by,omitempty"`
	OrgID int64     `json:"org_id,omitempty"`
	Note  string    `json:"note,omitempty"`
	At    time.Time `json:"at"`
}

// Public is the case as anyone holding its reference number sees it: no
// contact, no raiser.
func (c Case) Public() Case {
	c.Contact, c.RaiserUser, c.RaiserOrg = "", 0, 0
	for i := range c.Steps {
		c.Steps[i].Login = ""
	}
	return c
}

// RaiseInput is a new case.
type RaiseInput struct {
	Kind        CaseKind `json:"kind"`
	ResourceID  int64    `json:"resource_id"`
	Description string   `json:"description"`
	// Contact is required from the public (a phone number or an email
	// address), so that the department can ask and answer.
	Contact string `json:"contact,omitempty"`
}

// Audit actions.
const (
	ActionRaise    = "governance.case_raise"
	ActionCaseStep = "governance.case_step"
	ActionEscalate = "governance.case_escalate"
	ActionCaseRead = "governance.case_read"
)

// Raise records a case from a person: the public (p anonymous, with a
// contact and the caller's address, rate-limited), or a signed-in user of
// an operator or any other organisation. It is routed to the holding
// department with its deadline in working days.
func (s *Service) Raise(ctx context.Context, p identity.Principal, in RaiseInput, remoteAddr string) (Case, error) {
	e := entry(p, ActionRaise, "resource", in.ResourceID)
	e.Set("kind", string(in.Kind))
	src := FromPublic
	if p.UserID != 0 {
		src = FromOperator
	}
	e.Set("source", string(src))
	var c Case
	err := s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		if in.Kind != Correction && in.Kind != Objection {
			return apperr.New(apperr.Invalid, "governance.bad_kind").OnField("kind")
		}
		desc, err := text("description", in.Description, 10, 2000)
		if err != nil {
			return err
		}
		r, err := s.resources.Resource(ctx, in.ResourceID)
		if err != nil {
			return err
		}
		if src == FromPublic && !r.Public {
			return apperr.New(apperr.NotFound, "governance.no_resource").OnField("resource_id")
		}
		contact := strings.TrimSpace(in.Contact)
		if src == FromPublic {
			if contact, err = checkContact(contact); err != nil {
				return err
			}
			if err := s.rateLimit(ctx, tx, remoteAddr, contact); err != nil {
				return err
			}
		}
		c, err = s.insertCase(ctx, tx, r, in.Kind, src, p, contact, remoteAddr, desc, "")
		if err != nil {
			return err
		}
		e.ObjectType, e.ObjectID = "case", strconv.FormatInt(c.ID, 10)
		e.Set("ref", c.Ref)
		e.Set("resource", r.Code)
		return nil
	})
	return c, err
}

// RaiseFromRule records a case raised by a failing quality rule, as the
// system; one open case per resource and rule at a time.
func (s *Service) RaiseFromRule(ctx context.Context, resourceID int64, rule, description string) (Case, bool, error) {
	e := audit.Entry{Actor: audit.System, Action: ActionRaise, ObjectType: "resource", ObjectID: strconv.FormatInt(resourceID, 10)}
	e.Set("source", string(FromRule))
	e.Set("rule", rule)
	var c Case
	created := false
	err := s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM gov_cases WHERE resource_id = ? AND rule_name = ? AND state IN ('raised', 'accepted', 'verifying')`,
			resourceID, rule).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		r, err := s.resources.Resource(ctx, resourceID)
		if err != nil {
			return err
		}
		c, err = s.insertCase(ctx, tx, r, Correction, FromRule, identity.Principal{}, "", "", description, rule)
		if err != nil {
			return err
		}
		created = true
		e.ObjectType, e.ObjectID = "case", strconv.FormatInt(c.ID, 10)
		e.Set("ref", c.Ref)
		return nil
	})
	return c, created, err
}

// checkContact accepts a mainland mobile number or an email address.
func checkContact(v string) (string, error) {
	if v == "" {
		return "", apperr.New(apperr.Invalid, "governance.contact_required").OnField("contact")
	}
	if len(v) > 100 {
		return "", apperr.New(apperr.Invalid, "governance.bad_contact").OnField("contact")
	}
	if isMobile(v) {
		return v, nil
	}
	at := strings.IndexByte(v, '@')
	if at > 0 && at < len(v)-3 && strings.Contains(v[at:], ".") && !strings.ContainsAny(v, " \t<>\"'") {
		return strings.ToLower(v), nil
	}
	return "", apperr.New(apperr.Invalid, "governance.bad_contact").OnField("contact")
}

func isMobile(v string) bool {
	if len(v) != 11 || v[0] != '1' || v[1] < '3' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// rateLimit bounds the public cases from one address and one contact in
// an hour. Each count is one statement in the store (an upsert that
// returns the new count), so that concurrent requests, on one server or
// several sharing PostgreSQL, cannot all see room: the row's lock orders
// them. The count is part of tx, so a refused or failed raise does not
// count.
func (s *Service) rateLimit(ctx context.Context, tx *store.Tx, addr, contact string) error {
	now := s.clock()
	since := now.Add(-time.Hour)
	for _, q := range []struct{ scope, v string }{{"case_address", addr}, {"case_contact", contact}} {
		if q.v == "" {
			continue
		}
		var n int
		if err := tx.QueryRow(ctx, `INSERT INTO rate_counters (scope, subject, window_start, n) VALUES (?, ?, ?, 1)
			ON CONFLICT (scope, subject) DO UPDATE SET
				n = CASE WHEN rate_counters.window_start <= ? THEN 1 ELSE rate_counters.n + 1 END,
				window_start = CASE WHEN rate_counters.window_start <= ? THEN excluded.window_start ELSE rate_counters.window_start END
			RETURNING n`, q.scope, q.v, now, since, since).Scan(&n); err != nil {
			return fmt.Errorf("rate limit: %w", err)
		}
		if n > s.opts.PublicPerHour {
			return apperr.New(apperr.Invalid, "governance.rate_limited", "max", strconv.Itoa(s.opts.PublicPerHour))
		}
	}
	return nil
}

func (s *Service) insertCase(ctx context.Context, tx *store.Tx, r Resource, kind CaseKind, src Source, p identity.Principal,
	contact, addr, desc, rule string) (Case, error) {
	now := s.clock()
	due := s.cal.Add(today(now), s.opts.AnswerDays)
	c := Case{Ref: newRef(now), Kind: kind, ResourceID: r.ID, ResourceRef: r.Code, HolderOrgID: r.HolderOrgID, Source: src,
		RaiserUser: p.UserID, RaiserOrg: p.OrgID, Contact: contact, Description: desc, Rule: rule, State: Raised,
		RaisedAt: now, DueOn: due.Date, Assumed: due.Assumed}
	var assumed []string
	for _, y := range due.Assumed {
		assumed = append(assumed, strconv.Itoa(y))
	}
	id, err := tx.InsertID(ctx, `INSERT INTO gov_cases (ref, kind, resource_id, holder_org_id, source, raiser_user_id, raiser_org_id,
		contact, remote_addr, description, rule_name, state, raised_at, due_on, assumed_years, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.Ref, string(kind), r.ID, r.HolderOrgID, string(src), p.UserID, p.OrgID, contact, addr, desc, rule, string(Raised),
		now, c.DueOn, strings.Join(assumed, ","), now)
	if err != nil {
		return c, fmt.Errorf("raise case on %s: %w", r.Code, err)
	}
	c.ID = id
	return c, s.caseStep(ctx, tx, id, "raise", p, "")
}

func (s *Service) caseStep(ctx context.Context, tx *store.Tx, id int64, step string, p identity.Principal, note string) error {
	_, err := tx.Exec(ctx, `INSERT INTO gov_case_steps (case_id, step, actor_user_id, actor_login, note, at) VALUES (?, ?, ?, ?, ?, ?)`,
		id, step, p.UserID, p.Login, note, s.clock())
	return err
}

const caseColumns = `id, ref, kind, resource_id, holder_org_id, source, raiser_user_id, raiser_org_id, contact, description, rule_name,
	state, raised_at, due_on, assumed_years, accepted_at, verifying_at, answered_at, closed_at, escalated_at, answer`

type scanner func(...any) error

func nullTime(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

func (s *Service) scanCase(sc scanner) (Case, error) {
	var c Case
	var kind, src, state, assumed string
	var acc, ver, ans, clo, esc sql.NullTime
	if err := sc(&c.ID, &c.Ref, &kind, &c.ResourceID, &c.HolderOrgID, &src, &c.RaiserUser, &c.RaiserOrg, &c.Contact,
		&c.Description, &c.Rule, &state, &c.RaisedAt, &c.DueOn, &assumed, &acc, &ver, &ans, &clo, &esc, &c.Answer); err != nil {
		return c, err
	}
	c.Kind, c.Source, c.State = CaseKind(kind), Source(src), CaseState(state)
	c.RaisedAt, c.DueOn = c.RaisedAt.UTC(), c.DueOn.UTC()
	c.AcceptedAt, c.VerifyingAt, c.AnsweredAt, c.ClosedAt, c.EscalatedAt = nullTime(acc), nullTime(ver), nullTime(ans), nullTime(clo), nullTime(esc)
	for _, y := range strings.Split(assumed, ",") {
		if n, err := strconv.Atoi(y); err == nil {
			c.Assumed = append(c.Assumed, n)
		}
	}
	c.Overdue = c.State.open() && today(s.now()).After(c.DueOn)
	return c, nil
}

type querier interface {
	QueryRow(ctx context.Context, query string, args ...any) *sql.Row
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Service) loadCase(ctx context.Context, q querier, where string, arg any) (Case, error) {
	c, err := s.scanCase(q.QueryRow(ctx, `SELECT `+caseColumns+` FROM gov_cases WHERE `+where, arg).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return c, apperr.New(apperr.NotFound, "governance.no_case")
	}
	if err != nil {
		return c, fmt.Errorf("case: %w", err)
	}
	rows, err := q.Query(ctx, `SELECT step, actor_login, note, at FROM gov_case_steps WHERE case_id = ? ORDER BY id`, c.ID)
	if err != nil {
		return c, fmt.Errorf("case %s steps: %w", c.Ref, err)
	}
	defer rows.Close()
	for rows.Next() {
		var st Step
		if err := rows.Scan(&st.Step, &st.Login, &st.Note, &st.At); err != nil {
			return c, err
		}
		st.At = st.At.UTC()
		c.Steps = append(c.Steps, st)
	}
	if r, err := s.resources.Resource(ctx, c.ResourceID); err == nil {
		c.ResourceRef = r.Code
	}
	return c, rows.Err()
}

// Follow returns a case by its reference number, as its raiser sees it
// without an account.
func (s *Service) Follow(ctx context.Context, ref string) (Case, error) {
	ref = strings.ToUpper(strings.TrimSpace(ref))
	if len(ref) < 8 || len(ref) > 20 {
		return Case{}, apperr.New(apperr.NotFound, "governance.no_case")
	}
	c, err := s.loadCase(ctx, s.db, "ref = ?", ref)
	if err != nil {
		return Case{}, err
	}
	return c.Public(), nil
}

// caseCan says whether p may take action a on case c: the holding
// department and the agency of its region answer (identity.ActCaseHandle),
// the authority of its region oversees, the signed-in raiser follows.
func (s *Service) caseCan(ctx context.Context, p identity.Principal, a identity.Action, c Case) bool {
	r, err := s.resources.Resource(ctx, c.ResourceID)
	return err == nil && s.may(p, a, r, c.RaiserUser)
}

// Case returns a case to those who may see it: the holding department,
// the agency and the authority of its region, and the user who raised it.
// The objector's contact is personal data and stays with the handler.
func (s *Service) Case(ctx context.Context, p identity.Principal, id int64) (Case, error) {
	c, err := s.loadCase(ctx, s.db, "id = ?", id)
	if err != nil {
		return Case{}, err
	}
	if !s.caseCan(ctx, p, identity.ActCaseRead, c) {
		e := entry(p, ActionCaseRead, "case", id)
		return Case{}, s.log.Refuse(ctx, e, apperr.New(apperr.Forbidden, "governance.case_forbidden"))
	}
	if !s.caseCan(ctx, p, identity.ActCaseContact, c) {
		c.Contact = ""
	}
	return c, nil
}

// CaseFilter selects cases for a list.
type CaseFilter struct {
	State      CaseState
	ResourceID int64
	Overdue    bool
	Escalated  bool
	Limit      int
}

// Cases lists what p may see: a department its own resources' cases, the
// agency and the authority those of their region (and below), anyone else
// the cases they raised; the objector's contact only to the handler.
func (s *Service) Cases(ctx context.Context, p identity.Principal, f CaseFilter) ([]Case, error) {
	if p.UserID == 0 {
		return nil, apperr.New(apperr.Unauthenticated, "identity.login_required")
	}
	var where []string
	var args []any
	// Bodies that see by region are filtered case by case below.
	byRegion := p.Has(identity.RoleAuthority) || p.Has(identity.RoleAgency)
	switch {
	case byRegion:
	case p.Has(identity.RoleDepartment):
		where = append(where, "holder_org_id = ?")
		args = append(args, p.OrgID)
	default:
		where = append(where, "raiser_user_id = ?")
		args = append(args, p.UserID)
	}
	if f.State != "" {
		where = append(where, "state = ?")
		args = append(args, string(f.State))
	}
	if f.ResourceID != 0 {
		where = append(where, "resource_id = ?")
		args = append(args, f.ResourceID)
	}
	if f.Escalated {
		where = append(where, "escalated_at IS NOT NULL")
	}
	if f.Overdue {
		where = append(where, "state IN ('raised', 'accepted', 'verifying') AND due_on < ?")
		args = append(args, today(s.now()))
	}
	q := `SELECT ` + caseColumns + ` FROM gov_cases`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 200
	}
	q += ` ORDER BY id DESC`
	if !byRegion {
		q += ` LIMIT ` + strconv.Itoa(limit)
	}
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("cases: %w", err)
	}
	var all []Case
	for rows.Next() {
		c, err := s.scanCase(rows.Scan)
		if err != nil {
			rows.Close()
			return nil, err
		}
		all = append(all, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := []Case{}
	held := map[int64]*Resource{}
	for _, c := range all {
		if len(out) == limit {
			break
		}
		r, ok := held[c.ResourceID]
		if !ok {
			if x, err := s.resources.Resource(ctx, c.ResourceID); err == nil {
				r = &x
			}
			held[c.ResourceID] = r
		}
		if r == nil || !s.may(p, identity.ActCaseRead, *r, c.RaiserUser) {
			continue
		}
		if !s.may(p, identity.ActCaseContact, *r, c.RaiserUser) {
			c.Contact = ""
		}
		out = append(out, c)
	}
	return out, nil
}

// Advance moves a case one step. Only the holding department (or the
// agency) answers; a rejection needs a reason and a correction a note of
// what was changed; the raiser (a signed-in user) may also close an
// answered case. Every other move is refused with the current state named.
func (s *Service) Advance(ctx context.Context, p identity.Principal, id int64, step CaseStep, note string) (Case, error) {
	e := entry(p, ActionCaseStep, "case", id)
	e.Set("step", string(step))
	var out Case
	err := s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		c, err := s.loadCase(ctx, tx, "id = ?", id)
		if err != nil {
			return err
		}
		e.Set("ref", c.Ref)
		move, ok := caseMoves[step]
		if !ok {
			return apperr.New(apperr.Invalid, "governance.bad_step", "step", string(step)).OnField("step")
		}
		if !s.caseMay(ctx, p, step, c) {
			return apperr.New(apperr.Forbidden, "governance.case_forbidden")
		}
		legal := false
		for _, f := range move.from {
			legal = legal || f == c.State
		}
		if !legal {
			return apperr.New(apperr.Conflict, "governance.case_bad_move", "step", "@governance.step."+string(step),
				"state", "@governance.state."+string(c.State))
		}
		note = strings.TrimSpace(note)
		switch step {
		case StepReject:
			if note, err = text("reason", note, 2, 1000); err != nil {
				return err
			}
		case StepCorrect:
			if note, err = text("answer", note, 2, 1000); err != nil {
				return err
			}
		}
		now := s.clock()
		set := "state = ?, updated_at = ?"
		args := []any{string(move.to), now}
		switch step {
		case StepAccept:
			set += ", accepted_at = ?"
			args = append(args, now)
		case StepVerify:
			set += ", verifying_at = ?"
			args = append(args, now)
		case StepCorrect, StepReject:
			set += ", answered_at = ?, answer = ?"
			args = append(args, now, note)
		case StepClose:
			set += ", closed_at = ?"
			args = append(args, now)
		}
		args = append(args, id, string(c.State))
		res, err := tx.Exec(ctx, `UPDATE gov_cases SET `+set+` WHERE id = ? AND state = ?`, args...)
		if err != nil {
			return fmt.Errorf("case %s %s: %w", c.Ref, step, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.New(apperr.Conflict, "governance.case_changed")
		}
		if err := s.caseStep(ctx, tx, id, string(step), p, note); err != nil {
			return err
		}
		if note != "" {
			e.Set("note", note)
		}
		out, err = s.loadCase(ctx, tx, "id = ?", id)
		return err
	})
	return out, err
}

// Escalate flags to the authority every case whose deadline passed
// without an answer (R6.2); the sweep runs as the system, once a day or
// more often, and a case is escalated once. It returns the cases it
// escalated.
func (s *Service) Escalate(ctx context.Context) ([]Case, error) {
	day := today(s.now())
	rows, err := s.db.Query(ctx, `SELECT id FROM gov_cases WHERE state IN ('raised', 'accepted', 'verifying')
		AND due_on < ? AND escalated_at IS NULL ORDER BY id`, day)
	if err != nil {
		return nil, fmt.Errorf("escalate: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []Case
	for _, id := range ids {
		e := audit.Entry{Actor: audit.System, Action: ActionEscalate, ObjectType: "case", ObjectID: strconv.FormatInt(id, 10)}
		var c Case
		err := s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
			res, err := tx.Exec(ctx, `UPDATE gov_cases SET escalated_at = ?, updated_at = ? WHERE id = ? AND escalated_at IS NULL
				AND state IN ('raised', 'accepted', 'verifying')`, s.clock(), s.clock(), id)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return nil
			}
			if err := s.caseStep(ctx, tx, id, "escalate", identity.Principal{}, ""); err != nil {
				return err
			}
			if c, err = s.loadCase(ctx, tx, "id = ?", id); err != nil {
				return err
			}
			e.Set("ref", c.Ref)
			e.Set("due_on", c.DueOn.Format(time.DateOnly))
			return nil
		})
		if err != nil {
			return out, err
		}
		if c.ID != 0 {
			out = append(out, c)
		}
	}
	return out, nil
}

// StepsFor lists the steps p may take on c now, for the console's buttons.
func (s *Service) StepsFor(ctx context.Context, p identity.Principal, c Case) []CaseStep {
	var out []CaseStep
	for _, step := range []CaseStep{StepAccept, StepVerify, StepCorrect, StepReject, StepClose} {
		if !s.caseMay(ctx, p, step, c) {
			continue
		}
		for _, f := range caseMoves[step].from {
			if f == c.State {
				out = append(out, step)
			}
		}
	}
	return out
}

// caseMay says whether p may take step on c: the handler answers; closing
// an answered case is also the raiser's and the overseeing authority's.
func (s *Service) caseMay(ctx context.Context, p identity.Principal, step CaseStep, c Case) bool {
	if step == StepClose {
		return s.caseCan(ctx, p, identity.ActCaseClose, c)
	}
	return s.caseCan(ctx, p, identity.ActCaseHandle, c)
}
