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
	"github.com/gongshu/gongshu/internal/store"
)

// SelectionState is where an operator selection stands.
type SelectionState string

const (
	SelectionOpen      SelectionState = "open"      // 遴选中
	SelectionConcluded SelectionState = "concluded" // 已确定运营机构
	SelectionFailed    SelectionState = "failed"    // 未选出 (流标)
)

// Qualification is one condition an operator must show (R10.2).
type Qualification string

const (
	QualManagement   Qualification = "management"    // 管理能力
	QualTechnical    Qualification = "technical"     // 技术能力
	QualBusiness     Qualification = "business"      // 良好的经营状况
	QualCredit       Qualification = "credit"        // 良好的商业信誉和信用记录
	QualDataSecurity Qualification = "data_security" // 符合国家数据安全要求
)

// Qualifications lists the R10.2 checklist in order.
var Qualifications = []Qualification{QualManagement, QualTechnical, QualBusiness, QualCredit, QualDataSecurity}

// Check is one checklist item of a candidate, with its evidence.
type Check struct {
	Item Qualification `json:"item"`
	Met  bool          `json:"met"`
	// Evidence references the document shown (certificate number, file, hash).
	Evidence  string    `json:"evidence"`
	Note      string    `json:"note,omitempty"`
	CheckedBy string    `json:"checked_by,omitempty"`
	CheckedAt time.Time `json:"checked_at"`
}

// Candidate is an operator taking part in a selection.
type Candidate struct {
	OperatorOrgID int64   `json:"operator_org_id"`
	Name          string  `json:"name"`
	Checklist     []Check `json:"checklist"` // in Qualifications order; unchecked items absent
	Score         *int    `json:"score,omitempty"`
	Evaluation    string  `json:"evaluation,omitempty"`
}

// Qualified reports whether every R10.2 item is met with evidence.
func (c Candidate) Qualified() bool {
	met := 0
	for _, ch := range c.Checklist {
		if ch.Met && ch.Evidence != "" {
			met++
		}
	}
	return met == len(Qualifications)
}

// Missing lists the R10.2 items not (yet) shown to be met.
func (c Candidate) Missing() []Qualification {
	var out []Qualification
	for _, q := range Qualifications {
		ok := false
		for _, ch := range c.Checklist {
			if ch.Item == q && ch.Met && ch.Evidence != "" {
				ok = true
			}
		}
		if !ok {
			out = append(out, q)
		}
	}
	return out
}

// SelectionForm opens a selection.
type SelectionForm struct {
	Title  string `json:"title"`
	Method Method `json:"method"`
	// NoticeRef points at the procurement notice (公告).
	NoticeRef string `json:"notice_ref"`
}

// Selection is the agency's selection of operators under a plan (R10.1).
type Selection struct {
	ID          int64          `json:"id"`
	PlanID      int64          `json:"plan_id"`
	Region      string         `json:"region"`
	AgencyOrgID int64          `json:"agency_org_id"`
	AgencyName  string         `json:"agency_name"`
	Title       string         `json:"title"`
	Method      Method         `json:"method"`
	NoticeRef   string         `json:"notice_ref,omitempty"`
	State       SelectionState `json:"state"`
	WinnerOrgID int64          `json:"winner_org_id,omitempty"`
	ResultNote  string         `json:"result_note,omitempty"`
	Candidates  []Candidate    `json:"candidates"`
	CreatedAt   time.Time      `json:"created_at"`
	ConcludedAt *time.Time     `json:"concluded_at,omitempty"`
}

func (sel Selection) object() identity.Object {
	return identity.Object{OrgID: sel.AgencyOrgID, Region: sel.Region}
}

func (sel Selection) candidate(orgID int64) (Candidate, bool) {
	for _, c := range sel.Candidates {
		if c.OperatorOrgID == orgID {
			return c, true
		}
	}
	return Candidate{}, false
}

// OpenSelection starts selecting operators under a plan in force, by the
// method the plan names (R10.1).
func (s *Service) OpenSelection(ctx context.Context, p identity.Principal, planID int64, f SelectionForm) (Selection, error) {
	o := newOp(p.Actor(), "selection.open", "grant_selection", 0)
	o.e.Set("plan", planID)
	pl, err := s.getPlan(ctx, s.db, planID)
	if err != nil {
		return Selection{}, s.refuse(ctx, o, err)
	}
	if err := identity.Authorize(s.regions, p, identity.ActSelectionManage, identity.Object{OrgID: p.OrgID, Region: pl.Region}); err != nil {
		return Selection{}, s.refuse(ctx, o, err)
	}
	if !pl.InForce() {
		return Selection{}, s.refuse(ctx, o, apperr.New(apperr.Conflict, "grant.plan_not_in_force", "id", id64(pl.ID), "state", "@grant.state."+string(pl.State)))
	}
	if f.Title, err = text("title", f.Title, 4, 200); err != nil {
		return Selection{}, s.refuse(ctx, o, err)
	}
	if !containsMethod(f.Method) {
		return Selection{}, s.refuse(ctx, o, apperr.New(apperr.Invalid, "grant.field_choice", "field", "@grant.field.selection_method").OnField("method"))
	}
	if f.Method != pl.Form.SelectionMethod {
		return Selection{}, s.refuse(ctx, o, apperr.New(apperr.Invalid, "grant.method_differs_from_plan",
			"method", "@grant.method."+string(pl.Form.SelectionMethod)).OnField("method"))
	}
	f.NoticeRef = strings.TrimSpace(f.NoticeRef)
	var id int64
	err = s.do(ctx, o, func(tx *store.Tx, o *op) error {
		now := s.clock()
		var err error
		id, err = tx.InsertID(ctx, `INSERT INTO grant_selections (plan_id, region_code, agency_org_id, title, method, notice_ref, state,
			created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			pl.ID, pl.Region, p.OrgID, f.Title, string(f.Method), f.NoticeRef, string(SelectionOpen), p.UserID, now, now)
		if err != nil {
			return err
		}
		o.e.ObjectID = id64(id)
		o.e.Set("method", string(f.Method))
		o.event("selection", id, "open", "", string(SelectionOpen), f.NoticeRef)
		return nil
	})
	if err != nil {
		return Selection{}, err
	}
	return s.getSelection(ctx, s.db, id)
}

// AddCandidate enters an operator into an open selection.
func (s *Service) AddCandidate(ctx context.Context, p identity.Principal, selectionID, operatorOrgID int64) (Selection, error) {
	return s.selectionStep(ctx, p, selectionID, "add_candidate", operatorOrgID, func(tx *store.Tx, sel *Selection, o *op) error {
		typ, _, name, err := orgFacts(ctx, tx, operatorOrgID)
		if err != nil {
			return err
		}
		if typ != identity.OrgOperator {
			return apperr.New(apperr.Invalid, "grant.not_an_operator", "name", name).OnField("operator_org_id")
		}
		if _, dup := sel.candidate(operatorOrgID); dup {
			return apperr.New(apperr.Conflict, "grant.candidate_exists", "name", name).OnField("operator_org_id")
		}
		_, err = tx.Exec(ctx, "INSERT INTO grant_candidates (selection_id, operator_org_id, checklist, added_at) VALUES (?, ?, ?, ?)",
			sel.ID, operatorOrgID, "[]", s.clock())
		o.event("selection", sel.ID, "add_candidate", string(sel.State), string(sel.State), name)
		return err
	})
}

// CheckQualification records one R10.2 item of a candidate with its
// evidence; an item met needs evidence. A later check of the same item
// replaces the earlier one (both stay in the audit log).
func (s *Service) CheckQualification(ctx context.Context, p identity.Principal, selectionID, operatorOrgID int64, ch Check) (Selection, error) {
	return s.selectionStep(ctx, p, selectionID, "check", operatorOrgID, func(tx *store.Tx, sel *Selection, o *op) error {
		c, ok := sel.candidate(operatorOrgID)
		if !ok {
			return apperr.New(apperr.NotFound, "grant.candidate_unknown", "id", id64(operatorOrgID)).OnField("operator_org_id")
		}
		known := false
		for _, q := range Qualifications {
			known = known || q == ch.Item
		}
		if !known {
			return apperr.New(apperr.Invalid, "grant.field_choice", "field", "@grant.field.qualification").OnField("item")
		}
		ch.Evidence, ch.Note = strings.TrimSpace(ch.Evidence), strings.TrimSpace(ch.Note)
		if ch.Met && ch.Evidence == "" {
			return apperr.New(apperr.Invalid, "grant.evidence_required", "item", "@grant.qualification."+string(ch.Item)).OnField("evidence")
		}
		ch.CheckedBy, ch.CheckedAt = p.Login, s.clock()
		var list []Check
		for _, q := range Qualifications {
			if q == ch.Item {
				list = append(list, ch)
				continue
			}
			for _, x := range c.Checklist {
				if x.Item == q {
					list = append(list, x)
				}
			}
		}
		b, err := json.Marshal(list)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE grant_candidates SET checklist = ? WHERE selection_id = ? AND operator_org_id = ?",
			string(b), sel.ID, operatorOrgID); err != nil {
			return err
		}
		o.e.Set("item", string(ch.Item))
		o.e.Set("met", ch.Met)
		o.e.Set("evidence", ch.Evidence)
		o.event("selection", sel.ID, "check", string(sel.State), string(sel.State), c.Name+": "+string(ch.Item))
		return nil
	})
}

// Evaluate records a candidate's evaluation: a score out of 100 and the
// evaluation's words.
func (s *Service) Evaluate(ctx context.Context, p identity.Principal, selectionID, operatorOrgID int64, score int, evaluation string) (Selection, error) {
	return s.selectionStep(ctx, p, selectionID, "evaluate", operatorOrgID, func(tx *store.Tx, sel *Selection, o *op) error {
		c, ok := sel.candidate(operatorOrgID)
		if !ok {
			return apperr.New(apperr.NotFound, "grant.candidate_unknown", "id", id64(operatorOrgID)).OnField("operator_org_id")
		}
		if score < 0 || score > 100 {
			return apperr.New(apperr.Invalid, "grant.score_range").OnField("score")
		}
		ev, err := text("evaluation", evaluation, 4, 10000)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE grant_candidates SET score = ?, evaluation = ? WHERE selection_id = ? AND operator_org_id = ?",
			score, ev, sel.ID, operatorOrgID); err != nil {
			return err
		}
		o.e.Set("score", score)
		o.event("selection", sel.ID, "evaluate", string(sel.State), string(sel.State), c.Name)
		return nil
	})
}

// ConcludeSelection records the result: the selected operator, which must
// be qualified on every R10.2 item and evaluated; or, with winner 0, that
// none was selected (the note says why).
func (s *Service) ConcludeSelection(ctx context.Context, p identity.Principal, selectionID, winnerOrgID int64, note string) (Selection, error) {
	return s.selectionStep(ctx, p, selectionID, "conclude", winnerOrgID, func(tx *store.Tx, sel *Selection, o *op) error {
		next := SelectionConcluded
		var winner any
		if winnerOrgID == 0 {
			r, err := reason(note)
			if err != nil {
				return err
			}
			note, next = r, SelectionFailed
		} else {
			c, ok := sel.candidate(winnerOrgID)
			if !ok {
				return apperr.New(apperr.NotFound, "grant.candidate_unknown", "id", id64(winnerOrgID)).OnField("winner_org_id")
			}
			if missing := c.Missing(); len(missing) > 0 {
				return apperr.New(apperr.Invalid, "grant.candidate_unqualified", "name", c.Name,
					"item", "@grant.qualification."+string(missing[0])).OnField("winner_org_id")
			}
			if c.Score == nil {
				return apperr.New(apperr.Invalid, "grant.candidate_unevaluated", "name", c.Name).OnField("winner_org_id")
			}
			winner = winnerOrgID
			note = strings.TrimSpace(note)
		}
		now := s.clock()
		if err := guardedUpdate(ctx, tx, "grant_selections", sel.ID, string(SelectionOpen), map[string]any{
			"state": string(next), "winner_org_id": winner, "result_note": note, "concluded_at": now, "updated_at": now,
		}); err != nil {
			return err
		}
		o.e.Set("to", string(next))
		o.event("selection", sel.ID, "conclude", string(sel.State), string(next), note)
		return nil
	})
}

// selectionStep authorizes the agency on an open selection and runs fn.
func (s *Service) selectionStep(ctx context.Context, p identity.Principal, id int64, step string, orgID int64,
	fn func(tx *store.Tx, sel *Selection, o *op) error) (Selection, error) {
	o := newOp(p.Actor(), "selection."+step, "grant_selection", id)
	if orgID != 0 {
		o.e.Set("operator", orgID)
	}
	sel, err := s.getSelection(ctx, s.db, id)
	if err != nil {
		return Selection{}, s.refuse(ctx, o, err)
	}
	if err := identity.Authorize(s.regions, p, identity.ActSelectionManage, sel.object()); err != nil {
		return Selection{}, s.refuse(ctx, o, err)
	}
	if sel.State != SelectionOpen {
		return Selection{}, s.refuse(ctx, o, notAllowed("selection", step, string(sel.State)))
	}
	err = s.do(ctx, o, func(tx *store.Tx, o *op) error {
		// Read again inside the transaction: the checklist is rewritten whole.
		cur, err := s.getSelection(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur.State != SelectionOpen {
			return notAllowed("selection", step, string(cur.State))
		}
		return fn(tx, &cur, o)
	})
	if err != nil {
		return Selection{}, err
	}
	return s.getSelection(ctx, s.db, id)
}

func (s *Service) getSelection(ctx context.Context, q querier, id int64) (Selection, error) {
	var sel Selection
	var method, state string
	var winner sql.NullInt64
	var concluded sql.NullTime
	err := q.QueryRow(ctx, `SELECT s.id, s.plan_id, s.region_code, s.agency_org_id, o.name, s.title, s.method, s.notice_ref, s.state,
		s.winner_org_id, s.result_note, s.created_at, s.concluded_at
		FROM grant_selections s JOIN organizations o ON o.id = s.agency_org_id WHERE s.id = ?`, id).Scan(
		&sel.ID, &sel.PlanID, &sel.Region, &sel.AgencyOrgID, &sel.AgencyName, &sel.Title, &method, &sel.NoticeRef, &state,
		&winner, &sel.ResultNote, &sel.CreatedAt, &concluded)
	if errors.Is(err, sql.ErrNoRows) {
		return Selection{}, apperr.New(apperr.NotFound, "grant.selection_not_found", "id", id64(id))
	}
	if err != nil {
		return Selection{}, fmt.Errorf("selection %d: %w", id, err)
	}
	sel.Method, sel.State, sel.WinnerOrgID = Method(method), SelectionState(state), winner.Int64
	sel.CreatedAt, sel.ConcludedAt = sel.CreatedAt.UTC(), nullTime(concluded)
	rows, err := q.Query(ctx, `SELECT c.operator_org_id, o.name, c.checklist, c.score, c.evaluation FROM grant_candidates c
		JOIN organizations o ON o.id = c.operator_org_id WHERE c.selection_id = ? ORDER BY c.added_at, c.operator_org_id`, id)
	if err != nil {
		return Selection{}, fmt.Errorf("selection %d candidates: %w", id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c Candidate
		var list string
		var score sql.NullInt64
		if err := rows.Scan(&c.OperatorOrgID, &c.Name, &list, &score, &c.Evaluation); err != nil {
			return Selection{}, err
		}
		if err := json.Unmarshal([]byte(list), &c.Checklist); err != nil {
			return Selection{}, fmt.Errorf("selection %d checklist: %w", id, err)
		}
		if score.Valid {
			n := int(score.Int64)
			c.Score = &n
		}
		sel.Candidates = append(sel.Candidates, c)
	}
	return sel, rows.Err()
}

// Selection returns a selection to those who run or oversee its region,
// and to its candidates.
func (s *Service) Selection(ctx context.Context, p identity.Principal, id int64) (Selection, error) {
	sel, err := s.getSelection(ctx, s.db, id)
	if err != nil {
		return Selection{}, err
	}
	if err := identity.Authorize(s.regions, p, identity.ActGrantReadAll, sel.object()); err != nil {
		if _, ok := sel.candidate(p.OrgID); !ok || p.OrgID == 0 {
			return Selection{}, s.refuse(ctx, newOp(p.Actor(), "selection.read", "grant_selection", id), err)
		}
	}
	return sel, nil
}

// Selections lists the selections under a plan (every version of it).
func (s *Service) Selections(ctx context.Context, p identity.Principal, planID int64) ([]Selection, error) {
	rows, err := s.db.Query(ctx, `SELECT s.id FROM grant_selections s JOIN grant_plans p ON p.id = s.plan_id
		WHERE p.lineage_id = (SELECT lineage_id FROM grant_plans WHERE id = ?) ORDER BY s.id DESC`, planID)
	if err != nil {
		return nil, fmt.Errorf("selections of plan %d: %w", planID, err)
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
	var out []Selection
	for _, id := range ids {
		sel, err := s.Selection(ctx, p, id)
		if apperr.IsCode(err, apperr.NotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sel)
	}
	return out, nil
}
