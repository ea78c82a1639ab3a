package policy

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// testCatalog is a realistic workspace: three resources of different
// departments keyed by person or enterprise, one public list table and one
// table under differential privacy.
func testCatalog() Catalog {
	return Catalog{
		Schema: "main",
		Tables: []Table{
			{Name: "social_insurance", Resource: "JX-HRSS-0001", Unit: "person_id",
				Rule:     Rule{Kind: RuleAggregation, K: 10},
				UnitRows: &UnitRows{Max: 6, Null: 3},
				Columns: []Column{
					{Name: "person_id", Role: Filter, Identifier: true},
					{Name: "name", Role: Hidden, Identifier: true, PersonNames: true},
					{Name: "phone", Role: Hidden, Identifier: true},
					{Name: "insured_status", Role: Filter},
					{Name: "district", Role: Group, Type: "VARCHAR"},
					{Name: "industry", Role: Group},
					{Name: "gender", Role: Group},
					{Name: "birth_year", Role: Group, Type: "BIGINT"},
					{Name: "month", Role: Group, Type: "VARCHAR"},
					{Name: "employer_code", Role: Join},
					{Name: "amount", Role: Aggregate, Aggregates: []string{"count", "sum", "avg", "stddev", "max"}},
				}},
			{Name: "enterprise", Resource: "JX-AMR-0002", Unit: "credit_code",
				Rule:     Rule{Kind: RuleAggregation, K: 5},
				UnitRows: &UnitRows{Max: 1},
				Columns: []Column{
					{Name: "credit_code", Role: Join, Identifier: true},
					{Name: "ent_name", Role: Hidden},
					{Name: "legal_rep", Role: Hidden, Identifier: true, PersonNames: true},
					{Name: "district", Role: Group},
					{Name: "industry", Role: Group},
					{Name: "status", Role: Group},
					{Name: "founding_date", Role: Group, Identifying: true},
					{Name: "registered_capital", Role: Aggregate, Aggregates: []string{"count", "sum", "avg"}},
				}},
			{Name: "tax_grade", Resource: "JX-TAX-0003", Unit: "credit_code",
				Rule: Rule{Kind: RuleAggregation, K: 5},
				Columns: []Column{
					{Name: "credit_code", Role: Join, Identifier: true},
					{Name: "grade", Role: Group},
					{Name: "year", Role: Group},
				}},
			{Name: "district_info", Resource: "JX-STAT-0004",
				Rule: Rule{Kind: RuleList, RowCap: 200},
				Columns: []Column{
					{Name: "district", Role: Visible},
					{Name: "district_name", Role: Visible},
					{Name: "population", Role: Visible},
					{Name: "category", Role: Group},
				}},
			{Name: "medical_visits", Resource: "JX-HEALTH-0005", Unit: "person_id",
				Rule: Rule{Kind: RuleDP, MaxGroupsPerUnit: 3, MaxRowsPerGroup: 2},
				Columns: []Column{
					{Name: "person_id", Role: Filter, Identifier: true},
					{Name: "district", Role: Group},
					{Name: "visit_month", Role: Group},
					{Name: "cost", Role: Aggregate, Lower: 0, Upper: 5000},
				}},
		},
	}
}

type corpusEntry struct {
	line int
	code Code
	sql  string
}

// readCorpus reads a testdata file of queries, one a line, optionally
// prefixed by an expected code and a tab; lines starting with # are notes.
func readCorpus(tb testing.TB, path string, withCode bool) []corpusEntry {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []corpusEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e := corpusEntry{line: n, sql: line}
		if withCode {
			code, sql, ok := strings.Cut(line, "\t")
			if !ok {
				tb.Fatalf("%s:%d: no tab between code and query", path, n)
			}
			e.code, e.sql = Code(code), sql
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}
