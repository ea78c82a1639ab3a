package policy

import (
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
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
		if p.K < 2 || len(p.UnitCounts) == 0 {
			return fmt.Errorf("aggregation plan without k or unit counts: %+v", p)
		}
		if d := Validate(p.SQL, cat); !d.Allowed {
			return fmt.Errorf("rewritten SQL no longer passes the policy: %s (%s)", d.Code, d.Rule)
		}
		thresholds := 0
		if stmt.HavingClause == nil {
			return fmt.Errorf("no HAVING threshold")
		}
		for _, c := range conjuncts(stmt.HavingClause) {
			ae := c.GetAExpr()
			if ae == nil || opName(ae) != ">=" {
				continue
			}
			fc := ae.Lexpr.GetFuncCall()
			k := ae.Rexpr.GetAConst().GetIval().GetIval()
			if fc != nil && funcName(fc) == "count" && fc.AggDistinct && int(k) == p.K {
				thresholds++
			}
		}
		if thresholds < len(p.UnitCounts) {
			return fmt.Errorf("HAVING has %d thresholds at k=%d, want %d", thresholds, p.K, len(p.UnitCounts))
		}
		for _, i := range p.UnitCounts {
			fc := stmt.TargetList[i].GetResTarget().Val.GetFuncCall()
			if fc == nil || funcName(fc) != "count" || !fc.AggDistinct {
				return fmt.Errorf("unit count column %d is not count(DISTINCT ...)", i)
			}
		}
		if p.Fast != nil {
			if err := verifyFast(p, cat); err != nil {
				return fmt.Errorf("fast plan: %w", err)
			}
		}
		// Belt and braces: no protected column name appears raw (outside an
		// aggregate) in the operator's output.
		protected := map[string]bool{}
		for _, t := range cat.Tables {
			for _, c := range t.Columns {
				if c.Role != Group && c.Role != Visible {
					protected[c.Name] = true
				}
			}
		}
		for i := 0; i < p.Columns; i++ {
			if name := rawRef(stmt.TargetList[i].GetResTarget().Val, protected); name != "" {
				return fmt.Errorf("output column %d uses protected column %s raw", i, name)
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
		if p.Noise == nil || !strings.Contains(p.SQL, `"__gs_rn" <=`) || !strings.Contains(p.SQL, "PARTITION BY \"__gs_unit\"") {
			return fmt.Errorf("DP plan without contribution bounds")
		}
	default:
		return fmt.Errorf("plan without a rule")
	}
	return nil
}

// verifyFast checks a fast plan on its own terms: one SELECT over one
// catalog table with unit statistics, without OFFSET or DISTINCT, that
// passes the policy, keeps at least K rows a group in HAVING, returns the
// group's rows in each unit-count column, and settles only groups whose
// rows prove K units by pigeonhole.
func verifyFast(p Plan, cat Catalog) error {
	tree, err := pg.Parse(p.Fast.SQL)
	if err != nil {
		return fmt.Errorf("does not parse: %w", err)
	}
	if len(tree.Stmts) != 1 || tree.Stmts[0].Stmt.GetSelectStmt() == nil {
		return fmt.Errorf("not one SELECT")
	}
	stmt := tree.Stmts[0].Stmt.GetSelectStmt()
	if len(stmt.FromClause) != 1 || stmt.FromClause[0].GetRangeVar() == nil || stmt.LimitOffset != nil || len(stmt.DistinctClause) > 0 {
		return fmt.Errorf("not a plain read of one table")
	}
	if len(stmt.WithClause.GetCtes()) > 0 {
		for _, c := range stmt.WithClause.GetCtes() {
			if c.GetCommonTableExpr().GetCtename() == stmt.FromClause[0].GetRangeVar().Relname {
				return fmt.Errorf("reads a CTE, not a table")
			}
		}
	}
	if d := Validate(p.Fast.SQL, cat); !d.Allowed {
		return fmt.Errorf("no longer passes the policy: %s (%s)", d.Code, d.Rule)
	}
	var table *Table
	rel := stmt.FromClause[0].GetRangeVar().Relname
	for i, t := range cat.Tables {
		if t.Relation == rel || (t.Relation == "" && t.Name == rel) {
			table = &cat.Tables[i]
		}
	}
	if table == nil || table.UnitRows == nil {
		return fmt.Errorf("table %q has no unit statistics", rel)
	}
	if want := table.UnitRows.Null + int64(p.K-1)*table.UnitRows.Max + 1; p.Fast.Rows != want || p.Fast.Rows < int64(p.K) {
		return fmt.Errorf("settles groups of %d rows, the bound needs %d", p.Fast.Rows, want)
	}
	rowThresholds := 0
	for _, c := range conjuncts(stmt.HavingClause) {
		ae := c.GetAExpr()
		if ae == nil || opName(ae) != ">=" {
			continue
		}
		fc := ae.Lexpr.GetFuncCall()
		if fc != nil && funcName(fc) == "count" && fc.AggStar && int(ae.Rexpr.GetAConst().GetIval().GetIval()) == p.K {
			rowThresholds++
		}
	}
	if rowThresholds < len(p.UnitCounts) {
		return fmt.Errorf("HAVING keeps no count(*) >= %d", p.K)
	}
	for _, i := range p.UnitCounts {
		fc := stmt.TargetList[i].GetResTarget().Val.GetFuncCall()
		if fc == nil || funcName(fc) != "count" || !fc.AggStar {
			return fmt.Errorf("unit count column %d is not count(*)", i)
		}
	}
	return nil
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
