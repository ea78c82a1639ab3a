package sandbox

import (
	"context"
	"fmt"

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
		if !reads[r.Code] || !r.Queryable || r.Rule != policy.RuleAggregation || r.Unit == "" || r.table.UnitRows != nil {
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
