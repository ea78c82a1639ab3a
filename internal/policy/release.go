package policy

import (
	"fmt"
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// The aggregation rule's rewrite. The operator's aggregate SELECT (the
// release point) becomes three nested SELECTs:
//
//	inner:  one row per group, over every row that fails at most one of
//	        the query's condition terms, with each aggregate computed over
//	        the selected rows only (FILTER), wrapped in a CASE that keeps it
//	        only when its checks pass, and the group's checks;
//	level1: the groups that have selected rows, with window sums over all
//	        groups for the secondary suppression;
//	level2: the operator's own projection, HAVING, ORDER BY, LIMIT and
//	        window functions, over the released groups only.
//
// The checks, all counted by the engine in the same run:
//   - a group is released only if it covers at least k units, and every
//     condition term alone removes from it none or at least k units
//     (Denning's set-and-complement control against differencing);
//   - a number is released only if every cell it is computed from (one
//     per THEN/ELSE branch of a CASE argument, else one) has at least k
//     contributing units (rows selected, passing the aggregate's FILTER
//     and the branch, with a non-NULL argument), and each FILTER or WHEN
//     term alone removes from the cell none or at least k units; else the
//     number is NULL. Zero contributors is suppressed too: a released 0
//     would say "the target is not here".
//   - when groups are withheld, the units they cover together (estimated
//     as the sum of their unit counts) are none or at least k, else the
//     smallest released groups are withheld as well (secondary
//     suppression, as statistical offices do), so that a total released
//     elsewhere minus these groups does not give a small remainder.
//
// Everything the operator computes from the numbers (arithmetic,
// HAVING, window functions, ORDER BY) is computed from released values
// only.

// cell is one set of rows a released number is computed from: atoms are
// boolean SQL terms, all true for a contributing row; checked says which
// atoms are condition terms whose complement is counted.
type cell struct {
	atoms   []string
	checked []bool
}

func (c cell) pred() string { return andSQL(c.atoms) }

// without returns the predicate of the rows the i-th atom alone removes.
func (c cell) without(i int) string {
	out := make([]string, 0, len(c.atoms))
	for j, a := range c.atoms {
		if j == i {
			out = append(out, negate(a))
		} else {
			out = append(out, a)
		}
	}
	return andSQL(out)
}

func andSQL(atoms []string) string {
	if len(atoms) == 0 {
		return "true"
	}
	return strings.Join(atoms, " AND ")
}

func isTrue(expr string) string { return "(" + expr + ") IS TRUE" }

// negate flips an atom built by isTrue or isNotTrue.
func negate(atom string) string {
	switch {
	case strings.HasSuffix(atom, ") IS TRUE"):
		return strings.TrimSuffix(atom, " IS TRUE") + " IS NOT TRUE"
	case strings.HasSuffix(atom, ") IS NOT TRUE"):
		return strings.TrimSuffix(atom, " IS NOT TRUE") + " IS TRUE"
	}
	return "NOT (" + atom + ")"
}

// releaseBuilder assembles the rewritten statement for one mode: exact
// (distinct units counted) or fast (rows counted, see FastPlan).
type releaseBuilder struct {
	an      *analysis
	version int32
	k       int
	fast    bool
	rows    int64 // fast: rows that prove k units
	units   []string
	// bare: no internal columns in the output.
	bare bool
	// undecided collects, in fast mode, every row count whose meaning
	// for the threshold the bound cannot settle.
	undecided []string
}

// count is the engine's count of contributing units (or rows) of pred
// for unit u.
func (b *releaseBuilder) count(u, pred string) string {
	if b.fast {
		return "count(*)" + filter(pred)
	}
	return "count(DISTINCT " + u + ")" + filter(pred)
}

// filter prints an aggregate's FILTER clause, none for no condition.
func filter(pred string) string {
	if pred == "true" {
		return ""
	}
	return " FILTER (WHERE " + pred + ")"
}

func (b *releaseBuilder) bound() string {
	if b.fast {
		return strconv.FormatInt(b.rows, 10)
	}
	return strconv.Itoa(b.k)
}

// atLeastK: the set has at least k units.
func (b *releaseBuilder) atLeastK(pred string) []string {
	var out []string
	for _, u := range b.units {
		c := b.count(u, pred)
		out = append(out, c+" >= "+b.bound())
		if b.fast {
			b.undecided = append(b.undecided, "("+c+" > 0 AND "+c+" < "+b.bound()+")")
		}
	}
	return out
}

// noneOrK: the set has no unit or at least k.
func (b *releaseBuilder) noneOrK(pred string) []string {
	var out []string
	for _, u := range b.units {
		c := b.count(u, pred)
		out = append(out, "("+c+" = 0 OR "+c+" >= "+b.bound()+")")
		if b.fast {
			b.undecided = append(b.undecided, "("+c+" > 0 AND "+c+" < "+b.bound()+")")
		}
	}
	return out
}

// releaseParts is what the two modes share: the analysed pieces of the
// statement, printed once.
type releaseParts struct {
	with     string   // WITH clause, "" or ending in a space
	from     string   // FROM clause with subqueries rewritten
	terms    []string // condition atoms, each "(term) IS TRUE"
	keys     []string // GROUP BY expressions, printed
	keyNodes []*pg.Node
	aggs     []*pg.FuncCall // distinct aggregate calls, in order of appearance
	aggText  []string
	targets  []string // level-2 projection
	having   string
	order    []string
	limit    string
	distinct bool
}

// rewriteRelease builds the aggregation rule's plan. bare leaves out the
// internal columns and the fast plan, for a release point inside a
// post-processing query.
func (an *analysis) rewriteRelease(bare bool) (Plan, *refusal) {
	parts, r := an.releaseParts()
	if r != nil {
		return Plan{}, r
	}
	k := an.a.top.k
	var units []string
	for _, u := range an.topUnits() {
		units = append(units, quoteIdent(u[0])+"."+quoteIdent(u[1]))
	}
	if len(units) == 0 {
		return Plan{}, refuse(CodeBadCatalog, -1, "no privacy unit reachable", "detail", "no privacy unit is reachable for the threshold")
	}
	exact := &releaseBuilder{an: an, version: an.tree.Version, k: k, units: units, bare: bare}
	sql, hidden, r := exact.build(parts)
	if r != nil {
		return Plan{}, r
	}
	p := Plan{SQL: sql, Columns: len(parts.targets)}
	if bare {
		return p, nil
	}
	for i := range hidden {
		p.UnitCounts = append(p.UnitCounts, p.Columns+i)
	}
	if stats := an.boundedUnits(); stats != nil {
		rows := stats.Null + int64(k-1)*stats.Max + 1
		fast := &releaseBuilder{an: an, version: an.tree.Version, k: k, units: units, fast: true, rows: rows}
		if fsql, _, r := fast.build(parts); r == nil {
			p.Fast = &FastPlan{SQL: fsql, Rows: rows, stats: *stats, Unsettled: p.Columns + len(units)}
		}
	}
	return p, nil
}

// build prints the three levels. hidden is the number of unit-count
// columns after the operator's (a fast plan's unsettled count follows).
func (b *releaseBuilder) build(parts releaseParts) (string, int, *refusal) {
	var inner []string
	for i, key := range parts.keys {
		inner = append(inner, fmt.Sprintf("%s AS __gs_g%d", key, i))
	}
	// Group checks.
	group := cell{atoms: parts.terms, checked: make([]bool, len(parts.terms))}
	for i := range group.checked {
		group.checked[i] = true
	}
	sel := group.pred()
	var pass []string
	pass = append(pass, b.atLeastK(sel)...)
	for i := range group.atoms {
		pass = append(pass, b.noneOrK(group.without(i))...)
	}
	for j, fc := range parts.aggs {
		v, r := b.aggregate(fc, parts.aggText[j], group)
		if r != nil {
			return "", 0, r
		}
		inner = append(inner, fmt.Sprintf("%s AS __gs_a%d", v, j))
	}
	for i, u := range b.units {
		inner = append(inner, fmt.Sprintf("%s AS __gs_n%d", b.count(u, sel), i))
	}
	inner = append(inner, andSQL(pass)+" AS __gs_pass")
	inner = append(inner, "count(*)"+filter(sel)+" > 0 AS __gs_exists")
	if b.fast {
		und := "false"
		if len(b.undecided) > 0 {
			und = strings.Join(b.undecided, " OR ")
		}
		inner = append(inner, "("+und+") AS __gs_und")
	}
	var q strings.Builder
	q.WriteString(parts.with)
	q.WriteString("SELECT ")
	q.WriteString(strings.Join(inner, ", "))
	q.WriteString(" ")
	q.WriteString(parts.from)
	if n := len(parts.terms); n > 1 {
		// Rows that fail two terms or more count for no check.
		var sum []string
		for _, t := range parts.terms {
			sum = append(sum, "CAST("+t+" AS INTEGER)")
		}
		fmt.Fprintf(&q, " WHERE (%s) >= %d", strings.Join(sum, " + "), n-1)
	}
	if len(parts.keys) > 0 {
		q.WriteString(" GROUP BY ")
		q.WriteString(strings.Join(parts.keys, ", "))
	}
	// Level 1: windows over every group with selected rows.
	var l1 []string
	released := "__gs_pass"
	if len(parts.keys) > 0 {
		var order []string
		order = append(order, "__gs_n0")
		for i := range parts.keys {
			order = append(order, fmt.Sprintf("__gs_g%d NULLS FIRST", i))
		}
		ob := strings.Join(order, ", ")
		var secondary []string
		for i := range b.units {
			l1 = append(l1, fmt.Sprintf("sum(CASE WHEN __gs_pass THEN 0 ELSE __gs_n%d END) OVER () AS __gs_wu%d", i, i))
			l1 = append(l1, fmt.Sprintf("coalesce(sum(CASE WHEN __gs_pass THEN __gs_n%d ELSE 0 END) OVER (ORDER BY %s ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS __gs_wb%d", i, ob, i))
			secondary = append(secondary, fmt.Sprintf("(__gs_wu%d > 0 AND __gs_wu%d + __gs_wb%d < %s)", i, i, i, b.bound()))
		}
		released = "__gs_pass AND NOT (" + strings.Join(secondary, " OR ") + ")"
	}
	if b.fast {
		l1 = append(l1, "sum(CASE WHEN __gs_und OR NOT __gs_pass THEN 1 ELSE 0 END) OVER () AS __gs_unsettled")
	}
	level1 := "SELECT *"
	if len(l1) > 0 {
		level1 += ", " + strings.Join(l1, ", ")
	}
	level1 += " FROM (" + q.String() + ") AS __gs_i WHERE __gs_exists"
	// Level 2: the operator's projection.
	out := append([]string(nil), parts.targets...)
	hidden := 0
	for i := range b.units {
		if b.bare {
			break
		}
		out = append(out, fmt.Sprintf("__gs_n%d AS __gs_units_%d", i, i))
		hidden++
	}
	if b.fast {
		out = append(out, "__gs_unsettled")
	}
	var s strings.Builder
	s.WriteString("SELECT ")
	if parts.distinct {
		s.WriteString("DISTINCT ")
	}
	s.WriteString(strings.Join(out, ", "))
	s.WriteString(" FROM (" + level1 + ") AS __gs_rp WHERE " + released)
	if parts.having != "" {
		s.WriteString(" AND (" + parts.having + ")")
	}
	if len(parts.order) > 0 {
		s.WriteString(" ORDER BY " + strings.Join(parts.order, ", "))
	}
	s.WriteString(parts.limit)
	return s.String(), hidden, nil
}

// aggregate prints one aggregate of the release point: its value over the
// selected rows, kept only when the checks of its cells pass.
func (b *releaseBuilder) aggregate(fc *pg.FuncCall, text string, group cell) (string, *refusal) {
	base := cell{atoms: append([]string(nil), group.atoms...), checked: make([]bool, len(group.atoms))}
	if fc.AggFilter != nil {
		for _, c := range conjuncts(fc.AggFilter) {
			s, err := deparseExpr(b.version, c)
			if err != nil {
				return "", refuse(CodeUnsupported, fc.Location, "FILTER cannot be printed", "detail", "this FILTER")
			}
			base.atoms = append(base.atoms, isTrue(s))
			base.checked = append(base.checked, true)
		}
	}
	var cells []cell
	add := func(c cell, extra ...string) {
		c.atoms = append(append([]string(nil), c.atoms...), extra...)
		c.checked = append(append([]bool(nil), c.checked...), make([]bool, len(extra))...)
		cells = append(cells, c)
	}
	var ce *pg.CaseExpr
	if len(fc.Args) == 1 {
		ce = fc.Args[0].GetCaseExpr()
	}
	switch {
	case fc.AggStar || len(fc.Args) == 0:
		add(base)
	case ce != nil:
		var arg string
		if ce.Arg != nil {
			s, err := deparseExpr(b.version, ce.Arg)
			if err != nil {
				return "", refuse(CodeUnsupported, ce.Location, "CASE cannot be printed", "detail", "this CASE")
			}
			arg = s
		}
		var earlier []string
		for _, w := range ce.Args {
			cw := w.GetCaseWhen()
			br := base
			br.atoms = append(append([]string(nil), base.atoms...), earlier...)
			br.checked = append(append([]bool(nil), base.checked...), trues(len(earlier))...)
			var conds []string
			if arg != "" {
				v, err := deparseExpr(b.version, cw.Expr)
				if err != nil {
					return "", refuse(CodeUnsupported, ce.Location, "CASE cannot be printed", "detail", "this CASE")
				}
				conds = []string{"(" + arg + ") = (" + v + ")"}
			} else {
				for _, c := range conjuncts(cw.Expr) {
					v, err := deparseExpr(b.version, c)
					if err != nil {
						return "", refuse(CodeUnsupported, ce.Location, "CASE cannot be printed", "detail", "this CASE")
					}
					conds = append(conds, v)
				}
			}
			for _, c := range conds {
				br.atoms = append(br.atoms, isTrue(c))
				br.checked = append(br.checked, true)
			}
			whole, err := deparseExpr(b.version, cw.Expr)
			if err != nil {
				return "", refuse(CodeUnsupported, ce.Location, "CASE cannot be printed", "detail", "this CASE")
			}
			if arg != "" {
				whole = "(" + arg + ") = (" + whole + ")"
			}
			earlier = append(earlier, "("+whole+") IS NOT TRUE")
			if isNullConst(cw.Result) {
				continue
			}
			v, err := deparseExpr(b.version, cw.Result)
			if err != nil {
				return "", refuse(CodeUnsupported, ce.Location, "CASE cannot be printed", "detail", "this CASE")
			}
			add(br, "("+v+") IS NOT NULL")
		}
		if !isNullConst(ce.Defresult) {
			br := base
			br.atoms = append(append([]string(nil), base.atoms...), earlier...)
			br.checked = append(append([]bool(nil), base.checked...), trues(len(earlier))...)
			v, err := deparseExpr(b.version, ce.Defresult)
			if err != nil {
				return "", refuse(CodeUnsupported, ce.Location, "CASE cannot be printed", "detail", "this CASE")
			}
			add(br, "("+v+") IS NOT NULL")
		}
	default:
		var notNull []string
		for _, a := range fc.Args {
			if a.GetAConst() != nil || b.knownNotNull(a) {
				continue
			}
			v, err := deparseExpr(b.version, a)
			if err != nil {
				return "", refuse(CodeUnsupported, fc.Location, "argument cannot be printed", "detail", "this aggregate")
			}
			notNull = append(notNull, "("+v+") IS NOT NULL")
		}
		add(base, notNull...)
	}
	var checks []string
	for _, c := range cells {
		checks = append(checks, b.atLeastK(c.pred())...)
		for i, ok := range c.checked {
			if ok && i >= len(group.atoms) {
				checks = append(checks, b.noneOrK(c.without(i))...)
			}
		}
	}
	if len(cells) == 0 {
		// Every value is NULL: nothing to release but NULL.
		return "CAST(NULL AS INTEGER)", nil
	}
	return "CASE WHEN " + andSQL(checks) + " THEN " + text + filter(andSQL(base.atoms)) + " END", nil
}

// knownNotNull: the argument is a column, passed through unchanged, that
// the data version measured free of NULL; its contributors are then the
// rows the number is computed over, already counted for the group or the
// FILTER.
func (b *releaseBuilder) knownNotNull(n *pg.Node) bool {
	if tc := n.GetTypeCast(); tc != nil && numericCastTypes[typeName(tc.TypeName)] {
		n = tc.Arg
	}
	cr := n.GetColumnRef()
	if cr == nil {
		return false
	}
	c, r := b.an.a.resolve(cr, b.an.a.top.scope)
	return r == nil && c.notNull && !c.derived
}

func trues(n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = true
	}
	return out
}

func isNullConst(n *pg.Node) bool {
	if n == nil {
		return true
	}
	ac := n.GetAConst()
	return ac != nil && ac.Isnull
}

// releaseParts applies the exports, lifts the condition terms out of
// WHERE and ON, and prints the pieces of the release point.
func (an *analysis) releaseParts() (releaseParts, *refusal) {
	var parts releaseParts
	stmt := an.stmt
	top := an.a.top
	v := an.tree.Version
	an.applyExports()
	for _, s := range an.a.sels {
		s.stmt.WhereClause = nil
		stripOnTerms(s.onTerms)
	}
	stripOnTerms(top.sel.onTerms)
	stmt.WhereClause = nil
	fail := func(what string) *refusal {
		return refuse(CodeUnsupported, -1, what+" cannot be printed", "detail", "this query cannot be rewritten")
	}
	for _, t := range top.sel.terms {
		s, err := deparseExpr(v, t)
		if err != nil {
			return parts, fail("a condition")
		}
		parts.terms = append(parts.terms, isTrue(s))
	}
	for _, it := range top.scope.items {
		for _, c := range it.rel.conds {
			parts.terms = append(parts.terms, isTrue(quoteIdent(it.alias)+"."+quoteIdent(c)))
		}
	}
	with, from, err := withFromWhere(v, stmt, true)
	if err != nil {
		return parts, fail("the FROM clause")
	}
	parts.with, parts.from = with, from
	q := func(n *pg.Node) *pg.Node { return qualify(n, top.scope) }
	// Group keys, as expressions over the FROM items.
	for _, g := range stmt.GroupClause {
		n := g
		if isOrdinal(g) {
			n = stmt.TargetList[int(g.GetAConst().GetIval().GetIval())-1].GetResTarget().Val
		} else if rt := aliasTarget(g, stmt, top.scope); rt != nil {
			n = rt.Val
		}
		n = q(cloneNode(n))
		s, err := deparseExpr(v, n)
		if err != nil {
			return parts, fail("a GROUP BY key")
		}
		parts.keys = append(parts.keys, s)
		parts.keyNodes = append(parts.keyNodes, n)
	}
	// The projection over level 1: aggregates and keys become its columns.
	aggIndex := map[string]int{}
	var lift func(n *pg.Node) (*pg.Node, *refusal)
	lift = func(n *pg.Node) (*pg.Node, *refusal) {
		n = q(cloneNode(n))
		var bad *refusal
		root := &pg.ResTarget{Val: n}
		replaceNodes(root, func(x *pg.Node) *pg.Node {
			if bad != nil {
				return x
			}
			if fc := x.GetFuncCall(); fc != nil && fc.Over == nil {
				if _, ok := aggregateFunctions[funcName(fc)]; ok {
					bare := cloneNode(x)
					bare.GetFuncCall().AggFilter = nil
					text, err := deparseExpr(v, bare)
					if err != nil {
						bad = fail("an aggregate")
						return x
					}
					key, _ := deparseExpr(v, x)
					j, seen := aggIndex[key]
					if !seen {
						j = len(parts.aggs)
						aggIndex[key] = j
						parts.aggs = append(parts.aggs, x.GetFuncCall())
						parts.aggText = append(parts.aggText, text)
					}
					return colRef("__gs_rp", fmt.Sprintf("__gs_a%d", j))
				}
			}
			if s, err := deparseExpr(v, x); err == nil {
				for i, k := range parts.keys {
					if s == k {
						return colRef("__gs_rp", fmt.Sprintf("__gs_g%d", i))
					}
				}
			}
			return nil
		})
		if bad != nil {
			return nil, bad
		}
		// Anything left that reads the FROM items is neither a key nor
		// inside an aggregate: the query was not valid SQL to begin with.
		left := ""
		visitNodes(root, func(x *pg.Node) bool {
			if cr := x.GetColumnRef(); cr != nil && left == "" {
				if len(cr.Fields) != 2 || cr.Fields[0].GetString_().GetSval() != "__gs_rp" {
					left, _ = deparseExpr(v, x)
				}
			}
			return true
		})
		if left != "" {
			return nil, refuse(CodeNotAggregated, -1, left+" is neither grouped nor aggregated", "rule", "aggregation")
		}
		return root.Val, nil
	}
	for i, t := range stmt.TargetList {
		rt := t.GetResTarget()
		n, r := lift(rt.Val)
		if r != nil {
			return parts, r
		}
		s, err := deparseExpr(v, n)
		if err != nil {
			return parts, fail("an output column")
		}
		parts.targets = append(parts.targets, s+" AS "+quoteIdent(outputName(rt, i)))
	}
	if stmt.HavingClause != nil {
		n, r := lift(stmt.HavingClause)
		if r != nil {
			return parts, r
		}
		s, err := deparseExpr(v, n)
		if err != nil {
			return parts, fail("HAVING")
		}
		parts.having = s
	}
	for _, o := range stmt.SortClause {
		sb := o.GetSortBy()
		var key string
		switch {
		case isOrdinal(sb.Node):
			key = strconv.Itoa(int(sb.Node.GetAConst().GetIval().GetIval()))
		case aliasTarget(sb.Node, stmt, top.scope) != nil:
			key = quoteIdent(sb.Node.GetColumnRef().Fields[0].GetString_().GetSval())
		default:
			n, r := lift(sb.Node)
			if r != nil {
				return parts, r
			}
			s, err := deparseExpr(v, n)
			if err != nil {
				return parts, fail("ORDER BY")
			}
			key = s
		}
		switch sb.SortbyDir {
		case pg.SortByDir_SORTBY_DESC:
			key += " DESC"
		case pg.SortByDir_SORTBY_ASC:
			key += " ASC"
		}
		switch sb.SortbyNulls {
		case pg.SortByNulls_SORTBY_NULLS_FIRST:
			key += " NULLS FIRST"
		case pg.SortByNulls_SORTBY_NULLS_LAST:
			key += " NULLS LAST"
		}
		parts.order = append(parts.order, key)
	}
	if stmt.LimitCount != nil && !stmt.LimitCount.GetAConst().GetIsnull() {
		parts.limit += " LIMIT " + strconv.Itoa(int(stmt.LimitCount.GetAConst().GetIval().GetIval()))
	}
	if stmt.LimitOffset != nil && !stmt.LimitOffset.GetAConst().GetIsnull() {
		parts.limit += " OFFSET " + strconv.Itoa(int(stmt.LimitOffset.GetAConst().GetIval().GetIval()))
	}
	parts.distinct = len(stmt.DistinctClause) > 0
	return parts, nil
}

// outputName is the name an output column gets: the operator's alias,
// else the name PostgreSQL would give it, so that a rewritten query
// keeps the column names of the query as written.
func outputName(rt *pg.ResTarget, i int) string {
	if rt.Name != "" {
		return rt.Name
	}
	switch {
	case rt.Val.GetColumnRef() != nil:
		f := rt.Val.GetColumnRef().Fields
		return f[len(f)-1].GetString_().GetSval()
	case rt.Val.GetFuncCall() != nil:
		f := rt.Val.GetFuncCall().Funcname
		return f[len(f)-1].GetString_().GetSval()
	case rt.Val.GetTypeCast() != nil && rt.Val.GetTypeCast().Arg.GetColumnRef() != nil:
		f := rt.Val.GetTypeCast().Arg.GetColumnRef().Fields
		return f[len(f)-1].GetString_().GetSval()
	case rt.Val.GetCaseExpr() != nil:
		return "case"
	}
	return fmt.Sprintf("column%d", i+1)
}

// qualify names the FROM item of every unqualified column reference, so
// that expressions that mean the same print the same.
func qualify(n *pg.Node, sc *scope) *pg.Node {
	one := func(x *pg.Node) *pg.Node {
		cr := x.GetColumnRef()
		if cr == nil || len(cr.Fields) != 1 || cr.Fields[0].GetString_() == nil {
			return nil
		}
		name := cr.Fields[0].GetString_().GetSval()
		alias, col, found := "", "", 0
		for _, it := range sc.items {
			for _, c := range it.rel.cols {
				if strings.EqualFold(c.name, name) {
					alias, col = it.alias, c.name
					found++
				}
			}
		}
		if found != 1 {
			return nil
		}
		return colRef(alias, col)
	}
	if r := one(n); r != nil {
		return r
	}
	replaceNodes(n, one)
	return n
}

// stripOnTerms removes lifted terms from their joins' ON, leaving the keys.
func stripOnTerms(terms []onTerm) {
	for _, t := range terms {
		var keep []*pg.Node
		for _, c := range conjuncts(t.join.Quals) {
			if c != t.term {
				keep = append(keep, c)
			}
		}
		if len(keep) == 1 {
			t.join.Quals = keep[0]
		} else {
			t.join.Quals = pg.MakeBoolExprNode(pg.BoolExprType_AND_EXPR, keep, -1)
		}
	}
}
