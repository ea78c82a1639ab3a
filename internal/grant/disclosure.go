package grant

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
)

// Disclosure is what the public portal shows of one authorization
// (R19.2): who, what, scope and term (对象、内容、范围、时限), and its
// state, from the day it came into force; a suspension or end changes it.
type Disclosure struct {
	AgreementID        int64           `json:"agreement_id"`
	Title              string          `json:"title"`
	Region             string          `json:"region"`
	AgencyName         string          `json:"agency_name"`
	OperatorName       string          `json:"operator_name"`
	OperatorCreditCode string          `json:"operator_credit_code,omitempty"`
	Mode               Mode            `json:"mode"`
	Scope              []ScopeResource `json:"scope"`
	Purposes           []string        `json:"purposes,omitempty"`
	TermStart          time.Time       `json:"term_start"`
	TermEnd            time.Time       `json:"term_end"`
	State              AgreementState  `json:"state"` // as of the time asked
	StateReason        string          `json:"state_reason,omitempty"`
	DisclosedAt        time.Time       `json:"disclosed_at"`
	ChangedAt          *time.Time      `json:"changed_at,omitempty"`
}

const disclosureColumns = `a.id, a.title, a.region_code, ag.name, op.name, op.credit_code, p.mode, a.purposes, a.term_start,
	a.term_end, a.state, a.state_reason, a.disclosed_at, a.state_changed_at`

const disclosureFrom = ` FROM grant_agreements a JOIN organizations ag ON ag.id = a.agency_org_id
	JOIN organizations op ON op.id = a.operator_org_id JOIN grant_plans p ON p.id = a.plan_id`

// Disclosures lists, newest first, every authorization that has come into
// force in the region (and the regions within it; "" for all), as the
// public sees it at a time. It needs no account.
func (s *Service) Disclosures(ctx context.Context, regionCode string, at time.Time) ([]Disclosure, error) {
	rows, err := s.db.Query(ctx, "SELECT "+disclosureColumns+disclosureFrom+" WHERE a.disclosed_at IS NOT NULL ORDER BY a.disclosed_at DESC, a.id DESC")
	if err != nil {
		return nil, fmt.Errorf("disclosures: %w", err)
	}
	var out []Disclosure
	for rows.Next() {
		d, err := scanDisclosure(rows, at)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("disclosures: %w", err)
		}
		if regionCode == "" || s.regions.Contains(regionCode, d.Region) {
			out = append(out, d)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("disclosures: %w", err)
	}
	for i := range out {
		if out[i].Scope, err = s.scopeOf(ctx, out[i].AgreementID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// DisclosureOf returns one authorization's disclosure, or NotFound when
// it never came into force.
func (s *Service) DisclosureOf(ctx context.Context, agreementID int64, at time.Time) (Disclosure, error) {
	d, err := scanDisclosure(s.db.QueryRow(ctx, "SELECT "+disclosureColumns+disclosureFrom+" WHERE a.id = ? AND a.disclosed_at IS NOT NULL", agreementID), at)
	if errors.Is(err, sql.ErrNoRows) {
		return Disclosure{}, apperr.New(apperr.NotFound, "grant.agreement_not_found", "id", id64(agreementID))
	}
	if err != nil {
		return Disclosure{}, fmt.Errorf("disclosure %d: %w", agreementID, err)
	}
	d.Scope, err = s.scopeOf(ctx, agreementID)
	return d, err
}

func scanDisclosure(r interface{ Scan(...any) error }, at time.Time) (Disclosure, error) {
	var d Disclosure
	var cc sql.NullString
	var mode, purposes, start, end, state string
	var changed sql.NullTime
	if err := r.Scan(&d.AgreementID, &d.Title, &d.Region, &d.AgencyName, &d.OperatorName, &cc, &mode, &purposes, &start, &end,
		&state, &d.StateReason, &d.DisclosedAt, &changed); err != nil {
		return d, err
	}
	d.OperatorCreditCode, d.Mode = cc.String, Mode(mode)
	if purposes != "" {
		d.Purposes = strings.Split(purposes, "\n")
	}
	d.TermStart, d.TermEnd = parseDay(start), parseDay(end)
	d.State = effectiveState(AgreementState(state), d.TermEnd, at)
	d.DisclosedAt, d.ChangedAt = d.DisclosedAt.UTC(), nullTime(changed)
	return d, nil
}

func (s *Service) scopeOf(ctx context.Context, id int64) ([]ScopeResource, error) {
	rows, err := s.db.Query(ctx, "SELECT resource_id, code, name, grade FROM grant_agreement_scope WHERE agreement_id = ? ORDER BY resource_id", id)
	if err != nil {
		return nil, fmt.Errorf("scope of agreement %d: %w", id, err)
	}
	defer rows.Close()
	var out []ScopeResource
	for rows.Next() {
		var r ScopeResource
		if err := rows.Scan(&r.ID, &r.Code, &r.Name, &r.Grade); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// YearlyDisclosure is an agency's yearly publication for a year (R19.2),
// due by the end of March of the year after.
type YearlyDisclosure struct {
	Year             int                `json:"year"`
	DueBy            time.Time          `json:"due_by"`
	AgencyOrgID      int64              `json:"agency_org_id"`
	AgencyName       string             `json:"agency_name"`
	AgencyRegion     string             `json:"agency_region"`
	AgencyCreditCode string             `json:"agency_credit_code,omitempty"`
	Rows             []AuthorizationRow `json:"rows"`
}

// AuthorizationRow is one resource of one authorization in force at some
// time during the year.
type AuthorizationRow struct {
	AgreementID        int64          `json:"agreement_id"`
	ResourceID         int64          `json:"resource_id"`
	ResourceCode       string         `json:"resource_code"`
	ResourceName       string         `json:"resource_name"`
	RegistrationStatus string         `json:"registration_status"`
	Mode               Mode           `json:"mode"`
	FeeCaps            []FeeCap       `json:"fee_caps"`
	OperatorName       string         `json:"operator_name"`
	OperatorCreditCode string         `json:"operator_credit_code,omitempty"`
	TermStart          time.Time      `json:"term_start"`
	TermEnd            time.Time      `json:"term_end"`
	DisclosedAt        time.Time      `json:"disclosed_at"`
	State              AgreementState `json:"state"` // at the end of the year
}

// Yearly builds an agency's yearly disclosure for year: each resource of
// each authorization that was in force at some time in the year, with the
// resource's current registration status.
func (s *Service) Yearly(ctx context.Context, agencyOrgID int64, year int) (YearlyDisclosure, error) {
	y := YearlyDisclosure{Year: year, AgencyOrgID: agencyOrgID, DueBy: time.Date(year+1, time.March, 31, 0, 0, 0, 0, time.UTC)}
	var cc sql.NullString
	err := s.db.QueryRow(ctx, "SELECT name, region_code, credit_code FROM organizations WHERE id = ?", agencyOrgID).Scan(&y.AgencyName, &y.AgencyRegion, &cc)
	if errors.Is(err, sql.ErrNoRows) {
		return y, apperr.New(apperr.NotFound, "grant.org_unknown", "id", id64(agencyOrgID))
	}
	if err != nil {
		return y, fmt.Errorf("yearly disclosure %d: %w", year, err)
	}
	y.AgencyCreditCode = cc.String
	first, last := fmt.Sprintf("%04d-01-01", year), fmt.Sprintf("%04d-12-31", year)
	yearEnd := endOfDay(parseDay(last))
	rows, err := s.db.Query(ctx, `SELECT a.id, a.terms, p.mode, op.name, op.credit_code, a.term_start, a.term_end, a.disclosed_at, a.state,
		a.ended_on, sc.resource_id, sc.code, sc.name
		FROM grant_agreements a JOIN organizations op ON op.id = a.operator_org_id JOIN grant_plans p ON p.id = a.plan_id
		JOIN grant_agreement_scope sc ON sc.agreement_id = a.id
		WHERE a.agency_org_id = ? AND a.disclosed_at IS NOT NULL AND a.disclosed_at <= ?
		AND a.term_end >= ? AND (a.ended_on = '' OR a.ended_on >= ?)
		ORDER BY a.id, sc.resource_id`, agencyOrgID, yearEnd.UTC(), first, first)
	if err != nil {
		return y, fmt.Errorf("yearly disclosure %d: %w", year, err)
	}
	for rows.Next() {
		var r AuthorizationRow
		var terms, mode, start, end, state, ended string
		var occ sql.NullString
		if err := rows.Scan(&r.AgreementID, &terms, &mode, &r.OperatorName, &occ, &start, &end, &r.DisclosedAt, &state, &ended,
			&r.ResourceID, &r.ResourceCode, &r.ResourceName); err != nil {
			rows.Close()
			return y, fmt.Errorf("yearly disclosure %d: %w", year, err)
		}
		var f AgreementForm
		if err := json.Unmarshal([]byte(terms), &f); err != nil {
			rows.Close()
			return y, fmt.Errorf("yearly disclosure %d agreement %d: %w", year, r.AgreementID, err)
		}
		r.Mode, r.OperatorCreditCode, r.FeeCaps = Mode(mode), occ.String, f.Pricing.Caps
		r.TermStart, r.TermEnd, r.DisclosedAt = parseDay(start), parseDay(end), r.DisclosedAt.UTC()
		r.State = effectiveState(AgreementState(state), r.TermEnd, yearEnd)
		y.Rows = append(y.Rows, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return y, fmt.Errorf("yearly disclosure %d: %w", year, err)
	}
	status := map[int64]string{}
	for i := range y.Rows {
		id := y.Rows[i].ResourceID
		st, ok := status[id]
		if !ok {
			facts, err := s.resources.Resource(ctx, id)
			switch {
			case apperr.IsCode(err, apperr.NotFound):
				st = "unknown"
			case err != nil:
				return y, fmt.Errorf("yearly disclosure %d resource %d: %w", year, id, err)
			default:
				st = facts.Status
			}
			status[id] = st
		}
		y.Rows[i].RegistrationStatus = st
	}
	return y, nil
}

// CSVColumns are the columns of the yearly file, as message keys; the web
// layer passes their labels in the reader's language to WriteYearlyCSV.
var CSVColumns = []string{"grant.csv.agency", "grant.csv.agency_region", "grant.csv.agency_credit_code", "grant.csv.agreement",
	"grant.csv.resource_code", "grant.csv.resource_name", "grant.csv.registration_status", "grant.csv.mode", "grant.csv.fee_caps",
	"grant.csv.operator", "grant.csv.operator_credit_code", "grant.csv.term_start", "grant.csv.term_end",
	"grant.csv.disclosed_on", "grant.csv.state"}

// WriteYearlyCSV writes the downloadable yearly file: one row per
// authorized resource, the agency's information repeated on each row so
// that every row stands alone. label turns a column key (and a mode,
// state or unit key) into words; nil writes the keys' last part.
func WriteYearlyCSV(w io.Writer, y YearlyDisclosure, label func(key string) string) error {
	if label == nil {
		label = func(key string) string { return key[strings.LastIndex(key, ".")+1:] }
	}
	// A byte-order mark, so that spreadsheet programs common on Chinese
	// desktops read the file as UTF-8 rather than GBK.
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	head := make([]string, len(CSVColumns))
	for i, k := range CSVColumns {
		head[i] = label(k)
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	rows := append([]AuthorizationRow(nil), y.Rows...)
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].AgreementID != rows[j].AgreementID {
			return rows[i].AgreementID < rows[j].AgreementID
		}
		return rows[i].ResourceCode < rows[j].ResourceCode
	})
	for _, r := range rows {
		caps := make([]string, 0, len(r.FeeCaps))
		for _, c := range r.FeeCaps {
			caps = append(caps, label("grant.unit."+string(c.Unit))+" ≤ "+yuan(c.CapFen))
		}
		if err := cw.Write([]string{y.AgencyName, y.AgencyRegion, y.AgencyCreditCode, id64(r.AgreementID),
			r.ResourceCode, r.ResourceName, r.RegistrationStatus, label("grant.mode." + string(r.Mode)), strings.Join(caps, "; "),
			r.OperatorName, r.OperatorCreditCode, formatDay(r.TermStart), formatDay(r.TermEnd),
			formatDay(Day(r.DisclosedAt)), label("grant.state." + string(r.State))}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
