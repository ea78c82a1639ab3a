package policy

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// Post-processing. A query may read aggregate subqueries (or WITH queries)
// instead of tables: each aggregate is a release point, rewritten on its
// own with every check of the aggregation rule, and what the query above
// computes from their released rows (shares, ranks, growth rates, joins of
// two aggregates, UNION ALL, filters and re-aggregation) is
// post-processing: it can only combine numbers that were each allowed out,
// so it is free. A query that mixes released rows with a table's rows is
// refused: it would aggregate rows again outside the checks.

// selKind classifies a SELECT for the policy.
type selKind int

const (
	kindRows    selKind = iota // reads rows of tables, no aggregation
	kindRelease                // aggregates rows: a release point
	kindPost                   // reads released rows only
)

// release is one release point inside a post-processing query, analysed
// by its own analyzer and rewritten in place.
type release struct {
	an      *analyzer
	stmt    *pg.SelectStmt
	replace func(*pg.SelectStmt)
}

// classify decides a SELECT's kind from the kinds of what it reads,
// before the detailed analysis. ctes holds the kinds of the WITH queries
// in scope.
func (a *analyzer) classify(stmt *pg.SelectStmt, ctes map[string]selKind) (selKind, *refusal) {
	if stmt == nil || stmt.WithClause.GetRecursive() {
		return kindRows, nil // refused by the analysis, with its own reason
	}
	if stmt.Op != pg.SetOperation_SETOP_NONE && stmt.Op != pg.SetOperation_SET_OPERATION_UNDEFINED {
		for _, arm := range []*pg.SelectStmt{stmt.Larg, stmt.Rarg} {
			k, r := a.classify(arm, ctes)
			if r != nil {
				return k, r
			}
			if k == kindRows {
				return k, refuse(CodeSetOperation, -1, "set operation over rows")
			}
		}
		return kindPost, nil
	}
	local := map[string]selKind{}
	for n, k := range ctes {
		local[n] = k
	}
	for _, n := range stmt.WithClause.GetCtes() {
		cte := n.GetCommonTableExpr()
		if cte == nil || cte.Ctequery.GetSelectStmt() == nil {
			continue // refused by the analysis
		}
		k, r := a.classify(cte.Ctequery.GetSelectStmt(), local)
		if r != nil {
			return k, r
		}
		local[strings.ToLower(cte.Ctename)] = k
	}
	rows, released := 0, 0
	var from func(n *pg.Node) *refusal
	from = func(n *pg.Node) *refusal {
		switch {
		case n.GetRangeVar() != nil:
			rv := n.GetRangeVar()
			if k, ok := local[strings.ToLower(rv.Relname)]; ok && rv.Schemaname == "" && k != kindRows {
				released++
			} else {
				rows++
			}
		case n.GetRangeSubselect() != nil:
			k, r := a.classify(n.GetRangeSubselect().Subquery.GetSelectStmt(), local)
			if r != nil {
				return r
			}
			if k == kindRows {
				rows++
			} else {
				released++
			}
		case n.GetJoinExpr() != nil:
			if r := from(n.GetJoinExpr().Larg); r != nil {
				return r
			}
			return from(n.GetJoinExpr().Rarg)
		default:
			rows++
		}
		return nil
	}
	for _, n := range stmt.FromClause {
		if r := from(n); r != nil {
			return kindRows, r
		}
	}
	switch {
	case released > 0 && rows > 0:
		return kindRows, refuse(CodeMixedRelease, -1, "a query reads both released rows and table rows")
	case released > 0:
		return kindPost, nil
	case aggregated(stmt):
		return kindRelease, nil
	}
	return kindRows, nil
}

// aggregated: the SELECT groups or computes an aggregate (outside a window).
func aggregated(stmt *pg.SelectStmt) bool {
	if len(stmt.GroupClause) > 0 || stmt.HavingClause != nil {
		return true
	}
	found := false
	for _, t := range stmt.TargetList {
		visitNodes(t, func(n *pg.Node) bool {
			if fc := n.GetFuncCall(); fc != nil {
				if fc.Over != nil {
					return true
				}
				if _, ok := aggregateFunctions[funcName(fc)]; ok {
					found = true
				}
			}
			return n.GetSubLink() == nil
		})
	}
	return found
}

// postQuery analyses a top-level post-processing query.
func (a *analyzer) postQuery(stmt *pg.SelectStmt) *refusal {
	rel, r := a.postSelect(stmt, nil, 1)
	if r != nil {
		return r
	}
	k := 0
	for _, rl := range a.releases {
		k = max(k, rl.an.top.k)
	}
	a.top = &topInfo{stmt: stmt, rule: RuleAggregation, k: k, post: true, scope: &scope{}, sel: &selInfo{stmt: stmt}}
	for _, c := range rel.cols {
		a.top.targets = append(a.top.targets, c.cap)
	}
	return nil
}

func releasedCap() capab {
	return capab{perm: pAll, aggs: aggAll, released: true, agg: true}
}

// postSelect analyses a SELECT over released rows and returns the
// relation it makes.
func (a *analyzer) postSelect(stmt *pg.SelectStmt, outer *scope, depth int) (*relation, *refusal) {
	if r := a.tooDeep(depth, -1); r != nil {
		return nil, r
	}
	if stmt.Op != pg.SetOperation_SETOP_NONE && stmt.Op != pg.SetOperation_SET_OPERATION_UNDEFINED {
		var left *relation
		for i, arm := range []*pg.SelectStmt{stmt.Larg, stmt.Rarg} {
			rel, r := a.postOrRelease(arm, outer, depth+1, func(n *pg.SelectStmt) {
				if i == 0 {
					stmt.Larg = n
				} else {
					stmt.Rarg = n
				}
			})
			if r != nil {
				return nil, r
			}
			if left == nil {
				left = rel
			}
		}
		if r := a.postTail(stmt, &scope{outer: outer}, depth); r != nil {
			return nil, r
		}
		return left, nil
	}
	sc := &scope{outer: outer, ctes: map[string]*cteDef{}}
	for _, n := range stmt.WithClause.GetCtes() {
		cte := n.GetCommonTableExpr()
		if cte == nil || cte.Ctequery.GetSelectStmt() == nil {
			return nil, refuse(CodeNotSelect, -1, "WITH item is not a SELECT", "detail", "a data-modifying WITH item")
		}
		if stmt.WithClause.Recursive {
			return nil, refuse(CodeRecursiveCTE, stmt.WithClause.Location, "WITH RECURSIVE")
		}
		if a.cat.shadows(cte.Ctename) {
			return nil, refuse(CodeShadowedName, cte.Location, "WITH query named like a table: "+cte.Ctename, "name", cte.Ctename)
		}
		sel := cte.Ctequery.GetSelectStmt()
		kind, r := a.classify(sel, ctesKinds(sc))
		if r != nil {
			return nil, r
		}
		var rel *relation
		if kind == kindRows {
			rel, r = a.subselect(sel, sc, depth+1)
		} else {
			holder := cte
			rel, r = a.postOrRelease(sel, sc, depth+1, func(n *pg.SelectStmt) {
				holder.Ctequery = &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: n}}
			})
		}
		if r != nil {
			return nil, r
		}
		if r := renameCols(rel, cte.Aliascolnames, cte.Location); r != nil {
			return nil, r
		}
		sc.ctes[cte.Ctename] = &cteDef{rel: rel, stmt: sel, kind: kind}
	}
	for _, f := range stmt.FromClause {
		if r := a.postFrom(f, sc, depth); r != nil {
			return nil, r
		}
	}
	if r := starCheck(stmt); r != nil {
		return nil, r
	}
	ctx := exprCtx{post: true, clause: inTarget, allowAgg: true}
	if stmt.WhereClause != nil {
		if _, r := a.expr(stmt.WhereClause, sc, exprCtx{post: true, clause: inWhere, noAggErr: CodeUnsupported}, depth); r != nil {
			return nil, r
		}
	}
	rel := &relation{}
	for i, t := range stmt.TargetList {
		rt := t.GetResTarget()
		if rt == nil {
			return nil, refuse(CodeUnsupported, locOf(t), "target", "detail", "this output item")
		}
		if _, r := a.expr(rt.Val, sc, ctx, depth); r != nil {
			return nil, r
		}
		rel.cols = append(rel.cols, relCol{name: outputName(rt, i), cap: releasedCap()})
	}
	for _, g := range stmt.GroupClause {
		if g.GetGroupingSet() != nil {
			continue // subtotals of released rows are post-processing too
		}
		if isOrdinal(g) || aliasTarget(g, stmt, sc) != nil {
			continue
		}
		if _, r := a.expr(g, sc, exprCtx{post: true, clause: inGroup, noAggErr: CodeUnsupported}, depth); r != nil {
			return nil, r
		}
	}
	if stmt.HavingClause != nil {
		if _, r := a.expr(stmt.HavingClause, sc, ctx, depth); r != nil {
			return nil, r
		}
	}
	if r := a.postTail(stmt, sc, depth); r != nil {
		return nil, r
	}
	return rel, nil
}

// postTail checks ORDER BY and LIMIT of a post-processing SELECT.
func (a *analyzer) postTail(stmt *pg.SelectStmt, sc *scope, depth int) *refusal {
	if len(stmt.WindowClause) > 0 {
		return refuse(CodeUnsupported, -1, "WINDOW clause", "detail", "a named WINDOW clause")
	}
	if stmt.IntoClause != nil || len(stmt.LockingClause) > 0 {
		return refuse(CodeNotSelect, -1, "SELECT INTO or locking", "detail", "SELECT INTO / FOR UPDATE")
	}
	if len(stmt.ValuesLists) > 0 {
		return refuse(CodeUnsupported, -1, "VALUES list", "detail", "VALUES")
	}
	for _, s := range stmt.SortClause {
		sb := s.GetSortBy()
		if sb == nil || len(sb.UseOp) > 0 {
			return refuse(CodeUnsupported, locOf(s), "ORDER BY USING", "detail", "ORDER BY ... USING")
		}
		if isOrdinal(sb.Node) || aliasTarget(sb.Node, stmt, sc) != nil {
			continue
		}
		if _, r := a.expr(sb.Node, sc, exprCtx{post: true, clause: inOrder, allowAgg: true}, depth); r != nil {
			return r
		}
	}
	return a.limitClause(stmt)
}

// postOrRelease analyses a SELECT that reads released rows or is itself a
// release point; replace puts its rewrite in place.
func (a *analyzer) postOrRelease(stmt *pg.SelectStmt, outer *scope, depth int, replace func(*pg.SelectStmt)) (*relation, *refusal) {
	kind, r := a.classify(stmt, ctesKinds(outer))
	if r != nil {
		return nil, r
	}
	switch kind {
	case kindPost:
		return a.postSelect(stmt, outer, depth)
	case kindRelease:
		return a.releasePoint(stmt, outer, replace)
	}
	return nil, refuse(CodeMixedRelease, -1, "rows where released values are expected")
}

// releasePoint analyses an aggregate SELECT inside a post-processing query.
func (a *analyzer) releasePoint(stmt *pg.SelectStmt, outer *scope, replace func(*pg.SelectStmt)) (*relation, *refusal) {
	sub := &analyzer{cat: a.cat, limits: a.limits, n: a.n}
	if r := sub.query(stmt, outer); r != nil {
		a.uses = append(a.uses, sub.uses...)
		return nil, r
	}
	a.uses = append(a.uses, sub.uses...)
	switch sub.top.rule {
	case RuleAggregation:
	case RuleDP:
		return nil, refuse(CodeDPUnsupported, -1, "post-processing of a DP release", "detail", "a query over a differentially private aggregate; query the aggregate on its own")
	default:
		return nil, refuse(CodeMixedRelease, -1, "list rows inside a post-processing query")
	}
	a.releases = append(a.releases, release{an: sub, stmt: stmt, replace: replace})
	rel := &relation{}
	for i, t := range stmt.TargetList {
		rel.cols = append(rel.cols, relCol{name: outputName(t.GetResTarget(), i), cap: releasedCap()})
	}
	return rel, nil
}

// postFrom adds one FROM item of a post-processing SELECT.
func (a *analyzer) postFrom(n *pg.Node, sc *scope, depth int) *refusal {
	switch {
	case n.GetRangeVar() != nil:
		rv := n.GetRangeVar()
		d := sc.cte(rv.Relname)
		if d == nil || rv.Schemaname != "" || d.kind == kindRows {
			return refuse(CodeMixedRelease, rv.Location, "table rows in a post-processing query")
		}
		alias := rv.Relname
		if rv.Alias != nil {
			alias = rv.Alias.Aliasname
		}
		rel := &relation{cols: append([]relCol(nil), d.rel.cols...)}
		if rv.Alias != nil {
			if r := renameCols(rel, rv.Alias.Colnames, rv.Location); r != nil {
				return r
			}
		}
		return addItem(sc, alias, rel, rv.Location)
	case n.GetRangeSubselect() != nil:
		rs := n.GetRangeSubselect()
		if rs.Lateral {
			return refuse(CodeSubqueryExpression, -1, "LATERAL subquery")
		}
		rel, r := a.postOrRelease(rs.Subquery.GetSelectStmt(), sc, depth+1, func(s *pg.SelectStmt) {
			rs.Subquery = &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: s}}
		})
		if r != nil {
			return r
		}
		if rs.Alias == nil {
			a.n.alias++
			rs.Alias = &pg.Alias{Aliasname: "__gs_s" + itoa(a.n.alias)}
		}
		if r := renameCols(rel, rs.Alias.Colnames, -1); r != nil {
			return r
		}
		return addItem(sc, rs.Alias.Aliasname, rel, -1)
	case n.GetJoinExpr() != nil:
		j := n.GetJoinExpr()
		if j.IsNatural {
			return refuse(CodeJoinUsing, -1, "NATURAL join")
		}
		if r := a.postFrom(j.Larg, sc, depth+1); r != nil {
			return r
		}
		if r := a.postFrom(j.Rarg, sc, depth+1); r != nil {
			return r
		}
		if j.Quals != nil {
			if _, r := a.expr(j.Quals, sc, exprCtx{post: true, clause: inWhere, noAggErr: CodeUnsupported}, depth); r != nil {
				return r
			}
		}
		for _, u := range j.UsingClause {
			if sc.merged == nil {
				sc.merged = map[string]bool{}
			}
			sc.merged[strings.ToLower(u.GetString_().GetSval())] = true
		}
		return nil
	}
	return refuse(CodeMixedRelease, locOf(n), "a FROM item that is not released rows")
}

func ctesKinds(sc *scope) map[string]selKind {
	out := map[string]selKind{}
	var chain []*scope
	for s := sc; s != nil; s = s.outer {
		chain = append(chain, s)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		for n, d := range chain[i].ctes {
			out[strings.ToLower(n)] = d.kind
		}
	}
	return out
}

// rewritePost rewrites every release point of a post-processing query in
// place and prints the whole statement.
func (an *analysis) rewritePost() (Plan, *refusal) {
	for _, rl := range an.a.releases {
		sub := &analysis{sql: an.sql, tree: an.tree, stmt: rl.stmt, a: rl.an}
		sub.bindRelations()
		p, r := sub.rewriteRelease(true)
		if r != nil {
			return Plan{}, r
		}
		tree, err := pg.Parse(p.SQL)
		if err != nil || len(tree.Stmts) != 1 || tree.Stmts[0].Stmt.GetSelectStmt() == nil {
			return Plan{}, refuse(CodeUnsupported, -1, "rewritten release point does not parse", "detail", "this query cannot be rewritten")
		}
		rl.replace(tree.Stmts[0].Stmt.GetSelectStmt())
	}
	sql, err := pg.Deparse(an.tree)
	if err != nil {
		return Plan{}, refuse(CodeUnsupported, -1, "deparse: "+err.Error(), "detail", "this query cannot be rewritten")
	}
	p := Plan{SQL: sql, Columns: len(an.a.top.targets)}
	for range an.a.top.targets {
		p.Aggregated = append(p.Aggregated, true)
	}
	for _, rl := range an.a.releases {
		p.Releases = append(p.Releases, releaseOf(rl.an))
	}
	return p, nil
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
