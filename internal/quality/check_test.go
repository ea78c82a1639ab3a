package quality

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gongshu/gongshu/internal/identity"
	"github.com/gongshu/gongshu/internal/pii"
)

var update = flag.Bool("update", false, "rewrite golden files")

func validID(body string) string { return body + string(pii.ResidentCheckDigit(body)) }

func badID(body string) string {
	c := pii.ResidentCheckDigit(body)
	if c == '0' {
		return body + "1"
	}
	return body + "0"
}

func validCC(body8 string) string { return identity.MakeCreditCode('9', '1', "360102", body8) }

func badCC(body8 string) string {
	cc := []byte(validCC(body8))
	if cc[17] == '0' {
		cc[17] = '1'
	} else {
		cc[17] = '0'
	}
	return string(cc)
}

// defectRows is a resource of payments with one known defect per row
// after the first: the comment on each row names the rule it breaks.
func defectRows() [][]string {
	type row struct {
		id                                           int
		idCard, cc, mobile, amount, district, paidOn string
		reported                                     string
	}
	rows := []row{
		{1, validID("36010219800101001"), validCC("MA35XY1B"), "13800138000", "100.00", "东湖区", "2025-01-01", "2025-01-02"},
		{2, "<null>", validCC("MA35XY2B"), "13900139000", "200.00", "西湖区", "2025-01-02", "2025-01-03"}, // not_null:id_card
		{3, validID("36010219800101003"), validCC("MA35XY3B"), "13700137000", "300.00", "东湖区", "2025-01-03", "2025-01-04"},
		{3, validID("36010219800101004"), validCC("MA35XY4B"), "13700137001", "300.00", "东湖区", "2025-01-03", "2025-01-04"},   // unique:record_id
		{5, badID("36010219800101005"), validCC("MA35XY5B"), "13700137002", "500.00", "青山湖区", "2025-01-05", "2025-01-06"},    // format:id_card
		{6, validID("36010219800101006"), badCC("MA35XY6B"), "13700137003", "600.00", "东湖区", "2025-01-06", "2025-01-07"},     // format:credit_code
		{7, validID("36010219800101007"), validCC("MA35XY7B"), "1234", "700.00", "东湖区", "2025-01-07", "2025-01-08"},          // format:mobile
		{8, validID("36010219800101008"), validCC("MA35XY8B"), "13700137004", "-5.00", "东湖区", "2025-01-08", "2025-01-09"},    // range:amount
		{9, validID("36010219800101009"), validCC("MA35XY9B"), "13700137005", "900.00", "红谷滩区", "2025-01-09", "2025-01-10"},  // reference:district
		{10, validID("36010219800101010"), validCC("MA35XYAB"), "13700137006", "1000.00", "火星区", "2025-01-10", "2025-01-11"}, // allowed and reference
		{11, validID("36010219800101011"), validCC("MA35XYBB"), "<null>", "1100.00", "西湖区", "2025-01-10", "2025-01-12"},      // not_null:mobile
		{12, validID("36010219800101012"), validCC("MA35XYCB"), "13700137007", "1200.00", "西湖区", "2025-01-10", "2024-02-30"}, // format:reported
	}
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = []string{intLit(r.id), lit(r.idCard), lit(r.cc), lit(r.mobile), "CAST(" + r.amount + " AS DECIMAL(10,2))",
			lit(r.district), "DATE " + lit(r.paidOn), lit(r.reported)}
	}
	return out
}

var defectColumns = []string{"record_id INTEGER", "id_card VARCHAR", "credit_code VARCHAR", "mobile VARCHAR",
	"amount DECIMAL(10,2)", "district VARCHAR", "paid_on DATE", "reported VARCHAR"}

// defectRules declares one rule of every kind over the defect resource;
// resource 2 is the district code table it references.
func defectRules() Rules {
	b := func(s string) *Bound { x := Bound(s); return &x }
	return Rules{Key: "record_id", Rules: []Rule{
		{Type: NotNull, Column: "id_card"},
		{Type: NotNull, Column: "mobile"},
		{Type: Unique, Columns: []string{"record_id"}},
		{Type: Format, Column: "id_card", Format: IDCard},
		{Type: Format, Column: "credit_code", Format: CreditCode},
		{Type: Format, Column: "mobile", Format: Mobile},
		{Type: Format, Column: "reported", Format: Date, Layout: "2006-01-02"},
		{Type: Range, Column: "amount", Min: b("0"), Max: b("10000")},
		{Type: Allowed, Column: "district", Values: []string{"东湖区", "西湖区", "青山湖区", "红谷滩区"}},
		{Type: Reference, Column: "district", Resource: 2, RefColumn: "name"},
		{Type: Freshness, Column: "paid_on"},
		{ID: "freshness:load", Type: Freshness},
	}}
}

// defectNow is 2025-03-01 in Shanghai: paid_on's newest date, 2025-01-10,
// is stale for a daily resource; the load an hour ago is fresh.
var defectNow = time.Date(2025, 3, 1, 2, 0, 0, 0, time.UTC)

func loadDefects(t testing.TB, d testDomain) {
	t.Helper()
	createTable(t, d, "r1_v1", defectColumns, defectRows())
	createTable(t, d, "r2_v1", []string{"name VARCHAR"}, [][]string{{lit("东湖区")}, {lit("西湖区")}, {lit("青山湖区")}, {lit("西湖区")}})
}

// TestKnownDefects is the acceptance test: a resource loaded with
// known defects (nulls, a duplicate key, bad check characters, an invalid
// mobile and date, an out-of-range amount, a disallowed value, dangling
// references, stale data) gets exactly the expected result for each rule,
// on both engines, with the whole report equal to the golden file.
// R6.2: data-quality monitoring; R19.1: the scores feed the evaluation.
func TestKnownDefects(t *testing.T) {
	want := []struct {
		rule            string
		checked, failed int64
	}{
		{"not_null:id_card", 12, 1},
		{"not_null:mobile", 12, 1},
		{"unique:record_id", 12, 1},
		{"format:id_card", 11, 1},
		{"format:credit_code", 12, 1},
		{"format:mobile", 11, 1},
		{"format:reported", 12, 1},
		{"range:amount", 12, 1},
		{"allowed:district", 12, 1},
		{"reference:district", 12, 2},
		{"freshness:paid_on", 1, 1},
		{"freshness:load", 1, 0},
	}
	eachDomain(t, func(t *testing.T, d testDomain) {
		loadDefects(t, d)
		rep, err := Check(context.Background(), d, defectRules(), Target{Table: "r1_v1", Version: 1, LoadedAt: defectNow.Add(-time.Hour)},
			Env{Frequency: "daily", RefTables: map[int64]string{2: "r2_v1"}, Now: defectNow})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Rows != 12 || len(rep.Results) != len(want) {
			t.Fatalf("rows %d, %d results", rep.Rows, len(rep.Results))
		}
		for i, w := range want {
			r := rep.Results[i]
			if r.RuleID != w.rule || r.Checked != w.checked || r.Failed != w.failed {
				t.Errorf("result %d: %s checked %d failed %d, want %s %d %d", i, r.RuleID, r.Checked, r.Failed, w.rule, w.checked, w.failed)
			}
		}
		if rep.Score != 84.1 {
			t.Errorf("score %v, want 84.1", rep.Score)
		}
		golden(t, "defects.golden.json", struct {
			Report  Report
			Samples []Sample
		}{rep, rep.Samples})
	})
}

// golden compares v, as indented JSON, with testdata/name; -update
// rewrites the file.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n%s", name, got)
	}
}

// TestFusedIntoOneScan checks the execution plan's promise: however many
// row-level rules a resource has, scores come from one statement.
func TestFusedIntoOneScan(t *testing.T) {
	eachDomain(t, func(t *testing.T, d testDomain) {
		loadDefects(t, d)
		rep, err := Check(context.Background(), d, defectRules(), Target{Table: "r1_v1", LoadedAt: defectNow},
			Env{Frequency: "daily", RefTables: map[int64]string{2: "r2_v1"}, Now: defectNow, NoSamples: true})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Scans != 1 {
			t.Fatalf("%d statements for the scores, want 1", rep.Scans)
		}
	})
}

func TestCheckErrors(t *testing.T) {
	eachDomain(t, func(t *testing.T, d testDomain) {
		loadDefects(t, d)
		ctx := context.Background()
		env := Env{Frequency: "daily", RefTables: map[int64]string{2: "r2_v1"}, Now: defectNow}
		b := Bound("2020-01-01")
		tests := []struct {
			name  string
			rules Rules
			table string
			key   string
		}{
			{"unknown column", Rules{Rules: []Rule{{Type: NotNull, Column: "idcard"}}}, "r1_v1", "quality.unknown_column"},
			{"unknown key", Rules{Key: "nope", Rules: []Rule{{Type: NotNull, Column: "id_card"}}}, "r1_v1", "quality.unknown_column"},
			{"no table", Rules{Rules: []Rule{{Type: NotNull, Column: "id_card"}}}, "r9_v1", "quality.no_table"},
			{"reference not loaded", Rules{Rules: []Rule{{Type: Reference, Column: "district", Resource: 3, RefColumn: "name"}}}, "r1_v1", "quality.reference_not_loaded"},
			{"unknown ref column", Rules{Rules: []Rule{{Type: Reference, Column: "district", Resource: 2, RefColumn: "code"}}}, "r1_v1", "quality.unknown_column"},
			{"date range on a number", Rules{Rules: []Rule{{Type: Range, Column: "amount", Min: &b}}}, "r1_v1", "quality.column_type"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := Check(ctx, d, tt.rules, Target{Table: tt.table}, env)
				ps := Problems(err)
				if len(ps) != 1 || ps[0].Key != tt.key {
					t.Fatalf("error %v, want %s", err, tt.key)
				}
			})
		}
	})
}
