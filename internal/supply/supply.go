// Package supply owns bringing a department's public data into the domain
// (R5, R6): previews, immutable versions of each resource's data, their
// column profiles, the privacy tags of each column (proposed by detectors,
// confirmed by a person with a reason, every change kept), the resource's
// privacy unit, the default sandbox role of each column, and the check that
// one data item has one source (一数一源, R6.1).
//
// It never touches the data itself except through its Engine (the domain,
// internal/engine, adapted in internal/supply/domain), never lets values
// leave the domain (profiles of identifying columns hold counts only), and
// never decides a query's fate (internal/policy does, from the roles here).
package supply

import (
	"context"
	"strconv"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
	"github.com/gongshu/gongshu/internal/audit"
	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/region"
	"github.com/gongshu/gongshu/internal/store"
)

// ResourceRef is what supply needs to know of a registered resource.
type ResourceRef struct {
	ID          int64
	Code        string // unified identifier code
	HolderOrgID int64
	// Region is the holder's GB/T 2260 region: who may act on the
	// resource depends on it (R4.1).
	Region string
	Grade  string // "core", "important", "general-1".."general-4", or 核心/重要/一般
	Name   string
}

// Resources finds registered resources (the registry, adapted by the caller).
type Resources interface {
	Resource(ctx context.Context, id int64) (ResourceRef, error)
}

// Format is the kind of a source.
type Format string

const (
	CSV      Format = "csv"
	XLSX     Format = "xlsx"
	Parquet  Format = "parquet"
	Postgres Format = "postgres"
)

// Source is where a department's data comes from.
type Source struct {
	Format    Format
	Path      string            // file in the domain's upload area
	Sheet     string            // XLSX worksheet; empty: the first
	Delimiter string            // CSV; empty: comma
	Types     map[string]string // CSV column types to force, by name
	URL       string            // PostgreSQL source
	Table     string            // PostgreSQL source "schema.table"
}

// Column is a column with the engine's type name.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Loaded is what the engine reports of a finished load.
type Loaded struct {
	Table   string
	Columns []Column
	Rows    int64
	Bytes   int64
	SHA256  string
}

// ValueCount is one frequent value and its count.
type ValueCount struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// ColumnProfile summarizes a loaded column.
type ColumnProfile struct {
	Name     string       `json:"name"`
	Type     string       `json:"type"`
	Rows     int64        `json:"rows"`
	Nulls    int64        `json:"nulls"`
	Distinct int64        `json:"distinct"`
	Min      string       `json:"min,omitempty"`
	Max      string       `json:"max,omitempty"`
	Top      []ValueCount `json:"top,omitempty"`
}

// Engine is the part of the domain supply uses. Load must leave no table
// behind when it fails (and may still report the source's bytes and hash
// then, for the audit entry); Drop undoes a load the control plane could
// not record.
type Engine interface {
	Infer(ctx context.Context, src Source, sampleRows int) ([]Column, [][]string, error)
	Load(ctx context.Context, table string, src Source, progress func(bytes, rows int64)) (Loaded, error)
	Profile(ctx context.Context, table string, skipValues map[string]bool) ([]ColumnProfile, error)
	Sample(ctx context.Context, table string, n int) (map[string][]string, error)
	Drop(ctx context.Context, table string) error
}

// Audit actions of supply.
const (
	ActionPreview        = "supply.preview"
	ActionLoad           = "supply.load"
	ActionProposeTags    = "supply.propose_tags"
	ActionConfirmTag     = "supply.confirm_tag"
	ActionSetPrivacyUnit = "supply.set_privacy_unit"
)

// SampleRows is how many rows the detectors look at per column.
const SampleRows = 10000

// PreviewRows is how many rows a preview shows.
const PreviewRows = 20

// Service runs supply.
type Service struct {
	db        *store.DB
	log       *audit.Log
	eng       Engine
	resources Resources
	regions   *region.Table
	now       func() time.Time
	afterLoad []func(ctx context.Context, p identity.Principal, v Version)
}

// AfterLoad registers fn to be called after each successful load, once
// its version is recorded (the quality rules run from here). Register
// before serving; fn must not block for long: start work in the
// background.
func (s *Service) AfterLoad(fn func(ctx context.Context, p identity.Principal, v Version)) {
	s.afterLoad = append(s.afterLoad, fn)
}

// NewService wires a supply service; regions is the table the
// authorization decision checks a resource's region against.
func NewService(db *store.DB, log *audit.Log, eng Engine, resources Resources, regions *region.Table, now func() time.Time) *Service {
	return &Service{db: db, log: log, eng: eng, resources: resources, regions: regions, now: now}
}

func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// entry starts an audit entry for an action by p on a resource.
func entry(p identity.Principal, action string, resourceID int64) audit.Entry {
	actor := p.Actor()
	if actor.Login == "" {
		actor = audit.Anonymous("")
	}
	return audit.Entry{Actor: actor, Action: action, ObjectType: "resource", ObjectID: strconv.FormatInt(resourceID, 10)}
}

// mayHandle says whether p may bring data into, and describe, a resource:
// users of the holding department (or utility, R23.1), and the agency of
// the holder's region or of a region containing it (R4.1). It is
// identity.Authorize's decision on the resource.
func (s *Service) mayHandle(p identity.Principal, r ResourceRef) bool {
	return identity.Authorize(s.regions, p, identity.ActDataManage, identity.Object{OrgID: r.HolderOrgID, Region: r.Region}) == nil
}

// resource loads the resource and checks p may handle it; a refusal is audited.
func (s *Service) resource(ctx context.Context, p identity.Principal, action string, id int64) (ResourceRef, error) {
	e := entry(p, action, id)
	r, err := s.resources.Resource(ctx, id)
	if err != nil {
		return ResourceRef{}, s.log.Refuse(ctx, e, err)
	}
	if p.UserID == 0 {
		return ResourceRef{}, s.log.Refuse(ctx, e, apperr.New(apperr.Unauthenticated, "identity.login_required"))
	}
	if !s.mayHandle(p, r) {
		return ResourceRef{}, s.log.Refuse(ctx, e, apperr.New(apperr.Forbidden, "supply.forbidden", "resource", r.Code))
	}
	return r, nil
}

// gradeClass reduces a grade to core, important or general.
func gradeClass(g string) string {
	switch g {
	case "core", "核心", "核心数据":
		return "core"
	case "important", "重要", "重要数据":
		return "important"
	}
	return "general"
}

// MayHandle reports whether p may load and describe the resource (the
// console shows its upload and tagging forms only then); it records
// nothing, the actions themselves check and audit again.
func (s *Service) MayHandle(ctx context.Context, p identity.Principal, id int64) bool {
	r, err := s.resources.Resource(ctx, id)
	return err == nil && s.mayHandle(p, r)
}
