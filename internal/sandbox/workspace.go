package sandbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/pii"
	"github.com/gongshu/gongshu/internal/policy"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/supply"
)

// Workspace states.
const (
	StateActive = "active"
	// StateHalted: a fusion risk stopped development (R15.6); only the
	// agency resumes it.
	StateHalted = "halted"
)

// Workspace is an operator's place of work under one agreement.
type Workspace struct {
	ID            int64      `json:"id"`
	Name          string     `json:"name"`
	OperatorOrgID int64      `json:"operator_org_id"`
	AgreementID   int64      `json:"agreement_id"`
	Purpose       string     `json:"purpose"`
	State         string     `json:"state"`
	HaltedReason  string     `json:"halted_reason,omitempty"`
	HaltedAt      *time.Time `json:"halted_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	// Resources and Budget are filled by Workspace, not by Workspaces.
	Resources []Resource `json:"resources,omitempty"`
	Budget    *Budget    `json:"budget,omitempty"`
}

// Resource is one resource in a workspace's scope as the operator sees it.
type Resource struct {
	ID    int64  `json:"id"`
	Code  string `json:"code"`
	Name  string `json:"name"`
	Grade string `json:"grade"`
	// Department is the holding department's organisation.
	Department int64 `json:"department"`
	// Table is the stable SQL name to query; it reads the latest version.
	Table     string          `json:"table"`
	Version   int             `json:"version,omitempty"`
	Rule      policy.RuleKind `json:"rule,omitempty"`
	K         int             `json:"k,omitempty"`
	RowCap    int             `json:"row_cap,omitempty"`
	Unit      string          `json:"unit,omitempty"`
	Columns   []Column        `json:"columns,omitempty"`
	Queryable bool            `json:"queryable"`
	// Why says, when not queryable, what is missing (a message key).
	Why string `json:"why,omitempty"`

	relation  string
	rows      int64
	versionID int64
	table     policy.Table
	qi        bool
	// dpDefaultGroups: under DP without a bound set by the agency, a
	// person's groups are bounded by the version's most rows of one unit.
	dpDefaultGroups bool
	// freeDims are columns recorded as free dimensions despite measuring
	// as identifying.
	freeDims map[string]bool
}

// Column is a column with its tag and role.
type Column struct {
	Name       string      `json:"name"`
	Type       string      `json:"type"`
	Tag        pii.Tag     `json:"tag"`
	Role       policy.Role `json:"role"`
	Aggregates []string    `json:"aggregates,omitempty"`
}

// ResourcePolicy is the agency's adjustment of a resource's derived
// policy: a readable alias, the rule and its parameters, column roles.
// K may only raise the grade's floor.
type ResourcePolicy struct {
	Alias            string                  `json:"alias,omitempty"`
	Rule             policy.RuleKind         `json:"rule,omitempty"`
	K                int                     `json:"k,omitempty"`
	RowCap           int                     `json:"row_cap,omitempty"`
	MaxGroupsPerUnit int                     `json:"max_groups_per_unit,omitempty"`
	MaxRowsPerGroup  int                     `json:"max_rows_per_group,omitempty"`
	Columns          map[string]ColumnPolicy `json:"columns,omitempty"`
	// ThresholdException is the reason, recorded in the audit entry, for
	// putting person-level data under a threshold rule instead of
	// differential privacy, its default (PRIVACY.md).
	ThresholdException string `json:"threshold_exception,omitempty"`
}

// maxDefaultGroups caps the default number of groups one person may
// contribute to under DP: the version's most rows of one unit, at most
// this (the agency may set another bound).
const maxDefaultGroups = 12

// personLevel: the privacy unit is a resident identity number, so the
// units are natural persons.
func personLevel(unit string, detector map[string]string) bool {
	return unit != "" && detector[unit] == pii.DetResidentID
}

// ColumnPolicy overrides one column's role.
type ColumnPolicy struct {
	Role       policy.Role `json:"role"`
	Aggregates []string    `json:"aggregates,omitempty"`
	// Lower and Upper clamp a unit's contribution under DP.
	Lower int64 `json:"lower,omitempty"`
	Upper int64 `json:"upper,omitempty"`
	// Dimension is the recorded reason to use a column measured as
	// identifying as a free dimension (it is kept in the audit entry).
	Dimension string `json:"dimension,omitempty"`
}

// GradeK is the minimum number of distinct privacy units in a released
// group by the resource's grade (GB/T 43697): stricter grades need larger
// crowds. Core data never enters authorized operation and has none.
func GradeK(grade string) (int, bool) {
	switch grade {
	case "general-1", "一般1级":
		return 5, true
	case "general-2", "一般2级", "general", "一般", "一般数据":
		return 10, true
	case "general-3", "一般3级":
		return 20, true
	case "general-4", "一般4级":
		return 50, true
	case "important", "重要", "重要数据":
		return 100, true
	}
	return 0, false
}

// DeriveRoles maps tags, grade and privacy unit to column roles:
//
//	privacy unit          → join (an equality key; never output or grouped)
//	direct_identifier     → hidden
//	quasi_identifier      → group (hidden for important data)
//	sensitive             → aggregate (count, sum, avg)
//	none or untagged      → visible for general-1 data, else group
//
// so that nothing identifying is ever output raw and the lowest grade of
// already-public data may be listed.
func DeriveRoles(grade, unit string, cols []string, tags map[string]pii.Tag) (map[string]policy.Role, error) {
	all := make(map[string]pii.Tag, len(cols))
	for _, c := range cols {
		all[c] = tags[c]
		if all[c] == "" {
			all[c] = pii.None
		}
	}
	def, err := supply.DefaultRoles(grade, all)
	if err != nil {
		return nil, err
	}
	out := make(map[string]policy.Role, len(def))
	for c, r := range def {
		role := policy.Role(r)
		if role == policy.Visible && grade != "general-1" && grade != "一般1级" {
			role = policy.Group
		}
		if c == unit {
			role = policy.Join
		}
		out[c] = role
	}
	return out, nil
}

var aliasRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// defaultAlias is a resource's SQL name when the agency gave none.
func defaultAlias(code string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return "r_" + b.String()
}

// SetPolicy records the agency's (or the holding department's) policy
// for a resource. It is audited.
func (s *Service) SetPolicy(ctx context.Context, p identity.Principal, resourceID int64, rp ResourcePolicy) error {
	e := audit.Entry{Actor: p.Actor(), Action: ActionSetPolicy, ObjectType: "resource", ObjectID: strconv.FormatInt(resourceID, 10)}
	facts, err := s.resources.Resource(ctx, resourceID)
	if err != nil {
		return s.log.Refuse(ctx, e, err)
	}
	if !(p.Has(identity.RoleAgency) || p.Has(identity.RoleAdmin) || (p.Has(identity.RoleDepartment) && p.OrgID == facts.HolderOrgID)) {
		return s.log.Refuse(ctx, e, apperr.New(apperr.Forbidden, KeyForbidden))
	}
	if err := checkPolicy(facts.Grade, rp); err != nil {
		return s.log.Refuse(ctx, e, err)
	}
	if rp.Rule != "" && rp.Rule != policy.RuleDP && strings.TrimSpace(rp.ThresholdException) == "" {
		person, err := s.isPersonLevel(ctx, resourceID)
		if err != nil {
			return s.log.Refuse(ctx, e, err)
		}
		if person {
			return s.log.Refuse(ctx, e, apperr.New(apperr.Invalid, KeyNeedsException).OnField("threshold_exception"))
		}
	}
	raw, err := json.Marshal(rp)
	if err != nil {
		return fmt.Errorf("set policy: %w", err)
	}
	return s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		e.Set("policy", string(raw))
		_, err := tx.Exec(ctx, "INSERT INTO sandbox_policies (resource_id, policy, set_by, set_at) VALUES (?, ?, ?, ?)",
			resourceID, string(raw), p.UserID, s.clock())
		return err
	})
}

// isPersonLevel reports whether a resource's privacy unit is a resident
// identity number (no unit or no version yet: not known to be).
func (s *Service) isPersonLevel(ctx context.Context, resourceID int64) (bool, error) {
	unit, err := s.supply.PrivacyUnit(ctx, resourceID)
	if err != nil || unit == "" {
		return false, nil
	}
	tags, err := s.supply.Tags(ctx, resourceID)
	if err != nil {
		return false, err
	}
	det := map[string]string{}
	for _, t := range tags {
		det[t.Column] = t.Detector
	}
	return personLevel(unit, det), nil
}

func checkPolicy(grade string, rp ResourcePolicy) error {
	bad := func(what string) error { return apperr.New(apperr.Invalid, KeyBadPolicy, "detail", what) }
	if rp.Alias != "" && !aliasRE.MatchString(rp.Alias) {
		return bad("alias")
	}
	floor, ok := GradeK(grade)
	if !ok {
		return apperr.New(apperr.Forbidden, "supply.core_grade")
	}
	if rp.K != 0 && rp.K < floor {
		return bad("k below the grade's floor " + strconv.Itoa(floor))
	}
	switch rp.Rule {
	case "", policy.RuleAggregation, policy.RuleDP:
	case policy.RuleList:
		if grade != "general-1" && grade != "一般1级" {
			return bad("the list rule is for general-1 data only")
		}
	default:
		return bad("rule")
	}
	for c, cp := range rp.Columns {
		switch cp.Role {
		case policy.Hidden, policy.Filter, policy.Join, policy.Group, policy.Aggregate, policy.Visible:
		default:
			return bad("role of " + c)
		}
	}
	return nil
}

func (s *Service) policyOf(ctx context.Context, resourceID int64) (ResourcePolicy, error) {
	var raw string
	err := s.db.QueryRow(ctx, "SELECT policy FROM sandbox_policies WHERE resource_id = ? ORDER BY id DESC LIMIT 1", resourceID).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return ResourcePolicy{}, nil
	}
	if err != nil {
		return ResourcePolicy{}, fmt.Errorf("policy of resource %d: %w", resourceID, err)
	}
	var rp ResourcePolicy
	if err := json.Unmarshal([]byte(raw), &rp); err != nil {
		return ResourcePolicy{}, fmt.Errorf("policy of resource %d: %w", resourceID, err)
	}
	return rp, nil
}

// describe builds one resource's view and policy table from the registry,
// the latest loaded version, its tags, privacy unit and the agency's policy.
func (s *Service) describe(ctx context.Context, id int64) (Resource, error) {
	facts, err := s.resources.Resource(ctx, id)
	if err != nil {
		return Resource{}, err
	}
	r := Resource{ID: id, Code: facts.Code, Name: facts.Name, Grade: facts.Grade, Department: facts.HolderOrgID}
	rp, err := s.policyOf(ctx, id)
	if err != nil {
		return Resource{}, err
	}
	r.Table = rp.Alias
	if r.Table == "" {
		r.Table = defaultAlias(facts.Code)
	}
	floor, ok := GradeK(facts.Grade)
	if !ok {
		r.Why = "supply.core_grade"
		return r, nil
	}
	v, err := s.supply.Latest(ctx, id)
	if apperr.IsCode(err, apperr.NotFound) || (err == nil && v.Table == "") {
		r.Why = "sandbox.not_loaded"
		return r, nil
	}
	if err != nil {
		return Resource{}, err
	}
	r.Version, r.relation, r.rows, r.versionID = v.Version, v.Table, v.Rows, v.ID
	unit, err := s.supply.PrivacyUnit(ctx, id)
	if err != nil {
		return Resource{}, err
	}
	tagList, err := s.supply.Tags(ctx, id)
	if err != nil {
		return Resource{}, err
	}
	tags := map[string]pii.Tag{}
	detector := map[string]string{}
	for _, t := range tagList {
		tags[t.Column], detector[t.Column] = t.Tag, t.Detector
	}
	names := make([]string, len(v.Columns))
	for i, c := range v.Columns {
		names[i] = c.Name
	}
	roles, err := DeriveRoles(facts.Grade, unit, names, tags)
	if err != nil {
		return Resource{}, err
	}
	r.Rule, r.K, r.Unit = policy.RuleAggregation, max(floor, rp.K), unit
	if rp.Rule != "" {
		r.Rule = rp.Rule
	}
	// Natural-person data is under differential privacy unless the
	// agency or the holder recorded why a threshold rule suffices.
	if personLevel(unit, detector) && r.Rule != policy.RuleDP && strings.TrimSpace(rp.ThresholdException) == "" {
		r.Rule = policy.RuleDP
	}
	r.dpDefaultGroups = r.Rule == policy.RuleDP && rp.MaxGroupsPerUnit == 0
	if r.Rule == policy.RuleList {
		r.RowCap = rp.RowCap
		if r.RowCap <= 0 {
			r.RowCap = 1000
		}
	}
	t := policy.Table{Name: r.Table, Relation: v.Table, Resource: facts.Code, Unit: unit,
		Rule: policy.Rule{Kind: r.Rule, K: r.K, RowCap: r.RowCap, MaxGroupsPerUnit: rp.MaxGroupsPerUnit, MaxRowsPerGroup: rp.MaxRowsPerGroup}}
	if unit != "" && !s.opt.ExactThreshold {
		t.UnitRows = s.cachedUnitRows(v.Table, unit, v.Rows)
	}
	if r.dpDefaultGroups && t.UnitRows != nil {
		t.Rule.MaxGroupsPerUnit = int(min(max(t.UnitRows.Max, 1), maxDefaultGroups))
	}
	for _, c := range v.Columns {
		role := roles[c.Name]
		col := policy.Column{Name: c.Name, Role: role, Type: c.Type}
		if cp, ok := rp.Columns[c.Name]; ok {
			col.Role, col.Aggregates, col.Lower, col.Upper = cp.Role, cp.Aggregates, cp.Lower, cp.Upper
		}
		tag := tags[c.Name]
		if tag == "" {
			tag = pii.None
		}
		col.Identifier = tag == pii.DirectIdentifier || c.Name == unit
		col.PersonNames = detector[c.Name] == pii.DetPersonName
		if tag == pii.QuasiIdentifier && (col.Role == policy.Group || col.Role == policy.Visible) {
			r.qi = true
		}
		t.Columns = append(t.Columns, col)
		r.Columns = append(r.Columns, Column{Name: c.Name, Type: c.Type, Tag: tag, Role: col.Role, Aggregates: col.Aggregates})
	}
	r.freeDims = map[string]bool{}
	for c, cp := range rp.Columns {
		if strings.TrimSpace(cp.Dimension) != "" {
			r.freeDims[c] = true
		}
	}
	if unit != "" && !s.opt.ExactThreshold {
		applyStats(&t, s.cachedStats(v.Table, unit, v.Rows), r.freeDims)
	}
	if r.Rule != policy.RuleList && unit == "" {
		r.Why = "sandbox.no_privacy_unit"
		return r, nil
	}
	if err := (policy.Catalog{Tables: []policy.Table{t}}).Validate(); err != nil {
		r.Why = "sandbox.bad_policy"
		return r, nil
	}
	r.table, r.Queryable = t, true
	return r, nil
}

// CreateWorkspace opens a workspace for the operator's agreement.
func (s *Service) CreateWorkspace(ctx context.Context, p identity.Principal, agreementID int64, name, purpose string) (Workspace, error) {
	e := audit.Entry{Actor: p.Actor(), Action: ActionCreateWorkspace, ObjectType: "sandbox_workspace"}
	e.Set("agreement", agreementID)
	name = strings.TrimSpace(name)
	if !p.Has(identity.RoleOperator) {
		return Workspace{}, s.log.Refuse(ctx, e, apperr.New(apperr.Forbidden, KeyForbidden))
	}
	if !aliasRE.MatchString(name) {
		return Workspace{}, s.log.Refuse(ctx, e, apperr.New(apperr.Invalid, KeyBadName).OnField("name"))
	}
	a, err := s.grants.Agreement(ctx, p, agreementID)
	if err != nil {
		return Workspace{}, s.log.Refuse(ctx, e, err)
	}
	if a.OperatorOrgID != p.OrgID {
		return Workspace{}, s.log.Refuse(ctx, e, apperr.New(apperr.Forbidden, KeyForbidden))
	}
	if strings.TrimSpace(purpose) == "" && len(a.Form.Purposes) > 0 {
		purpose = a.Form.Purposes[0]
	}
	// The agreement must be in force now (R16.2).
	_, cancel, err := s.grants.Work(ctx, p.OrgID, agreementID)
	if err != nil {
		return Workspace{}, s.log.Refuse(ctx, e, err)
	}
	cancel()
	now := s.clock()
	var id int64
	err = s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		var err error
		id, err = tx.InsertID(ctx, `INSERT INTO sandbox_workspaces (name, operator_org_id, agreement_id, purpose, state, created_by, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, name, p.OrgID, agreementID, purpose, StateActive, p.UserID, now, now)
		if store.IsUniqueViolation(err) {
			return apperr.New(apperr.Conflict, KeyNameTaken, "name", name).OnField("name")
		}
		if err != nil {
			return err
		}
		e.ObjectID = strconv.FormatInt(id, 10)
		e.Set("name", name)
		return nil
	})
	if err != nil {
		return Workspace{}, err
	}
	return s.Workspace(ctx, p, id)
}

const workspaceCols = "id, name, operator_org_id, agreement_id, purpose, state, halted_reason, halted_at, created_at"

func scanWorkspace(sc func(...any) error) (Workspace, error) {
	var w Workspace
	var halted sql.NullTime
	if err := sc(&w.ID, &w.Name, &w.OperatorOrgID, &w.AgreementID, &w.Purpose, &w.State, &w.HaltedReason, &halted, &w.CreatedAt); err != nil {
		return Workspace{}, err
	}
	if halted.Valid {
		t := halted.Time.UTC()
		w.HaltedAt = &t
	}
	w.CreatedAt = w.CreatedAt.UTC()
	return w, nil
}

func (s *Service) workspace(ctx context.Context, id int64) (Workspace, error) {
	w, err := scanWorkspace(s.db.QueryRow(ctx, "SELECT "+workspaceCols+" FROM sandbox_workspaces WHERE id = ?", id).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return Workspace{}, apperr.New(apperr.NotFound, KeyNotFound)
	}
	if err != nil {
		return Workspace{}, fmt.Errorf("workspace %d: %w", id, err)
	}
	return w, nil
}

// mayRead: the operator's own members, and the agency and authority
// supervising (they see the workspace, never more rows than released).
func mayRead(p identity.Principal, w Workspace) bool {
	return p.OrgID == w.OperatorOrgID || p.Has(identity.RoleAgency) || p.Has(identity.RoleAuthority) || p.Has(identity.RoleRegulator)
}

// Workspaces lists the caller's organisation's workspaces (all, for the
// agency and authority), newest first.
func (s *Service) Workspaces(ctx context.Context, p identity.Principal) ([]Workspace, error) {
	q, args := "SELECT "+workspaceCols+" FROM sandbox_workspaces WHERE operator_org_id = ? ORDER BY id DESC", []any{p.OrgID}
	if p.Has(identity.RoleAgency) || p.Has(identity.RoleAuthority) {
		q, args = "SELECT "+workspaceCols+" FROM sandbox_workspaces ORDER BY id DESC", nil
	}
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("workspaces: %w", err)
	}
	defer rows.Close()
	var out []Workspace
	for rows.Next() {
		w, err := scanWorkspace(rows.Scan)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// WorkspaceByName finds an organisation's workspace by name.
func (s *Service) WorkspaceByName(ctx context.Context, p identity.Principal, name string) (Workspace, error) {
	var id int64
	err := s.db.QueryRow(ctx, "SELECT id FROM sandbox_workspaces WHERE operator_org_id = ? AND name = ?", p.OrgID, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return Workspace{}, apperr.New(apperr.NotFound, KeyNotFound)
	}
	if err != nil {
		return Workspace{}, fmt.Errorf("workspace %q: %w", name, err)
	}
	return s.Workspace(ctx, p, id)
}

// Workspace returns a workspace with the resources in its agreement's
// scope (SQL names, columns, roles, rules) and its ε budget.
func (s *Service) Workspace(ctx context.Context, p identity.Principal, id int64) (Workspace, error) {
	w, err := s.workspace(ctx, id)
	if err != nil {
		return Workspace{}, err
	}
	if !mayRead(p, w) {
		return Workspace{}, s.forbid(ctx, p, ActionReadWorkspace, "workspace", id)
	}
	rs, err := s.scope(ctx, w)
	if err != nil {
		return Workspace{}, err
	}
	w.Resources = rs
	b, err := s.Budget(ctx, w.AgreementID)
	if err != nil {
		return Workspace{}, err
	}
	w.Budget = &b
	return w, nil
}

// scope describes every resource of the workspace's agreement. The
// agreement is read as the system: the operator's right to it was checked
// when the workspace was made, and grant.Work checks it on every run.
func (s *Service) scope(ctx context.Context, w Workspace) ([]Resource, error) {
	sys := identity.Principal{UserID: -1, Login: "system:sandbox", OrgID: w.OperatorOrgID, Roles: []identity.Role{identity.RoleOperator}}
	a, err := s.grants.Agreement(ctx, sys, w.AgreementID)
	if err != nil {
		return nil, err
	}
	var out []Resource
	seen := map[string]bool{}
	for _, sr := range a.Scope {
		r, err := s.describe(ctx, sr.ID)
		if err != nil {
			return nil, fmt.Errorf("workspace %d: resource %d: %w", w.ID, sr.ID, err)
		}
		if seen[r.Table] {
			// Two resources may not share an alias in one workspace.
			r.Table = defaultAlias(r.Code)
			r.table.Name = r.Table
		}
		seen[r.Table] = true
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out, nil
}

// catalog is the policy catalog of the queryable resources.
func catalog(rs []Resource, schema string) policy.Catalog {
	c := policy.Catalog{Schema: schema}
	for _, r := range rs {
		if r.Queryable {
			c.Tables = append(c.Tables, r.table)
		}
	}
	return c
}
