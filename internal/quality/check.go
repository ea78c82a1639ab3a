package quality

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/gongshu/gongshu/internal/apperr"
)

// Result is one rule's outcome in a run.
type Result struct {
	RuleID    string    `json:"rule"`
	Type      Type      `json:"type"`
	Dimension Dimension `json:"dimension"`
	Columns   []string  `json:"columns,omitempty"`
	// Checked counts the values the rule looked at (non-null ones, all rows
	// for not_null, 1 for freshness); Failed those that broke it.
	Checked int64 `json:"checked"`
	Failed  int64 `json:"failed"`
	// PassRatio is (Checked-Failed)/Checked, 1 when nothing was checked.
	PassRatio float64 `json:"pass_ratio"`
	// Latest and MaxAgeDays describe a freshness check: the newest date
	// seen (or the load time) and the age allowed.
	Latest     string `json:"latest,omitempty"`
	MaxAgeDays int    `json:"max_age_days,omitempty"`
}

// DimensionScore is one dimension's pass ratio in a run: the mean of the
// pass ratios of its rules that checked something.
type DimensionScore struct {
	Dimension Dimension `json:"dimension"`
	Rules     int       `json:"rules"`
	PassRatio float64   `json:"pass_ratio"`
}

// Sample is one failing row kept for the holding department: the row's key
// (empty without Rules.Key) and the failing value; for unique rules the
// duplicated key and how often it occurs.
type Sample struct {
	RuleID string `json:"rule"`
	Key    string `json:"key"`
	Value  string `json:"value"`
	Count  int64  `json:"count,omitempty"`
}

// Report is what checking a table gives.
type Report struct {
	Rows       int64            `json:"rows"`
	Results    []Result         `json:"results"`
	Dimensions []DimensionScore `json:"dimensions"`
	Score      float64          `json:"score"`
	// Scans counts the statements run over the checked table (the fused
	// aggregate, and the sample queries when something failed).
	Scans   int      `json:"scans"`
	Samples []Sample `json:"-"`
}

// Env is what a check needs besides the table: the resource's update
// frequency for freshness, the tables of referenced resources, the clock.
type Env struct {
	Frequency string
	// RefTables maps a referenced resource to its latest version's table.
	RefTables map[int64]string
	Now       time.Time
	// NoSamples skips the sample queries (scores only).
	NoSamples bool
}

// shanghai is China Standard Time, in which dates in the data are written;
// a fixed zone needs no time zone database.
var shanghai = time.FixedZone("CST", 8*3600)

// Check runs the rules over a domain table: every row-level rule in one
// aggregate statement (references joined into it), then, only for rules
// that failed, one streaming statement for samples of failing rows and one
// grouped statement per failing unique rule.
func Check(ctx context.Context, d Domain, rs Rules, t Target, env Env) (Report, error) {
	rs.normalize()
	if err := rs.Validate(); err != nil {
		return Report{}, err
	}
	p, err := compile(ctx, d, rs, t.Table, env)
	if err != nil {
		return Report{}, err
	}
	vals := make([]any, len(p.aggs))
	ptrs := make([]any, len(p.aggs))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	err = d.Query(ctx, p.aggregateSQL(), func(scan func(...any) error) error { return scan(ptrs...) })
	if err != nil {
		return Report{}, fmt.Errorf("quality check of %s: %w", t.Table, err)
	}
	rep := Report{Scans: 1}
	rep.Rows = toInt(vals[0])
	for _, rc := range p.rules {
		r := Result{RuleID: rc.rule.ID, Type: rc.rule.Type, Dimension: rc.rule.Dimension(), Columns: rc.rule.columns()}
		switch rc.rule.Type {
		case Freshness:
			latest, maxAge, stale, ok := freshness(rc, vals, t, env)
			r.Latest, r.MaxAgeDays = latest, maxAge
			if ok {
				r.Checked = 1
				if stale {
					r.Failed = 1
				}
			}
		case NotNull:
			r.Checked = rep.Rows
			r.Failed = rep.Rows - toInt(vals[rc.checked])
		case Unique:
			r.Checked = toInt(vals[rc.checked])
			r.Failed = r.Checked - toInt(vals[rc.failed])
		default:
			r.Checked = toInt(vals[rc.checked])
			r.Failed = toInt(vals[rc.failed])
		}
		r.PassRatio = 1
		if r.Checked > 0 {
			r.PassRatio = float64(r.Checked-r.Failed) / float64(r.Checked)
		}
		rep.Results = append(rep.Results, r)
	}
	rep.Dimensions, rep.Score = Score(rep.Results)
	if !env.NoSamples {
		n, err := p.samples(ctx, d, rs.Key, rep.Results, &rep.Samples)
		if err != nil {
			return Report{}, fmt.Errorf("quality samples of %s: %w", t.Table, err)
		}
		rep.Scans += n
	}
	return rep, nil
}

// Score rolls results up: per dimension the mean pass ratio of its rules
// that checked something, and the resource's score, 100 times the
// weighted mean of the dimensions present (weights renormalised over
// them), rounded to one decimal. No checked rule gives a score of 0.
func Score(results []Result) ([]DimensionScore, float64) {
	var dims []DimensionScore
	var total, weights float64
	for _, d := range Dimensions() {
		var sum float64
		n := 0
		for _, r := range results {
			if r.Dimension == d && r.Checked > 0 {
				sum += r.PassRatio
				n++
			}
		}
		if n == 0 {
			continue
		}
		ds := DimensionScore{Dimension: d, Rules: n, PassRatio: sum / float64(n)}
		dims = append(dims, ds)
		total += d.Weight() * ds.PassRatio
		weights += d.Weight()
	}
	if weights == 0 {
		return dims, 0
	}
	return dims, math.Round(1000*total/weights) / 10
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case uint64:
		return int64(x)
	case float64:
		return int64(x)
	case nil:
		return 0
	}
	var n int64
	fmt.Sscan(fmt.Sprint(v), &n)
	return n
}

func toText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case []byte:
		return string(x), true
	case time.Time:
		return x.Format("2006-01-02 15:04:05"), true
	case sql.NullString:
		return x.String, x.Valid
	}
	return fmt.Sprint(v), true
}

// freshness judges a freshness rule: the newest date in the column (or the
// load time) against the age the update frequency allows, in days of
// China Standard Time. ok is false when the frequency sets no limit.
func freshness(rc ruleSQL, vals []any, t Target, env Env) (latest string, maxAge int, stale, ok bool) {
	r := rc.rule
	maxAge = r.MaxAgeDays
	if maxAge == 0 {
		f := r.Frequency
		if f == "" {
			f = env.Frequency
		}
		if maxAge, ok = maxAgeDays(f); !ok {
			return "", 0, false, false
		}
	}
	now := env.Now
	if now.IsZero() {
		now = time.Now()
	}
	if r.Column == "" {
		if t.LoadedAt.IsZero() {
			return "", maxAge, true, true
		}
		latest = t.LoadedAt.In(shanghai).Format(time.DateTime)
		return latest, maxAge, now.Sub(t.LoadedAt) > time.Duration(maxAge)*24*time.Hour, true
	}
	s, valid := toText(vals[rc.failed])
	if !valid {
		return "", maxAge, true, true
	}
	var day time.Time
	var err error
	if rc.layout != "" {
		day, err = time.ParseInLocation(rc.layout, s, shanghai)
	} else if len(s) >= 10 {
		day, err = time.ParseInLocation(time.DateOnly, s[:10], shanghai)
	} else {
		err = fmt.Errorf("not a date: %q", s)
	}
	if err != nil {
		return s, maxAge, true, true
	}
	today := now.In(shanghai)
	y, m, d := today.Date()
	midnight := time.Date(y, m, d, 0, 0, 0, 0, shanghai)
	dy, dm, dd := day.Date()
	dayStart := time.Date(dy, dm, dd, 0, 0, 0, 0, shanghai)
	ageDays := int(midnight.Sub(dayStart).Hours() / 24)
	return dayStart.Format(time.DateOnly), maxAge, ageDays > maxAge, true
}

// unknownColumn is the error for a rule naming a column the table lacks.
func unknownColumn(rule, column, table string) error {
	return apperr.New(apperr.Invalid, "quality.unknown_column", "rule", rule, "column", column, "table", table)
}
