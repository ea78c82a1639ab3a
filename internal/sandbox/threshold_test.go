package sandbox_test

import (
	"strings"
	"testing"

	"github.com/gongshu/gongshu/internal/sandbox"
)

// lastThreshold is how the last submission's threshold was enforced, from
// its audit entry.
func (f *fixture) lastThreshold() string {
	f.t.Helper()
	s, _ := f.lastEntry().Details["threshold"].(string)
	return s
}

// R12.1, R15.3: an aggregate over one table is settled by counting rows
// when the data version's unit statistics prove that every group it
// returns covers k units, and by counting distinct units otherwise: where
// a group is too small for the proof, where a join may repeat a unit's
// rows, where OFFSET hides groups. Either way the released rows are those
// of the service that counts distinct units on every query.
func TestThresholdSettledByRows(t *testing.T) {
	cases := []struct{ sql, want string }{
		// 1 to 6 rows a person, k = 10: a group of at least 55 rows.
		{"SELECT district, count(*) AS n, sum(amount) AS total FROM social_insurance GROUP BY district", "rows"},
		{"SELECT count(*), avg(amount) FROM social_insurance WHERE insured_status = 'active'", "rows"},
		// One row an enterprise: its rows are its units.
		{"SELECT district, industry, count(*) FROM enterprise GROUP BY district, industry", "rows"},
		// Groups of a few people each: too small to prove, so counted.
		{"SELECT district, industry, gender, count(*) FROM social_insurance GROUP BY district, industry, gender", "distinct units"},
		{"SELECT e.district, count(*) FROM enterprise e JOIN tax_grade t ON e.credit_code = t.credit_code GROUP BY e.district", "distinct units"},
		{"SELECT s.district, count(*) FROM (SELECT district FROM social_insurance) s GROUP BY s.district", "distinct units"},
		{"SELECT district, count(*) FROM social_insurance GROUP BY district ORDER BY 2 DESC LIMIT 3 OFFSET 2", "distinct units"},
	}
	eachSetup(t, sandbox.Options{}, func(t *testing.T, f *fixture) {
		for _, c := range cases {
			j := f.submit(c.sql, sandbox.Real)
			if j.Status != sandbox.Released {
				t.Fatalf("%s: %s %+v", c.sql, j.Status, j.Reason)
			}
			if got := f.lastThreshold(); got != c.want {
				t.Errorf("%s: threshold by %q, want %q", c.sql, got, c.want)
			}
			x, err := f.exact.Submit(f.ctx, f.op, f.ws.ID, c.sql, sandbox.Real)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.lastThreshold(); got != "distinct units" {
				t.Errorf("%s: the exact service enforced by %q", c.sql, got)
			}
			if a, b := strings.Join(canon(j.Rows), "\n"), strings.Join(canon(x.Rows), "\n"); a != b {
				t.Errorf("%s: by rows\n%s\nby distinct units\n%s", c.sql, a, b)
			}
		}
		// Every legitimate aggregate of the corpus: the same rows both ways.
		byRows := 0
		for _, e := range corpus(t, "legitimate.txt", false) {
			if strings.Contains(strings.ToUpper(e.sql), " LIMIT ") {
				continue // ties may break differently
			}
			j := f.submit(e.sql, sandbox.Real)
			how := f.lastThreshold()
			if how == "" || j.Status != sandbox.Released {
				continue // not under the aggregation rule, or held for review
			}
			if how == "rows" {
				byRows++
			}
			x, err := f.exact.Submit(f.ctx, f.op, f.ws.ID, e.sql, sandbox.Real)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := strings.Join(canon(j.Rows), "\n"), strings.Join(canon(x.Rows), "\n"); a != b {
				t.Errorf("line %d: %s: by %s\n%s\nby distinct units\n%s", e.line, e.sql, how, a, b)
			}
		}
		t.Logf("%d corpus aggregates settled by rows", byRows)
		if byRows < 10 {
			t.Errorf("only %d corpus queries were settled by rows", byRows)
		}
	})
}
