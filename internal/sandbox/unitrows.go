package sandbox

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gongshu/gongshu/internal/engine"
	"github.com/gongshu/gongshu/internal/policy"
)

// unitRowsKey names one relation's unit column. A relation is one
// immutable data version (the engine refuses to load over an existing
// table), so its statistics never go stale; the row count is in the key
// as well, so that a name reused after a failed, unpublished load could
// not meet statistics of other rows.
type unitRowsKey struct {
	relation, unit string
	rows           int64
}

// cachedUnitRows returns the statistics already measured, or nil.
func (s *Service) cachedUnitRows(relation, unit string, rows int64) *policy.UnitRows {
	s.unitMu.Lock()
	defer s.unitMu.Unlock()
	if u, ok := s.unitRows[unitRowsKey{relation, unit, rows}]; ok {
		return &u
	}
	return nil
}

// measureUnitRows fills in the unit statistics of the aggregation-rule
// resources a query reads that have none yet, and reports whether any
// were added (the query is then rewritten again to use them). A
// measurement that fails is skipped; only the end of ctx is an error.
func (s *Service) measureUnitRows(ctx context.Context, rs []Resource, codes []string) (bool, error) {
	if s.opt.ExactThreshold {
		return false, nil
	}
	reads := map[string]bool{}
	for _, c := range codes {
		reads[c] = true
	}
	added := false
	for i := range rs {
		r := &rs[i]
		if !reads[r.Code] || !r.Queryable || (r.Rule != policy.RuleAggregation && r.Rule != policy.RuleDP) || r.Unit == "" || r.table.UnitRows != nil {
			continue
		}
		u, err := MeasureUnitRows(ctx, s.runner, r.relation, r.Unit, s.opt.Limits)
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if err != nil {
			// The statistics only make queries cheaper: without them the
			// query counts distinct units, and the next one tries again.
			continue
		}
		s.unitMu.Lock()
		if s.unitRows == nil {
			s.unitRows = map[unitRowsKey]policy.UnitRows{}
		}
		s.unitRows[unitRowsKey{r.relation, r.Unit, r.rows}] = u
		s.unitMu.Unlock()
		r.table.UnitRows = &u
		if r.dpDefaultGroups {
			r.table.Rule.MaxGroupsPerUnit = int(min(max(u.Max, 1), maxDefaultGroups))
		}
		if cs, err := s.statsOf(ctx, *r); err == nil {
			applyStats(&r.table, &cs, r.freeDims)
		}
		added = true
	}
	return added, nil
}

// MeasureUnitRows counts how rows spread over the privacy units of a
// relation: the most rows one unit has and the rows without a unit. It
// costs one aggregate by unit, once per data version, and lets every
// later aggregate on that version settle its threshold by counting rows
// (policy.FastPlan).
func MeasureUnitRows(ctx context.Context, r *engine.Runner, relation, unit string, lim engine.Limits) (policy.UnitRows, error) {
	q := `SELECT CAST(coalesce(max(CASE WHEN "u" IS NOT NULL THEN "n" END), 0) AS BIGINT), ` +
		`CAST(coalesce(sum(CASE WHEN "u" IS NULL THEN "n" ELSE 0 END), 0) AS BIGINT) FROM (SELECT ` +
		engine.QuoteIdent(unit) + ` AS "u", count(*) AS "n" FROM ` + engine.QuoteIdent(relation) + ` GROUP BY 1) AS "__gs_units"`
	res, err := r.Run(ctx, q, []string{relation}, lim)
	if err != nil {
		return policy.UnitRows{}, fmt.Errorf("measure units of %s: %w", relation, err)
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 2 {
		return policy.UnitRows{}, fmt.Errorf("measure units of %s: unexpected result shape", relation)
	}
	mx, ok1 := res.Rows[0][0].(int64)
	null, ok2 := res.Rows[0][1].(int64)
	if !ok1 || !ok2 {
		return policy.UnitRows{}, fmt.Errorf("measure units of %s: not integers: %v", relation, res.Rows[0])
	}
	return policy.UnitRows{Max: mx, Null: null}, nil
}

// columnStats is what one data version's measurement says of its columns:
// distinct non-NULL values per column, and distinct units.
type columnStats struct {
	units    int64
	distinct map[string]int64
	// nulls counts each column's NULLs; lo and hi are the least and
	// greatest values of numeric columns.
	nulls  map[string]int64
	lo, hi map[string]float64
}

// cachedStats returns the column statistics already measured, or nil.
func (s *Service) cachedStats(relation, unit string, rows int64) *columnStats {
	s.unitMu.Lock()
	defer s.unitMu.Unlock()
	if cs, ok := s.colStats[unitRowsKey{relation, unit, rows}]; ok {
		return &cs
	}
	return nil
}

// applyStats marks the columns the statistics found free of NULL, and
// the dimension columns that nearly single out units (at least one
// distinct value for every two units), which the policy then lets out
// only coarsened, unless the agency or the holder recorded a reason
// (free names the columns with one).
func applyStats(t *policy.Table, cs *columnStats, free map[string]bool) {
	if cs == nil {
		return
	}
	for i := range t.Columns {
		c := &t.Columns[i]
		if n, ok := cs.nulls[c.Name]; ok && n == 0 {
			c.NotNull = true
		}
		lo, okLo := cs.lo[c.Name]
		hi, okHi := cs.hi[c.Name]
		if okLo && okHi && c.Lower < c.Upper && lo >= float64(c.Lower) && hi <= float64(c.Upper) {
			c.WithinBounds = true
		}
		if d, ok := cs.distinct[c.Name]; ok && cs.units >= 20 && 2*d >= cs.units && !free[c.Name] &&
			(c.Role == policy.Group || c.Role == policy.Visible) && t.Rule.Kind != policy.RuleList {
			c.Identifying = true
		}
	}
}

// statsOf returns the column statistics of a resource's version,
// measuring them once (they never change: a version is immutable).
func (s *Service) statsOf(ctx context.Context, r Resource) (columnStats, error) {
	key := unitRowsKey{r.relation, r.Unit, r.rows}
	s.unitMu.Lock()
	cs, ok := s.colStats[key]
	s.unitMu.Unlock()
	if ok {
		return cs, nil
	}
	var cols, all []string
	for _, c := range r.table.Columns {
		switch c.Role {
		case policy.Group, policy.Visible, policy.Filter:
			cols = append(cols, c.Name)
		}
		if c.Role != policy.Hidden {
			all = append(all, c.Name)
		}
	}
	exprs := make([]string, 0, len(cols)+len(all)+2)
	unit := "0"
	if r.Unit != "" {
		unit = "count(DISTINCT " + engine.QuoteIdent(r.Unit) + ")"
	}
	exprs = append(exprs, "CAST("+unit+" AS BIGINT)", "CAST(count(*) AS BIGINT)")
	for _, c := range cols {
		exprs = append(exprs, "CAST(count(DISTINCT "+engine.QuoteIdent(c)+") AS BIGINT)")
	}
	for _, c := range all {
		exprs = append(exprs, "CAST(count("+engine.QuoteIdent(c)+") AS BIGINT)")
	}
	var nums []string
	for _, c := range r.table.Columns {
		if c.Role != policy.Hidden && policy.IsNumericType(c.Type) {
			nums = append(nums, c.Name)
			q := engine.QuoteIdent(c.Name)
			exprs = append(exprs, "CAST(min("+q+") AS DOUBLE PRECISION)", "CAST(max("+q+") AS DOUBLE PRECISION)")
		}
	}
	res, err := s.runner.Run(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM "+engine.QuoteIdent(r.relation), []string{r.relation}, s.opt.Limits)
	if err != nil {
		return columnStats{}, fmt.Errorf("measure columns of %s: %w", r.relation, err)
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != len(exprs) {
		return columnStats{}, fmt.Errorf("measure columns of %s: unexpected result shape", r.relation)
	}
	cs = columnStats{distinct: map[string]int64{}, nulls: map[string]int64{}}
	row := res.Rows[0]
	cs.units, _ = toInt(row[0])
	total, _ := toInt(row[1])
	for i, c := range cols {
		cs.distinct[c], _ = toInt(row[i+2])
	}
	for i, c := range all {
		n, _ := toInt(row[len(cols)+i+2])
		cs.nulls[c] = total - n
	}
	cs.lo, cs.hi = map[string]float64{}, map[string]float64{}
	base := len(cols) + len(all) + 2
	for i, c := range nums {
		if lo, ok := row[base+2*i].(float64); ok {
			cs.lo[c] = lo
		}
		if hi, ok := row[base+2*i+1].(float64); ok {
			cs.hi[c] = hi
		}
	}
	s.unitMu.Lock()
	if s.colStats == nil {
		s.colStats = map[unitRowsKey]columnStats{}
	}
	s.colStats[key] = cs
	s.unitMu.Unlock()
	return cs, nil
}

// fusionFactor: a fusion is risky when the measured statistics give fewer
// than fusionFactor·k units a group on average; groups are rarely even.
const fusionFactor = 2

// fusionRisk decides R15.6 for one release point from its group keys and
// the measured statistics of the versions it reads, never from its
// result: a release that joins several departments' data, one of which
// holds quasi-identifiers, is risky when the product of its keys'
// distinct values (a bound on its groups) leaves fewer than
// fusionFactor·k units a group. why is for the operator (no figure); the
// figures go to the agency's audit entry.
func (s *Service) fusionRisk(ctx context.Context, k int, rel policy.Release, touched []Resource) (bool, string, string) {
	byName := map[string]Resource{}
	depts := map[int64]bool{}
	qi := false
	var reads []Resource
	for _, r := range touched {
		for _, t := range rel.Tables {
			if t == r.Table {
				byName[r.Table] = r
				reads = append(reads, r)
				depts[r.Department] = true
				qi = qi || r.qi
			}
		}
	}
	if len(depts) < 2 || !qi || len(rel.GroupColumns) == 0 {
		return false, "", ""
	}
	units := int64(-1)
	for _, r := range reads {
		if r.Unit == "" {
			continue
		}
		cs, err := s.statsOf(ctx, r)
		if err != nil {
			// Unmeasured: the fusion is treated as risky, not as safe.
			return true, "joins several departments' resources whose statistics could not be measured", err.Error()
		}
		if units < 0 || cs.units < units {
			units = cs.units
		}
	}
	if units < 0 {
		return false, "", ""
	}
	groups, err := s.groupBound(ctx, rel, byName)
	switch {
	case errors.Is(err, errUnknownKey):
		return true, "joins several departments' resources grouped by a key of unknown origin", err.Error()
	case err != nil:
		return true, "joins several departments' resources whose statistics could not be measured", err.Error()
	}
	perGroup := float64(units) / groups
	detail := fmt.Sprintf("%d departments, group keys %s: %.0f groups at most, %d units, %.1f units a group expected, below %d·k = %d",
		len(depts), strings.Join(rel.GroupColumns, ", "), groups, units, perGroup, fusionFactor, fusionFactor*k)
	if perGroup < float64(fusionFactor*k) {
		return true, fmt.Sprintf("joins %d departments' resources grouped by %s, which the versions' statistics put below the fusion threshold",
			len(depts), strings.Join(rel.GroupColumns, ", ")), detail
	}
	return false, "", detail
}

// errUnknownKey: a group key of a table the release does not read.
var errUnknownKey = errors.New("group key of unknown origin")

// groupBound bounds the groups of one release point by the product of its
// keys' distinct values in the versions' statistics (a key of unknown
// count counts as the table's rows).
func (s *Service) groupBound(ctx context.Context, rel policy.Release, byName map[string]Resource) (float64, error) {
	groups := 1.0
	for _, g := range rel.GroupColumns {
		table, col, _ := strings.Cut(g, ".")
		r, ok := byName[table]
		if !ok {
			return 0, fmt.Errorf("%w: %s", errUnknownKey, g)
		}
		cs, err := s.statsOf(ctx, r)
		if err != nil {
			return 0, err
		}
		d := cs.distinct[col]
		if d <= 0 {
			d = max(r.rows, 1)
		}
		groups *= float64(d)
	}
	return groups, nil
}

// maxEstimate caps estimateRows.
const maxEstimate = 1 << 40

// estimateRows bounds the groups a plan can release from its releases'
// group keys and the versions' distinct counts (0 when nothing is known:
// a list query, or a key of unknown origin).
func (s *Service) estimateRows(ctx context.Context, p policy.Plan, touched []Resource) int64 {
	byName := map[string]Resource{}
	for _, r := range touched {
		byName[r.Table] = r
	}
	var total float64
	for _, rel := range p.Releases {
		groups, err := s.groupBound(ctx, rel, byName)
		if err != nil {
			return 0
		}
		total += groups
	}
	return int64(min(total, maxEstimate))
}
