package policy

import (
	"fmt"
	"math/big"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// Plan is what runs and what the output check must re-verify.
type Plan struct {
	// SQL is the statement to execute, valid on DuckDB and PostgreSQL.
	SQL      string
	Analysis RuleKind
	K        int
	// Columns is how many leading result columns belong to the operator;
	// the rest are internal (distinct-unit counts, DP helpers) and are
	// removed by CheckOutput.
	Columns int
	// UnitCounts are result columns holding a group's distinct-unit count,
	// each of which must be at least K.
	UnitCounts []int
	// RowCap bounds the rows of a list result (0: no cap).
	RowCap int
	// Aggregated says, per operator column, whether it holds aggregates
	// (numbers computed over a group) rather than raw values.
	Aggregated []bool
	// Names says, per operator column, whether it derives raw from a column
	// of person names, so the output check scans it for names.
	Names []bool
	// Noise is set under the DP rule: the caller adds discrete noise
	// (internal/dp) before CheckOutput.
	Noise *NoisePlan
	// Fast, when set, is a cheaper statement the caller may run first;
	// see FastPlan.
	Fast *FastPlan
	// Releases are the release points of an aggregate plan (one, or those
	// inside a post-processing query), for the caller's fusion-risk
	// estimate (R15.6), which concerns each release on its own.
	Releases []Release
}

// Release describes one release point: the catalog tables it reads and
// the catalog columns (table.column, once each) its group keys derive
// from.
type Release struct {
	Tables       []string
	GroupColumns []string
}

func releaseOf(a *analyzer) Release {
	var r Release
	r.Tables, _ = touched(a.uses)
	seen := map[string]bool{}
	for _, g := range a.top.groupCols {
		if !seen[g] {
			seen[g] = true
			r.GroupColumns = append(r.GroupColumns, g)
		}
	}
	return r
}

// FastPlan settles the aggregation threshold without counting distinct
// units, which costs an exact aggregate several times the query itself.
// When each unit has at most M rows in the one table a query reads (and
// Z rows have no unit), a group of n rows covers at least ⌈(n−Z)/M⌉
// distinct units, by pigeonhole. SQL is the plan's statement with
// count(*) in place of each count(DISTINCT unit), in HAVING (at least K
// rows, a necessary condition) and in the unit-count column. Settle
// decides from its rows alone: when every group holds enough rows for
// the bound to reach K, they are exactly the groups the plan's own
// statement returns; otherwise the caller runs SQL of the plan.
//
// It is offered only where the bound holds and the two statements must
// agree: one catalog table read straight (no join, subquery or CTE in
// FROM, which could repeat a unit's rows), no OFFSET (the skipped groups
// are unseen) and no DISTINCT.
type FastPlan struct {
	SQL string
	// Rows is the minimum rows a group needs for the bound to reach K.
	Rows int64
	// Unsettled is the result column counting, over all groups, those
	// whose checks the row bound could not decide or that were withheld;
	// the fast result stands only when it is 0.
	Unsettled int
	stats     UnitRows
}

// Settle reports whether rows, the result of SQL, settle the threshold.
// If they do, it replaces each unit-count column (which holds the
// group's rows) with the proven lower bound on its distinct units, so
// that CheckOutput verifies it against K as usual. If they do not, rows
// are left untouched.
func (f *FastPlan) Settle(p Plan, rows [][]any) bool {
	// No row: every group was withheld, which the bound alone cannot
	// tell from an undecided one.
	if len(rows) == 0 {
		return false
	}
	for _, row := range rows {
		if f.Unsettled >= len(row) {
			return false
		}
		if n, ok := asInt(row[f.Unsettled]); !ok || n != 0 {
			return false
		}
		for _, i := range p.UnitCounts {
			if i >= len(row) {
				return false
			}
			n, ok := asInt(row[i])
			if !ok || n < f.Rows {
				return false
			}
		}
	}
	for _, row := range rows {
		for _, i := range p.UnitCounts {
			n, _ := asInt(row[i])
			row[i] = f.unitsAtLeast(n)
		}
	}
	return true
}

// unitsAtLeast is the fewest distinct units n rows can cover.
func (f *FastPlan) unitsAtLeast(n int64) int64 {
	rest := n - f.stats.Null
	if rest <= 0 {
		return 0
	}
	return (rest + f.stats.Max - 1) / f.stats.Max
}

// NoisePlan tells the caller which columns get noise and how much.
type NoisePlan struct {
	Epsilon, Delta *big.Rat
	// MaxGroupsPerUnit is the L0 contribution bound applied by the rewrite,
	// MaxRowsPerGroup the L∞ bound on a unit's rows in one group's count.
	MaxGroupsPerUnit int64
	MaxRowsPerGroup  int64
	// PartitionRows, when set, says the partition column counts rows, at
	// most PartitionRows of them one unit's (see rewriteDPRows); the
	// threshold comes from dp.PartitionThresholdRows.
	PartitionRows int64
	// FloorRows, when set, is the K floor in rows: a group with fewer is
	// dropped before noise (with PartitionRows).
	FloorRows int64
	// PartitionColumn holds each group's distinct-unit count; keep a group
	// only if this count plus discrete Laplace noise of scale
	// MaxGroupsPerUnit/PartitionEpsilon reaches dp.PartitionThreshold.
	PartitionColumn  int
	PartitionEpsilon *big.Rat
	Columns          []NoisyColumn
}

// NoisyColumn is one operator column released with noise.
type NoisyColumn struct {
	Output int    // operator column to replace with the noisy value
	Kind   string // "count", "sum" or "avg"
	// Value is the result column with the bounded raw count or sum;
	// Count (avg only) the bounded raw row count to divide by.
	Value, Count int
	// Sensitivity is the L1 sensitivity of Value (and CountSensitivity of
	// Count) after contribution bounding.
	Sensitivity, CountSensitivity int64
	// Epsilon is this column's share of the query's ε (avg: for each of
	// its two parts).
	Epsilon *big.Rat
	// Lower and Upper clamp one unit's sum in a group (sum and avg).
	Lower, Upper int64
}

// Options carries what the rewrite needs beyond the catalog.
type Options struct {
	// Epsilon and Delta are the privacy budget this query may spend under
	// the DP rule (from the agreement's ledger).
	Epsilon, Delta *big.Rat
}

// Rewrite checks sql and returns the plan to execute. A refused query
// returns a zero Plan and the refusal.
func Rewrite(sql string, cat Catalog, opt Options) (Plan, Decision) {
	an, d := analyze(sql, cat)
	if !d.Allowed {
		return Plan{}, d
	}
	var (
		p   Plan
		err *refusal
	)
	if !an.a.top.post {
		an.bindRelations()
	}
	switch {
	case an.a.top.post:
		p, err = an.rewritePost()
	case an.a.top.rule == RuleAggregation:
		p, err = an.rewriteRelease(false)
	case an.a.top.rule == RuleList:
		p, err = an.rewriteList()
	case an.a.top.rule == RuleDP:
		p, err = an.rewriteDP(opt)
	}
	if err != nil {
		out := err.decision()
		out.Fingerprint, out.Tables, out.Resources = d.Fingerprint, d.Tables, d.Resources
		return Plan{}, out
	}
	p.Analysis, p.K = d.Analysis, d.K
	if an.a.top.rule == RuleAggregation && !an.a.top.post {
		p.Releases = []Release{releaseOf(an.a)}
	}
	for _, c := range an.a.top.targets {
		p.Names = append(p.Names, c.names && !c.agg)
	}
	if p.Aggregated == nil {
		for _, c := range an.a.top.targets {
			p.Aggregated = append(p.Aggregated, c.agg)
		}
	}
	return p, d
}

// bindRelations points every table the query reads at its engine
// relation, keeping the name the operator wrote as the alias so that
// qualified column references still resolve.
func (an *analysis) bindRelations() {
	for _, u := range an.a.uses {
		if u.table.Relation == "" || u.rv == nil {
			continue
		}
		if u.rv.Alias == nil {
			u.rv.Alias = &pg.Alias{Aliasname: u.rv.Relname}
		}
		u.rv.Relname, u.rv.Schemaname, u.rv.Catalogname = u.table.Relation, "", ""
	}
}

func colRef(parts ...string) *pg.Node {
	f := make([]*pg.Node, len(parts))
	for i, p := range parts {
		f[i] = pg.MakeStrNode(p)
	}
	return pg.MakeColumnRefNode(f, -1)
}

func (an *analysis) applyExports() {
	for _, e := range an.a.exports {
		val := colRef(e.alias, e.col)
		if e.expr != nil {
			val = &pg.Node{Node: &pg.Node_BooleanTest{BooleanTest: &pg.BooleanTest{Arg: e.expr, Booltesttype: pg.BoolTestType_IS_TRUE}}}
		}
		e.stmt.TargetList = append(e.stmt.TargetList, pg.MakeResTargetNodeWithNameAndVal(e.as, val, -1))
	}
}

// topUnits lists, once each, the (alias, column) pairs at the top level
// that carry a privacy unit.
func (an *analysis) topUnits() [][2]string {
	seen := map[[2]string]bool{}
	var out [][2]string
	for _, it := range an.a.top.scope.items {
		for _, u := range it.rel.units {
			k := [2]string{it.alias, u.col}
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}

// boundedUnits returns the unit statistics of the query's one table when
// the fast threshold applies (see FastPlan), else nil.
func (an *analysis) boundedUnits() *UnitRows {
	stmt := an.stmt
	if len(stmt.FromClause) != 1 || stmt.LimitOffset != nil || len(stmt.DistinctClause) > 0 {
		return nil
	}
	rv := stmt.FromClause[0].GetRangeVar()
	items := an.a.top.scope.items
	if rv == nil || len(items) != 1 || len(items[0].rel.uses) != 1 || len(items[0].rel.units) != 1 {
		return nil
	}
	tu := items[0].rel.uses[0]
	// The use must be this very table reference, not a CTE of the same name.
	if tu.rv != rv || tu.table.UnitRows == nil || tu.table.UnitRows.Max <= 0 || tu.table.UnitRows.Null < 0 {
		return nil
	}
	if u := items[0].rel.units[0]; u.tu != tu || u.col != tu.table.Unit {
		return nil
	}
	return tu.table.UnitRows
}

// rewriteList caps the rows: LIMIT is lowered to the row cap.
func (an *analysis) rewriteList() (Plan, *refusal) {
	stmt := an.stmt
	capRows := rowCap(an.a.uses)
	p := Plan{Columns: len(stmt.TargetList), RowCap: capRows}
	lim := int64(-1)
	if stmt.LimitCount != nil {
		if iv := stmt.LimitCount.GetAConst().GetIval(); iv != nil {
			lim = int64(iv.Ival)
		}
	}
	if lim < 0 || lim > int64(capRows) {
		stmt.LimitCount = pg.MakeAConstIntNode(int64(capRows), -1)
		stmt.LimitOption = pg.LimitOption_LIMIT_OPTION_COUNT
	}
	sql, err := pg.Deparse(an.tree)
	if err != nil {
		return Plan{}, refuse(CodeUnsupported, -1, "deparse: "+err.Error(), "detail", "this query cannot be rewritten")
	}
	p.SQL = sql
	return p, nil
}

// quoteIdent quotes a name for both engines.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// deparseExpr prints one expression in PostgreSQL syntax; version is the
// parse tree version of the statement it came from.
func deparseExpr(version int32, n *pg.Node) (string, error) {
	tree := &pg.ParseResult{Version: version, Stmts: []*pg.RawStmt{{Stmt: &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: &pg.SelectStmt{
		TargetList: []*pg.Node{pg.MakeResTargetNodeWithVal(n, -1)}, Op: pg.SetOperation_SETOP_NONE,
		LimitOption: pg.LimitOption_LIMIT_OPTION_DEFAULT}}}}}}
	s, err := pg.Deparse(tree)
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(s, "SELECT "), nil
}

// fromWhere prints the FROM and WHERE clauses of stmt.
func fromWhere(version int32, stmt *pg.SelectStmt) (string, error) {
	_, from, err := withFromWhere(version, stmt, false)
	return from, err
}

// withFromWhere prints the WITH clause of stmt (when with is set; "" if
// it has none) and its FROM and WHERE clauses, so that a statement built
// around them reads the same relations.
func withFromWhere(version int32, stmt *pg.SelectStmt, with bool) (string, string, error) {
	print := func(w *pg.WithClause) (string, error) {
		sel := &pg.SelectStmt{TargetList: []*pg.Node{pg.MakeResTargetNodeWithVal(pg.MakeAConstIntNode(1, -1), -1)},
			FromClause: stmt.FromClause, WhereClause: stmt.WhereClause, Op: pg.SetOperation_SETOP_NONE,
			LimitOption: pg.LimitOption_LIMIT_OPTION_DEFAULT, WithClause: w}
		return pg.Deparse(&pg.ParseResult{Version: version, Stmts: []*pg.RawStmt{{Stmt: &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: sel}}}}})
	}
	bare, err := print(nil)
	if err != nil {
		return "", "", err
	}
	if !strings.HasPrefix(bare, "SELECT 1 ") {
		return "", "", fmt.Errorf("unexpected deparse %q", bare)
	}
	from := strings.TrimPrefix(bare, "SELECT 1 ")
	if !with || stmt.WithClause == nil {
		return "", from, nil
	}
	full, err := print(stmt.WithClause)
	if err != nil {
		return "", "", err
	}
	if !strings.HasSuffix(full, bare) {
		return "", "", fmt.Errorf("unexpected deparse %q", full)
	}
	return strings.TrimSuffix(full, bare), from, nil
}
