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

// AgreementState is where an operating agreement stands.
type AgreementState string

const (
	AgreementDraft      AgreementState = "draft"      // 草拟
	AgreementDecided    AgreementState = "decided"    // 已决策
	AgreementSigned     AgreementState = "signed"     // 已签订
	AgreementActive     AgreementState = "active"     // 履行中
	AgreementSuspended  AgreementState = "suspended"  // 已暂停
	AgreementTerminated AgreementState = "terminated" // 已终止
	AgreementExpired    AgreementState = "expired"    // 已到期
)

// AgreementStates lists the states in life-cycle order.
var AgreementStates = []AgreementState{AgreementDraft, AgreementDecided, AgreementSigned, AgreementActive,
	AgreementSuspended, AgreementTerminated, AgreementExpired}

// agreementMoves is the life cycle (R11.1, R16.1): each step, the states
// it may start from and the state it leads to. Every other move is refused.
var agreementMoves = map[string]struct {
	from []AgreementState
	to   AgreementState
}{
	"decide":    {[]AgreementState{AgreementDraft}, AgreementDecided},
	"sign":      {[]AgreementState{AgreementDecided}, AgreementSigned},
	"activate":  {[]AgreementState{AgreementSigned}, AgreementActive},
	"suspend":   {[]AgreementState{AgreementActive}, AgreementSuspended},
	"resume":    {[]AgreementState{AgreementSuspended}, AgreementActive},
	"terminate": {[]AgreementState{AgreementActive, AgreementSuspended}, AgreementTerminated},
	// The clock, not a person: a term that ran out ends the agreement.
	"expire": {[]AgreementState{AgreementSigned, AgreementActive, AgreementSuspended}, AgreementExpired},
}

// AgreementSteps lists the steps of the life cycle.
var AgreementSteps = []string{"decide", "sign", "activate", "suspend", "resume", "terminate", "expire"}

// AgreementCan reports the state step leads to from state, and whether
// the step is allowed there (the console shows only allowed buttons).
func AgreementCan(state AgreementState, step string) (AgreementState, bool) {
	m, ok := agreementMoves[step]
	if !ok {
		return "", false
	}
	for _, f := range m.from {
		if f == state {
			return m.to, true
		}
	}
	return "", false
}

// Ended reports whether the state is final.
func (st AgreementState) Ended() bool { return st == AgreementTerminated || st == AgreementExpired }

// Unit is what an industry-use fee is charged per (R13.2).
type Unit string

const (
	PerItem   Unit = "item"   // 按件 (条)
	PerCall   Unit = "call"   // 按次
	PerTime   Unit = "time"   // 按时长
	PerVolume Unit = "volume" // 按数据量
)

// Units lists the pricing units.
var Units = []Unit{PerItem, PerCall, PerTime, PerVolume}

// FeeCap is the highest fee per unit the authorizing body set for
// industry use, in fen (0.01 yuan), with the document that sets it.
type FeeCap struct {
	Unit   Unit   `json:"unit"`
	CapFen int64  `json:"cap_fen"`
	Basis  string `json:"basis"`
}

// Fee is a price the operator charges for industry use, in fen.
type Fee struct {
	Unit     Unit   `json:"unit"`
	PriceFen int64  `json:"price_fen"`
	Note     string `json:"note,omitempty"`
}

// Pricing is how data products are priced under the agreement: free for
// public-interest use; industry use at or under the cap per unit.
type Pricing struct {
	PublicInterestFree bool     `json:"public_interest_free"`
	Caps               []FeeCap `json:"caps"`
	Fees               []Fee    `json:"fees,omitempty"`
}

// Return is how the operator's reasonable return is calculated.
type Return struct {
	Method string `json:"method"`
	// CostBasisFen is the cost base; RateBasisPoints the return rate on it
	// (in 0.01 %).
	CostBasisFen    int64  `json:"cost_basis_fen"`
	RateBasisPoints int    `json:"rate_basis_points"`
	Note            string `json:"note,omitempty"`
}

// Prohibition is one of the R15 prohibitions an operator acknowledges.
type Prohibition string

const (
	NoThirdParty Prohibition = "R15.1" // 不得向第三方提供或转授权
	NoLeak       Prohibition = "R15.2" // 不得泄露、窃取、篡改
	WithinScope  Prohibition = "R15.3" // 不得超范围使用
	NoRedevelop  Prohibition = "R15.4" // 不得参与已交付产品的再开发
	StopOnFusion Prohibition = "R15.6" // 汇聚融合风险时停止开发并报告
)

// Key names the prohibition's message in the catalogs.
func (p Prohibition) Key() string {
	return "grant.prohibition." + strings.ToLower(strings.ReplaceAll(string(p), ".", "_"))
}

// Prohibitions lists what the operator acknowledges item by item.
var Prohibitions = []Prohibition{NoThirdParty, NoLeak, WithinScope, NoRedevelop, StopOnFusion}

// AgreementForm is an agreement's content, drafted by the agency.
type AgreementForm struct {
	PlanID        int64  `json:"plan_id"`
	SelectionID   int64  `json:"selection_id"`
	OperatorOrgID int64  `json:"operator_org_id"`
	Title         string `json:"title"`
	// ResourceIDs is the scope: a subset of the plan's, minus exclusions.
	ResourceIDs []int64 `json:"resource_ids"`
	// Purposes are the scenarios the data may be used for; empty means any
	// within the plan (required for a by-scenario plan).
	Purposes             []string  `json:"purposes,omitempty"`
	TermStart            time.Time `json:"term_start"`
	TermEnd              time.Time `json:"term_end"`
	SecurityRequirements string    `json:"security_requirements"`
	Pricing              Pricing   `json:"pricing"`
	Return               Return    `json:"return"`
	// AssetHandling: what becomes of data assets at expiry.
	AssetHandling string `json:"asset_handling"`
	// ExitHandover: exit and handover arrangements.
	ExitHandover string `json:"exit_handover"`
	Liability    string `json:"liability"`
	// OtherObligations beyond the R15 prohibitions, which always apply.
	OtherObligations string `json:"other_obligations,omitempty"`
}

// Signature is one party's signing.
type Signature struct {
	Signer string    `json:"signer"`
	At     time.Time `json:"at"`
}

// HandoverItem is one line of the checklist an end opens (R16.2).
type HandoverItem struct {
	Item     string     `json:"item"`
	OpenedAt time.Time  `json:"opened_at"`
	ClosedAt *time.Time `json:"closed_at,omitempty"`
	ClosedBy int64      `json:"closed_by,omitempty"`
	Evidence string     `json:"evidence,omitempty"`
}

// HandoverItems lists the checklist: data returned or destroyed, access
// closed, products disposed of, assets handled as agreed, records handed over.
var HandoverItems = []string{"data_disposal", "access_closure", "products", "assets", "records"}

// Agreement is an operating agreement.
type Agreement struct {
	ID            int64           `json:"id"`
	PlanID        int64           `json:"plan_id"`
	SelectionID   int64           `json:"selection_id"`
	Region        string          `json:"region"`
	AgencyOrgID   int64           `json:"agency_org_id"`
	AgencyName    string          `json:"agency_name"`
	OperatorOrgID int64           `json:"operator_org_id"`
	OperatorName  string          `json:"operator_name"`
	Title         string          `json:"title"`
	State         AgreementState  `json:"state"`
	Form          AgreementForm   `json:"form"`
	Scope         []ScopeResource `json:"scope"`
	Decision      *Decision       `json:"decision,omitempty"`
	DecidedAt     *time.Time      `json:"decided_at,omitempty"`
	AgencySigned  *Signature      `json:"agency_signed,omitempty"`
	// OperatorSigned carries the R15 prohibitions acknowledged at signing.
	OperatorSigned *Signature    `json:"operator_signed,omitempty"`
	Acknowledged   []Prohibition `json:"acknowledged,omitempty"`
	SignedAt       *time.Time    `json:"signed_at,omitempty"`
	FilingState    FilingState   `json:"filing_state"`
	Filing         *Deadline     `json:"filing,omitempty"`
	FiledAt        *time.Time    `json:"filed_at,omitempty"`
	FilingClosedAt *time.Time    `json:"filing_closed_at,omitempty"`
	FilingNote     string        `json:"filing_note,omitempty"`
	ActivatedAt    *time.Time    `json:"activated_at,omitempty"`
	DisclosedAt    *time.Time    `json:"disclosed_at,omitempty"`
	StateChangedAt *time.Time    `json:"state_changed_at,omitempty"`
	StateReason    string        `json:"state_reason,omitempty"`
	EndedOn        time.Time     `json:"ended_on,omitempty"`
	// RetentionUntil is the day the operator's work log is kept to (R16.2);
	// RetentionPending is set while an ended agreement's is not recorded yet.
	RetentionUntil   time.Time      `json:"retention_until,omitempty"`
	RetentionPending bool           `json:"retention_pending,omitempty"`
	Handover         []HandoverItem `json:"handover,omitempty"`
	HandoverClosedAt *time.Time     `json:"handover_closed_at,omitempty"`
	CreatedAt        time.Time      `json:"created_at"`
	UpdatedAt        time.Time      `json:"updated_at"`
}

func (a Agreement) object() identity.Object {
	return identity.Object{OrgID: a.OperatorOrgID, Region: a.Region}
}

// EffectiveState is the state at a time: a signed, active or suspended
// agreement whose term ended is expired, whether or not a sweep has
// marked it yet.
func (a Agreement) EffectiveState(at time.Time) AgreementState {
	return effectiveState(a.State, a.Form.TermEnd, at)
}

func effectiveState(st AgreementState, end, at time.Time) AgreementState {
	if _, ok := AgreementCan(st, "expire"); ok && Day(at).After(end) {
		return AgreementExpired
	}
	return st
}

// validate checks the form's own fields; scope is checked against the
// plan by the service.
func (f *AgreementForm) validate(maxYears int) error {
	var err error
	if f.Title, err = text("title", f.Title, 4, 200); err != nil {
		return err
	}
	if f.OperatorOrgID == 0 {
		return apperr.New(apperr.Invalid, "grant.field_required", "field", "@grant.field.operator_org_id").OnField("operator_org_id")
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
	f.Purposes = cleanList(f.Purposes)
	for _, p := range f.Purposes {
		if strings.Contains(p, "\n") {
			return apperr.New(apperr.Invalid, "grant.field_choice", "field", "@grant.field.purposes").OnField("purposes")
		}
	}
	if err := checkTerm(&f.TermStart, &f.TermEnd, maxYears); err != nil {
		return err
	}
	if f.SecurityRequirements, err = text("security_requirements", f.SecurityRequirements, 4, 20000); err != nil {
		return err
	}
	if err := f.Pricing.validate(); err != nil {
		return err
	}
	if f.Return.Method, err = text("return_method", f.Return.Method, 4, 4000); err != nil {
		return err
	}
	if f.Return.CostBasisFen < 0 || f.Return.RateBasisPoints < 0 || f.Return.RateBasisPoints > 10000 {
		return apperr.New(apperr.Invalid, "grant.return_range").OnField("return")
	}
	if f.AssetHandling, err = text("asset_handling", f.AssetHandling, 4, 20000); err != nil {
		return err
	}
	if f.ExitHandover, err = text("exit_handover", f.ExitHandover, 4, 20000); err != nil {
		return err
	}
	if f.Liability, err = text("liability", f.Liability, 4, 20000); err != nil {
		return err
	}
	f.OtherObligations = strings.TrimSpace(f.OtherObligations)
	return nil
}

func (pr *Pricing) validate() error {
	if !pr.PublicInterestFree {
		return apperr.New(apperr.Invalid, "grant.public_interest_not_free").OnField("pricing.public_interest_free")
	}
	caps := map[Unit]int64{}
	for i := range pr.Caps {
		c := &pr.Caps[i]
		if !containsUnit(c.Unit) {
			return apperr.New(apperr.Invalid, "grant.field_choice", "field", "@grant.field.unit").OnField("pricing.caps")
		}
		if _, dup := caps[c.Unit]; dup || c.CapFen < 0 {
			return apperr.New(apperr.Invalid, "grant.fee_cap_invalid", "unit", "@grant.unit."+string(c.Unit)).OnField("pricing.caps")
		}
		c.Basis = strings.TrimSpace(c.Basis)
		if c.Basis == "" {
			return apperr.New(apperr.Invalid, "grant.fee_cap_basis", "unit", "@grant.unit."+string(c.Unit)).OnField("pricing.caps")
		}
		caps[c.Unit] = c.CapFen
	}
	for _, fee := range pr.Fees {
		limit, ok := caps[fee.Unit]
		if !ok {
			return apperr.New(apperr.Invalid, "grant.fee_without_cap", "unit", "@grant.unit."+string(fee.Unit)).OnField("pricing.fees")
		}
		if fee.PriceFen < 0 || fee.PriceFen > limit {
			return apperr.New(apperr.Invalid, "grant.fee_over_cap", "unit", "@grant.unit."+string(fee.Unit),
				"price", yuan(fee.PriceFen), "cap", yuan(limit)).OnField("pricing.fees")
		}
	}
	return nil
}

// yuan formats fen as yuan with two decimals.
func yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

func containsUnit(u Unit) bool {
	for _, x := range Units {
		if x == u {
			return true
		}
	}
	return false
}

// scopeFor checks an agreement's scope and term against its plan and
// selection, and returns the facts of its resources.
func (s *Service) scopeFor(ctx context.Context, pl Plan, f AgreementForm, now time.Time) ([]ResourceFacts, error) {
	if !pl.InForce() {
		return nil, apperr.New(apperr.Conflict, "grant.plan_not_in_force", "id", id64(pl.ID), "state", "@grant.state."+string(pl.State)).OnField("plan_id")
	}
	sel, err := s.getSelection(ctx, s.db, f.SelectionID)
	if err != nil {
		return nil, apperr.New(apperr.Invalid, "grant.selection_not_found", "id", id64(f.SelectionID)).OnField("selection_id")
	}
	var selLineage int64
	if err := s.db.QueryRow(ctx, "SELECT lineage_id FROM grant_plans WHERE id = ?", sel.PlanID).Scan(&selLineage); err != nil {
		return nil, fmt.Errorf("selection %d plan: %w", sel.ID, err)
	}
	// R11.1: signed with the lawfully selected operator.
	if selLineage != pl.LineageID || sel.State != SelectionConcluded || sel.WinnerOrgID != f.OperatorOrgID {
		return nil, apperr.New(apperr.Invalid, "grant.operator_not_selected", "selection", id64(sel.ID)).OnField("operator_org_id")
	}
	inPlan := map[int64]bool{}
	for _, r := range pl.Resources {
		inPlan[r.ID] = true
	}
	facts, err := s.checkResources(ctx, pl.Region, f.ResourceIDs, now)
	if err != nil {
		return nil, err
	}
	for _, r := range facts {
		if !inPlan[r.ID] {
			return nil, apperr.New(apperr.Invalid, "grant.resource_not_in_plan", "code", r.Code, "name", r.Name).OnField("resource_ids")
		}
	}
	if pl.Form.Mode == ModeScenario {
		if len(f.Purposes) == 0 {
			return nil, apperr.New(apperr.Invalid, "grant.mode_needs_scenarios").OnField("purposes")
		}
		for _, p := range f.Purposes {
			if !containsString(pl.Form.Scenarios, p) {
				return nil, apperr.New(apperr.Invalid, "grant.purpose_not_in_plan", "purpose", p).OnField("purposes")
			}
		}
	}
	if f.TermStart.Before(pl.Form.TermStart) || f.TermEnd.After(pl.Form.TermEnd) {
		return nil, apperr.New(apperr.Invalid, "grant.term_outside_plan", "start", formatDay(pl.Form.TermStart),
			"end", formatDay(pl.Form.TermEnd)).OnField("term_end")
	}
	return facts, nil
}

// DraftAgreement drafts an agreement under a plan in force with the
// operator its selection chose (R11.1): the scope a subset of the plan's
// minus exclusions, the term within the plan's and the cap.
func (s *Service) DraftAgreement(ctx context.Context, p identity.Principal, f AgreementForm) (Agreement, error) {
	o := newOp(p.Actor(), "agreement.draft", "grant_agreement", 0)
	o.e.Set("plan", f.PlanID)
	o.e.Set("operator", f.OperatorOrgID)
	pl, err := s.getPlan(ctx, s.db, f.PlanID)
	if err != nil {
		return Agreement{}, s.refuse(ctx, o, apperr.New(apperr.Invalid, "grant.plan_not_found", "id", id64(f.PlanID)).OnField("plan_id"))
	}
	if err := identity.Authorize(s.regions, p, identity.ActAgreementDraft, identity.Object{OrgID: f.OperatorOrgID, Region: pl.Region}); err != nil {
		return Agreement{}, s.refuse(ctx, o, err)
	}
	if err := f.validate(s.opt.MaxTermYears); err != nil {
		return Agreement{}, s.refuse(ctx, o, err)
	}
	now := s.clock()
	facts, err := s.scopeFor(ctx, pl, f, now)
	if err != nil {
		return Agreement{}, s.refuse(ctx, o, err)
	}
	terms, err := json.Marshal(f)
	if err != nil {
		return Agreement{}, err
	}
	var id int64
	err = s.do(ctx, o, func(tx *store.Tx, o *op) error {
		var err error
		id, err = tx.InsertID(ctx, `INSERT INTO grant_agreements (plan_id, selection_id, region_code, agency_org_id, operator_org_id, title,
			state, term_start, term_end, purposes, terms, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			pl.ID, f.SelectionID, pl.Region, p.OrgID, f.OperatorOrgID, f.Title, string(AgreementDraft),
			formatDay(f.TermStart), formatDay(f.TermEnd), strings.Join(f.Purposes, "\n"), string(terms), p.UserID, now, now)
		if err != nil {
			return err
		}
		if err := insertScope(ctx, tx, id, facts); err != nil {
			return err
		}
		o.e.ObjectID = id64(id)
		o.e.Set("resources", len(facts))
		o.event("agreement", id, "draft", "", string(AgreementDraft), "")
		return nil
	})
	if err != nil {
		return Agreement{}, err
	}
	return s.getAgreement(ctx, s.db, id)
}

func insertScope(ctx context.Context, tx *store.Tx, id int64, facts []ResourceFacts) error {
	for _, r := range facts {
		if _, err := tx.Exec(ctx, "INSERT INTO grant_agreement_scope (agreement_id, resource_id, code, name, grade) VALUES (?, ?, ?, ?, ?)",
			id, r.ID, r.Code, r.Name, r.Grade); err != nil {
			return err
		}
	}
	return nil
}

// UpdateAgreement changes a draft; once decided the terms are frozen.
func (s *Service) UpdateAgreement(ctx context.Context, p identity.Principal, id int64, f AgreementForm) (Agreement, error) {
	o := newOp(p.Actor(), "agreement.update", "grant_agreement", id)
	a, err := s.getAgreement(ctx, s.db, id)
	if err != nil {
		return Agreement{}, s.refuse(ctx, o, err)
	}
	if err := identity.Authorize(s.regions, p, identity.ActAgreementDraft, a.object()); err != nil {
		return Agreement{}, s.refuse(ctx, o, err)
	}
	if a.State != AgreementDraft {
		return Agreement{}, s.refuse(ctx, o, notAllowed("agreement", "update", string(a.State)))
	}
	// The plan and the operator are what the draft was made for.
	f.PlanID, f.SelectionID, f.OperatorOrgID = a.PlanID, a.SelectionID, a.OperatorOrgID
	if err := f.validate(s.opt.MaxTermYears); err != nil {
		return Agreement{}, s.refuse(ctx, o, err)
	}
	pl, err := s.getPlan(ctx, s.db, a.PlanID)
	if err != nil {
		return Agreement{}, s.refuse(ctx, o, err)
	}
	facts, err := s.scopeFor(ctx, pl, f, s.clock())
	if err != nil {
		return Agreement{}, s.refuse(ctx, o, err)
	}
	terms, err := json.Marshal(f)
	if err != nil {
		return Agreement{}, err
	}
	err = s.do(ctx, o, func(tx *store.Tx, o *op) error {
		if err := guardedUpdate(ctx, tx, "grant_agreements", id, string(AgreementDraft), map[string]any{
			"title": f.Title, "term_start": formatDay(f.TermStart), "term_end": formatDay(f.TermEnd),
			"purposes": strings.Join(f.Purposes, "\n"), "terms": string(terms), "updated_at": s.clock(),
		}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "DELETE FROM grant_agreement_scope WHERE agreement_id = ?", id); err != nil {
			return err
		}
		if err := insertScope(ctx, tx, id, facts); err != nil {
			return err
		}
		o.event("agreement", id, "update", string(AgreementDraft), string(AgreementDraft), "")
		return nil
	})
	if err != nil {
		return Agreement{}, err
	}
	return s.getAgreement(ctx, s.db, id)
}

// DecideAgreement records the agency's 三重一大 decision to conclude the
// agreement (R11.1); only an approval moves it on.
func (s *Service) DecideAgreement(ctx context.Context, p identity.Principal, id int64, d Decision) (Agreement, error) {
	d.RecordedBy = p.Login
	return s.agreementStep(ctx, p, id, "decide", identity.ActAgreementDecide, "", func(tx *store.Tx, a *Agreement, now time.Time) (map[string]any, AgreementState, error) {
		if err := d.validate(a.CreatedAt, now); err != nil {
			return nil, "", err
		}
		if d.Outcome != Approved {
			return nil, "", apperr.New(apperr.Invalid, "grant.decision_not_approved").OnField("outcome")
		}
		rec, err := json.Marshal(d)
		if err != nil {
			return nil, "", err
		}
		return map[string]any{"decision": string(rec), "decided_at": now}, AgreementDecided, nil
	})
}

// SignAgreement records one party's signature: the agency's, or the
// operator's together with its acknowledgment of every R15 prohibition.
// The agreement is signed once both have signed, and its filing with the
// provincial authority falls due FilingDays working days later (R11.1).
func (s *Service) SignAgreement(ctx context.Context, p identity.Principal, id int64, signer string, acks []Prohibition) (Agreement, error) {
	o := newOp(p.Actor(), "agreement.sign", "grant_agreement", id)
	signer, err := text("signer", signer, 2, 100)
	if err != nil {
		return Agreement{}, s.refuse(ctx, o, err)
	}
	a, err := s.getAgreement(ctx, s.db, id)
	if err != nil {
		return Agreement{}, s.refuse(ctx, o, err)
	}
	if err := identity.Authorize(s.regions, p, identity.ActAgreementSign, a.object()); err != nil {
		return Agreement{}, s.refuse(ctx, o, err)
	}
	operatorSide := p.Has(identity.RoleOperator) && p.OrgID == a.OperatorOrgID
	if operatorSide {
		for _, need := range Prohibitions {
			ok := false
			for _, x := range acks {
				ok = ok || x == need
			}
			if !ok {
				return Agreement{}, s.refuse(ctx, o, apperr.New(apperr.Invalid, "grant.prohibition_not_acknowledged",
					"item", "@"+need.Key()).OnField("acks"))
			}
		}
	}
	err = s.do(ctx, o, func(tx *store.Tx, o *op) error {
		cur, err := s.getAgreement(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, ok := AgreementCan(cur.State, "sign"); !ok {
			return notAllowed("agreement", "sign", string(cur.EffectiveState(s.clock())))
		}
		now := s.clock()
		set := map[string]any{"updated_at": now}
		side := "agency"
		if operatorSide {
			side = "operator"
			if cur.OperatorSigned != nil {
				return apperr.New(apperr.Conflict, "grant.already_signed", "side", "@grant.side.operator")
			}
			b, _ := json.Marshal(Prohibitions)
			set["operator_signed_at"], set["operator_signer"], set["operator_acks"] = now, signer, string(b)
		} else {
			if cur.AgencySigned != nil {
				return apperr.New(apperr.Conflict, "grant.already_signed", "side", "@grant.side.agency")
			}
			set["agency_signed_at"], set["agency_signer"] = now, signer
		}
		next := cur.State
		if (operatorSide && cur.AgencySigned != nil) || (!operatorSide && cur.OperatorSigned != nil) {
			next = AgreementSigned
			due, _ := s.FilingDue(now)
			set["state"], set["signed_at"], set["filing_due"], set["state_changed_at"] = string(next), now, formatDay(due), now
		}
		if err := guardedUpdate(ctx, tx, "grant_agreements", id, string(cur.State), set); err != nil {
			return err
		}
		o.e.Set("side", side)
		o.e.Set("signer", signer)
		o.e.Set("to", string(next))
		o.event("agreement", id, "sign", string(cur.State), string(next), side+": "+signer)
		return nil
	})
	if err != nil {
		return Agreement{}, err
	}
	return s.getAgreement(ctx, s.db, id)
}

// ActivateAgreement puts a signed agreement into force once its term has
// begun; the public portal shows it from then on (R19.2).
func (s *Service) ActivateAgreement(ctx context.Context, p identity.Principal, id int64) (Agreement, error) {
	return s.agreementStep(ctx, p, id, "activate", identity.ActAgreementActivate, "", func(tx *store.Tx, a *Agreement, now time.Time) (map[string]any, AgreementState, error) {
		if Day(now).Before(a.Form.TermStart) {
			return nil, "", apperr.New(apperr.Conflict, "grant.term_not_started", "start", formatDay(a.Form.TermStart))
		}
		set := map[string]any{"activated_at": now}
		if a.DisclosedAt == nil {
			set["disclosed_at"] = now
		}
		return set, AgreementActive, nil
	})
}

// FileAgreement files a signed agreement with the provincial authority
// (R11.1); a returned filing may be filed again.
func (s *Service) FileAgreement(ctx context.Context, p identity.Principal, id int64, note string) (Agreement, error) {
	return s.agreementFiling(ctx, p, id, "file", identity.ActAgreementFile, note, false)
}

// AcknowledgeAgreementFiling is the provincial authority's receipt.
func (s *Service) AcknowledgeAgreementFiling(ctx context.Context, p identity.Principal, id int64, note string) (Agreement, error) {
	return s.agreementFiling(ctx, p, id, "acknowledge", identity.ActAgreementAckFiling, note, false)
}

// ReturnAgreementFiling sends a filing back with the reason.
func (s *Service) ReturnAgreementFiling(ctx context.Context, p identity.Principal, id int64, why string) (Agreement, error) {
	return s.agreementFiling(ctx, p, id, "return", identity.ActAgreementAckFiling, why, true)
}

func (s *Service) agreementFiling(ctx context.Context, p identity.Principal, id int64, step string, act identity.Action, note string, needReason bool) (Agreement, error) {
	o := newOp(p.Actor(), "agreement."+step+"_filing", "grant_agreement", id)
	if needReason {
		r, err := reason(note)
		if err != nil {
			return Agreement{}, s.refuse(ctx, o, err)
		}
		note = r
	}
	note = strings.TrimSpace(note)
	a, err := s.getAgreement(ctx, s.db, id)
	if err != nil {
		return Agreement{}, s.refuse(ctx, o, err)
	}
	if err := identity.Authorize(s.regions, p, act, a.object()); err != nil {
		return Agreement{}, s.refuse(ctx, o, err)
	}
	if a.SignedAt == nil {
		return Agreement{}, s.refuse(ctx, o, notAllowed("agreement", step+"_filing", string(a.State)))
	}
	now := s.clock()
	next, mv, err := filingMove(a.FilingState, step, now)
	if err != nil {
		return Agreement{}, s.refuse(ctx, o, err)
	}
	err = s.do(ctx, o, func(tx *store.Tx, o *op) error {
		set := map[string]any{"filing_state": string(next), "filing_note": note, "updated_at": now}
		mv.apply(set)
		if err := updateWhere(ctx, tx, "grant_agreements", set, "id = ? AND filing_state = ?", id, string(a.FilingState)); err != nil {
			return err
		}
		o.e.Set("from", string(a.FilingState))
		o.e.Set("to", string(next))
		if note != "" {
			o.e.Set("note", note)
		}
		o.event("agreement", id, step+"_filing", filingLabel(a.FilingState), filingLabel(next), note)
		return nil
	})
	if err != nil {
		return Agreement{}, err
	}
	return s.getAgreement(ctx, s.db, id)
}

// agreementStep runs one move of the life cycle: authorize on the
// agreement, check the move against the state the clock gives it (so a
// term that ran out refuses as expired), let check compute the columns,
// write guarded by the stored state, audit and timeline.
func (s *Service) agreementStep(ctx context.Context, p identity.Principal, id int64, step string, act identity.Action, why string,
	check func(tx *store.Tx, a *Agreement, now time.Time) (map[string]any, AgreementState, error)) (Agreement, error) {
	o := newOp(p.Actor(), "agreement."+step, "grant_agreement", id)
	if why != "" {
		o.e.Set("reason", why)
	}
	a, err := s.getAgreement(ctx, s.db, id)
	if err != nil {
		return Agreement{}, s.refuse(ctx, o, err)
	}
	if err := identity.Authorize(s.regions, p, act, a.object()); err != nil {
		return Agreement{}, s.refuse(ctx, o, err)
	}
	err = s.do(ctx, o, func(tx *store.Tx, o *op) error {
		cur, err := s.getAgreement(ctx, tx, id)
		if err != nil {
			return err
		}
		now := s.clock()
		eff := cur.EffectiveState(now)
		to, ok := AgreementCan(eff, step)
		if !ok {
			return notAllowed("agreement", step, string(eff))
		}
		set, next, err := check(tx, &cur, now)
		if err != nil {
			return err
		}
		if next != to {
			return fmt.Errorf("agreement %d %s: leads to %s, the machine says %s", id, step, next, to)
		}
		set["state"], set["updated_at"], set["state_changed_at"] = string(next), now, now
		if err := guardedUpdate(ctx, tx, "grant_agreements", id, string(cur.State), set); err != nil {
			return err
		}
		o.e.Set("from", string(cur.State))
		o.e.Set("to", string(next))
		o.event("agreement", id, step, string(cur.State), string(next), why)
		return nil
	})
	if err != nil {
		return Agreement{}, err
	}
	return s.getAgreement(ctx, s.db, id)
}

const agreementColumns = `a.id, a.plan_id, a.selection_id, a.region_code, a.agency_org_id, ag.name, a.operator_org_id, op.name, a.title,
	a.state, a.terms, a.decision, a.decided_at, a.agency_signed_at, a.agency_signer, a.operator_signed_at, a.operator_signer,
	a.operator_acks, a.signed_at, a.filing_state, a.filing_due, a.filed_at, a.filing_closed_at, a.filing_note, a.activated_at,
	a.disclosed_at, a.state_changed_at, a.state_reason, a.ended_on, a.retention_until, a.handover_closed_at, a.created_at, a.updated_at`

const agreementFrom = ` FROM grant_agreements a JOIN organizations ag ON ag.id = a.agency_org_id
	JOIN organizations op ON op.id = a.operator_org_id`

func (s *Service) scanAgreement(r interface{ Scan(...any) error }, now time.Time) (Agreement, error) {
	var a Agreement
	var state, terms, decision, agencySigner, opSigner, acks, filing, due, ended, retention string
	var decided, agencyAt, opAt, signed, filed, closed, activated, disclosed, changed, handover sql.NullTime
	if err := r.Scan(&a.ID, &a.PlanID, &a.SelectionID, &a.Region, &a.AgencyOrgID, &a.AgencyName, &a.OperatorOrgID, &a.OperatorName,
		&a.Title, &state, &terms, &decision, &decided, &agencyAt, &agencySigner, &opAt, &opSigner, &acks, &signed, &filing, &due,
		&filed, &closed, &a.FilingNote, &activated, &disclosed, &changed, &a.StateReason, &ended, &retention, &handover,
		&a.CreatedAt, &a.UpdatedAt); err != nil {
		return Agreement{}, err
	}
	a.State, a.FilingState = AgreementState(state), FilingState(filing)
	if err := json.Unmarshal([]byte(terms), &a.Form); err != nil {
		return Agreement{}, fmt.Errorf("agreement %d terms: %w", a.ID, err)
	}
	a.Decision = decodeDecision(decision)
	a.DecidedAt, a.SignedAt, a.FiledAt, a.FilingClosedAt = nullTime(decided), nullTime(signed), nullTime(filed), nullTime(closed)
	a.ActivatedAt, a.DisclosedAt, a.StateChangedAt, a.HandoverClosedAt = nullTime(activated), nullTime(disclosed), nullTime(changed), nullTime(handover)
	if t := nullTime(agencyAt); t != nil {
		a.AgencySigned = &Signature{Signer: agencySigner, At: *t}
	}
	if t := nullTime(opAt); t != nil {
		a.OperatorSigned = &Signature{Signer: opSigner, At: *t}
		_ = json.Unmarshal([]byte(acks), &a.Acknowledged)
	}
	if due != "" {
		a.Filing = s.deadline(parseDay(due), a.FiledAt, now)
	}
	a.EndedOn, a.RetentionUntil = parseDay(ended), parseDay(retention)
	a.RetentionPending = a.State.Ended() && retention == ""
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return a, nil
}

func (s *Service) getAgreement(ctx context.Context, q querier, id int64) (Agreement, error) {
	a, err := s.scanAgreement(q.QueryRow(ctx, "SELECT "+agreementColumns+agreementFrom+" WHERE a.id = ?", id), s.clock())
	if errors.Is(err, sql.ErrNoRows) {
		return Agreement{}, apperr.New(apperr.NotFound, "grant.agreement_not_found", "id", id64(id))
	}
	if err != nil {
		return Agreement{}, fmt.Errorf("agreement %d: %w", id, err)
	}
	rows, err := q.Query(ctx, "SELECT resource_id, code, name, grade FROM grant_agreement_scope WHERE agreement_id = ? ORDER BY resource_id", id)
	if err != nil {
		return Agreement{}, fmt.Errorf("agreement %d scope: %w", id, err)
	}
	for rows.Next() {
		var r ScopeResource
		if err := rows.Scan(&r.ID, &r.Code, &r.Name, &r.Grade); err != nil {
			rows.Close()
			return Agreement{}, err
		}
		a.Scope = append(a.Scope, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Agreement{}, err
	}
	hrows, err := q.Query(ctx, "SELECT item, opened_at, closed_at, closed_by, evidence FROM grant_handover_items WHERE agreement_id = ?", id)
	if err != nil {
		return Agreement{}, fmt.Errorf("agreement %d handover: %w", id, err)
	}
	defer hrows.Close()
	byItem := map[string]HandoverItem{}
	for hrows.Next() {
		var h HandoverItem
		var closedAt sql.NullTime
		var by sql.NullInt64
		if err := hrows.Scan(&h.Item, &h.OpenedAt, &closedAt, &by, &h.Evidence); err != nil {
			return Agreement{}, err
		}
		h.OpenedAt, h.ClosedAt, h.ClosedBy = h.OpenedAt.UTC(), nullTime(closedAt), by.Int64
		byItem[h.Item] = h
	}
	for _, it := range HandoverItems {
		if h, ok := byItem[it]; ok {
			a.Handover = append(a.Handover, h)
		}
	}
	return a, hrows.Err()
}

// Agreement returns an agreement to those who run or oversee its region
// and to its operator.
func (s *Service) Agreement(ctx context.Context, p identity.Principal, id int64) (Agreement, error) {
	a, err := s.getAgreement(ctx, s.db, id)
	if err != nil {
		return Agreement{}, err
	}
	if err := identity.Authorize(s.regions, p, identity.ActGrantReadAll, a.object()); err != nil {
		return Agreement{}, s.refuse(ctx, newOp(p.Actor(), "agreement.read", "grant_agreement", id), err)
	}
	return a, nil
}

// Readable reports whether p may read the plan or the agreement (kind
// "plan" or "agreement") with that id: what a console link to it needs.
// Unlike Plan and Agreement it writes no audit entry, since deciding
// whether to show a link is no attempt to read.
func (s *Service) Readable(ctx context.Context, p identity.Principal, kind string, id int64) bool {
	var obj identity.Object
	switch kind {
	case "plan":
		pl, err := s.getPlan(ctx, s.db, id)
		if err != nil {
			return false
		}
		obj = pl.object()
	case "agreement":
		a, err := s.getAgreement(ctx, s.db, id)
		if err != nil {
			return false
		}
		obj = a.object()
	default:
		return false
	}
	return identity.Authorize(s.regions, p, identity.ActGrantReadAll, obj) == nil
}

// AgreementFilter selects agreements for the console lists.
type AgreementFilter struct {
	Region        string
	State         AgreementState // the effective state (an agreement past its term is expired)
	OperatorOrgID int64
	PlanID        int64
	// FilingOverdue keeps agreements whose filing is past due and not done;
	// FilingPending those filed and awaiting the province.
	FilingOverdue bool
	FilingPending bool
	Limit         int
}

// Agreements lists the agreements p may read, newest first.
func (s *Service) Agreements(ctx context.Context, p identity.Principal, f AgreementFilter) ([]Agreement, error) {
	var where []string
	var args []any
	if f.OperatorOrgID != 0 {
		where, args = append(where, "a.operator_org_id = ?"), append(args, f.OperatorOrgID)
	}
	if f.PlanID != 0 {
		where, args = append(where, "a.plan_id = ?"), append(args, f.PlanID)
	}
	if f.FilingPending {
		where, args = append(where, "a.filing_state = ?"), append(args, string(FilingFiled))
	}
	if f.FilingOverdue {
		where, args = append(where, "a.filing_due <> '' AND a.filed_at IS NULL AND a.filing_due < ?"), append(args, formatDay(Day(s.clock())))
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 200
	}
	q := "SELECT a.id FROM grant_agreements a"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY a.id DESC"
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("agreements: %w", err)
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
		return nil, fmt.Errorf("agreements: %w", err)
	}
	now := s.clock()
	var out []Agreement
	for _, id := range ids {
		if len(out) >= limit {
			break
		}
		a, err := s.getAgreement(ctx, s.db, id)
		if err != nil {
			return nil, err
		}
		if f.Region != "" && !s.regions.Contains(f.Region, a.Region) {
			continue
		}
		if f.State != "" && a.EffectiveState(now) != f.State {
			continue
		}
		if identity.Authorize(s.regions, p, identity.ActGrantReadAll, a.object()) != nil {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}
