package policy

import (
	"testing"
)

func TestCheckOutput(t *testing.T) {
	cat := testCatalog()
	agg, d := Rewrite("SELECT district, count(*) FROM social_insurance GROUP BY district", cat, Options{})
	if !d.Allowed {
		t.Fatal(d.Code)
	}
	names, d := Rewrite("SELECT district_name, population FROM district_info", cat, Options{})
	if !d.Allowed {
		t.Fatal(d.Code)
	}
	names.Names = []bool{true, false} // as if district_name were a column of person names
	cols := []string{"district", "count", "__gs_units_0"}
	cases := []struct {
		name string
		plan Plan
		cols []string
		rows [][]any
		want Code
	}{
		{"passes and strips internal columns", agg, cols, [][]any{{"360102", int64(120), int64(40)}}, CodeOK},
		// R12.1: the threshold is checked again on the output.
		{"small group", agg, cols, [][]any{{"360102", int64(12), int64(3)}}, CodeSmallGroup},
		{"unit count not a number", agg, cols, [][]any{{"360102", int64(12), "many"}}, CodeSmallGroup},
		{"resident id", agg, cols, [][]any{{"11010519491231002X", int64(12), int64(30)}}, CodeIdentifier},
		{"resident id inside text", agg, cols, [][]any{{"id:11010519491231002X;", int64(12), int64(30)}}, CodeIdentifier},
		{"id with a wrong check digit is not an id", agg, cols, [][]any{{"110105194912310021", int64(12), int64(30)}}, CodeOK},
		{"mobile", agg, cols, [][]any{{"13812345678", int64(12), int64(30)}}, CodeIdentifier},
		{"mobile with prefix", agg, cols, [][]any{{"+86 138-1234-5678", int64(12), int64(30)}}, CodeIdentifier},
		{"a large sum is not a phone number", agg, cols, [][]any{{"360102", float64(13812345678), int64(30)}}, CodeOK},
		{"person name in a tagged column", names, []string{"district_name", "population"}, [][]any{{"王小明", int64(5)}}, CodeIdentifier},
		{"place name in a tagged column", names, []string{"district_name", "population"}, [][]any{{"东湖区", int64(5)}}, CodeOK},
		{"too few columns", agg, cols[:2], [][]any{{"360102", int64(1)}}, CodeOutputShape},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, d := CheckOutput(c.plan, c.cols, c.rows)
			if d.Code != c.want {
				t.Fatalf("code %s (%s), want %s", d.Code, d.Rule, c.want)
			}
			if d.Allowed && len(rows) > 0 && len(rows[0]) != c.plan.Columns {
				t.Errorf("internal columns kept: %v", rows[0])
			}
		})
	}
	capped := names
	capped.RowCap = 1
	if _, d := CheckOutput(capped, []string{"a", "b"}, [][]any{{"x", 1}, {"y", 2}}); d.Code != CodeRowCap {
		t.Errorf("row cap: %s", d.Code)
	}
}
