package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/region"
	"github.com/gongshu/gongshu/internal/store"
)

// Org is an organisation on the platform.
type Org struct {
	ID         int64     `json:"id"`
	Type       OrgType   `json:"type"`
	Name       string    `json:"name"`
	NameEN     string    `json:"name_en,omitempty"`
	Region     string    `json:"region"`
	CreditCode string    `json:"credit_code,omitempty"`
	FilesWith  int64     `json:"files_with,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// OrgInput is what registering an organisation takes.
type OrgInput struct {
	Type       OrgType `json:"type"`
	Name       string  `json:"name"`
	NameEN     string  `json:"name_en"`
	Region     string  `json:"region"`
	CreditCode string  `json:"credit_code"`
	// FilesWith is the authority this one files with; for an authority or
	// agency below province level it defaults to the nearest authority of an
	// enclosing region.
	FilesWith int64 `json:"files_with"`
}

// needsCreditCode are the types that are legal persons outside government
// and must be identified by their code (R10.2).
var needsCreditCode = map[OrgType]bool{OrgOperator: true, OrgUtility: true, OrgUser: true}

func validOrgType(t OrgType) bool {
	for _, x := range OrgTypes {
		if x == t {
			return true
		}
	}
	return false
}

// validate checks the fields that need no database, and normalizes them.
func (in *OrgInput) validate(regions *region.Table) error {
	in.Name = strings.TrimSpace(in.Name)
	in.NameEN = strings.TrimSpace(in.NameEN)
	in.Region = strings.TrimSpace(in.Region)
	in.CreditCode = strings.TrimSpace(in.CreditCode)
	if !validOrgType(in.Type) {
		return apperr.New(apperr.Invalid, "identity.org_type_unknown", "type", string(in.Type)).OnField("type")
	}
	if n := utf8.RuneCountInString(in.Name); n < 2 || n > 100 {
		return apperr.New(apperr.Invalid, "identity.org_name_length").OnField("name")
	}
	if utf8.RuneCountInString(in.NameEN) > 200 {
		return apperr.New(apperr.Invalid, "identity.org_name_length").OnField("name_en")
	}
	if _, ok := regions.Lookup(in.Region); !ok {
		return apperr.New(apperr.Invalid, "identity.region_unknown", "code", in.Region).OnField("region")
	}
	if in.CreditCode == "" {
		if needsCreditCode[in.Type] {
			return apperr.New(apperr.Invalid, "identity.credit_code_required").OnField("credit_code")
		}
		return nil
	}
	code, err := ValidateCreditCode(in.CreditCode)
	if err != nil {
		return err
	}
	in.CreditCode = code
	return nil
}

// CreateOrg registers an organisation.
func (s *Service) CreateOrg(ctx context.Context, p Principal, in OrgInput) (Org, error) {
	e := entry(p.Actor(), "org.create", "organization", 0)
	e.Set("name", in.Name)
	e.Set("type", string(in.Type))
	e.Set("region", in.Region)
	if err := in.validate(s.regions); err != nil {
		return Org{}, s.refuse(ctx, e, err)
	}
	if err := Authorize(s.regions, p, ActOrgCreate, Object{Region: in.Region}); err != nil {
		return Org{}, s.refuse(ctx, e, err)
	}
	return s.createOrg(ctx, e, in)
}

// CreateOrgAsSystem registers an organisation on behalf of the platform
// itself (demo seeding and administrative commands on the host).
func (s *Service) CreateOrgAsSystem(ctx context.Context, in OrgInput) (Org, error) {
	e := entry(audit.System, "org.create", "organization", 0)
	e.Set("name", in.Name)
	if err := in.validate(s.regions); err != nil {
		return Org{}, s.refuse(ctx, e, err)
	}
	return s.createOrg(ctx, e, in)
}

func (s *Service) createOrg(ctx context.Context, e audit.Entry, in OrgInput) (Org, error) {
	org := Org{Type: in.Type, Name: in.Name, NameEN: in.NameEN, Region: in.Region, CreditCode: in.CreditCode, CreatedAt: s.clock()}
	err := s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		parent, err := s.filingAuthority(ctx, tx, in)
		if err != nil {
			return err
		}
		org.FilesWith = parent
		var dup int
		if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM organizations WHERE name = ?", org.Name).Scan(&dup); err != nil {
			return err
		}
		if dup > 0 {
			return apperr.New(apperr.Conflict, "identity.org_name_taken", "name", org.Name).OnField("name")
		}
		if org.CreditCode != "" {
			if err := tx.QueryRow(ctx, "SELECT COUNT(*) FROM organizations WHERE credit_code = ?", org.CreditCode).Scan(&dup); err != nil {
				return err
			}
			if dup > 0 {
				return apperr.New(apperr.Conflict, "identity.credit_code_taken", "code", org.CreditCode).OnField("credit_code")
			}
		}
		id, err := tx.InsertID(ctx, `INSERT INTO organizations (type, name, name_en, region_code, credit_code, files_with_id, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`,
			string(org.Type), org.Name, org.NameEN, org.Region, nullString(org.CreditCode), nullInt(org.FilesWith), org.CreatedAt)
		if err != nil {
			if store.IsUniqueViolation(err) {
				return apperr.New(apperr.Conflict, "identity.org_name_taken", "name", org.Name).OnField("name").Wrap(err)
			}
			return err
		}
		org.ID = id
		e.ObjectID = fmt.Sprint(id)
		if parent != 0 {
			e.Set("files_with", parent)
		}
		return nil
	})
	if err != nil {
		return Org{}, apperr.WithOp("create organization "+in.Name, err)
	}
	return org, nil
}

// filingAuthority resolves which authority an organisation files with
// (R9.1, R11.1: city and county plans and agreements are filed with the
// provincial authority). An explicit choice must be an authority of a
// strictly enclosing region; otherwise an authority or agency below
// province level gets the nearest authority above it.
func (s *Service) filingAuthority(ctx context.Context, tx *store.Tx, in OrgInput) (int64, error) {
	if in.FilesWith != 0 {
		var typ, reg string
		err := tx.QueryRow(ctx, "SELECT type, region_code FROM organizations WHERE id = ?", in.FilesWith).Scan(&typ, &reg)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, apperr.New(apperr.Invalid, "identity.files_with_unknown", "id", fmt.Sprint(in.FilesWith)).OnField("files_with")
		}
		if err != nil {
			return 0, err
		}
		if OrgType(typ) != OrgAuthority || reg == in.Region || !s.regions.Contains(reg, in.Region) {
			return 0, apperr.New(apperr.Invalid, "identity.files_with_not_above", "id", fmt.Sprint(in.FilesWith)).OnField("files_with")
		}
		return in.FilesWith, nil
	}
	if in.Type != OrgAuthority && in.Type != OrgAgency {
		return 0, nil
	}
	r, _ := s.regions.Lookup(in.Region)
	if r.Level == region.Province {
		return 0, nil
	}
	for code := r.ParentCode(); code != ""; {
		var id int64
		err := tx.QueryRow(ctx, "SELECT id FROM organizations WHERE type = ? AND region_code = ? ORDER BY id LIMIT 1",
			string(OrgAuthority), code).Scan(&id)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, err
		}
		parent, ok := s.regions.Lookup(code)
		if !ok {
			break
		}
		code = parent.ParentCode()
	}
	return 0, apperr.New(apperr.Invalid, "identity.files_with_missing", "region", in.Region).OnField("files_with")
}

const orgColumns = "id, type, name, name_en, region_code, credit_code, files_with_id, created_at"

func scanOrg(row interface{ Scan(...any) error }) (Org, error) {
	var o Org
	var typ string
	var cc sql.NullString
	var fw sql.NullInt64
	if err := row.Scan(&o.ID, &typ, &o.Name, &o.NameEN, &o.Region, &cc, &fw, &o.CreatedAt); err != nil {
		return Org{}, err
	}
	o.Type, o.CreditCode, o.FilesWith, o.CreatedAt = OrgType(typ), cc.String, fw.Int64, o.CreatedAt.UTC()
	return o, nil
}

// Org returns one organisation.
func (s *Service) Org(ctx context.Context, id int64) (Org, error) {
	o, err := scanOrg(s.db.QueryRow(ctx, "SELECT "+orgColumns+" FROM organizations WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Org{}, apperr.New(apperr.NotFound, "identity.org_not_found", "id", fmt.Sprint(id))
	}
	if err != nil {
		return Org{}, fmt.Errorf("organization %d: %w", id, err)
	}
	return o, nil
}

// OrgFilter selects organisations; zero fields do not filter.
type OrgFilter struct {
	Type OrgType
	// Region matches organisations in the region or any region within it.
	Region string
}

// Orgs lists organisations by type and name.
func (s *Service) Orgs(ctx context.Context, f OrgFilter) ([]Org, error) {
	q := "SELECT " + orgColumns + " FROM organizations WHERE 1=1"
	var args []any
	if f.Type != "" {
		q += " AND type = ?"
		args = append(args, string(f.Type))
	}
	q += " ORDER BY region_code, id"
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list organizations: %w", err)
	}
	defer rows.Close()
	var out []Org
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, fmt.Errorf("list organizations: %w", err)
		}
		if f.Region != "" && !s.regions.Contains(f.Region, o.Region) {
			continue
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullInt(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}
