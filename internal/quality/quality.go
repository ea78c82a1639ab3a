// Package quality owns the data-quality rules of each resource and their
// results (R6.2): declarations (not null, unique, formats with GB 11643 and
// GB 32100 check characters, ranges, allowed values, references to another
// resource, freshness against the update frequency), their execution in the
// data plane compiled into one fused aggregate scan, per-rule, per-dimension,
// per-resource and per-department scores, the history of runs for trend
// charts, samples of failing rows kept apart for the holding department only,
// and the list of resources whose scheduled run is due. It never loads data
// (internal/supply does), never starts goroutines or timers (the caller runs
// the schedule) and never lets a failing value reach anyone but the holding
// department and the agency: operators see scores, never samples.
package quality

import (
	"errors"
	"time"
)

// Dimension is one aspect of quality a rule measures.
type Dimension string

const (
	Completeness Dimension = "completeness"
	Validity     Dimension = "validity"
	Uniqueness   Dimension = "uniqueness"
	Consistency  Dimension = "consistency"
	Timeliness   Dimension = "timeliness"
)

// Dimensions lists the dimensions in display order.
func Dimensions() []Dimension {
	return []Dimension{Completeness, Validity, Uniqueness, Consistency, Timeliness}
}

// Weight is a dimension's share of a resource's score. Validity and
// completeness weigh most because they are what a data user trips over
// first; the weights of the dimensions a resource has rules for are
// renormalised to sum to one.
func (d Dimension) Weight() float64 {
	switch d {
	case Completeness, Validity:
		return 0.25
	case Uniqueness:
		return 0.2
	case Consistency, Timeliness:
		return 0.15
	}
	return 0
}

// Type is the kind of a rule.
type Type string

const (
	NotNull   Type = "not_null"
	Unique    Type = "unique"
	Format    Type = "format"
	Range     Type = "range"
	Allowed   Type = "allowed"
	Reference Type = "reference"
	Freshness Type = "freshness"
)

// Dimension is the dimension a rule of this type measures.
func (t Type) Dimension() Dimension {
	switch t {
	case NotNull:
		return Completeness
	case Unique:
		return Uniqueness
	case Reference:
		return Consistency
	case Freshness:
		return Timeliness
	}
	return Validity
}

// FormatName names a value format a format rule checks.
type FormatName string

const (
	IDCard     FormatName = "id_card"     // 18-character 身份证号, GB 11643 check digit, real birth date
	CreditCode FormatName = "credit_code" // 统一社会信用代码, GB 11714 and GB 32100 check characters
	Mobile     FormatName = "mobile"      // 11 digits: 1, then 3-9, then 9 digits
	Date       FormatName = "date"        // a calendar date (and time) in Layout
	Regexp     FormatName = "regexp"      // the whole value matches Pattern
)

// Trigger says why a run happened.
type Trigger string

const (
	TriggerLoad     Trigger = "load"
	TriggerSchedule Trigger = "schedule"
	TriggerManual   Trigger = "manual"
)

func (t Trigger) valid() bool {
	return t == TriggerLoad || t == TriggerSchedule || t == TriggerManual
}

// Audit actions of quality.
const (
	ActionSetRules    = "quality.set_rules"
	ActionRun         = "quality.run"
	ActionReadSamples = "quality.read_samples"
)

// SampleLimit is how many failing rows a run keeps per rule.
const SampleLimit = 20

// Target is the loaded version of a resource a run checks.
type Target struct {
	// Table is the domain table (supply.TableName(resourceID, version)).
	Table   string
	Version int
	// LoadedAt is when the version was loaded: a freshness rule without a
	// column measures it.
	LoadedAt time.Time
}

// Resource is what quality needs to know of a registered resource.
type Resource struct {
	ID          int64
	Code        string
	HolderOrgID int64
	// Region is the holder's GB/T 2260 region (R4.1).
	Region string
	// Frequency is the registry's update frequency code (realtime, daily,
	// weekly, monthly, quarterly, yearly, irregular, once).
	Frequency string
}

// ErrNoRules is returned (wrapped in an apperr NotFound) when a resource
// has no rules to run.
var ErrNoRules = errors.New("quality: no rules")

// errEnough stops reading a result once enough rows were seen.
var errEnough = errors.New("quality: enough rows")
