package policy

import (
	"fmt"
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// perm is the set of uses a value may be put to. A value derived from
// several inputs may be put only to the uses all of them allow: the
// intersection, so that no expression, subquery, CTE or cast launders a
// protected column into a freer one.
type perm uint8

const (
	pWhere  perm = 1 << iota // in WHERE and non-key JOIN conditions
	pJoin                    // as an equality key of JOIN ... ON
	pGroup                   // as a GROUP BY key
	pOutput                  // in the output of an aggregated query, HAVING and ORDER BY
	pAgg                     // as an aggregate's argument (which ones: aggset)
	pList                    // raw in the rows of a list query
	pAll    = pWhere | pJoin | pGroup | pOutput | pAgg | pList
)

func rolePerm(r Role) perm {
	switch r {
	case Filter:
		return pWhere | pJoin
	case Join:
		return pJoin
	case Group:
		return pWhere | pJoin | pGroup | pOutput | pAgg
	case Aggregate:
		return pAgg
	case Visible:
		return pAll
	}
	return 0
}

// origin is a catalog column some value derives from.
type origin struct {
	table, column string
	role          Role
	aggs          aggset
	// extreme: min and max may be taken of it: a dimension that is not a
	// number (a date, a code), or a number whose policy lists min or max
	// (the holder's recorded allowance). The largest amount in a group is
	// one unit's amount, whatever the column's role.
	extreme bool
}

func (o *origin) name() string { return o.table + "." + o.column }

// capab is what the checker knows about a value.
type capab struct {
	perm     perm
	aggs     aggset
	origins  []*origin
	unit     bool // derives from a privacy-unit column
	ident    bool // derives from a unit or a direct identifier
	names    bool // derives raw from a column of person names
	agg      bool // contains an aggregate
	constant bool // literals only
	// derived: computed by a function, operator, CASE or cast from its
	// inputs rather than passed through unchanged. A protected value may
	// reach an aggregate only underived, and a join key must be underived.
	derived bool
	// prot: derives from a column of role aggregate (a protected value).
	prot bool
	// released: a value of an aggregate subquery, already thresholded;
	// anything computed from released values only is post-processing.
	released bool
	// text: known to hold text (a text column, a string literal, a text
	// function); casting it to another type can fail row by row.
	text bool
	// cond: chosen row by row by a condition (CASE, COALESCE, NULLIF,
	// GREATEST, LEAST); computing with it could fail for some rows only.
	cond bool
	// notNull: a column passed through unchanged that holds no NULL (and
	// is not on the optional side of an outer join).
	notNull bool
	// identifying: derives, uncoarsened, from a column measured to nearly
	// single out units.
	identifying bool
}

func constCap() capab { return capab{perm: pAll, aggs: aggAll, constant: true} }

func (c capab) and(d capab) capab {
	out := capab{perm: c.perm & d.perm, aggs: c.aggs & d.aggs, unit: c.unit || d.unit,
		ident: c.ident || d.ident, names: c.names || d.names, agg: c.agg || d.agg,
		constant: c.constant && d.constant, derived: true, prot: c.prot || d.prot, text: c.text || d.text,
		cond:        c.cond || d.cond,
		released:    (c.released || c.constant) && (d.released || d.constant) && (c.released || d.released),
		identifying: c.identifying || d.identifying}
	out.origins = append(append(out.origins, c.origins...), d.origins...)
	return out
}

// tableUse is one occurrence of a catalog table in the query.
type tableUse struct {
	id    int
	table *Table
	// rv is where the query names the table, so the rewrite can point it
	// at the engine's relation.
	rv *pg.RangeVar
}

// unitRef says that column col of a relation carries the unit of tu.
type unitRef struct {
	tu  *tableUse
	col string
}

type relCol struct {
	name string
	cap  capab
}

type relation struct {
	cols  []relCol
	units []unitRef
	uses  []*tableUse
	// conds are the boolean flag columns a row-level subquery exports for
	// the conditions it no longer applies itself (see selInfo).
	conds []string
}

// scopeItem is a name visible in a FROM clause.
type scopeItem struct {
	alias string
	rel   *relation
}

type scope struct {
	// merged are the columns of JOIN ... USING between released rows,
	// which an unqualified name reads once.
	merged map[string]bool
	items  []scopeItem
	ctes   map[string]*cteDef
	outer  *scope // for CTE lookup only: FROM items never see outer columns
}

type cteDef struct {
	rel  *relation
	stmt *pg.SelectStmt
	kind selKind
}

// cte finds a WITH query by name. Names compare without case, as DuckDB
// compares them even when quoted: the policy must bind every name to what
// the engine will bind it to.
func (s *scope) cte(name string) *cteDef {
	for sc := s; sc != nil; sc = sc.outer {
		for n, d := range sc.ctes {
			if strings.EqualFold(n, name) {
				return d
			}
		}
	}
	return nil
}

// exportTarget is a column the rewrite adds to a subquery so that a unit
// or a condition becomes visible to the query above it: alias.col, or,
// when expr is set, (expr) IS TRUE.
type exportTarget struct {
	stmt  *pg.SelectStmt
	alias string
	col   string
	expr  *pg.Node
	as    string
}

// selInfo is what the rewrite needs of one SELECT: its condition terms
// (the conjuncts of WHERE and the non-key terms of its inner joins'
// ON). The aggregation rewrite lifts them all to the aggregate, so that
// it can count, per group, the units each single term removes
// (Denning's set-and-complement control): a subquery stops applying its
// terms and exports each as a flag column instead.
type selInfo struct {
	stmt    *pg.SelectStmt
	terms   []*pg.Node
	onTerms []onTerm
}

// onTerm is a non-key term of an inner join's ON, lifted by the rewrite.
type onTerm struct {
	join *pg.JoinExpr
	term *pg.Node
}

// analyzer walks one statement.
type analyzer struct {
	cat    *Catalog
	limits Limits
	// n numbers tables, conditions and aliases across the analyzers of
	// one statement, so that names the rewrite adds never collide.
	n       *counters
	uses    []*tableUse
	exports []exportTarget
	// cur is the SELECT being analyzed; sels holds every row-level one.
	cur  *selInfo
	sels []*selInfo
	// releases are the release points of a post-processing query.
	releases []release
	// per top-level query facts for the rewrite
	top *topInfo
}

type topInfo struct {
	// post: the query reads released rows only (see post.go).
	post bool
	// groupCols are the catalog columns (table.column) the group keys
	// derive from.
	groupCols []string
	stmt      *pg.SelectStmt
	sel       *selInfo
	scope     *scope
	hasAgg    bool
	targets   []capab
	rule      RuleKind
	k         int
	dpTables  int
}

// clause says where an expression stands and so what it must allow.
type clause int

const (
	inWhere clause = iota
	inTarget
	inGroup
	inHaving
	inOrder
	inRowTarget // a row-level subquery's output: projection is no use
	inAggArg
)

type exprCtx struct {
	// post: the expression is over released values only (a query over
	// aggregate subqueries), where every construct is post-processing.
	post     bool
	clause   clause
	allowAgg bool
	noAggErr Code // code when an aggregate appears where it may not
	inAgg    bool
}

func (a *analyzer) tooDeep(depth int, loc int32) *refusal {
	if depth > a.limits.MaxDepth {
		return refuse(CodeTooDeep, loc, fmt.Sprintf("nesting depth above %d", a.limits.MaxDepth),
			"max", strconv.Itoa(a.limits.MaxDepth))
	}
	return nil
}

// counters number what the rewrite adds.
type counters struct{ table, cond, alias int }

// query analyzes an aggregate SELECT, a release point (or, at the top, a
// list query); outer holds the WITH queries it may read.
func (a *analyzer) query(stmt *pg.SelectStmt, outer *scope) *refusal {
	sc := &scope{outer: outer}
	if r := a.withClause(stmt, sc, 1); r != nil {
		return r
	}
	topSel := &selInfo{stmt: stmt}
	a.cur = topSel
	if r := a.selectShape(stmt, true); r != nil {
		return r
	}
	if len(stmt.FromClause) == 0 {
		return refuse(CodeNoRelation, -1, "the query reads no table")
	}
	for _, f := range stmt.FromClause {
		if len(stmt.FromClause) > 1 {
			return refuse(CodeJoinCondition, locOf(f), "several FROM items without JOIN ... ON")
		}
		if r := a.fromItem(f, sc, 1); r != nil {
			return r
		}
	}
	if r := starCheck(stmt); r != nil {
		return r
	}
	// The governing rule: the strictest of the tables touched.
	rule, k, dpTables := RuleKind(""), 0, 0
	for _, u := range a.uses {
		if u.table.Rule.Kind.strictness() > rule.strictness() {
			rule = u.table.Rule.Kind
		}
		if u.table.Rule.Kind != RuleList && u.table.Rule.K > k {
			k = u.table.Rule.K
		}
		if u.table.Rule.Kind == RuleDP {
			dpTables++
		}
	}
	if dpTables > 0 && len(a.uses) > 1 {
		return refuse(CodeRuleMismatch, -1, "a table under differential privacy is combined with another table",
			"detail", "a table under differential privacy can only be queried alone")
	}
	a.top = &topInfo{stmt: stmt, scope: sc, rule: rule, k: k, dpTables: dpTables, sel: topSel}
	if stmt.WhereClause != nil {
		if r := a.predicate(stmt.WhereClause, sc, 1); r != nil {
			return r
		}
		topSel.terms = append(topSel.terms, conjuncts(stmt.WhereClause)...)
	}
	hasAgg := len(stmt.GroupClause) > 0
	ctx := exprCtx{clause: inTarget, allowAgg: true}
	if rule == RuleList {
		ctx.clause = inRowTarget
	}
	for _, t := range stmt.TargetList {
		rt := t.GetResTarget()
		if rt == nil {
			return refuse(CodeUnsupported, locOf(t), "target", "detail", "this output item")
		}
		c, r := a.expr(rt.Val, sc, ctx, 1)
		if r != nil {
			return r
		}
		if r := a.checkOutput(c, rule, rt.Location); r != nil {
			return r
		}
		hasAgg = hasAgg || c.agg
		a.top.targets = append(a.top.targets, c)
	}
	for _, g := range stmt.GroupClause {
		if r := a.groupItem(g, stmt, sc); r != nil {
			return r
		}
	}
	if stmt.HavingClause != nil {
		c, r := a.expr(stmt.HavingClause, sc, exprCtx{clause: inHaving, allowAgg: true}, 1)
		if r != nil {
			return r
		}
		if r := a.need(c, pOutput, rt0(stmt.HavingClause)); r != nil {
			return r
		}
		hasAgg = true
	}
	for _, s := range stmt.SortClause {
		sb := s.GetSortBy()
		if sb == nil || len(sb.UseOp) > 0 {
			return refuse(CodeUnsupported, locOf(s), "ORDER BY USING", "detail", "ORDER BY ... USING")
		}
		if isOrdinal(sb.Node) {
			continue
		}
		if n := aliasTarget(sb.Node, stmt, sc); n != nil {
			continue // an output column, already checked
		}
		c, r := a.expr(sb.Node, sc, exprCtx{clause: inOrder, allowAgg: true}, 1)
		if r != nil {
			return r
		}
		if r := a.checkOutput(c, rule, sb.Location); r != nil {
			return r
		}
	}
	if r := a.limitClause(stmt); r != nil {
		return r
	}
	a.top.hasAgg = hasAgg
	switch rule {
	case RuleAggregation, RuleDP:
		if !hasAgg {
			return refuse(CodeNotAggregated, -1, fmt.Sprintf("%s rule, k=%d", rule, k), "rule", string(rule))
		}
	case RuleList:
		if len(stmt.SortClause) > 0 && (stmt.LimitCount != nil || stmt.LimitOffset != nil) {
			return refuse(CodeOrderLimit, locOf(stmt.SortClause[0]), "list rule: ORDER BY with LIMIT or OFFSET picks out rows")
		}
	}
	return nil
}

func rt0(n *pg.Node) int32 { return locOf(n) }

// checkOutput enforces what an output value (target, ORDER BY key) of the
// top-level query must allow under rule.
func (a *analyzer) checkOutput(c capab, rule RuleKind, loc int32) *refusal {
	if c.unit && !c.agg {
		return a.unitRefusal(c, loc)
	}
	if c.identifying && !c.agg && rule != RuleList {
		return identifyingRefusal(c, loc)
	}
	if rule == RuleList {
		if c.agg {
			return a.need(c, pOutput, loc)
		}
		return a.need(c, pList, loc)
	}
	return a.need(c, pOutput, loc)
}

func (a *analyzer) unitRefusal(c capab, loc int32) *refusal {
	name := "the privacy unit"
	for _, o := range c.origins {
		if t := a.cat.table(o.table); t != nil && t.Unit == o.column {
			name = o.name()
		}
	}
	return refuse(CodeGroupByUnit, loc, "the privacy unit "+name+" may not be a group key or output", "column", name)
}

// need refuses c unless it allows p, naming the first input column that
// does not and the rule (its role) that forbids it.
func (a *analyzer) need(c capab, p perm, loc int32) *refusal {
	if c.perm&p == p {
		return nil
	}
	for _, o := range c.origins {
		if rolePerm(o.role)&p == p {
			continue
		}
		rule := fmt.Sprintf("column %s has role %s", o.name(), o.role)
		switch o.role {
		case Hidden:
			return refuse(CodeHiddenColumn, loc, rule, "column", o.name())
		case Filter:
			return refuse(CodeFilterOnly, loc, rule, "column", o.name())
		case Join:
			return refuse(CodeJoinOnly, loc, rule, "column", o.name())
		case Aggregate:
			return refuse(CodeAggregateOnly, loc, rule, "column", o.name(), "aggregates", aggNames(o.aggs))
		default:
			return refuse(CodeNotVisible, loc, rule, "column", o.name())
		}
	}
	if c.agg {
		return refuse(CodeUnsupported, loc, "an aggregate where rows are expected", "detail", "an aggregate in this clause")
	}
	return refuse(CodeUnsupported, loc, "value not allowed here", "detail", "this expression")
}

func aggNames(s aggset) string {
	var out []string
	for _, n := range []struct {
		b aggset
		n string
	}{{aggCount, "count"}, {aggSum, "sum"}, {aggAvg, "avg"}, {aggStddev, "stddev"}, {aggVariance, "variance"}, {aggMin, "min"}, {aggMax, "max"}} {
		if s&n.b != 0 {
			out = append(out, n.n)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// selectShape refuses what no SELECT in the query may have.
func (a *analyzer) selectShape(stmt *pg.SelectStmt, top bool) *refusal {
	if stmt.Op != pg.SetOperation_SETOP_NONE && stmt.Op != pg.SetOperation_SET_OPERATION_UNDEFINED {
		return refuse(CodeSetOperation, -1, "set operation "+strings.TrimPrefix(stmt.Op.String(), "SETOP_"))
	}
	if stmt.IntoClause != nil {
		return refuse(CodeNotSelect, -1, "SELECT INTO creates a table", "detail", "SELECT INTO")
	}
	if len(stmt.LockingClause) > 0 {
		return refuse(CodeNotSelect, -1, "locking clause", "detail", "FOR UPDATE/SHARE")
	}
	if len(stmt.ValuesLists) > 0 {
		return refuse(CodeUnsupported, -1, "VALUES list", "detail", "VALUES")
	}
	if len(stmt.WindowClause) > 0 {
		return refuse(CodeWindowFunction, -1, "WINDOW clause")
	}
	if stmt.LimitOption == pg.LimitOption_LIMIT_OPTION_WITH_TIES {
		return refuse(CodeOrderLimit, -1, "FETCH ... WITH TIES")
	}
	if top && len(stmt.TargetList) == 0 && stmt.Op == pg.SetOperation_SETOP_NONE {
		// PostgreSQL accepts SELECT FROM t; DuckDB does not, and a result
		// without columns is no product.
		return refuse(CodeUnsupported, -1, "empty SELECT list", "detail", "SELECT without output columns")
	}
	if !top {
		if len(stmt.GroupClause) > 0 || stmt.HavingClause != nil || len(stmt.DistinctClause) > 0 {
			return refuse(CodeNestedAggregate, -1, "aggregation or DISTINCT in a subquery")
		}
		if len(stmt.SortClause) > 0 || stmt.LimitCount != nil || stmt.LimitOffset != nil {
			return refuse(CodeOrderLimit, -1, "ORDER BY, LIMIT or OFFSET in a subquery")
		}
	}
	return nil
}

// starCheck refuses SELECT *: it would pass every column on, hidden ones
// included. It runs after FROM so that a star over a table function or a
// catalog is refused for what it reads.
func starCheck(stmt *pg.SelectStmt) *refusal {
	for _, t := range stmt.TargetList {
		if rt := t.GetResTarget(); rt != nil && hasStar(rt.Val) {
			return refuse(CodeSelectStar, rt.Location, "SELECT *")
		}
	}
	return nil
}

func hasStar(n *pg.Node) bool {
	if cr := n.GetColumnRef(); cr != nil {
		for _, f := range cr.Fields {
			if f.GetAStar() != nil {
				return true
			}
		}
	}
	return false
}

func (a *analyzer) withClause(stmt *pg.SelectStmt, sc *scope, depth int) *refusal {
	w := stmt.WithClause
	if w == nil {
		return nil
	}
	if w.Recursive {
		return refuse(CodeRecursiveCTE, w.Location, "WITH RECURSIVE")
	}
	sc.ctes = map[string]*cteDef{}
	for _, n := range w.Ctes {
		cte := n.GetCommonTableExpr()
		if cte == nil {
			return refuse(CodeUnsupported, locOf(n), "WITH item", "detail", "this WITH item")
		}
		if cte.SearchClause != nil || cte.CycleClause != nil {
			return refuse(CodeRecursiveCTE, cte.Location, "SEARCH or CYCLE clause")
		}
		if a.cat.shadows(cte.Ctename) {
			// A WITH query named like a table would replace, for the
			// engine, the relation the rewrite reads.
			return refuse(CodeShadowedName, cte.Location, "WITH query named like a table: "+cte.Ctename, "name", cte.Ctename)
		}
		for n := range sc.ctes {
			if strings.EqualFold(n, cte.Ctename) {
				return refuse(CodeShadowedName, cte.Location, "two WITH queries named "+cte.Ctename, "name", cte.Ctename)
			}
		}
		sel := cte.Ctequery.GetSelectStmt()
		if sel == nil {
			return refuse(CodeNotSelect, cte.Location, "WITH item is not a SELECT", "detail", "a data-modifying WITH item")
		}
		rel, r := a.subselect(sel, sc, depth+1)
		if r != nil {
			return r
		}
		if r := renameCols(rel, cte.Aliascolnames, cte.Location); r != nil {
			return r
		}
		sc.ctes[cte.Ctename] = &cteDef{rel: rel, stmt: sel}
	}
	return nil
}

func renameCols(rel *relation, names []*pg.Node, loc int32) *refusal {
	if len(names) > len(rel.cols) {
		return refuse(CodeUnsupported, loc, "more column aliases than columns", "detail", "column aliases")
	}
	for i, n := range names {
		rel.cols[i].name = n.GetString_().GetSval()
	}
	return nil
}

// subselect analyzes a row-level SELECT (a FROM subquery or a CTE): no
// aggregation, no DISTINCT, no ordering or limits; its output columns carry
// the capabilities of the expressions that compute them.
func (a *analyzer) subselect(stmt *pg.SelectStmt, outer *scope, depth int) (*relation, *refusal) {
	if r := a.tooDeep(depth, -1); r != nil {
		return nil, r
	}
	sc := &scope{outer: outer}
	if r := a.withClause(stmt, sc, depth); r != nil {
		return nil, r
	}
	if r := a.selectShape(stmt, false); r != nil {
		return nil, r
	}
	info := &selInfo{stmt: stmt}
	saved := a.cur
	a.cur = info
	defer func() { a.cur = saved }()
	a.sels = append(a.sels, info)
	if len(stmt.FromClause) == 0 {
		return nil, refuse(CodeNoRelation, -1, "a subquery reads no table")
	}
	for _, f := range stmt.FromClause {
		if len(stmt.FromClause) > 1 {
			return nil, refuse(CodeJoinCondition, locOf(f), "several FROM items without JOIN ... ON")
		}
		if r := a.fromItem(f, sc, depth); r != nil {
			return nil, r
		}
	}
	if r := starCheck(stmt); r != nil {
		return nil, r
	}
	if stmt.WhereClause != nil {
		if r := a.predicate(stmt.WhereClause, sc, depth); r != nil {
			return nil, r
		}
		info.terms = append(info.terms, conjuncts(stmt.WhereClause)...)
	}
	rel := &relation{}
	ctx := exprCtx{clause: inRowTarget, noAggErr: CodeNestedAggregate}
	for _, t := range stmt.TargetList {
		rt := t.GetResTarget()
		c, r := a.expr(rt.Val, sc, ctx, depth)
		if r != nil {
			return nil, r
		}
		name := rt.Name
		if name == "" {
			if cr := rt.Val.GetColumnRef(); cr != nil {
				name = cr.Fields[len(cr.Fields)-1].GetString_().GetSval()
			}
		}
		rel.cols = append(rel.cols, relCol{name: name, cap: c})
	}
	// Export every condition: the subquery's own terms and those its
	// items export, so that the aggregate above applies and counts them.
	for _, term := range info.terms {
		a.n.cond++
		as := fmt.Sprintf("__gs_w%d", a.n.cond)
		a.exports = append(a.exports, exportTarget{stmt: stmt, expr: term, as: as})
		rel.conds = append(rel.conds, as)
	}
	for _, it := range sc.items {
		for _, c := range it.rel.conds {
			a.exports = append(a.exports, exportTarget{stmt: stmt, alias: it.alias, col: c, as: c})
			rel.conds = append(rel.conds, c)
		}
	}
	// Export every unit inside so that the query above can count it.
	for _, it := range sc.items {
		for _, u := range it.rel.units {
			as := fmt.Sprintf("__gs_u%d", u.tu.id)
			if alreadyExported(rel, as) {
				continue
			}
			a.exports = append(a.exports, exportTarget{stmt: stmt, alias: it.alias, col: u.col, as: as})
			rel.units = append(rel.units, unitRef{tu: u.tu, col: as})
			rel.uses = append(rel.uses, u.tu)
		}
	}
	return rel, nil
}

func alreadyExported(rel *relation, as string) bool {
	for _, u := range rel.units {
		if u.col == as {
			return true
		}
	}
	return false
}

// fromItem adds one FROM item (table, subquery, join) to the scope.
func (a *analyzer) fromItem(n *pg.Node, sc *scope, depth int) *refusal {
	if r := a.tooDeep(depth, locOf(n)); r != nil {
		return r
	}
	switch {
	case n.GetRangeVar() != nil:
		return a.rangeVar(n.GetRangeVar(), sc)
	case n.GetRangeSubselect() != nil:
		rs := n.GetRangeSubselect()
		if rs.Lateral {
			return refuse(CodeSubqueryExpression, -1, "LATERAL subquery")
		}
		sel := rs.Subquery.GetSelectStmt()
		if sel == nil {
			return refuse(CodeUnsupported, -1, "subquery", "detail", "this subquery")
		}
		rel, r := a.subselect(sel, sc, depth+1)
		if r != nil {
			return r
		}
		if rs.Alias == nil {
			a.n.alias++
			rs.Alias = &pg.Alias{Aliasname: fmt.Sprintf("__gs_s%d", a.n.alias)}
		}
		if r := renameCols(rel, rs.Alias.Colnames, -1); r != nil {
			return r
		}
		return addItem(sc, rs.Alias.Aliasname, rel, -1)
	case n.GetJoinExpr() != nil:
		return a.join(n.GetJoinExpr(), sc, depth)
	case n.GetRangeFunction() != nil:
		name := "a function"
		for _, f := range n.GetRangeFunction().Functions {
			for _, item := range f.GetList().GetItems() {
				if fc := item.GetFuncCall(); fc != nil {
					name = funcName(fc)
				}
			}
		}
		return refuse(CodeTableFunction, -1, "function in FROM", "function", name)
	case n.GetRangeTableSample() != nil:
		return refuse(CodeUnsupported, -1, "TABLESAMPLE", "detail", "TABLESAMPLE")
	}
	return refuse(CodeUnsupported, locOf(n), "FROM item", "detail", "this FROM item")
}

func addItem(sc *scope, alias string, rel *relation, loc int32) *refusal {
	for _, it := range sc.items {
		if strings.EqualFold(it.alias, alias) {
			return refuse(CodeAmbiguousColumn, loc, "table name "+alias+" used twice", "column", alias)
		}
	}
	sc.items = append(sc.items, scopeItem{alias: alias, rel: rel})
	return nil
}

func (a *analyzer) rangeVar(rv *pg.RangeVar, sc *scope) *refusal {
	name := rv.Relname
	full := name
	if rv.Schemaname != "" {
		full = rv.Schemaname + "." + name
	}
	if rv.Catalogname != "" {
		full = rv.Catalogname + "." + full
	}
	alias := name
	if rv.Alias != nil {
		alias = rv.Alias.Aliasname
	}
	if rv.Schemaname == "" && rv.Catalogname == "" {
		if d := sc.cte(name); d != nil {
			rel := &relation{cols: append([]relCol(nil), d.rel.cols...), units: d.rel.units, uses: d.rel.uses, conds: d.rel.conds}
			if rv.Alias != nil {
				if r := renameCols(rel, rv.Alias.Colnames, rv.Location); r != nil {
					return r
				}
			}
			return addItem(sc, alias, rel, rv.Location)
		}
	}
	if isSystemRelation(rv.Schemaname, name) || rv.Catalogname == "system" {
		return refuse(CodeSystemCatalog, rv.Location, "system catalog "+full, "table", full)
	}
	if rv.Catalogname != "" || (rv.Schemaname != "" && rv.Schemaname != a.cat.Schema) {
		return refuse(CodeUnknownRelation, rv.Location, "relation "+full+" is outside the workspace", "table", full)
	}
	t := a.cat.table(name)
	if t == nil {
		return refuse(CodeUnknownRelation, rv.Location, "relation "+full+" is not in the catalog", "table", full)
	}
	if rv.Alias != nil && len(rv.Alias.Colnames) > 0 {
		return refuse(CodeUnsupported, rv.Location, "column aliases on a table", "detail", "column aliases on a table")
	}
	a.n.table++
	tu := &tableUse{id: a.n.table, table: t, rv: rv}
	a.uses = append(a.uses, tu)
	rel := &relation{uses: []*tableUse{tu}}
	for _, col := range t.Columns {
		o := &origin{table: t.Name, column: col.Name, role: col.Role, aggs: columnAggs(col),
			extreme: (col.Role == Group || col.Role == Visible) && (!IsNumericType(col.Type) || listsExtreme(col))}
		c := capab{perm: rolePerm(col.Role), aggs: o.aggs, origins: []*origin{o},
			ident: col.Identifier || col.Name == t.Unit, names: col.PersonNames, prot: col.Role == Aggregate,
			text: isTextType(col.Type), notNull: col.NotNull, identifying: col.Identifying}
		if col.Name == t.Unit && t.Rule.Kind != RuleList {
			c.unit = true
			c.ident = true
		}
		rel.cols = append(rel.cols, relCol{name: col.Name, cap: c})
	}
	if t.Rule.Kind != RuleList {
		rel.units = []unitRef{{tu: tu, col: t.Unit}}
	}
	return addItem(sc, alias, rel, rv.Location)
}

// columnAggs is the set of aggregates a column may be the argument of.
func columnAggs(col Column) aggset {
	switch col.Role {
	case Group, Visible:
		return aggAll
	case Hidden:
		return 0
	}
	if col.Role == Aggregate && len(col.Aggregates) == 0 {
		return aggCount | aggSum | aggAvg
	}
	var s aggset
	for _, f := range col.Aggregates {
		s |= aggregateFunctions[strings.ToLower(f)]
	}
	// MIN and MAX of a protected column are one unit's value.
	return s &^ (aggMin | aggMax)
}

func (a *analyzer) join(j *pg.JoinExpr, sc *scope, depth int) *refusal {
	if j.IsNatural || len(j.UsingClause) > 0 {
		return refuse(CodeJoinUsing, -1, "NATURAL join or USING")
	}
	if j.Alias != nil {
		return refuse(CodeUnsupported, -1, "alias on a join", "detail", "an alias on a JOIN")
	}
	switch j.Jointype {
	case pg.JoinType_JOIN_INNER, pg.JoinType_JOIN_LEFT, pg.JoinType_JOIN_RIGHT, pg.JoinType_JOIN_FULL:
	default:
		return refuse(CodeJoinCondition, -1, "join type "+j.Jointype.String())
	}
	// A condition on the optional side of an outer join keeps rows with
	// NULLs where the lifted form would drop them: refused, not lifted.
	side := func(n *pg.Node) (bool, *refusal) {
		before, terms := len(sc.items), len(a.cur.terms)
		if r := a.fromItem(n, sc, depth+1); r != nil {
			return false, r
		}
		conds := len(a.cur.terms) > terms
		for _, it := range sc.items[before:] {
			conds = conds || len(it.rel.conds) > 0
		}
		return conds, nil
	}
	nullable := func(from, to int) {
		for i := from; i < to; i++ {
			rel := *sc.items[i].rel
			rel.cols = append([]relCol(nil), rel.cols...)
			for c := range rel.cols {
				rel.cols[c].cap.notNull = false
			}
			sc.items[i].rel = &rel
		}
	}
	first := len(sc.items)
	lc, r := side(j.Larg)
	if r != nil {
		return r
	}
	second := len(sc.items)
	rc, r := side(j.Rarg)
	if r != nil {
		return r
	}
	switch j.Jointype {
	case pg.JoinType_JOIN_LEFT:
		nullable(second, len(sc.items))
	case pg.JoinType_JOIN_RIGHT:
		nullable(first, second)
	case pg.JoinType_JOIN_FULL:
		nullable(first, len(sc.items))
	}
	outer := j.Jointype != pg.JoinType_JOIN_INNER
	if (rc && (j.Jointype == pg.JoinType_JOIN_LEFT || j.Jointype == pg.JoinType_JOIN_FULL)) ||
		(lc && (j.Jointype == pg.JoinType_JOIN_RIGHT || j.Jointype == pg.JoinType_JOIN_FULL)) {
		return refuse(CodeOuterJoinFilter, -1, "condition on the nullable side of an outer join")
	}
	if j.Quals == nil {
		return refuse(CodeJoinCondition, -1, "join without ON")
	}
	keys := 0
	for _, q := range conjuncts(j.Quals) {
		if ae := q.GetAExpr(); ae != nil && ae.Kind == pg.A_Expr_Kind_AEXPR_OP && opName(ae) == "=" &&
			ae.Lexpr.GetColumnRef() != nil && ae.Rexpr.GetColumnRef() != nil {
			l, r := a.expr(ae.Lexpr, sc, exprCtx{clause: inWhere, noAggErr: CodeUnsupported}, depth)
			if r != nil {
				return r
			}
			rr, r := a.expr(ae.Rexpr, sc, exprCtx{clause: inWhere, noAggErr: CodeUnsupported}, depth)
			if r != nil {
				return r
			}
			if r := a.need(l, pJoin, ae.Location); r != nil {
				return r
			}
			if r := a.need(rr, pJoin, ae.Location); r != nil {
				return r
			}
			// A key must be a column as stored: a literal, or a value
			// computed from a literal, joined to an identifier picks one
			// person or enterprise out without comparing it to anything.
			for _, c := range []capab{l, rr} {
				if c.constant || c.derived || len(c.origins) == 0 {
					return refuse(CodeJoinKey, ae.Location, "join key is a literal or an expression")
				}
			}
			keys++
			continue
		}
		if outer {
			return refuse(CodeOuterJoinFilter, locOf(q), "non-key term in the ON of an outer join")
		}
		if r := a.predicate(q, sc, depth); r != nil {
			return r
		}
		a.cur.terms = append(a.cur.terms, q)
		a.cur.onTerms = append(a.cur.onTerms, onTerm{join: j, term: q})
	}
	if keys == 0 {
		return refuse(CodeJoinCondition, locOf(j.Quals), "JOIN ... ON without an equality of two columns")
	}
	return nil
}

func conjuncts(n *pg.Node) []*pg.Node {
	if be := n.GetBoolExpr(); be != nil && be.Boolop == pg.BoolExprType_AND_EXPR {
		var out []*pg.Node
		for _, x := range be.Args {
			out = append(out, conjuncts(x)...)
		}
		return out
	}
	return []*pg.Node{n}
}

// predicate checks a WHERE or ON condition.
func (a *analyzer) predicate(n *pg.Node, sc *scope, depth int) *refusal {
	c, r := a.expr(n, sc, exprCtx{clause: inWhere, noAggErr: CodeUnsupported}, depth)
	if r != nil {
		return r
	}
	return a.need(c, pWhere, locOf(n))
}

// groupItem checks one GROUP BY key.
func (a *analyzer) groupItem(g *pg.Node, stmt *pg.SelectStmt, sc *scope) *refusal {
	if g.GetGroupingSet() != nil {
		return refuse(CodeGroupingSets, locOf(g), "GROUPING SETS, ROLLUP or CUBE")
	}
	var c capab
	switch {
	case isOrdinal(g):
		i := int(g.GetAConst().GetIval().GetIval())
		if i < 1 || i > len(a.top.targets) {
			return refuse(CodeUnknownColumn, locOf(g), "GROUP BY position out of range", "column", strconv.Itoa(i))
		}
		c = a.top.targets[i-1]
	default:
		if t := aliasTarget(g, stmt, sc); t != nil {
			if idx := targetIndex(stmt, t); idx >= 0 && idx < len(a.top.targets) {
				c = a.top.targets[idx]
				break
			}
		}
		var r *refusal
		c, r = a.expr(g, sc, exprCtx{clause: inGroup, noAggErr: CodeUnsupported}, 1)
		if r != nil {
			return r
		}
	}
	if c.unit {
		return a.unitRefusal(c, locOf(g))
	}
	if c.agg {
		return refuse(CodeUnsupported, locOf(g), "aggregate in GROUP BY", "detail", "an aggregate in GROUP BY")
	}
	for _, o := range c.origins {
		a.top.groupCols = append(a.top.groupCols, o.name())
	}
	if c.identifying {
		return identifyingRefusal(c, locOf(g))
	}
	return a.need(c, pGroup, locOf(g))
}

func identifyingRefusal(c capab, loc int32) *refusal {
	name := "a column"
	if len(c.origins) > 0 {
		name = c.origins[0].name()
	}
	return refuse(CodeIdentifyingColumn, loc, "identifying column "+name+" not coarsened", "column", name)
}

func isOrdinal(n *pg.Node) bool {
	ac := n.GetAConst()
	return ac != nil && ac.GetIval() != nil
}

// aliasTarget returns the output item a bare name in GROUP BY or ORDER BY
// refers to when it names an output alias and no input column; a name that
// is both is refused later as ambiguous by resolve (engines differ on which
// wins).
func aliasTarget(n *pg.Node, stmt *pg.SelectStmt, sc *scope) *pg.ResTarget {
	cr := n.GetColumnRef()
	if cr == nil || len(cr.Fields) != 1 {
		return nil
	}
	name := cr.Fields[0].GetString_().GetSval()
	for _, it := range sc.items {
		for _, col := range it.rel.cols {
			if col.name == name {
				return nil
			}
		}
	}
	for _, t := range stmt.TargetList {
		if rt := t.GetResTarget(); rt != nil && rt.Name == name {
			return rt
		}
	}
	return nil
}

func targetIndex(stmt *pg.SelectStmt, rt *pg.ResTarget) int {
	for i, t := range stmt.TargetList {
		if t.GetResTarget() == rt {
			return i
		}
	}
	return -1
}

func (a *analyzer) limitClause(stmt *pg.SelectStmt) *refusal {
	for _, n := range []*pg.Node{stmt.LimitCount, stmt.LimitOffset} {
		if n == nil {
			continue
		}
		ac := n.GetAConst()
		if ac == nil || (ac.GetIval() == nil && !ac.Isnull) {
			return refuse(CodeUnsupported, locOf(n), "LIMIT or OFFSET not an integer literal", "detail", "LIMIT or OFFSET with an expression")
		}
	}
	return nil
}

func locOf(n *pg.Node) int32 {
	if n == nil {
		return -1
	}
	switch {
	case n.GetColumnRef() != nil:
		return n.GetColumnRef().Location
	case n.GetFuncCall() != nil:
		return n.GetFuncCall().Location
	case n.GetAExpr() != nil:
		return n.GetAExpr().Location
	case n.GetAConst() != nil:
		return n.GetAConst().Location
	case n.GetTypeCast() != nil:
		return n.GetTypeCast().Location
	case n.GetBoolExpr() != nil:
		return n.GetBoolExpr().Location
	case n.GetSubLink() != nil:
		return n.GetSubLink().Location
	case n.GetSortBy() != nil:
		return n.GetSortBy().Location
	case n.GetRangeVar() != nil:
		return n.GetRangeVar().Location
	case n.GetCaseExpr() != nil:
		return n.GetCaseExpr().Location
	case n.GetResTarget() != nil:
		return n.GetResTarget().Location
	}
	return -1
}

func opName(ae *pg.A_Expr) string {
	if len(ae.Name) == 0 {
		return ""
	}
	return ae.Name[len(ae.Name)-1].GetString_().GetSval()
}

// funcName is a call's name as written, lower case; the parser's own
// pg_catalog names for SQL syntax (EXTRACT, TRIM, SUBSTRING) lose the
// schema, any name the operator qualified keeps it.
func funcName(fc *pg.FuncCall) string {
	parts := make([]string, 0, len(fc.Funcname))
	for _, p := range fc.Funcname {
		parts = append(parts, strings.ToLower(p.GetString_().GetSval()))
	}
	if len(parts) == 2 && parts[0] == "pg_catalog" && fc.Funcformat == pg.CoercionForm_COERCE_SQL_SYNTAX {
		return parts[1]
	}
	return strings.Join(parts, ".")
}
