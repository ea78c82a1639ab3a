package policy

import (
	"math/big"
	"strings"
	"testing"
)

// R12.1: the threshold is in the rewritten query, on every unit read,
// including units reached through subqueries and CTEs.
func TestRewriteAggregation(t *testing.T) {
	cat := testCatalog()
	cases := []struct {
		name, sql, want string
	}{
		{"plain", "SELECT district, count(*) FROM social_insurance GROUP BY district",
			`count(DISTINCT "social_insurance"."person_id") >= 10 AS __gs_pass`},
		{"having over released values", "SELECT district, count(*) FROM enterprise GROUP BY district HAVING count(*) > 3",
			`WHERE __gs_pass AND NOT ((__gs_wu0 > 0 AND __gs_wu0 + __gs_wb0 < 5)) AND (__gs_rp.__gs_a0 > 3)`},
		{"subquery exports the unit", "SELECT s.district, sum(s.amount) FROM (SELECT district, amount FROM social_insurance) s GROUP BY s.district",
			`FROM (SELECT district, amount, social_insurance.person_id AS __gs_u1 FROM social_insurance) s GROUP BY s.district`},
		{"subquery condition lifted and counted", "SELECT s.district, count(*) FROM (SELECT district FROM social_insurance WHERE gender = 'F') s GROUP BY s.district",
			`(SELECT district, gender = 'F' IS TRUE AS __gs_w1, social_insurance.person_id AS __gs_u1 FROM social_insurance) s`},
		{"complement of each term", "SELECT district, count(*) FROM social_insurance WHERE gender = 'F' AND birth_year > 1980 GROUP BY district",
			`count(DISTINCT "social_insurance"."person_id") FILTER (WHERE (gender = 'F') IS TRUE AND (birth_year > 1980) IS NOT TRUE) = 0 OR`},
		{"per-number threshold of a FILTER", "SELECT district, sum(amount) FILTER (WHERE gender = 'F') FROM social_insurance GROUP BY district",
			`CASE WHEN count(DISTINCT "social_insurance"."person_id") FILTER (WHERE (social_insurance.gender = 'F') IS TRUE AND (social_insurance.amount) IS NOT NULL) >= 10`},
		{"inner join ON term lifted", "SELECT t.grade, count(*) FROM enterprise e JOIN tax_grade t ON e.credit_code = t.credit_code AND t.year = 2024 GROUP BY t.grade",
			`FROM enterprise e JOIN tax_grade t ON e.credit_code = t.credit_code GROUP BY t.grade`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, d := Rewrite(c.sql, cat, Options{})
			if !d.Allowed {
				t.Fatalf("refused: %s %s", d.Code, d.Message)
			}
			if !strings.Contains(p.SQL, c.want) {
				t.Errorf("rewrite\n got %s\nlacks %s", p.SQL, c.want)
			}
			if err := verifyPlan(p, cat); err != nil {
				t.Error(err)
			}
		})
	}
}

// The strictest table wins: joining k=10 social insurance with k=5 tax
// grades counts both units against k=10.
func TestStrictestKWins(t *testing.T) {
	p, d := Rewrite("SELECT t.grade, count(*) FROM social_insurance si JOIN tax_grade t ON si.employer_code = t.credit_code GROUP BY t.grade", testCatalog(), Options{})
	if !d.Allowed || d.K != 10 || len(p.UnitCounts) != 2 {
		t.Fatalf("K=%d units=%v allowed=%v %s", d.K, p.UnitCounts, d.Allowed, d.Code)
	}
	for _, want := range []string{`count(DISTINCT "si"."person_id") >= 10`, `count(DISTINCT "t"."credit_code") >= 10`} {
		if !strings.Contains(p.SQL, want) {
			t.Errorf("no threshold %s in %s", want, p.SQL)
		}
	}
	if strings.Join(d.Resources, ",") != "JX-HRSS-0001,JX-TAX-0003" {
		t.Errorf("resources %v", d.Resources)
	}
}

func TestRewriteList(t *testing.T) {
	p, d := Rewrite("SELECT district_name FROM district_info LIMIT 5000", testCatalog(), Options{})
	if !d.Allowed || p.RowCap != 200 || !strings.HasSuffix(p.SQL, "LIMIT 200") {
		t.Fatalf("%+v %s", p, d.Code)
	}
}

// DP: contribution bounding before aggregation, and a noise plan whose
// shares add up to ε.
func TestRewriteDP(t *testing.T) {
	opt := Options{Epsilon: big.NewRat(1, 1), Delta: big.NewRat(1, 1000000)}
	p, d := Rewrite("SELECT district, count(*) AS visits, avg(cost) AS mean_cost FROM medical_visits GROUP BY district", testCatalog(), opt)
	if !d.Allowed {
		t.Fatalf("refused: %s %s", d.Code, d.Message)
	}
	for _, want := range []string{`PARTITION BY "__gs_unit" ORDER BY random()`, `"__gs_rn" <= 3`,
		"LEAST(count(*), 2)", "LEAST(GREATEST(sum(cost), 0), 5000)", `GROUP BY "medical_visits"."person_id", district`} {
		if !strings.Contains(p.SQL, want) {
			t.Errorf("rewrite lacks %q:\n%s", want, p.SQL)
		}
	}
	np := p.Noise
	if np == nil || len(np.Columns) != 2 || np.PartitionColumn != 4 || p.Columns != 3 {
		t.Fatalf("noise plan %+v, columns %d", np, p.Columns)
	}
	total := new(big.Rat).Set(np.PartitionEpsilon)
	for _, c := range np.Columns {
		total.Add(total, c.Epsilon)
		if c.Kind == "avg" {
			total.Add(total, c.Epsilon)
			if c.Sensitivity != 3*5000 || c.CountSensitivity != 3*2 || c.Count != 3 {
				t.Errorf("avg column %+v", c)
			}
		}
	}
	if total.Cmp(opt.Epsilon) != 0 {
		t.Errorf("ε shares add up to %s, want 1", total.RatString())
	}
	for _, sql := range []string{
		"SELECT district, sum(cost) FROM medical_visits GROUP BY district ORDER BY 2",
		"SELECT district, count(DISTINCT visit_month) FROM medical_visits GROUP BY district",
	} {
		if _, d := Rewrite(sql, testCatalog(), opt); d.Allowed || d.Code != CodeDPUnsupported {
			t.Errorf("%s: %s, want dp_unsupported", sql, d.Code)
		}
	}
	if _, d := Rewrite("SELECT district, count(*) FROM medical_visits GROUP BY district", testCatalog(), Options{}); d.Code != CodeDPUnsupported {
		t.Errorf("no budget: %s", d.Code)
	}
}

// R15.2: when the version's statistics prove no person has more than M
// rows and M is within the policy's bounds (groups × rows per group), the
// DP plan needs no per-person aggregate: counts carry noise for an L1
// change of M, sums clamp each row; otherwise, and for COUNT(DISTINCT
// unit), the per-person form bounds contributions in the engine, skipping
// the random choice of groups when no person has more rows than the
// bound on groups.
func TestRewriteDPBoundedByStatistics(t *testing.T) {
	opt := Options{Epsilon: big.NewRat(1, 1), Delta: big.NewRat(1, 1000000)}
	for _, c := range []struct {
		q                 string
		max               int64
		perUnit, sort     bool
		sens, partitionBy int64
	}{
		{"SELECT district, count(*), sum(cost) FROM medical_visits GROUP BY district", 6, false, false, 6, 6},
		{"SELECT district, count(*) FROM medical_visits GROUP BY district", 7, true, true, 6, 0},
		{"SELECT district, count(DISTINCT person_id) FROM medical_visits GROUP BY district", 3, true, false, 3, 0},
		{"SELECT district, count(DISTINCT person_id) FROM medical_visits GROUP BY district", 4, true, true, 3, 0},
	} {
		cat := testCatalog() // medical_visits: 3 groups a person, 2 rows a group
		cat.Tables[4].UnitRows = &UnitRows{Max: c.max}
		p, d := Rewrite(c.q, cat, opt)
		if !d.Allowed {
			t.Fatalf("refused: %s", d.Code)
		}
		if got := strings.Contains(p.SQL, `"__gs_per_unit"`); got != c.perUnit {
			t.Errorf("%s, at most %d rows a person: per-person form %v, want %v\n%s", c.q, c.max, got, c.perUnit, p.SQL)
		}
		if got := strings.Contains(p.SQL, "row_number()"); got != c.sort {
			t.Errorf("%s, at most %d rows a person: sort %v, want %v\n%s", c.q, c.max, got, c.sort, p.SQL)
		}
		if p.Noise.Columns[0].Sensitivity != c.sens || p.Noise.PartitionRows != c.partitionBy {
			t.Errorf("%s: sensitivity %d, partition rows %d; want %d, %d", c.q, p.Noise.Columns[0].Sensitivity, p.Noise.PartitionRows, c.sens, c.partitionBy)
		}
		if err := verifyPlan(p, cat); err != nil {
			t.Error(err)
		}
	}
	// A version whose costs all lie within [0, 5000] needs no clamp.
	cat := testCatalog()
	cat.Tables[4].UnitRows = &UnitRows{Max: 6}
	q := "SELECT district, sum(cost) FROM medical_visits GROUP BY district"
	if p, _ := Rewrite(q, cat, opt); !strings.Contains(p.SQL, "LEAST(GREATEST(cost, 0), 5000)") {
		t.Errorf("no clamp without the statistics: %s", p.SQL)
	}
	cat.Tables[4].Columns[3].WithinBounds = true
	if p, _ := Rewrite(q, cat, opt); strings.Contains(p.SQL, "LEAST(") || p.Noise.Columns[0].Sensitivity != 6*5000 {
		t.Errorf("a clamp the statistics make useless, or a changed sensitivity: %s %+v", p.SQL, p.Noise.Columns[0])
	}
}

// Size and depth caps are configurable and refuse before parsing.
func TestLimits(t *testing.T) {
	cat := testCatalog()
	long := "SELECT district, count(*) FROM social_insurance WHERE district IN ('" +
		strings.Repeat("a', '", 5000) + "b') GROUP BY district"
	if d := Validate(long, cat); d.Code != CodeTooLong {
		t.Errorf("long query: %s", d.Code)
	}
	deep := "SELECT count(*) FROM social_insurance WHERE " + strings.Repeat("(", 200) + "district = 'a'" + strings.Repeat(")", 200)
	if d := Validate(deep, cat); d.Code != CodeTooDeep {
		t.Errorf("deep query: %s", d.Code)
	}
	// Depth without parentheses: a long chain of nested CASE.
	expr := "district"
	for range 40 {
		expr = "CASE WHEN gender = 'F' THEN " + expr + " ELSE 'x' END"
	}
	if d := Validate("SELECT "+expr+" AS d, count(*) FROM social_insurance GROUP BY 1", cat); d.Code != CodeTooDeep {
		t.Errorf("deep CASE: %s", d.Code)
	}
	cat.Limits = Limits{MaxLength: 40}
	if d := Validate("SELECT district, count(*) FROM social_insurance GROUP BY district", cat); d.Code != CodeTooLong {
		t.Errorf("configured length: %s", d.Code)
	}
}

func TestBadCatalog(t *testing.T) {
	cat := testCatalog()
	cat.Tables[0].Rule.K = 1
	if d := Validate("SELECT district, count(*) FROM social_insurance GROUP BY district", cat); d.Code != CodeBadCatalog {
		t.Errorf("k=1: %s", d.Code)
	}
	cat = testCatalog()
	cat.Tables[1].Columns[0].Role = Visible
	if err := cat.Validate(); err == nil {
		t.Error("a visible privacy unit was accepted")
	}
}

// R12.1: a fast plan is offered only where counting rows proves the
// threshold: one table with unit statistics read straight, no OFFSET, no
// DISTINCT; and it settles only groups with enough rows for the bound.
func TestRewriteFastPlan(t *testing.T) {
	cat := testCatalog() // social_insurance: at most 6 rows a person, 3 without one; k = 10
	cases := []struct {
		name, sql string
		want      string // the fast statement, "" for none
		rows      int64
	}{
		{"plain", "SELECT district, count(*) FROM social_insurance GROUP BY district",
			`count(*) >= 58 AS __gs_pass`, 3 + 9*6 + 1},
		{"filter and having kept", "SELECT district, count(*) FROM enterprise WHERE status = 'open' GROUP BY district HAVING count(*) > 3",
			`count(*) FILTER (WHERE (status = 'open') IS NOT TRUE) >= 5)`, 5},
		{"alias", "SELECT si.district, sum(si.amount) FROM social_insurance si GROUP BY si.district",
			`CASE WHEN count(*) FILTER (WHERE (si.amount) IS NOT NULL) >= 58 THEN sum(si.amount) END`, 58},
		{"no statistics", "SELECT grade, count(*) FROM tax_grade GROUP BY grade", "", 0},
		{"join", "SELECT e.district, count(*) FROM enterprise e JOIN tax_grade t ON e.credit_code = t.credit_code GROUP BY e.district", "", 0},
		{"subquery in FROM", "SELECT s.district, count(*) FROM (SELECT district FROM enterprise) s GROUP BY s.district", "", 0},
		{"CTE", "WITH ent AS (SELECT e.district, e.credit_code FROM enterprise e JOIN tax_grade t ON e.credit_code = t.credit_code) SELECT district, count(*) FROM ent GROUP BY district", "", 0},
		{"offset", "SELECT district, count(*) FROM enterprise GROUP BY district ORDER BY 2 DESC LIMIT 5 OFFSET 5", "", 0},
		{"distinct", "SELECT DISTINCT count(*) FROM enterprise GROUP BY district", "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, d := Rewrite(c.sql, cat, Options{})
			if !d.Allowed {
				t.Fatalf("refused: %s %s", d.Code, d.Message)
			}
			switch {
			case c.want == "" && p.Fast != nil:
				t.Fatalf("fast plan offered: %s", p.Fast.SQL)
			case c.want == "":
			case p.Fast == nil:
				t.Fatalf("no fast plan")
			case !strings.Contains(p.Fast.SQL, c.want) || p.Fast.Rows != c.rows:
				t.Errorf("fast plan\n got %s (%d rows)\nlacks %s (%d rows)", p.Fast.SQL, p.Fast.Rows, c.want, c.rows)
			}
			if err := verifyPlan(p, cat); err != nil {
				t.Error(err)
			}
		})
	}
}

// Settle keeps a fast result only when every group has the rows the bound
// needs, and then reports the proven lower bound on its units.
func TestFastPlanSettle(t *testing.T) {
	p, d := Rewrite("SELECT district, count(*) FROM social_insurance GROUP BY district", testCatalog(), Options{})
	if !d.Allowed || p.Fast == nil {
		t.Fatalf("no fast plan: %s", d.Code)
	}
	// 58 rows: at least (58-3)/6 → 10 persons. 57 rows could be 9.
	settled := [][]any{{"360102", int64(100), int64(100), int64(0)}, {"360103", int64(58), int64(58), int64(0)}}
	if !p.Fast.Settle(p, settled) {
		t.Fatal("groups of 58 and 100 rows not settled")
	}
	if settled[0][2] != int64(17) || settled[1][2] != int64(10) {
		t.Errorf("lower bounds %v and %v, want 17 and 10", settled[0][2], settled[1][2])
	}
	if _, od := CheckOutput(p, []string{"district", "count", "__gs_units_0", "__gs_unsettled"}, settled); !od.Allowed {
		t.Errorf("settled rows refused by the output check: %s", od.Code)
	}
	open := [][]any{{"360102", int64(100), int64(100), int64(0)}, {"360104", int64(57), int64(57), int64(0)}}
	if p.Fast.Settle(p, open) {
		t.Fatal("a group of 57 rows settled")
	}
	if p.Fast.Settle(p, [][]any{{"360102", int64(100), int64(100), int64(1)}}) {
		t.Fatal("a result with an unsettled group elsewhere settled")
	}
	if p.Fast.Settle(p, nil) {
		t.Fatal("an empty result settled")
	}
	if open[0][2] != int64(100) {
		t.Error("an unsettled result was changed")
	}
	if p.Fast.Settle(p, [][]any{{"360102", int64(100), "many", int64(0)}}) {
		t.Error("a non-integer row count settled")
	}
}
