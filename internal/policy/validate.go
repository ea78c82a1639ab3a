package policy

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	pg "github.com/pganalyze/pg_query_go/v6"
)

// Validate is the dry run: it decides whether sql may run against the
// tables of cat, and says which rule failed, without rewriting anything.
func Validate(sql string, cat Catalog) Decision {
	_, d := analyze(sql, cat)
	return d
}

// analysis is a checked statement ready to be rewritten.
type analysis struct {
	sql  string
	tree *pg.ParseResult
	stmt *pg.SelectStmt
	a    *analyzer
}

// nonSelectWords are statements of DuckDB (or PostgreSQL) that PostgreSQL's
// grammar cannot parse; naming them gives a clearer refusal than a syntax
// error.
var nonSelectWords = map[string]bool{
	"ATTACH": true, "DETACH": true, "INSTALL": true, "LOAD": true, "PRAGMA": true, "FORCE": true,
	"EXPORT": true, "IMPORT": true, "USE": true, "SUMMARIZE": true, "DESCRIBE": true, "SHOW": true,
	"PIVOT": true, "UNPIVOT": true, "CALL": true, "COPY": true, "SET": true, "RESET": true,
	"CHECKPOINT": true, "VACUUM": true, "CREATE": true, "DROP": true, "ALTER": true, "INSERT": true,
	"UPDATE": true, "DELETE": true, "TRUNCATE": true, "EXPLAIN": true, "ANALYZE": true, "GRANT": true,
	"BEGIN": true, "COMMIT": true, "ROLLBACK": true, "DO": true, "EXECUTE": true, "PREPARE": true,
	"MERGE": true, "UPSERT": true, "REPLACE": true,
}

func analyze(sql string, cat Catalog) (*analysis, Decision) {
	limits := cat.Limits.withDefaults()
	if err := cat.Validate(); err != nil {
		return nil, refuse(CodeBadCatalog, -1, err.Error(), "detail", err.Error()).decision()
	}
	if len(sql) > limits.MaxLength {
		return nil, refuse(CodeTooLong, -1, fmt.Sprintf("query length %d above %d bytes", len(sql), limits.MaxLength),
			"max", strconv.Itoa(limits.MaxLength)).decision()
	}
	if r := controlCheck(sql); r != nil {
		return nil, r.decision()
	}
	if r := scanCheck(sql, limits); r != nil {
		return nil, r.decision()
	}
	tree, err := pg.Parse(sql)
	if err != nil {
		return nil, parseRefusal(sql, err).decision()
	}
	fp, _ := pg.Fingerprint(sql)
	withFP := func(d Decision) Decision { d.Fingerprint = fp; return d }
	switch len(tree.Stmts) {
	case 0:
		return nil, withFP(refuse(CodeParseError, -1, "empty query", "detail", "the query is empty").decision())
	case 1:
	default:
		return nil, withFP(refuse(CodeMultipleStatements, tree.Stmts[1].StmtLocation, "more than one statement").decision())
	}
	stmt := tree.Stmts[0].Stmt.GetSelectStmt()
	if stmt == nil {
		kind := strings.TrimSuffix(nodeKind(tree.Stmts[0].Stmt), "Stmt")
		return nil, withFP(refuse(CodeNotSelect, 0, "statement "+kind, "detail", statementName(kind)).decision())
	}
	a := &analyzer{cat: &cat, limits: limits, n: &counters{}}
	kind, r := a.classify(stmt, nil)
	if r == nil {
		if kind == kindPost {
			r = a.postQuery(stmt)
		} else {
			r = a.query(stmt, nil)
		}
	}
	if r != nil {
		d := withFP(r.decision())
		d.Tables, d.Resources = touched(a.uses)
		return nil, d
	}
	d := Decision{Allowed: true, Code: CodeOK, Key: "policy.ok", Message: Message(CodeOK, nil), Location: -1,
		Args: map[string]string{}, Analysis: a.top.rule, K: a.top.k, Fingerprint: fp}
	d.Tables, d.Resources = touched(a.uses)
	switch a.top.rule {
	case RuleAggregation:
		d.Rule = fmt.Sprintf("aggregation rule, at least %d distinct units per group", a.top.k)
	case RuleList:
		d.Rule = fmt.Sprintf("list rule, at most %d rows", rowCap(a.uses))
	case RuleDP:
		d.Rule = "differential privacy rule"
	}
	return &analysis{sql: sql, tree: tree, stmt: stmt, a: a}, d
}

// statementName turns a parser node kind (VariableSet, Copy, CreateTableAs)
// into the SQL words a person recognises.
func statementName(kind string) string {
	switch kind {
	case "VariableSet":
		return "SET"
	case "VariableShow":
		return "SHOW"
	case "CreateTableAs":
		return "CREATE ... AS"
	case "Explain":
		return "EXPLAIN"
	case "Copy":
		return "COPY"
	case "Load":
		return "LOAD"
	case "Call":
		return "CALL"
	}
	return strings.ToUpper(kind)
}

func touched(uses []*tableUse) (tables, resources []string) {
	t, r := map[string]bool{}, map[string]bool{}
	for _, u := range uses {
		t[u.table.Name] = true
		if u.table.Resource != "" {
			r[u.table.Resource] = true
		}
	}
	return sortedKeys(t), sortedKeys(r)
}

func rowCap(uses []*tableUse) int {
	c := 0
	for _, u := range uses {
		if u.table.Rule.Kind == RuleList && (c == 0 || u.table.Rule.RowCap < c) {
			c = u.table.Rule.RowCap
		}
	}
	return c
}

// scanCheck looks at the tokens before parsing: comments (which can hide
// intent from the person reviewing the query log) and nesting, which a
// deep enough query would otherwise spend in the parser's recursion.
func scanCheck(sql string, limits Limits) *refusal {
	sr, err := pg.Scan(sql)
	if err != nil {
		return refuse(CodeParseError, -1, "scanner: "+err.Error(), "detail", cleanErr(err))
	}
	depth, maxDepth := 0, 0
	for _, t := range sr.Tokens {
		switch t.Token {
		case pg.Token_IDENT:
			// The rewrite's own names start with __gs; a query that used
			// one could bind what the rewrite adds (a unit, a flag).
			name := strings.Trim(sql[t.Start:t.End], `"`)
			if len(name) >= 4 && strings.EqualFold(name[:4], "__gs") {
				return refuse(CodeReservedName, t.Start, "reserved name "+name, "name", name)
			}
		case pg.Token_SQL_COMMENT, pg.Token_C_COMMENT:
			return refuse(CodeComment, t.Start, "comment in the query")
		case pg.Token_ASCII_40, pg.Token_ASCII_91:
			depth++
			maxDepth = max(maxDepth, depth)
		case pg.Token_ASCII_41, pg.Token_ASCII_93:
			depth--
		}
	}
	if maxDepth > limits.MaxDepth {
		return refuse(CodeTooDeep, -1, fmt.Sprintf("parentheses nested %d deep, above %d", maxDepth, limits.MaxDepth),
			"max", strconv.Itoa(limits.MaxDepth))
	}
	return nil
}

// CheckText refuses text no query may hold (NUL, control characters,
// invalid UTF-8) before anything else looks at it, whichever way it will
// run; Allowed is set when the text is clean.
func CheckText(sql string) Decision {
	if r := controlCheck(sql); r != nil {
		return r.decision()
	}
	return Decision{Allowed: true, Code: CodeOK, Key: "policy.ok", Message: Message(CodeOK, nil), Location: -1, Args: map[string]string{}}
}

// controlCheck refuses text that the parser, the engine and the audit log
// could each read differently: invalid UTF-8, NUL (which C strings end
// at, so what is checked and what is stored would differ) and other
// control characters. Tab, line feed and carriage return are layout.
func controlCheck(sql string) *refusal {
	if !utf8.ValidString(sql) {
		i := 0
		for i < len(sql) {
			r, n := utf8.DecodeRuneInString(sql[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return refuse(CodeControlChar, int32(i), "invalid UTF-8", "offset", strconv.Itoa(i))
	}
	for i, r := range sql {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029 {
			return refuse(CodeControlChar, int32(i), fmt.Sprintf("control character U+%04X", r), "offset", strconv.Itoa(i))
		}
	}
	return nil
}

func cleanErr(err error) string {
	return strings.TrimSuffix(strings.TrimSpace(err.Error()), ".")
}

// parseRefusal explains a query PostgreSQL's grammar rejects: several
// statements, a statement of another dialect, or a plain syntax error.
func parseRefusal(sql string, err error) *refusal {
	if strings.Contains(err.Error(), "stack depth") {
		return refuse(CodeTooDeep, -1, "parser stack depth", "max", "parser limit")
	}
	sr, serr := pg.Scan(sql)
	if serr == nil && len(sr.Tokens) > 0 {
		semi := false
		for _, t := range sr.Tokens {
			if t.Token == pg.Token_ASCII_59 {
				semi = true
				continue
			}
			if semi {
				return refuse(CodeMultipleStatements, t.Start, "more than one statement")
			}
		}
		first := sr.Tokens[0]
		word := strings.ToUpper(sql[first.Start:first.End])
		if nonSelectWords[word] {
			return refuse(CodeNotSelect, first.Start, "statement "+word, "detail", word)
		}
	}
	return refuse(CodeParseError, -1, "parser: "+err.Error(), "detail", cleanErr(err))
}

// CheckMock decides what may run on mock data, where no policy on columns
// applies (the rows are generated) but the engine itself must stay out of
// reach: no table function (files, settings, catalogs), no system
// relation, nothing but one SELECT over clean text.
func CheckMock(sql string) Decision {
	if d := CheckText(sql); !d.Allowed {
		return d
	}
	tree, err := pg.Parse(sql)
	if err != nil {
		return parseRefusal(sql, err).decision()
	}
	if len(tree.Stmts) != 1 || tree.Stmts[0].Stmt.GetSelectStmt() == nil {
		return refuse(CodeNotSelect, 0, "not one SELECT", "detail", "this statement").decision()
	}
	var bad *refusal
	visitNodes(tree.Stmts[0].Stmt, func(n *pg.Node) bool {
		if bad != nil {
			return false
		}
		switch {
		case n.GetRangeFunction() != nil:
			bad = refuse(CodeTableFunction, -1, "function in FROM", "function", "FROM function")
		case n.GetRangeVar() != nil:
			rv := n.GetRangeVar()
			full := rv.Relname
			if rv.Schemaname != "" {
				full = rv.Schemaname + "." + full
			}
			if isSystemRelation(strings.ToLower(rv.Schemaname), strings.ToLower(rv.Relname)) || rv.Catalogname != "" {
				bad = refuse(CodeSystemCatalog, rv.Location, "system relation "+full, "table", full)
			}
		case n.GetFuncCall() != nil:
			name := funcName(n.GetFuncCall())
			if base := name[strings.LastIndex(name, ".")+1:]; isTableFunction(base) || base == "version" || strings.Contains(name, ".") {
				bad = refuse(CodeTableFunction, n.GetFuncCall().Location, "system function "+name, "function", name)
			}
		}
		return true
	})
	if bad != nil {
		return bad.decision()
	}
	return CheckText(sql)
}
