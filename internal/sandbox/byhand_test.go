package sandbox_test

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gongshu/gongshu/internal/policy"
	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// byHand is the legitimate corpus's oracle: what the sandbox must release
// for q under the rules of issue 14, computed independently of
// internal/policy by plain SQL on the engine and counting in Go.
//
// Every release point of q (an aggregate SELECT over catalog tables, read
// directly or through row-level subqueries and CTEs) is evaluated as:
//
//   - a group (a GROUP BY key, or the whole input without GROUP BY) is
//     withheld when it has fewer than k distinct units (of every unit column
//     the query reads), or when a WHERE conjunct (of the query or of a
//     row-level subquery or CTE) removes 1..k-1 distinct units from it: the
//     rows that pass every other conjunct but not this one (Denning's
//     complement control, per condition);
//   - one value (one aggregate call) is released as NULL when one of its
//     cells has fewer than k contributing units (a cell: the rows passing the
//     aggregate's FILTER and, for a CASE argument, one THEN/ELSE branch whose
//     result is not NULL; the contributing units are those with a non-NULL
//     argument there; count(*) counts every row passing FILTER), or when a
//     FILTER conjunct or a conjunct of a CASE WHEN removes 1..k-1 units from
//     it;
//   - secondary suppression: in a GROUP BY result the withheld groups
//     together cover none or at least k units; otherwise the released group
//     with the fewest units is withheld too, until they do (smallest first;
//     tied reports that a tie decided, and the caller then compares only the
//     size of the result and that its rows are among those before);
//   - everything else of the query (expressions over aggregates, HAVING,
//     window functions, ORDER BY, LIMIT, UNION ALL, outer queries and joins
//     of aggregate subqueries) is post-processing, computed over the
//     released groups only, with the withheld values as NULL.
//
// The counting runs on the rows of each release point's FROM without its
// WHERE, each row carrying its key, its units, whether it passes each
// conjunct and each cell's conditions; the values themselves come from the
// engine (the release point's own aggregates, grouped as written), and the
// post-processing runs on the engine over them. Only aggregation-rule and
// list-rule tables are supported (DP results are checked statistically
// elsewhere); an unsupported shape is an error.
func (f *fixture) byHand(q string) (rows []string, tied *handTie, err error) {
	f.t.Helper()
	rows, tiedAny, err := f.byHandOnce(q, false)
	if err != nil || !tiedAny {
		return rows, nil, err
	}
	loose, _, err := f.byHandOnce(q, true)
	if err != nil {
		return nil, nil, err
	}
	return rows, &handTie{among: loose}, nil
}

// handTie says that a tie decided which group secondary suppression
// withheld: the released rows must be among those released when every
// tied group is kept (among), and as many as byHand's own choice.
type handTie struct{ among []string }

func (f *fixture) byHandOnce(q string, loose bool) ([]string, bool, error) {
	ws, err := f.svc.Workspace(f.ctx, f.op, f.ws.ID)
	if err != nil {
		return nil, false, err
	}
	h := &hand{f: f, tables: map[string]handTable{}, released: map[*pg.SelectStmt]bool{}, loose: loose}
	for _, r := range ws.Resources {
		h.tables[r.Table] = handTable{unit: r.Unit, rule: r.Rule, k: r.K}
	}
	tree, err := pg.Parse(q)
	if err != nil || len(tree.Stmts) != 1 || tree.Stmts[0].Stmt.GetSelectStmt() == nil {
		return nil, false, fmt.Errorf("by hand: %q is not one SELECT", q)
	}
	h.version = tree.Version
	top := tree.Stmts[0].Stmt.GetSelectStmt()
	if err := h.process(top, nil); err != nil {
		return nil, false, fmt.Errorf("by hand: %s: %w", q, err)
	}
	// LIMIT keeps some of the rows; the caller checks that the released
	// ones are among all of them.
	top.LimitCount, top.LimitOffset = nil, nil
	top.LimitOption = pg.LimitOption_LIMIT_OPTION_DEFAULT
	sql, err := pg.Deparse(tree)
	if err != nil {
		return nil, false, fmt.Errorf("by hand: deparse: %w", err)
	}
	res, err := f.runDirect(sql)
	if err != nil {
		return nil, false, fmt.Errorf("by hand: %s: %w", sql, err)
	}
	return canon(res.Rows), h.tied, nil
}

type handTable struct {
	unit string
	rule policy.RuleKind
	k    int
}

type hand struct {
	f        *fixture
	version  int32
	tables   map[string]handTable
	released map[*pg.SelectStmt]bool
	// tied: a tie decided a secondary suppression; loose: keep the tied
	// groups instead of choosing one.
	tied, loose bool
	names       int
}

// cteScope is the CTEs visible at one level of the query.
type cteScope struct {
	defs  map[string]*pg.CommonTableExpr
	order map[string]int
	outer *cteScope
}

func (s *cteScope) lookup(name string) (*pg.CommonTableExpr, int) {
	for sc := s; sc != nil; sc = sc.outer {
		if d, ok := sc.defs[name]; ok {
			return d, sc.order[name]
		}
	}
	return nil, 0
}

var handAggregates = map[string]bool{"count": true, "sum": true, "avg": true, "stddev": true, "stddev_samp": true,
	"stddev_pop": true, "variance": true, "var_samp": true, "var_pop": true, "min": true, "max": true}

func fname(fc *pg.FuncCall) string {
	s := fc.Funcname[len(fc.Funcname)-1].GetString_().GetSval()
	return strings.ToLower(s)
}

func isAggregate(n *pg.Node) bool {
	fc := n.GetFuncCall()
	return fc != nil && fc.Over == nil && handAggregates[fname(fc)]
}

// walk calls fn on every Node under m; fn returns a replacement (the walk
// does not descend into it) or nil to descend.
func walk(m protoreflect.Message, fn func(*pg.Node) *pg.Node) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind || fd.IsMap() {
			return true
		}
		isNode := fd.Message().FullName() == (&pg.Node{}).ProtoReflect().Descriptor().FullName()
		visit := func(child protoreflect.Message, set func(*pg.Node)) {
			if isNode {
				if r := fn(child.Interface().(*pg.Node)); r != nil {
					set(r)
					return
				}
			}
			walk(child, fn)
		}
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				visit(l.Get(i).Message(), func(r *pg.Node) { l.Set(i, protoreflect.ValueOfMessage(r.ProtoReflect())) })
			}
			return true
		}
		visit(v.Message(), func(r *pg.Node) { m.Set(fd, protoreflect.ValueOfMessage(r.ProtoReflect())) })
		return true
	})
}

func (h *hand) text(n *pg.Node) (string, error) {
	tree := &pg.ParseResult{Version: h.version, Stmts: []*pg.RawStmt{{Stmt: &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: &pg.SelectStmt{
		TargetList: []*pg.Node{pg.MakeResTargetNodeWithVal(proto.Clone(n).(*pg.Node), -1)}, Op: pg.SetOperation_SETOP_NONE,
		LimitOption: pg.LimitOption_LIMIT_OPTION_DEFAULT}}}}}}
	s, err := pg.Deparse(tree)
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(s, "SELECT "), nil
}

func mustExpr(s string) *pg.Node {
	tree, err := pg.Parse("SELECT " + s)
	if err != nil {
		panic(fmt.Sprintf("by hand: %q: %v", s, err))
	}
	return tree.Stmts[0].Stmt.GetSelectStmt().TargetList[0].GetResTarget().Val
}

func target(name, expr string) *pg.Node {
	return pg.MakeResTargetNodeWithNameAndVal(name, mustExpr(expr), -1)
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func lit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func conjunctsOf(n *pg.Node) []*pg.Node {
	if n == nil {
		return nil
	}
	if be := n.GetBoolExpr(); be != nil && be.Boolop == pg.BoolExprType_AND_EXPR {
		var out []*pg.Node
		for _, a := range be.Args {
			out = append(out, conjunctsOf(a)...)
		}
		return out
	}
	return []*pg.Node{n}
}

// process evaluates, bottom up, every release point under sel, replacing
// each by the post-processing of its released groups.
func (h *hand) process(sel *pg.SelectStmt, outer *cteScope) error {
	if sel.Op != pg.SetOperation_SETOP_NONE && sel.Op != pg.SetOperation_SET_OPERATION_UNDEFINED {
		if err := h.process(sel.Larg, outer); err != nil {
			return err
		}
		return h.process(sel.Rarg, outer)
	}
	sc := outer
	if sel.WithClause != nil {
		sc = &cteScope{defs: map[string]*pg.CommonTableExpr{}, order: map[string]int{}, outer: outer}
		for i, n := range sel.WithClause.Ctes {
			cte := n.GetCommonTableExpr()
			if err := h.process(cte.Ctequery.GetSelectStmt(), sc); err != nil {
				return err
			}
			sc.defs[cte.Ctename], sc.order[cte.Ctename] = cte, i
		}
	}
	for _, item := range sel.FromClause {
		if err := h.processFrom(item, sc); err != nil {
			return err
		}
	}
	aggregated := len(sel.GroupClause) > 0 || sel.HavingClause != nil
	for _, t := range sel.TargetList {
		walk(t.ProtoReflect(), func(n *pg.Node) *pg.Node {
			aggregated = aggregated || isAggregate(n)
			return nil
		})
	}
	if !aggregated || !h.readsCatalog(sel.FromClause, sc) {
		return nil
	}
	return h.release(sel, sc)
}

func (h *hand) processFrom(n *pg.Node, sc *cteScope) error {
	switch {
	case n.GetRangeSubselect() != nil:
		return h.process(n.GetRangeSubselect().Subquery.GetSelectStmt(), sc)
	case n.GetJoinExpr() != nil:
		if err := h.processFrom(n.GetJoinExpr().Larg, sc); err != nil {
			return err
		}
		return h.processFrom(n.GetJoinExpr().Rarg, sc)
	}
	return nil
}

func (h *hand) table(rv *pg.RangeVar) (handTable, bool) {
	if rv.Schemaname != "" && rv.Schemaname != "main" {
		return handTable{}, false
	}
	t, ok := h.tables[rv.Relname]
	return t, ok
}

// readsCatalog: the FROM reads an aggregation-rule table directly or
// through row-level subqueries and CTEs (not through released ones).
func (h *hand) readsCatalog(from []*pg.Node, sc *cteScope) bool {
	for _, n := range from {
		switch {
		case n.GetRangeVar() != nil:
			rv := n.GetRangeVar()
			if cte, _ := sc.lookup(rv.Relname); cte != nil && rv.Schemaname == "" {
				body := cte.Ctequery.GetSelectStmt()
				if !h.released[body] && h.readsCatalog(body.FromClause, sc) {
					return true
				}
				continue
			}
			if t, ok := h.table(rv); ok && t.rule == policy.RuleAggregation {
				return true
			}
		case n.GetRangeSubselect() != nil:
			sub := n.GetRangeSubselect().Subquery.GetSelectStmt()
			if !h.released[sub] && h.readsCatalog(sub.FromClause, sc) {
				return true
			}
		case n.GetJoinExpr() != nil:
			j := n.GetJoinExpr()
			if h.readsCatalog([]*pg.Node{j.Larg, j.Rarg}, sc) {
				return true
			}
		}
	}
	return false
}

func (h *hand) name(prefix string) string {
	h.names++
	return fmt.Sprintf("%s%d", prefix, h.names)
}

// exporter copies a release point's FROM for the counting query: every
// row-level subquery and CTE loses its WHERE and passes on, as columns,
// the units it reads and whether each conjunct holds.
type exporter struct {
	h     *hand
	sc    *cteScope
	ctes  map[string][2][]string // CTE name → exported unit and flag columns
	with  map[string]*pg.CommonTableExpr
	order map[string]int
	k     int
}

// from exports the FROM items (already copies) and returns the unit and
// flag expressions visible at their level.
func (x *exporter) from(items []*pg.Node) (units, flags []string, err error) {
	for _, n := range items {
		switch {
		case n.GetRangeVar() != nil:
			rv := n.GetRangeVar()
			alias := rv.Relname
			if rv.Alias != nil {
				alias = rv.Alias.Aliasname
			}
			if cte, i := x.sc.lookup(rv.Relname); cte != nil && rv.Schemaname == "" {
				done, ok := x.ctes[rv.Relname]
				if !ok {
					cp := proto.Clone(cte).(*pg.CommonTableExpr)
					u, f, err := x.sub(cp.Ctequery.GetSelectStmt())
					if err != nil {
						return nil, nil, err
					}
					done = [2][]string{u, f}
					x.ctes[rv.Relname], x.with[rv.Relname], x.order[rv.Relname] = done, cp, i
				}
				for _, u := range done[0] {
					units = append(units, quote(alias)+"."+quote(u))
				}
				for _, f := range done[1] {
					flags = append(flags, quote(alias)+"."+quote(f))
				}
				continue
			}
			t, ok := x.h.table(rv)
			if !ok {
				return nil, nil, fmt.Errorf("unknown relation %s", rv.Relname)
			}
			switch t.rule {
			case policy.RuleAggregation:
				units = append(units, quote(alias)+"."+quote(t.unit))
				x.k = max(x.k, t.k)
			case policy.RuleList:
			default:
				return nil, nil, fmt.Errorf("table %s: rule %s is not computed by hand", rv.Relname, t.rule)
			}
		case n.GetRangeSubselect() != nil:
			rs := n.GetRangeSubselect()
			if rs.Alias == nil {
				return nil, nil, fmt.Errorf("a subquery without an alias")
			}
			u, f, err := x.sub(rs.Subquery.GetSelectStmt())
			if err != nil {
				return nil, nil, err
			}
			for _, c := range u {
				units = append(units, quote(rs.Alias.Aliasname)+"."+quote(c))
			}
			for _, c := range f {
				flags = append(flags, quote(rs.Alias.Aliasname)+"."+quote(c))
			}
		case n.GetJoinExpr() != nil:
			j := n.GetJoinExpr()
			if j.Jointype != pg.JoinType_JOIN_INNER && j.Jointype != pg.JoinType_JOIN_LEFT {
				return nil, nil, fmt.Errorf("join type %s", j.Jointype)
			}
			u, f, err := x.from([]*pg.Node{j.Larg, j.Rarg})
			if err != nil {
				return nil, nil, err
			}
			units, flags = append(units, u...), append(flags, f...)
		default:
			return nil, nil, fmt.Errorf("FROM item %T", n.Node)
		}
	}
	return units, flags, nil
}

// sub exports a row-level subquery in place and returns the names of the
// columns it now adds.
func (x *exporter) sub(sel *pg.SelectStmt) (units, flags []string, err error) {
	if sel.WithClause != nil || len(sel.GroupClause) > 0 || x.h.released[sel] {
		return nil, nil, fmt.Errorf("a subquery that is not row-level")
	}
	u, f, err := x.from(sel.FromClause)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range conjunctsOf(sel.WhereClause) {
		s, err := x.h.text(c)
		if err != nil {
			return nil, nil, err
		}
		f = append(f, "CASE WHEN "+s+" THEN 1 ELSE 0 END")
	}
	sel.WhereClause = nil
	for _, e := range u {
		n := x.h.name("bh_u")
		sel.TargetList = append(sel.TargetList, target(n, e))
		units = append(units, n)
	}
	for _, e := range f {
		n := x.h.name("bh_w")
		sel.TargetList = append(sel.TargetList, target(n, e))
		flags = append(flags, n)
	}
	return units, flags, nil
}

// cell is one THEN/ELSE branch (or the whole argument) of an aggregate:
// the flag columns that must hold for a row to be in it (own: the branch's
// own WHEN conjuncts; other: earlier branches not taken) and the column
// saying its argument is not NULL.
type cell struct {
	own, other []int
	nonNull    int // -1: count(*)
}

type aggLayout struct {
	filter []int
	cells  []cell
}

// release evaluates the release point sel and replaces it, in place, by
// the post-processing of its released groups.
func (h *hand) release(sel *pg.SelectStmt, sc *cteScope) error {
	if len(sel.DistinctClause) > 0 || len(sel.WindowClause) > 0 {
		return fmt.Errorf("DISTINCT or WINDOW on a release point")
	}
	// Group keys, with ordinals and output aliases resolved.
	var keys []*pg.Node
	var keyText []string
	for _, g := range sel.GroupClause {
		n := g
		if ac := g.GetAConst(); ac != nil && ac.GetIval() != nil {
			n = sel.TargetList[ac.GetIval().Ival-1].GetResTarget().Val
		} else if cr := g.GetColumnRef(); cr != nil && len(cr.Fields) == 1 {
			for _, t := range sel.TargetList {
				if rt := t.GetResTarget(); rt.Name != "" && rt.Name == cr.Fields[0].GetString_().GetSval() {
					n = rt.Val
				}
			}
		}
		s, err := h.text(n)
		if err != nil {
			return err
		}
		keys, keyText = append(keys, n), append(keyText, s)
	}
	// Aggregate calls of the output, HAVING and ORDER BY.
	var aggs []*pg.FuncCall
	var aggText []string
	collect := func(m protoreflect.Message) error {
		var err error
		walk(m, func(n *pg.Node) *pg.Node {
			if isAggregate(n) {
				s, e := h.text(n)
				if e != nil {
					err = e
				} else if indexOf(aggText, s) < 0 {
					aggs, aggText = append(aggs, n.GetFuncCall()), append(aggText, s)
				}
				return n // do not descend
			}
			return nil
		})
		return err
	}
	for _, t := range sel.TargetList {
		if err := collect(t.ProtoReflect()); err != nil {
			return err
		}
	}
	if sel.HavingClause != nil {
		if err := collect(sel.HavingClause.ProtoReflect()); err != nil {
			return err
		}
	}
	for _, s := range sel.SortClause {
		if err := collect(s.ProtoReflect()); err != nil {
			return err
		}
	}
	kt := "''"
	if len(keys) > 0 {
		var parts []string
		for _, s := range keyText {
			parts = append(parts, "coalesce(CAST(("+s+") AS varchar), '<null>')")
		}
		kt = strings.Join(parts, " || '|' || ")
	}

	// The counting query D over the release point's FROM, without WHERE.
	x := &exporter{h: h, sc: sc, ctes: map[string][2][]string{}, with: map[string]*pg.CommonTableExpr{}, order: map[string]int{}}
	var from []*pg.Node
	for _, n := range sel.FromClause {
		from = append(from, proto.Clone(n).(*pg.Node))
	}
	units, flags, err := x.from(from)
	if err != nil {
		return err
	}
	if len(units) == 0 {
		return fmt.Errorf("no privacy unit")
	}
	for _, c := range conjunctsOf(sel.WhereClause) {
		s, err := h.text(c)
		if err != nil {
			return err
		}
		flags = append(flags, "CASE WHEN "+s+" THEN 1 ELSE 0 END")
	}
	cols := []string{kt}
	cols = append(cols, units...)
	cols = append(cols, flags...)
	col := func(expr string) int {
		cols = append(cols, expr)
		return len(cols) - 1
	}
	flag := func(n *pg.Node) (int, error) {
		s, err := h.text(n)
		if err != nil {
			return 0, err
		}
		return col("CASE WHEN " + s + " THEN 1 ELSE 0 END"), nil
	}
	var layouts []aggLayout
	for _, fc := range aggs {
		var l aggLayout
		for _, c := range conjunctsOf(fc.AggFilter) {
			i, err := flag(c)
			if err != nil {
				return err
			}
			l.filter = append(l.filter, i)
		}
		if fc.AggStar {
			l.cells = []cell{{nonNull: -1}}
			layouts = append(layouts, l)
			continue
		}
		if len(fc.Args) != 1 {
			return fmt.Errorf("aggregate %s with %d arguments", fname(fc), len(fc.Args))
		}
		arg := fc.Args[0]
		for arg.GetTypeCast() != nil {
			arg = arg.GetTypeCast().Arg
		}
		ce := arg.GetCaseExpr()
		if ce == nil {
			s, err := h.text(arg)
			if err != nil {
				return err
			}
			l.cells = []cell{{nonNull: col("CASE WHEN (" + s + ") IS NOT NULL THEN 1 ELSE 0 END")}}
			layouts = append(layouts, l)
			continue
		}
		if ce.Arg != nil {
			return fmt.Errorf("CASE x WHEN is not computed by hand")
		}
		var earlier []int
		branch := func(own []int, result *pg.Node) error {
			if result == nil || (result.GetAConst() != nil && result.GetAConst().Isnull) {
				return nil
			}
			s, err := h.text(result)
			if err != nil {
				return err
			}
			l.cells = append(l.cells, cell{own: own, other: append([]int(nil), earlier...),
				nonNull: col("CASE WHEN (" + s + ") IS NOT NULL THEN 1 ELSE 0 END")})
			return nil
		}
		for _, w := range ce.Args {
			cw := w.GetCaseWhen()
			var own []int
			for _, c := range conjunctsOf(cw.Expr) {
				i, err := flag(c)
				if err != nil {
					return err
				}
				own = append(own, i)
			}
			if err := branch(own, cw.Result); err != nil {
				return err
			}
			s, err := h.text(cw.Expr)
			if err != nil {
				return err
			}
			earlier = append(earlier, col("CASE WHEN "+s+" THEN 0 ELSE 1 END"))
		}
		if err := branch(nil, ce.Defresult); err != nil {
			return err
		}
		layouts = append(layouts, l)
	}
	d := &pg.SelectStmt{FromClause: from, Op: pg.SetOperation_SETOP_NONE, LimitOption: pg.LimitOption_LIMIT_OPTION_DEFAULT}
	for i, c := range cols {
		d.TargetList = append(d.TargetList, target(fmt.Sprintf("c%d", i), c))
	}
	if len(x.with) > 0 {
		names := make([]string, 0, len(x.with))
		for n := range x.with {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool { return x.order[names[i]] < x.order[names[j]] })
		d.WithClause = &pg.WithClause{}
		for _, n := range names {
			d.WithClause.Ctes = append(d.WithClause.Ctes, &pg.Node{Node: &pg.Node_CommonTableExpr{CommonTableExpr: x.with[n]}})
		}
	}
	dsql, err := pg.Deparse(&pg.ParseResult{Version: h.version, Stmts: []*pg.RawStmt{{Stmt: &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: d}}}}})
	if err != nil {
		return fmt.Errorf("deparse the counting query: %w", err)
	}
	res, err := h.f.runDirect(dsql)
	if err != nil {
		return fmt.Errorf("counting query %s: %w", dsql, err)
	}
	c := counts{rows: res.Rows, units: len(units), k: int64(x.k), where: seq(1+len(units), len(flags))}
	kept, values := c.decide(layouts, len(keys) > 0, &h.tied, h.loose)

	// E: the release point's own values per group, as written.
	e := proto.Clone(sel).(*pg.SelectStmt)
	e.WithClause, e.HavingClause, e.SortClause, e.LimitCount, e.LimitOffset = nil, nil, nil, nil, nil
	e.LimitOption = pg.LimitOption_LIMIT_OPTION_DEFAULT
	e.TargetList, e.GroupClause = nil, nil
	for i, k := range keys {
		e.TargetList = append(e.TargetList, pg.MakeResTargetNodeWithNameAndVal(fmt.Sprintf("bh_k%d", i), proto.Clone(k).(*pg.Node), -1))
		e.GroupClause = append(e.GroupClause, proto.Clone(k).(*pg.Node))
	}
	e.TargetList = append(e.TargetList, target("bh_t", kt))
	for i, fc := range aggs {
		n := &pg.Node{Node: &pg.Node_FuncCall{FuncCall: proto.Clone(fc).(*pg.FuncCall)}}
		e.TargetList = append(e.TargetList, pg.MakeResTargetNodeWithNameAndVal(fmt.Sprintf("bh_a%d", i), n, -1))
	}

	// The release point becomes its post-processing over E's released rows.
	in := func(set map[string]bool) string {
		if len(set) == 0 {
			return "1 = 0"
		}
		var ls []string
		for k := range set {
			ls = append(ls, lit(k))
		}
		sort.Strings(ls)
		return `"bh"."bh_t" IN (` + strings.Join(ls, ", ") + ")"
	}
	subst := func(m protoreflect.Message) {
		walk(m, func(n *pg.Node) *pg.Node {
			s, err := h.text(n)
			if err != nil {
				return nil // not an expression (a name, a type): descend
			}
			if i := indexOf(keyText, s); i >= 0 {
				return mustExpr(fmt.Sprintf(`"bh"."bh_k%d"`, i))
			}
			if isAggregate(n) {
				i := indexOf(aggText, s)
				return mustExpr(fmt.Sprintf(`CASE WHEN %s THEN "bh"."bh_a%d" END`, in(values[i]), i))
			}
			return nil
		})
	}
	for _, t := range sel.TargetList {
		// Keep the output's names, which an outer query may refer to.
		if rt := t.GetResTarget(); rt.Name == "" {
			if cr := rt.Val.GetColumnRef(); cr != nil {
				rt.Name = cr.Fields[len(cr.Fields)-1].GetString_().GetSval()
			} else if fc := rt.Val.GetFuncCall(); fc != nil {
				rt.Name = fname(fc)
			}
		}
		subst(t.ProtoReflect())
	}
	where := []*pg.Node{mustExpr(in(kept))}
	if sel.HavingClause != nil {
		hv := pg.MakeResTargetNodeWithVal(sel.HavingClause, -1)
		subst(hv.ProtoReflect())
		where = append(where, hv.GetResTarget().Val)
	}
	for _, s := range sel.SortClause {
		sb := s.GetSortBy()
		if ac := sb.Node.GetAConst(); ac != nil {
			continue
		}
		subst(s.ProtoReflect())
	}
	sel.FromClause = []*pg.Node{{Node: &pg.Node_RangeSubselect{RangeSubselect: &pg.RangeSubselect{
		Subquery: &pg.Node{Node: &pg.Node_SelectStmt{SelectStmt: e}}, Alias: &pg.Alias{Aliasname: "bh"}}}}}
	sel.WhereClause = pg.MakeBoolExprNode(pg.BoolExprType_AND_EXPR, where, -1)
	if len(where) == 1 {
		sel.WhereClause = where[0]
	}
	sel.GroupClause, sel.HavingClause = nil, nil
	h.released[sel] = true
	return nil
}

func indexOf(xs []string, s string) int {
	for i, x := range xs {
		if x == s {
			return i
		}
	}
	return -1
}

func seq(from, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = from + i
	}
	return out
}
