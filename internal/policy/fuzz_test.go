package policy

import (
	"math/big"
	"testing"
)

// FuzzPolicy: whatever the text, the checker does not crash, and an
// accepted query's rewrite never outputs a protected column's raw value and
// always carries the k threshold (R12.1, R15.2), checked structurally by
// verifyPlan on the rewritten tree.
func FuzzPolicy(f *testing.F) {
	for _, e := range readCorpus(f, "testdata/legitimate.txt", false) {
		f.Add(e.sql)
	}
	for _, e := range readCorpus(f, "testdata/adversarial.txt", true) {
		f.Add(e.sql)
	}
	cat := testCatalog()
	opt := Options{Epsilon: big.NewRat(1, 1), Delta: big.NewRat(1, 1000000)}
	f.Fuzz(func(t *testing.T, sql string) {
		d := Validate(sql, cat)
		p, d2 := Rewrite(sql, cat, opt)
		if d.Allowed && d2.Code == CodeDPUnsupported {
			return // checked, but outside the DP rewrite's shape
		}
		if d.Allowed != d2.Allowed {
			t.Fatalf("Validate and Rewrite disagree on %q: %s vs %s", sql, d.Code, d2.Code)
		}
		if !d.Allowed {
			if d.Code == "" || d.Code == CodeOK {
				t.Fatalf("refusal without a code for %q", sql)
			}
			return
		}
		if err := verifyPlan(p, cat); err != nil {
			t.Fatalf("%q\nrewritten %q\n%v", sql, p.SQL, err)
		}
	})
}
