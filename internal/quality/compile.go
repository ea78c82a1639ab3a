package quality

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gongshu/gongshu/internal/apperr"
)

// A rule set compiles to one statement of nested levels over the table:
//
//	SELECT <conditional counts>                      -- the aggregate
//	FROM (SELECT q1.*, <derived> FROM (                -- level 2 (and up): values derived once per row
//	      SELECT <columns, text casts, joins' flags>   -- level 1: the scan (and reference joins)
//	      FROM table t LEFT JOIN (distinct ref values) r0 ON … ) q1) q2
//
// Level 2 exists so an expression used many times (the 17 digits of an ID
// number, the upper-cased credit code) is computed once per row; the
// DuckDB forms of the check characters (duckdb.go) add levels 3 and up for
// values derived from those. On PostgreSQL OFFSET 0 keeps the planner from
// folding the levels back together, which would repeat the expression at
// every use.

// ruleSQL is one rule's part of a plan.
type ruleSQL struct {
	rule Rule
	// checked and failed index the aggregate list: for unique, failed
	// holds the distinct count; for freshness, the newest value.
	checked, failed int
	// fail is the row-level failure condition over level 2 and value the
	// failing value as text, for samples; empty for unique and freshness.
	fail, value string
	// layout parses a freshness column's text.
	layout string
	// keyText and keyCols group a unique rule's duplicates for samples.
	keyText string
	keyCols []string
	// keys is set for a unique rule on one integer column whose span
	// DuckDB's statistics bound: counted with a bitmap (duckdb.go).
	keys *keyRange
}

type plan struct {
	d     Dialect
	table string // quoted, qualified
	cols  map[string]Column
	// levels[i] holds level i+1's "expr AS alias" items, aliases[i] its
	// aliases by expression.
	levels    [][]string
	aliases   []map[string]string
	joins     []string
	flags     []string // flags[i] is the level-1 alias of joins[i]'s match flag
	aggs      []string
	aggIndex  map[string]int
	rules     []ruleSQL
	keyText   string // the key column as text (level 1 alias), or ""
	tableName string
}

func compile(ctx context.Context, d Domain, rs Rules, table string, env Env) (*plan, error) {
	cols, err := d.Columns(ctx, table)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", table, err)
	}
	if len(cols) == 0 {
		return nil, apperr.New(apperr.NotFound, "quality.no_table", "table", table).Wrap(errUnknownTable(table))
	}
	p := &plan{d: d.Dialect(), table: d.Table(table), tableName: table, cols: columnMap(cols),
		aggIndex: map[string]int{}}
	p.agg("count(*)")
	if rs.Key != "" {
		if _, ok := p.cols[rs.Key]; !ok {
			return nil, unknownColumn("key", rs.Key, table)
		}
	}
	for _, r := range rs.Rules {
		for _, c := range r.columns() {
			if _, ok := p.cols[c]; !ok {
				return nil, unknownColumn(r.ID, c, table)
			}
		}
		rc, err := p.rule(ctx, d, r, env)
		if err != nil {
			return nil, err
		}
		p.rules = append(p.rules, rc)
	}
	if rs.Key != "" {
		p.keyText = p.text(rs.Key)
	}
	return p, nil
}

func (p *plan) raw(col string) string { return "t." + quoteIdent(col) }

func (p *plan) class(col string) class { return classify(p.cols[col].Type) }

func (p *plan) rawText(col string) string {
	if p.class(col) == classText {
		return p.raw(col)
	}
	return "CAST(" + p.raw(col) + " AS TEXT)"
}

// add computes expr at a level (1 is the scan) once and returns its alias:
// c0, c1 … at level 1, d0 … at level 2, e0 … at level 3.
func (p *plan) add(level int, expr string) string {
	for len(p.levels) < level {
		p.levels = append(p.levels, nil)
		p.aliases = append(p.aliases, map[string]string{})
	}
	if a, ok := p.aliases[level-1][expr]; ok {
		return a
	}
	a := string(rune('c'+level-1)) + strconv.Itoa(len(p.levels[level-1]))
	p.levels[level-1] = append(p.levels[level-1], expr+" AS "+a)
	p.aliases[level-1][expr] = a
	return a
}

func (p *plan) add1(expr string) string { return p.add(1, expr) }
func (p *plan) add2(expr string) string { return p.add(2, expr) }

func (p *plan) agg(expr string) int {
	if i, ok := p.aggIndex[expr]; ok {
		return i
	}
	p.aggs = append(p.aggs, expr)
	p.aggIndex[expr] = len(p.aggs) - 1
	return len(p.aggs) - 1
}

// col is the column at level 1.
func (p *plan) col(name string) string { return p.add1(p.raw(name)) }

// text is the column as text at level 1.
func (p *plan) text(name string) string { return p.add1(p.rawText(name)) }

func (p *plan) failCount(fail string) int { return p.agg("count(*) FILTER (WHERE " + fail + ")") }

func (p *plan) rule(ctx context.Context, d Domain, r Rule, env Env) (ruleSQL, error) {
	rc := ruleSQL{rule: r, checked: -1, failed: -1}
	switch r.Type {
	case NotNull:
		rc.checked = p.agg("count(" + p.col(r.Column) + ")")
		c := p.col(r.Column)
		rc.fail, rc.value = c+" IS NULL", "NULL"
	case Unique:
		var refs, notNull []string
		for _, c := range r.Columns {
			a := p.col(c)
			refs = append(refs, a)
			notNull = append(notNull, a+" IS NOT NULL")
			rc.keyCols = append(rc.keyCols, p.raw(c))
		}
		texts := make([]string, len(r.Columns))
		for i, c := range r.Columns {
			texts[i] = p.rawText(c)
		}
		rc.keyText = strings.Join(texts, " || '|' || ")
		if len(refs) == 1 {
			rc.checked = p.agg("count(" + refs[0] + ")")
			if k, ok := p.integerKeyRange(ctx, d, r.Columns[0]); ok {
				rc.keys = &k
				rc.failed = p.agg(k.distinct(refs[0]))
			} else {
				rc.failed = p.agg("count(DISTINCT " + refs[0] + ")")
			}
		} else {
			all := strings.Join(notNull, " AND ")
			rc.checked = p.agg("count(*) FILTER (WHERE " + all + ")")
			rc.failed = p.agg("count(DISTINCT ROW(" + strings.Join(refs, ", ") + ")) FILTER (WHERE " + all + ")")
		}
	case Freshness:
		if r.Column == "" {
			return rc, nil
		}
		switch p.class(r.Column) {
		case classDate, classTimestamp:
			rc.failed = p.agg("CAST(max(" + p.col(r.Column) + ") AS TEXT)")
		case classText:
			rc.failed = p.agg("max(" + p.col(r.Column) + ")")
			rc.layout = r.Layout
		default:
			return rc, p.badType(r, r.Column)
		}
	default:
		c := p.col(r.Column)
		rc.checked = p.agg("count(" + c + ")")
		valid, err := p.valid(ctx, d, r, env)
		if err != nil {
			return rc, err
		}
		rc.fail = "(" + c + " IS NOT NULL AND NOT coalesce(" + valid + ", false))"
		rc.value = p.text(r.Column)
		rc.failed = p.failCount(rc.fail)
	}
	return rc, nil
}

// valid is the condition a non-null value of a row-level rule must meet.
func (p *plan) valid(ctx context.Context, d Domain, r Rule, env Env) (string, error) {
	switch r.Type {
	case Format:
		return p.format(r)
	case Range:
		return p.rangeCond(r)
	case Allowed:
		if p.d == DuckDB && len(r.Values) > 0 {
			return p.allowedJoin(r), nil
		}
		lits := make([]string, len(r.Values))
		for i, v := range r.Values {
			lits[i] = quoteLiteral(v)
		}
		return p.text(r.Column) + " IN (" + strings.Join(lits, ", ") + ")", nil
	case Reference:
		return p.reference(ctx, d, r, env)
	}
	return "", fmt.Errorf("quality: rule %s: no row condition for type %s", r.ID, r.Type)
}

func (p *plan) format(r Rule) (string, error) {
	text := p.text(r.Column)
	switch r.Format {
	case IDCard:
		if p.d == DuckDB {
			return p.idCardDuck(text), nil
		}
		n := p.add2(idCardNumber(text))
		return idCardValid(p.d, n, text), nil
	case CreditCode:
		if p.d == DuckDB {
			return p.creditDuck(text), nil
		}
		norm := p.add1(creditNormal(p.rawText(r.Column)))
		u := p.add2(creditShaped(norm))
		return creditValid(u), nil
	case Mobile:
		return "(" + text + " ~ " + quoteLiteral(mobileShape) + ")", nil
	case Regexp:
		return "(" + text + " ~ " + quoteLiteral("^(?:"+r.Pattern+")$") + ")", nil
	case Date:
		switch p.class(r.Column) {
		case classDate, classTimestamp:
			// A typed column cannot hold an impossible date.
			return "true", nil
		}
		l, err := compileLayout(r.layout())
		if err != nil {
			return "", apperr.New(apperr.Invalid, "quality.bad_layout", "rule", r.ID, "layout", r.Layout)
		}
		v := p.add2("CASE WHEN " + text + " ~ " + quoteLiteral(l.re) + " THEN " + text + " END")
		return l.valid(v, func(e string) string { return p.add(3, e) }), nil
	}
	return "", apperr.New(apperr.Invalid, "quality.bad_format", "rule", r.ID, "format", string(r.Format))
}

func (p *plan) rangeCond(r Rule) (string, error) {
	kind, err := r.rangeKind()
	if err != nil {
		return "", err
	}
	var v string
	lit := func(b Bound) string { return string(b) }
	switch {
	case kind == "number" && p.class(r.Column) == classNumber:
		v = p.col(r.Column)
	case kind == "number" && p.class(r.Column) == classText:
		t := "trim(" + p.col(r.Column) + ")"
		v = p.add2("CASE WHEN " + t + " ~ " + quoteLiteral(numberRE.String()) + " THEN CAST(" + t + " AS DOUBLE PRECISION) END")
	case kind == "date" && p.class(r.Column) == classDate:
		v = p.col(r.Column)
		lit = func(b Bound) string { return "DATE " + quoteLiteral(string(b)) }
	case kind == "date" && p.class(r.Column) == classTimestamp:
		v = p.add1("CAST(" + p.raw(r.Column) + " AS DATE)")
		lit = func(b Bound) string { return "DATE " + quoteLiteral(string(b)) }
	case kind == "date" && p.class(r.Column) == classText:
		// ISO dates compare as text; other text fails the rule.
		t := p.col(r.Column)
		v = p.add2("CASE WHEN " + t + " ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}' THEN substr(" + t + ", 1, 10) END")
		lit = func(b Bound) string { return quoteLiteral(string(b)) }
	default:
		return "", p.badType(r, r.Column)
	}
	conds := []string{v + " IS NOT NULL"}
	if r.Min != nil {
		conds = append(conds, v+" >= "+lit(*r.Min))
	}
	if r.Max != nil {
		conds = append(conds, v+" <= "+lit(*r.Max))
	}
	return "(" + strings.Join(conds, " AND ") + ")", nil
}

// reference joins the distinct values of the referenced column once and
// flags each row whose value has a match.
func (p *plan) reference(ctx context.Context, d Domain, r Rule, env Env) (string, error) {
	refTable, ok := env.RefTables[r.Resource]
	if !ok || refTable == "" {
		return "", apperr.New(apperr.Invalid, "quality.reference_not_loaded", "rule", r.ID, "resource", strconv.FormatInt(r.Resource, 10))
	}
	refCols, err := d.Columns(ctx, refTable)
	if err != nil {
		return "", fmt.Errorf("columns of %s: %w", refTable, err)
	}
	rc, ok := columnMap(refCols)[r.RefColumn]
	if !ok {
		return "", unknownColumn(r.ID, r.RefColumn, refTable)
	}
	left, right := p.raw(r.Column), quoteIdent(r.RefColumn)
	lc, rcl := p.class(r.Column), classify(rc.Type)
	if lc != rcl || lc == classOther {
		left, right = p.rawText(r.Column), "CAST("+right+" AS TEXT)"
	}
	alias := "r" + strconv.Itoa(len(p.joins))
	p.joins = append(p.joins, "LEFT JOIN (SELECT DISTINCT "+right+" AS v FROM "+d.Table(refTable)+" WHERE "+
		quoteIdent(r.RefColumn)+" IS NOT NULL) "+alias+" ON "+left+" = "+alias+".v")
	return p.joinFlag(alias), nil
}

// joinFlag is the level-1 flag of the join just added: its row matched.
func (p *plan) joinFlag(alias string) string {
	f := p.add1("(" + alias + ".v IS NOT NULL)")
	p.flags = append(p.flags, f)
	return f
}

func (p *plan) badType(r Rule, col string) error {
	return apperr.New(apperr.Invalid, "quality.column_type", "rule", r.ID, "column", col, "type", p.cols[col].Type)
}

// inner is the levels as one FROM item.
func (p *plan) inner() string { return p.innerFor("") }

// innerFor is inner without the joins whose flags expr does not use (all
// joins when expr is empty). A sample branch needs only its own rule's
// join, and a join left in keeps DuckDB from stopping the scan at the
// branch's LIMIT.
func (p *plan) innerFor(expr string) string {
	fence := ""
	if p.d == Postgres {
		fence = " OFFSET 0"
	}
	var l1 []string
	if len(p.levels) > 0 {
		l1 = p.levels[0]
	}
	var joins []string
	for i, j := range p.joins {
		if expr != "" && !regexp.MustCompile(`\b`+p.flags[i]+`\b`).MatchString(expr) {
			l1 = slices.DeleteFunc(slices.Clone(l1), func(e string) bool { return strings.HasSuffix(e, " AS "+p.flags[i]) })
			continue
		}
		joins = append(joins, j)
	}
	if len(l1) == 0 {
		l1 = []string{"1 AS one"}
	}
	var b strings.Builder
	b.WriteString("(SELECT ")
	b.WriteString(strings.Join(l1, ", "))
	b.WriteString(" FROM ")
	b.WriteString(p.table)
	b.WriteString(" t")
	for _, j := range joins {
		b.WriteString(" ")
		b.WriteString(j)
	}
	b.WriteString(fence)
	b.WriteString(") q1")
	// Level 2 always exists, so the outermost name stays q2 for plans
	// without derived values.
	n := max(len(p.levels), 2)
	for i := 2; i <= n; i++ {
		var items []string
		if i <= len(p.levels) {
			items = p.levels[i-1]
		}
		q := "q" + strconv.Itoa(i-1)
		s := "(SELECT " + q + ".*"
		for _, e := range items {
			s += ", " + e
		}
		s += " FROM " + b.String() + fence + ") q" + strconv.Itoa(i)
		b.Reset()
		b.WriteString(s)
	}
	return b.String()
}

// aggregateSQL is the one fused statement.
func (p *plan) aggregateSQL() string {
	return "SELECT " + strings.Join(p.aggs, ", ") + " FROM " + p.inner()
}

// samples takes up to SampleLimit failing rows for each failed rule: one
// streaming statement for the row-level rules (stopped as soon as every
// failed rule has its samples) and a grouped one per failed unique rule.
// It returns how many statements ran.
func (p *plan) samples(ctx context.Context, d Domain, key string, results []Result, out *[]Sample) (int, error) {
	var row []ruleSQL
	var uniq []ruleSQL
	for i, rc := range p.rules {
		if results[i].Failed == 0 {
			continue
		}
		switch {
		case rc.rule.Type == Unique:
			uniq = append(uniq, rc)
		case rc.fail != "":
			row = append(row, rc)
		}
	}
	scans := 0
	var got []Sample
	if len(row) > 0 {
		// One limited branch per failed rule: each evaluates only its own
		// condition and stops at its twentieth failure, so a common defect
		// costs a few thousand rows, not another pass over the table.
		scans++
		keyExpr := "NULL"
		if p.keyText != "" {
			keyExpr = p.keyText
		}
		branches := make([]string, len(row))
		for i, rc := range row {
			branches[i] = "(SELECT " + strconv.Itoa(i) + " AS r, " + keyExpr + " AS k, " + rc.value + " AS v FROM " + p.innerFor(rc.fail) +
				" WHERE " + rc.fail + " LIMIT " + strconv.Itoa(SampleLimit) + ")"
		}
		q := strings.Join(branches, " UNION ALL ")
		err := d.Query(ctx, q, func(scan func(...any) error) error {
			var r, k, v any
			if err := scan(&r, &k, &v); err != nil {
				return err
			}
			i := int(toInt(r))
			if i < 0 || i >= len(row) {
				return fmt.Errorf("quality: sample of unknown rule %d", i)
			}
			ks, _ := toText(k)
			vs, _ := toText(v)
			got = append(got, Sample{RuleID: row[i].rule.ID, Key: ks, Value: vs})
			return nil
		})
		if err != nil {
			return scans, err
		}
	}
	for _, rc := range uniq {
		scans++
		var notNull []string
		for _, c := range rc.keyCols {
			notNull = append(notNull, c+" IS NOT NULL")
		}
		q := "SELECT " + rc.keyText + ", count(*) FROM " + p.table + " t WHERE " + strings.Join(notNull, " AND ") +
			" GROUP BY " + strings.Join(rc.keyCols, ", ") + " HAVING count(*) > 1 ORDER BY 2 DESC, 1 LIMIT " + strconv.Itoa(SampleLimit)
		if rc.keys != nil {
			q = rc.keys.duplicateKeys(p.table, rc.keyCols[0], rc.keyText, SampleLimit)
		}
		err := d.Query(ctx, q, func(scan func(...any) error) error {
			var k any
			var n any
			if err := scan(&k, &n); err != nil {
				return err
			}
			ks, _ := toText(k)
			got = append(got, Sample{RuleID: rc.rule.ID, Key: ks, Value: ks, Count: toInt(n)})
			return nil
		})
		if err != nil {
			return scans, err
		}
	}
	// Rows arrive in whatever order a parallel scan yields them; a stable
	// order keeps stored samples comparable between runs.
	order := map[string]int{}
	for i, rc := range p.rules {
		order[rc.rule.ID] = i
	}
	sort.SliceStable(got, func(i, j int) bool {
		a, b := got[i], got[j]
		if a.RuleID != b.RuleID {
			return order[a.RuleID] < order[b.RuleID]
		}
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		return a.Value < b.Value
	})
	*out = got
	return scans, nil
}
