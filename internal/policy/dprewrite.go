package policy

import (
	"fmt"
	"math/big"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

func dpRefuse(detail string) *refusal {
	return refuse(CodeDPUnsupported, -1, "DP rewrite: "+detail, "detail", detail)
}

// rewriteDP bounds each unit's contribution before aggregating, the way
// ZetaSQL's differential privacy does: first one row per (unit, group) with
// the unit's count clamped to MaxRowsPerGroup and its sum clamped to the
// column's bounds, then at most MaxGroupsPerUnit groups per unit chosen at
// random (row_number over the unit in random order), then the groups'
// totals. The plan says which columns the caller must noise and with what
// sensitivity and share of ε, and which column drives partition selection.
func (an *analysis) rewriteDP(opt Options) (Plan, *refusal) {
	stmt := an.stmt
	if opt.Epsilon == nil || opt.Epsilon.Sign() <= 0 || opt.Delta == nil || opt.Delta.Sign() <= 0 {
		return Plan{}, dpRefuse("the query has no ε and δ to spend")
	}
	if stmt.HavingClause != nil || len(stmt.SortClause) > 0 || stmt.LimitCount != nil || stmt.LimitOffset != nil ||
		len(stmt.DistinctClause) > 0 || stmt.WithClause != nil {
		return Plan{}, dpRefuse("HAVING, ORDER BY, LIMIT, DISTINCT and WITH are not supported")
	}
	if len(stmt.FromClause) != 1 || stmt.FromClause[0].GetRangeVar() == nil || len(an.a.uses) != 1 {
		return Plan{}, dpRefuse("the query must read one table directly")
	}
	tu := an.a.uses[0]
	t := tu.table
	rv := stmt.FromClause[0].GetRangeVar()
	alias := rv.Relname
	if rv.Alias != nil {
		alias = rv.Alias.Aliasname
	}
	maxGroups := int64(max(t.Rule.MaxGroupsPerUnit, 1))
	maxRows := int64(max(t.Rule.MaxRowsPerGroup, 1))

	// Group keys, printed once; output items that print the same are keys.
	var groups []string
	for _, g := range stmt.GroupClause {
		n := g
		if isOrdinal(g) {
			i := int(g.GetAConst().GetIval().GetIval())
			n = stmt.TargetList[i-1].GetResTarget().Val
		} else if rt := aliasTarget(g, stmt, an.a.top.scope); rt != nil {
			n = rt.Val
		}
		s, err := deparseExpr(an.tree.Version, n)
		if err != nil {
			return Plan{}, dpRefuse("a GROUP BY key cannot be printed")
		}
		groups = append(groups, s)
	}
	unit := quoteIdent(alias) + "." + quoteIdent(t.Unit)
	if p, ok, r := an.rewriteDPRows(opt, t, groups, maxGroups*maxRows); r != nil || ok {
		return p, r
	}
	inner := []string{unit + ` AS "__gs_unit"`}
	for i, g := range groups {
		inner = append(inner, fmt.Sprintf(`%s AS "__gs_g%d"`, g, i))
	}
	var outer, extra []string
	p := Plan{Columns: len(stmt.TargetList)}
	np := &NoisePlan{Epsilon: opt.Epsilon, Delta: opt.Delta, MaxGroupsPerUnit: maxGroups, MaxRowsPerGroup: maxRows}
	parts := 1 // partition selection
	type pending struct {
		col  NoisyColumn
		twoP bool
	}
	var noisy []pending
	extraBase := len(stmt.TargetList)
	for i, tn := range stmt.TargetList {
		rt := tn.GetResTarget()
		s, err := deparseExpr(an.tree.Version, rt.Val)
		if err != nil {
			return Plan{}, dpRefuse("an output item cannot be printed")
		}
		name := rt.Name
		if gi := indexOf(groups, s); gi >= 0 {
			outer = append(outer, fmt.Sprintf(`"__gs_g%d" AS %s`, gi, quoteIdent(groupName(rt, gi))))
			p.Aggregated = append(p.Aggregated, false)
			continue
		}
		fc := rt.Val.GetFuncCall()
		if fc == nil || fc.AggFilter != nil {
			return Plan{}, dpRefuse("output items must be GROUP BY keys or COUNT, SUM, AVG")
		}
		fn := funcName(fc)
		if name == "" {
			name = fn
		}
		a := fmt.Sprintf(`"__gs_a%d"`, i)
		var arg, argName string
		if !fc.AggStar {
			if len(fc.Args) != 1 || fc.Args[0].GetColumnRef() == nil {
				return Plan{}, dpRefuse(fn + " must take one column")
			}
			cr := fc.Args[0].GetColumnRef()
			argName = cr.Fields[len(cr.Fields)-1].GetString_().GetSval()
			arg, _ = deparseExpr(an.tree.Version, fc.Args[0])
		}
		col := NoisyColumn{Output: i, Value: i}
		switch {
		case fn == "count" && fc.AggDistinct:
			if argName != t.Unit {
				return Plan{}, dpRefuse("COUNT(DISTINCT ...) is supported only on the privacy unit")
			}
			inner = append(inner, "1 AS "+a)
			col.Kind, col.Sensitivity = "count", maxGroups
		case fn == "count":
			what := "*"
			if !fc.AggStar {
				what = arg
			}
			inner = append(inner, fmt.Sprintf("LEAST(count(%s), %d) AS %s", what, maxRows, a))
			col.Kind, col.Sensitivity = "count", maxGroups*maxRows
		case (fn == "sum" || fn == "avg") && !fc.AggDistinct:
			lo, hi, ok := bounds(t, argName)
			if !ok {
				return Plan{}, dpRefuse(fn + " of " + argName + " needs clamping bounds in the policy")
			}
			inner = append(inner, fmt.Sprintf("LEAST(GREATEST(sum(%s), %d), %d) AS %s", arg, lo, hi, a))
			col.Kind, col.Sensitivity = fn, maxGroups*max(absInt(lo), absInt(hi))
			col.Lower, col.Upper = lo, hi
			if fn == "avg" {
				c := fmt.Sprintf(`"__gs_c%d"`, i)
				inner = append(inner, fmt.Sprintf("LEAST(count(%s), %d) AS %s", arg, maxRows, c))
				col.Count = extraBase + len(extra)
				col.CountSensitivity = maxGroups * maxRows
				extra = append(extra, "sum("+c+")")
			}
		default:
			return Plan{}, dpRefuse(fn + " is not supported")
		}
		outer = append(outer, fmt.Sprintf("sum(%s) AS %s", a, quoteIdent(name)))
		p.Aggregated = append(p.Aggregated, true)
		noisy = append(noisy, pending{col: col, twoP: fn == "avg"})
		parts++
		if fn == "avg" {
			parts++
		}
	}
	share := new(big.Rat).Quo(opt.Epsilon, new(big.Rat).SetInt64(int64(parts)))
	for _, n := range noisy {
		n.col.Epsilon = share
		np.Columns = append(np.Columns, n.col)
	}
	np.PartitionEpsilon = share
	np.PartitionColumn = extraBase + len(extra)
	extra = append(extra, `count(*) AS "__gs_units"`)
	p.UnitCounts = []int{np.PartitionColumn}

	fw, err := fromWhere(an.tree.Version, stmt)
	if err != nil {
		return Plan{}, dpRefuse("the FROM clause cannot be printed")
	}
	innerGroup := []string{unit}
	innerGroup = append(innerGroup, groups...)
	var mid, outerGroup []string
	for i := range groups {
		mid = append(mid, fmt.Sprintf(`"__gs_g%d"`, i))
		outerGroup = append(outerGroup, fmt.Sprintf(`"__gs_g%d"`, i))
	}
	for _, s := range inner[1+len(groups):] {
		mid = append(mid, s[strings.LastIndex(s, " AS ")+4:])
	}
	// A unit in more groups than the bound keeps a random few; when the
	// version's statistics prove no unit has more rows than the bound, no
	// unit can be in more groups, and the sort is skipped.
	bounded := t.UnitRows != nil && t.UnitRows.Max > 0 && t.UnitRows.Max <= maxGroups
	if !bounded {
		mid = append(mid, `row_number() OVER (PARTITION BY "__gs_unit" ORDER BY random()) AS "__gs_rn"`)
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(strings.Join(append(outer, extra...), ", "))
	b.WriteString(" FROM (SELECT ")
	b.WriteString(strings.Join(mid, ", "))
	b.WriteString(" FROM (SELECT ")
	b.WriteString(strings.Join(inner, ", "))
	b.WriteString(" ")
	b.WriteString(fw)
	b.WriteString(" GROUP BY ")
	b.WriteString(strings.Join(innerGroup, ", "))
	b.WriteString(`) AS "__gs_per_unit") AS "__gs_bounded"`)
	if !bounded {
		fmt.Fprintf(&b, ` WHERE "__gs_rn" <= %d`, maxGroups)
	}
	if len(outerGroup) > 0 {
		b.WriteString(" GROUP BY ")
		b.WriteString(strings.Join(outerGroup, ", "))
	}
	p.SQL = b.String()
	p.Noise = np
	return p, nil
}

// groupName is the output name of a group key: the operator's alias, the
// column's name, or group_N.
func groupName(rt *pg.ResTarget, gi int) string {
	if rt.Name != "" {
		return rt.Name
	}
	if cr := rt.Val.GetColumnRef(); cr != nil {
		return cr.Fields[len(cr.Fields)-1].GetString_().GetSval()
	}
	return fmt.Sprintf("group_%d", gi+1)
}

func indexOf(xs []string, s string) int {
	for i, x := range xs {
		if x == s {
			return i
		}
	}
	return -1
}

func bounds(t *Table, col string) (lo, hi int64, ok bool) {
	if c := t.column(col); c != nil {
		return c.Lower, c.Upper, c.Lower < c.Upper
	}
	return 0, 0, false
}

func withinBounds(t *Table, col string) bool {
	c := t.column(col)
	return c != nil && c.WithinBounds
}

// column is t's column named name, or nil.
func (t *Table) column(name string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

func absInt(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// rewriteDPRows is the DP rewrite without a per-person aggregate, used when
// the data version's statistics prove that no person has more than M
// rows (UnitRows.Max) and M is within the bounds the policy allows
// (groups per person × rows per group): one person then changes the
// whole vector of a query's group counts by at most M in L1 norm, and of
// its sums, each row clamped to [lower, upper], by at most M·max(|lower|,
// |upper|), with no need to bound anything in the engine. Groups are
// selected on their noisy row count, whose per-group change is also at
// most M (dp.PartitionThresholdRows). It runs what the query runs, with a
// clamp per row; COUNT(DISTINCT unit) still needs the per-person form.
func (an *analysis) rewriteDPRows(opt Options, t *Table, groups []string, allowed int64) (Plan, bool, *refusal) {
	if t.UnitRows == nil || t.UnitRows.Max <= 0 || t.UnitRows.Max > allowed {
		return Plan{}, false, nil
	}
	m := t.UnitRows.Max
	stmt := an.stmt
	p := Plan{Columns: len(stmt.TargetList)}
	np := &NoisePlan{Epsilon: opt.Epsilon, Delta: opt.Delta, MaxGroupsPerUnit: m, MaxRowsPerGroup: m, PartitionRows: m}
	var outer, extra []string
	var noisy []NoisyColumn
	parts := 1
	extraBase := len(stmt.TargetList)
	for i, tn := range stmt.TargetList {
		rt := tn.GetResTarget()
		s, err := deparseExpr(an.tree.Version, rt.Val)
		if err != nil {
			return Plan{}, false, dpRefuse("an output item cannot be printed")
		}
		name := rt.Name
		if gi := indexOf(groups, s); gi >= 0 {
			outer = append(outer, fmt.Sprintf("%s AS %s", groups[gi], quoteIdent(groupName(rt, gi))))
			p.Aggregated = append(p.Aggregated, false)
			continue
		}
		fc := rt.Val.GetFuncCall()
		if fc == nil || fc.AggFilter != nil {
			return Plan{}, false, dpRefuse("output items must be GROUP BY keys or COUNT, SUM, AVG")
		}
		fn := funcName(fc)
		if name == "" {
			name = fn
		}
		var arg, argName string
		if !fc.AggStar {
			if len(fc.Args) != 1 || fc.Args[0].GetColumnRef() == nil {
				return Plan{}, false, dpRefuse(fn + " must take one column")
			}
			cr := fc.Args[0].GetColumnRef()
			argName = cr.Fields[len(cr.Fields)-1].GetString_().GetSval()
			arg, _ = deparseExpr(an.tree.Version, fc.Args[0])
		}
		col := NoisyColumn{Output: i, Value: i}
		switch {
		case fc.AggDistinct:
			return Plan{}, false, nil // the per-person form counts distinct units
		case fn == "count":
			what := "*"
			if !fc.AggStar {
				what = arg
			}
			outer = append(outer, fmt.Sprintf("count(%s) AS %s", what, quoteIdent(name)))
			col.Kind, col.Sensitivity = "count", m
		case fn == "sum" || fn == "avg":
			lo, hi, ok := bounds(t, argName)
			if !ok {
				return Plan{}, false, dpRefuse(fn + " of " + argName + " needs clamping bounds in the policy")
			}
			clamped := fmt.Sprintf("LEAST(GREATEST(%s, %d), %d)", arg, lo, hi)
			if withinBounds(t, argName) {
				clamped = arg // the version's values already lie within the bounds
			}
			outer = append(outer, fmt.Sprintf("sum(%s) AS %s", clamped, quoteIdent(name)))
			col.Kind, col.Sensitivity = fn, m*max(absInt(lo), absInt(hi))
			col.Lower, col.Upper = lo, hi
			if fn == "avg" {
				col.Count = extraBase + len(extra)
				col.CountSensitivity = m
				extra = append(extra, fmt.Sprintf("count(%s)", arg))
				parts++
			}
		default:
			return Plan{}, false, dpRefuse(fn + " is not supported")
		}
		p.Aggregated = append(p.Aggregated, true)
		noisy = append(noisy, col)
		parts++
	}
	share := new(big.Rat).Quo(opt.Epsilon, new(big.Rat).SetInt64(int64(parts)))
	for _, c := range noisy {
		c.Epsilon = share
		np.Columns = append(np.Columns, c)
	}
	np.PartitionEpsilon = share
	np.PartitionColumn = extraBase + len(extra)
	extra = append(extra, `count(*) AS "__gs_units"`)
	p.UnitCounts = []int{np.PartitionColumn}
	// The K floor on rows: ceil((rows)/M) >= K proves K persons.
	np.FloorRows = int64(max(an.a.top.k, 1)-1)*m + 1
	// Rows without a person are nobody's contribution and unbounded in
	// number: left out (when the version has any).
	if t.UnitRows.Null > 0 {
		stmt.WhereClause = andNodes(stmt.WhereClause, &pg.Node{Node: &pg.Node_NullTest{NullTest: &pg.NullTest{Arg: colRefFromSQL(t, an), Nulltesttype: pg.NullTestType_IS_NOT_NULL, Location: -1}}})
	}
	fw, err := fromWhere(an.tree.Version, stmt)
	if err != nil {
		return Plan{}, false, dpRefuse("the FROM clause cannot be printed")
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(strings.Join(append(outer, extra...), ", "))
	b.WriteString(" ")
	b.WriteString(fw)
	if len(groups) > 0 {
		b.WriteString(" GROUP BY ")
		b.WriteString(strings.Join(groups, ", "))
	}
	p.SQL = b.String()
	p.Noise = np
	return p, true, nil
}

// colRefFromSQL is the privacy unit of the query's one table, as a
// column reference through the name the query reads it by.
func colRefFromSQL(t *Table, an *analysis) *pg.Node {
	rv := an.stmt.FromClause[0].GetRangeVar()
	alias := rv.Relname
	if rv.Alias != nil {
		alias = rv.Alias.Aliasname
	}
	return colRef(alias, t.Unit)
}

func andNodes(a, b *pg.Node) *pg.Node {
	if a == nil {
		return b
	}
	return pg.MakeBoolExprNode(pg.BoolExprType_AND_EXPR, []*pg.Node{a, b}, -1)
}
