package policy

import (
	"fmt"
	"strconv"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// expr derives the capability of an expression. Every node type not named
// here is refused: the checker allows what it understands, nothing else.
func (a *analyzer) expr(n *pg.Node, sc *scope, ctx exprCtx, depth int) (capab, *refusal) {
	if n == nil {
		return constCap(), nil
	}
	if r := a.tooDeep(depth, locOf(n)); r != nil {
		return capab{}, r
	}
	d := depth + 1
	switch {
	case n.GetAConst() != nil:
		c := constCap()
		c.text = n.GetAConst().GetSval() != nil
		return c, nil
	case n.GetColumnRef() != nil:
		return a.resolve(n.GetColumnRef(), sc)
	case n.GetFuncCall() != nil:
		return a.funcCall(n.GetFuncCall(), sc, ctx, d)
	case n.GetAExpr() != nil:
		return a.aExpr(n.GetAExpr(), sc, ctx, d)
	case n.GetBoolExpr() != nil:
		return a.list(n.GetBoolExpr().Args, sc, ctx, d)
	case n.GetNullTest() != nil:
		c, r := a.expr(n.GetNullTest().Arg, sc, ctx, d)
		c.derived = c.derived || !c.constant
		return c, r
	case n.GetBooleanTest() != nil:
		c, r := a.expr(n.GetBooleanTest().Arg, sc, ctx, d)
		c.derived = c.derived || !c.constant
		return c, r
	case n.GetCoalesceExpr() != nil:
		c, r := a.list(n.GetCoalesceExpr().Args, sc, ctx, d)
		c.cond = true
		return c, r
	case n.GetMinMaxExpr() != nil:
		c, r := a.list(n.GetMinMaxExpr().Args, sc, ctx, d)
		c.cond = true
		return c, r
	case n.GetCaseExpr() != nil:
		ce := n.GetCaseExpr()
		c, r := a.expr(ce.Arg, sc, ctx, d)
		if r != nil {
			return c, r
		}
		for _, w := range ce.Args {
			cw := w.GetCaseWhen()
			if cw == nil {
				return capab{}, refuse(CodeUnsupported, ce.Location, "CASE", "detail", "CASE")
			}
			cond, r := a.expr(cw.Expr, sc, ctx, d)
			if r != nil {
				return c, r
			}
			// CASE x WHEN 'literal': the comparison is implicit.
			if ce.Arg != nil && (c.ident && cond.constant) {
				return c, a.singlingOut(c, cw.Location)
			}
			res, r := a.expr(cw.Result, sc, ctx, d)
			if r != nil {
				return c, r
			}
			c = c.and(cond).and(res)
		}
		def, r := a.expr(ce.Defresult, sc, ctx, d)
		if r != nil {
			return c, r
		}
		c = c.and(def)
		c.cond = true
		// Bands written as a CASE with literal results coarsen.
		if constResults(ce) {
			c.identifying = false
		}
		return c, nil
	case n.GetTypeCast() != nil:
		tc := n.GetTypeCast()
		name := typeName(tc.TypeName)
		if !allowedCastTypes[name] || len(tc.TypeName.ArrayBounds) > 0 || tc.TypeName.Setof {
			return capab{}, refuse(CodeCastNotAllowed, tc.Location, "cast to "+name, "type", name)
		}
		c, r := a.expr(tc.Arg, sc, ctx, d)
		if r != nil {
			return c, r
		}
		// Text becomes a number or a date only if every value parses:
		// a failure would tell that some row does not.
		if c.text && !c.constant && !c.released && !textCastTypes[name] {
			return capab{}, refuse(CodeFailingExpr, tc.Location, "cast of text to "+name, "what", "CAST(text AS "+name+")")
		}
		// A number cast to a narrower type overflows for large values, and
		// a value chosen by a condition can be made large for one row only.
		if !c.constant && !c.released && !c.agg && !textCastTypes[name] && (c.cond || narrowCastTypes[name]) {
			return capab{}, refuse(CodeFailingExpr, tc.Location, "cast that can fail row by row", "what", "CAST(… AS "+name+")")
		}
		// A numeric cast of a number keeps its value; any other cast
		// computes a new one.
		if !numericCastTypes[name] {
			c.derived = c.derived || !c.constant
		}
		c.text = textCastTypes[name]
		return c, nil
	case n.GetSqlvalueFunction() != nil:
		switch n.GetSqlvalueFunction().Op {
		case pg.SQLValueFunctionOp_SVFOP_CURRENT_DATE, pg.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP,
			pg.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP:
			return constCap(), nil
		}
		return capab{}, refuse(CodeFunctionNotAllowed, n.GetSqlvalueFunction().Location,
			"session function", "function", strings.ToLower(strings.TrimPrefix(n.GetSqlvalueFunction().Op.String(), "SVFOP_")))
	case n.GetSubLink() != nil:
		return capab{}, refuse(CodeSubqueryExpression, n.GetSubLink().Location, "subquery in an expression")
	case n.GetParamRef() != nil:
		return capab{}, refuse(CodeUnsupported, n.GetParamRef().Location, "parameter", "detail", "a $n parameter")
	}
	return capab{}, refuse(CodeUnsupported, locOf(n), "expression node", "detail", nodeKind(n))
}

func nodeKind(n *pg.Node) string {
	if n == nil || n.Node == nil {
		return "this expression"
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", n.Node), "*pg_query.Node_")
}

func (a *analyzer) list(ns []*pg.Node, sc *scope, ctx exprCtx, depth int) (capab, *refusal) {
	c := constCap()
	for _, x := range ns {
		xc, r := a.expr(x, sc, ctx, depth)
		if r != nil {
			return c, r
		}
		c = c.and(xc)
	}
	return c, nil
}

func (a *analyzer) singlingOut(c capab, loc int32) *refusal {
	name := "an identifier"
	for _, o := range c.origins {
		name = o.name()
		if t := a.cat.table(o.table); t != nil && (t.Unit == o.column) {
			break
		}
	}
	return refuse(CodeSinglingOut, loc, "comparison of identifier "+name+" with a literal", "column", name)
}

func (a *analyzer) aExpr(ae *pg.A_Expr, sc *scope, ctx exprCtx, depth int) (capab, *refusal) {
	op := opName(ae)
	comparison := false
	switch ae.Kind {
	case pg.A_Expr_Kind_AEXPR_OP:
		switch {
		case arithmeticOps[op]:
		case comparisonOps[op]:
			comparison = true
		default:
			return capab{}, refuse(CodeFunctionNotAllowed, ae.Location, "operator "+op, "function", "operator "+op)
		}
	case pg.A_Expr_Kind_AEXPR_IN, pg.A_Expr_Kind_AEXPR_LIKE, pg.A_Expr_Kind_AEXPR_ILIKE,
		pg.A_Expr_Kind_AEXPR_BETWEEN, pg.A_Expr_Kind_AEXPR_NOT_BETWEEN, pg.A_Expr_Kind_AEXPR_BETWEEN_SYM,
		pg.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM, pg.A_Expr_Kind_AEXPR_DISTINCT, pg.A_Expr_Kind_AEXPR_NOT_DISTINCT:
		comparison = true
	case pg.A_Expr_Kind_AEXPR_NULLIF:
		comparison = true
	default:
		return capab{}, refuse(CodeFunctionNotAllowed, ae.Location, "operator "+ae.Kind.String(),
			"function", strings.ToLower(strings.TrimPrefix(ae.Kind.String(), "AEXPR_")))
	}
	l, r := a.expr(ae.Lexpr, sc, ctx, depth)
	if r != nil {
		return l, r
	}
	var rc capab
	if lst := ae.Rexpr.GetList(); lst != nil {
		rc, r = a.list(lst.Items, sc, ctx, depth)
	} else {
		rc, r = a.expr(ae.Rexpr, sc, ctx, depth)
	}
	if r != nil {
		return rc, r
	}
	if comparison && ae.Lexpr != nil && ae.Rexpr != nil {
		if l.ident && rc.constant {
			return l, a.singlingOut(l, ae.Location)
		}
		if rc.ident && l.constant {
			return rc, a.singlingOut(rc, ae.Location)
		}
	}
	out := l.and(rc)
	if ae.Kind == pg.A_Expr_Kind_AEXPR_OP && arithmeticOps[op] && op != "||" {
		if r := a.safeArithmetic(ae, op, l, rc); r != nil {
			return capab{}, r
		}
	}
	out.text = op == "||"
	// A band: a value divided by a literal of at least 2.
	if ae.Kind == pg.A_Expr_Kind_AEXPR_OP && op == "/" && rc.constant && atLeast(ae.Rexpr, 2) {
		out.identifying = false
	}
	if ae.Kind == pg.A_Expr_Kind_AEXPR_NULLIF {
		out.cond = true
	}
	return out, nil
}

// maxRowLiteral bounds a literal in arithmetic over rows: with values of
// ordinary size, no product or sum reaches the integer limits.
const maxRowLiteral = 1_000_000_000

// safeArithmetic keeps arithmetic over rows from failing on some values
// only (R15.2: no failure oracle). A division or remainder by zero gives
// NULL instead of an error (the divisor is wrapped in NULLIF); an operand
// chosen by a condition, or a very large literal, could overflow for the
// rows a condition picks, and is refused. Arithmetic over released
// aggregates is post-processing and free.
func (a *analyzer) safeArithmetic(ae *pg.A_Expr, op string, l, r capab) *refusal {
	if (l.agg || l.released || l.constant) && (r.agg || r.released || r.constant) {
		return nil
	}
	if l.cond || r.cond {
		return refuse(CodeFailingExpr, ae.Location, "arithmetic on a conditional value", "what", "CASE/COALESCE "+op+" …")
	}
	for _, n := range []*pg.Node{ae.Lexpr, ae.Rexpr} {
		if big := bigLiteral(n); big != "" {
			return refuse(CodeFailingExpr, ae.Location, "large literal in arithmetic", "what", op+" "+big)
		}
	}
	if (op == "/" || op == "%") && ae.Rexpr != nil && !r.constant {
		ae.Rexpr = nullIfZero(ae.Rexpr)
	}
	if (op == "/" || op == "%") && r.constant && isZero(ae.Rexpr) {
		return refuse(CodeFailingExpr, ae.Location, "division by the literal zero", "what", op+" 0")
	}
	return nil
}

// coarsens: a date truncated or cut to a year, quarter or month, or a
// text cut to a prefix of at most 6 characters.
func coarsens(fc *pg.FuncCall, name string) bool {
	unit := func(n *pg.Node) string {
		if n == nil || n.GetAConst() == nil || n.GetAConst().GetSval() == nil {
			return ""
		}
		return strings.ToLower(n.GetAConst().GetSval().Sval)
	}
	switch name {
	case "date_trunc", "date_part", "extract":
		if len(fc.Args) == 2 {
			switch unit(fc.Args[0]) {
			case "year", "quarter", "month", "decade", "century", "isoyear":
				return true
			}
		}
	case "left", "substr", "substring":
		n := fc.Args[len(fc.Args)-1]
		if name != "left" && (len(fc.Args) != 3 || !isOne(fc.Args[1])) {
			return false
		}
		if iv := n.GetAConst().GetIval(); iv != nil && iv.Ival > 0 && iv.Ival <= 6 {
			return true
		}
	}
	return false
}

func isOne(n *pg.Node) bool {
	iv := n.GetAConst().GetIval()
	return iv != nil && iv.Ival == 1
}

func atLeast(n *pg.Node, v float64) bool {
	ac := n.GetAConst()
	if ac == nil {
		return false
	}
	if iv := ac.GetIval(); iv != nil {
		return float64(iv.Ival) >= v
	}
	if fv := ac.GetFval(); fv != nil {
		f, err := strconv.ParseFloat(fv.Fval, 64)
		return err == nil && f >= v
	}
	return false
}

func constResults(ce *pg.CaseExpr) bool {
	for _, w := range ce.Args {
		if cw := w.GetCaseWhen(); cw == nil || cw.Result.GetAConst() == nil {
			return false
		}
	}
	return ce.Defresult == nil || ce.Defresult.GetAConst() != nil
}

func nullIfZero(n *pg.Node) *pg.Node {
	return &pg.Node{Node: &pg.Node_AExpr{AExpr: &pg.A_Expr{Kind: pg.A_Expr_Kind_AEXPR_NULLIF,
		Name: []*pg.Node{pg.MakeStrNode("=")}, Lexpr: n, Rexpr: pg.MakeAConstIntNode(0, -1), Location: -1}}}
}

func bigLiteral(n *pg.Node) string {
	ac := n.GetAConst()
	if ac == nil {
		return ""
	}
	if iv := ac.GetIval(); iv != nil && (iv.Ival > maxRowLiteral || iv.Ival < -maxRowLiteral) {
		return strconv.Itoa(int(iv.Ival))
	}
	if fv := ac.GetFval(); fv != nil {
		if f, err := strconv.ParseFloat(fv.Fval, 64); err != nil || f > maxRowLiteral || f < -maxRowLiteral {
			return fv.Fval
		}
	}
	return ""
}

func isZero(n *pg.Node) bool {
	ac := n.GetAConst()
	if ac == nil {
		return false
	}
	if iv := ac.GetIval(); iv != nil {
		return iv.Ival == 0
	}
	if fv := ac.GetFval(); fv != nil {
		f, err := strconv.ParseFloat(fv.Fval, 64)
		return err == nil && f == 0
	}
	return ac.GetIval() == nil && ac.GetFval() == nil && ac.GetSval() == nil && ac.GetBoolval() == nil && !ac.Isnull
}

func (a *analyzer) funcCall(fc *pg.FuncCall, sc *scope, ctx exprCtx, depth int) (capab, *refusal) {
	name := funcName(fc)
	if fc.Over != nil {
		return a.window(fc, name, sc, ctx, depth)
	}
	bit, isAgg := aggregateFunctions[name]
	if valueAggregates[name] && !isAgg {
		return capab{}, refuse(CodeLeakingAggregate, fc.Location, name+" returns a unit's own value",
			"function", name, "column", argName(fc))
	}
	if !isAgg {
		if !scalarFunctions[name] {
			if isTableFunction(name) {
				return capab{}, refuse(CodeTableFunction, fc.Location, "table or system function "+name, "function", name)
			}
			return capab{}, refuse(CodeFunctionNotAllowed, fc.Location, "function "+name+" is not on the allowed list", "function", name)
		}
		if fc.AggStar || fc.AggDistinct || fc.AggFilter != nil || len(fc.AggOrder) > 0 || fc.FuncVariadic {
			return capab{}, refuse(CodeUnsupported, fc.Location, "aggregate syntax on "+name, "detail", name)
		}
		c, r := a.list(fc.Args, sc, ctx, depth)
		if r != nil {
			return c, r
		}
		if r := a.safeFunction(fc, name, c); r != nil {
			return capab{}, r
		}
		// Inside an aggregate, a function of a conditional value can turn
		// one row into NULL (or fail) on a condition: a hidden FILTER that
		// no check would count. A CASE must be the whole argument.
		if ctx.inAgg && c.cond && !c.released {
			return capab{}, refuse(CodeFailingExpr, fc.Location, name+" of a conditional value inside an aggregate", "what", name+"(CASE …)")
		}
		c.derived = c.derived || !c.constant
		c.text = textFunctions[name]
		if coarsens(fc, name) {
			c.identifying = false
		}
		return c, nil
	}
	// An aggregate.
	if ctx.inAgg {
		return capab{}, refuse(CodeUnsupported, fc.Location, "aggregate inside an aggregate", "detail", "nested aggregates")
	}
	if !ctx.allowAgg {
		code := ctx.noAggErr
		if code == "" {
			code = CodeUnsupported
		}
		return capab{}, refuse(code, fc.Location, "aggregate "+name+" here", "detail", "an aggregate in this clause")
	}
	if len(fc.AggOrder) > 0 || fc.AggWithinGroup || fc.FuncVariadic {
		return capab{}, refuse(CodeUnsupported, fc.Location, "ordered aggregate", "detail", "ORDER BY inside an aggregate")
	}
	inner := exprCtx{clause: inAggArg, inAgg: true, noAggErr: CodeUnsupported}
	if fc.AggStar {
		if name != "count" {
			return capab{}, refuse(CodeFunctionNotAllowed, fc.Location, name+"(*)", "function", name+"(*)")
		}
	} else {
		if len(fc.Args) == 0 {
			return capab{}, refuse(CodeFunctionNotAllowed, fc.Location, name+"()", "function", name)
		}
		args, r := a.aggArgs(fc, sc, inner, depth)
		if r != nil {
			return args, r
		}
		countUnit := name == "count" && len(fc.Args) == 1 && args.unit && fc.Args[0].GetColumnRef() != nil
		if !countUnit {
			if bit == aggMin || bit == aggMax {
				for _, o := range args.origins {
					if !o.extreme || args.ident {
						return capab{}, refuse(CodeLeakingAggregate, fc.Location, name+" of column "+o.name()+" is one unit's value",
							"function", name, "column", o.name())
					}
				}
			}
			if r := a.need(args, pAgg, fc.Location); r != nil {
				return args, r
			}
			if args.aggs&bit == 0 {
				o := firstLacking(args.origins, bit)
				return capab{}, refuse(CodeAggregateNotAllow, fc.Location, name+" not allowed on "+o,
					"function", name, "column", o, "aggregates", aggNames(args.aggs))
			}
		}
	}
	if fc.AggFilter != nil {
		f, r := a.expr(fc.AggFilter, sc, inner, depth)
		if r != nil {
			return f, r
		}
		if r := a.need(f, pWhere, fc.Location); r != nil {
			return f, r
		}
	}
	return capab{perm: pOutput | pList, aggs: 0, agg: true}, nil
}

// window checks a window function. Over released values (a
// post-processing query) anything goes; in an aggregate query it may
// stand only in the output and ORDER BY, over aggregates and group keys:
// it is computed after the threshold, over released groups only, so a
// rank, a share of the total or a growth rate says nothing the released
// rows do not.
func (a *analyzer) window(fc *pg.FuncCall, name string, sc *scope, ctx exprCtx, depth int) (capab, *refusal) {
	if !ctx.post && (!ctx.allowAgg || ctx.inAgg || (ctx.clause != inTarget && ctx.clause != inOrder)) {
		return capab{}, refuse(CodeWindowFunction, fc.Location, "window function "+name+" over rows")
	}
	if _, agg := aggregateFunctions[name]; !agg && !windowFunctions[name] {
		return capab{}, refuse(CodeFunctionNotAllowed, fc.Location, "window function "+name+" is not on the allowed list", "function", name)
	}
	w := fc.Over
	if w.Name != "" || w.Refname != "" || fc.AggFilter != nil || fc.AggDistinct || len(fc.AggOrder) > 0 || fc.FuncVariadic {
		return capab{}, refuse(CodeUnsupported, fc.Location, "window syntax", "detail", "named windows, FILTER, DISTINCT or ORDER BY inside a window function")
	}
	inner := exprCtx{clause: ctx.clause, allowAgg: !ctx.post || ctx.allowAgg, post: ctx.post, noAggErr: CodeUnsupported}
	nodes := append([]*pg.Node(nil), fc.Args...)
	nodes = append(nodes, w.PartitionClause...)
	for _, o := range w.OrderClause {
		if sb := o.GetSortBy(); sb != nil {
			nodes = append(nodes, sb.Node)
		}
	}
	for _, off := range []*pg.Node{w.StartOffset, w.EndOffset} {
		if off != nil && off.GetAConst() == nil {
			return capab{}, refuse(CodeUnsupported, fc.Location, "window frame offset", "detail", "a window frame offset that is not a literal")
		}
	}
	c := constCap()
	for _, n := range nodes {
		nc, r := a.expr(n, sc, inner, depth+1)
		if r != nil {
			return nc, r
		}
		if !ctx.post {
			if nc.unit {
				return capab{}, a.unitRefusal(nc, locOf(n))
			}
			if r := a.need(nc, pOutput, locOf(n)); r != nil {
				return nc, r
			}
		}
		c = c.and(nc)
	}
	return capab{perm: pOutput | pList | pWhere | pGroup | pAgg, aggs: aggAll, agg: true, released: ctx.post, derived: true}, nil
}

// aggArgs checks an aggregate's arguments. A CASE that is the whole
// argument is read as conditions and values: its WHEN conditions are
// conditions (they must allow WHERE, like FILTER), its results are the
// values aggregated. A protected value (of a column with role aggregate)
// may only be such a value unchanged: the rewrite can then count, for the
// number released, the units that really contribute to it, and nothing
// computed from one unit's value (a comparison, a product, a cast to
// text) can be smuggled through a sum.
func (a *analyzer) aggArgs(fc *pg.FuncCall, sc *scope, ctx exprCtx, depth int) (capab, *refusal) {
	c := constCap()
	for _, arg := range fc.Args {
		var vals []*pg.Node
		if ce := arg.GetCaseExpr(); ce != nil {
			if ce.Arg != nil {
				cc, r := a.expr(ce.Arg, sc, ctx, depth)
				if r != nil {
					return cc, r
				}
				if r := a.need(cc, pWhere, ce.Location); r != nil {
					return cc, r
				}
				if cc.ident {
					return cc, a.singlingOut(cc, ce.Location)
				}
			}
			for _, w := range ce.Args {
				cw := w.GetCaseWhen()
				if cw == nil {
					return capab{}, refuse(CodeUnsupported, ce.Location, "CASE", "detail", "CASE")
				}
				cond, r := a.expr(cw.Expr, sc, ctx, depth+1)
				if r != nil {
					return cond, r
				}
				if r := a.need(cond, pWhere, cw.Location); r != nil {
					return cond, r
				}
				vals = append(vals, cw.Result)
			}
			vals = append(vals, ce.Defresult)
		} else {
			vals = []*pg.Node{arg}
		}
		for _, v := range vals {
			vc, r := a.expr(v, sc, ctx, depth+1)
			if r != nil {
				return vc, r
			}
			if vc.prot && (vc.derived || !plainValue(v)) {
				return capab{}, a.protectedRefusal(vc, fc, v)
			}
			if v != nil {
				c = c.and(vc)
			}
		}
	}
	return c, nil
}

// plainValue: a column reference, or one cast to a number type, or a
// literal (NULL included).
func plainValue(n *pg.Node) bool {
	if n == nil || n.GetAConst() != nil || n.GetColumnRef() != nil {
		return true
	}
	if tc := n.GetTypeCast(); tc != nil && numericCastTypes[typeName(tc.TypeName)] {
		return plainValue(tc.Arg)
	}
	return false
}

func (a *analyzer) protectedRefusal(c capab, fc *pg.FuncCall, at *pg.Node) *refusal {
	col, aggs := "a protected column", aggCount|aggSum|aggAvg
	for _, o := range c.origins {
		if o.role == Aggregate {
			col, aggs = o.name(), o.aggs
			break
		}
	}
	return refuse(CodeProtectedExpr, locOf(at), "protected column "+col+" computed with inside "+funcName(fc),
		"column", col, "aggregates", aggNames(aggs))
}

// safeFunction keeps scalar functions over rows from failing on some
// values only: ln and sqrt of a value outside their domain give NULL (the
// argument is guarded by a CASE), mod by zero gives NULL, and positions
// and lengths of text functions must be small literals (a negative or
// huge length fails, or fills memory, depending on the row).
func (a *analyzer) safeFunction(fc *pg.FuncCall, name string, c capab) *refusal {
	if c.agg || c.released || c.constant {
		return nil
	}
	switch name {
	case "ln", "sqrt":
		if len(fc.Args) == 1 {
			op := ">"
			if name == "sqrt" {
				op = ">="
			}
			arg := fc.Args[0]
			cond := pg.MakeAExprNode(pg.A_Expr_Kind_AEXPR_OP, []*pg.Node{pg.MakeStrNode(op)}, cloneNode(arg), pg.MakeAConstIntNode(0, -1), -1)
			fc.Args[0] = &pg.Node{Node: &pg.Node_CaseExpr{CaseExpr: &pg.CaseExpr{Location: -1,
				Args: []*pg.Node{{Node: &pg.Node_CaseWhen{CaseWhen: &pg.CaseWhen{Expr: cond, Result: arg, Location: -1}}}}}}}
		}
	case "mod":
		if len(fc.Args) == 2 && fc.Args[1].GetAConst() == nil {
			fc.Args[1] = nullIfZero(fc.Args[1])
		}
	case "substr", "substring", "left", "right", "lpad", "rpad", "strpos", "position", "round", "trunc", "date_trunc", "date_part":
		for i, arg := range fc.Args {
			if i == 0 && name != "date_trunc" && name != "date_part" {
				continue
			}
			if (name == "date_trunc" || name == "date_part") && i > 0 {
				continue
			}
			if name == "strpos" || name == "position" {
				break
			}
			ac := arg.GetAConst()
			if ac == nil {
				return refuse(CodeFailingExpr, fc.Location, name+" with a computed argument", "what", name+"(…, <expression>)")
			}
			if iv := ac.GetIval(); iv != nil && (iv.Ival < -1000 || iv.Ival > 1000) {
				return refuse(CodeFailingExpr, fc.Location, name+" with a large literal", "what", name+"(…, "+strconv.Itoa(int(iv.Ival))+")")
			}
		}
	}
	return nil
}

func firstLacking(origins []*origin, bit aggset) string {
	for _, o := range origins {
		if o.aggs&bit == 0 {
			return o.name()
		}
	}
	if len(origins) > 0 {
		return origins[0].name()
	}
	return "an expression"
}

func argName(fc *pg.FuncCall) string {
	for _, a := range fc.Args {
		if cr := a.GetColumnRef(); cr != nil && len(cr.Fields) > 0 {
			return cr.Fields[len(cr.Fields)-1].GetString_().GetSval()
		}
	}
	return "a column"
}

func typeName(tn *pg.TypeName) string {
	if tn == nil || len(tn.Names) == 0 {
		return ""
	}
	parts := make([]string, 0, len(tn.Names))
	for _, n := range tn.Names {
		parts = append(parts, strings.ToLower(n.GetString_().GetSval()))
	}
	if len(parts) == 2 && parts[0] == "pg_catalog" {
		return parts[1]
	}
	return strings.Join(parts, ".")
}

// resolve finds the column a reference names.
func (a *analyzer) resolve(cr *pg.ColumnRef, sc *scope) (capab, *refusal) {
	var names []string
	for _, f := range cr.Fields {
		if f.GetAStar() != nil {
			return capab{}, refuse(CodeSelectStar, cr.Location, "* in an expression")
		}
		names = append(names, f.GetString_().GetSval())
	}
	var found []relCol
	switch len(names) {
	case 1:
		for _, it := range sc.items {
			for _, col := range it.rel.cols {
				if strings.EqualFold(col.name, names[0]) {
					found = append(found, col)
				}
			}
		}
	case 2:
		for _, it := range sc.items {
			if !strings.EqualFold(it.alias, names[0]) {
				continue
			}
			for _, col := range it.rel.cols {
				if strings.EqualFold(col.name, names[1]) {
					found = append(found, col)
				}
			}
		}
	default:
		return capab{}, refuse(CodeUnknownRelation, cr.Location, "qualified column "+strings.Join(names, "."),
			"table", strings.Join(names[:len(names)-1], "."))
	}
	full := strings.Join(names, ".")
	if len(found) > 1 && len(names) == 1 && sc.merged[strings.ToLower(names[0])] {
		found = found[:1]
	}
	switch len(found) {
	case 0:
		return capab{}, refuse(CodeUnknownColumn, cr.Location, "no column "+full, "column", full)
	case 1:
	default:
		return capab{}, refuse(CodeAmbiguousColumn, cr.Location, "several columns named "+full, "column", full)
	}
	c := found[0].cap
	for _, o := range c.origins {
		if o.role == Hidden {
			return capab{}, refuse(CodeHiddenColumn, cr.Location, "column "+o.name()+" has role hidden", "column", o.name())
		}
	}
	return c, nil
}
