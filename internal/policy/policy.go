// Package policy owns the decision whether an operator's SQL may run against
// the data domain, and the SQL that actually runs: it parses the text with
// PostgreSQL's own grammar (pg_query), accepts exactly one plain SELECT,
// derives every expression's capability bottom-up from the column roles of
// the catalog it is given (hidden, filter, join, group, aggregate, visible;
// the way SecretFlow SCQL derives its column control lists) through
// subqueries, CTEs, joins, casts and functions, enforces the table's
// analysis rule (aggregation with a minimum of k distinct privacy units per
// group, list with a row cap, or differential privacy), rewrites the query
// so that the engine itself applies thresholds and contribution bounds, and
// checks results before they leave. It is pure: no database, no clock, no
// logging, no randomness (noise is added by the caller with internal/dp
// from the plan returned here).
package policy

import (
	"fmt"
	"sort"
	"strings"
)

// Role says how a column may be used in an operator's query (R12.1).
type Role string

const (
	// Hidden columns may not be referenced at all.
	Hidden Role = "hidden"
	// Filter columns may appear in WHERE and JOIN ... ON conditions only.
	Filter Role = "filter"
	// Join columns may appear only as equality keys of JOIN ... ON.
	Join Role = "join"
	// Group columns may be GROUP BY keys, appear in output next to
	// aggregates, in conditions and inside any allowed aggregate.
	Group Role = "group"
	// Aggregate columns may appear only inside the aggregate functions
	// the column lists.
	Aggregate Role = "aggregate"
	// Visible columns may be output raw; they hold low-grade, already
	// public data, and only they may be listed under the list rule.
	Visible Role = "visible"
)

// RuleKind is a table's analysis rule.
type RuleKind string

const (
	// RuleAggregation releases only groups of at least K distinct units.
	RuleAggregation RuleKind = "aggregation"
	// RuleList releases rows of visible columns, at most RowCap of them.
	RuleList RuleKind = "list"
	// RuleDP releases aggregates with discrete noise after per-unit
	// contribution bounding and noisy partition selection.
	RuleDP RuleKind = "differential_privacy"
)

// strictness orders rules: when tables of different rules meet in one
// query, the strictest rule governs the whole query.
func (k RuleKind) strictness() int {
	switch k {
	case RuleList:
		return 1
	case RuleAggregation:
		return 2
	case RuleDP:
		return 3
	}
	return 0
}

// Rule is a table's analysis rule and its parameters.
type Rule struct {
	Kind RuleKind
	// K is the minimum number of distinct privacy units in every released
	// group (aggregation rule; also applied under DP as a floor).
	K int
	// RowCap bounds the rows of a list query.
	RowCap int
	// MaxGroupsPerUnit bounds how many groups one unit may contribute to
	// under DP (L0 bound); default 1.
	MaxGroupsPerUnit int
	// MaxRowsPerGroup bounds how many rows one unit may add to a group's
	// COUNT under DP (L∞ bound for counts); default 1.
	MaxRowsPerGroup int
}

// Column is one column of a table with its role.
type Column struct {
	Name string
	Role Role
	// Aggregates lists the aggregate functions the column may be the
	// argument of (lower case: count, sum, avg, stddev, variance, min,
	// max). For an Aggregate column an empty list means count, sum and
	// avg. Group and Visible columns may be in any allowed aggregate.
	// MIN and MAX are never allowed on protected columns, whatever the
	// list says, because they return one unit's raw value.
	Aggregates []string
	// Identifier marks a direct identifier (ID number, credit code, phone
	// number, name): comparing it with a literal singles a unit out.
	Identifier bool
	// PersonNames marks a column holding names of persons, so that the
	// output check scans values derived from it for names.
	PersonNames bool
	// Lower and Upper clamp one unit's contribution to a SUM or AVG of this
	// column under DP; required for those aggregates there.
	Lower, Upper int64
	// Identifying marks a column measured to nearly single out units (about
	// as many distinct values as units: an exact birth date, an address,
	// a name): it is a group key or an output only through a coarsening
	// (a year or month of a date, a short prefix, a band).
	Identifying bool
	// NotNull says the data version holds no NULL in the column (a
	// measured fact of the immutable version): a number over it then has
	// exactly the contributors of its group, and needs no count of its own.
	NotNull bool
	// WithinBounds says every value of the column in the data version lies
	// in [Lower, Upper] (measured): clamping a row then changes nothing,
	// and the DP rewrite's row form leaves it out.
	WithinBounds bool
	// Type is the engine's type of the column (VARCHAR, BIGINT, DATE …),
	// when known: a text column may not be cast to another type, since
	// the cast could fail for some values only.
	Type string
}

// IsNumericType reports whether an engine type name holds numbers.
func IsNumericType(t string) bool {
	t = strings.ToUpper(t)
	for _, p := range []string{"TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
		"UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "REAL", "DOUBLE", "DECIMAL", "NUMERIC"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

// listsExtreme: the column's policy lists min or max, the recorded
// allowance for order statistics on a number.
func listsExtreme(c Column) bool {
	for _, a := range c.Aggregates {
		if a = strings.ToLower(a); a == "min" || a == "max" {
			return true
		}
	}
	return false
}

// isTextType reports whether an engine type name holds text.
func isTextType(t string) bool {
	t = strings.ToUpper(t)
	return strings.HasPrefix(t, "VARCHAR") || t == "TEXT" || t == "STRING" || strings.HasPrefix(t, "CHAR") ||
		strings.HasPrefix(t, "CHARACTER") || t == "BPCHAR"
}

// Table is one table the operator may use, with its policy.
type Table struct {
	// Name is the SQL table name in the domain schema.
	Name string
	// Resource is the registry identifier of the data resource.
	Resource string
	// Relation is the table the engine reads when it differs from Name
	// (a resource's current version table behind a stable alias); the
	// rewrite reads it, unqualified, under the alias Name.
	Relation string
	// Unit is the privacy-unit column (person or enterprise identifier).
	Unit    string
	Rule    Rule
	Columns []Column
	// UnitRows, when known, bounds the rows each privacy unit has in the
	// relation (a fact of its immutable data version). It lets the
	// aggregation threshold be settled by counting rows instead of
	// distinct units; see FastPlan.
	UnitRows *UnitRows
}

// UnitRows is how rows spread over privacy units in one relation.
type UnitRows struct {
	// Max is the most rows any one (non-null) unit has.
	Max int64
	// Null is how many rows have no unit.
	Null int64
}

// Catalog is everything a query may touch.
type Catalog struct {
	// Schema is the one schema a table name may be qualified with (for
	// example "main" on DuckDB or "domain" on PostgreSQL); empty allows
	// only unqualified names.
	Schema string
	Tables []Table
	Limits Limits
}

// Limits bound the size of the query text and its nesting.
type Limits struct {
	MaxLength int // bytes of SQL; default 16384
	MaxDepth  int // nesting of parentheses, expressions and subqueries; default 32
}

// DefaultLimits are generous for analytic queries written by a person and
// small enough to keep parsing and checking in the microseconds.
var defaultLimits = Limits{MaxLength: 16384, MaxDepth: 32}

func (l Limits) withDefaults() Limits {
	if l.MaxLength <= 0 {
		l.MaxLength = defaultLimits.MaxLength
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = defaultLimits.MaxDepth
	}
	return l
}

// Validate reports a catalog that cannot be enforced: unknown roles, a
// unit column that is missing or outputtable, rules without parameters.
func (c Catalog) Validate() error {
	seen := map[string]bool{}
	for _, t := range c.Tables {
		if t.Name == "" {
			return fmt.Errorf("policy: catalog: a table has no name")
		}
		if seen[t.Name] {
			return fmt.Errorf("policy: catalog: table %q is listed twice", t.Name)
		}
		seen[t.Name] = true
		switch t.Rule.Kind {
		case RuleAggregation:
			if t.Rule.K < 2 {
				return fmt.Errorf("policy: catalog: table %q: the aggregation rule needs k >= 2", t.Name)
			}
		case RuleList:
			if t.Rule.RowCap <= 0 {
				return fmt.Errorf("policy: catalog: table %q: the list rule needs a row cap", t.Name)
			}
		case RuleDP:
		default:
			return fmt.Errorf("policy: catalog: table %q: unknown analysis rule %q", t.Name, t.Rule.Kind)
		}
		unit := false
		for _, col := range t.Columns {
			switch col.Role {
			case Hidden, Filter, Join, Group, Aggregate, Visible:
			default:
				return fmt.Errorf("policy: catalog: column %s.%s: unknown role %q", t.Name, col.Name, col.Role)
			}
			if col.Name == t.Unit {
				unit = true
				if col.Role == Group || col.Role == Visible {
					return fmt.Errorf("policy: catalog: table %q: the privacy unit %q cannot be %s", t.Name, col.Name, col.Role)
				}
			}
		}
		if t.Rule.Kind != RuleList && !unit {
			return fmt.Errorf("policy: catalog: table %q: privacy unit column %q is not among its columns", t.Name, t.Unit)
		}
	}
	return nil
}

// table finds a catalog table by name, without case (as the engines
// resolve unquoted names, and DuckDB quoted ones too).
func (c Catalog) table(name string) *Table {
	for i := range c.Tables {
		if strings.EqualFold(c.Tables[i].Name, name) {
			return &c.Tables[i]
		}
	}
	return nil
}

// shadows reports whether name would hide a catalog table or the engine
// relation behind one, whatever its case.
func (c Catalog) shadows(name string) bool {
	for _, t := range c.Tables {
		if strings.EqualFold(t.Name, name) || (t.Relation != "" && strings.EqualFold(t.Relation, name)) {
			return true
		}
	}
	return false
}

// Code is a stable machine-readable reason for a decision.
type Code string

// Reason codes. They are part of the API: the web layer maps them to
// messages (internal/i18n key "policy.<code>") and tests assert them.
const (
	CodeOK                 Code = "ok"
	CodeParseError         Code = "parse_error"
	CodeTooLong            Code = "too_long"
	CodeTooDeep            Code = "too_deep"
	CodeComment            Code = "comment"
	CodeMultipleStatements Code = "multiple_statements"
	CodeNotSelect          Code = "not_select"
	CodeSetOperation       Code = "set_operation"
	CodeSelectStar         Code = "select_star"
	CodeUnknownRelation    Code = "unknown_relation"
	CodeSystemCatalog      Code = "system_catalog"
	CodeTableFunction      Code = "table_function"
	CodeNoRelation         Code = "no_relation"
	CodeUnknownColumn      Code = "unknown_column"
	CodeAmbiguousColumn    Code = "ambiguous_column"
	CodeHiddenColumn       Code = "hidden_column"
	CodeFilterOnly         Code = "filter_only"
	CodeJoinOnly           Code = "join_only"
	CodeAggregateOnly      Code = "aggregate_only"
	CodeNotVisible         Code = "not_visible"
	CodeAggregateNotAllow  Code = "aggregate_not_allowed"
	CodeLeakingAggregate   Code = "leaking_aggregate"
	CodeFunctionNotAllowed Code = "function_not_allowed"
	CodeCastNotAllowed     Code = "cast_not_allowed"
	CodeWindowFunction     Code = "window_function"
	CodeGroupByUnit        Code = "group_by_unit"
	CodeSinglingOut        Code = "singling_out"
	CodeNotAggregated      Code = "not_aggregated"
	CodeNestedAggregate    Code = "nested_aggregate"
	CodeOrderLimit         Code = "order_limit"
	CodeSubqueryExpression Code = "subquery_expression"
	CodeJoinCondition      Code = "join_condition"
	CodeJoinUsing          Code = "join_using"
	CodeGroupingSets       Code = "grouping_sets"
	CodeRecursiveCTE       Code = "recursive_cte"
	CodeUnsupported        Code = "unsupported"
	CodeDPUnsupported      Code = "dp_unsupported"
	CodeRuleMismatch       Code = "rule_mismatch"
	CodeBadCatalog         Code = "bad_catalog"
	CodeControlChar        Code = "control_character"
	CodeReservedName       Code = "reserved_name"
	CodeShadowedName       Code = "shadowed_name"
	CodeProtectedExpr      Code = "protected_expression"
	CodeJoinKey            Code = "join_key"
	CodeOuterJoinFilter    Code = "outer_join_condition"
	CodeMixedRelease       Code = "mixed_release"
	CodeFailingExpr        Code = "failing_expression"
	CodeIdentifyingColumn  Code = "identifying_column"
	// Output check codes.
	CodeSmallGroup  Code = "small_group"
	CodeIdentifier  Code = "identifier_in_output"
	CodeRowCap      Code = "row_cap"
	CodeOutputShape Code = "output_shape"
)

// Codes lists every reason code, for catalogs and documentation.
func Codes() []Code {
	return []Code{CodeOK, CodeParseError, CodeTooLong, CodeTooDeep, CodeComment, CodeMultipleStatements,
		CodeNotSelect, CodeSetOperation, CodeSelectStar, CodeUnknownRelation, CodeSystemCatalog,
		CodeTableFunction, CodeNoRelation, CodeUnknownColumn, CodeAmbiguousColumn, CodeHiddenColumn,
		CodeFilterOnly, CodeJoinOnly, CodeAggregateOnly, CodeNotVisible, CodeAggregateNotAllow,
		CodeLeakingAggregate, CodeFunctionNotAllowed, CodeCastNotAllowed, CodeWindowFunction,
		CodeGroupByUnit, CodeSinglingOut, CodeNotAggregated, CodeNestedAggregate, CodeOrderLimit,
		CodeSubqueryExpression, CodeJoinCondition, CodeJoinUsing, CodeGroupingSets, CodeRecursiveCTE,
		CodeUnsupported, CodeDPUnsupported, CodeRuleMismatch, CodeBadCatalog, CodeControlChar,
		CodeReservedName, CodeShadowedName, CodeProtectedExpr, CodeJoinKey, CodeOuterJoinFilter,
		CodeMixedRelease, CodeFailingExpr, CodeIdentifyingColumn, CodeSmallGroup,
		CodeIdentifier, CodeRowCap, CodeOutputShape}
}

// Decision is the verdict on one query or one result.
type Decision struct {
	Allowed bool
	Code    Code
	// Message is the reason in English; Key and Args let the web layer
	// render it in the user's language (Key is "policy.<code>").
	Message string
	Key     string
	Args    map[string]string
	// Location is the byte offset in the SQL text of the construct that
	// failed, or -1.
	Location int
	// Rule names the rule that decided, e.g. "column social_insurance.amount
	// has role aggregate" or "aggregation rule, k=10".
	Rule string
	// Resources are the registry identifiers of the tables touched, sorted.
	Resources []string
	// Tables are the SQL names of the tables touched, sorted.
	Tables []string
	// Analysis is the rule governing the query (the strictest of the
	// tables touched) and K its threshold (the largest of the tables').
	Analysis RuleKind
	K        int
	// Fingerprint is pg_query's fingerprint of the statement: the same
	// query with other literals or layout has the same fingerprint.
	Fingerprint string
}

// refusal is the internal form of a refused decision, built deep in the
// checker and turned into a Decision at the top.
type refusal struct {
	code Code
	loc  int32
	rule string
	args map[string]string
}

func (r *refusal) Error() string { return string(r.code) + ": " + r.rule }

func refuse(code Code, loc int32, rule string, args ...string) *refusal {
	m := map[string]string{}
	for i := 0; i+1 < len(args); i += 2 {
		m[args[i]] = args[i+1]
	}
	return &refusal{code: code, loc: loc, rule: rule, args: m}
}

// messages are the English texts; internal/i18n holds the same keys under
// "policy." in every language. Placeholders name Args.
var messages = map[Code]string{
	CodeOK:                 "The query is allowed.",
	CodeParseError:         "The query is not valid SQL: {detail}.",
	CodeTooLong:            "The query is longer than {max} bytes; shorten it.",
	CodeTooDeep:            "The query nests deeper than {max} levels; flatten it.",
	CodeComment:            "Remove the comments from the query: every submitted query is reviewed as written.",
	CodeMultipleStatements: "Submit exactly one statement.",
	CodeNotSelect:          "Only SELECT queries may run in the domain; {detail} is not allowed.",
	CodeSetOperation:       "Only UNION ALL of aggregate queries is allowed; INTERSECT, EXCEPT and UNION over rows are not.",
	CodeSelectStar:         "SELECT * is not allowed; name the columns you need.",
	CodeUnknownRelation:    "Table {table} is not among the resources of this workspace.",
	CodeSystemCatalog:      "System catalogs such as {table} are not available in the domain.",
	CodeTableFunction:      "Table functions such as {function} (files, generated rows, catalogs) are not allowed.",
	CodeNoRelation:         "The query reads no table of the workspace.",
	CodeUnknownColumn:      "Column {column} does not exist here or cannot be referenced by name.",
	CodeAmbiguousColumn:    "Column {column} is ambiguous; qualify it with its table.",
	CodeHiddenColumn:       "Column {column} is hidden and may not be used.",
	CodeFilterOnly:         "Column {column} may be used only in WHERE and JOIN conditions.",
	CodeJoinOnly:           "Column {column} may be used only as an equality key in JOIN ... ON.",
	CodeAggregateOnly:      "Column {column} may be used only inside an aggregate function ({aggregates}).",
	CodeNotVisible:         "Column {column} may not be listed row by row; only visible columns may.",
	CodeAggregateNotAllow:  "{function} is not allowed on column {column}; allowed: {aggregates}.",
	CodeLeakingAggregate:   "{function} returns a single unit's value and is not allowed on {column}.",
	CodeFunctionNotAllowed: "Function or operator {function} is not on the allowed list.",
	CodeCastNotAllowed:     "Casting to {type} is not allowed; use a number, text, date, timestamp or boolean type.",
	CodeWindowFunction:     "Window functions are allowed only over aggregates (for example rank() OVER (ORDER BY count(*))), not over rows.",
	CodeGroupByUnit:        "Grouping or output by the privacy unit {column} would release single units.",
	CodeSinglingOut:        "Comparing identifier {column} with a value singles out a person or enterprise.",
	CodeNotAggregated:      "Tables under the {rule} rule release only aggregates: add GROUP BY and aggregate functions.",
	CodeNestedAggregate:    "An aggregate subquery must read the workspace's tables directly or through row-level subqueries; aggregating an aggregate again over rows is not supported.",
	CodeOrderLimit:         "ORDER BY, LIMIT and OFFSET are allowed only on the outermost aggregated query.",
	CodeSubqueryExpression: "Subqueries inside expressions (IN, EXISTS, scalar) and LATERAL are not allowed; use a JOIN.",
	CodeJoinCondition:      "Join tables with JOIN ... ON and an equality of join keys.",
	CodeJoinUsing:          "NATURAL joins are not allowed, and JOIN ... USING only between aggregate subqueries; write JOIN ... ON with the keys.",
	CodeGroupingSets:       "GROUPING SETS, ROLLUP and CUBE are not allowed: subtotals next to suppressed groups reveal them.",
	CodeRecursiveCTE:       "Recursive WITH queries are not allowed.",
	CodeUnsupported:        "The construct {detail} is not supported in the domain.",
	CodeDPUnsupported:      "Under differential privacy only COUNT, SUM and AVG grouped by columns are supported: {detail}.",
	CodeRuleMismatch:       "These tables cannot be combined in one query: {detail}.",
	CodeBadCatalog:         "The workspace policy is inconsistent: {detail}. Tell the agency.",
	CodeControlChar:        "The query contains a NUL byte or another control character at byte {offset}; remove it (tabs and line breaks are fine).",
	CodeReservedName:       "The name {name} is reserved for the platform's rewrite (names starting with __gs); choose another name.",
	CodeShadowedName:       "The WITH query or alias {name} has the name of a workspace table; choose another name.",
	CodeProtectedExpr:      "Column {column} is protected: use it only as the direct argument of {aggregates}, or as a THEN/ELSE value of a CASE that is; do not compute with it.",
	CodeJoinKey:            "Join keys must be columns of the workspace's tables, unchanged; a literal or computed value as a join key would single out a person or enterprise.",
	CodeOuterJoinFilter:    "Conditions on the optional side of an outer join are not supported; put the condition in the WHERE clause of the main query, or use an inner JOIN.",
	CodeMixedRelease:       "An outer query may combine aggregate subqueries, or read tables, but not both; aggregate the table in a subquery first.",
	CodeIdentifyingColumn:  "Column {column} nearly singles out persons or enterprises (measured on this data version): group or output it only coarsened, for example date_trunc('month', …), EXTRACT(year FROM …), left(…, 4), or … / 10 * 10.",
	CodeFailingExpr:        "{what} could fail for some rows and not for others, and whether a query fails must not depend on the data; rewrite the query without it (literals in arithmetic below one billion, positions and lengths as literals between -1000 and 1000, no arithmetic on CASE, no cast of text to other types).",
	CodeSmallGroup:         "A result group covers fewer than {k} distinct units and was withheld.",
	CodeIdentifier:         "The result contains what looks like a {kind} in column {column}; it was withheld.",
	CodeRowCap:             "The result has more than {max} rows.",
	CodeOutputShape:        "The result does not have the shape the rewritten query promised.",
}

// Message renders a code's English message with args.
func Message(code Code, args map[string]string) string {
	m, ok := messages[code]
	if !ok {
		return string(code)
	}
	for k, v := range args {
		m = strings.ReplaceAll(m, "{"+k+"}", v)
	}
	return m
}

func (r *refusal) decision() Decision {
	args := r.args
	if args == nil {
		args = map[string]string{}
	}
	return Decision{Code: r.code, Message: Message(r.code, args), Key: "policy." + string(r.code),
		Args: args, Location: int(r.loc), Rule: r.rule}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
