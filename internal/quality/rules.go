package quality

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
)

// Rules is the declaration of a resource's quality rules, as kept in a JSON
// file (docs/quality-rules.md) or built in Go.
type Rules struct {
	// Key is the column that identifies a row in samples of failing rows;
	// without it samples hold only the failing values.
	Key string `json:"key,omitempty"`
	// Schedule is how often the rules run besides every load: daily (the
	// default), weekly, monthly or off.
	Schedule string `json:"schedule,omitempty"`
	Rules    []Rule `json:"rules"`
}

// Rule is one check.
type Rule struct {
	// ID names the rule in results; it defaults to type:column.
	ID   string `json:"id,omitempty"`
	Type Type   `json:"type"`
	// Column is the checked column (every type but unique; optional for
	// freshness, which then measures the load time).
	Column string `json:"column,omitempty"`
	// Columns are unique's key columns.
	Columns []string `json:"columns,omitempty"`
	// Format, Layout and Pattern are a format rule's; Layout is a Go time
	// layout (2006-01-02) for dates, and for freshness on a text column.
	Format  FormatName `json:"format,omitempty"`
	Layout  string     `json:"layout,omitempty"`
	Pattern string     `json:"pattern,omitempty"`
	// Min and Max bound a range rule, both inclusive: numbers, or dates
	// written 2006-01-02.
	Min *Bound `json:"min,omitempty"`
	Max *Bound `json:"max,omitempty"`
	// Values are an allowed rule's values, compared as text.
	Values []string `json:"values,omitempty"`
	// Resource and RefColumn name the column of another resource's latest
	// version that a reference rule's values must appear in.
	Resource  int64  `json:"resource,omitempty"`
	RefColumn string `json:"ref_column,omitempty"`
	// Frequency overrides the resource's registered update frequency for a
	// freshness rule; MaxAgeDays overrides both.
	Frequency  string `json:"frequency,omitempty"`
	MaxAgeDays int    `json:"max_age_days,omitempty"`
}

// Bound is a range limit: a number or a 2006-01-02 date. In JSON it may be
// written as a number or a string.
type Bound string

// UnmarshalJSON accepts a JSON number or string.
func (b *Bound) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		*b = Bound(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(data, &n); err != nil {
		return fmt.Errorf("a bound is a number or a date string: %w", err)
	}
	*b = Bound(n.String())
	return nil
}

// MarshalJSON writes numbers as numbers and dates as strings.
func (b Bound) MarshalJSON() ([]byte, error) {
	if _, ok := b.number(); ok {
		return []byte(string(b)), nil
	}
	return json.Marshal(string(b))
}

// numberRE is the number syntax bounds and text values must have; both
// engines cast it the same way.
var numberRE = regexp.MustCompile(`^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$`)

func (b Bound) number() (float64, bool) {
	if !numberRE.MatchString(string(b)) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	return f, err == nil && !math.IsInf(f, 0)
}

func (b Bound) date() (time.Time, bool) {
	t, err := time.Parse(time.DateOnly, string(b))
	return t, err == nil
}

// Dimension is the dimension the rule measures.
func (r Rule) Dimension() Dimension { return r.Type.Dimension() }

// columns lists the columns of the checked table a rule reads.
func (r Rule) columns() []string {
	if r.Type == Unique {
		return r.Columns
	}
	if r.Column == "" {
		return nil
	}
	return []string{r.Column}
}

// defaultID is type:column (type:a+b for unique keys, format:column for
// formats), so most files need no ids.
func (r Rule) defaultID() string {
	switch {
	case r.Type == Unique:
		return string(r.Type) + ":" + strings.Join(r.Columns, "+")
	case r.Column == "":
		return string(r.Type)
	}
	return string(r.Type) + ":" + r.Column
}

// ParseRules reads a JSON declaration. Unknown fields are refused, so a
// misspelt option is an error rather than a silently ignored check.
func ParseRules(data []byte) (Rules, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var rs Rules
	if err := dec.Decode(&rs); err != nil {
		return Rules{}, apperr.New(apperr.Invalid, "quality.bad_json", "error", err.Error()).Wrap(err)
	}
	if dec.More() {
		return Rules{}, apperr.New(apperr.Invalid, "quality.bad_json", "error", "trailing data after the declaration")
	}
	rs.normalize()
	return rs, nil
}

// JSON returns the declaration as indented JSON, the file format.
func (rs Rules) JSON() []byte {
	b, _ := json.MarshalIndent(rs, "", "  ")
	return b
}

// normalize fills default ids and the default schedule.
func (rs *Rules) normalize() {
	if rs.Schedule == "" {
		rs.Schedule = "daily"
	}
	for i := range rs.Rules {
		r := &rs.Rules[i]
		r.ID = strings.TrimSpace(r.ID)
		if r.ID == "" {
			r.ID = r.defaultID()
		}
	}
}

// Schedules are the values Rules.Schedule may take, with their periods.
var schedules = map[string]time.Duration{
	"daily":   24 * time.Hour,
	"weekly":  7 * 24 * time.Hour,
	"monthly": 30 * 24 * time.Hour,
	"off":     0,
}

// maxAgeDays is how old data may be for each update frequency: one period
// and a day of grace for the load to happen. Irregular and one-off
// resources have no age limit. The Chinese names are the registry's labels.
func maxAgeDays(frequency string) (int, bool) {
	switch frequency {
	case "realtime", "实时":
		return 1, true
	case "daily", "每日":
		return 2, true
	case "weekly", "每周":
		return 8, true
	case "monthly", "每月":
		return 32, true
	case "quarterly", "每季度":
		return 93, true
	case "yearly", "每年":
		return 367, true
	}
	return 0, false
}

func knownFrequency(f string) bool {
	switch f {
	case "irregular", "once", "不定期", "一次性":
		return true
	}
	_, ok := maxAgeDays(f)
	return ok
}

// Validate checks a declaration on its own (the columns exist only once a
// version is loaded, and are checked then). It returns nil or every problem
// found, joined; each is an apperr Invalid naming the rule and what to fix
// (Problems lists them).
func (rs Rules) Validate() error {
	rs.normalize()
	var errs []error
	bad := func(key string, args ...string) { errs = append(errs, apperr.New(apperr.Invalid, key, args...)) }
	if _, ok := schedules[rs.Schedule]; !ok {
		bad("quality.bad_schedule", "schedule", rs.Schedule)
	}
	if len(rs.Rules) > MaxRules {
		bad("quality.too_many_rules", "max", strconv.Itoa(MaxRules))
	}
	seen := map[string]bool{}
	for _, r := range rs.Rules {
		if seen[r.ID] {
			bad("quality.duplicate_id", "rule", r.ID)
		}
		seen[r.ID] = true
		errs = append(errs, r.validate()...)
	}
	return errors.Join(errs...)
}

// MaxRules bounds a declaration so one resource cannot make a scan's
// select list unbounded.
const MaxRules = 200

func (r Rule) validate() []error {
	var errs []error
	bad := func(key string, args ...string) {
		errs = append(errs, apperr.New(apperr.Invalid, key, append([]string{"rule", r.ID}, args...)...))
	}
	needColumn := func() {
		if strings.TrimSpace(r.Column) == "" {
			bad("quality.column_required")
		}
	}
	switch r.Type {
	case NotNull:
		needColumn()
	case Unique:
		if len(r.Columns) == 0 {
			bad("quality.columns_required")
		}
		for _, c := range r.Columns {
			if strings.TrimSpace(c) == "" {
				bad("quality.columns_required")
			}
		}
	case Format:
		needColumn()
		switch r.Format {
		case IDCard, CreditCode, Mobile:
		case Date:
			if _, err := compileLayout(r.layout()); err != nil {
				bad("quality.bad_layout", "layout", r.Layout)
			}
		case Regexp:
			if r.Pattern == "" {
				bad("quality.pattern_required")
			} else if _, err := regexp.Compile(r.Pattern); err != nil {
				bad("quality.bad_pattern", "pattern", r.Pattern)
			}
		default:
			bad("quality.bad_format", "format", string(r.Format))
		}
	case Range:
		needColumn()
		if r.Min == nil && r.Max == nil {
			bad("quality.bound_required")
		} else if _, err := r.rangeKind(); err != nil {
			errs = append(errs, err)
		}
	case Allowed:
		needColumn()
		if len(r.Values) == 0 {
			bad("quality.values_required")
		}
	case Reference:
		needColumn()
		if r.Resource <= 0 || strings.TrimSpace(r.RefColumn) == "" {
			bad("quality.reference_required")
		}
	case Freshness:
		if r.Frequency != "" && !knownFrequency(r.Frequency) {
			bad("quality.bad_frequency", "frequency", r.Frequency)
		}
		if r.MaxAgeDays < 0 {
			bad("quality.bad_max_age")
		}
		if r.Column != "" && r.Layout != "" {
			if _, err := compileLayout(r.Layout); err != nil {
				bad("quality.bad_layout", "layout", r.Layout)
			}
		}
	default:
		bad("quality.bad_type", "type", string(r.Type))
	}
	return errs
}

// rangeKind says whether a range rule compares numbers or dates.
func (r Rule) rangeKind() (string, error) {
	bounds := []*Bound{r.Min, r.Max}
	kind := ""
	for _, b := range bounds {
		if b == nil {
			continue
		}
		k := ""
		if _, ok := b.number(); ok {
			k = "number"
		} else if _, ok := b.date(); ok {
			k = "date"
		} else {
			return "", apperr.New(apperr.Invalid, "quality.bad_bound", "rule", r.ID, "bound", string(*b))
		}
		if kind != "" && k != kind {
			return "", apperr.New(apperr.Invalid, "quality.mixed_bounds", "rule", r.ID)
		}
		kind = k
	}
	if r.Min != nil && r.Max != nil {
		if kind == "number" {
			lo, _ := r.Min.number()
			hi, _ := r.Max.number()
			if lo > hi {
				return "", apperr.New(apperr.Invalid, "quality.min_above_max", "rule", r.ID)
			}
		} else if string(*r.Min) > string(*r.Max) {
			return "", apperr.New(apperr.Invalid, "quality.min_above_max", "rule", r.ID)
		}
	}
	return kind, nil
}

func (r Rule) layout() string {
	if r.Layout == "" {
		return time.DateOnly
	}
	return r.Layout
}

// Problems lists the apperr errors in err (one per problem Validate found).
func Problems(err error) []*apperr.Error {
	var out []*apperr.Error
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		if ae, ok := apperr.As(e); ok {
			out = append(out, ae)
		}
	}
	walk(err)
	return out
}
