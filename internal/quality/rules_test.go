package quality

import (
	"os"
	"testing"
)

// TestRulesFile parses the example of docs/quality-rules.md and checks
// the defaults it relies on.
func TestRulesFile(t *testing.T) {
	b, err := os.ReadFile("testdata/rules.json")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ParseRules(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(rs.Rules) != 14 || rs.Rules[0].ID != "not_null:id_card" || rs.Rules[2].ID != "one_payment_per_person_and_day" ||
		rs.Rules[1].ID != "unique:record_id" || string(*rs.Rules[8].Max) != "10000" || rs.Rules[9].Min == nil {
		t.Fatalf("parsed %+v", rs)
	}
	again, err := ParseRules(rs.JSON())
	if err != nil || len(again.Rules) != 14 {
		t.Fatalf("round trip: %v", err)
	}
}

// TestValidate names the rule and the mistake for each bad declaration.
func TestValidate(t *testing.T) {
	b := func(s string) *Bound { x := Bound(s); return &x }
	tests := []struct {
		name string
		rule Rule
		key  string
	}{
		{"no column", Rule{Type: NotNull}, "quality.column_required"},
		{"no key columns", Rule{Type: Unique}, "quality.columns_required"},
		{"unknown type", Rule{Type: "sane", Column: "a"}, "quality.bad_type"},
		{"unknown format", Rule{Type: Format, Column: "a", Format: "email"}, "quality.bad_format"},
		{"bad layout", Rule{Type: Format, Column: "a", Format: Date, Layout: "Jan 2 2006"}, "quality.bad_layout"},
		{"no pattern", Rule{Type: Format, Column: "a", Format: Regexp}, "quality.pattern_required"},
		{"bad pattern", Rule{Type: Format, Column: "a", Format: Regexp, Pattern: "(a"}, "quality.bad_pattern"},
		{"no bounds", Rule{Type: Range, Column: "a"}, "quality.bound_required"},
		{"bad bound", Rule{Type: Range, Column: "a", Min: b("ten")}, "quality.bad_bound"},
		{"mixed bounds", Rule{Type: Range, Column: "a", Min: b("1"), Max: b("2024-01-01")}, "quality.mixed_bounds"},
		{"min above max", Rule{Type: Range, Column: "a", Min: b("5"), Max: b("1")}, "quality.min_above_max"},
		{"no values", Rule{Type: Allowed, Column: "a"}, "quality.values_required"},
		{"no reference", Rule{Type: Reference, Column: "a"}, "quality.reference_required"},
		{"bad frequency", Rule{Type: Freshness, Frequency: "hourly"}, "quality.bad_frequency"},
		{"negative age", Rule{Type: Freshness, MaxAgeDays: -1}, "quality.bad_max_age"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := Problems(Rules{Rules: []Rule{tt.rule}}.Validate())
			if len(ps) != 1 || ps[0].Key != tt.key || ps[0].Args["rule"] == "" {
				t.Fatalf("problems %+v, want one %s naming the rule", ps, tt.key)
			}
		})
	}
	dup := Rules{Rules: []Rule{{Type: NotNull, Column: "a"}, {Type: NotNull, Column: "a"}}}
	if ps := Problems(dup.Validate()); len(ps) != 1 || ps[0].Key != "quality.duplicate_id" {
		t.Fatalf("duplicate: %+v", ps)
	}
	if ps := Problems(Rules{Schedule: "hourly"}.Validate()); len(ps) != 1 || ps[0].Key != "quality.bad_schedule" {
		t.Fatalf("schedule: %+v", ps)
	}
	if _, err := ParseRules([]byte(`{"rules": [{"type": "not_null", "colum": "a"}]}`)); err == nil {
		t.Fatal("misspelt field accepted")
	}
}

// TestScore pins the formula: weighted mean of the dimensions present.
func TestScore(t *testing.T) {
	dims, score := Score([]Result{
		{Dimension: Completeness, Checked: 10, PassRatio: 1},
		{Dimension: Validity, Checked: 10, PassRatio: 0.5},
		{Dimension: Timeliness, Checked: 0, PassRatio: 1}, // nothing checked: left out
	})
	if len(dims) != 2 || score != 75 {
		t.Fatalf("dims %+v score %v", dims, score)
	}
	if _, s := Score(nil); s != 0 {
		t.Fatalf("empty score %v", s)
	}
}
