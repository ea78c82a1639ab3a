// Package registry owns the registration platform (登记平台, R13.1): public
// data resources registered by their holding departments (and utilities,
// R23.1) or by the agency on their behalf, products and services registered
// by operators, the identifiers issued to them, the registration workflow
// with its working-day deadlines (submitted → accepted within 3 working
// days → reviewed and announced (公示) within 20 working days of acceptance
// → registered; then change, correction and cancellation), every version
// submitted, and the one-source check (一数一源, R6.1) between departments.
// It never holds or reads the data itself: loading belongs to supply, and
// the catalog shows what registry describes, never rows.
package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/region"
	"github.com/gongshu/gongshu/internal/store"
	"github.com/gongshu/gongshu/internal/workday"
)

// Status is the workflow state of an item's latest version.
type Status string

const (
	Submitted  Status = "submitted"  // 已提交
	Accepted   Status = "accepted"   // 已受理
	Announced  Status = "announced"  // 公示中
	Registered Status = "registered" // 已登记
	Rejected   Status = "rejected"   // 不予登记
	Cancelled  Status = "cancelled"  // 已注销
)

// Deadlines of the national registration measures, in working days.
const (
	AcceptDays   = 3  // from submission to acceptance
	ReviewDays   = 20 // from acceptance to review and announcement
	AnnounceDays = 5  // the announcement (公示) period before registration
)

// Item is a registered (or submitted) resource or product.
type Item struct {
	ID           int64           `json:"id"`
	Kind         Kind            `json:"kind"`
	Code         string          `json:"code"`
	HolderOrgID  int64           `json:"holder_org_id"`
	HolderName   string          `json:"holder_name"`
	Region       string          `json:"region"`
	Status       Status          `json:"status"`
	Version      int             `json:"version"`
	LiveVersion  int             `json:"live_version"`
	Name         string          `json:"name"`
	Domain       string          `json:"domain,omitempty"`
	Grade        string          `json:"grade,omitempty"`
	Frequency    string          `json:"frequency,omitempty"`
	Access       string          `json:"access,omitempty"`
	ProductType  string          `json:"product_type,omitempty"`
	SubmittedAt  time.Time       `json:"submitted_at"`
	AcceptDue    time.Time       `json:"accept_due"`
	AcceptedAt   *time.Time      `json:"accepted_at,omitempty"`
	ReviewDue    *time.Time      `json:"review_due,omitempty"`
	AnnouncedAt  *time.Time      `json:"announced_at,omitempty"`
	AnnounceEnd  *time.Time      `json:"announce_until,omitempty"`
	RegisteredAt *time.Time      `json:"registered_at,omitempty"`
	ClosedAt     *time.Time      `json:"closed_at,omitempty"`
	Reason       string          `json:"reason,omitempty"`
	UpdatedAt    time.Time       `json:"updated_at"`
	Overdue      string          `json:"overdue,omitempty"` // "accept" or "review" when that step is late
	Fields       json.RawMessage `json:"fields,omitempty"`  // the form of the version shown
}

// Resource decodes the form of a resource item.
func (it Item) Resource() (ResourceForm, error) {
	var f ResourceForm
	err := json.Unmarshal(it.Fields, &f)
	return f, err
}

// Forms decodes the item's form: the resource form or the product form,
// whichever its kind has (the other is nil).
func (it Item) Forms() (*ResourceForm, *ProductForm, error) {
	if it.Kind == KindProduct {
		f, err := it.Product()
		return nil, &f, err
	}
	f, err := it.Resource()
	return &f, nil, err
}

// Product decodes the form of a product item.
func (it Item) Product() (ProductForm, error) {
	var f ProductForm
	err := json.Unmarshal(it.Fields, &f)
	return f, err
}

// Orgs is what registry needs of identity: the organisation an item is
// registered for.
type Orgs interface {
	Org(ctx context.Context, id int64) (identity.Org, error)
}

// Indexer keeps the catalog's search index in step with registrations,
// inside the same transaction (nil: no index).
type Indexer interface {
	Index(ctx context.Context, tx *store.Tx, it Item) error
}

// Service runs the registration platform.
type Service struct {
	db       *store.DB
	log      *audit.Log
	orgs     Orgs
	regions  *region.Table
	calendar *workday.Calendar
	now      func() time.Time
	index    Indexer
}

// New returns the service; index may be nil.
func New(db *store.DB, log *audit.Log, orgs Orgs, regions *region.Table, calendar *workday.Calendar, now func() time.Time, index Indexer) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, log: log, orgs: orgs, regions: regions, calendar: calendar, now: now, index: index}
}

func (s *Service) clock() time.Time { return s.now().UTC() }

func itoa(n int) string { return strconv.Itoa(n) }

func entry(p identity.Principal, action string, id int64) audit.Entry {
	e := audit.Entry{Actor: p.Actor(), Action: action, ObjectType: "registry_item"}
	if id != 0 {
		e.ObjectID = strconv.FormatInt(id, 10)
	}
	return e
}

// SubmitResource registers a resource for review and returns it with its
// new identifier.
func (s *Service) SubmitResource(ctx context.Context, p identity.Principal, f ResourceForm) (Item, error) {
	e := entry(p, "resource.submit", 0)
	e.Set("name", f.Name)
	if err := f.Validate(); err != nil {
		return Item{}, s.log.Refuse(ctx, e, err)
	}
	holder, err := s.orgs.Org(ctx, f.HolderOrgID)
	if err != nil {
		return Item{}, s.log.Refuse(ctx, e, err)
	}
	if holder.Type != identity.OrgDepartment && holder.Type != identity.OrgUtility {
		return Item{}, s.log.Refuse(ctx, e, apperr.New(apperr.Invalid, "registry.holder_not_department", "org", holder.Name).OnField("holder_org_id"))
	}
	if err := identity.Authorize(s.regions, p, identity.ActResourceSubmit, identity.Object{OrgID: holder.ID, Region: holder.Region}); err != nil {
		return Item{}, s.log.Refuse(ctx, e, err)
	}
	return s.submit(ctx, p, e, KindResource, holder, f.Name, f, func(tx *store.Tx, it *Item) error {
		it.Domain, it.Grade, it.Frequency, it.Access = f.Domain, f.Grade, f.Frequency, f.AccessMethod
		return nil
	})
}

// SubmitProduct registers an operator's product or service for review.
func (s *Service) SubmitProduct(ctx context.Context, p identity.Principal, f ProductForm) (Item, error) {
	e := entry(p, "product.submit", 0)
	e.Set("name", f.Name)
	if err := f.Validate(); err != nil {
		return Item{}, s.log.Refuse(ctx, e, err)
	}
	holder, err := s.orgs.Org(ctx, p.OrgID)
	if err != nil {
		return Item{}, s.log.Refuse(ctx, e, err)
	}
	if err := identity.Authorize(s.regions, p, identity.ActProductSubmit, identity.Object{OrgID: holder.ID, Region: holder.Region}); err != nil {
		return Item{}, s.log.Refuse(ctx, e, err)
	}
	return s.submit(ctx, p, e, KindProduct, holder, f.Name, f, func(tx *store.Tx, it *Item) error {
		it.ProductType = f.Type
		for _, rid := range f.ResourceIDs {
			var kind, status string
			err := tx.QueryRow(ctx, "SELECT kind, status FROM registry_items WHERE id = ?", rid).Scan(&kind, &status)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && (kind != string(KindResource))) {
				return apperr.New(apperr.Invalid, "registry.product_resource_unknown", "id", strconv.FormatInt(rid, 10)).OnField("resource_ids")
			}
			if err != nil {
				return err
			}
			if Status(status) != Registered {
				return apperr.New(apperr.Invalid, "registry.product_resource_unregistered", "id", strconv.FormatInt(rid, 10)).OnField("resource_ids")
			}
			if _, err := tx.Exec(ctx, "INSERT INTO registry_product_resources (product_id, resource_id) VALUES (?, ?)", it.ID, rid); err != nil {
				if store.IsUniqueViolation(err) {
					return apperr.New(apperr.Invalid, "registry.item_duplicate", "name", strconv.FormatInt(rid, 10)).OnField("resource_ids")
				}
				return err
			}
		}
		return nil
	})
}

func (s *Service) submit(ctx context.Context, p identity.Principal, e audit.Entry, kind Kind, holder identity.Org, name string, form any, more func(*store.Tx, *Item) error) (Item, error) {
	fields, err := json.Marshal(form)
	if err != nil {
		return Item{}, err
	}
	now := s.clock()
	it := Item{Kind: kind, HolderOrgID: holder.ID, HolderName: holder.Name, Region: holder.Region, Status: Submitted, Version: 1,
		Name: name, SubmittedAt: now, AcceptDue: s.calendar.Add(now, AcceptDays).Date, UpdatedAt: now, Fields: fields}
	err = s.log.Do(ctx, e, func(tx *store.Tx, e *audit.Entry) error {
		scope := fmt.Sprintf("%c%s%04d", kind.digit(), holder.Region, now.Year())
		// The serial is the next in its scope; the unique index on
		// (scope, serial) turns a concurrent submission into a retry
		// rather than a duplicate identifier.
		var serial int
		if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(serial), 0) + 1 FROM registry_items WHERE serial_scope = ?", scope).Scan(&serial); err != nil {
			return err
		}
		it.Code = MakeIdentifier(kind, holder.Region, now.Year(), serial)
		id, err := tx.InsertID(ctx, `INSERT INTO registry_items (kind, code, serial_scope, serial, holder_org_id, region_code, status, version,
			name, submitted_at, accept_due, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)`,
			string(kind), it.Code, scope, serial, holder.ID, holder.Region, string(Submitted), name, now, it.AcceptDue, now)
		if err != nil {
			return err
		}
		it.ID = id
		if err := more(tx, &it); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE registry_items SET domain = ?, grade = ?, frequency = ?, access = ?, product_type = ? WHERE id = ?",
			it.Domain, it.Grade, it.Frequency, it.Access, it.ProductType, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO registry_versions (item_id, version, change, fields, by_user_id, at) VALUES (?, 1, 'submit', ?, ?, ?)",
			id, string(fields), p.UserID, now); err != nil {
			return err
		}
		e.ObjectID = strconv.FormatInt(id, 10)
		e.Set("code", it.Code)
		return nil
	})
	if err != nil {
		return Item{}, err
	}
	return it, nil
}

const itemColumns = `i.id, i.kind, i.code, i.holder_org_id, o.name, i.region_code, i.status, i.version, i.live_version, i.name,
	i.domain, i.grade, i.frequency, i.access, i.product_type, i.submitted_at, i.accept_due, i.accepted_at, i.review_due,
	i.announced_at, i.announce_until, i.registered_at, i.closed_at, i.reason, i.updated_at`

const itemFrom = " FROM registry_items i JOIN organizations o ON o.id = i.holder_org_id"

type rowScanner interface{ Scan(...any) error }

func scanItem(r rowScanner) (Item, error) {
	var it Item
	var kind, status string
	var acc, rev, ann, annEnd, reg, closed sql.NullTime
	err := r.Scan(&it.ID, &kind, &it.Code, &it.HolderOrgID, &it.HolderName, &it.Region, &status, &it.Version, &it.LiveVersion, &it.Name,
		&it.Domain, &it.Grade, &it.Frequency, &it.Access, &it.ProductType, &it.SubmittedAt, &it.AcceptDue, &acc, &rev,
		&ann, &annEnd, &reg, &closed, &it.Reason, &it.UpdatedAt)
	if err != nil {
		return it, err
	}
	it.Kind, it.Status = Kind(kind), Status(status)
	opt := func(t sql.NullTime) *time.Time {
		if !t.Valid {
			return nil
		}
		u := t.Time.UTC()
		return &u
	}
	it.AcceptedAt, it.ReviewDue, it.AnnouncedAt, it.AnnounceEnd, it.RegisteredAt, it.ClosedAt = opt(acc), opt(rev), opt(ann), opt(annEnd), opt(reg), opt(closed)
	it.SubmittedAt, it.AcceptDue, it.UpdatedAt = it.SubmittedAt.UTC(), it.AcceptDue.UTC(), it.UpdatedAt.UTC()
	return it, nil
}

// overdue names the step that is past its deadline at now.
func (it *Item) flagOverdue(now time.Time) {
	switch {
	case it.Status == Submitted && now.After(endOfDay(it.AcceptDue)):
		it.Overdue = "accept"
	case it.Status == Accepted && it.ReviewDue != nil && now.After(endOfDay(*it.ReviewDue)):
		it.Overdue = "review"
	}
}

// A deadline day is met until its end, in China's time zone.
func endOfDay(d time.Time) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), 24, 0, 0, 0, shanghai).Add(-time.Nanosecond)
}

var shanghai = time.FixedZone("CST", 8*3600)

// getItem reads an item with the form of version v (0: the version the
// public sees, or the latest before registration; -1: the latest).
func (s *Service) getItem(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) *sql.Row
}, id int64, v int) (Item, error) {
	it, err := scanItem(q.QueryRow(ctx, "SELECT "+itemColumns+itemFrom+" WHERE i.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Item{}, apperr.New(apperr.NotFound, "registry.not_found", "id", strconv.FormatInt(id, 10))
	}
	if err != nil {
		return Item{}, fmt.Errorf("registry item %d: %w", id, err)
	}
	if v == 0 {
		v = it.LiveVersion
	}
	if v <= 0 {
		v = it.Version
	}
	var fields string
	if err := q.QueryRow(ctx, "SELECT fields FROM registry_versions WHERE item_id = ? AND version = ?", id, v).Scan(&fields); err != nil {
		return Item{}, fmt.Errorf("registry item %d version %d: %w", id, v, err)
	}
	it.Fields = json.RawMessage(fields)
	it.flagOverdue(s.clock())
	return it, nil
}

// Public reports whether anyone may see the item: it has a registered version.
func (it Item) Public() bool { return it.LiveVersion > 0 }

// Get returns an item as p may see it: registered items are public; one
// not yet registered only to its holder and those who oversee registration.
func (s *Service) Get(ctx context.Context, p identity.Principal, id int64) (Item, error) {
	it, err := s.getItem(ctx, s.db, id, 0)
	if err != nil {
		return Item{}, err
	}
	if !it.Public() {
		if err := identity.Authorize(s.regions, p, identity.ActRegistryReadAll, identity.Object{OrgID: it.HolderOrgID, Region: it.Region}); err != nil {
			// Not found rather than forbidden: an unpublished item's
			// existence is not disclosed.
			return Item{}, apperr.New(apperr.NotFound, "registry.not_found", "id", strconv.FormatInt(id, 10))
		}
	}
	return it, nil
}

// GetAsSystem reads an item for the platform's own services (its latest
// version), without a person's read rules.
func (s *Service) GetAsSystem(ctx context.Context, id int64) (Item, error) {
	return s.getItem(ctx, s.db, id, -1)
}

// ErrNotResource refuses a product where a resource is needed.
func ErrNotResource(id int64) error {
	return apperr.New(apperr.Invalid, "registry.not_a_resource", "id", strconv.FormatInt(id, 10))
}

// Lookup finds a public item by identifier (the certificate's verification link).
func (s *Service) Lookup(ctx context.Context, code string) (Item, error) {
	id, err := ParseIdentifier(code)
	if err != nil {
		return Item{}, err
	}
	code = MakeIdentifier(id.Kind, id.Region, id.Year, id.Serial)
	var itemID int64
	err = s.db.QueryRow(ctx, "SELECT id FROM registry_items WHERE code = ? AND live_version > 0", code).Scan(&itemID)
	if errors.Is(err, sql.ErrNoRows) {
		return Item{}, apperr.New(apperr.NotFound, "registry.code_not_found", "code", code)
	}
	if err != nil {
		return Item{}, fmt.Errorf("lookup %s: %w", code, err)
	}
	return s.getItem(ctx, s.db, itemID, 0)
}

// Filter selects items for the console's registration lists.
type Filter struct {
	Kind    Kind
	Status  Status
	OrgID   int64
	Overdue bool
	Limit   int
}

// List returns the items p may see, newest first.
func (s *Service) List(ctx context.Context, p identity.Principal, f Filter) ([]Item, error) {
	var where []string
	var args []any
	if f.Kind != "" {
		where, args = append(where, "i.kind = ?"), append(args, string(f.Kind))
	}
	if f.Status != "" {
		where, args = append(where, "i.status = ?"), append(args, string(f.Status))
	}
	if f.OrgID != 0 {
		where, args = append(where, "i.holder_org_id = ?"), append(args, f.OrgID)
	}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 200
	}
	q := "SELECT " + itemColumns + itemFrom
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY i.id DESC LIMIT " + strconv.Itoa(limit*4)
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("registry list: %w", err)
	}
	defer rows.Close()
	now := s.clock()
	var out []Item
	for rows.Next() && len(out) < limit {
		it, err := scanItem(rows)
		if err != nil {
			return nil, fmt.Errorf("registry list: %w", err)
		}
		if !it.Public() && identity.Authorize(s.regions, p, identity.ActRegistryReadAll, identity.Object{OrgID: it.HolderOrgID, Region: it.Region}) != nil {
			continue
		}
		it.flagOverdue(now)
		if f.Overdue && it.Overdue == "" {
			continue
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// Versions lists an item's versions, oldest first.
func (s *Service) Versions(ctx context.Context, p identity.Principal, id int64) ([]Version, error) {
	if _, err := s.Get(ctx, p, id); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, "SELECT version, change, by_user_id, at, reason FROM registry_versions WHERE item_id = ? ORDER BY version", id)
	if err != nil {
		return nil, fmt.Errorf("registry versions %d: %w", id, err)
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		var v Version
		if err := rows.Scan(&v.Version, &v.Change, &v.ByUserID, &v.At, &v.Reason); err != nil {
			return nil, err
		}
		v.At = v.At.UTC()
		out = append(out, v)
	}
	return out, rows.Err()
}

// Version is one entry of an item's history.
type Version struct {
	Version  int       `json:"version"`
	Change   string    `json:"change"` // submit, change, correct
	ByUserID int64     `json:"by_user_id"`
	At       time.Time `json:"at"`
	Reason   string    `json:"reason,omitempty"`
}
