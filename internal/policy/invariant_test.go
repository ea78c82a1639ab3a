package policy

import (
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// verifyPlan checks the rewritten SQL structurally, without trusting the
// rewrite: it must parse as one SELECT, pass the same policy again (so no
// protected value reaches the output, whatever the lineage), and carry
// the protection of its rule: under aggregation a HAVING conjunct
// count(DISTINCT unit) >= K for each unit column reported, under the list
// rule a LIMIT within the cap, under DP the per-unit bound.
func verifyPlan(p Plan, cat Catalog) error {
	tree, err := pg.Parse(p.SQL)
	if err != nil {
		return fmt.Errorf("rewritten SQL does not parse: %w", err)
	}
	if len(tree.Stmts) != 1 || tree.Stmts[0].Stmt.GetSelectStmt() == nil {
		return fmt.Errorf("rewritten SQL is not one SELECT")
	}
	stmt := tree.Stmts[0].Stmt.GetSelectStmt()
	switch p.Analysis {
	case RuleAggregation:
		if p.K >= 2 && len(p.UnitCounts) == 0 {
			return verifyPost(tree, p, cat)
		}
		if p.K < 2 || len(p.UnitCounts) == 0 {
			return fmt.Errorf("aggregation plan without k or unit counts: %+v", p)
		}
		if err := verifyRelease(stmt, p, p.K, "DISTINCT", cat); err != nil {
			return err
		}
		if p.Fast != nil {
			if err := verifyFast(p, cat); err != nil {
				return fmt.Errorf("fast plan: %w", err)
			}
		}
	case RuleList:
		lim := stmt.LimitCount.GetAConst().GetIval()
		if lim == nil || int(lim.Ival) > p.RowCap || p.RowCap <= 0 {
			return fmt.Errorf("list plan without a LIMIT within the cap %d", p.RowCap)
		}
		// The cap is the rewrite's own LIMIT, not the operator's choice of
		// rows: check the rest again without it.
		stmt.LimitCount = nil
		again, err := pg.Deparse(tree)
		if err != nil {
			return err
		}
		if d := Validate(again, cat); !d.Allowed {
			return fmt.Errorf("rewritten SQL no longer passes the policy: %s (%s)", d.Code, d.Rule)
		}
	case RuleDP:
		bounded := false
		for _, t := range cat.Tables {
			if t.Rule.Kind == RuleDP && t.UnitRows != nil && t.UnitRows.Max > 0 && t.UnitRows.Max <= int64(max(t.Rule.MaxGroupsPerUnit, 1)) {
				bounded = true
			}
		}
		if p.Noise == nil || (!bounded && p.Noise.PartitionRows == 0 && (!strings.Contains(p.SQL, `"__gs_rn" <=`) || !strings.Contains(p.SQL, "PARTITION BY \"__gs_unit\""))) {
			return fmt.Errorf("DP plan without contribution bounds")
		}
		if rows := p.Noise.PartitionRows; rows > 0 {
			// The row form: every unit has at most rows rows, each count's
			// sensitivity is rows, each sum clamps every row.
			var table *Table
			for i, t := range cat.Tables {
				if t.Rule.Kind == RuleDP {
					table = &cat.Tables[i]
				}
			}
			if table == nil || table.UnitRows == nil || table.UnitRows.Max != rows || (table.UnitRows.Null > 0 && !strings.Contains(p.SQL, "IS NOT NULL")) {
				return fmt.Errorf("DP row plan without the statistics that bound it")
			}
			for _, c := range p.Noise.Columns {
				if (c.Kind == "count" && c.Sensitivity < rows) || (c.Kind != "count" && c.Sensitivity < rows*max(absInt(c.Lower), absInt(c.Upper))) {
					return fmt.Errorf("DP row plan column %d with sensitivity %d below its bound", c.Output, c.Sensitivity)
				}
				within := true
				for _, col := range table.Columns {
					if (col.Lower != 0 || col.Upper != 0) && !col.WithinBounds {
						within = false
					}
				}
				if c.Kind != "count" && !within && !strings.Contains(p.SQL, "LEAST(GREATEST(") {
					return fmt.Errorf("DP row plan sum without a clamp")
				}
			}
		} else if !strings.Contains(p.SQL, `AS "__gs_per_unit"`) {
			return fmt.Errorf("DP plan without a per-unit aggregate")
		}
	default:
		return fmt.Errorf("plan without a rule")
	}
	return nil
}

// verifyRelease checks the shape the aggregation rewrite promises,
// without trusting it: the operator's columns read only the released
// level (__gs_rp), which keeps only groups that pass; the inner level
// counts units (count(DISTINCT unit), or count(*) rows in a fast plan) in
// every check against the bound, wraps every aggregate in such a check,
// and uses protected columns only inside aggregates.
func verifyRelease(stmt *pg.SelectStmt, p Plan, bound int, mode string, cat Catalog) error {
	if len(stmt.FromClause) != 1 || stmt.FromClause[0].GetRangeSubselect() == nil ||
		stmt.FromClause[0].GetRangeSubselect().Alias.GetAliasname() != "__gs_rp" {
		return fmt.Errorf("operator projection does not read the released level")
	}
	if w := conjuncts(stmt.WhereClause); len(w) == 0 || w[0].GetColumnRef() == nil ||
		w[0].GetColumnRef().Fields[0].GetString_().GetSval() != "__gs_pass" {
		return fmt.Errorf("released level not filtered by __gs_pass")
	}
	for i := 0; i < p.Columns; i++ {
		var bad string
		visitNodes(stmt.TargetList[i], func(n *pg.Node) bool {
			if cr := n.GetColumnRef(); cr != nil && bad == "" {
				f := cr.Fields
				if !(len(f) == 2 && f[0].GetString_().GetSval() == "__gs_rp") && !strings.HasPrefix(f[len(f)-1].GetString_().GetSval(), "__gs_") {
					bad, _ = deparseExpr(0, n)
				}
			}
			return true
		})
		if bad != "" {
			return fmt.Errorf("output column %d reads %s, not a released value", i, bad)
		}
	}
	level1 := stmt.FromClause[0].GetRangeSubselect().Subquery.GetSelectStmt()
	if level1 == nil || len(level1.FromClause) != 1 || level1.FromClause[0].GetRangeSubselect() == nil {
		return fmt.Errorf("no inner level")
	}
	inner := level1.FromClause[0].GetRangeSubselect().Subquery.GetSelectStmt()
	if inner == nil {
		return fmt.Errorf("no inner level")
	}
	protected := map[string]bool{}
	for _, t := range cat.Tables {
		for _, c := range t.Columns {
			if c.Role != Group && c.Role != Visible {
				protected[c.Name] = true
			}
		}
	}
	countsBound := func(n *pg.Node) int {
		found := 0
		visitNodes(&pg.ResTarget{Val: n}, func(x *pg.Node) bool {
			ae := x.GetAExpr()
			if ae == nil || opName(ae) != ">=" || ae.Rexpr.GetAConst() == nil {
				return true
			}
			fc := ae.Lexpr.GetFuncCall()
			if fc == nil || funcName(fc) != "count" || int(ae.Rexpr.GetAConst().GetIval().GetIval()) != bound {
				return true
			}
			if (mode == "DISTINCT" && fc.AggDistinct) || (mode == "rows" && fc.AggStar) {
				found++
			}
			return true
		})
		return found
	}
	pass := false
	for _, t := range inner.TargetList {
		rt := t.GetResTarget()
		switch {
		case strings.HasPrefix(rt.Name, "__gs_a"):
			ce := rt.Val.GetCaseExpr()
			if ce == nil || len(ce.Args) != 1 || countsBound(ce.Args[0].GetCaseWhen().Expr) == 0 {
				if ac := rt.Val.GetTypeCast(); ac == nil {
					return fmt.Errorf("aggregate %s released without a per-number threshold", rt.Name)
				}
			}
		case rt.Name == "__gs_pass":
			if countsBound(rt.Val) < len(p.UnitCounts) {
				return fmt.Errorf("group check has fewer than %d thresholds at %d", len(p.UnitCounts), bound)
			}
			pass = true
		case strings.HasPrefix(rt.Name, "__gs_g"):
			if name := rawRef(rt.Val, protected); name != "" {
				// A group key may be a filter column only through the
				// policy's own checks; protected values never.
				for _, tb := range cat.Tables {
					for _, c := range tb.Columns {
						if c.Name == name && c.Role == Aggregate {
							return fmt.Errorf("group key uses protected column %s", name)
						}
					}
				}
			}
		}
		if name := rawRef(rt.Val, protected); name != "" && !strings.HasPrefix(rt.Name, "__gs_g") {
			return fmt.Errorf("inner column %s uses protected column %s outside an aggregate", rt.Name, name)
		}
	}
	if !pass {
		return fmt.Errorf("no group check")
	}
	return nil
}

// verifyPost checks a post-processing plan: every read of a catalog
// table sits inside a release point of the promised shape, and nothing
// outside release points reads anything but released columns.
func verifyPost(tree *pg.ParseResult, p Plan, cat Catalog) error {
	minK := 0
	for _, t := range cat.Tables {
		if t.Rule.Kind == RuleAggregation && (minK == 0 || t.Rule.K < minK) {
			minK = t.Rule.K
		}
	}
	releases := 0
	var err error
	var walk func(m proto.Message)
	walk = func(m proto.Message) {
		eachSelect(m, func(sel *pg.SelectStmt) bool {
			if err != nil {
				return false
			}
			if len(sel.FromClause) == 1 && sel.FromClause[0].GetRangeSubselect().GetAlias().GetAliasname() == "__gs_rp" {
				releases++
				cols, bound := 0, 0
				for _, t := range sel.TargetList {
					if !strings.HasPrefix(t.GetResTarget().GetName(), "__gs_") {
						cols++
					}
				}
				visitNodes(sel, func(x *pg.Node) bool {
					if rt := x.GetResTarget(); rt != nil && rt.Name == "__gs_pass" {
						if ae := conjuncts(rt.Val)[0].GetAExpr(); ae != nil && ae.Rexpr.GetAConst() != nil {
							bound = int(ae.Rexpr.GetAConst().GetIval().GetIval())
						}
					}
					return true
				})
				if bound < minK {
					err = fmt.Errorf("release point with threshold %d below the smallest k %d", bound, minK)
					return false
				}
				if e := verifyRelease(sel, Plan{Columns: cols, UnitCounts: []int{0}}, bound, "DISTINCT", cat); e != nil {
					err = e
				}
				return false // its inside is the release point's own
			}
			for _, f := range sel.FromClause {
				visitNodes(f, func(x *pg.Node) bool {
					if x.GetRangeSubselect() != nil {
						return false
					}
					if rv := x.GetRangeVar(); rv != nil {
						for _, t := range cat.Tables {
							if rv.Relname == t.Name || rv.Relname == t.Relation {
								err = fmt.Errorf("table %s read outside a release point", rv.Relname)
							}
						}
					}
					return true
				})
			}
			return true
		})
	}
	walk(tree.Stmts[0].Stmt)
	if err != nil {
		return err
	}
	if releases == 0 {
		return fmt.Errorf("post-processing plan without a release point")
	}
	return nil
}

// eachSelect calls f on every SELECT statement in m, outermost first,
// set-operation arms included; f returns false to skip one's inside.
func eachSelect(m proto.Message, f func(*pg.SelectStmt) bool) {
	msg := m.ProtoReflect()
	if sel, ok := m.(*pg.SelectStmt); ok {
		if !f(sel) {
			return
		}
	}
	msg.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Kind() != protoreflect.MessageKind || fd.IsMap() {
			return true
		}
		if fd.IsList() {
			for i := 0; i < v.List().Len(); i++ {
				eachSelect(v.List().Get(i).Message().Interface(), f)
			}
			return true
		}
		eachSelect(v.Message().Interface(), f)
		return true
	})
}

// verifyFast checks a fast plan on its own terms: the same shape with rows
// counted against the pigeonhole bound, over one catalog table with unit
// statistics, read straight, reporting its unsettled groups.
func verifyFast(p Plan, cat Catalog) error {
	tree, err := pg.Parse(p.Fast.SQL)
	if err != nil {
		return fmt.Errorf("does not parse: %w", err)
	}
	if len(tree.Stmts) != 1 || tree.Stmts[0].Stmt.GetSelectStmt() == nil {
		return fmt.Errorf("not one SELECT")
	}
	stmt := tree.Stmts[0].Stmt.GetSelectStmt()
	if p.Fast.Unsettled < p.Columns || p.Fast.Unsettled >= len(stmt.TargetList) {
		return fmt.Errorf("unsettled column %d out of range", p.Fast.Unsettled)
	}
	var table *Table
	reads := 0
	visitNodes(stmt, func(n *pg.Node) bool {
		if rv := n.GetRangeVar(); rv != nil {
			reads++
			for i, t := range cat.Tables {
				if t.UnitRows != nil && (rv.Relname == t.Name || rv.Relname == t.Relation) {
					table = &cat.Tables[i]
				}
			}
		}
		return true
	})
	if table == nil || reads != 1 {
		return fmt.Errorf("not one read of a table with unit statistics")
	}
	if want := table.UnitRows.Null + int64(p.K-1)*table.UnitRows.Max + 1; p.Fast.Rows != want || p.Fast.Rows < int64(p.K) {
		return fmt.Errorf("settles groups of %d rows, the bound needs %d", p.Fast.Rows, want)
	}
	return verifyRelease(stmt, p, int(p.Fast.Rows), "rows", cat)
}

// rawRef returns a protected column referenced outside any aggregate call.
func rawRef(n *pg.Node, protected map[string]bool) string {
	var found string
	var walk func(n *pg.Node, inAgg bool)
	walk = func(n *pg.Node, inAgg bool) {
		if n == nil || found != "" {
			return
		}
		switch {
		case n.GetColumnRef() != nil:
			f := n.GetColumnRef().Fields
			name := f[len(f)-1].GetString_().GetSval()
			if !inAgg && protected[name] {
				found = name
			}
		case n.GetFuncCall() != nil:
			fc := n.GetFuncCall()
			_, agg := aggregateFunctions[funcName(fc)]
			for _, a := range fc.Args {
				walk(a, inAgg || agg)
			}
		case n.GetAExpr() != nil:
			walk(n.GetAExpr().Lexpr, inAgg)
			walk(n.GetAExpr().Rexpr, inAgg)
		case n.GetTypeCast() != nil:
			walk(n.GetTypeCast().Arg, inAgg)
		case n.GetCaseExpr() != nil:
			ce := n.GetCaseExpr()
			walk(ce.Arg, inAgg)
			walk(ce.Defresult, inAgg)
			for _, w := range ce.Args {
				walk(w.GetCaseWhen().GetExpr(), inAgg)
				walk(w.GetCaseWhen().GetResult(), inAgg)
			}
		case n.GetCoalesceExpr() != nil:
			for _, a := range n.GetCoalesceExpr().Args {
				walk(a, inAgg)
			}
		case n.GetBoolExpr() != nil:
			for _, a := range n.GetBoolExpr().Args {
				walk(a, inAgg)
			}
		case n.GetNullTest() != nil:
			walk(n.GetNullTest().Arg, inAgg)
		case n.GetMinMaxExpr() != nil:
			for _, a := range n.GetMinMaxExpr().Args {
				walk(a, inAgg)
			}
		}
	}
	walk(n, false)
	return found
}
